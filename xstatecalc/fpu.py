"""What Linux derives from CPUID at boot: fpu__init_system_xstate() and friends.

One function, :func:`boot`, for every kernel model: the per-version differences
are facts in :mod:`xstatecalc.kernels`.
"""

from __future__ import annotations

from typing import NamedTuple

from . import components as C
from . import layout as L
from .kernels import KernelModel, newest
from .profile import Profile

# Kernel build/boot options that change the numbers. Distribution defaults.
OPTION_FLAGS = {
    # --disable word: (CPU flags it removes, what it stands for)
    "pku": ({"PKU"}, "nopku / CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=n"),
    "shstk": ({"SHSTK"}, "CONFIG_X86_USER_SHADOW_STACK=n"),
    "enqcmd": ({"ENQCMD"}, "CONFIG_INTEL_IOMMU_SVM=n"),
    "xsave": ({"XSAVE"}, "noxsave"),
    "xsaves": ({"XSAVES"}, "noxsaves"),
    "xsavec": ({"XSAVEC"}, "noxsavec"),
    "xsaveopt": ({"XSAVEOPT"}, "noxsaveopt"),
}

RT_SIGFRAME = 440  # sizeof(struct rt_sigframe) on x86-64: 8 + ucontext 304 + siginfo 128
SIGFRAME_IA32 = 736  # sizeof(struct sigframe_ia32): 732 bytes padded to 8 (u64 in _fpx_sw_bytes)
SIGFRAME_I386_NATIVE = 732  # 32-bit kernel: u64 aligned to 4 [unverified]
FP_XSTATE_MAGIC2_SIZE = 4
FPSTATE_HDR = 64  # ALIGN(offsetof(struct fpstate, regs), 64): vzalloc'd fpstates carry it
KVM_XSAVE_SIZE = 4096  # sizeof(struct kvm_xsave)
FPREGS_STATE_SIZE = 4096  # sizeof(union fpregs_state): bound for the default/init buffer


class Options(NamedTuple):
    """Kernel configuration and command line, as distributions ship them by default."""

    x86_64: bool = True
    ia32_emulation: bool = True
    disabled: frozenset[str] = frozenset()  # --disable words or raw CPU flag names (clearcpuid=)
    amd_xsaves_fixed: bool = False  # 6.10+: the erratum-1386 workaround skips fixed microcode

    def removed_flags(self) -> set[str]:
        out = set()
        for word in self.disabled:
            flags, _ = OPTION_FLAGS.get(word.lower(), ({word.upper()}, ""))
            out |= flags
        return out

    def describe(self) -> dict:
        d = {
            "CONFIG_X86_64": "y" if self.x86_64 else "n",
            "CONFIG_IA32_EMULATION": "y" if self.ia32_emulation else "n",
            "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS": "n" if "PKU" in self.removed_flags() else "y",
            "CONFIG_X86_USER_SHADOW_STACK": "n" if "SHSTK" in self.removed_flags() else "y",
            "CONFIG_INTEL_IOMMU_SVM": "n" if "ENQCMD" in self.removed_flags() else "y",
        }
        if self.disabled:
            d["disabled"] = sorted(w.lower() for w in self.disabled)
        return d


class Config(NamedTuple):
    """One feature set and its buffer size (a fpu_state_config half)."""

    features: int
    size: int
    compacted: bool

    @property
    def format(self) -> str:
        return "compacted" if self.compacted else "standard"


class Boot:
    """Everything fpu__init_system_xstate() leaves behind, plus why.

    kernel_max/kernel_default, user_max/user_default and guest_default are the
    fpu_kernel_cfg, fpu_user_cfg and guest_default_cfg halves; xcr0/xss what it
    programs; dropped says why each enumerated component was left out.
    """

    __slots__ = ("profile", "kernel", "options", "flags", "xsave", "compacted", "kernel_max", "kernel_default",
                 "user_max", "user_default", "guest_default", "xcr0", "xss", "independent", "dropped",
                 "problems", "disabled_reason", "explain", "computed_kernel_size")

    def __init__(self, profile: Profile, kernel: KernelModel, options: Options, flags: frozenset[str],
                 xsave: bool, compacted: bool, kernel_max: Config, kernel_default: Config, user_max: Config,
                 user_default: Config, guest_default: Config, xcr0: int, xss: int, independent: int,
                 dropped: dict[int, str] | None = None, problems: list[str] | None = None,
                 disabled_reason: str | None = None, explain: list[str] | None = None,
                 computed_kernel_size: int | None = None):
        self.profile, self.kernel, self.options, self.flags = profile, kernel, options, flags
        self.xsave, self.compacted = xsave, compacted  # XSAVE in use; compacted (XCOMPACTED) format
        self.kernel_max, self.kernel_default = kernel_max, kernel_default
        self.user_max, self.user_default, self.guest_default = user_max, user_default, guest_default
        self.xcr0, self.xss, self.independent = xcr0, xss, independent
        self.dropped = {} if dropped is None else dropped  # component -> why Linux leaves it out
        self.problems = [] if problems is None else problems  # kernel messages for failures/warnings
        self.disabled_reason = disabled_reason
        self.explain = [] if explain is None else explain
        self.computed_kernel_size = computed_kernel_size  # what the paranoid check computed

    def __repr__(self) -> str:
        return f"Boot({self.profile.name!r}, Linux {self.kernel.label}, kernel max {self.kernel_max})"

    @property
    def guest_max(self) -> Config:
        # No "guest max" field exists in mainline: the effective one is what a guest
        # with every dynamic feature permitted gets, i.e. fpu_kernel_cfg.max.
        return self.kernel_max

    @property
    def legacy_size(self) -> int:
        return C.FXSAVE_SIZE if "FXSR" in self.flags else C.FSAVE_SIZE

    @property
    def sigframe_min(self) -> int | None:
        """AT_MINSIGSTKSZ (= 'signal: max sigframe size'), get_sigframe_size()."""
        if not self.kernel.sigframe:
            return None
        return sigframe_size(self, self.user_max.size)

    @property
    def regset_xstate(self) -> int | None:
        """NT_X86_XSTATE regset size for ptrace/core dumps: fpu_user_cfg.max_size."""
        return self.user_max.size if self.xsave else None

    def config(self, which: str, variant: str) -> Config:
        return {
            ("kernel", "max"): self.kernel_max, ("kernel", "default"): self.kernel_default,
            ("user", "max"): self.user_max, ("user", "default"): self.user_default,
            ("guest", "max"): self.guest_max, ("guest", "default"): self.guest_default,
        }[(which, variant)]


def make_options(disable=(), *, ia32_emulation: bool = True, arch: str = "x86_64") -> Options:
    """Options from the words users give (--disable, expectations files).

    Raises ValueError naming an unknown --disable word and the accepted ones.
    """
    from .profile import KNOWN_FLAGS

    for w in disable:
        if str(w).lower() not in OPTION_FLAGS and str(w).upper() not in KNOWN_FLAGS:
            raise ValueError(f"{w!r}: expected one of {', '.join(OPTION_FLAGS)} or a CPU flag "
                             f"({', '.join(sorted(f.lower() for f in KNOWN_FLAGS))})")
    return Options(x86_64=arch == "x86_64", ia32_emulation=ia32_emulation,
                   disabled=frozenset(str(w).lower() for w in disable))


def fpstate_size_for_signals(boot: Boot, ia32: bool | None = None) -> int:
    """fpu__get_fpstate_size(): user max + FP_XSTATE_MAGIC2 + the ia32 fsave header.

    *ia32* overrides CONFIG_IA32_EMULATION (to show both variants).
    """
    ia32 = boot.options.ia32_emulation if ia32 is None else ia32
    size = boot.user_max.size + (FP_XSTATE_MAGIC2_SIZE if boot.xsave else 0)
    if (ia32 or not boot.options.x86_64) and "FXSR" in boot.flags:
        size += C.FSAVE_SIZE
    return size


def sigframe_size(boot: Boot, user_size: int, ia32: bool | None = None) -> int:
    """max_frame_size with *user_size* as the xstate part (init_sigframe_size())."""
    ia32 = boot.options.ia32_emulation if ia32 is None else ia32
    if not boot.options.x86_64:
        frame = SIGFRAME_I386_NATIVE
    else:
        frame = SIGFRAME_IA32 if ia32 else RT_SIGFRAME
    fpstate = fpstate_size_for_signals(boot, ia32) - boot.user_max.size + user_size
    return (frame + 15 + fpstate + 63 + 15) // 16 * 16


def effective_flags(profile: Profile, kernel: KernelModel, options: Options) -> tuple[set[str], list[str]]:
    """CPU flags as the kernel sees them after config options, clearcpuid= and quirks."""
    flags = set(profile.flags)
    why = []
    removed = options.removed_flags() & flags
    if removed:
        flags -= removed
        why.append(f"cleared by options: {', '.join(sorted(removed))}")
    if not options.x86_64 and "AMX_TILE" in flags:
        flags.discard("AMX_TILE")  # XFEATURE_MASK_XTILE is 0 on 32-bit kernels
        why.append("AMX_TILE: XTILE is not supported by 32-bit kernels")
    if kernel.enqcmd_disabled and "ENQCMD" in flags:
        flags.discard("ENQCMD")
        why.append("ENQCMD: force-disabled in this kernel (re-enabled in 5.18)")
    if (kernel.amd_erratum_1386 and profile.vendor in ("amd", "hygon") and profile.family == 0x17
            and not options.amd_xsaves_fixed and "XSAVES" in flags):
        flags.discard("XSAVES")
        why.append("XSAVES: cleared by the AMD erratum 1386 workaround (family 0x17)")
    # OSPKE is what CR4.PKE gives: PKU with protection keys built in and not 'nopku'.
    if "PKU" in flags:
        flags.add("OSPKE")
    return flags, why


def boot(profile: Profile, kernel: KernelModel | None = None, options: Options | None = None) -> Boot:
    """Model fpu__init_system_xstate() for *profile* on *kernel*."""
    kernel = kernel or newest()
    options = options or Options()
    flags, explain = effective_flags(profile, kernel, options)
    k = kernel
    legacy = Config(C.MASK_FPSSE if "FXSR" in flags else C.bit(C.FP), 0, False)

    def disabled(reason: str, problems: list[str], dropped=None) -> Boot:
        if problems and k.xsave_disabled_msg:
            problems = problems + ["x86/fpu: XSAVE disabled"]  # fpu__init_disable_system_xstate(), 6.16+
        size = C.FXSAVE_SIZE if "FXSR" in flags else C.FSAVE_SIZE
        lc = Config(legacy.features, size, False)
        b = Boot(profile, k, options, frozenset(flags), False, False, Config(0, size, False), lc, lc, lc,
                 lc, 0, 0, 0, dropped or {}, problems, reason, explain + [reason])
        return b

    if "XSAVE" not in flags:
        return disabled("XSAVE is not available (no XSAVE flag or 'noxsave'): the FPU uses "
                        + ("FXSAVE" if "FXSR" in flags else "FSAVE"), [])

    supported = profile.xcr0_supported | profile.xss_supported
    mask = supported
    if mask & C.MASK_FPSSE != C.MASK_FPSSE:
        return disabled("FP/SSE not present amongst the CPU's xstate features",
                        [f"x86/fpu: FP/SSE not present amongst the CPU's xstate features: 0x{mask:x}."])
    if k.apx_mpx_check and mask & C.bit(C.APX) and mask & C.MASK_MPX:
        return disabled("APX and MPX are both present: the kernel refuses the layout",
                        [f"x86/fpu: Both APX/MPX present in the CPU's xstate features: 0x{mask:x}."])

    independent = mask & k.independent
    dropped: dict[int, str] = {}
    all_supported = k.user_supported | k.supervisor_supported
    for n in C.bits(mask):
        need = k.cpuid_deps.get(n)
        if n == C.FP:
            continue
        if n == C.LBR:
            dropped[n] = "independent supervisor state (arch LBR): in IA32_XSS, never in task buffers"
        elif k.supervisor_unsupported >> n & 1 or not all_supported >> n & 1:
            dropped[n] = f"not supported by Linux {k.label}"
        elif need is None:
            dropped[n] = f"no entry in xsave_cpuid_features[] of Linux {k.label}"
        elif need not in flags:
            dropped[n] = f"CPU flag {need} absent" + _flag_hint(need, profile, options)
    for n in dropped:
        mask &= ~C.bit(n)
    if "XFD" not in flags and mask & k.user_dynamic:
        for n in C.bits(mask & k.user_dynamic):
            dropped[n] = "dynamic feature but the CPU has no XFD"
        mask &= ~k.user_dynamic
    if "XSAVES" not in flags:
        for n in C.bits(mask & ~k.user_supported):
            dropped[n] = "supervisor state needs XSAVES"
        mask &= k.user_supported
    else:
        mask &= k.user_supported | k.supervisor_supported

    compacted = any(f in flags for f in k.compacted_via)
    order = k.std_size_order
    user_max_f = mask & k.user_supported
    if k.fpu_cfg:
        kernel_def_f = mask & ~(k.user_dynamic | k.guest_supervisor)
        user_def_f = user_max_f & ~(k.user_dynamic | k.guest_supervisor)
        guest_def_f = mask & ~k.user_dynamic
    else:
        kernel_def_f, user_def_f, guest_def_f = mask, user_max_f, mask

    xss = (mask & ~k.user_supported) | (independent if "ARCH_LBR" in flags else 0)
    user_size, kernel_size = _hardware_sizes(profile, mask, user_max_f, xss & ~independent, compacted)
    b = Boot(
        profile, k, options, frozenset(flags), True, compacted,
        kernel_max=Config(mask, kernel_size, compacted),
        kernel_default=Config(kernel_def_f, L.size(profile, kernel_def_f, compacted, order), compacted),
        user_max=Config(user_max_f, user_size, False),
        user_default=Config(user_def_f, L.standard_size(profile, user_def_f, order), False),
        guest_default=Config(guest_def_f, L.size(profile, guest_def_f, compacted, order), compacted),
        xcr0=user_max_f,
        xss=xss,
        independent=independent,
        dropped=dropped,
        explain=explain,
    )
    _paranoid_checks(b)
    return b


def _flag_hint(flag: str, profile: Profile, options: Options) -> str:
    removed = options.removed_flags()
    if flag == "OSPKE":
        if "PKU" in removed:
            return " (protection keys disabled: nopku or CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=n)"
        return " (no PKU on this CPU)"
    if flag in removed:
        return f" (removed: {OPTION_FLAGS.get(flag.lower(), (None, 'clearcpuid=' + flag.lower()))[1]})"
    return ""


def _hardware_sizes(p: Profile, kernel_max: int, xcr0: int, xss: int, compacted: bool) -> tuple[int, int]:
    """(user_size, kernel_size) as init_xstate_size() reads them from CPUID after
    programming XCR0 and IA32_XSS (*xss* without the independent LBR): 0xD.0 EBX,
    and 0xD.1 EBX when compacted.

    On consistent hardware these are the standard end of the last component and
    the compacted sum. A profile that records what its CPU reported *for the
    kernel's own masks* (a hypervisor's leaf 0xD, say) overrides them.
    """
    rep = p.reported
    user = L.standard_size(p, xcr0, "offset")
    if rep.xcr0_size is not None and rep.xcr0 == xcr0:
        user = rep.xcr0_size
    if not compacted:
        return user, user
    kernel = L.compacted_size(p, kernel_max)
    if rep.compacted_size is not None and rep.xcr0 is not None and rep.xcr0 | (rep.xss or 0) == kernel_max | xss:
        kernel = rep.compacted_size
    return user, kernel


def _paranoid_checks(b: Boot) -> None:
    """paranoid_xstate_size_valid(): the model's own arithmetic against the size CPUID
    reported (already in kernel_max), then the 4096-byte bound."""
    k = b.kernel
    kernel_size = b.kernel_max.size
    calc = L.size(b.profile, b.kernel_max.features, b.compacted, k.std_size_order)
    if calc != kernel_size:
        b.computed_kernel_size = calc
        b.problems.append(f"XSAVE consistency problem: size {calc} != kernel_size {kernel_size}"
                          if k.consistency_sizes else "XSAVE consistency problem, dumping leaves")
        if k.consistency_fatal:
            _disable(b, f"computed {'compacted' if b.compacted else 'standard'} size {calc} != CPUID(0xD,"
                        f"{1 if b.compacted else 0}).EBX {kernel_size}")
            return
    limit_size = b.kernel_default.size if k.fpu_cfg else b.kernel_max.size
    if limit_size > FPREGS_STATE_SIZE:
        if k.size_limit_check == "init_fpstate":
            tail = "" if k.xsave_disabled_msg else ", disabling XSAVE"
            b.problems.append(f"x86/fpu: init_fpstate buffer too small ({FPREGS_STATE_SIZE} < {limit_size}){tail}")
        else:
            b.problems.append(f"x86/fpu: xstate buffer too small ({FPREGS_STATE_SIZE} < {limit_size}), disabling xsave")
        _disable(b, f"default buffer {limit_size} > {FPREGS_STATE_SIZE} bytes")


def _disable(b: Boot, reason: str) -> None:
    """fpu__init_disable_system_xstate(): fall back to the legacy format."""
    size = b.legacy_size
    legacy = C.MASK_FPSSE if "FXSR" in b.flags else C.bit(C.FP)
    b.xsave, b.compacted, b.disabled_reason = False, False, reason
    if b.computed_kernel_size is None:
        b.computed_kernel_size = b.kernel_max.size
    b.kernel_max = Config(0, size, False)
    b.kernel_default = b.user_default = b.guest_default = Config(legacy, size, False)
    # The kernel leaves fpu_user_cfg.max_features alone but resets the sizes.
    b.user_max = Config(b.user_max.features, size, False)
    b.xcr0 = b.xss = 0
    if b.kernel.xsave_disabled_msg:
        b.problems.append("x86/fpu: XSAVE disabled")
    b.explain.append(f"XSAVE disabled: {reason}")
