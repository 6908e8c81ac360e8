"""Kernel models 4.15-7.4: version strings, which model answers, and the facts of kernel-audit.md A1-A9.

Every number here comes from the audit (../reference/kernel-audit.md, which read the release trees), the
reference model's worked examples, or a release tree read for this project (cited at the test).
"""

import json

import pytest

from xstatecalc import dmesg as D
from xstatecalc.errors import KernelVersionError
from xstatecalc.fpu import boot, make_options
from xstatecalc.guest import guest_flow
from xstatecalc.kernels import all_models, lts_models, model_for, resolve_kernel, resolve_kernels
from xstatecalc.profile import resolve
from xstatecalc.versions import LATEST, parse_version

from .conftest import write_profile


def b(cpu, kernel, *disable, **kw):
    return boot(resolve(cpu), resolve_kernel(kernel), make_options(disable, **kw))


# ------------------------------------------------------------------ version strings

@pytest.mark.parametrize("text,release,distro", [
    ("6.1", (6, 1), None),
    ("6.1.133", (6, 1, 133), None),
    ("v6.8-rc3", (6, 8), None),
    ("6.1.y", (6, 1, LATEST), None),
    ("5.15.0-91-generic", (5, 15, 0), "ubuntu"),
    ("6.8.0-45-generic", (6, 8, 0), "ubuntu"),
    ("6.1.0-18-amd64", (6, 1, 0), "debian"),
    ("6.12.41+deb13-amd64", (6, 12, 41), "debian"),
    ("Debian 6.1.76-1", (6, 1, 76), "debian"),
    ("5.14.0-427.el9.x86_64", (5, 14, 0), "rhel"),
    ("4.18.0-553.el8_10.x86_64", (4, 18, 0), "rhel"),
    ("5.10.205-195.804.amzn2.x86_64", (5, 10, 205), "amazon"),
    ("5.14.21-150500.55.39-default", (5, 14, 21), "suse"),
    ("6.6.30-200.fc40.x86_64", (6, 6, 30), "fedora"),
    (" 6.12.23 ", (6, 12, 23), None),
])
def test_parse_version(text, release, distro):
    kv = parse_version(text)
    assert (kv.release, kv.distro) == (release, distro)


@pytest.mark.parametrize("bad", ["", "six", "6", "linux-6.1", "6.1abc", "06.1", "6.01", "6.1.", "6.٥", "6.²",
                                 "6." + "9" * 5000, "6.1\x1b[31m", "6.1 6.2"])
def test_unreadable_version(bad):
    with pytest.raises(KernelVersionError):
        parse_version(bad)


@pytest.mark.parametrize("bad", ["6.1abc", "6.1,x", "6." + "1" * 5000, "6.1,,6.6", "٦.١"])
def test_bad_version_exits_2_with_one_line(run, bad):
    res = run("sizes", "--kernel", bad)
    assert res.exit_code == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and len(res.stderr) < 400


# ------------------------------------------------------------------ which model answered

@pytest.mark.parametrize("kernel,model", [
    ("7.0.3", "7.0"), ("6.1.150", "6.1.134"), ("6.1.133", "6.1.60"), ("6.8", "6.8"), ("6.7", "6.6"), ("6.1.y", "6.1.173"),
    ("5.17.1", "5.17"), ("5.17.2", "5.17.2"), ("4.19.100", "4.19"), ("5.10.200", "5.10.189"), ("7.3", "7.3"),
])
def test_model_label(kernel, model):
    assert model_for(kernel).model == model


def test_every_json_object_with_kernel_names_its_model(run_json):
    out = run_json("sizes", "--cpu", "zen4", "--kernel", "7.0.3,6.1.150")
    assert [(r["kernel"], r["model"]) for r in out] == [("7.0.3", "7.0"), ("6.1.150", "6.1.134")]


def test_table_title_says_which_model(run):
    res = run("sizes", "--cpu", "zen4", "--kernel", "7.0.3")
    assert "Linux 7.0.3 (model 7.0)" in res.stdout


def test_newer_than_known_warns_and_uses_newest_model(run):
    res = run("sizes", "--cpu", "zen4", "--kernel", "8.1", "--format", "json")
    assert res.exit_code == 0
    assert "newer than the newest release xstatecalc knows" in res.stderr and "8.1" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_older_than_oldest_model_exit_2(run):
    res = run("sizes", "--kernel", "4.14")
    assert res.exit_code == 2
    assert "older than the oldest model (4.15)" in res.stderr


def test_default_is_newest_release(run_json):
    # 7.3 is out (Debian linux-source-7.3 7.3.4); 7.4 is only queued (kernel-audit, "After 6.18").
    out = run_json("sizes")
    assert (out[0]["kernel"], out[0]["model"]) == ("7.3", "7.3")


def test_kernel_lists_repeat_and_expand(run_json):
    out = run_json("sizes", "--cpu", "zen4", "--kernel", "6.1,6.6", "--kernel", "6.12")
    assert [r["kernel"] for r in out] == ["6.1", "6.6", "6.12"]
    lts = [r["kernel"] for r in run_json("sizes", "--cpu", "zen4", "--kernel", "lts")]
    assert lts == ["4.19.y", "5.4.y", "5.10.y", "5.15.y", "6.1.y", "6.6.y", "6.12.y", "6.18.y"]


def test_kernel_all_lists_every_model_that_moves_a_number(run_json):
    # ... and ends with the newest release (7.3 moves no number: its row says so), so ranges reach today.
    out = run_json("sizes", "--cpu", "zen4", "--kernel", "all")
    labels = [r["kernel"] for r in out]
    assert labels[0] == "4.15" and labels[-2:] == ["6.18", "7.3"]
    by = {r["kernel"]: r["configs"]["kernel"]["max"]["size"] for r in out}
    assert (by["5.19"], by["6.6"], by["6.17"]) == (2440, 2456, 2480)  # reference §9.3
    assert [m.label for m in all_models()] == labels


def test_lts_models_apply_every_backport():
    assert [m.model for m in lts_models()][-4:] == ["6.1.173", "6.6.87", "6.12.64", "6.18"]


# ------------------------------------------------------------------ A1: PASID on 5.15-5.17

def test_a1_pasid_on_5_15():
    x = b("sapphire-rapids", "5.15")
    assert (hex(x.kernel_max.features), x.kernel_max.size, x.xss) == ("0x6e7", 2448, 0x8400)  # PASID | arch LBR
    lines = D.boot_lines(x)
    assert "x86/fpu: Supporting XSAVE feature 0x400: 'PASID state'" in lines
    assert "x86/fpu: xstate_offset[10]: 2440, xstate_sizes[10]:    8" in lines


@pytest.mark.parametrize("kernel", ["5.16", "5.17"])
def test_a1_pasid_on_5_16_and_5_17(kernel):
    x = b("sapphire-rapids", kernel)
    assert (hex(x.kernel_max.features), hex(x.kernel_default.features)) == ("0x606e7", "0x206e7")
    assert (x.kernel_max.size, x.kernel_default.size) == (10752, 2560)  # the padding before XTILE_CFG absorbs it


# ------------------------------------------------------------------ A2/A3: options by mechanism

def test_a2_build_options_do_not_remove_components():
    assert b("sapphire-rapids", "6.1", "CONFIG_INTEL_IOMMU_SVM=n").kernel_max.features == 0x606E7
    x = b("zen4", "6.8", "CONFIG_X86_USER_SHADOW_STACK=n")
    assert (hex(x.kernel_max.features), x.kernel_max.size) == ("0xae7", 2456)


def test_a2_nopku_keeps_pkru_until_6_6():
    x = b("skylake-sp", "6.1", "nopku")
    assert (hex(x.kernel_max.features), x.kernel_max.size, x.user_max.size) == ("0x2ff", 2568, 2696)
    assert b("skylake-sp", "6.1", "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=n").kernel_max.features == 0x2FF
    assert b("skylake-sp", "6.6", "nopku").kernel_max.features == 0xFF  # 6.6: PKRU needs OSPKE
    assert b("zen4", "6.6", "nopku").kernel_max.features == 0x8E7


def test_a3_noxsaves_follows_cpuid_deps():
    x = b("sapphire-rapids", "6.8", "noxsaves")
    assert (hex(x.kernel_max.features), x.kernel_max.size, x.compacted) == ("0x2e7", 2440, True)  # XSAVEC
    assert (x.user_max.size, x.sigframe_min) == (2696, 3632)
    ((sw, kind, how),) = x.switches
    assert (sw, kind) == ("noxsaves", "boot parameter")
    assert all(f in how for f in ("XFD", "ENQCMD", "SHSTK", "AMX_TILE"))


def test_clearcpuid_removes_the_flag_and_its_dependants():
    assert b("sapphire-rapids", "6.18", "clearcpuid=amx_tile").kernel_max.features & 0x60000 == 0
    # clearcpuid=avx: AVX512F depends on AVX (cpuid-deps.c), so every vector component goes
    assert b("sapphire-rapids", "6.18", "clearcpuid=avx").xcr0 & 0xE4 == 0
    # X86_FEATURE_SHSTK has no name in x86_cap_flags[] (cpufeatures.h comment without quotes; 6.1.176, 6.12.107,
    # 7.2.8): clearcpuid=shstk is an unknown flag and changes nothing, 519 (16*32+7) clears it.
    assert b("zen4", "6.17", "clearcpuid=519").kernel_max.features == 0x2E7
    x = b("zen4", "6.17", "clearcpuid=shstk")
    assert x.kernel_max.features == 0x1AE7 and "unknown CPU flag" in x.switches[0][2]


def test_clearcpuid_names_before_5_19_clear_nothing_and_say_the_number():
    x = b("sapphire-rapids", "5.15", "clearcpuid=avx512f")
    assert "clearcpuid=304" in x.switches[0][2]  # X86_FEATURE_AVX512F = 9*32+16
    assert x.kernel_max.features & 0xE0  # 5.10-5.18 read numbers only: AVX-512 stays
    # 5.10-5.18: a list of numbers, ended by the first name; 4.15-5.9: only the first number.
    y = b("sapphire-rapids", "5.15", "clearcpuid=304,avx,600")
    assert not y.kernel_max.features & 0xE0 and y.kernel_max.features & 0x4  # 600 came after the name
    z = b("skylake-sp", "5.4", "clearcpuid=304,156")  # 4.15-5.9: get_option() once, so AVX (156) stays
    assert not z.kernel_max.features & 0xE0 and z.kernel_max.features & 0x4 and "only the first" in z.switches[0][2]


def test_only_one_clearcpuid_takes_effect_so_the_words_merge():
    # cmdline_find_option() returns the last clearcpuid= only: --disable words become one list.
    assert make_options(["clearcpuid=avx512f", "amx", "xfd"]).cmdline == ("clearcpuid=avx512f,amx_tile,324",)
    assert make_options(["xmm"]).cmdline == ("clearcpuid=sse",)  # XMM's x86_cap_flags[] name is "sse"


def test_noxsavec_is_not_a_kernel_parameter():
    x = b("zen4", "6.18", "noxsavec")
    assert x.compacted and x.switches[0][1] == "ignored"


def test_feature_words_and_flag_names_share_one_vocabulary():
    assert make_options(["amx"]).cmdline == ("clearcpuid=amx_tile",)
    assert make_options(["xsaves"]).cmdline == ("noxsaves",)
    assert make_options(["avx512"]).cmdline == ("clearcpuid=avx512f",)


@pytest.mark.parametrize("word", ["pku", "shstk", "enqcmd"])
def test_words_that_meant_a_build_option_are_ambiguous_now(run, word):
    res = run("sizes", "--disable", word)
    assert res.exit_code == 2 and "ambiguous" in res.stderr


def test_noxsaves_on_518_means_standard_but_compacted_from_519():
    # Reference §8: up to 5.18 no XSAVES means the standard format; 5.19 uses XSAVEC.
    assert not b("zen4", "5.18", "noxsaves").compacted
    assert b("zen4", "5.19", "noxsaves").compacted


def test_i386_kernel():
    x = b("sapphire-rapids", "6.18", arch="i386")
    # XFEATURE_MASK_XTILE is 0 on 32-bit kernels; protection keys need a 64-bit kernel, so no OSPKE, no PKRU
    assert hex(x.xcr0) == "0xe7" and x.user_max.size == 2688
    # sizeof(struct sigframe_ia32) compiled with gcc -m32 from the 7.3 uapi headers: 732 (736 with -m64)
    assert x.sigframe_min == (732 + 15 + 2688 + 4 + 112 + 63 + 15) // 16 * 16
    # The 64-bit-only options (Kconfig 'depends on X86_64') do not exist on i386: not printed as "=n" either.
    assert set(x.options.describe()) == {"CONFIG_X86_64", "cmdline"}
    assert not any(sw.startswith(("CONFIG_X86_USER", "CONFIG_INTEL_IOMMU")) for sw, _, _ in x.switches)


# ------------------------------------------------------------------ A4: stable backports

@pytest.mark.parametrize("version,alloc", [
    ("6.1", "user_default"), ("6.1.133", "user_default"), ("6.1.134", "kernel_default"),
    ("6.6.86", "user_default"), ("6.6.87", "kernel_default"), ("6.12.22", "user_default"),
    ("6.12.23", "kernel_default"), ("6.13.10", "user_default"), ("6.13.11", "kernel_default"),
    ("6.14.1", "user_default"), ("6.14.2", "kernel_default"),
    ("6.14", "user_default"), ("6.15", "kernel_default"), ("6.17", "guest_default"),
])
def test_a4_guest_buffer_fix_by_point_release(version, alloc):
    assert resolve_kernel(version).guest_alloc == alloc


def test_a4_guest_fix_on_6_14_2_numbers():
    # kernel-audit A4: SPR after the backport: vzalloc(2560 + 64) = 2624, gfpu.xfeatures 0x20ee7
    steps = guest_flow(b("sapphire-rapids", "6.14.2"), [18])
    vcpu = next(s for s in steps if s.call == "ioctl(KVM_CREATE_VCPU)")
    assert vcpu.state["fpstate"]["allocated"] == 2624 and vcpu.state["gfpu"]["xfeatures"] == "0x20ee7"
    before = next(s for s in guest_flow(b("sapphire-rapids", "6.14.1"), [18]) if s.call == "ioctl(KVM_CREATE_VCPU)")
    assert before.state["fpstate"]["allocated"] == 2880


def test_a4_6_1_gfpu_xfeatures_is_kernel_default():
    # kernel-audit A4: 6.1.158 core.c sets gfpu->xfeatures = fpu_kernel_cfg.default_features (SPR: 0x206e7)
    vcpu = next(s for s in guest_flow(b("sapphire-rapids", "6.1.158"), [18]) if s.call == "ioctl(KVM_CREATE_VCPU)")
    assert vcpu.state["gfpu"]["xfeatures"] == "0x206e7"


def test_a4_uabi_size_4096_from_5_17_13():
    def uabi(kernel):
        return next(s for s in guest_flow(b("sapphire-rapids", kernel), [18])
                    if s.call == "ioctl(KVM_CREATE_VCPU)").state["gfpu"]["uabi_size"]
    assert (uabi("5.17.12"), uabi("5.17.13"), uabi("5.18.1"), uabi("5.18.2")) == (2816, 4096, 2816, 4096)


def test_a4_erratum_1386_takes_effect_with_the_fpu_init_move():
    # Zen 2 on 5.15.y: the erratum backport is in 5.15.103, but until 5.15.125 the FPU is set up before
    # init_amd() clears XSAVES, so the boot lines still say 'compacted'.
    fmt = {k: b("zen2", k).compacted for k in ("5.15.102", "5.15.110", "5.15.125")}
    assert fmt == {"5.15.102": True, "5.15.110": True, "5.15.125": False}
    assert "standard" in D.boot_lines(b("zen2", "5.15.125"))[-2]


# ------------------------------------------------------------------ A5/A6: KVM

def test_a5_kvm_compacted_size_ignores_alignment_before_5_17(tmp_path):
    # A made-up CPU whose 64-byte-aligned component follows an odd-sized one (KVM exposes MPX on Intel).
    f = write_profile(tmp_path, "flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX, MPX]\nxcr0_supported: 0x1f\n"
                                "components:\n  2: {size: 200, offset: 576}\n  3: {size: 64, offset: 832, align64: true}\n"
                                "  4: {size: 64, offset: 896}\n")
    cap = {}
    for kernel in ("5.15", "5.15.174", "5.17"):
        steps = guest_flow(boot(resolve(str(f)), resolve_kernel(kernel)), [])
        cap[kernel] = steps[-1].state["guest_cpuid"]["leaf_0xd_1_ebx"]
    # 576 + 200 + 64 + 64 unaligned; with ALIGN(776, 64) = 832 before BNDREGS: 832 + 64 + 64
    assert cap == {"5.15": 904, "5.15.174": 960, "5.17": 960}


def test_a6_kvm_reports_0xd_1_ebx_with_xsavec_only():
    # 5.18 with noxsaves: the host uses the standard format, KVM still has XSAVEC in its 0xD.1 EAX
    x = b("zen4", "5.18", "noxsaves")
    assert not x.compacted
    steps = guest_flow(x, [])
    assert "leaf_0xd_1_ebx" in steps[-1].state["guest_cpuid"]


# ------------------------------------------------------------------ A7-A9: wording and order

def _huge_default(tmp_path):
    # a made-up CPU whose default (non-dynamic) state exceeds 4096 bytes
    return write_profile(tmp_path, "flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX, AVX512F]\n"
                                   "xcr0_supported: 0xe7\ncomponents:\n  2: {size: 256, offset: 576}\n"
                                   "  5: {size: 64, offset: 832}\n  6: {size: 512, offset: 896}\n"
                                   "  7: {size: 4096, offset: 1408}\n")


@pytest.mark.parametrize("kernel,line", [
    ("6.0", "x86/fpu: xstate buffer too small (4096 < 5504), disabling xsave"),
    ("6.0.7", "x86/fpu: init_fpstate buffer too small (4096 < 5504), disabling XSAVE"),
    ("6.1", "x86/fpu: init_fpstate buffer too small (4096 < 5504), disabling XSAVE"),
    ("6.16", "x86/fpu: init_fpstate buffer too small (4096 < 5504)"),
])
def test_a7_size_limit_wording(tmp_path, kernel, line):
    x = boot(resolve(str(_huge_default(tmp_path))), resolve_kernel(kernel))
    assert not x.xsave and x.problems[0] == line


def test_a8_consistency_wording_from_6_1_4():
    assert resolve_kernel("6.1.3").consistency_sizes is False
    assert resolve_kernel("6.1.4").consistency_sizes is True
    assert resolve_kernel("6.2").consistency_sizes is True


def test_a9_check_order(tmp_path):
    # Both checks fail: a >4096-byte default buffer and a reported 0xD.1 EBX that the sub-leaves do not give.
    f = _huge_default(tmp_path)
    text = f.read_text() + "reported: {xcr0: 0xe7, xss: 0x0, compacted_size: 5000, xcr0_size: 5504}\n"
    f.write_text(text)
    p = resolve(str(f))
    on_6_0 = boot(p, resolve_kernel("6.0")).problems
    on_6_1 = boot(p, resolve_kernel("6.1")).problems
    assert on_6_0 == ["x86/fpu: xstate buffer too small (4096 < 5504), disabling xsave"]
    assert on_6_1 == ["XSAVE consistency problem, dumping leaves"]


# ------------------------------------------------------------------ the older LTS kernels

@pytest.mark.parametrize("kernel", ["4.19", "5.4"])
def test_old_lts_has_no_supervisor_states_and_no_sigframe_line(kernel):
    x = b("sapphire-rapids", kernel)
    assert (hex(x.kernel_max.features), x.kernel_max.size, x.xss) == ("0x2e7", 2440, 0)
    assert x.sigframe_min is None
    lines = D.boot_lines(x)
    assert lines[-1] == "x86/fpu: Enabled xstate features 0x2e7, context size is 2440 bytes, using 'compacted' format."


def test_5_10_has_pasid():
    x = b("sapphire-rapids", "5.10")
    assert (hex(x.kernel_max.features), x.kernel_max.size) == ("0x6e7", 2448)


def test_old_kernels_have_no_guest_permissions(run):
    # ARCH_REQ_XCOMP_GUEST_PERM arrived in 5.17 (reference §5): older arch_prctl() returns -EINVAL, exit 1.
    res = run("guest", "--cpu", "spr", "--kernel", "5.4", "--enable", "amx", "--format", "json")
    out = json.loads(res.stdout)
    assert res.exit_code == 1 and out["model"] == "5.4" and out["ok"] is False
    assert next(s for s in out["steps"] if s["call"].startswith("arch_prctl"))["result"] == "-EINVAL"


# ------------------------------------------------------------------ the kernels command

def test_kernels_rows_4_15_to_7_4_with_evidence(run_json):
    out = run_json("kernels")
    labels = [r["kernel"] for r in out]
    assert labels[0] == "4.15" and "7.0" in labels and labels[-1] == "7.4"
    assert all(r["evidence"] and r["status"] for r in out)
    row70 = next(r for r in out if r["kernel"] == "7.0")
    assert row70["moves_numbers"] is False and "7.0.0-44" in row70["evidence"]
    assert next(r for r in out if r["kernel"] == "7.4")["released"] is False
    k616 = next(m for m in out if m["kernel"] == "6.16")
    assert k616["facts"]["std_size_order"] == "offset"
    assert k616["facts"]["user_supported"] == "0xe02ff"  # reference §1.2: 6.16+ USER_SUPPORTED on 64-bit


def test_kernels_branch_lists_point_releases(run_json):
    out = run_json("kernels", "--branch", "6.1")
    assert [r["kernel"] for r in out] == ["6.1", "6.1.4", "6.1.20", "6.1.44", "6.1.60", "6.1.134", "6.1.173"]


def test_kernels_table(run):
    res = run("kernels")
    assert res.exit_code == 0 and "6.15" in res.stdout and "7.0" in res.stdout


# ------------------------------------------------------------------ distribution kernels

def test_ubuntu_jammy_amx_backport():
    # Ubuntu 5.15.0-30.31: 'Intel: enable x86 AMX (LP: #1967750)'; linux-source-5.15.0 5.15.0-204 has AMX
    m = model_for("5.15.0-91-generic")
    assert m.model.endswith("+ubuntu") and m.user_dynamic == 0x40000 and m.guest_perm == "none"
    assert model_for("5.15.0-25-generic").user_dynamic == 0
    assert boot(resolve("spr"), m).kernel_max.size == 10752


def test_vendor_kernels_warn_instead_of_claiming():
    m = model_for("5.14.0-427.el9.x86_64")
    assert m.model == "5.14" and any("RHEL" in w for w in m.warnings)
    assert model_for("4.18.0-553.el8_10.x86_64").model == "4.15"


def test_debian_abi_maps_to_a_point_release():
    # ABI 18 is 6.1.76-1 alone (Debian 6.1 changelog): exact, no warning. ABI 10 covered 6.1.37 and 6.1.38.
    m = model_for("6.1.0-18-amd64")
    assert m.version == (6, 1, 76) and not m.warnings
    assert "6.1.37 to 6.1.38" in model_for("6.1.0-10-amd64").warnings[0]
    # Generated ABIs (6.1.148-1 on): 38 + one per upload, so 45-47 are all 6.1.170 and 49 is 6.1.174 (the ZenX
    # backport of 6.1.173 reaches Debian there); ABI 1 is 6.1.4-1 ('Set ABI to 1').
    assert [model_for(f"6.1.0-{n}-amd64").version for n in (1, 45, 47, 49, 57)] == [
        (6, 1, 4), (6, 1, 170), (6, 1, 170), (6, 1, 174), (6, 1, 192)]
    assert "newer than the newest ABI tabulated" in model_for("6.1.0-58-amd64").warnings[0]
    assert "5.10.179 to" not in " ".join(model_for("5.10.0-23-amd64").warnings)  # 23 and 24 share 5.10.179


def test_resolve_kernels_dedupes_and_rejects_empty_items():
    assert [m.label for m in resolve_kernels(["6.1,6.1", "6.1"])] == ["6.1"]
    with pytest.raises(KernelVersionError):
        resolve_kernels(["6.1,,6.6"])


def test_erratum_1386_scope_by_kernel():
    # Mainline 6.3: every family 0x17 part loses XSAVES; 6.8 (carve-out): Zen 1 and Zen 2 by model; the 6.1.173
    # backport leaves the clear in init_spectral_chicken(), which only the Zen 2 init calls (6.1.176 amd.c), so
    # Zen 1 (model 0x01) keeps XSAVES there. Zen 1 has XSAVEC, so the format stays compacted either way from 5.19.
    def has_xsaves(cpu, kernel):
        return "XSAVES" in b(cpu, kernel).flags

    assert not has_xsaves("zen1", "6.3") and not has_xsaves("zen1", "6.8") and not has_xsaves("zen1", "6.1.172")
    assert has_xsaves("zen1", "6.1.173") and not has_xsaves("zen2", "6.1.173")
    assert not has_xsaves("zen2-rome", "6.6.26") and not has_xsaves("zen1", "6.6.26")
    assert has_xsaves("hygon-dhyana", "6.8")  # family 0x18: never


def test_noxsave_leaves_every_feature_field_zero():
    # fpu__init_system_xstate() returns before setting any *_features field (7.2.8 xstate.c 818-822); the sizes
    # are the 512-byte FXSAVE image and only fpu_user_cfg.legacy_features (0x3) remains, which is what
    # ARCH_GET_XCOMP_SUPP reports (max_features | legacy_features).
    x = b("sapphire-rapids", "7.2", "noxsave")
    assert not x.xsave and {x.config(w, v).features for w in ("kernel", "user", "guest")
                            for v in ("max", "default")} == {0}
    assert {x.config(w, v).size for w in ("kernel", "user", "guest") for v in ("max", "default")} == {512}
    from xstatecalc.guest import guest_flow
    assert guest_flow(x, [])[1].returns["arch_get_xcomp_supp"] == "0x3"
