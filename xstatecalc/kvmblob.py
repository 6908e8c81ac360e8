"""Moving a guest's XSAVE state between host kernels: what KVM_GET_XSAVE{2} puts in the blob on the source,
what KVM_SET_XSAVE accepts on the destination.

The rules are facts of each host kernel (:class:`~xstatecalc.kernels.KernelModel` ``kvm_get_xsave`` and
``kvm_set_xsave``), read in the release trees (4.15, 5.15.100, 5.17-rc5, 5.19, 6.0.1, 6.1.176, 6.5.0,
6.18.15, 7.1.8) and the stable reviews:

* up to 5.15 GET reports what the guest's CPUID 0xD exposes plus x87/SSE, SET takes anything the host
  supports (fill_xsave()/load_xsave());
* 5.16 (and Ubuntu's 5.15 from 5.15.0-30, which carries that code) masks GET with the *host's* user
  features: a guest without PKU on a protection-keys host carries the host's PKRU (in use) in its blob;
* ad856280ddea (5.17-rc6) makes both follow the guest's CPUID, without x87/SSE: a guest without leaf 0xD
  (qemu64) loses its x87/SSE state on GET and is refused on SET (-EINVAL);
* a1020a25e697 (6.0, 5.19.12) puts x87/SSE back;
* 8647c52e9504 (6.6, 6.5.9, 6.1.60) lets SET take anything the host supports again; GET stays guest-only.
"""

from __future__ import annotations

from . import components as C
from .records import record

_WHY_GET = {
    "guest": "KVM_GET_XSAVE reports the guest's CPUID 0xD features and x87/SSE",
    "hostleak": "KVM_GET_XSAVE reports the host's user features in use: the host's PKRU leaks into the blob of "
                "a guest without PKU (5.16 fpstate code; Ubuntu 5.15 from 5.15.0-30)",
    "guest-nofpsse": "KVM_GET_XSAVE reports only the guest's CPUID 0xD features (ad856280ddea): a guest without "
                     "leaf 0xD gets XSTATE_BV = 0 and its x87/SSE state is not saved",
}
_FIX = {
    "guest-nofpsse": "a1020a25e697 (6.0, 5.19.12) puts x87/SSE back",
    "guest": "8647c52e9504 (6.6, 6.5.9, 6.1.60) lets KVM_SET_XSAVE take what the host supports",
}


@record
class GuestKind:
    """What the guest's CPUID exposes, for the blob's XSTATE_BV."""

    name: str
    xcr0: int  # CPUID(0xD,0) EDX:EAX as the guest sees it (0: no leaf 0xD, e.g. qemu64)
    pku: bool  # the guest has PKU (so it loads its own PKRU and nothing leaks)


def blob_bits(src_kernel, src_user_default: int, guest: GuestKind) -> tuple[int, bool]:
    """(XSTATE_BV bits the source's KVM_GET_XSAVE can set, whether x87/SSE state is lost) for *guest*."""
    rule = src_kernel.kvm_get_xsave
    if rule == "hostleak":
        leak = src_user_default & C.bit(C.PKRU) if not guest.pku else 0
        return (guest.xcr0 | C.MASK_FPSSE | leak), False
    if rule == "guest-nofpsse":
        return guest.xcr0, not guest.xcr0 & C.MASK_FPSSE
    return guest.xcr0 | C.MASK_FPSSE, False


def accepted(dst_kernel, dst_supported_xcr0: int, dst_user_default: int, guest: GuestKind, bits: int) -> int:
    """The XSTATE_BV bits the destination's KVM_SET_XSAVE refuses (-EINVAL), 0 when it accepts *bits*."""
    rule = dst_kernel.kvm_set_xsave
    allowed = dst_supported_xcr0
    if rule == "host":
        dynamic = guest.xcr0 & C.bit(C.XTILE_DATA)  # fpstate_realloc() adds an enabled dynamic feature
        allowed &= dst_user_default | dynamic | C.MASK_FPSSE
    elif rule == "guest-nofpsse":
        allowed &= guest.xcr0
    elif rule == "guest":
        allowed &= guest.xcr0 | C.MASK_FPSSE
    return bits & ~allowed


@record
class Transfer:
    guest: str
    ok: bool
    lost: bool  # accepted, but x87/SSE state silently lost
    refused: int  # XSTATE_BV bits KVM_SET_XSAVE refuses
    reason: str


def transfer(src_boot, dst_boot, guest: GuestKind, src_supported: int, dst_supported: int) -> Transfer:
    """One guest kind's blob from *src_boot*'s KVM to *dst_boot*'s, as the kernels' rules say."""
    sk, dk = src_boot.kernel, dst_boot.kernel
    bits, lost = blob_bits(sk, src_boot.user_default.features, guest)
    refused = accepted(dk, dst_supported, dst_boot.user_default.features, guest, bits)
    if refused:
        why = (f"Linux {dk.label}'s KVM_SET_XSAVE refuses {' '.join(C.names(refused))} (-EINVAL): "
               + _set_why(dk.kvm_set_xsave, refused, dst_supported) + f"; the source, Linux {sk.label}: "
               + _WHY_GET[sk.kvm_get_xsave])
        return Transfer(guest.name, False, lost, refused, why)
    if lost:
        return Transfer(guest.name, False, True, 0, f"Linux {sk.label}: {_WHY_GET[sk.kvm_get_xsave]}; "
                                                    f"{_FIX['guest-nofpsse']} on the source")
    return Transfer(guest.name, True, False, 0, "")


def _set_why(rule: str, refused: int, supported: int) -> str:
    if refused & ~supported:
        return "the destination host does not support them"
    if rule == "guest-nofpsse":
        return "it accepts only the guest's CPUID 0xD features (ad856280ddea); " + _FIX["guest-nofpsse"]
    if rule == "guest":
        return "it accepts only the guest's CPUID 0xD features and x87/SSE (ad856280ddea); " + _FIX["guest"]
    return "not among the destination's user features"


def guest_kinds(src_supported: int, dst_supported: int) -> list[GuestKind]:
    """The guests whose blobs differ between kernels: one with every component both hosts' KVM offer, one
    without PKU (PKRU can leak into its blob), one without XSAVE (qemu64)."""
    full = src_supported & dst_supported
    kinds = [GuestKind("every common component", full, bool(full & C.bit(C.PKRU)))]
    if src_supported & C.bit(C.PKRU):
        kinds.append(GuestKind("a guest without PKU", full & ~C.bit(C.PKRU), False))
    kinds.append(GuestKind("a guest without XSAVE (qemu64)", 0, False))
    return kinds
