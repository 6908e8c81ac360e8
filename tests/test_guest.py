"""`guest`: the KVM guest fpstate lifecycle and the AMX process flow, against the reference §5-§7."""

import pytest

from xstatecalc.fpu import Options, boot, make_options
from xstatecalc.guest import dynamic_request, guest_flow, process_flow
from xstatecalc.kernels import resolve_kernel
from xstatecalc.profile import resolve

from .conftest import load_data

NO_PASID = make_options(["clearcpuid=541"])  # the reference's example CPU (§5.6) has no PASID (ENQCMD = 16*32+29: a number works on every kernel)


def flow(cpu, kernel, enable=(18,), options=NO_PASID):
    steps = guest_flow(boot(resolve(cpu), resolve_kernel(kernel), options), list(enable))
    return {st.event.split(" ")[0] if st.nr > 1 else "boot": st for st in steps}, steps


def test_sapphire_rapids_newest_reference_5_6():
    by, steps = flow("sapphire-rapids", "6.18")
    assert [st.nr for st in steps] == [1, 2, 3, 4, 5, 6]
    vmm, req, vcpu, cpuid, run = by["VMM"], by["request"], by["create"], by["set"], by["the"]
    # 2. perm and guest_perm at exec; ARCH_GET_XCOMP_*; KVM_CAP_XSAVE2 = max(4096, 2696).
    assert vmm.state["perm"] == {"features": "0x20ae7", "size": 2560, "user_size": 2816}
    assert vmm.state["guest_perm"] == {"features": "0x21ae7", "size": 2560, "user_size": 2816, "locked": False}
    assert vmm.returns["arch_get_xcomp_supp"] == "0x602e7"
    assert vmm.returns["arch_get_xcomp_guest_perm"] == "0x202e7"
    assert vmm.returns["kvm_cap_xsave2"] == 4096
    # §9.2: KVM_GET_SUPPORTED_CPUID before permission: 0x2E7 / 2696, 0xD.1 EBX 2480.
    assert vmm.returns["kvm_get_supported_cpuid"]["leaf_0xd_0"]["eax"] == "0x2e7"
    assert vmm.returns["kvm_get_supported_cpuid"]["leaf_0xd_0"]["ebx"] == 2696
    assert vmm.returns["kvm_get_supported_cpuid"]["leaf_0xd_1"]["ebx"] == 2480
    # 3. ARCH_REQ_XCOMP_GUEST_PERM(18)
    assert req.result == 0
    assert req.state["guest_perm"] == {"features": "0x61ae7", "size": 10752, "user_size": 11008, "locked": False}
    assert req.returns["arch_get_xcomp_guest_perm"] == "0x602e7" and req.returns["kvm_cap_xsave2"] == 11008
    assert req.returns["kvm_get_supported_cpuid"]["leaf_0xd_1"]["ebx"] == 10752
    # 4. KVM_CREATE_VCPU
    assert vcpu.state["fpstate"] == {"allocated": 2624, "size": 2560, "user_size": 2816, "xfeatures": "0x21ae7",
                                     "user_xfeatures": "0x202e7", "xfd": "0x0"}
    assert vcpu.state["gfpu"]["uabi_size"] == 4096 and vcpu.state["guest_perm"]["locked"]
    # 5. KVM_SET_CPUID2 with AMX
    assert cpuid.state["fpstate"] == {"allocated": 10816, "size": 10752, "user_size": 11008, "xfeatures": "0x61ae7",
                                      "user_xfeatures": "0x602e7", "xfd": "0x0"}
    assert cpuid.state["gfpu"]["uabi_size"] == 11008
    assert cpuid.returns["kvm_get_xsave"] == "-EINVAL" and cpuid.returns["kvm_get_xsave2"] == 11008
    # 6. what the guest sees: std(0x602E7) = 11008, compacted with or without XSS = 10752.
    assert run.state["guest_cpuid"]["leaf_0xd_0_ebx"] == 11008
    assert run.state["guest_cpuid"]["leaf_0xd_1_ebx"] == 10752
    assert "fpstate.allocated" in cpuid.changed and "gfpu.uabi_size" in cpuid.changed


# Reference §5.6: 2880 before the 1937e18cc3cf backport, 2624 after. The backport is in 6.1.134, not the
# reference's 6.1.133: '[PATCH 6.1 006/204]' belongs to the 6.1.134-rc1 stable review.
@pytest.mark.parametrize("kernel,alloc", [("6.1", 2880), ("6.1.133", 2880), ("6.1.134", 2624)])
def test_sapphire_rapids_6_1_reference_5_6(kernel, alloc):
    by, _ = flow("sapphire-rapids", kernel)
    assert by["VMM"].state["guest_perm"]["features"] == "0x202e7"  # a copy of perm before 6.17
    assert by["VMM"].returns["kvm_cap_xsave2"] == 4096
    assert by["VMM"].returns["kvm_get_supported_cpuid"]["leaf_0xd_0"]["ebx"] == 2816  # pre-6.4: XTILE_CFG not filtered
    assert by["request"].state["guest_perm"]["size"] == 10752
    assert by["request"].returns["kvm_cap_xsave2"] == 11008
    assert by["create"].state["fpstate"]["allocated"] == alloc
    assert by["create"].state["fpstate"]["size"] == 2560
    assert by["create"].state["gfpu"]["uabi_size"] == 4096
    assert by["set"].state["fpstate"]["allocated"] == 10816 and by["set"].state["gfpu"]["uabi_size"] == 11008


@pytest.mark.parametrize("kernel,alloc,size", [("6.6", 2504, 2456), ("6.15", 2520, 2456), ("6.18", 2544, 2480)])
def test_zen4_has_no_amx_and_the_buffer_stays(kernel, alloc, size):
    # §9.3: vCPU fpstate 2504 (6.6-6.14, under-allocated), 2520 (6.15-6.16), 2544 (6.17+).
    by, _ = flow("zen4", kernel, options=Options())
    assert by["request"].result == "-EOPNOTSUPP"
    assert by["create"].state["fpstate"]["allocated"] == alloc
    assert by["create"].state["fpstate"]["size"] == size
    assert by["set"].state["fpstate"]["allocated"] == alloc
    if kernel == "6.6":
        assert any("under-allocation" in n for n in by["create"].notes)


def test_granite_rapids_matches_hardware():
    hw = load_data("hardware.yaml")["granite-rapids"]
    spr, gnr = resolve("sapphire-rapids"), resolve("granite-rapids")
    assert all(gnr.components[n] == spr.components[n] for n in (2, 5, 6, 7, 9, 17, 18))  # same sub-leaves
    by, _ = flow("granite-rapids", "6.18")
    # KVM_CAP_XSAVE2 after permission and the guest's 0xD.0 EBX are the hardware's CPUID(0xD,0) ECX/EBX.
    assert by["request"].returns["kvm_cap_xsave2"] == hw["sl0_ecx"]
    assert by["the"].state["guest_cpuid"]["leaf_0xd_0_ebx"] == hw["sl0_ebx"]
    assert by["set"].state["fpstate"]["allocated"] == 10816  # §9.1: 10752 whatever the supervisor set


def test_apx_hypothetical_reference_9_4():
    by, _ = flow("apx-hypothetical", "6.18")
    assert by["create"].state["fpstate"]["allocated"] == 2688 + 64
    assert by["set"].state["fpstate"]["allocated"] == 10880 + 64
    assert by["set"].state["gfpu"]["uabi_size"] == 11008
    assert by["the"].state["guest_cpuid"]["xcr0"] == "0x602e7"  # APX is not in KVM_SUPPORTED_XCR0 (§7)


def test_permission_is_locked_after_vcpu_creation():
    by, _ = flow("sapphire-rapids", "6.18", enable=())
    assert by["create"].returns["arch_req_xcomp_guest_perm_now"] == {"xtile_data": "-EBUSY"}
    assert by["set"].state["fpstate"]["allocated"] == 2624


def test_516_has_no_guest_permissions():
    by, _ = flow("sapphire-rapids", "5.16")
    assert by["request"].result == "-EINVAL"
    assert by["create"].state["fpstate"]["allocated"] == 2816 + 64  # §5.4: user.default_size + 64


def test_517_permission_bug_and_its_backport():
    # §5.3: 5.16/early 5.17 stored only the request; 063452fd94d1 (5.18; stable 5.16.20, and 5.17.2 as Ubuntu's
    # changelog of its 5.17 kernel shows: 'Jammy update: v5.17.2 upstream stable release').
    by, _ = flow("sapphire-rapids", "5.17.1")
    assert by["request"].returns["arch_get_xcomp_guest_perm"] == "0x40000"
    by, _ = flow("sapphire-rapids", "5.17.2")
    assert by["request"].returns["arch_get_xcomp_guest_perm"] == "0x602e7"


def test_not_dynamic_feature_is_refused():
    b = boot(resolve("spr"))
    assert dynamic_request(b, ["amx"]) == dynamic_request(b, ["xtile_data"]) == dynamic_request(b, ["18"]) == [18]
    with pytest.raises(ValueError, match="in the default feature set: on from boot"):
        dynamic_request(b, ["avx512"])
    # Not "on from boot": Linux never enables PT, and component 63 is no state component at all.
    with pytest.raises(ValueError, match=r"component 8 \(pt\) is never enabled by Linux"):
        dynamic_request(b, ["pt"])
    with pytest.raises(ValueError, match="XCR0 bit 63 is reserved"):
        dynamic_request(b, ["63"])


def test_process_flow_sigaltstack():
    b = boot(resolve("sapphire-rapids"), resolve_kernel("6.18"), NO_PASID)
    steps = {st.call.split("(")[0]: st for st in process_flow(b, [18], sigaltstack=8192)}
    # §6.2: without permission the frame holds user.default (2816): round_up(736 + 15 + 2816 + 4 + 112 + 63, 16)
    assert steps["sigaltstack"].result == 0 and "3760" in steps["sigaltstack"].notes[0]
    assert steps["arch_prctl"].result == "-ENOSPC" and "11952" in steps["arch_prctl"].notes[-1]  # §6.2 framesize
    assert steps["AMX instruction -> #NM"].result == "SIGILL"
    steps = process_flow(b, [18], sigaltstack=11952)
    request = next(st for st in steps if st.call.startswith("arch_prctl"))
    assert request.result == 0
    assert request.state["perm"] == {"features": "0x60ae7", "size": 10752, "user_size": 11008}
    # first AMX use: #NM -> realloc(perm.__state_size + 64); AT_MINSIGSTKSZ unchanged (§6.2)
    first = next(st for st in steps if st.function.startswith("xfd_enable_feature"))
    assert first.state["fpstate"]["allocated"] == 10816
    # get_sigframe(): round_up(11008 + FP_XSTATE_MAGIC2 4, 64) + round_up(sizeof(rt_sigframe) 440, 16) + 8
    assert first.state["signal"] == {"at_minsigstksz": 11952, "frame": 11072 + 448 + 8, "frame_bound": 11952}
    assert steps[-1].result == 0 and steps[-1].state["signal"]["margin"] == 0


def test_process_without_amx_still_judges_the_stack(run):
    # Zen 4 has no AMX: every process gets the full frame from the start, 3376 bytes (the real 7700X log).
    res = run("guest", "--cpu", "zen4", "--process", "--sigaltstack", "4096")
    assert res.exit_code == 0 and "OK: the 4096-byte alternate stack holds the 2952-byte signal frame and AT_MINSIGSTKSZ 3376, margin +720" in res.stdout
    # The frame a 64-bit process really gets is smaller than AT_MINSIGSTKSZ: round_up(2440 + 4, 64) + 448 + 8 =
    # 2952 bytes. Measured on a 6.18 host with the same rounding (XCR0 0xe7, 2432 bytes of user state): a
    # 2953-byte stack with a page-aligned top receives the signal, a 2952-byte one gets SIGSEGV.
    res = run("guest", "--cpu", "zen4", "--process", "--sigaltstack", "2953")
    assert res.exit_code == 0 and "WORKS, BELOW THE MINIMUM" in res.stdout and "423 bytes short" in res.stdout
    res = run("guest", "--cpu", "zen4", "--process", "--sigaltstack", "2952")
    assert res.exit_code == 1 and "SIGSEGV" in res.stdout
    assert "handle_xfd_event" not in run("guest", "--cpu", "zen4", "--enable", "amx", "--process").stdout


def test_guest_cli_json_is_the_flow_and_its_verdict(run_json):
    out = run_json("guest", "--enable", "amx", "--disable", "clearcpuid=enqcmd")
    assert (out["cpu"], out["flow"], out["ok"]) == ("sapphire-rapids", "guest", True)
    assert out["verdict"].startswith("OK: every step succeeds")
    steps = out["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert {"step", "event", "call", "function", "result", "returns", "changed", "state"} <= set(steps[0])
    assert steps[4]["state"]["fpstate"]["allocated"] == 10816


def test_guest_cli_refuses_static_feature(run):
    res = run("guest", "--enable", "avx512")
    assert res.exit_code == 2 and "Only dynamic features need a permission" in res.stderr


def test_guest_cli_exit_codes(run):
    assert run("guest", "--enable", "amx", "--sigaltstack", "8192").exit_code == 1  # -ENOSPC, then SIGILL
    assert run("guest", "--enable", "amx", "--sigaltstack", "16384").exit_code == 0
    assert run("guest", "--sigaltstack", "8192").exit_code == 0  # no permission asked: the 3760-byte frame fits
    assert run("guest", "--cpu", "zen4", "--enable", "amx").exit_code == 1  # -EOPNOTSUPP
    assert run("guest", "--kernel", "5.16", "--enable", "amx").exit_code == 1  # -EINVAL: no guest permissions


def test_guest_table_has_split_view(run):
    res = run("guest", "--enable", "amx")
    assert res.exit_code == 0
    assert "fpu_alloc_guest_fpstate" in res.stdout and "gfpu->uabi_size" in res.stdout
