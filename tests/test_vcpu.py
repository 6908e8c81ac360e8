"""`vcpu` and VMM models on hosts: numbers from QEMU's and Firecracker's sources, real CPUID dumps and QEMU itself."""

import json

import pytest

from xstatecalc.vcpu import VcpuError, leaf_0xd, parse_spec, resolve_vcpu

from .conftest import load_data


def regs(spec, guest_boot=None):
    return {n: list(r) for n, r in leaf_0xd(resolve_vcpu(spec), guest_boot).items()}


# ------------------------------------------------------------------ QEMU itself, under TCG

_OBSERVED = load_data("qemu_tcg_observed.yaml")["runs"]


@pytest.mark.parametrize("run", _OBSERVED, ids=[f"{r['qemu']}-{r['cpu']}" for r in _OBSERVED])
def test_qemu_tcg_leaf_0xd_as_observed(run):
    # Every run of Debian's QEMU 7.2.22, 10.0.2 and 11.1.3 under TCG on the development machine (a guest that
    # prints CPUID 0xD after XSETBV to the whole advertised mask): the model, QEMU's filter for TCG and its own
    # offset table give the same registers, sub-leaf by sub-leaf. 'host' is refused under TCG, as QEMU does.
    spec = f"qemu-{run['qemu']}:{run['cpu']}@tcg"
    if run["cpu"] == "host":
        with pytest.raises(VcpuError, match="requires KVM"):
            resolve_vcpu(spec)
        return
    assert regs(spec) == {int(n): r for n, r in run["leaf_0xd"].items()}


# ------------------------------------------------------------------ KVM: hand-derived from QEMU's rules

def test_intel_model_on_an_amd_host_takes_the_hosts_offsets():
    # kvm_cpu_xsave_init() copies size/offset from the host's CPUID(0xD, i): on the real Zen 4 dump PKRU is
    # at 0x980 (2432), AVX-512 at 832/896/1408, no MPX slots. AMX goes: Zen 4 has no AMX_TILE.
    v = resolve_vcpu("qemu-10.2:SapphireRapids-v3@zen4@6.18")
    assert v.xcr0 == 0x2E7
    r = regs("qemu-10.2:SapphireRapids-v3@zen4@6.18")
    assert r[9] == [8, 2432, 0, 0] and r[5][1] == 832 and r[7][1] == 1408
    assert r[0][2] == 2432 + 8  # xsave_area_size(XCR0) with the host's offsets
    assert any(d.feature == "amx-tile" and "lacks" in d.why for d in v.dropped)
    # The same model on the real Sapphire Rapids dump: PKRU at 0xa80 (2688), AMX at 2752/2816.
    r = regs("qemu-10.2:SapphireRapids-v3@spr@6.18")
    assert r[9][1] == 2688 and r[17][:3] == [64, 2752, 2] and r[18][:3] == [8192, 2816, 6]


def test_a_model_whose_amx_is_dropped_by_the_host_kernel():
    # KVM_SUPPORTED_XCR0 gained XTILE in 5.17 (with guest permissions): on a 5.15 host QEMU's XCR0 word is cut
    # to 0x2e7 and amx-tile is filtered with a warning, not an error.
    v = resolve_vcpu("qemu-10.2:SapphireRapids-v3@spr@5.15")
    assert v.xcr0 == 0x2E7 and "AMX_TILE" not in v.flags
    assert any(d.feature == "amx-tile" and "KVM on Linux 5.15" in d.why for d in v.dropped)


def test_qemu64_has_no_xsave():
    # qemu64's base definition has no xsave (cpu.c builtin_x86_defs): leaf 0xD is all zero and QEMU hands KVM
    # no 0xD entry; the guest kernel falls back to the 512-byte FXSAVE image.
    assert regs("qemu:qemu64@spr") == {}
    res = resolve_vcpu("qemu:qemu64@spr")
    from xstatecalc.fpu import boot

    b = boot(res.profile)
    assert not b.xsave and b.user_max.size == 512


def test_a_version_that_adds_xsaves_makes_the_guest_compacted():
    # Skylake-Server-v5 sets xsaves=on (cpu.c: "IBRS, XSAVES, EPT switching, no TSX"); v4 has xsavec but not
    # xsaves. A 5.15 guest kernel uses the compacted format only with XSAVES; 5.19+ also with XSAVEC.
    # Skylake-Server has no mpx in QEMU, so on the Skylake-SP dump XCR0 is 0x2e7: standard 2688 + 8 = 2696,
    # compacted 576 + 256 + 64 + 512 + 1024 + 8 = 2440.
    from xstatecalc.fpu import boot
    from xstatecalc.kernels import resolve_kernel

    v4 = boot(resolve_vcpu("qemu-10.2:Skylake-Server-v4@skylake-sp").profile, resolve_kernel("5.15"))
    v5 = boot(resolve_vcpu("qemu-10.2:Skylake-Server-v5@skylake-sp").profile, resolve_kernel("5.15"))
    assert (v4.compacted, v4.kernel_max.size) == (False, 2696)
    assert (v5.compacted, v5.kernel_max.size) == (True, 2440)


def test_host_passes_what_kvm_supports():
    # -cpu host on Sapphire Rapids, 6.18 host: every XCR0 component KVM supports (AMX with the guest permission
    # QEMU asks for), and from QEMU 11.0 the CET pair in XSS (KVM_SUPPORTED_XSS, 6.18; xsaves in the model).
    v = resolve_vcpu("qemu-11.1:host@spr@6.18")
    assert (v.xcr0, v.xss) == (0x602E7, 0x1800)
    assert resolve_vcpu("qemu-10.2:host@spr@6.18").xss == 0  # 10.2's XSS mask is arch LBR only
    assert resolve_vcpu("qemu-11.1:host@spr@6.12").xss == 0  # KVM_SUPPORTED_XSS is 0 before 6.18


def test_pkru_stays_when_kvm_drops_pku():
    # A host kernel before 6.6 with nopku keeps PKRU in XCR0 (PKRU depended on PKU, kernel-audit A2) but sets no
    # OSPKE, so KVM passes no PKU; QEMU filters the pku feature but never re-derives the XCR0 word.
    from xstatecalc.fpu import boot
    from xstatecalc.kernels import resolve_kernel
    from xstatecalc.options import make_options
    from xstatecalc.profile import resolve
    from xstatecalc.vcpu import _qemu, kvm_host

    host = kvm_host(boot(resolve("skylake-sp"), resolve_kernel("6.1"), make_options(["nopku"])))
    v = _qemu(parse_spec("qemu-10.2:Skylake-Server-v4@skylake-sp"), host)
    assert v.xcr0 & 0x200 and "PKU" not in v.flags


def test_11_x_describes_every_component_kvm_supports():
    # d88caf0954 (QEMU 11.0): sub-leaves >= 2 for every component with a size, whatever the guest's XCR0 — so
    # Skylake-Server on a Sapphire Rapids host sees AMX sub-leaves 17 and 18 though XCR0 has no AMX.
    r = regs("qemu-11.1:Skylake-Server-v5@spr@6.18")
    assert 17 in r and 18 in r and not r[0][0] & 0x60000
    assert 17 not in regs("qemu-10.2:Skylake-Server-v5@spr@6.18")


# ------------------------------------------------------------------ Firecracker

def test_firecracker_t2s_keeps_kvms_sizes():
    # T2S clears XCR0 bits 0x2f8 and XSAVEC/XGETBV1/XSAVES (t2s.rs), and Firecracker never rewrites leaf 0xD:
    # 0xD.0 ECX keeps KVM's size for everything supported on Skylake-SP (0x2ff: PKRU at 2688 + 8 = 2696) and
    # 0xD.1 EBX KVM's compacted size (576 + 256 + 64 + 64 + 64 + 512 + 1024 + 8 = 2568).
    r = regs("firecracker-1.16:T2S@skylake-sp@6.1")
    assert r[0][0] == 0x7 and r[0][2] == 2696 and r[1][:2] == [1, 2568]


def test_firecracker_before_1_12_on_an_amx_host():
    # Without ARCH_REQ_XCOMP_GUEST_PERM, KVM leaves XTILE_DATA out; before 6.4 it still reports XTILE_CFG
    # (55cd57b596e8 filters it from 6.4), and a guest that enables it alone takes a #GP in XSETBV.
    v = resolve_vcpu("firecracker-1.11:none@spr@6.1")
    assert v.xcr0 & 0x60000 == 0x20000 and v.problems
    assert resolve_vcpu("firecracker-1.11:none@spr@6.6").xcr0 & 0x60000 == 0
    assert resolve_vcpu("firecracker-1.12:none@spr@6.6").xcr0 & 0x60000 == 0x60000


def test_firecracker_template_on_the_wrong_host(run):
    res = run("vcpu", "T2A", "--vmm", "firecracker", "--host", "zen4")  # T2A is for Milan only from 1.12
    assert res.exit_code == 1 and "InvalidCpuModel" in res.stdout


# ------------------------------------------------------------------ the command and the spelling

def test_vcpu_json_contract(run_json):
    out = run_json("vcpu", "SapphireRapids-v3", "--host", "zen4", "--host-kernel", "6.18")
    assert out["vmm"]["name"] == "qemu" and out["vmm"]["release"] == "11.1"
    assert out["cpu_model"]["name"] == "SapphireRapids-v3" and out["cpu_model"]["version"] == 3
    assert out["host"] == {"cpu": "zen4", "kernel": "6.18", "model": "6.18"}
    # SapphireRapids-v3 has no CET (QEMU's model lacks cet-ss/cet-ibt): no supervisor state for the guest.
    assert (out["xcr0"], out["xss"]) == ("0x2e7", "0x0")
    assert all(isinstance(k, str) and k.isdigit() for k in out["leaf_0xd"])
    assert all(len(r) == 4 and all(isinstance(x, int) for x in r) for r in out["leaf_0xd"].values())
    assert {"feature", "why", "components"} <= set(out["dropped"][0])
    assert out["guest"]["cpu"] == out["cpu"] and out["guest"]["configs"]["user"]["max"]["size"] == 2440


@pytest.mark.parametrize("args, why", [
    (["SapphireRapid-v3"], "did you mean"),
    (["SapphireRapids-v99"], "it has SapphireRapids-v1"),
    (["SapphireRapids", "--vmm", "qemu-8.1"], "not modelled; modelled releases"),
    (["T2X", "--vmm", "firecracker"], "no template"),
    (["Skylake-Server,+avx9000"], "not an XSAVE-relevant feature"),
])
def test_unknown_models_and_versions_exit_2(run, args, why):
    res = run("vcpu", *args)
    assert res.exit_code == 2 and why in res.stderr and "Traceback" not in res.stderr


def test_the_spelling_works_wherever_a_cpu_does(run, tmp_path):
    # sizes, compare and a written profile all take the guest.
    out = json.loads(run("sizes", "--cpu", "qemu-10.2:SapphireRapids-v2,-amx-tile@spr", "-f", "json").stdout)
    assert out[0]["xcr0"] == "0x2e7"
    res = run("compare", "qemu-10.2:Skylake-Server-v5@skylake-sp", "qemu-10.2:Skylake-Server-v5@zen4",
              "--for", "raw")
    assert res.exit_code == 1 and "pkru at 2688" in res.stdout  # the raw blob breaks at PKRU: 2688 vs 2432
    f = tmp_path / "guest.yaml"
    assert run("vcpu", "host", "--host", "spr", "-o", f).exit_code == 0
    out = json.loads(run("sizes", "--cpu", f, "--kernel", "6.18", "-f", "json").stdout)
    assert out[0]["configs"]["kernel"]["max"]["size"] == json.loads(
        run("sizes", "--cpu", "qemu:host@spr", "--kernel", "6.18", "-f", "json").stdout)[0]["configs"]["kernel"][
        "max"]["size"]


def test_dropped_features_are_said_on_stderr_in_one_line(run):
    res = run("sizes", "--cpu", "qemu-10.0:SapphireRapids-v2@zen3")  # a spelling no other test uses: warned once
    lines = [x for x in res.stderr.splitlines() if "dropped" in x]
    assert len(lines) == 1 and "amx-tile" in lines[0]
