"""Kernel build options and boot parameters, each applied by the mechanism the kernel uses.

Three mechanisms, and they differ (kernel-audit A2/A3):

* build options (``CONFIG_…=n``) make a feature *disabled*: cpu_feature_enabled()
  answers false, but boot_cpu_data keeps the CPUID bit;
* boot parameters (``noxsave``, ``noxsaves``, ``noxsaveopt``, ``clearcpuid=``) call
  setup_clear_cpu_cap(), which clears the bit *and* every flag that depends on it in
  that version's cpuid-deps.c; ``nopku`` only keeps CR4.PKE off (no OSPKE);
* the xstate filter, xsave_cpuid_features[], asks boot_cpu_has(): it sees the second
  kind and the OSPKE effect of the first, never a build option's disabled mask.
"""

from __future__ import annotations

from . import components as C
from .profile import KNOWN_FLAGS
from .records import record
from .yamltext import token


# X86_FEATURE_* numbers (word * 32 + bit, arch/x86/include/asm/cpufeatures.h; the same in 5.4, 5.10, 5.15 and
# 7.3): clearcpuid= takes these before 5.19.
FLAG_BITS = {
    "FPU": 0, "FXSR": 24, "XMM": 25, "XSAVE": 4 * 32 + 26, "AVX": 4 * 32 + 28, "HYPERVISOR": 4 * 32 + 31,
    "XSAVEOPT": 10 * 32 + 0, "XSAVEC": 10 * 32 + 1, "XGETBV1": 10 * 32 + 2, "XSAVES": 10 * 32 + 3,
    "XFD": 10 * 32 + 4, "MPX": 9 * 32 + 14, "AVX512F": 9 * 32 + 16, "INTEL_PT": 9 * 32 + 25,
    "PKU": 16 * 32 + 3, "SHSTK": 16 * 32 + 7, "ENQCMD": 16 * 32 + 29, "ARCH_LBR": 18 * 32 + 19,
    "IBT": 18 * 32 + 20, "AMX_TILE": 18 * 32 + 24, "APX": 21 * 32 + 9,
}
# Linux-defined flags clearcpuid= also takes. USER_SHSTK is set by setup_cet() (6.6+) and cleared by nousershstk or
# clearcpuid=user_shstk alike; xstate never asks for it.
SYNTHETIC_FLAGS = {"USER_SHSTK": 11 * 32 + 23}
_BY_BIT = {v: k for k, v in {**FLAG_BITS, **SYNTHETIC_FLAGS}.items()}

# x86_cap_flags[]: the names clearcpuid= matches from 5.19, generated from the cpufeatures.h comments. Read in
# 6.1.176, 6.12.107, 6.18.15 and 7.2.8 (the same in each): SHSTK, XFD and APX have none (only their numbers
# work), XMM's name is "sse", USER_SHSTK's exists from 6.6; UINTR is no kernel flag at all.
CAP_NAMES = {"FPU": "fpu", "FXSR": "fxsr", "XMM": "sse", "XSAVE": "xsave", "AVX": "avx", "HYPERVISOR": "hypervisor",
             "XSAVEOPT": "xsaveopt", "XSAVEC": "xsavec", "XGETBV1": "xgetbv1", "XSAVES": "xsaves", "MPX": "mpx",
             "AVX512F": "avx512f", "INTEL_PT": "intel_pt", "PKU": "pku", "ENQCMD": "enqcmd", "ARCH_LBR": "arch_lbr",
             "IBT": "ibt", "AMX_TILE": "amx_tile", "USER_SHSTK": "user_shstk"}
_CAP_NAME_SINCE = {"USER_SHSTK": (6, 6)}
_BY_CAP_NAME = {v: k for k, v in CAP_NAMES.items()}

# Boot parameters that call setup_clear_cpu_cap() on one flag (cpu_parse_early_param()).
NO_PARAMS = {"noxsave": "XSAVE", "noxsaves": "XSAVES", "noxsaveopt": "XSAVEOPT"}

# Build options: (attribute of Options, what cpu_feature_enabled() loses, first kernel that has the option)
BUILD_OPTIONS = {
    "CONFIG_X86_64": ("x86_64", None, (4, 15)),
    "CONFIG_IA32_EMULATION": ("ia32_emulation", None, (4, 15)),
    "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS": ("pkeys", "PKU", (4, 15)),
    "CONFIG_X86_USER_SHADOW_STACK": ("user_shstk", "USER_SHSTK", (6, 6)),
    "CONFIG_INTEL_IOMMU_SVM": ("iommu_svm", "ENQCMD", (4, 15)),
}
NEED_64BIT = ("CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS", "CONFIG_X86_USER_SHADOW_STACK", "CONFIG_INTEL_IOMMU_SVM",
              "CONFIG_IA32_EMULATION")

# Words that used to mean a build option and are also CPU flag names: say which one.
_AMBIGUOUS = {
    "pku": ("nopku", "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=n", "clearcpuid=pku"),
    "shstk": ("CONFIG_X86_USER_SHADOW_STACK=n", "nousershstk", "clearcpuid=519"),
    "enqcmd": ("CONFIG_INTEL_IOMMU_SVM=n", "clearcpuid=enqcmd"),
}


@record
class Options:
    """A kernel's configuration and command line; the defaults are how distributions ship x86-64."""

    x86_64: bool = True
    ia32_emulation: bool = True
    pkeys: bool = True  # CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS
    user_shstk: bool = True  # CONFIG_X86_USER_SHADOW_STACK
    iommu_svm: bool = True  # CONFIG_INTEL_IOMMU_SVM
    cmdline: tuple[str, ...] = ()  # boot parameters, canonical: "nopku", "noxsaves", "clearcpuid=avx512f"
    amd_xsaves_fixed: bool = False  # 6.10+: the erratum-1386 workaround skips fixed microcode

    def config(self, name: str) -> bool:
        attr = BUILD_OPTIONS[name][0]
        value = getattr(self, attr)
        return value and (self.x86_64 or name not in NEED_64BIT)

    def clearcpuid(self) -> list[str]:
        """Flags named by clearcpuid= parameters, in order."""
        out = []
        for p in self.cmdline:
            if p.startswith("clearcpuid="):
                out += [f.upper() for f in p.split("=", 1)[1].split(",")]
        return out

    def describe(self) -> dict:
        """The build options and command line behind the numbers, for JSON and captions."""
        # A 32-bit kernel has none of the 64-bit-only options (Kconfig: depends on X86_64): not "=n", absent.
        d = {name: ("y" if self.config(name) else "n") for name in BUILD_OPTIONS
             if self.x86_64 or name not in NEED_64BIT}
        d["cmdline"] = " ".join(self.cmdline)
        return d

    def switches(self) -> list[str]:
        """What differs from the distribution defaults, in the kernel's own spelling."""
        out = [f"{name}=n" for name in BUILD_OPTIONS
               if not getattr(self, BUILD_OPTIONS[name][0]) and (self.x86_64 or name not in NEED_64BIT)]
        return out + list(self.cmdline)


def switch_words() -> list[str]:
    """Every spelling --disable takes, for shell completion: parameters, build options, flags, features."""
    words = ["nopku", "noxsave", "noxsaves", "noxsaveopt", "nousershstk"]
    words += [f"{n}=n" for n in BUILD_OPTIONS if n not in ("CONFIG_X86_64", "CONFIG_IA32_EMULATION")]
    flags = sorted(f.lower() for f in KNOWN_FLAGS | set(SYNTHETIC_FLAGS))
    words += [f"clearcpuid={f}" for f in flags] + [f for f in flags if f not in _AMBIGUOUS]
    return words + [w for w in C.feature_words() if _flag_of_feature(w) and w not in words]


def _vocabulary() -> str:
    return ("a boot parameter (nopku, noxsave, noxsaves, noxsaveopt, nousershstk, clearcpuid=FLAG[,FLAG]), a build "
            "option (" + ", ".join(f"{n}=n" for n in BUILD_OPTIONS) + "), a CPU flag (" +
            ", ".join(sorted(f.lower() for f in KNOWN_FLAGS)) + ") or an XSAVE feature (amx, avx512, pkru, cet, "
            "pasid, apx, mpx, ...)")


def _flag_of_feature(word: str) -> str | None:
    """The CPU flag whose absence removes an XSAVE feature word (clearcpuid= of xsave_cpuid_features[])."""
    try:
        mask = C.parse_features([word])
    except ValueError:
        return None
    flags = {_FEATURE_FLAG.get(n) for n in C.bits(mask)}
    flags.discard(None)
    return flags.pop() if len(flags) == 1 else None


def features_of_flag(word: str) -> int:
    """The XSAVE components a CPU flag name stands for (amx_tile -> xtile_cfg|xtile_data), or 0: so that
    --enable takes the flag words --disable takes."""
    return C.mask_of(*[n for n, f in _FEATURE_FLAG.items() if f == word.strip().upper()])


# The flag each component needs in the newest xsave_cpuid_features[], except PKRU: clearing OSPKE is not what a
# user means, PKU is the CPU's own bit.
_FEATURE_FLAG = {C.YMM: "AVX", C.BNDREGS: "MPX", C.BNDCSR: "MPX", C.OPMASK: "AVX512F", C.ZMM_HI256: "AVX512F",
                 C.HI16_ZMM: "AVX512F", C.PT: "INTEL_PT", C.PKRU: "PKU", C.PASID: "ENQCMD", C.CET_USER: "SHSTK",
                 C.CET_KERNEL: "SHSTK", C.XTILE_CFG: "AMX_TILE", C.XTILE_DATA: "AMX_TILE", C.APX: "APX",
                 C.LBR: "ARCH_LBR", C.UINTR: "UINTR"}


def parse_switch(word) -> tuple[str, str]:
    """One --disable word -> ("config", "CONFIG_X") or ("param", canonical boot parameter).

    Raises ValueError naming the word and what is accepted.
    """
    if not isinstance(word, str):
        raise ValueError(f"{token(word)}: expected a word such as nopku or clearcpuid=avx512f, not {type(word).__name__}")
    w = word.strip()
    shown = token(w)
    if not w or len(w) > 200 or not w.isascii() or not w.isprintable():
        raise ValueError(f"{shown}: not a kernel switch; expected {_vocabulary()}")
    upper = w.upper()
    if upper.startswith("CONFIG_"):
        name, _, value = upper.partition("=")
        if name not in BUILD_OPTIONS:
            raise ValueError(f"{shown}: xstatecalc models these build options: {', '.join(BUILD_OPTIONS)}")
        if value not in ("N", ""):
            raise ValueError(f"{shown}: --disable turns a build option off; write {name}=n")
        return "config", name
    low = w.lower()
    if low in ("nopku", "noxsave", "noxsaves", "noxsaveopt", "nousershstk", "noxsavec"):
        return "param", low
    if low.startswith("clearcpuid="):
        from .numbers import looks_numeric

        # Kept as written (a number, or a name the kernel may or may not know): what it clears depends on the
        # kernel's parser (apply()).
        items = []
        for item in low.split("=", 1)[1].split(","):
            item = item.strip()
            if looks_numeric(item):
                # Decimal, no leading zero: 4.15-5.18 read the bit with get_option() (base 0: '018' is octal
                # 01), 5.19+ with kstrtouint(opt, 10) (decimal): only a plain decimal means one bit everywhere.
                if not (item.isascii() and item.isdigit() and len(item) <= 4) or (len(item) > 1 and item[0] == "0"):
                    raise ValueError(f"{shown}: {item[:40]!r}: write a bit number in plain decimal (no sign, "
                                     "leading zero, 0x or underscore)")
                if int(item) not in _BY_BIT:
                    raise ValueError(f"{shown}: bit {item} is not one of the flags xstatecalc models "
                                     f"({', '.join(f'{k.lower()}={v}' for k, v in sorted(FLAG_BITS.items()))})")
                item = str(int(item))
            elif item not in _BY_CAP_NAME and item.upper() not in KNOWN_FLAGS | set(SYNTHETIC_FLAGS):
                raise ValueError(f"{shown}: {item[:40]!r} is not a CPU flag xstatecalc models; known: "
                                 f"{', '.join(sorted(CAP_NAMES.values()))}")
            if item not in items:
                items.append(item)
        if not items:
            raise ValueError(f"{shown}: clearcpuid= needs at least one flag")
        return "param", "clearcpuid=" + ",".join(items)
    if low in _AMBIGUOUS:
        raise ValueError(f"{shown} is ambiguous: the kernel has several switches with different effects; say "
                         + " or ".join(_AMBIGUOUS[low]))
    flag = _BY_CAP_NAME.get(low) or (upper if upper in KNOWN_FLAGS or upper in SYNTHETIC_FLAGS else None)
    if flag is not None:
        no = {v: k for k, v in NO_PARAMS.items()}.get(flag)
        return "param", no or f"clearcpuid={spelling(flag)}"
    flag = _flag_of_feature(low)
    if flag is not None:
        return "param", f"clearcpuid={spelling(flag)}"
    raise ValueError(f"{shown}: expected {_vocabulary()}")


def spelling(flag: str) -> str:
    """How to write *flag* in clearcpuid= so that a 5.19+ kernel clears it: its x86_cap_flags[] name, else (an
    unnamed flag) its bit number."""
    if flag in CAP_NAMES:
        return CAP_NAMES[flag]
    bit = {**FLAG_BITS, **SYNTHETIC_FLAGS}.get(flag)
    if bit is None:
        raise ValueError(f"{flag.lower()!r}: no such kernel flag (Linux has no X86_FEATURE_{flag})")
    return str(bit)


def make_options(disable=(), *, ia32_emulation: bool = True, arch: str = "x86_64") -> Options:
    """Options from the words users give (--disable, expectations files). Raises ValueError."""
    if arch not in ("x86_64", "i386"):
        raise ValueError(f"arch {arch!r}: expected x86_64 or i386")
    cfg = {"x86_64": arch == "x86_64", "ia32_emulation": ia32_emulation}
    cmdline: list[str] = []
    clear: list[str] = []
    for word in disable:
        kind, what = parse_switch(word)
        if kind == "config":
            cfg[BUILD_OPTIONS[what][0]] = False
        elif what.startswith("clearcpuid="):
            # The kernel honours only the last clearcpuid= on its command line (cmdline_find_option()), so every
            # flag asked for goes into one list, in order.
            clear += [x for x in what.split("=", 1)[1].split(",") if x not in clear]
        elif what not in cmdline:
            cmdline.append(what)
    if clear:
        cmdline.append("clearcpuid=" + ",".join(clear))
    return Options(**cfg, cmdline=tuple(cmdline))


def clearcpuid_flags(items: list[str], kernel) -> tuple[list[str], list[str]]:
    """The flags a kernel's clearcpuid= parser clears for *items* (numbers or names, as written), and what it
    makes of the rest."""
    parse, out, lost = kernel.clearcpuid_parse, [], []
    for i, item in enumerate(items):
        if item.isdigit():
            if parse == "first-number" and i:
                lost.append(f"{item}: Linux {kernel.model} reads only the first number (one get_option())")
                continue
            out.append(_BY_BIT[int(item)])
        elif parse != "names":
            why = f"{item}: Linux {kernel.model} reads bit numbers, not names"
            if parse == "numbers" and i + 1 < len(items):
                why += ", and a name ends the list (the rest is ignored)"
            lost.append(why + _number_hint(item))
            if parse == "numbers":
                lost += [f"{x}: after a name, ignored" for x in items[i + 1:]]
                break
        else:
            flag = _BY_CAP_NAME.get(item)
            if flag is None or kernel.version[:2] < _CAP_NAME_SINCE.get(flag, (0,)):
                lost.append(f"{item}: the kernel knows no flag by that name ('clearcpuid: unknown CPU flag')"
                            + _number_hint(item))
            else:
                out.append(flag)
    return out, lost


def _number_hint(item: str) -> str:
    flag = _BY_CAP_NAME.get(item) or item.upper()
    bit = {**FLAG_BITS, **SYNTHETIC_FLAGS}.get(flag)
    if bit is not None:
        return f"; clearcpuid={bit} clears {flag}"
    return "; Linux has no such flag" if flag == "UINTR" else ""


def _dependants(flags: set[str], cleared: set[str], deps: dict) -> set[str]:
    """Every flag in *flags* that depends, directly or not, on one in *cleared* (do_clear_cpu_cap())."""
    out = set(cleared)
    changed = True
    while changed:
        changed = False
        for child, parents in deps.items():
            if child not in out and out.intersection(parents):
                out.add(child)
                changed = True
    return out & (flags | cleared)


@record
class Applied:
    flags: frozenset[str]  # boot_cpu_data after the command line, plus OSPKE/USER_SHSTK as the kernel sets them
    notes: list  # (switch, mechanism, what it did) for every switch that differs from the defaults


def apply(cpu_flags, kernel, options: Options) -> Applied:
    """boot_cpu_data as fpu__init_system_xstate() sees it: CPUID flags, then the boot parameters through
    setup_clear_cpu_cap() and this kernel's cpuid-deps.c, then what the build options decide (OSPKE)."""
    flags = set(cpu_flags)
    notes = []
    cleared: set[str] = set()
    for param in options.cmdline:
        if param in NO_PARAMS or param.startswith("clearcpuid="):
            lost: list[str] = []
            if param in NO_PARAMS:
                targets = [NO_PARAMS[param]]
            else:
                targets, lost = clearcpuid_flags(param.split("=", 1)[1].split(","), kernel)
            cleared |= set(targets)
            gone = _dependants(flags, set(targets), kernel.flag_deps) & flags
            flags -= gone
            also = sorted(gone - set(targets))
            how = f"setup_clear_cpu_cap({', '.join(targets)})" if targets else "clears nothing"
            if also:
                how += f" also clears {', '.join(also)} (cpuid-deps.c of {kernel.model})"
            if "USER_SHSTK" in targets:
                how += (": like nousershstk, no process gets a shadow stack; SHSTK, and with it CET_U, stay"
                        if kernel.nousershstk else f": Linux {kernel.model} has no such flag")
            elif targets and not gone:
                how += ": the CPU does not have it"
            if lost:
                how += "; not cleared: " + "; ".join(lost)
            notes.append((param, "boot parameter", how))
        elif param == "nopku":
            notes.append((param, "boot parameter", "setup_pku() leaves CR4.PKE off, so the kernel never sets OSPKE; "
                                                   "the PKU bit stays"))
        elif param == "nousershstk":
            if kernel.nousershstk:
                notes.append((param, "boot parameter", "clears USER_SHSTK only: no process gets a shadow stack; "
                                                       "SHSTK, and with it CET_U, stay"))
            else:
                notes.append((param, "ignored", f"Linux {kernel.model} has no 'nousershstk' parameter; the kernel "
                                                "passes it to init and nothing changes"))
        elif param == "noxsavec":
            notes.append((param, "ignored", "Linux has no 'noxsavec' parameter (cpu_parse_early_param() knows noxsave, "
                                            "noxsaveopt and noxsaves): the kernel passes it to init and nothing "
                                            "changes; use clearcpuid=xsavec"))
    # CR4.PKE, hence OSPKE: setup_pku() needs cpu_feature_enabled(PKU) (the build option) and no 'nopku'.
    if "PKU" in flags and options.config("CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS") and "nopku" not in options.cmdline:
        flags.add("OSPKE")
    if "SHSTK" in flags and kernel.nousershstk and options.config("CONFIG_X86_USER_SHADOW_STACK") \
            and "nousershstk" not in options.cmdline and "USER_SHSTK" not in cleared:
        flags.add("USER_SHSTK")
    for name in BUILD_OPTIONS:
        attr, lost, since = BUILD_OPTIONS[name]
        if getattr(options, attr) or (not options.x86_64 and name in NEED_64BIT):
            continue  # on, or absent from a 32-bit kernel (its note says so)
        notes.append((f"{name}=n", "build option", _build_note(name, kernel, options, since)))
    return Applied(frozenset(flags), notes)


def _build_note(name: str, kernel, options: Options, since) -> str:
    if kernel.version[:2] < since:
        return f"Linux {kernel.model} has no such option: nothing changes"
    if name == "CONFIG_X86_64":
        return ("a 32-bit kernel: XFEATURE_MASK_XTILE is 0 and XFD is a disabled feature, so no AMX; IA32 "
                "emulation, protection keys, user shadow stack and IOMMU SVM are 64-bit-only options, so no OSPKE "
                "and no PKRU; the signal frame is the native struct sigframe_ia32, 732 bytes (gcc -m32 on the 7.3 "
                "uapi headers; 736 on x86-64, where u64 is 8-byte aligned)")
    if name == "CONFIG_IA32_EMULATION":
        return "the signal frame drops the 112-byte fsave header and the 736-byte sigframe_ia32: rt_sigframe (440)"
    if name == "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS":
        return ("PKU is a disabled feature: setup_pku() leaves CR4.PKE off, so the kernel never sets "
                "OSPKE; the PKU bit stays in boot_cpu_data")
    if name == "CONFIG_X86_USER_SHADOW_STACK":
        return ("USER_SHSTK is a disabled feature: no process gets a shadow stack; "
                "xsave_cpuid_features[] checks SHSTK with boot_cpu_has(), so CET_U stays")
    return ("ENQCMD is a disabled feature for cpu_feature_enabled(); xsave_cpuid_features[] checks it "
            "with boot_cpu_has(), so PASID stays")
