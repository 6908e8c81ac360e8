"""Linux kernel models, 5.15 to 6.18, as data.

Each release that moves a number is a :class:`Change` holding only the facts
that differ; a model for any version is the sum of the changes at or below it
(plus stable backports on its own branch). The logic that uses these facts is
shared, in :mod:`xstatecalc.fpu`.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from . import components as C
from .errors import KernelVersionError

M = C.mask_of


class KernelModel(NamedTuple):
    """The facts of one kernel version that decide xstate masks and sizes."""

    version: tuple[int, ...]
    label: str
    # asm/fpu/xstate.h masks
    user_supported: int
    supervisor_supported: int
    supervisor_unsupported: int
    guest_supervisor: int  # XFEATURE_MASK_GUEST_SUPERVISOR (6.17+)
    user_dynamic: int  # XFEATURE_MASK_USER_DYNAMIC (5.16+)
    independent: int
    # xsave_cpuid_features[]: component -> the X86_FEATURE it needs
    cpuid_deps: dict
    xfeature_names: dict  # printed names that differ from "unknown xstate feature"
    compacted_via: tuple[str, ...]  # flags that make Linux use the compacted format
    fpu_cfg: bool  # fpu_kernel_cfg/fpu_user_cfg with max/default (5.16+)
    std_size_order: str  # "number" (fls64) or "offset" (xfeature_uncompact_order, 6.16+)
    apx_mpx_check: bool
    enqcmd_disabled: bool  # ENQCMD force-disabled (5.14-5.17), so PASID never enabled
    amd_erratum_1386: bool  # XSAVES cleared on family 0x17 (6.3+)
    sigframe: bool  # AT_MINSIGSTKSZ and "signal: max sigframe size" (5.14+)
    size_limit_check: str  # which "buffer too small" check and text
    xsave_disabled_msg: bool  # "x86/fpu: XSAVE disabled" (6.16+)
    consistency_fatal: bool  # paranoid size mismatch disables XSAVE (5.16+)
    consistency_sizes: bool  # "XSAVE consistency problem: size %u != kernel_size %u" (48280042f2c6)
    # arch_prctl / KVM guest facts
    xcomp_prctl: bool  # ARCH_GET_XCOMP_SUPP & co (5.16+)
    guest_perm: str  # "none" (5.16), "perm" (copy of perm, 5.17-6.16), "guest_default" (6.17+)
    guest_alloc: str  # fpu_alloc_guest_fpstate size: "user_default" | "kernel_default" | "guest_default"
    gfpu_xfeatures: str  # gfpu->xfeatures at vCPU creation, same vocabulary
    perm_store: str  # what ARCH_REQ_XCOMP_PERM stores: "requested" | "user_mask" | "full"
    host_perm_adds_supervisor: bool  # host request adds xfeatures_mask_supervisor() (5.18-6.15)
    uabi_init: str  # guest uabi_size at creation: "user_default" or "kvm_xsave" (4096)
    kvm_supported_xcr0_extra: int  # XTILE in KVM_SUPPORTED_XCR0 (5.17+)
    kvm_supported_xss: int
    kvm_filter_xtilecfg: bool  # kvm_get_filtered_xcr0() drops XTILE_CFG without XTILE_DATA (6.4+)
    kvm_xss_in_cpuid: bool  # guest CPUID(0xD,1).EBX includes guest IA32_XSS (6.18)
    changes: tuple[str, ...] = ()  # what changed at this version, for `xstatecalc kernels`
    notes: tuple[str, ...] = ()  # settled or unsettled evidence

    def facts(self) -> dict:
        """The model's facts as plain data (masks in hex), for JSON output."""
        out = {}
        for name in self._fields:
            if name in ("version", "label", "changes", "notes", "xfeature_names"):
                continue
            v = getattr(self, name)
            if name == "cpuid_deps":
                v = {C.key(n): flag for n, flag in sorted(v.items())}
            elif isinstance(v, int) and not isinstance(v, bool):
                v = f"{v:#x}"
            elif isinstance(v, tuple):
                v = list(v)
            out[name] = v
        return out

    @property
    def compacted_flag_text(self) -> str:
        return " or ".join(self.compacted_via)


class Change(NamedTuple):
    version: tuple[int, ...]
    summary: str
    facts: dict
    evidence: str = ""
    branch: tuple[int, int] | None = None  # set for a stable backport: applies on this branch only
    numbers: bool = True  # False: changes only the wording of a message, not a size or mask


_NAMES_515 = {
    C.FP: "x87 floating point registers",
    C.SSE: "SSE registers",
    C.YMM: "AVX registers",
    C.BNDREGS: "MPX bounds registers",
    C.BNDCSR: "MPX CSR",
    C.OPMASK: "AVX-512 opmask",
    C.ZMM_HI256: "AVX-512 Hi256",  # sic: the kernel swaps the two AVX-512 names
    C.HI16_ZMM: "AVX-512 ZMM_Hi256",
    C.PT: "Processor Trace (unused)",
    C.PKRU: "Protection Keys User registers",
    C.PASID: "PASID state",
}

BASE = KernelModel(
    version=(5, 15),
    label="5.15",
    user_supported=M(C.FP, C.SSE, C.YMM, C.OPMASK, C.ZMM_HI256, C.HI16_ZMM, C.PKRU, C.BNDREGS, C.BNDCSR),
    supervisor_supported=M(C.PASID),
    supervisor_unsupported=M(C.PT),
    guest_supervisor=0,
    user_dynamic=0,
    independent=M(C.LBR),
    cpuid_deps={C.FP: "FPU", C.SSE: "XMM", C.YMM: "AVX", C.BNDREGS: "MPX", C.BNDCSR: "MPX",
                C.OPMASK: "AVX512F", C.ZMM_HI256: "AVX512F", C.HI16_ZMM: "AVX512F",
                C.PT: "INTEL_PT", C.PKRU: "PKU", C.PASID: "ENQCMD"},
    xfeature_names=_NAMES_515,
    compacted_via=("XSAVES",),
    fpu_cfg=False,
    std_size_order="number",
    apx_mpx_check=False,
    enqcmd_disabled=True,
    amd_erratum_1386=False,
    sigframe=True,
    size_limit_check="xstate",
    xsave_disabled_msg=False,
    consistency_fatal=False,
    consistency_sizes=False,
    xcomp_prctl=False,
    guest_perm="none",
    guest_alloc="user_default",
    gfpu_xfeatures="user_default",
    perm_store="requested",
    host_perm_adds_supervisor=False,
    uabi_init="user_default",
    kvm_supported_xcr0_extra=0,
    kvm_supported_xss=0,
    kvm_filter_xtilecfg=False,
    kvm_xss_in_cpuid=False,
)

# Every release that changes a number. Facts not named here carry over.
CHANGES: list[Change] = [
    Change((5, 15), "one xfeatures_mask_all, every task buffer is the max size; no AMX, no dynamic features; "
           "ENQCMD force-disabled so PASID is never enabled; compacted only with XSAVES",
           {}, "old xstate.c (torvalds/linux 01707b66); 781c64bfcb73 commit message"),
    Change((5, 16), "fpu_kernel_cfg/fpu_user_cfg with max/default; AMX (XTILE_CFG/DATA, 64-bit only) with XFD "
           "as the first dynamic feature; arch_prctl ARCH_REQ_XCOMP_PERM; paranoid size mismatch disables XSAVE",
           {"user_supported": M(C.XTILE_CFG, C.XTILE_DATA), "user_dynamic": M(C.XTILE_DATA),
            "cpuid_deps": {C.XTILE_CFG: "AMX_TILE", C.XTILE_DATA: "AMX_TILE"},
            "xfeature_names": {C.XTILE_CFG: "AMX Tile config", C.XTILE_DATA: "AMX Tile data"},
            "fpu_cfg": True, "consistency_fatal": True, "xcomp_prctl": True, "size_limit_check": "xstate"},
           "AMX series (Gleixner/Bae, Oct 2021)"),
    Change((5, 17), "KVM AMX: per-process guest_perm (a copy of perm), ARCH_REQ_XCOMP_GUEST_PERM, "
           "KVM_CAP_XSAVE2/KVM_GET_XSAVE2, XTILE in KVM_SUPPORTED_XCR0",
           {"guest_perm": "perm", "kvm_supported_xcr0_extra": M(C.XTILE_CFG, C.XTILE_DATA)},
           "'kvm: x86: Add support for getting/setting expanded xstate buffer'"),
    Change((5, 18), "ARCH_REQ_XCOMP_PERM stores the full user mask, not just the request (063452fd94d1); "
           "host permission adds supervisor states (781c64bfcb73); ENQCMD re-enabled, PASID possible",
           {"perm_store": "user_mask", "host_perm_adds_supervisor": True, "enqcmd_disabled": False},
           "063452fd94d1 (tip x86/urgent 2022-03-23, merged for 5.18-rc1), 781c64bfcb73, 7c1ef59145f1"),
    Change((5, 16, 20), "stable backport of 063452fd94d1: ARCH_REQ_XCOMP_PERM adds to the permission",
           {"perm_store": "user_mask"}, "'[PATCH 5.16 274/285]' in the 5.16.20-rc1 stable review, 2022-04-12 (rebased by Chang Bae)",
           branch=(5, 16)),
    Change((5, 17, 3), "stable backport of 063452fd94d1: ARCH_REQ_XCOMP_PERM and GUEST_PERM add to the "
           "permission", {"perm_store": "user_mask"},
           "the 5.17.3-rc1 review ran the same day as 5.16.20-rc1; 063452fd94d1 reached tip after 5.17 "
           "was released [5.17.3 inferred: the 5.17 patch mail itself not seen]", branch=(5, 17)),
    Change((5, 19), "XSAVEC alone selects the compacted format (X86_FEATURE_XCOMPACTED); guest uabi_size starts "
           "at sizeof(struct kvm_xsave) = 4096",
           {"compacted_via": ("XSAVEC", "XSAVES"), "uabi_init": "kvm_xsave"},
           "8ad7e8f69695 ('x86/fpu/xsave: Support XSAVEC in the kernel')"),
    Change((6, 0), "init_fpstate sized by the default features; the 4096-byte check is on init_fpstate.size",
           {"size_limit_check": "init_fpstate"}, "Chang Bae fixes, Aug 2022 [version inferred]"),
    Change((6, 2), "the paranoid size check names both sizes: 'XSAVE consistency problem: size %u != "
           "kernel_size %u' (was ', dumping leaves')", {"consistency_sizes": True},
           "48280042f2c6 ('x86/fpu/xstate: Fix XSTATE_WARN_ON() to emit relevant diagnostics'), "
           "upstream for 6.2 [version inferred from the stable dates]", numbers=False),
    Change((6, 0, 17), "stable backport of 48280042f2c6 (consistency message with sizes)",
           {"consistency_sizes": True}, "'[PATCH 6.0 023/177]' stable review, 2023-01-04", branch=(6, 0),
           numbers=False),
    Change((6, 1, 3), "stable backport of 48280042f2c6 (consistency message with sizes)",
           {"consistency_sizes": True}, "same 2023-01-04 stable cycle as 6.0.17 [point release inferred]",
           branch=(6, 1), numbers=False),
    Change((6, 3), "AMD erratum 1386: XSAVES cleared on family 0x17 (Zen 1/Zen 2)",
           {"amd_erratum_1386": True}, "b0563468eeac"),
    Change((6, 4), "KVM drops XTILE_CFG from supported XCR0 unless XTILE_DATA is permitted (kvm_get_filtered_xcr0)",
           {"kvm_filter_xtilecfg": True}, "55cd57b596e8 'KVM: x86: Filter out XTILE_CFG if XTILE_DATA isn't permitted', listed in "
           "'[GIT PULL] KVM changes for Linux 6.4' (2023-05-01)"),
    Change((6, 6), "user shadow stack: CET_USER becomes a supervisor xfeature (needs SHSTK); CET_KERNEL listed "
           "as unsupported; PKRU needs OSPKE instead of PKU",
           {"supervisor_supported": M(C.CET_USER), "supervisor_unsupported": M(C.CET_KERNEL),
            "cpuid_deps": {C.PKRU: "OSPKE", C.CET_USER: "SHSTK"},
            "xfeature_names": {C.CET_USER: "Control-flow User registers",
                               C.CET_KERNEL: "Control-flow Kernel registers (unused)"}},
           "shadow stack series; 'x86/fpu/xstate: Fix PKRU covert channel'"),
    Change((6, 15), "fpu_alloc_guest_fpstate() allocates fpu_kernel_cfg.default_size (was the user size)",
           {"guest_alloc": "kernel_default", "gfpu_xfeatures": "kernel_default"},
           "1937e18cc3cf ('x86/fpu: Fix guest FPU state buffer allocation size')"),
    # The reference model dates the 6.1 backport to 6.1.133; the stable review says otherwise: its
    # '[PATCH 6.1 006/204]' replies to '[PATCH 6.1 000/204] 6.1.134-rc1 review' (2025-04-08).
    Change((6, 1, 134), "stable backport of 1937e18cc3cf: guest fpstate sized by fpu_kernel_cfg.default_size",
           {"guest_alloc": "kernel_default"},
           "'[PATCH 6.1 006/204]' in the 6.1.134-rc1 stable review, 2025-04-08 (not 6.1.133)", branch=(6, 1)),
    Change((6, 6, 87), "stable backport of 1937e18cc3cf: guest fpstate sized by fpu_kernel_cfg.default_size",
           {"guest_alloc": "kernel_default"}, "'[PATCH 6.6 007/268]' in the 6.6.87-rc1 stable review, 2025-04-08",
           branch=(6, 6)),
    Change((6, 12, 23), "stable backports of 1937e18cc3cf (guest fpstate sized by fpu_kernel_cfg.default_size) and "
           "'x86/fpu/xstate: Fix inconsistencies in guest FPU xfeatures' (gfpu->xfeatures)",
           {"guest_alloc": "kernel_default", "gfpu_xfeatures": "kernel_default"},
           "both in the shortlog of '[PATCH 6.12 000/423] 6.12.23-rc1 review', 2025-04-08", branch=(6, 12)),
    Change((6, 16), "APX (component 19, needs APX); standard size from the component last in the buffer "
           "(xfeature_uncompact_order); APX with MPX disables XSAVE; permissions keep supervisor bits; "
           "'x86/fpu: XSAVE disabled' message",
           {"user_supported": M(C.APX), "cpuid_deps": {C.APX: "APX"},
            "xfeature_names": {C.APX: "APX registers"}, "std_size_order": "offset", "apx_mpx_check": True,
            "perm_store": "full", "host_perm_adds_supervisor": False, "xsave_disabled_msg": True},
           "'[GIT PULL] x86 core updates for v6.16'; d8414603b29f"),
    Change((6, 17), "guest-only supervisor features: CET_KERNEL enabled for KVM guests only "
           "(XFEATURE_MASK_GUEST_SUPERVISOR); guest_default_cfg sizes the guest fpstate and guest_perm",
           {"supervisor_supported": M(C.CET_KERNEL), "supervisor_unsupported": -M(C.CET_KERNEL),
            "guest_supervisor": M(C.CET_KERNEL), "cpuid_deps": {C.CET_KERNEL: "SHSTK"},
            "xfeature_names": {C.CET_KERNEL: "Control-flow Kernel registers (KVM only)"},
            "guest_perm": "guest_default", "guest_alloc": "guest_default", "gfpu_xfeatures": "guest_default"},
           "'[GIT PULL] x86/fpu updates for v6.17'; 8b05b3c98816"),
    Change((6, 18), "KVM CET virtualization: KVM_SUPPORTED_XSS = CET_USER|CET_KERNEL; guest CPUID(0xD,1).EBX "
           "includes the guest IA32_XSS",
           {"kvm_supported_xss": M(C.CET_USER, C.CET_KERNEL), "kvm_xss_in_cpuid": True},
           "tag kvm-x86-cet-6.18; the 0xD.1 EBX term 'xstate_required_size(xcr0 | ia32_xss, true)' is the same in "
           "every revision of 'KVM: x86: Refresh CPUID on write to guest MSR_IA32_XSS' seen (2020 to 2025) "
           "[merged commit itself not seen]"),
]

_MERGE_MASKS = {"user_supported", "supervisor_supported", "supervisor_unsupported"}


def _apply(model: KernelModel, ch: Change) -> KernelModel:
    upd = {}
    for k, v in ch.facts.items():
        old = getattr(model, k)
        if k in _MERGE_MASKS:
            upd[k] = old & ~(-v) if v < 0 else old | v  # a negative value removes bits
        elif isinstance(old, dict):
            upd[k] = {**old, **v}
        else:
            upd[k] = v
    return model._replace(**upd)


def mainline_versions(numbers_only: bool = False) -> list[tuple[int, int]]:
    """Mainline releases with a change (only those that move a number, if asked)."""
    return [c.version for c in CHANGES if c.branch is None and (c.numbers or not numbers_only)]


@functools.lru_cache(maxsize=None)
def model_for(version: tuple[int, ...]) -> KernelModel:
    """The model of kernel *version*: mainline changes up to it plus its branch's backports."""
    if version[:2] < BASE.version:
        raise KernelVersionError(
            f"kernel {'.'.join(map(str, version))} is older than the oldest model ({BASE.label}); "
            f"models cover {BASE.label} to {mainline_versions()[-1][0]}.{mainline_versions()[-1][1]}")
    model, applied = BASE, []
    for ch in CHANGES:
        if ch.branch is None and ch.version <= version[:2]:
            model = _apply(model, ch)
            applied.append(ch)
        elif ch.branch is not None and ch.branch == version[:2] and version >= ch.version:
            model = _apply(model, ch)
            applied.append(ch)
    base = max((c.version for c in applied if c.branch is None), default=BASE.version)
    backports = [c for c in applied if c.branch is not None]
    label = ".".join(map(str, version[:3] if backports or len(version) > 2 else version[:2]))
    changes = tuple(c.summary for c in applied if c.version == base or c.branch is not None)
    return model._replace(version=tuple(version), label=label, changes=changes,
                   notes=tuple(f"{c.version}: {c.evidence}" for c in applied if c.evidence))


_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, ...]:
    """'6.1', '6.1.134', 'v6.8-rc3', '5.15.0-91-generic', '6.6.30-200.fc40.x86_64' -> tuple."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise KernelVersionError(f"cannot read a kernel version from {text!r} (expected e.g. 6.1, 6.1.134, v6.8-rc3)")
    major, minor, patch = int(m.group(1)), int(m.group(2)), m.group(3)
    return (major, minor, int(patch)) if patch is not None else (major, minor)


def resolve_kernel(text: str | None) -> KernelModel:
    """A model for a version string; None means the newest model."""
    if text is None or text in ("", "latest", "newest"):
        return model_for(mainline_versions()[-1])
    return model_for(parse_version(text))


def all_models() -> list[KernelModel]:
    """One model per mainline release that changes a number, oldest first."""
    return [model_for(v) for v in mainline_versions(numbers_only=True)]


def newest() -> KernelModel:
    return model_for(mainline_versions()[-1])
