"""`sigstack` and `limit`: the kernel's frame, the C library's rules and the runtimes' stacks (issue 13).

Numbers come from the sources named at each test: glibc (bminor/glibc tags glibc-2.34..2.42,
sysdeps/unix/sysv/linux/sysconf-sigstksz.h, x86/dl-minsigstacksize.h, sysdeps/x86/cpu-features.c),
musl (996b6154, 8c43c562, 300a1f53), the kernel (arch/x86/kernel/signal.c, 7.3), the reference model
(AT_MINSIGSTKSZ 11952 on Sapphire Rapids, 3632 on Skylake-SP, 3376 on Zen 4), the issue reports cited and
the runtimes' own code as userspace_rules.yaml names it (the constants quoted at each test).
"""

import json

import pytest

from xstatecalc.fpu import boot
from xstatecalc.guest import process_flow, verdict as flow_verdict
from xstatecalc.kernels import resolve_kernel
from xstatecalc.profile import resolve
from xstatecalc.sigstack import sigstack
from xstatecalc.userspace import find_runtimes, parse_libc, rules


def report(cpu, kernel="6.18", libc=None, runtimes=(), sizes=()):
    b = boot(resolve(cpu), resolve_kernel(kernel))
    return sigstack(b, parse_libc(libc), find_runtimes(runtimes) if runtimes else [], list(sizes))


@pytest.mark.parametrize("cpu,at,sc_sigstksz", [("spr", 11952, 47808), ("skx", 3632, 14528), ("zen4", 3376, 13504)])
def test_glibc_sysconf(cpu, at, sc_sigstksz):
    # sysconf_sigstksz(): max(8192, 4 * max(2048, _SC_MINSIGSTKSZ)); _SC_MINSIGSTKSZ is AT_MINSIGSTKSZ itself.
    r = report(cpu)
    assert r.signal.at_minsigstksz == at
    assert (r.libc.sc_minsigstksz, r.libc.sc_sigstksz) == (at, sc_sigstksz)


def test_glibc_sigstksz_on_sapphire_rapids_is_not_a_page_multiple():
    lv = report("spr").libc
    assert lv.sc_sigstksz == 11 * 4096 + 2752 and lv.record()["sc_sigstksz_page_multiple"] is False
    # With _GNU_SOURCE (every C++ program) both macros are sysconf(_SC_SIGSTKSZ) (bits/sigstksz.h).
    assert lv.sigstksz == {"constant": 8192, "dynamic": 47808} and lv.minsigstksz["dynamic"] == 47808


def test_glibc_without_at_minsigstksz_emulates_it_from_cpuid():
    # Linux 5.10 passes no AT_MINSIGSTKSZ; dl_check_minsigstacksize(): EBX + 516 on x86-64, where EBX is
    # CPUID(0xD,0).EBX for the kernel's XCR0 (no AMX before 5.16: 2696 on Sapphire Rapids).
    lv = report("spr", "5.10").libc
    assert lv.at == 0 and lv.sc_minsigstksz == 2696 + 516


def test_glibc_before_2_34_has_no_sysconf_names():
    lv = report("spr", libc="glibc-2.33").libc
    assert lv.sc_minsigstksz is None and lv.sc_sigstksz is None and lv.sigstksz["dynamic"] is None


@pytest.mark.parametrize("libc,minimum,sigstksz", [("musl-1.2.5", 11952, 18096), ("musl", 12976, 19120),
                                                   ("musl-1.2.3", None, None)])
def test_musl_sysconf(libc, minimum, sigstksz):
    # 1.2.4/1.2.5: max(AT, 2048) and + 6144; after 8c43c562: max(AT, 1024) + 1024; before 1.2.4: no names.
    lv = report("spr", libc=libc).libc
    assert (lv.sc_minsigstksz, lv.sc_sigstksz) == (minimum, sigstksz)


def test_newer_musl_refuses_a_stack_of_exactly_at():
    # 300a1f53: sigaltstack() fails with ENOMEM below sysconf(_SC_MINSIGSTKSZ) = 12976; glibc passes the same
    # 11952 bytes to the kernel, whose sigaltstack_size_valid() wants more than 11952 - 116 = 11836.
    musl = report("spr", libc="musl", sizes=[11952]).stacks[0]
    glibc = report("spr", sizes=[11952]).stacks[0]
    assert (musl.verdict, musl.fits) == ("refused-by-libc", False)
    assert (glibc.verdict, glibc.fits, glibc.margin) == ("fits", True, 0)
    assert report("spr").signal.check_permitted == 11836


def test_rust_on_newer_musl_runs_without_an_overflow_handler():
    # Rust sizes its stack max(SIGSTKSZ, AT) = 11952 and ignores sigaltstack()'s result (rust-lang/rust#107795).
    st = report("spr", libc="musl", runtimes=["rust"]).stacks[0]
    assert st.size == 11952 and st.verdict == "refused-by-libc" and "without an alternate stack" in st.consequence


def test_erlang_before_the_fix_aborts_on_newer_musl_with_amx():
    # OTP before 29.1 asks for SIGSTKSZ, musl's constant 8192 (erlang/otp#11349, Granite Rapids). #11249's
    # max(SIGSTKSZ, AT) is AT_MINSIGSTKSZ itself, 11952, which musl 1.2.6 still refuses below AT + 1024 (#11376's
    # account); #11376 asks for sysconf(_SC_MINSIGSTKSZ), 12976.
    old, patched, new = report("gnr", libc="musl", runtimes=["erlang"]).stacks
    assert (old.size, old.verdict, old.consequence) == (8192, "refused-by-libc", "the program aborts")
    assert (patched.size, patched.verdict) == (11952, "refused-by-libc")
    assert new.fits and new.size == 11952 + 1024


def era(stacks, who):
    (st,) = [s for s in stacks if s.who == who]
    return st


def test_clickhouse_26_aborts_at_start_up_on_amx_with_new_glibc_headers_while_25_works():
    # ClickHouse/ClickHouse#109300 (26.5.1-26.6.1 from nixpkgs, glibc 2.42, AT_MINSIGSTKSZ 11952): C++ with
    # glibc >= 2.34 headers sees MINSIGSTKSZ = sysconf(_SC_SIGSTKSZ) = 4 * 11952 = 47808, 11 pages + 2752, and
    # the strict aligned_alloc of 26.x returns EINVAL: the uncaught exception aborts at start-up (#108811).
    # "25.10 works on the same host with the same glibc": its allocator takes the size. #108813 rounds up.
    stacks = report("spr", libc="glibc-2.39", runtimes=["clickhouse"]).stacks
    broken = era(stacks, "clickhouse 26.3+")
    assert (broken.size, broken.verdict, broken.fits) == (4 * 11952, "alloc-fails", False)
    assert broken.consequence == "the program aborts at start-up" and broken.margin is None
    works = era(stacks, "clickhouse 25.4-25.x")  # no guard page in release builds from 25.4
    assert (works.size, works.verdict, works.margin) == (47808, "fits", 47808 - 11952)
    fixed = era(stacks, "clickhouse #108813")
    assert (fixed.size, fixed.verdict) == (12 * 4096, "fits")
    guarded = era(stacks, "clickhouse <24.5")  # max(16 KiB, MINSIGSTKSZ), its first page PROT_NONE
    assert (guarded.usable, guarded.verdict) == (47808 - 4096, "fits")
    # Without AMX 4 * AT_MINSIGSTKSZ (Skylake-SP: 4 * 3632 = 14528) is below 32 KiB, a page multiple.
    skx = era(report("skx", libc="glibc-2.39", runtimes=["clickhouse"]).stacks, "clickhouse 26.3+")
    assert (skx.size, skx.verdict) == (32768, "fits")
    # A failed sigaltstack() only warns in every era; the allocation's failure is what aborts.
    assert {rt.on_refused for rt in find_runtimes(["clickhouse"])} == {"warn"}


def test_ocaml_5_aborts_on_musl_1_2_6_and_14933_fixes_it():
    # ocaml/ocaml#14933: Alpine 3.24 (musl 1.2.6), Xeon Platinum 8488C, AT_MINSIGSTKSZ 11952, _SC_MINSIGSTKSZ
    # 12976, SIGSTKSZ 8192: "Fatal error: Failed to allocate signal stack for domain 0" - the whole process.
    stacks = report("spr", libc="musl", runtimes=["ocaml"]).stacks
    five = era(stacks, "ocaml 5.0-5.4")
    assert (five.size, five.verdict, five.consequence) == (8192, "refused-by-libc", "the program aborts")
    # 4.14's caml_setup_stack_overflow_detection() failing only leaves the SIGSEGV handler out.
    assert "without an alternate stack" in era(stacks, "ocaml 4.14").consequence
    # caml_sigstksz() = sysconf(_SC_SIGSTKSZ): musl 1.2.6's _SC_MINSIGSTKSZ + 6144 = 12976 + 6144.
    fixed = era(stacks, "ocaml #14933")
    assert (fixed.size, fixed.verdict) == (12976 + 6144, "fits")
    # oxcaml#3986 with musl's constant macros (2048, 8192): AT > MINSIGSTKSZ, so max(8192, 4 * max(2048, AT)).
    (ox,) = report("spr", libc="musl", runtimes=["oxcaml"]).stacks
    assert (ox.size, ox.verdict) == (4 * 11952, "fits")


def test_datadog_8192_holds_only_the_frame_without_amx():
    # libdatadog 6-13: create_alt_stack() maps SIGSTKSZ, the libc crate's 8192. On Sapphire Rapids the frame a
    # 64-bit process gets is round_up(2816 + 4, 64) + 456 = 3336 without AMX and round_up(11008 + 4, 64) + 456
    # = 11528 with it in use (user sizes: reference §5.6).
    old, new = report("spr", libc="glibc-2.39", runtimes=["datadog"]).stacks
    assert (old.size, old.verdict, old.delivered) == (8192, "fits-without-amx", False)
    assert "3336" in old.why and "11528" in old.why
    assert (new.size, new.verdict) == (16 * 4096, "fits")  # v14+: max(SIGSTKSZ, 16 pages), PR #693
    # musl 1.2.6 refuses 8192 below 12976 and the crash tracker's set-up fails.
    (musl,) = report("spr", libc="musl", runtimes=["datadog"]).stacks[:1]
    assert musl.verdict == "refused-by-libc" and "no crash handler" in musl.consequence


def test_wasmtime_2_fits_everywhere(run):
    # MIN_STACK_SIZE = 64 * 4096 since PR #4964 (v2.0): far above any AT_MINSIGSTKSZ modelled.
    data = json.loads(run("sigstack", "--cpu", "all", "--kernel", "lts", "--runtime", "wasmtime", "-f", "json").stdout)
    stacks = [s for d in data for s in d["stacks"] if s["who"] == "wasmtime 2.0+"]
    assert len(stacks) == len(data) and all(s["size"] == 262144 and s["verdict"] == "fits" for s in stacks)


def test_hotspot_and_openj9_zones_with_and_without_amx():
    # Frames off an alternate stack take the red zone and the frame below SP: 3464 bytes on Sapphire Rapids
    # without AMX, 11656 with it (test_a_frame_on_the_thread_stack...), 3344 on Skylake-SP.
    spr = report("spr", runtimes=["hotspot", "openj9"]).stacks
    # HotSpot: Java code keeps StackShadowPages (20) * 4 KiB below SP, then guard pages.
    java = era(spr, "hotspot java")
    assert (java.kind, java.size, java.need, java.margin, java.verdict) == (
        "below-sp", 20 * 4096, {"default": 3464, "permitted": 11656}, 20 * 4096 - 11656, "fits")
    # OpenJ9: 0x2800 below the overflow mark, less the J9JavaStack header (j9nonbuilder.h: 4 UDATAs, isVirtual
    # padded to 8, guardPage, two U_32 = 56 bytes), then malloc()ed memory.
    stack = era(spr, "openj9 java-stack")
    assert (stack.size, stack.verdict, stack.margin) == (10240 - 56, "fits-without-amx", 10240 - 56 - 11656)
    assert stack.delivered is True  # nothing stops the kernel: it writes over the memory below
    osr = era(spr, "openj9 osr<0.62")  # a 64-byte scratch area (eclipse-openj9/openj9#24487)
    assert (osr.size, osr.verdict, osr.fits) == (64, "corrupts-memory", False)
    fixed = era(spr, "openj9 osr 0.62+")  # + J9_STACK_OVERFLOW_RESERVED_SIZE 0x2000 (#24518, #24595)
    assert (fixed.size, fixed.verdict) == (64 + 8192, "fits-without-amx")
    skx = report("skx", runtimes=["openj9"]).stacks  # no AMX: one frame size
    assert [(s.verdict, s.margin) for s in skx] == [("fits", 10184 - 3344), ("corrupts-memory", 64 - 3344),
                                                    ("fits", 8256 - 3344)]


def test_gramine_ssa_holds_an_amx_xfrm():
    # SSA_FRAME_SIZE = 4 pages must hold GPRSGX (176) + EXINFO (16) + the XSAVE image of XFRM: 11008 with AMX
    # (Gramine's SSA_XSAVE_SIZE_MAX 0x2b00 and its static_assert), 2696 on Linux 5.15 (AMX arrives in 5.16).
    stacks = report("spr", kernel="6.18", runtimes=["gramine"]).stacks
    ssa = era(stacks, "gramine ssa")
    assert (ssa.kind, ssa.size, ssa.need["permitted"], ssa.margin) == ("buffer", 16384, 11200, 16384 - 11200)
    assert ssa.verdict == "fits" and ssa.delivered is None
    nested = era(stacks, "gramine sig-stack")  # half of the 64 KiB enclave signal stack, per nested exception
    assert nested.need["permitted"] == 11008 + 144 + 16 + 128 + 12 + 63 and 32768 // nested.need["permitted"] == 2
    old = era(report("spr", kernel="5.15", runtimes=["gramine"]).stacks, "gramine ssa")
    assert old.need["permitted"] == 2696 + 192
    assert era(stacks, "gramine host").size == 65536 - 112


def test_dynamorio_fixed_copy_before_7_1_and_the_mpx_frame():
    # DynamoRIO/dynamorio#1937: "extended_size 1092, expected 896" on Skylake with MPX (XCR0 0x1f: 1088 + 4)
    # against AVX_FRAME_EXTRA = 832 + 64 - 4 + 4 = 896.
    skl = era(report("skl", kernel="4.15", runtimes=["dynamorio"]).stacks, "dynamorio copy<7.1")
    assert (skl.size, skl.need, skl.verdict) == (896, {"default": 1092, "permitted": 1092}, "buffer-too-small")
    # An AVX-only CPU (XCR0 0x7: 832 + 4) fitted.
    assert era(report("hsw", runtimes=["dynamorio"]).stacks, "dynamorio copy<7.1").verdict == "fits"
    # 7.1+ learns the size from a SIGILL it sends itself at start-up, before any AMX permission: 2816 + 4 on
    # Sapphire Rapids, while a process that later takes AMX gets 11008 + 4.
    new = era(report("spr", runtimes=["dynamorio"]).stacks, "dynamorio copy 7.1+")
    assert (new.size, new.need["permitted"], new.verdict) == (2820, 11012, "fits-without-amx")


def test_runtimes_without_an_alternate_stack_are_listed_not_judged(run):
    v8, node = report("spr", runtimes=["v8", "node"]).stacks
    assert (v8.verdict, v8.fits, v8.margin, node.verdict) == ("no-altstack", None, None, "no-altstack")
    assert v8.need == {"default": 3464, "permitted": 11656} and "11656" in v8.why
    assert run("sigstack", "--cpu", "spr", "--runtime", "v8", "--runtime", "node").exit_code == 0


def test_ldso_save_areas():
    # The development machine's glibc 2.36 on an AVX-only CPU (userspace-stacks.md, measured with
    # `ld.so --list-diagnostics`): xsave_state_size = xsave_state_full_size = 0x380 = ALIGN_UP(832 + 64, 64).
    lv = report("zen2", libc="glibc-2.36").libc
    assert (lv.ldso["lazy_binding"], lv.ldso["full"]) == (0x380, 0x380) and lv.ldso["tlsdesc"] is None
    # glibc 2.42 on Sapphire Rapids (cpu-features.c update_active(), by hand): compacted {avx, opmask, zmm_hi256,
    # hi16_zmm} ends at 2432; xtile_cfg 2432..2496, xtile_data 2496..10688; + 88 = 10776, aligned 10816; lazy
    # binding = 10816 - (10688 - 2432) = 2560.
    spr = report("spr").libc.ldso
    assert (spr["tlsdesc"], spr["lazy_binding"]) == (10816, 2560)


@pytest.mark.parametrize("size", [8192, 11836, 11837, 11952, 16384])
def test_sigstack_and_the_process_flow_agree(size):
    # One engine, two views: a stack that holds AT in `sigstack` lets `guest --process --sigaltstack` run an
    # AMX process to a delivered signal; one that does not fails a step there.
    b = boot(resolve("spr"), resolve_kernel("7.3"))
    verdict = sigstack(b, parse_libc(None), [], [size]).stacks[0]
    steps = process_flow(b, [18], size)
    assert verdict.fits == flow_verdict(steps).startswith("OK")


def test_every_rule_names_its_source_and_status():
    for rt in rules().runtimes:
        assert rt.source and rt.status in ("read", "reference")
    for eras in rules().libcs.values():
        for era in eras:
            assert era.rules["evidence"] and era.rules["status"] in ("read", "reference")


# ------------------------------------------------------------------ the commands

def test_sigstack_command_contract_and_exit_code(run):
    res = run("sigstack", "--cpu", "spr", "--kernel", "6.18", "--size", "16384", "-f", "json")
    (data,) = json.loads(res.stdout)  # a list, one object per CPU and kernel, however many
    assert res.exit_code == 0
    assert {"cpu", "kernel", "model", "at_minsigstksz", "frame", "libc", "stacks"} <= set(data)
    # A process without AMX: get_sigframe_size()'s sum with the user default size, 2816 (reference §5.6):
    # sigframe_ia32 736 + 15 + 2816 + FP_XSTATE_MAGIC2 4 + fsave header 112 + 63, rounded up to 16.
    assert data["frame_bound"] == {"default": (736 + 15 + 2816 + 4 + 112 + 63 + 15) // 16 * 16, "permitted": 11952}
    # What get_sigframe() really takes for a 64-bit process (64-byte aligned stack top): round_up(user size +
    # FP_XSTATE_MAGIC2 4, 64) + round_up(sizeof(rt_sigframe) 440, 16) + 8.
    assert data["frame"] == {"default": 2880 + 448 + 8, "permitted": 11072 + 448 + 8}
    assert data["libc"]["name"] == "glibc" and data["libc"]["sc_sigstksz"] == 47808
    assert data["stacks"] == [data["stacks"][0]] and data["stacks"][0]["who"] == "--size 16384"
    assert data["stacks"][0]["margin"] == 16384 - 11952
    assert run("sigstack", "--cpu", "spr", "--size", "8192").exit_code == 1


def test_sigstack_every_cpu_and_lts_kernel(run):
    res = run("sigstack", "--cpu", "all", "--kernel", "lts", "--libc", "musl", "-f", "json")
    data = json.loads(res.stdout)
    assert res.exit_code == 1 and len(data) >= 31 * 8


def test_sigstack_bad_libc_and_runtime_exit_2(run):
    assert run("sigstack", "--libc", "uclibc").exit_code == 2
    res = run("sigstack", "--runtime", "cobol")
    assert res.exit_code == 2 and "known runtimes are" in res.stderr


def test_limit_finds_criu_4096(run):
    # CRIU refuses "xsave struct too large (11008 vs 4096)" (checkpoint-restore/criu#2835): Sapphire Rapids'
    # user xstate, 11008 bytes from 5.16 on (reference §5.6).
    res = run("limit", "user.max.size", "4096", "--kernel", "6.18", "-f", "json")
    data = json.loads(res.stdout)
    assert res.exit_code == 1
    spr = next(o for o in data["exceeding"] if o["cpu"] == "sapphire-rapids")
    assert (spr["value"], spr["over"]) == (11008, 11008 - 4096)
    assert [o["over"] for o in data["exceeding"]] == sorted((o["over"] for o in data["exceeding"]), reverse=True)
    assert run("limit", "user.max.size", "20000").exit_code == 0
    assert run("limit", "no.such.value", "1").exit_code == 2


@pytest.mark.parametrize("spec, why", [
    ("glibc-2.39.1", "glibc versions are MAJOR.MINOR"),  # glibc makes no point releases
    ("glibc-x", "glibc versions are MAJOR.MINOR"),
    ("musl-1", "musl versions are MAJOR.MINOR.PATCH"),
    ("glibc-1.9", "models glibc from 2.0"),
    ("uclibc", "expected glibc or musl"),
])
def test_libc_versions_are_refused_with_the_right_reason(run, spec, why):
    res = run("sigstack", "--cpu", "zen4", "--libc", spec)
    assert res.exit_code == 2 and f"--libc '{spec}': " in res.stderr and why in res.stderr


def test_libc_versions_between_eras(run_json):
    # musl 1.2.6 is the first with 8c43c562's max(AT, 1024) + 1024; glibc 2.36 uses the 2.34-2.39 rules.
    (musl,) = run_json("sigstack", "--cpu", "zen4", "--libc", "musl-1.2.6", "--size", "65536")
    (glibc,) = run_json("sigstack", "--cpu", "zen4", "--libc", "glibc-2.36", "--size", "65536")
    assert musl["libc"]["sc_minsigstksz"] == 3376 + 1024 and glibc["libc"]["rules"] == "glibc 2.34-2.39"


# ------------------------------------------------------------------ frames off an alternate stack

@pytest.mark.parametrize("cpu,user_size,expected", [
    # get_sigframe() by hand: sp - 128 (red zone), buf_fx = round_down(sp - (user size + 4), 64), then
    # round_down(buf_fx - 440, 16) - 8. Sapphire Rapids' user sizes 2816 and 11008 (reference §5.6) are
    # multiples of 64, so + 4 loses most to alignment when SP is 64-byte aligned: 128 + 2880 + 448 + 8.
    ("spr", 2816, 128 + 2880 + 448 + 8),
    ("spr", 11008, 128 + 11072 + 448 + 8),
    # Skylake-SP's 2696 (= 42 * 64 + 8): the worst SP is 8 above a 64-byte boundary, where sp - 128 - 2700
    # sits 4 below one and round_down takes 60 more: 128 + 2700 + 60 + 448 + 8.
    ("skx", 2696, 128 + 2700 + 60 + 448 + 8),
])
def test_a_frame_on_the_thread_stack_takes_the_red_zone_and_the_worst_alignment(cpu, user_size, expected):
    from xstatecalc.sigframe import thread_stack_frame

    b = boot(resolve(cpu), resolve_kernel("6.18"))
    assert thread_stack_frame(b, user_size) == expected


def test_sigstack_json_stack_keys(run_json):
    # One name per idea: the stack keys of issue 13, plus kind and need for the places that are not stacks.
    (data,) = run_json("sigstack", "--cpu", "zen4", "--runtime", "go", "--runtime", "hotspot")
    keys = {"who", "version", "kind", "size", "usable", "need", "fits", "delivered", "margin", "verdict", "why",
            "consequence", "formula", "source", "status", "reports"}
    assert all(set(s) == keys for s in data["stacks"])
    kinds = {s["who"]: s["kind"] for s in data["stacks"]}
    assert (kinds["go"], kinds["hotspot java"]) == ("altstack", "below-sp")


@pytest.mark.parametrize("record, complaint", [
    ({"kind": "buffer", "size": "896"}, "need: required"),
    ({"kind": "altstack", "size": "8192", "macros": "constant", "on_refused": "abort", "need": "XSTATE"},
     "unknown key(s) need"),
    ({"kind": "below-sp", "size": "64"}, "below: expected one of guard, memory"),
    ({"kind": "on-the-heap", "size": "64"}, "kind: expected one of"),
    ({"size": "XSTATE", "macros": "constant", "on_refused": "abort"}, "unknown name(s) XSTATE"),  # buffers only
    ({"size": "48", "macros": "constant", "on_refused": "abort", "page_multiple": True}, "on_alloc_failure"),
])
def test_runtime_records_are_checked_against_their_kind(record, complaint):
    from xstatecalc.errors import InputError
    from xstatecalc.userspace import ENGINE_NAMES, _runtime

    base = {"name": "x", "title": "x", "versions": "1", "source": "x", "status": "read"}
    with pytest.raises(InputError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        _runtime({**base, **record}, "runtimes[0]", ENGINE_NAMES)


def test_a_runtime_record_is_a_mapping():
    from xstatecalc.errors import InputError
    from xstatecalc.userspace import ENGINE_NAMES, _runtime

    with pytest.raises(InputError, match="expected a mapping"):
        _runtime(["name: x"], "runtimes[0]", ENGINE_NAMES)


def test_runtime_help_and_completion_name_every_runtime(run):
    from xstatecalc.cli import cli

    names = {rt.name for rt in rules().runtimes}
    help_text = " ".join(run("sigstack", "--help").stdout.split())
    listed = help_text.split("every era of it (", 1)[1].split(")", 1)[0]
    assert set(listed.split(", ")) == names
    res = run.invoke(cli, [], prog_name="xstatecalc", env={
        "_XSTATECALC_COMPLETE": "bash_complete", "COMP_WORDS": "xstatecalc sigstack --runtime ", "COMP_CWORD": "3"})
    assert {line.split(",", 1)[1] for line in res.stdout.splitlines()} == names
