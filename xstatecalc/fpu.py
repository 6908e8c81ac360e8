"""What Linux derives from CPUID at boot: fpu__init_system_xstate() and friends.

One function, :func:`boot`, for every kernel model: the per-version differences
are facts in :mod:`xstatecalc.kernels`.
"""

from __future__ import annotations

from . import components as C
from . import layout as L
from .kernels import KernelModel, newest
from .options import Options, apply as apply_options
from .profile import Profile
from .records import record

FPSTATE_HDR = 64  # ALIGN(offsetof(struct fpstate, regs), 64): vzalloc'd fpstates carry it
KVM_XSAVE_SIZE = 4096  # sizeof(struct kvm_xsave)
FPREGS_STATE_SIZE = 4096  # sizeof(union fpregs_state): bound for the default/init buffer


@record
class Config:
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
                 "problems", "disabled_reason", "explain", "computed_kernel_size", "cpuid_kernel_size", "init_flags",
                 "switches", "warnings")

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
        self.cpuid_kernel_size: int | None = None  # ... and what CPUID reported, when the two differ
        self.init_flags = flags  # what fpu__init_system_xstate() saw (quirks may clear more later)
        self.switches: list = []  # (switch, mechanism, what it did) for every non-default option
        self.warnings: list[str] = []  # what the model sees and the kernel does not print (stderr)

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
        from .sigframe import frame_size

        return frame_size(self, self.user_max.size)

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
    """Options from --disable words (see :func:`xstatecalc.options.make_options`)."""
    from .options import make_options as _make

    return _make(disable, ia32_emulation=ia32_emulation, arch=arch)


# X86_FEATURE_ZEN1/ZEN2 by family 0x17 model (bsp_init_amd(), 6.1.176 and 7.2.8 amd.c); other models get no
# ZenX flag, so no erratum handling.
_ZEN1_MODELS = ((0x00, 0x2F), (0x50, 0x5F))
_ZEN2_MODELS = ((0x30, 0x4F), (0x60, 0x7F), (0x90, 0x91), (0xA0, 0xAF))
_ERRATUM_SCOPE = {"family-0x17": _ZEN1_MODELS + _ZEN2_MODELS + ((0x00, 0xFF),), "zen1-zen2": _ZEN1_MODELS + _ZEN2_MODELS,
                  "zen2": _ZEN2_MODELS}


def _erratum_1386(profile: Profile, kernel: KernelModel, options: Options) -> bool:
    """XSAVES malfunctions on Zen 1/Zen 2 (family 0x17, erratum 1386): which parts lose it depends on the kernel;
    6.10+ spares fixed microcode; Hygon never (its init_spectral_chicken() call is commented out)."""
    if not kernel.amd_erratum_1386 or profile.vendor != "amd" or profile.family != 0x17:
        return False
    model = profile.model if profile.model is not None else -1
    if not any(lo <= model <= hi for lo, hi in _ERRATUM_SCOPE[kernel.amd_erratum_1386]):
        return False
    return not (kernel.erratum_1386_microcode and options.amd_xsaves_fixed)


def effective_flags(profile: Profile, kernel: KernelModel, options: Options) -> tuple[set[str], set[str], list]:
    """boot_cpu_data when fpu__init_system_xstate() runs, the final flags (KVM, alternatives), and
    the notes of every switch and quirk that changed them."""
    applied = apply_options(profile.flags, kernel, options)
    flags, notes = set(applied.flags), list(applied.notes)
    late = set()
    if _erratum_1386(profile, kernel, options) and "XSAVES" in flags:
        late = {"XSAVES"} | ({"ENQCMD", "XFD", "SHSTK"} & flags)
        when = ("before the FPU is set up" if kernel.fpu_init_after_identify else
                "after fpu__init_system_xstate() ran (the FPU is set up before init_amd() on this kernel), so the "
                "xstate layout still uses it")
        where = {"family-0x17": "init_amd() clears XSAVES on family 0x17",
                 "zen1-zen2": "fix_erratum_1386() clears XSAVES on Zen 1 and Zen 2",
                 "zen2": "init_spectral_chicken() clears XSAVES on Zen 2"}[kernel.amd_erratum_1386]
        notes.append(("AMD erratum 1386", "CPU quirk", f"{where} {when}"))
    init = flags - late if kernel.fpu_init_after_identify else set(flags)
    return init, flags - late, notes


def boot(profile: Profile, kernel: KernelModel | None = None, options: Options | None = None) -> Boot:
    """Model fpu__init_system_xstate() for *profile* on *kernel*."""
    kernel = kernel or newest()
    options = options or Options()
    flags, final_flags, switches = effective_flags(profile, kernel, options)
    k = kernel
    explain = [f"{sw}: {how}" for sw, _kind, how in switches]
    problems: list[str] = []

    def disabled(reason: str, lines: list[str]) -> Boot:
        if lines and k.xsave_disabled_msg:
            lines = lines + ["x86/fpu: XSAVE disabled"]  # fpu__init_disable_system_xstate(), 6.16+
        # noxsave and the early failures return before any *_features field is set: they stay 0; only
        # fpu_user_cfg.legacy_features (what ARCH_GET_XCOMP_SUPP adds) says x87/SSE (7.2.8 init.c, xstate.c).
        size = C.FXSAVE_SIZE if "FXSR" in flags else C.FSAVE_SIZE
        legacy = Config(0, size, False)
        b = Boot(profile, k, options, frozenset(final_flags), False, False, legacy, legacy, legacy,
                 legacy, legacy, 0, 0, 0, {}, problems + lines, reason, explain + [reason])
        b.init_flags, b.switches = frozenset(flags), switches
        return b

    if "XSAVE" not in flags:
        return disabled("XSAVE is not available (no XSAVE flag, 'noxsave' or clearcpuid=xsave): the FPU uses "
                        + ("FXSAVE" if "FXSR" in flags else "FSAVE"), [])

    mask = profile.xcr0_supported | (profile.xss_supported if k.xss_in_mask else 0)
    if mask & C.MASK_FPSSE != C.MASK_FPSSE:
        return disabled("FP/SSE not present amongst the CPU's xstate features",
                        [f"x86/fpu: FP/SSE not present amongst the CPU's xstate features: 0x{mask:x}."])
    if k.apx_mpx_check and mask & C.bit(C.APX) and mask & C.MASK_MPX:
        return disabled("APX and MPX are both present: the kernel refuses the layout",
                        [f"x86/fpu: Both APX/MPX present in the CPU's xstate features: 0x{mask:x}."])
    if k.avx_xstate_check:
        # 7.4 (queued): a CPU flag without the state it needs is cleared, with its dependants.
        for flag, need, name in (("AVX", C.bit(C.YMM), "AVX"), ("AVX512F", C.MASK_AVX512, "AVX-512")):
            if flag in flags and mask & need != need:
                flags.discard(flag)
                final_flags.discard(flag)
                if flag == "AVX":
                    flags.discard("AVX512F")
                    final_flags.discard("AVX512F")
                problems.append(f"x86/fpu: Disabling {name} support due to missing xstate features")

    user_supported = k.user_supported & ~(0 if options.x86_64 else C.MASK_XTILE)  # XFEATURE_MASK_XTILE is 0 on i386
    independent = mask & k.independent
    dropped: dict[int, str] = {}
    all_supported = user_supported | k.supervisor_supported
    cleared_by = _cleared_by(profile, flags, switches)
    for n in C.bits(mask):
        need = k.cpuid_deps.get(n)
        if n == C.FP:
            continue
        if k.independent >> n & 1:
            dropped[n] = "independent supervisor state (arch LBR): in IA32_XSS, never in task buffers"
        elif k.supervisor_unsupported >> n & 1 or not all_supported >> n & 1:
            why = "32-bit kernels have no AMX" if k.user_supported >> n & 1 else f"not supported by Linux {k.model}"
            dropped[n] = why
        elif need is None:
            dropped[n] = f"no entry in xsave_cpuid_features[] of Linux {k.model}"
        elif need not in flags:
            dropped[n] = f"boot_cpu_has({need}) is false" + _flag_hint(need, cleared_by, options)
    for n in dropped:
        mask &= ~C.bit(n)
    # cpu_feature_enabled(XFD): a disabled feature on 32-bit kernels
    if mask & k.user_dynamic and not ("XFD" in flags and options.x86_64):
        for n in C.bits(mask & k.user_dynamic):
            dropped[n] = "dynamic feature but XFD is not usable" + _flag_hint("XFD", cleared_by, options)
        mask &= ~k.user_dynamic
    if "XSAVES" not in flags:
        for n in C.bits(mask & ~user_supported):
            dropped[n] = "supervisor state needs XSAVES" + _flag_hint("XSAVES", cleared_by, options)
        mask &= user_supported
    else:
        mask &= user_supported | k.supervisor_supported

    compacted = any(f in flags for f in k.compacted_via)
    order = k.std_size_order
    user_max_f = mask & user_supported
    if k.fpu_cfg:
        kernel_def_f = mask & ~(k.user_dynamic | k.guest_supervisor)
        user_def_f = user_max_f & ~(k.user_dynamic | k.guest_supervisor)
        guest_def_f = mask & ~k.user_dynamic
    else:
        kernel_def_f, user_def_f, guest_def_f = mask, user_max_f, mask

    xss = 0
    if k.xss_programmed and "XSAVES" in flags:
        xss = (mask & ~user_supported) | (independent if "ARCH_LBR" in flags else 0)
    user_size, kernel_size = _hardware_sizes(profile, mask, user_max_f, xss & ~independent, compacted)
    b = Boot(
        profile, k, options, frozenset(final_flags), True, compacted,
        kernel_max=Config(mask, kernel_size, compacted),
        kernel_default=Config(kernel_def_f, L.size(profile, kernel_def_f, compacted, order), compacted),
        user_max=Config(user_max_f, user_size, False),
        user_default=Config(user_def_f, L.standard_size(profile, user_def_f, order), False),
        guest_default=Config(guest_def_f, L.size(profile, guest_def_f, compacted, order), compacted),
        xcr0=user_max_f,
        xss=xss,
        independent=independent,
        dropped=dropped,
        problems=problems,
        explain=explain,
    )
    b.init_flags, b.switches = frozenset(flags), switches
    _size_checks(b)
    bad = C.xsetbv_violations(b.xcr0) if b.xsave else []
    if bad:
        b.warnings.append(f"XSETBV refuses XCR0 {b.xcr0:#x} ({'; '.join(bad)}): fpu__init_cpu_xstate() takes a #GP "
                          "and this kernel does not boot on this CPU; the numbers shown assume it did")
    return b


def _cleared_by(profile: Profile, flags: set[str], switches: list) -> dict[str, str]:
    """CPU flags the profile has but boot_cpu_data lost, and which switch or quirk took each."""
    out = {}
    for flag in set(profile.flags) - flags:
        for sw, kind, how in switches:
            if flag in how.replace(",", " ").split() or flag.lower() in sw:
                out[flag] = sw
                break
    return out


def _flag_hint(flag: str, cleared_by: dict[str, str], options: Options) -> str:
    if flag == "OSPKE":
        if "nopku" in options.cmdline:
            return " (nopku: CR4.PKE stays off)"
        if not options.config("CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS"):
            return " (CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=n: CR4.PKE stays off)"
        if "PKU" in cleared_by:
            return f" (PKU cleared by {cleared_by['PKU']})"
        return " (the CPU has no PKU)"
    if flag in cleared_by:
        return f" (cleared by {cleared_by[flag]})"
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
    if rep.compacted_size is not None and (rep.compacted_fixed or rep.xcr0 is not None
                                           and rep.xcr0 | (rep.xss or 0) == kernel_max | xss):
        kernel = rep.compacted_size
    return user, kernel


def _size_checks(b: Boot) -> None:
    """init_xstate_size() and fpu__init_system_xstate(): the paranoid size check against what
    CPUID reported (already in kernel_max) and the 4096-byte bound, in this kernel's order.

    Up to 6.0 the bound comes first and a failure hides the paranoid check (kernel-audit A9);
    from 6.1 (and 6.0.7) the paranoid check runs first and the bound is on init_fpstate.size.
    """
    k = b.kernel
    if k.size_limit_check == "init_fpstate":
        if not _paranoid(b):
            _limit(b)
    elif not _limit(b):
        _paranoid(b)


def _paranoid(b: Boot) -> bool:
    """paranoid_xstate_size_valid() / do_extra_xstate_size_checks(). True when XSAVE was disabled."""
    k = b.kernel
    kernel_size = b.kernel_max.size
    calc = L.size(b.profile, b.kernel_max.features, b.compacted, k.std_size_order)
    if calc == kernel_size:
        return False
    b.computed_kernel_size, b.cpuid_kernel_size = calc, kernel_size
    b.problems.append(f"XSAVE consistency problem: size {calc} != kernel_size {kernel_size}"
                      if k.consistency_sizes else "XSAVE consistency problem, dumping leaves")
    if not k.consistency_fatal:
        return False
    _disable(b, f"computed {'compacted' if b.compacted else 'standard'} size {calc} != CPUID(0xD,"
                f"{1 if b.compacted else 0}).EBX {kernel_size}")
    return True


def _limit(b: Boot) -> bool:
    """The default buffer must fit sizeof(union fpregs_state). True when XSAVE was disabled."""
    k = b.kernel
    limit_size = b.kernel_default.size if k.fpu_cfg else b.kernel_max.size
    if limit_size <= FPREGS_STATE_SIZE:
        return False
    if k.size_limit_check == "init_fpstate":
        tail = "" if k.xsave_disabled_msg else ", disabling XSAVE"
        b.problems.append(f"x86/fpu: init_fpstate buffer too small ({FPREGS_STATE_SIZE} < {limit_size}){tail}")
    else:
        b.problems.append(f"x86/fpu: xstate buffer too small ({FPREGS_STATE_SIZE} < {limit_size}), disabling xsave")
    _disable(b, f"{'default' if k.fpu_cfg else 'kernel'} buffer {limit_size} > {FPREGS_STATE_SIZE} bytes")
    return True


def _disable(b: Boot, reason: str) -> None:
    """fpu__init_disable_system_xstate(): fall back to the legacy format."""
    size = b.legacy_size
    b.xsave, b.compacted, b.disabled_reason = False, False, reason
    if b.computed_kernel_size is None:
        b.computed_kernel_size = b.kernel_max.size
    # fpu__init_disable_system_xstate() zeroes fpu_kernel_cfg.max_features only and resets the sizes; the
    # default, user and guest feature sets were set before the size checks failed and keep their values
    # (7.2.8 xstate.c: 760-782 against 881-947). Before 5.16 the one xfeatures mask goes to 0.
    keep = b.kernel.fpu_cfg
    b.kernel_max = Config(0, size, False)
    b.kernel_default, b.user_default, b.guest_default, b.user_max = (
        Config(c.features if keep else 0, size, False)
        for c in (b.kernel_default, b.user_default, b.guest_default, b.user_max))
    b.xcr0 = b.xss = 0
    if b.kernel.xsave_disabled_msg:
        b.problems.append("x86/fpu: XSAVE disabled")
    b.explain.append(f"XSAVE disabled: {reason}")
