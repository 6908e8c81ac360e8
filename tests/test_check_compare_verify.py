"""`check`, `compare` and `verify`: the CI and hypervisor-author commands."""

import json

import pytest

from xstatecalc.checks import check
from xstatecalc.fpu import boot
from xstatecalc.kernels import resolve_kernel
from xstatecalc.profile import resolve

from .conftest import DATA, write_profile

TDX = DATA / "profiles" / "tdx-guest-azure-dc8es-v6.yaml"
WSL = DATA / "profiles" / "wsl2-zen2.yaml"


# ---- check: the two real cases of dmesg.md (#17 TDX guest, #27 WSL2) ----

def test_tdx_guest_consistency_problem(run):
    res = run("check", TDX, "--kernel", "6.8", "--format", "json")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    lines = [f["kernel_line"] for f in out["findings"] if f["severity"] == "error"]
    # the line the real guest printed (openvmm#708)
    assert "XSAVE consistency problem: size 10752 != kernel_size 10704" in lines
    assert "FXSAVE" in out["findings"][0]["consequence"]


def test_tdx_guest_boots_without_xsave():
    b = boot(resolve(str(TDX)), resolve_kernel("6.8"))
    assert not b.xsave and b.kernel_max.size == 512  # fpu__init_disable_system_xstate(): FXSAVE


def test_wsl2_zero_ebx(run):
    res = run("check", WSL, "--kernel", "6.6", "--format", "json")
    assert res.exit_code == 1
    lines = [f["kernel_line"] for f in json.loads(res.stdout)["findings"]]
    assert "XSAVE consistency problem: size 832 != kernel_size 0" in lines  # WSL#14436


def test_old_kernel_only_warns_with_old_wording():
    # <= 5.15: XSTATE_WARN_ON(..., "XSAVE consistency problem, dumping leaves"), no disable.
    b = boot(resolve(str(WSL)), resolve_kernel("5.15"))
    assert b.xsave and "XSAVE consistency problem, dumping leaves" in b.problems


def test_good_hardware_has_no_errors(run):
    for cpu in ("sapphire-rapids", "zen4", "skylake-sp", "zen2"):
        assert run("check", "--cpu", cpu).exit_code == 0, cpu


def _profile(tmp_path, body, name="broken"):
    return write_profile(tmp_path, body, name, description="deliberately broken")


def test_partial_avx512_is_an_xsetbv_error(tmp_path):
    f = _profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX, AVX512F]
xcr0_supported: 0x27
components:
  2: {size: 256, offset: 576}
  5: {size: 64, offset: 1088}
""")
    findings = check(boot(resolve(str(f))))
    assert any(x.severity == "error" and x.rule == "XSETBV" and "AVX-512 bits 5, 6 and 7" in x.message
               for x in findings)


def test_struct_size_mismatch_warns_with_kernel_line(tmp_path):
    f = _profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX, PKU]
xcr0_supported: 0x207
components:
  2: {size: 256, offset: 576}
  9: {size: 64, offset: 832}
""")
    findings = check(boot(resolve(str(f))))
    hit = [x for x in findings if x.rule == "check_xstate_against_struct"]
    assert hit and hit[0].severity == "warning"
    assert hit[0].kernel_line == "[Protection Keys User registers]: struct is 8 bytes, cpu state 64 bytes"


def test_apx_with_mpx_is_an_error(tmp_path):
    f = _profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX, MPX, APX]
xcr0_supported: 0x8001f
components:
  2: {size: 256, offset: 576}
  3: {size: 64, offset: 960}
  4: {size: 64, offset: 1024}
  19: {size: 128, offset: 1088}
""")
    findings = check(boot(resolve(str(f)), resolve_kernel("6.16")))
    assert findings[0].kernel_line == "x86/fpu: Both APX/MPX present in the CPU's xstate features: 0x8001f."


def test_misordered_components(tmp_path):
    # PKRU (9) below AVX (2) in the standard layout. Up to 6.15 the kernel WARNs with the previous
    # component's offset (setup_xstate_cache) and sizes the standard buffer by the highest-numbered
    # component: 576 + 8 = 584, while CPUID(0xD,0).EBX is the true end, 640 + 256 = 896.
    f = _profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE, XSAVEOPT, AVX, PKU]
xcr0_supported: 0x207
components:
  2: {size: 256, offset: 640}
  9: {size: 8, offset: 576}
""")
    old = check(boot(resolve(str(f)), resolve_kernel("6.15")))
    assert any(x.kernel_line == "x86/fpu: misordered xstate at 640" for x in old)
    # standard format (no XSAVEC/XSAVES): the paranoid check compares 584 with 896 and disables XSAVE
    assert any(x.kernel_line == "XSAVE consistency problem: size 584 != kernel_size 896" and x.severity == "error"
               for x in old)
    new = check(boot(resolve(str(f)), resolve_kernel("6.16")))  # xfeature_uncompact_order: sorted by offset
    assert not [x for x in new if x.severity == "error"]
    assert boot(resolve(str(f)), resolve_kernel("6.16")).user_max.size == 896


def test_reported_ecx_mismatch_is_a_warning(tmp_path):
    f = _profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX]
xcr0_supported: 0x7
components:
  2: {size: 256, offset: 576}
reported: {xcr0_max_size: 1088}
""")
    findings = check(boot(resolve(str(f))))
    assert any(x.rule == "CPUID(0xD,0).ECX" and x.severity == "warning" for x in findings)


def test_check_bad_invocation(run):
    assert run("check", "zen4", "--cpu", "zen2").exit_code == 2


# ---- compare ----

def test_compare_zen4_to_skylake_sp(run):
    res = run("compare", "zen4", "skylake-sp", "--format", "json")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    v = {x["name"]: x for x in out["verdicts"]}
    assert not v["raw KVM_GET_XSAVE2 blob"]["ok"]
    # hardware: opmask is CPUID(0xD,5).EBX = 832 on Zen 4 and 1088 on Skylake-SP
    reasons = v["raw KVM_GET_XSAVE2 blob"]["reasons"]
    assert "opmask at 832 on zen4 but 1088 on skylake-sp" in reasons
    assert "zen4 has no MPX area (Intel keeps bytes 960-1087 for it)" in reasons  # said once, not per component
    assert not v["CRIU restore"]["ok"]


def test_compare_same_cpu_passes(run):
    res = run("compare", "sapphire-rapids", "spr")
    assert res.exit_code == 0, res.stdout




def test_compare_older_destination_lacks_amx(run):
    res = run("compare", "sapphire-rapids", "ice-lake-sp", "--format", "json")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    live = next(v for v in out["verdicts"] if v["name"] == "KVM live migration")
    assert not live["ok"] and "xtile_cfg" in live["reasons"][0]
    assert out["common"]["xcr0"] == "0x2e7"


# ---- verify ----

def test_verify_pass_and_fail(run, tmp_path):
    f = tmp_path / "expect.yaml"
    f.write_text("""- cpu: sapphire-rapids
  kernel: "6.18"
  options: {disable: [clearcpuid=enqcmd]}
  expect:
    guest.default.size: 2560          # reference 5.6
    kernel.max.features: 0x61ae7
    abi.sigframe_min: 11952
- cpu: zen4
  kernel: "6.6"
  expect:
    kernel.max.size: 2456             # the real Ryzen 7 7700X log (dmesg.md #24)
""")
    assert run("verify", f).exit_code == 0
    f.write_text(f.read_text().replace("2456", "2440"))
    res = run("verify", f, "--format", "json")
    assert res.exit_code == 1
    bad = [r for r in json.loads(res.stdout)["results"] if not r["ok"]]
    assert bad == [{"case": "zen4@6.6", "cpu": "zen4", "kernel": "6.6", "model": "6.6", "name": "kernel.max.size", "expected": 2440,
                    "actual": 2456, "ok": False}]


@pytest.mark.parametrize("body,message", [
    ("- cpu: zen4\n  expect: {kernel.max.sise: 1}\n", "did you mean kernel.max.size"),
    ("- cpu: zen4\n  expct: {}\n", "did you mean 'expect'"),
    ("- cpu: zen4\n", "expect: missing"),
    ("- cpu: zen4\n  options: {disable: 5}\n  expect: {xcr0: 0x7}\n", "e.yaml:2: [0].options.disable"),
    ("- cpu: zen4\n  options: {arch: sparc}\n  expect: {xcr0: 0x7}\n", "expected x86_64 or i386"),
    ("- cpu: zen4\n  options: {ia32_emulation: 'no'}\n  expect: {xcr0: 0x7}\n", "expected true or false"),
    ("[]\n", "no cases"),
    ("- cpu: zen4\n  expect: {abi.sigframe_min: \"3376\"}\n", "e.yaml:2: abi.sigframe_min is a number: write 3376 "
                                                             "without quotes"),
    ("- cpu: zen4\n  expect: {kernel.max.size: 0256}\n", "leading zero"),
    ("- cpu: zen4\n  expect: {kernel.max.size: 0x_}\n", "write numbers as decimal or 0x hex"),
    ("- cpu: zen4\n  expect: {kernel.max.size: 2440, '5': 1, 5: 2}\n", "duplicate key"),
    ("- cpu: zen4\n  kernel: 6.1abc\n  expect: {xcr0: 0x7}\n", "unexpected 'abc'"),
    ("- cpu: zen4\n  kernel: 6\n  expect: {xcr0: 0x7}\n", "expected a version string"),
    ("- cpu: zen4\n  options: {nopku: true}\n  expect: {xcr0: 1}\n", "unknown option"),
    ("[unclosed\n", "not valid YAML"),
])
def test_verify_bad_files_exit_2(run, tmp_path, body, message):
    f = tmp_path / "e.yaml"
    f.write_text(body)
    res = run("verify", f)
    assert res.exit_code == 2 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


# ------------------------------------------------------------------ KVM_GET_XSAVE -> KVM_SET_XSAVE across kernels

def _kvm_set(run, src, dst):
    out = json.loads(run("compare", src, dst, "--for", "kvm", "-f", "json").stdout)
    return next(v for v in out["verdicts"] if v["name"] == "KVM_SET_XSAVE accepts the blob")


def test_the_proxmox_qemu64_migration(run):
    # Ubuntu's 5.15 (from 5.15.0-30, with the 5.16 fpstate code) puts the host's in-use PKRU into the blob of a
    # guest without PKU; 6.2's KVM_SET_XSAVE takes only the guest's CPUID 0xD features and x87/SSE
    # (ad856280ddea, a1020a25e697): -EINVAL (Proxmox pve-kernel 1559d22, "migration from fpu-leaky kernel").
    v = _kvm_set(run, "qemu:qemu64@spr@5.15.0-91-generic", "qemu:qemu64@spr@6.2")
    assert not v["ok"] and "refuses pkru" in v["reasons"][0] and "8647c52e9504" in v["reasons"][0]
    # Upstream 5.15 masks KVM_GET_XSAVE with the guest's CPUID: no leak, accepted.
    assert _kvm_set(run, "qemu:qemu64@spr@5.15", "qemu:qemu64@spr@6.2")["ok"]
    # 8647c52e9504 on the destination (6.6; stable 6.1.60, not 6.1.59) accepts what the host supports.
    assert _kvm_set(run, "qemu:qemu64@spr@5.15.0-91-generic", "qemu:qemu64@spr@6.6")["ok"]
    assert _kvm_set(run, "qemu:qemu64@spr@5.15.0-91-generic", "qemu:qemu64@spr@6.1.60")["ok"]
    assert not _kvm_set(run, "qemu:qemu64@spr@5.15.0-91-generic", "qemu:qemu64@spr@6.1.59")["ok"]


def test_a_guest_without_xsave_into_5_17_to_5_19_11(run):
    # ad856280ddea (5.17-rc6) to a1020a25e697 (6.0, 5.19.12): x87/SSE refused for a guest without leaf 0xD
    # (bz 2079311); the bare-CPU comparison checks that kind of guest too.
    v = _kvm_set(run, "spr@6.1", "spr@5.18")
    assert not v["ok"] and any("without XSAVE" in r and "refuses x87 sse" in r for r in v["reasons"])
    assert _kvm_set(run, "spr@6.1", "spr@5.19.12")["ok"]
