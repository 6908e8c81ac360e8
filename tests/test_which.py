"""`which` (issue 20 §1) and a signal frame explained (§3): from a number back to the CPU, kernel and C library.

Every number asserted comes from a source named beside it: the field threads of
../reference/field-threads.md (items 2, 12, 15, 16), the threads themselves (pixie-io/pixie #1882/#1883,
DynamoRIO #1937/#1944/#5079, rr #2157, microsoft/openvmm #708, Clozure/ccl #556, rust-minidump #243), the
reference documents (userspace-stacks.md, linux-xstate-model.md §5.6, kernel-audit.md A2), CPUID registers of
the real CPUs (tests/data/cpuid_regs.yaml) and the kernel's own arithmetic as read in arch/x86/kernel/signal.c
and fpu/signal.c (save_sw_bytes(), check_xstate_in_sigframe(), init_sigframe_size()).
"""

import json
import struct

import pytest

from xstatecalc.options import Options
from xstatecalc.profile import all_builtin
from xstatecalc.swbytes import frame_checks
from xstatecalc.which import default_kernels, era_ranges, libc_eras, make_space, ranges, which

from . import corewriter as W
from .conftest import DATA, load_data

TDX = DATA / "profiles" / "tdx-guest-azure-dc8es-v6.yaml"
MAGIC1, MAGIC2 = 0x46505853, 0x46505845  # uapi/asm/sigcontext.h FP_XSTATE_MAGIC1, FP_XSTATE_MAGIC2


def regs(cpu, subleaf):
    """CPUID(0xD, subleaf) of a real CPU as (eax, ebx, ecx, edx)."""
    return tuple(int(x, 16) for x in load_data("cpuid_regs.yaml")[cpu]["leaf_0xd"][subleaf].split())


def search(run, *args):
    res = run("which", *args, "--format", "json")
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, json.loads(res.stdout)


def found(out, value, quantity):
    """The matches of *value* as *quantity*."""
    return [m for m in out["matches"] if m["value"] == value and m["quantity"] == quantity]


def cpus_of(matches):
    return {c for m in matches for c in m["cpus"]}


# ---- the numbers of the field threads


def test_at_minsigstksz_of_sapphire_rapids(run):
    # userspace-stacks.md, "The kernel side": AT_MINSIGSTKSZ is 11952 on Sapphire Rapids (AMX).
    code, out = search(run, "11952")
    assert code == 0 and out["ok"]
    at = found(out, 11952, "abi.sigframe_min")
    assert "sapphire-rapids" in cpus_of(at)
    assert all(m["function"] == "get_sigframe_size()" and m["libc"] is None for m in at)
    # CPUID(0xD,0).EBX of the Sapphire Rapids dump is 0x2B00 = 11008, AMX included; get_sigframe_size() adds
    # sizeof(struct sigframe_ia32) 736 + 15 + 4 (FP_XSTATE_MAGIC2) + 112 (fregs_state) + 63 and rounds to 16.
    assert regs("sapphire-rapids", 0)[1] == 11008 and -(-(736 + 15 + 11008 + 4 + 112 + 63) // 16) * 16 == 11952
    # glibc 2.34+ sysconf(_SC_MINSIGSTKSZ) returns AT_MINSIGSTKSZ; musl 1.2.4-1.2.5 max(AT, 2048) (same table).
    libc = found(out, 11952, "libc.sc_minsigstksz")
    assert "sapphire-rapids" in cpus_of(libc)
    assert {"glibc 2.34+", "musl 1.2.4-1.2.5"} <= {x for m in libc for x in m["libc"]}


@pytest.mark.parametrize("value,cpu", [(3632, "skylake-sp"), (3376, "zen4")])
def test_at_minsigstksz_elsewhere(run, value, cpu):
    # userspace-stacks.md: 3632 on Skylake-SP (AVX-512), 3376 on Zen 4; AT_MINSIGSTKSZ exists from 5.14.
    code, out = search(run, str(value), "--cpu", cpu)
    at = found(out, value, "abi.sigframe_min")
    assert code == 0 and cpus_of(at) == {cpu}
    assert at[0]["kernels"][0].startswith("5.14")


def test_clickhouse_47808_is_glibcs_sigstksz_on_sapphire_rapids(run):
    # userspace-stacks.md: glibc sysconf(_SC_SIGSTKSZ) = max(8192, 4 * AT) = 47808 on SPR (11 pages + 2752), what
    # ClickHouse's MINSIGSTKSZ (C++: _GNU_SOURCE) gives its aligned_alloc (ClickHouse#108811, #109300).
    code, out = search(run, "47808")
    sysconf = found(out, 47808, "libc.sc_sigstksz")
    assert code == 0 and 4 * 11952 == 47808 == 11 * 4096 + 2752
    assert "sapphire-rapids" in cpus_of(sysconf) and all(m["libc"] == ["glibc 2.34+"] for m in sysconf)
    assert "sapphire-rapids" in cpus_of(found(out, 47808, "runtime.clickhouse 26.3+"))


def test_musl_does_not_give_47808(run):
    # musl 1.2.4+: sysconf(_SC_SIGSTKSZ) = sysconf(_SC_MINSIGSTKSZ) + 6144: 18096 and 19120 on SPR, never 47808.
    code, out = search(run, "47808", "--libc", "musl", "--cpu", "spr")
    assert not [m for m in out["matches"] if m["quantity"].startswith("libc.")]
    code, out = search(run, "19120", "--libc", "musl", "--cpu", "spr")
    assert code == 0 and found(out, 19120, "libc.sc_sigstksz")[0]["libc"] == ["musl 1.2.6+"]


def test_rr_2688_and_2696_occur_together_and_differ_by_pkru(run):
    # rr #2157 (field-threads item 12): "Invalid XSAVE data length: 2688, expected 2696" on EC2 c5 (Skylake-SP,
    # Cascade Lake). CPUID(0xD,9) of Skylake-SP: PKRU is 8 bytes at 2688; (0xD,0).ECX 0xA88 = 2696 with it, and
    # EBX 0xA80 = 2688 in the dump itself, taken under an OS that left PKRU out of XCR0.
    assert regs("skylake-sp", 9)[:2] == (8, 2688) and regs("skylake-sp", 0)[1:3] == (2688, 2696)
    code, out = search(run, "2688", "2696")
    assert code == 0 and out["together"] is True
    assert {"skylake-sp", "cascade-lake"} <= cpus_of(found(out, 2688, "layout.pkru"))
    assert {"skylake-sp", "cascade-lake"} <= cpus_of(found(out, 2696, "user.max.size"))
    assert any("2696 - 2688 = 8" in n and "pkru" in n for n in out["notes"])


def test_rr_2688_is_the_whole_state_of_a_guest_without_pku(run):
    # A CPU model with AVX-512 and no PKU (QEMU's KnightsMill: avx512f, no pku) has XCR0 0xe7, whose standard
    # size ends with Hi16_ZMM: 1664 + 1024 = 2688 (CPUID(0xD,7) of Skylake-SP, the host's offsets under KVM).
    assert regs("skylake-sp", 7)[:2] == (1024, 1664)
    code, out = search(run, "2688", "--vcpu", "spr", "--kernel", "6.8", "--cpu", "skylake-sp")
    assert code == 0 and "qemu-11.1:KnightsMill-v1@sapphire-rapids" in cpus_of(found(out, 2688, "user.max.size"))


def test_dynamorio_1092_is_the_extended_size_of_a_skylake_frame(run):
    # DynamoRIO #1937/#1944 (Skylake client, i7-6700HQ on 4.4): sw_reserved.extended_size = 1092. The Skylake
    # client dump: XCR0 0x1F (x87, SSE, AVX, MPX) and CPUID(0xD,0).EBX 0x440 = 1088; save_sw_bytes() adds 4.
    assert regs("skylake", 0)[:2] == (0x1F, 1088)
    code, out = search(run, "1092")
    frame = found(out, 1092, "frame.extended_size.default")
    assert code == 0 and cpus_of(frame) == {"skylake"} and frame[0]["function"] == "save_sw_bytes()"


def test_dynamorio_896_is_its_own_constant(run):
    # DynamoRIO #1937: XSTATE_FRAME_EXTRA = 896 (sizeof(struct _xstate) 832 + AVX_ALIGNMENT 64 - 4 + 4), the copy
    # DynamoRIO before 7.1 kept, whatever the CPU.
    code, out = search(run, "896")
    dr = found(out, 896, "runtime.dynamorio copy<7.1")
    assert code == 0 and dr and dr[0]["libc"] is None
    assert cpus_of(dr) == {p.name for p in all_builtin() if not p.hypothetical}
    # userspace-stacks.md, measured with glibc 2.36 on an XCR0 0x7 machine: ld.so's xsave_state_size = 0x380 = 896.
    code, out = search(run, "896", "--cpu", "zen2", "--libc", "glibc-2.36")
    assert code == 0 and found(out, 896, "libc.ld_so.lazy_binding")


def test_pixie_39616_is_explained_as_far_as_it_goes(run):
    # pixie-io/pixie #1882/#1883: MINSIGSTKSZ = 39616 on an m7i (Sapphire Rapids) with Linux 6.1.82. A C++
    # program's MINSIGSTKSZ is glibc's sysconf(_SC_SIGSTKSZ) = 4 * sysconf(_SC_MINSIGSTKSZ) (userspace-stacks.md),
    # so 39616 = 4 * 9904: an AT_MINSIGSTKSZ of 9904 that no modelled CPU and kernel has.
    assert 39616 == 4 * 9904
    code, out = search(run, "39616")
    assert code == 1 and out["unmatched"] == [39616] and not out["ok"]
    # Sapphire Rapids' own value is 47808 (ClickHouse#108811): 8192 more, 4 x 2048.
    near = {n["nearest"]: n for n in out["nearest"]}
    assert near[47808]["difference"] == 8192 and any("4 x 2048" in d for d in near[47808]["differences"])
    steps = [[(s["quantity"], s["value"]) for s in r["steps"]] for r in out["readings"]]
    assert any(("libc.sc_minsigstksz", 9904) in s and ("abi.sigframe_min", 9904) in s for s in steps)
    # AT = round_up(736 + 15 + size + 4 + 112 + 63, 16) = 9904 needs a user size of 8959..8974, which no CPU has.
    assert any(("user.max.size", "8959-8974") in s for s in steps)
    code, out = search(run, "39616", "--cpu", "spr", "--kernel", "6.1.82")
    assert code == 1


def test_tdx_consistency_sizes(run):
    # microsoft/openvmm #708: "XSAVE consistency problem: size 10752 != kernel_size 10704" in a TDX guest.
    # 10752 is the kernel's own compacted size on Sapphire Rapids (linux-xstate-model.md §5.6: kernel.max 10752);
    # no modelled CPU reports 10704, 48 bytes less.
    code, out = search(run, "10752", "10704")
    assert code == 1 and out["together"] is False and out["unmatched"] == [10704]
    assert "sapphire-rapids" in cpus_of(found(out, 10752, "kernel.max.size"))
    assert any(n["nearest"] == 10752 and n["difference"] == 48 for n in out["nearest"])
    # With the guest's own CPUID (its dump: 0xD.1 EBX 0x29D0) both occur, as the kernel prints them.
    code, out = search(run, "10752", "10704", "--cpu", TDX, "--kernel", "6.8")
    assert code == 0 and out["together"] is True
    assert found(out, 10752, "kernel.consistency.size") and found(out, 10704, "kernel.consistency.kernel_size")
    assert found(out, 10704, "cpuid.0xd.1.ebx")


def test_windows_context_size_is_not_explained(run):
    # rust-minidump #243 (field-threads item 2): "Context size is invalid (0x66f)", a Windows CONTEXT with XSTATE.
    code, out = search(run, "0x66f")
    assert code == 1 and out["unmatched"] == [0x66F] == [1647]
    notes = " ".join(out["notes"])
    assert "Windows CONTEXT" in notes and "not modelled" in notes and "odd" in notes
    assert out["nearest"]  # the nearest values are still given


def test_kvm_guest_cpuid_before_permission(run):
    # linux-xstate-model.md §5.6 (6.1-era, same CPU): KVM_GET_SUPPORTED_CPUID 0xD.0 EBX = std_size(0x202E7) = 2816
    # before ARCH_REQ_XCOMP_GUEST_PERM; "after 6.4 the size is 2696" (XTILE_CFG filtered); user.default 2816.
    code, out = search(run, "2816", "--cpu", "spr")
    kvm = found(out, 2816, "kvm.cpuid.0xd.0.ebx_default")
    assert code == 0 and kvm and all(r.split("-")[-1] in ("6.3",) for r in kvm[0]["kernels"])
    assert found(out, 2816, "user.default.size")
    code, out = search(run, "2696", "--cpu", "spr", "--kernel", "6.4")
    assert found(out, 2696, "kvm.cpuid.0xd.0.ebx_default")


def test_a_mask_in_hex(run):
    # linux-xstate-model.md §5.6: ARCH_GET_XCOMP_SUPP -> 0x602E7 on Sapphire Rapids: the XCR0 Linux sets.
    code, out = search(run, "0x602e7", "--cpu", "spr", "--kernel", "6.8")
    assert code == 0 and found(out, 0x602E7, "xcr0") and found(out, 0x602E7, "cpuid.0xd.0.eax")


def test_at_without_ia32_emulation(run):
    # init_sigframe_size() without IA32 emulation: round_up(sizeof(struct rt_sigframe) 440 + 15 + 11008 + 4 + 63, 16).
    value = -(-(440 + 15 + 11008 + 4 + 63) // 16) * 16
    code, out = search(run, str(value), "--cpu", "spr", "--kernel", "6.8")
    assert code == 0 and found(out, value, "abi.sigframe_min_no_ia32_emulation")


def test_table_says_where_and_what(run):
    # AMX, and so Sapphire Rapids' 11952, from 5.16 (linux-xstate-model.md, the 5.16 row) to the newest row, 7.3.
    res = run("which", "11952", env={"COLUMNS": "80"})
    assert res.exit_code == 0
    assert "AT_MINSIGSTKSZ (get_sigframe_size())" in res.stdout and "Linux 5.16-7.3" in res.stdout
    assert all(len(line) <= 80 for line in res.stdout.splitlines())
    text = run("which", "39616", "--format", "text", env={"COLUMNS": "200"}).stdout
    assert text.isascii() and all(len(line) <= 78 for line in text.splitlines())
    assert "NOT FOUND" in text


def test_csv_has_one_row_per_match(run):
    res = run("which", "11952", "--cpu", "spr", "--kernel", "6.8", "--format", "csv")
    lines = res.stdout.splitlines()
    assert lines[0] == "value,quantity,name,function,cpus,kernels,libc"
    assert any(line.startswith("11952,abi.sigframe_min,AT_MINSIGSTKSZ,") for line in lines)


# ---- bad input: exit 2, one line


@pytest.mark.parametrize("args,message", [
    (["abc"], "NUMBER: 'abc' is not a number"),
    (["011952"], "leading zero"),
    (["0x"], "not a hex number"),
    ([], "give a NUMBER"),
    (["1", "--frame", "magic1=1"], "not both"),
    (["--frame", "magic1"], "expected FIELD=N"),
    (["--frame", "xstate_size=0x100000000"], "does not fit in 32 bits"),
    (["11952", "--libc", "uclibc"], "expected glibc or musl"),
    ([str(n) for n in range(1, 18)], "at most 16"),
])
def test_bad_input(run, args, message):
    res = run("which", *args)
    assert res.exit_code == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


# ---- §3: a signal frame explained


def frame(run, fields, *extra):
    res = run("which", "--frame", fields, *extra, "--format", "json")
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, json.loads(res.stdout)


def test_dynamorio_1937_frame(run):
    # DynamoRIO #1937/#1944: extended_size 1092 on Skylake client; XCR0 0x1F and EBX 1088 from its dump.
    code, out = frame(run, f"magic1={MAGIC1:#x},extended_size=1092,xfeatures=0x1f,xstate_size=1088")
    assert code == 0 and out["consistent"] and out["ok"]
    assert {p["variant"] for p in out["producers"]} == {"64-bit"} and out["producers"][0]["cpus"] == ["skylake"]


def test_dynamorio_5079_ia32_frame(run):
    # DynamoRIO #5079 (32-bit tests): sw_reserved extended_size 2804, xstate_size 2688: an ia32 frame, 2688 + 4 +
    # 112 (save_sw_bytes() adds sizeof(struct fregs_state)). 2688 = XCR0 0xFF's standard size on Skylake-SP
    # (Hi16_ZMM at 1664 + 1024): its PKRU gone, which kernel-audit.md A2 has nopku do from 6.6.
    fields = f"magic1={MAGIC1:#x},extended_size=2804,xstate_size=2688"
    code, out = frame(run, fields)
    assert out["consistent"] and code == 1 and not out["producers"]  # no modelled machine drops PKRU by default
    code, out = frame(run, fields, "--disable", "nopku", "--cpu", "skylake-sp")
    assert code == 0
    assert [(p["variant"], p["kernels"]) for p in out["producers"]] == [("ia32", ["6.6-7.3"])]


def test_clozure_copy_without_magic2(run):
    # Clozure/ccl #556: relocating a context copied only the legacy FP/SSE part and kept the sw bytes, so
    # FP_XSTATE_MAGIC2 is missing at fpstate + xstate_size: check_xstate_in_sigframe() falls back to fx_only.
    code, out = frame(run, f"magic1={MAGIC1:#x},extended_size=836,xfeatures=0x7,xstate_size=832,magic2=0")
    assert code == 1 and not out["consistent"]
    bad = [c for c in out["checks"] if not c["ok"]]
    assert [c["name"] for c in bad] == ["magic2"] and "fx_only" in bad[0]["detail"]
    assert out["producers"]  # the frame it was copied from is an ordinary AVX one


def test_inconsistent_sizes():
    # save_sw_bytes(): extended_size = xstate_size + 4 (64-bit) or + 4 + 112 (ia32); anything else is not a
    # kernel's frame, and a magic1 other than FP_XSTATE_MAGIC1 makes sigreturn restore x87/SSE only.
    checks = {c.name: c for c in frame_checks({"magic1": 0x1234, "extended_size": 1092, "xstate_size": 832})}
    assert not checks["magic1"].ok and not checks["extended_size"].ok and "260" in checks["extended_size"].detail
    assert all(c.ok for c in frame_checks({"magic1": MAGIC1, "extended_size": 836, "xstate_size": 832,
                                           "xfeatures": 0x7, "magic2": MAGIC2}))


def test_xstate_size_that_no_layout_gives(run):
    # AVX-512 and PKRU (0x2E7): 2696 on Intel (PKRU at 2688, Skylake-SP dump), 2440 on AMD (Zen 4: 0xD.0 ECX 0x988).
    assert regs("zen4", 0)[2] == 2440
    code, out = frame(run, f"magic1={MAGIC1:#x},extended_size=2604,xfeatures=0x2e7,xstate_size=2600")
    check = [c for c in out["checks"] if c["name"] == "xstate_size for xfeatures"][0]
    assert code == 1 and not check["ok"] and "2440" in check["detail"] and "2696" in check["detail"]


def test_core_on_a_frame_explains_it(run, tmp_path):
    # A 64-bit frame's fpstate on Zen 4 (XCR0 0x2E7, EBX 2440): sw bytes, then FP_XSTATE_MAGIC2 after 2440 bytes.
    sw = struct.pack("<IIQI", MAGIC1, 2440 + 4, 0x2E7, 2440)
    img = bytearray(W.xsave_image(2444, 0x2E7, 0x7, {}, sw=sw))
    img[2440:2444] = struct.pack("<I", MAGIC2)
    f = tmp_path / "frame.bin"
    f.write_bytes(bytes(img))
    out = json.loads(run("core", f, "--raw", "--format", "json").stdout)
    assert out["frame"]["consistent"] and "zen4" in {c for p in out["frame"]["producers"] for c in p["cpus"]}
    # The same bytes behind an ia32 frame's 112-byte fsave header (struct _fpstate_32), extended_size + 112.
    img[464:464 + 20] = struct.pack("<IIQI", MAGIC1, 2440 + 116, 0x2E7, 2440)
    f.write_bytes(bytes(112) + bytes(img))
    out = json.loads(run("core", f, "--format", "json").stdout)
    assert out["fsave_header"] == 112 and out["input"] == "signal-frame"
    assert {p["variant"] for p in out["frame"]["producers"]} == {"ia32"}


def test_core_on_a_truncated_copy(run, tmp_path):
    # Clozure/ccl #556 again, as bytes: the sw bytes say 832, the copy ends at 600 (no FP_XSTATE_MAGIC2).
    sw = struct.pack("<IIQI", MAGIC1, 836, 0x7, 832)
    f = tmp_path / "copy.bin"
    f.write_bytes(W.xsave_image(600, 0x7, 0x3, {}, sw=sw))
    out = json.loads(run("core", f, "--raw", "--format", "json").stdout)
    assert not out["frame"]["consistent"]
    assert [c["name"] for c in out["frame"]["checks"] if not c["ok"]] == ["magic2"]


# ---- the engine


def test_kernel_rows_sharing_a_model_boot_once():
    space = make_space(all_builtin()[:1], default_kernels(), libc_eras(), Options())
    assert len(space.models) < len(space.kernels)
    assert sum(len(rows) for _k, rows in space.models) == len(space.kernels)


def test_ranges_and_eras():
    assert ranges((3, 4, 5, 9), ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]) == ("d-f", "j")
    eras = libc_eras(["glibc"])
    assert era_ranges(range(len(eras)), eras) == ("glibc 2.0+",)
    assert era_ranges((2, 3, 4), eras) == ("glibc 2.34+",)


def test_library_call():
    space = make_space([p for p in all_builtin() if p.name == "sapphire-rapids"], default_kernels(), [], Options())
    answer = which(space, [11952])
    assert answer.ok and answer.matches[0].key == "abi.sigframe_min"


def test_every_frame_a_modelled_kernel_writes_follows_the_rules():
    # What save_sw_bytes() writes must pass check_xstate_in_sigframe()'s own rules, on every CPU and kernel row
    # (the XSAVE-off frames of 5.16+ included: magic1 set, 512 bytes, no magic2).

    from xstatecalc.options import make_options
    from xstatecalc.swbytes import sw_bytes

    seen = set()
    for options in (Options(), make_options(["noxsave"])):
        space = make_space(all_builtin() if options == Options() else all_builtin()[:2], default_kernels(), [],
                           options)
        for row in space.cells:
            for b, _inv, _libc in row:
                for sw in sw_bytes(b):
                    fields = {k: v for k, v in sw.fields().items() if v is not None}
                    seen.add(sw.variant)
                    bad = [c for c in frame_checks(fields) if not c.ok]
                    assert sw.magic1 == 0 or not bad, (b, sw, bad)
    assert {"64-bit", "64-bit, AMX in use", "ia32", "64-bit, XSAVE off", "ia32, XSAVE off",
            "without XSAVE (before 5.16)"} == seen
