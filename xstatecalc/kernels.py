"""Linux kernel models, 4.15 to 7.4, as data.

Every mainline release that changed a fact, every LTS release and every release
after 6.18 is a :class:`Release` row with its evidence; stable backports are rows on
their branch, by point release. The model of any version is the sum of the rows at or
below it, and its label names the newest row that applied (``7.0.3`` -> model
``7.0``; ``6.1.150`` -> model ``6.1.134``). The logic that uses these facts is shared,
in :mod:`xstatecalc.fpu` and :mod:`xstatecalc.guest`.

Evidence keys: ``source`` (read in a release tree: Debian's linux-source 5.10.262,
6.1.192, 6.12.117, 7.2.13, 7.3.4; Ubuntu's 4.15.0, 4.18.0, 5.4.0, 5.15.0, 6.8.0,
6.14.0, 6.17.0, 7.0.0), ``changelog`` (a distribution changelog naming the stable
release that carried a commit), ``mail`` (a pull request or stable review), ``audit``
(../reference/kernel-audit.md, November 2026), ``inferred`` (not confirmed).
"""

from __future__ import annotations

import functools

from . import components as C
from .errors import KernelVersionError
from .records import record
from .versions import LATEST, KernelVersion, parse_version

M = C.mask_of


@record
class KernelModel:
    """The facts of one kernel that decide xstate masks and sizes, and where they come from."""

    version: tuple[int, ...]  # the upstream release modelled
    label: str  # the kernel as the user named it ("7.0.3", "5.15.0-91-generic", "6.1.y")
    model: str  # the newest release row that applied ("7.0", "6.1.134")
    # asm/fpu/xstate.h masks
    user_supported: int
    supervisor_supported: int
    supervisor_unsupported: int
    guest_supervisor: int  # XFEATURE_MASK_GUEST_SUPERVISOR (6.17+)
    user_dynamic: int  # XFEATURE_MASK_USER_DYNAMIC (5.16+)
    independent: int  # LBR: in IA32_XSS, never in task buffers (5.9+)
    xss_in_mask: bool  # the supported mask includes CPUID(0xD,1).ECX/EDX (5.8+)
    xss_programmed: bool  # IA32_XSS written at boot (5.8+); before, it keeps its reset value 0
    # xsave_cpuid_features[]: component -> the X86_FEATURE it needs (checked with boot_cpu_has())
    cpuid_deps: dict
    # cpuid-deps.c: flag -> flags it depends on (setup_clear_cpu_cap() clears the dependants too)
    flag_deps: dict
    xfeature_names: dict  # printed names that differ from "unknown xstate feature"
    compacted_via: tuple[str, ...]  # flags that make Linux use the compacted format
    fpu_cfg: bool  # fpu_kernel_cfg/fpu_user_cfg with max/default (5.16+)
    std_size_order: str  # "number" (fls64) or "offset" (xfeature_uncompact_order, 6.16+)
    apx_mpx_check: bool
    # AMD erratum 1386, XSAVES cleared: "" (no), "family-0x17" (every family 0x17 part, in init_spectral_chicken()),
    # "zen1-zen2" (fix_erratum_1386() from the Zen 1 and Zen 2 init functions), "zen2" (6.1.173-style backports:
    # the clear stays in init_spectral_chicken(), which only the Zen 2 init calls)
    amd_erratum_1386: str
    erratum_1386_microcode: bool  # ... only on microcode without the fix (6.10+)
    fpu_init_after_identify: bool  # fpu__init_system() after init_amd() and friends (6.5+, GDS backports)
    sigframe: bool  # AT_MINSIGSTKSZ, "signal: max sigframe size", sigaltstack_size_valid() (5.14+)
    size_limit_check: str  # "xstate" (before the paranoid check) or "init_fpstate" (after it, 6.1+)
    xsave_disabled_msg: bool  # "x86/fpu: XSAVE disabled" (6.16+)
    consistency_fatal: bool  # paranoid size mismatch disables XSAVE (5.16+)
    consistency_sizes: bool  # "XSAVE consistency problem: size %u != kernel_size %u" (48280042f2c6)
    # how clearcpuid= is read: "first-number" (4.15-5.9: one get_option()), "numbers" (5.10-5.18: a list of
    # numbers, the first non-number ends it), "names" (5.19+: numbers or x86_cap_flags[] names)
    clearcpuid_parse: str
    nousershstk: bool  # the 'nousershstk' boot parameter exists (6.6+)
    # arch_prctl / KVM facts
    xcomp_prctl: bool  # ARCH_GET_XCOMP_SUPP & co (5.16+)
    guest_perm: str  # "none", "perm" (a copy of perm, 5.17-6.16), "guest_default" (6.17+)
    guest_alloc: str  # fpu_alloc_guest_fpstate size: "user_default" | "kernel_default" | "guest_default"
    gfpu_xfeatures: str  # gfpu->xfeatures at vCPU creation, same vocabulary
    perm_store: str  # what ARCH_REQ_XCOMP_PERM stores: "requested" | "user_mask" | "full"
    host_perm_adds_supervisor: bool  # host request adds xfeatures_mask_supervisor() (5.18-6.15)
    uabi_init: str  # guest uabi_size at creation: "user_default" or "kvm_xsave" (4096)
    kvm_supported_xcr0_extra: int  # XTILE in KVM_SUPPORTED_XCR0 (5.17+)
    kvm_supported_xss: int
    kvm_filter_xtilecfg: bool  # kvm_get_filtered_xcr0() drops XTILE_CFG without XTILE_DATA (6.4+)
    kvm_xss_in_cpuid: bool  # guest CPUID(0xD,1).EBX includes guest IA32_XSS (6.18)
    kvm_xsave_aligned: bool  # KVM's xstate_required_size() honours 64-byte alignment (5.17+)
    # CPU flags KVM_GET_SUPPORTED_CPUID can pass to a guest when the host has them (kvm_set_cpu_caps()); the
    # vendor rules (SVM: no MPX, no IBT; PKU only with the host's OSPKE) are in xstatecalc.vcpu
    kvm_guest_flags: frozenset
    kvm_svm_xsaves: bool  # SVM passes XSAVES (svm_xsaves_supported() follows the host, 5.5+)
    # KVM_GET_XSAVE{2}: which XSTATE_BV bits a blob can carry: "guest" (in use & (guest CPUID 0xD | FP | SSE)),
    # "hostleak" (in use & the host's user default features: PKRU leaks for guests without PKU, 5.16),
    # "guest-nofpsse" (in use & guest CPUID 0xD: nothing at all for a guest without leaf 0xD, 5.17-5.19.11)
    kvm_get_xsave: str
    # KVM_SET_XSAVE: what it accepts, else -EINVAL: "host-lax" (the host's supported XCR0; XCOMP_BV and reserved
    # header bytes ignored, <= 5.15), "host" (supported XCR0 & the host's user default features, 5.16 and
    # 8647c52e9504), "guest-nofpsse" (the guest's CPUID 0xD only), "guest" (guest CPUID 0xD | FP | SSE)
    kvm_set_xsave: str
    # core dumps
    core_layout_note: bool  # NT_X86_XSAVE_LAYOUT written (6.12+)
    core_note_empty_ok: bool  # an empty layout note no longer truncates the dump (6.19+)
    avx_xstate_check: bool  # AVX/AVX-512 flags cleared when their xfeatures are missing (7.4, queued)
    released: bool = True
    changes: tuple[str, ...] = ()  # what changed in the row that gave the model its label
    notes: tuple[str, ...] = ()  # the evidence of every row applied
    warnings: tuple[str, ...] = ()  # for stderr: how far the model can be trusted for this kernel
    distro: str = ""  # how a distribution string was read

    def facts(self) -> dict:
        """The model's facts as plain data (masks in hex), for JSON output."""
        out = {}
        for name in self._fields:
            if name in ("version", "label", "model", "changes", "notes", "xfeature_names", "warnings", "distro",
                        "released"):
                continue
            v = getattr(self, name)
            if name == "cpuid_deps":
                v = {C.key(n): flag for n, flag in sorted(v.items())}
            elif name == "flag_deps":
                v = {flag.lower(): sorted(p.lower() for p in parents) for flag, parents in sorted(v.items())}
            elif isinstance(v, int) and not isinstance(v, bool):
                v = f"{v:#x}"
            elif isinstance(v, (frozenset, set)):
                v = sorted(f.lower() for f in v)
            elif isinstance(v, tuple):
                v = list(v)
            out[name] = v
        return out

    @property
    def compacted_flag_text(self) -> str:
        return " or ".join(self.compacted_via)


@record
class Release:
    """One row of the kernel history: a mainline release, or a stable backport on a branch."""

    version: tuple[int, ...]
    summary: str
    facts: dict
    evidence: str
    status: str = "source"  # source | changelog | mail | audit | inferred
    branch: tuple[int, int] | None = None  # set for a stable backport: applies on this branch only
    numbers: bool = True  # False: changes wording, order or nothing that a size or mask shows
    released: bool = True
    lts: bool = False

    @property
    def label(self) -> str:
        return ".".join(map(str, self.version))


_NAMES_OLD = {
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
}

# cpuid-deps.c of 4.15 (Ubuntu 4.15.0-213), restricted to the flags the model reads: flag -> its prerequisites.
_FLAG_DEPS_415 = {
    "XSAVEOPT": ("XSAVE",), "XSAVEC": ("XSAVE",), "XSAVES": ("XSAVE",), "AVX": ("XSAVE",), "PKU": ("XSAVE",),
    "MPX": ("XSAVE",), "XGETBV1": ("XSAVE",), "XMM": ("FXSR",), "AVX512F": ("AVX",),
}

# KVM's CPUID caps for the flags that decide xstate, as of 4.15 (arch/x86/kvm/cpuid.c of Ubuntu's 4.15.0).
_KVM_FLAGS_415 = frozenset({"XSAVE", "AVX", "AVX512F", "PKU", "MPX", "XSAVEOPT", "XSAVEC", "XGETBV1", "XSAVES"})

BASE = KernelModel(
    version=(4, 15),
    label="4.15",
    model="4.15",
    user_supported=M(C.FP, C.SSE, C.YMM, C.OPMASK, C.ZMM_HI256, C.HI16_ZMM, C.PKRU, C.BNDREGS, C.BNDCSR),
    supervisor_supported=0,
    supervisor_unsupported=M(C.PT),
    guest_supervisor=0,
    user_dynamic=0,
    independent=0,
    xss_in_mask=False,
    xss_programmed=False,
    cpuid_deps={C.FP: "FPU", C.SSE: "XMM", C.YMM: "AVX", C.BNDREGS: "MPX", C.BNDCSR: "MPX",
                C.OPMASK: "AVX512F", C.ZMM_HI256: "AVX512F", C.HI16_ZMM: "AVX512F",
                C.PT: "INTEL_PT", C.PKRU: "PKU"},
    flag_deps=_FLAG_DEPS_415,
    xfeature_names=_NAMES_OLD,
    compacted_via=("XSAVES",),
    fpu_cfg=False,
    std_size_order="number",
    apx_mpx_check=False,
    amd_erratum_1386="",
    erratum_1386_microcode=False,
    fpu_init_after_identify=False,
    sigframe=False,
    size_limit_check="xstate",
    xsave_disabled_msg=False,
    consistency_fatal=False,
    consistency_sizes=False,
    clearcpuid_parse="first-number",
    nousershstk=False,
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
    kvm_guest_flags=_KVM_FLAGS_415,
    kvm_svm_xsaves=False,
    kvm_get_xsave="guest",
    kvm_set_xsave="host-lax",
    kvm_xsave_aligned=False,
    core_layout_note=False,
    core_note_empty_ok=False,
    avx_xstate_check=False,
)

_GDS_STABLE = "the 2023-08-08 GDS stable releases (5.15.125 and 5.4.252 in Ubuntu's changelogs)"
_ERRATUM_SUMMARY = "stable backport of the AMD erratum 1386 workaround (XSAVES cleared on family 0x17)"

RELEASES: list[Release] = [
    # ---------------------------------------------------------------- 4.15 .. 5.15: one xfeatures mask
    Release((4, 15), "oldest model: one xfeatures mask from CPUID(0xD,0), filtered with boot_cpu_has() against "
            "xsave_cpuid_features[]; no supervisor components; compacted format, and the size from "
            "CPUID(0xD,1).EBX, only with XSAVES; a size mismatch only warns; every task buffer is the max size",
            {}, "Ubuntu linux-source-4.15.0 4.15.0-213.224 (4.15.18): fpu/xstate.c, fpu/init.c, cpuid-deps.c; "
            "4.4 (Ubuntu 4.4.0-210) has neither the xsave_cpuid_features[] filter nor cpuid-deps.c, so older "
            "kernels are not modelled"),
    Release((4, 19), "LTS; no change that moves a number", {},
            "Ubuntu's 4.18.20 and 5.4.291 trees agree with 4.15 on every xstate path [4.19 itself inferred]",
            status="inferred", numbers=False, lts=True),
    Release((5, 4), "LTS; cpuid-deps.c adds FXSR -> FPU and XSAVE -> FXSR; no number moves",
            {"flag_deps": {"FXSR": ("FPU",), "XSAVE": ("FXSR",)}},
            "Ubuntu linux-source-5.4.0 5.4.0-216.236 (5.4.291); absent in Ubuntu's 4.18.20", numbers=False, lts=True),
    Release((5, 5), "KVM on AMD passes XSAVES to guests (svm_xsaves_supported() follows the host's XSAVES)",
            {"kvm_svm_xsaves": True}, "52297436199d 'kvm: svm: Update svm_xsaves_supported' (Aaron Lewis, series "
            "'Add support for XSAVES on AMD and unify it with Intel', merged for 5.5) [release inferred from the "
            "series]; svm.c of 6.12 never clears XSAVES", status="inferred", numbers=False),
    Release((5, 8), "supervisor xstate framework: the supported mask includes CPUID(0xD,1).ECX and IA32_XSS is "
            "programmed, but no supervisor component is supported yet", {"xss_in_mask": True, "xss_programmed": True},
            "'[GIT PULL] x86/fpu' 2020-06-01 for 5.8 (XSAVES supervisor states); 5.10.262 source", status="mail",
            numbers=False),
    Release((5, 9), "arch LBR: an independent supervisor component, in IA32_XSS but never in task buffers",
            {"independent": M(C.LBR)}, "reference model §0 [version inferred]; XFEATURE_MASK_DYNAMIC in 5.10.262",
            status="inferred", numbers=False),
    Release((5, 10), "LTS; PASID (component 10) becomes a supported supervisor component when boot_cpu_has(ENQCMD); "
            "clearcpuid= takes a list of bit numbers (before: only the first)",
            {"supervisor_supported": M(C.PASID), "cpuid_deps": {C.PASID: "ENQCMD"},
             "xfeature_names": {C.PASID: "PASID state"}, "flag_deps": {"ENQCMD": ("XSAVES",)},
             "clearcpuid_parse": "numbers"},
            "Debian linux-source-5.10 5.10.262: xsave_cpuid_features[10] = X86_FEATURE_ENQCMD, "
            "XFEATURE_MASK_SUPERVISOR_SUPPORTED = PASID; 0a4bb5e5507a 'x86/fpu: Allow multiple bits in clearcpuid=' "
            "(5.10-rc1; cpu_parse_early_param() in the 5.10.13 tree)", lts=True),
    Release((5, 14), "AT_MINSIGSTKSZ, 'signal: max sigframe size' and the optional sigaltstack size check "
            "(strict_sas_size)", {"sigframe": True},
            "'x86/elf: Support a new ELF aux vector AT_MINSIGSTKSZ' series (Chang Bae), reference model §0",
            status="mail"),
    Release((5, 15), "LTS; no change that moves a number (KVM's compacted size still ignores 64-byte alignment)",
            {}, "kernel-audit A5: 5.15.0 and 5.15.16 read", status="audit", numbers=False, lts=True),
    # ---------------------------------------------------------------- 5.16 .. : fpu_kernel_cfg / fpu_user_cfg
    Release((5, 16), "fpu_kernel_cfg/fpu_user_cfg with max/default; AMX (XTILE_CFG/DATA, 64-bit only) with XFD "
            "as the first dynamic feature; arch_prctl ARCH_REQ_XCOMP_PERM; the 4096-byte check on the default size "
            "runs before the paranoid size check, which now disables XSAVE",
            {"user_supported": M(C.XTILE_CFG, C.XTILE_DATA), "user_dynamic": M(C.XTILE_DATA),
             "cpuid_deps": {C.XTILE_CFG: "AMX_TILE", C.XTILE_DATA: "AMX_TILE"},
             "xfeature_names": {C.XTILE_CFG: "AMX Tile config", C.XTILE_DATA: "AMX Tile data"},
             "flag_deps": {"XFD": ("XSAVES", "XGETBV1"), "AMX_TILE": ("XFD",)},
             "fpu_cfg": True, "consistency_fatal": True, "xcomp_prctl": True,
             "kvm_get_xsave": "hostleak", "kvm_set_xsave": "host"},
            "AMX series (Gleixner/Bae, Oct 2021); the check order as in Ubuntu's 5.15.0-204 backport of this code "
            "and kernel-audit A9 (6.0.1 read)"),
    Release((5, 17), "KVM AMX: per-process guest_perm (a copy of perm), ARCH_REQ_XCOMP_GUEST_PERM, "
            "KVM_CAP_XSAVE2/KVM_GET_XSAVE2, XTILE in KVM_SUPPORTED_XCR0; KVM's compacted size honours alignment",
            {"guest_perm": "perm", "kvm_supported_xcr0_extra": M(C.XTILE_CFG, C.XTILE_DATA), "kvm_xsave_aligned": True,
             "kvm_guest_flags": _KVM_FLAGS_415 | {"AMX_TILE", "XFD"},
             "kvm_get_xsave": "guest-nofpsse", "kvm_set_xsave": "guest-nofpsse"},
            "'kvm: x86: Add support for getting/setting expanded xstate buffer'; 'kvm: x86: Fix xstate_required_size() "
            "to follow XSTATE alignment rule' (kernel-audit A5: 5.17-rc5 has ALIGN); ad856280ddea 'x86/kvm/fpu: Limit "
            "guest user_xfeatures to supported bits of XCR0' (5.17-rc6; 5.19 cpuid.c:301 user_xfeatures = "
            "guest_supported_xcr0): KVM_GET/SET_XSAVE follow the guest's CPUID, without FP/SSE", status="mail"),
    Release((5, 18), "ARCH_REQ_XCOMP_PERM stores the full user mask, not just the request (063452fd94d1); "
            "host permission adds supervisor states (781c64bfcb73)",
            {"perm_store": "user_mask", "host_perm_adds_supervisor": True},
            "063452fd94d1 (tip x86/urgent 2022-03-23, merged for 5.18-rc1), 781c64bfcb73", status="mail"),
    Release((5, 19), "XSAVEC alone selects the compacted format (X86_FEATURE_XCOMPACTED); guest uabi_size starts "
            "at sizeof(struct kvm_xsave) = 4096; clearcpuid= takes flag names",
            {"compacted_via": ("XSAVEC", "XSAVES"), "uabi_init": "kvm_xsave", "clearcpuid_parse": "names"},
            "8ad7e8f69695 ('x86/fpu/xsave: Support XSAVEC in the kernel'); d187ba531230; 1625c833db93 'x86/cpu: Allow "
            "feature bit names from /proc/cpuinfo in clearcpuid=' (6.1.176 common.c cpu_parse_early_param())",
            status="mail"),
    Release((6, 0), "KVM_GET/SET_XSAVE always allow legacy FP/SSE (a1020a25e697, with ee519b3a2ae3): a guest "
            "without XSAVE migrates its x87/SSE state again", {"kvm_get_xsave": "guest", "kvm_set_xsave": "guest"},
            "a1020a25e697 'KVM: x86: Always enable legacy FP/SSE in allowed user XFEATURES' (bz 2079311); 6.0.1 "
            "cpuid.c:337 user_xfeatures = guest_supported_xcr0 | XFEATURE_MASK_FPSSE", status="source",
            numbers=False),
    Release((6, 1), "LTS; the 4096-byte check moves to init_fpstate.size after the paranoid size check: "
            "'init_fpstate buffer too small (%zu < %d), disabling XSAVE'",
            {"size_limit_check": "init_fpstate"},
            "kernel-audit A7 (6.0.1 old text, 6.1-rc7 new); Debian linux-source-6.1 6.1.192", status="source",
            numbers=False, lts=True),
    Release((6, 2), "the paranoid size check names both sizes: 'XSAVE consistency problem: size %u != "
            "kernel_size %u' (was ', dumping leaves')", {"consistency_sizes": True},
            "48280042f2c6 ('x86/fpu/xstate: Fix XSTATE_WARN_ON() to emit relevant diagnostics')", status="mail",
            numbers=False),
    Release((6, 3), "AMD erratum 1386: XSAVES cleared on family 0x17 (Zen 1/Zen 2); the FPU is already set up "
            "when init_amd() runs, so the boot lines still see XSAVES", {"amd_erratum_1386": "family-0x17"},
            "b0563468eeac", status="mail", numbers=False),
    Release((6, 4), "KVM drops XTILE_CFG from supported XCR0 unless XTILE_DATA is permitted (kvm_get_filtered_xcr0)",
            {"kvm_filter_xtilecfg": True}, "55cd57b596e8 'KVM: x86: Filter out XTILE_CFG if XTILE_DATA isn't "
            "permitted', listed in '[GIT PULL] KVM changes for Linux 6.4' (2023-05-01)", status="mail"),
    Release((6, 5), "the FPU is set up after CPU identification (arch_cpu_finalize_init), so quirks such as "
            "erratum 1386 act before fpu__init_system_xstate()", {"fpu_init_after_identify": True},
            "'x86/fpu: Move FPU initialization into arch_cpu_finalize_init()' (tglx, June 2023), backported in "
            + _GDS_STABLE, status="changelog", numbers=False),
    Release((6, 6), "LTS; user shadow stack: CET_USER becomes a supervisor xfeature (needs SHSTK); CET_KERNEL "
            "listed as unsupported; PKRU needs OSPKE instead of PKU; 'nousershstk'; KVM_SET_XSAVE accepts any "
            "feature the host supports again, KVM_GET_XSAVE alone follows the guest's CPUID (8647c52e9504)",
            {"supervisor_supported": M(C.CET_USER), "supervisor_unsupported": M(C.CET_KERNEL), "kvm_set_xsave": "host",
             "cpuid_deps": {C.PKRU: "OSPKE", C.CET_USER: "SHSTK"},
             "flag_deps": {"SHSTK": ("XSAVES",)}, "nousershstk": True,
             "xfeature_names": {C.CET_USER: "Control-flow User registers",
                                C.CET_KERNEL: "Control-flow Kernel registers (unused)"}},
            "shadow stack series; 18032b47adf1 'x86/fpu/xstate: Fix PKRU covert channel' (kernel-audit A2: 6.5.0 "
            "PKU, 6.6.9 OSPKE); {SHSTK, XSAVES} in cpuid-deps.c of Ubuntu 6.8.0 and Debian 6.12; 8647c52e9504 "
            "'KVM: x86: Constrain guest-supported xfeatures only at KVM_GET_XSAVE{2}' with 18164f66e6c5 (not in "
            "6.5.0; 6.18.15 x86.c get_xsave2)", lts=True),
    Release((6, 8), "AMD erratum 1386 carved out: fix_erratum_1386() clears XSAVES on Zen 1 and Zen 2 by model "
            "(X86_FEATURE_ZEN1/ZEN2), no longer on every family 0x17 part; never on Hygon",
            {"amd_erratum_1386": "zen1-zen2"},
            "'[GIT PULL] x86/cpu for v6.8' (2024-01-07): 30fa92832f40 'Add ZenX generations flags', a7c32a1ae9ee "
            "'Carve out the erratum 1386 fix', cfbf4f992bfc; the result read in 6.12.107 amd.c (kernel-facts research)",
            status="mail", numbers=False),
    Release((6, 10), "the erratum 1386 workaround skips microcode that has the fix", {"erratum_1386_microcode": True},
            "'x86/CPU/AMD: Improve the erratum 1386 workaround'; fix_erratum_1386() in Ubuntu 6.8.0-151 and "
            "Debian 7.3.4 [version from the reference model]", status="inferred", numbers=False),
    Release((6, 12), "LTS; core dumps carry an NT_X86_XSAVE_LAYOUT note (type 0x205, owner 'LINUX')",
            {"core_layout_note": True},
            "ba386777a30b 'x86/elf: Add a new FPU buffer layout info to x86 core files'; "
            "dump_xsave_layout_desc() in Debian 6.12.117", numbers=False, lts=True),
    Release((6, 15), "fpu_alloc_guest_fpstate() allocates fpu_kernel_cfg.default_size (was the user size)",
            {"guest_alloc": "kernel_default", "gfpu_xfeatures": "kernel_default"},
            "1937e18cc3cf ('x86/fpu: Fix guest FPU state buffer allocation size')", status="mail"),
    Release((6, 16), "APX (component 19, needs APX); standard size from the component last in the buffer "
            "(xfeature_uncompact_order); APX with MPX disables XSAVE; permissions keep supervisor bits; "
            "'x86/fpu: XSAVE disabled' message",
            {"user_supported": M(C.APX), "cpuid_deps": {C.APX: "APX"}, "flag_deps": {"APX": ("XSAVE",)},
             "xfeature_names": {C.APX: "APX registers"}, "std_size_order": "offset", "apx_mpx_check": True,
             "perm_store": "full", "host_perm_adds_supervisor": False, "xsave_disabled_msg": True},
            "'[GIT PULL] x86 core updates for v6.16'; d8414603b29f", status="mail"),
    Release((6, 17), "guest-only supervisor features: CET_KERNEL enabled for KVM guests only "
            "(XFEATURE_MASK_GUEST_SUPERVISOR); guest_default_cfg sizes the guest fpstate and guest_perm",
            {"supervisor_supported": M(C.CET_KERNEL), "supervisor_unsupported": -M(C.CET_KERNEL),
             "guest_supervisor": M(C.CET_KERNEL), "cpuid_deps": {C.CET_KERNEL: "SHSTK"},
             "xfeature_names": {C.CET_KERNEL: "Control-flow Kernel registers (KVM only)"},
             "guest_perm": "guest_default", "guest_alloc": "guest_default", "gfpu_xfeatures": "guest_default"},
            "'[GIT PULL] x86/fpu updates for v6.17'; 8b05b3c98816; Ubuntu linux-source-6.17.0 6.17.0-41.41"),
    Release((6, 18), "LTS; KVM CET virtualization: KVM_SUPPORTED_XSS = CET_USER|CET_KERNEL; guest CPUID(0xD,1).EBX "
            "includes the guest IA32_XSS",
            {"kvm_supported_xss": M(C.CET_USER, C.CET_KERNEL), "kvm_xss_in_cpuid": True,
             "kvm_guest_flags": _KVM_FLAGS_415 | {"AMX_TILE", "XFD", "SHSTK", "IBT"}},
            "tag kvm-x86-cet-6.18 (kernel-audit: 6.18.2 read); the merged term xstate_required_size(vcpu->arch.xcr0 | "
            "vcpu->arch.ia32_xss, true) read in Ubuntu 7.0.0-44 and Debian 7.3.4", lts=True),
    Release((6, 19), "an empty NT_X86_XSAVE_LAYOUT note (no extended xfeatures) no longer truncates the core dump",
            {"core_note_empty_ok": True},
            "c8161e5304ab 'x86/fpu: Fix FPU state core dump truncation on CPUs with no extended xfeatures' (backported: "
            "6.12.64 in Debian's changelog; Ubuntu 6.17.0-22)", status="audit", numbers=False),
    Release((7, 0), "no x86/fpu change (KVM advertises MOVRS, AVX10.2 and the AMX CPUID sub-leaf 0x1E.1: CPUID bits "
            "only); Ubuntu 26.04 LTS", {},
            "Ubuntu linux-source-7.0.0 7.0.0-44.44 (7.0.14): fpu/xstate.c, core.c and kvm/cpuid.c differ from Ubuntu "
            "6.17.0-41 only in export macros; kernel-audit (7.0 merge window)", numbers=False),
    Release((7, 1), "no x86/fpu change", {}, "7.0.14 (Ubuntu) and 7.2.13 (Debian) agree on every xstate path; "
            "kernel-audit: no x86/fpu pull in the 7.1 merge list [7.1 itself not read]", status="inferred",
            numbers=False),
    Release((7, 2), "no change that moves a number (math emulation removed: fpstate_init_soft() and "
            "CONFIG_MATH_EMULATION go)", {}, "Debian linux-source-7.2 7.2.13 read; 7.1.8 -> 7.2.13 diff of fpu/ "
            "(source-audit-2 item 11); 7.2.8 against 6.18.15 (kernel-facts research)", numbers=False),
    Release((7, 3), "no x86/fpu change", {}, "Debian linux-source-7.3 7.3.4 read (fpu/ identical to 7.2.13 but for a "
            "comment)", numbers=False),
    Release((7, 4), "not yet released: the AVX and AVX-512 flags are cleared when the CPU reports them without their "
            "xfeatures ('x86/fpu: Disabling AVX support due to missing xstate features')",
            {"avx_xstate_check": True},
            "518aa9948e4f 'x86/fpu: Check for missing AVX and AVX-512 xstate bits', queued in tip x86/fpu 2026-09 "
            "(kernel-audit); not in a release; message wording unverified", status="audit", released=False),
    # ---------------------------------------------------------------- stable backports, by point release
    Release((4, 19, 290), "stable backport: the FPU is set up after CPU identification", {"fpu_init_after_identify": True},
            "[point release inferred from " + _GDS_STABLE + "]", status="inferred", branch=(4, 19), numbers=False),
    Release((4, 19, 307), _ERRATUM_SUMMARY + ", as fixed up by 'x86/CPU/AMD: Fix disabling XSAVES on AMD family 0x17 "
            "due to erratum'", {"amd_erratum_1386": "family-0x17"},
            "the fix-up is in the '[PATCH 4.19 000/202] 4.19.307-rc1 review' shortlog (2024-02-21); what the earlier "
            "4.19.y backport did is not modelled", status="mail", branch=(4, 19)),
    Release((5, 4, 252), "stable backport: the FPU is set up after CPU identification", {"fpu_init_after_identify": True},
            "Ubuntu 5.4.0 changelog, 'v5.4.252 upstream stable release'", status="changelog", branch=(5, 4),
            numbers=False),
    Release((5, 4, 269), _ERRATUM_SUMMARY + ", as fixed up by 'x86/CPU/AMD: Fix disabling XSAVES on AMD family 0x17 "
            "due to erratum'", {"amd_erratum_1386": "family-0x17"},
            "Ubuntu 5.4.0 changelog: the backport in v5.4.237, the fix-up in v5.4.269; what 5.4.237-5.4.268 did is not "
            "modelled", status="changelog", branch=(5, 4)),
    Release((5, 10, 43), "stable backport: ENQCMD force-disabled for cpu_feature_enabled(); no xstate effect, because "
            "xsave_cpuid_features[] is checked with boot_cpu_has()", {},
            "Debian 5.10 changelog ('Force disable X86_FEATURE_ENQCMD and remove update_pasid()', 5.10.43); "
            "kernel-audit A1", status="changelog", branch=(5, 10), numbers=False),
    Release((5, 10, 175), _ERRATUM_SUMMARY + "; the FPU is still set up before init_amd() runs",
            {"amd_erratum_1386": "family-0x17"}, "Debian 5.10 changelog ('Disable XSAVES on AMD family 0x17', 5.10.175)",
            status="changelog", branch=(5, 10), numbers=False),
    Release((5, 10, 189), "stable backport: the FPU is set up after CPU identification, so erratum 1386 now selects "
            "the standard format on Zen 1/Zen 2", {"fpu_init_after_identify": True},
            "Debian 5.10.179-4 security update carries 'x86/cpu: Switch to arch_cpu_finalize_init()'; [point release "
            "inferred from " + _GDS_STABLE + "]", status="inferred", branch=(5, 10)),
    Release((5, 10, 256), "stable backport of the ZenX generation flags (as 6.1.173): the erratum 1386 clear is left "
            "to the Zen 2 init, Zen 1 keeps XSAVES", {"amd_erratum_1386": "zen2"},
            "stable push log linux-5.10.y 'Linux 5.10.256' (2026-05-15); [effect inferred from 6.1.176]",
            status="inferred", branch=(5, 10), numbers=False),
    Release((5, 15, 103), _ERRATUM_SUMMARY + "; the FPU is still set up before init_amd() runs",
            {"amd_erratum_1386": "family-0x17"}, "Ubuntu 5.15.0 changelog, 'v5.15.103 upstream stable release'",
            status="changelog", branch=(5, 15), numbers=False),
    Release((5, 15, 125), "stable backport: the FPU is set up after CPU identification, so erratum 1386 now selects "
            "the standard format on Zen 1/Zen 2", {"fpu_init_after_identify": True},
            "Ubuntu 5.15.0 changelog, 'v5.15.125 upstream stable release'", status="changelog", branch=(5, 15)),
    Release((5, 15, 207), "stable backport of the ZenX generation flags (as 6.1.173): the erratum 1386 clear is left "
            "to the Zen 2 init, Zen 1 keeps XSAVES", {"amd_erratum_1386": "zen2"},
            "'Linux 5.15.207' announcement (2026-05-15): the four ZenX commits, amd.c +88/-18; [where 5.15.103 put the "
            "clear, and so the effect, inferred from 6.1.176]", status="inferred", branch=(5, 15), numbers=False),
    Release((5, 15, 174), "stable backport: KVM's compacted size honours 64-byte alignment", {"kvm_xsave_aligned": True},
            "Ubuntu 5.15.0 changelog, 'v5.15.174 upstream stable release': 'kvm: x86: Fix xstate_required_size() to "
            "follow XSTATE alignment rule'", status="changelog", branch=(5, 15)),
    Release((5, 16, 20), "stable backport of 063452fd94d1: ARCH_REQ_XCOMP_PERM adds to the permission",
            {"perm_store": "user_mask"},
            "'[PATCH 5.16 274/285]' in the 5.16.20-rc1 stable review, 2022-04-12 (rebased by Chang Bae)",
            status="mail", branch=(5, 16)),
    Release((5, 17, 2), "stable backport of 063452fd94d1: ARCH_REQ_XCOMP_PERM and GUEST_PERM add to the permission",
            {"perm_store": "user_mask"},
            "Ubuntu 5.17.0-7.7 changelog, 'v5.17.2 upstream stable release': 'x86/fpu/xstate: Fix the "
            "ARCH_REQ_XCOMP_PERM implementation' (not 5.17.3 as inferred before)", status="changelog", branch=(5, 17)),
    Release((5, 17, 13), "stable backport of d187ba531230: guest uabi_size starts at sizeof(struct kvm_xsave) = 4096",
            {"uabi_init": "kvm_xsave"}, "'5.17.13-rc1 review', 2022-06-03 (kernel-audit A4)", status="audit",
            branch=(5, 17)),
    Release((5, 18, 2), "stable backport of d187ba531230: guest uabi_size starts at sizeof(struct kvm_xsave) = 4096",
            {"uabi_init": "kvm_xsave"}, "Debian changelog, 5.18.2: 'KVM: Set the base guest FPU uABI size to "
            "sizeof(struct kvm_xsave)' (Closes: #1011168)", status="changelog", branch=(5, 18)),
    Release((5, 19, 12), "stable backport of a1020a25e697: KVM_GET/SET_XSAVE allow legacy FP/SSE again",
            {"kvm_get_xsave": "guest", "kvm_set_xsave": "guest"},
            "'[PATCH 5.19 064/207]' and '065/207' in the 5.19 stable review of 2022-09-26 (ee519b3a2ae3, "
            "a1020a25e697) [the point release after that review inferred]", status="mail", branch=(5, 19),
            numbers=False),
    Release((6, 0, 7), "stable backport of the init_fpstate fixes: the 4096-byte check on init_fpstate.size, after "
            "the paranoid size check", {"size_limit_check": "init_fpstate"},
            "Debian changelog, 6.0.7: 'Fix the init_fpstate size check with the actual size', 'Exclude dynamic "
            "states from init_fpstate'", status="changelog", branch=(6, 0), numbers=False),
    Release((6, 0, 17), "stable backport of 48280042f2c6 (consistency message with sizes)",
            {"consistency_sizes": True}, "'[PATCH 6.0 023/177]' stable review, 2023-01-04", status="mail",
            branch=(6, 0), numbers=False),
    Release((6, 1, 4), "stable backport of 48280042f2c6 (consistency message with sizes)", {"consistency_sizes": True},
            "Debian 6.1 changelog, 6.1.4 (kernel-audit A8: not 6.1.3)", status="changelog", branch=(6, 1),
            numbers=False),
    Release((6, 1, 20), _ERRATUM_SUMMARY, {"amd_erratum_1386": "family-0x17"},
            "Debian 6.1 changelog, 6.1.20", status="changelog", branch=(6, 1), numbers=False),
    Release((6, 1, 173), "stable backport of the ZenX generation flags without the erratum 1386 carve-out: the "
            "XSAVES clear stays in init_spectral_chicken(), which only the Zen 2 init calls, so Zen 1 keeps XSAVES",
            {"amd_erratum_1386": "zen2"},
            "6.1.176 amd.c (XSAVES clear in init_spectral_chicken(), called from init_amd_zen2() only); Debian 6.1 "
            "changelog, 6.1.174-1 under ChangeLog-6.1.173 ('Add ZenX generations flags', 'Call the spectral chicken "
            "in the Zen2 init function')", status="source", branch=(6, 1), numbers=False),
    Release((6, 1, 44), "stable backport: the FPU is set up after CPU identification", {"fpu_init_after_identify": True},
            "Debian 6.1.38-3 security update carries 'x86/fpu: Move FPU initialization into "
            "arch_cpu_finalize_init()'; [point release inferred from " + _GDS_STABLE + "]", status="inferred",
            branch=(6, 1), numbers=False),
    Release((6, 1, 60), "stable backport of 8647c52e9504 and 18164f66e6c5: KVM_SET_XSAVE accepts what the host "
            "supports", {"kvm_set_xsave": "host"},
            "Debian 6.1 changelog, 6.1.64-1 under ChangeLog-6.1.60; the code read in 6.1.176 x86.c", status="changelog",
            branch=(6, 1), numbers=False),
    Release((6, 1, 134), "stable backports of 1937e18cc3cf (guest fpstate sized by fpu_kernel_cfg.default_size) and "
            "'Fix inconsistencies in guest FPU xfeatures' (gfpu->xfeatures)",
            {"guest_alloc": "kernel_default", "gfpu_xfeatures": "kernel_default"},
            "Debian 6.1 changelog, 6.1.134 lists both; '[PATCH 6.1 006/204]' replies to the 6.1.134-rc1 review "
            "(not 6.1.133)", status="changelog", branch=(6, 1)),
    Release((6, 5, 9), "stable backport of 8647c52e9504 and 18164f66e6c5: KVM_SET_XSAVE accepts what the host "
            "supports", {"kvm_set_xsave": "host"}, "Debian changelog, 6.5.10-1 under ChangeLog-6.5.9",
            status="changelog", branch=(6, 5), numbers=False),
    Release((6, 6, 26), "stable backport of the erratum 1386 carve-out: Zen 1 and Zen 2 by model, as mainline 6.8",
            {"amd_erratum_1386": "zen1-zen2"}, "'[PATCH 6.6 000/252] 6.6.26-rc1 review' shortlog (2024-04-08): ZenX "
            "flags, 'Carve out the erratum 1386 fix'", status="mail", branch=(6, 6), numbers=False),
    Release((6, 6, 87), "stable backport of 1937e18cc3cf: guest fpstate sized by fpu_kernel_cfg.default_size",
            {"guest_alloc": "kernel_default"},
            "'[PATCH 6.6 007/268]' in the 6.6.87-rc1 stable review, 2025-04-08; whether 6.6.y also took the "
            "gfpu->xfeatures fix is not verified", status="mail", branch=(6, 6)),
    Release((6, 12, 23), "stable backports of 1937e18cc3cf and 'Fix inconsistencies in guest FPU xfeatures'",
            {"guest_alloc": "kernel_default", "gfpu_xfeatures": "kernel_default"},
            "Debian 6.12 changelog, 6.12.23 lists both", status="changelog", branch=(6, 12)),
    Release((6, 12, 64), "stable backport of c8161e5304ab: an empty NT_X86_XSAVE_LAYOUT note no longer truncates the "
            "core dump", {"core_note_empty_ok": True}, "Debian 6.12 changelog, 6.12.64", status="changelog",
            branch=(6, 12), numbers=False),
    Release((6, 13, 11), "stable backports of 1937e18cc3cf and 'Fix inconsistencies in guest FPU xfeatures'",
            {"guest_alloc": "kernel_default", "gfpu_xfeatures": "kernel_default"},
            "stable-rc linux-6.13.y 6133672a186d and ec79804158b0 (2025-04-08, kernel-audit A4); [point release "
            "inferred from the same 2025-04-10 stable cycle as 6.14.2, 6.12.23 and 6.1.134]", status="inferred",
            branch=(6, 13)),
    Release((6, 14, 2), "stable backports of 1937e18cc3cf and 'Fix inconsistencies in guest FPU xfeatures'",
            {"guest_alloc": "kernel_default", "gfpu_xfeatures": "kernel_default"},
            "Ubuntu 6.14.0-17.17 changelog, 'v6.14.2 upstream stable release' lists both", status="changelog",
            branch=(6, 14)),
]

# What a distribution backport named in xstatecalc.distros switches on.
DISTRO_FACTS = {
    "fpu_rework": next(r.facts for r in RELEASES if r.version == (5, 16)),
    "fpu_init_after_identify": {"fpu_init_after_identify": True},
    "erratum_1386_microcode": {"erratum_1386_microcode": True},
}

_MERGE_MASKS = {"user_supported", "supervisor_supported", "supervisor_unsupported"}
LTS_BRANCHES = tuple(r.version for r in RELEASES if r.lts)


def _apply(model: KernelModel, facts: dict) -> KernelModel:
    upd = {}
    for k, v in facts.items():
        old = getattr(model, k)
        if k in _MERGE_MASKS:
            upd[k] = old & ~(-v) if v < 0 else old | v  # a negative value removes bits
        elif isinstance(old, dict):
            merged = dict(old)
            for fk, fv in v.items():
                merged[fk] = tuple(sorted(set(merged.get(fk, ())) | set(fv))) if k == "flag_deps" else fv
            upd[k] = merged
        else:
            upd[k] = v
    return model._replace(**upd)


def mainline() -> list[Release]:
    return [r for r in RELEASES if r.branch is None]


def newest_release() -> Release:
    """The newest mainline release the tool knows that is out (7.4 is queued, not released)."""
    return [r for r in mainline() if r.released][-1]


def _fmt(version: tuple[int, ...]) -> str:
    if len(version) == 3 and version[2] == LATEST:
        return f"{version[0]}.{version[1]}.y"
    return ".".join(map(str, version))


@functools.lru_cache(maxsize=512)
def _model(release: tuple[int, ...], distro_facts: tuple = ()) -> KernelModel:
    """The model of *release*: mainline rows up to it, its branch's backports, then *distro_facts*
    ((abi, name in DISTRO_FACTS, evidence), ...)."""
    oldest = RELEASES[0].version
    if release[:2] < oldest:
        raise KernelVersionError(
            f"kernel {_fmt(release)} is older than the oldest model ({_fmt(oldest)}); models cover "
            f"{_fmt(oldest)} to {newest_release().label} (4.4 and earlier have no xsave_cpuid_features[] filter)")
    applied = [r for r in RELEASES
               if (r.branch is None and r.version <= release[:2])
               or (r.branch == release[:2] and len(release) > 2 and release >= r.version)]
    applied.sort(key=lambda r: r.version)  # a backport applies after the mainline rows of its branch
    model = BASE
    for r in applied:
        model = _apply(model, r.facts)
    for _abi, name, _ev in distro_facts:
        model = _apply(model, DISTRO_FACTS[name])
    top = applied[-1]
    return model._replace(
        version=tuple(release), label=_fmt(release),
        model=top.label + ("+distro" if distro_facts else ""), released=top.released,
        changes=(top.summary,), notes=tuple(f"{r.label}: {r.evidence}" for r in applied)
        + tuple(f"distribution (ABI {abi}): {ev}" for abi, _n, ev in distro_facts))


def model_for(version: tuple[int, ...] | str | KernelVersion) -> KernelModel:
    """The model of a kernel version (a tuple, a string or a parsed version)."""
    if isinstance(version, tuple):
        return _model(version)
    kv = parse_version(version) if isinstance(version, str) else version
    from .distros import resolve as distro

    dm = distro(kv)
    model = _model(dm.release, dm.facts)
    if dm.facts:
        model = model._replace(model=model.model.replace("+distro", f"+{kv.distro}"))
    warnings = list(dm.warnings)
    if kv.release[:2] > mainline()[-1].version:
        warnings.append(f"kernel {kv.text} is newer than the newest release xstatecalc knows "
                        f"({newest_release().label}): numbers from the {model.model} model"
                        + ("" if model.released else ", which is itself not released yet"))
    elif not model.released:
        warnings.append(f"Linux {model.model} is not released yet: modelled from the commits queued for it")
    if kv.rc is not None:
        warnings.append(f"{kv.text} is a release candidate: modelled as the {model.model} release")
    return model._replace(label=kv.text, warnings=tuple(warnings), distro=dm.note)


def resolve_kernel(text: str | None) -> KernelModel:
    """A model for one version string; None means the newest released kernel."""
    if text is None or text in ("", "latest", "newest"):
        return _model(newest_release().version)
    return model_for(text)


def resolve_kernels(specs) -> list[KernelModel]:
    """Models for --kernel values: each a comma-separated list of versions, 'lts' or 'all'. Duplicates are
    dropped, order kept. An empty list means the newest released kernel."""
    out: list[KernelModel] = []
    seen = set()
    for spec in specs or [None]:
        parts = [None] if spec is None else [p.strip() for p in str(spec).split(",")]
        for part in parts:
            if part == "":
                raise KernelVersionError(f"empty item in the kernel list {spec!r}")
            for m in _expand(part):
                key = (m.label, m.model)
                if key not in seen:
                    seen.add(key)
                    out.append(m)
    return out


def _expand(part: str | None) -> list[KernelModel]:
    if part is not None and part.lower() == "all":
        return all_models()
    if part is not None and part.lower() == "lts":
        return lts_models()
    return [resolve_kernel(part)]


def all_models() -> list[KernelModel]:
    """One model per released mainline release that moves a number, oldest first, and the newest release
    (so that a range of equal numbers reads up to today's kernel)."""
    rows = [r for r in mainline() if r.numbers and r.released]
    if rows[-1] != newest_release():
        rows.append(newest_release())
    return [_model(r.version) for r in rows]


def mainline_models() -> list[KernelModel]:
    """One model per released mainline row, oldest first (rows that move no number included)."""
    return [_model(r.version) for r in mainline() if r.released]


def lts_models() -> list[KernelModel]:
    """The newest point release of every LTS branch modelled ('6.1.y': every known backport applied)."""
    return [_model(r.version + (LATEST,)) for r in mainline() if r.lts]


def newest() -> KernelModel:
    return _model(newest_release().version)


def branch_rows(branch: tuple[int, int]) -> list[Release]:
    """The mainline row of a branch and every stable backport on it, for `kernels --branch`."""
    rows = [r for r in RELEASES if r.branch == branch]
    main = [r for r in mainline() if r.version == branch]
    return main + sorted(rows, key=lambda r: r.version)
