"""CPUID dumps -> profiles: Todd Allen's ``cpuid -r``, AIDA64/InstLatx64, the kernel's
own dump (printed with an XSAVE consistency warning) and Intel SDE ``cpuid.def``.

A dump is parsed into registers per logical CPU; :func:`to_profile` reads leaf 0xD
(enumerating components by the supported masks, which have holes), the leaf 1/7
flags the kernel model needs and the brand string, and writes profile YAML that
the strict profile loader then validates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import components as C
from . import layout as L
from .errors import ImportFormatError

Regs = tuple[int, int, int, int]


@dataclass
class Dump:
    format: str
    source: str
    cpus: dict[str, dict[tuple[int, int], Regs]] = field(default_factory=dict)
    lines: dict[tuple[str, int, int], int] = field(default_factory=dict)


def _hex(s: str) -> int:
    return int(s, 16)


_CPUID_R = re.compile(r"^\s*0x([0-9a-fA-F]{8})\s+0x([0-9a-fA-F]{1,8}):\s+eax=0x([0-9a-fA-F]{8})\s+"
                      r"ebx=0x([0-9a-fA-F]{8})\s+ecx=0x([0-9a-fA-F]{8})\s+edx=0x([0-9a-fA-F]{8})\s*$")
_CPUID_R_CPU = re.compile(r"^\s*CPU(?:\s+(\d+))?:\s*$")
_AIDA = re.compile(r"^\s*CPUID ([0-9A-Fa-f]{8}): ([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})-"
                   r"([0-9A-Fa-f]{8})(?:\s+\[SL ([0-9A-Fa-f]{2,8})\])?")
_AIDA_CPU = re.compile(r"CPUID Registers / Logical CPU #(\d+)")
_KERNEL = re.compile(r"CPUID\[([0-9a-fA-F]{2,8}), ([0-9a-fA-F]{2,8})\]: eax=([0-9a-fA-F]{8}) ebx=([0-9a-fA-F]{8}) "
                     r"ecx=([0-9a-fA-F]{8}) edx=([0-9a-fA-F]{8})")
_SDE = re.compile(r"^\s*([0-9a-fA-F]{8})\s+([0-9a-fA-F]{8})\s*=>\s*([0-9a-fA-F]{8})\s+([0-9a-fA-F]{8})\s+"
                  r"([0-9a-fA-F]{8})\s+([0-9a-fA-F]{8})\s*(?:#.*)?$")

FORMATS = {
    "cpuid-r": "Todd Allen's cpuid -r / -1 -r",
    "aida64": "AIDA64 / InstLatx64 'CPUID 0000000D: ...-...-...-... [SL 00]'",
    "kernel": "the kernel's 'CPUID[0d, 00]: eax=... ' dump (XSAVE consistency warning)",
    "sde": "Intel SDE cpuid.def 'EAX ECX => EAX EBX ECX EDX'",
}


def detect(text: str) -> str | None:
    """The dump format, judged from the first lines that match one."""
    for line in text.splitlines()[:20000]:
        if _CPUID_R.match(line):
            return "cpuid-r"
        if _AIDA.match(line):
            return "aida64"
        if _KERNEL.search(line):
            return "kernel"
        if _SDE.match(line):
            return "sde"
    return None


def parse(text: str, source: str, fmt: str | None = None) -> Dump:
    """Registers per logical CPU. Raises ImportFormatError naming the file when nothing is usable."""
    fmt = fmt or detect(text)
    if fmt is None:
        raise ImportFormatError(f"{source}: not a CPUID dump I can read; expected one of: "
                                + "; ".join(FORMATS.values()))
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown dump format {fmt!r}; known: {', '.join(FORMATS)}")
    dump = Dump(fmt, source)
    cpu = "0"
    for no, line in enumerate(text.splitlines(), 1):
        regs = None
        if fmt == "cpuid-r":
            m = _CPUID_R_CPU.match(line)
            if m:
                cpu = m.group(1) or "0"
                continue
            m = _CPUID_R.match(line)
            if m:
                leaf, sub, regs = _hex(m.group(1)), _hex(m.group(2)), tuple(_hex(m.group(i)) for i in range(3, 7))
        elif fmt == "aida64":
            m = _AIDA_CPU.search(line)
            if m:
                cpu = m.group(1)
                continue
            m = _AIDA.match(line)
            if m:
                leaf, sub = _hex(m.group(1)), _hex(m.group(6) or "0")
                regs = tuple(_hex(m.group(i)) for i in range(2, 6))
        elif fmt == "kernel":
            m = _KERNEL.search(line)
            if m:
                leaf, sub, regs = _hex(m.group(1)), _hex(m.group(2)), tuple(_hex(m.group(i)) for i in range(3, 7))
        else:
            m = _SDE.match(line)
            if m:
                leaf, sub, regs = _hex(m.group(1)), _hex(m.group(2)), tuple(_hex(m.group(i)) for i in range(3, 7))
        if regs is None:
            continue
        table = dump.cpus.setdefault(cpu, {})
        table.setdefault((leaf, sub), regs)
        dump.lines.setdefault((cpu, leaf, sub), no)
    if not dump.cpus:
        raise ImportFormatError(f"{source}: no CPUID register lines in the {FORMATS[fmt]} format")
    return dump


# Flags the kernel model needs: (leaf, sub-leaf, register index, bit) -> X86_FEATURE name.
_FLAG_BITS = [
    ((1, 0), 3, 0, "FPU"), ((1, 0), 3, 24, "FXSR"), ((1, 0), 3, 25, "XMM"),
    ((1, 0), 2, 26, "XSAVE"), ((1, 0), 2, 28, "AVX"), ((1, 0), 2, 31, "HYPERVISOR"),
    ((7, 0), 1, 14, "MPX"), ((7, 0), 1, 16, "AVX512F"), ((7, 0), 1, 25, "INTEL_PT"),
    ((7, 0), 2, 3, "PKU"), ((7, 0), 2, 7, "SHSTK"), ((7, 0), 2, 29, "ENQCMD"),
    ((7, 0), 3, 5, "UINTR"), ((7, 0), 3, 19, "ARCH_LBR"), ((7, 0), 3, 20, "IBT"), ((7, 0), 3, 24, "AMX_TILE"),
    ((7, 1), 3, 21, "APX"),
    ((0xD, 1), 0, 0, "XSAVEOPT"), ((0xD, 1), 0, 1, "XSAVEC"), ((0xD, 1), 0, 2, "XGETBV1"),
    ((0xD, 1), 0, 3, "XSAVES"), ((0xD, 1), 0, 4, "XFD"),
]
# Components that imply a flag when a dump has no leaf 1/7 (the kernel's own dump).
_IMPLIED = {C.YMM: "AVX", C.BNDREGS: "MPX", C.OPMASK: "AVX512F", C.PT: "INTEL_PT", C.PKRU: "PKU",
            C.PASID: "ENQCMD", C.CET_USER: "SHSTK", C.LBR: "ARCH_LBR", C.UINTR: "UINTR",
            C.XTILE_DATA: "AMX_TILE", C.APX: "APX"}
_VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "hygon",
            "CentaurHauls": "zhaoxin", "  Shanghai  ": "zhaoxin"}


def _text(*regs: int) -> str:
    return b"".join(r.to_bytes(4, "little") for r in regs).decode("latin-1")


@dataclass
class ImportResult:
    text: str  # the profile YAML
    name: str
    notes: list[str]  # what the importer decided or ignored (stderr)
    warnings: list[str]  # disagreements worth a look


def _slug(brand: str) -> str:
    s = re.sub(r"\((?:R|TM|tm|r)\)|CPU|Processor|\d+-Core|@.*$", " ", brand)
    s = re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()
    return s or "imported-cpu"


def _cut_hint(table, leaf: int) -> str:
    subs = sorted(s for (lf, s) in table if lf == leaf)
    return f"the dump was cut at sub-leaf {subs[-1]:#x}" if subs else f"the dump has no leaf {leaf:#x} at all"


def to_profile(dump: Dump, name: str | None = None) -> ImportResult:
    """Profile YAML from the first logical CPU of *dump*; checks the others agree on leaf 0xD."""
    notes, warnings = [], []
    cpus = list(dump.cpus)
    first = cpus[0]
    regs = dump.cpus[first]
    src = dump.source

    def need(leaf, sub, why):
        if (leaf, sub) not in regs:
            hint = _cut_hint(regs, leaf)
            raise ImportFormatError(f"{src}: CPUID leaf {leaf:#x} sub-leaf {sub:#x} missing ({why}): {hint}")
        return regs[(leaf, sub)]

    sl0 = need(0xD, 0, "XCR0-supported mask and sizes")
    sl1 = need(0xD, 1, "IA32_XSS-supported mask and XSAVEC/XSAVES flags")
    xcr0 = sl0[0] | sl0[3] << 32
    xss = sl1[2] | sl1[3] << 32
    if xcr0 & xss:
        raise ImportFormatError(f"{src}: leaf 0xD reports components {C.names(xcr0 & xss)} in both the XCR0 and "
                                "IA32_XSS masks")
    comps = {}
    for n in C.bits((xcr0 | xss) & ~C.MASK_FPSSE):
        eax, ebx, ecx, _ = need(0xD, n, f"component {n} ({C.key(n)}) is in the supported masks")
        if eax == 0:
            raise ImportFormatError(f"{src}: leaf 0xD sub-leaf {n:#x} reports size 0 for component {n} ({C.key(n)}),"
                                    f" which the supported masks name (line {dump.lines.get((first, 0xD, n))})")
        sup = bool(ecx & 1)
        if sup != bool(xss >> n & 1):
            warnings.append(f"sub-leaf {n:#x}: ECX[0] says {'supervisor' if sup else 'user'} but the component is in "
                            f"the {'IA32_XSS' if xss >> n & 1 else 'XCR0'} mask; the mask wins")
            sup = bool(xss >> n & 1)
        comps[n] = {"size": eax, "offset": 0 if sup else ebx, "supervisor": sup, "align64": bool(ecx & 2),
                    "xfd": bool(ecx & 4)}
        if sup and ebx:
            warnings.append(f"sub-leaf {n:#x}: supervisor component with standard offset {ebx}; recorded as 0")
    extra = sorted(s for (lf, s) in regs if lf == 0xD and s >= 2 and not (xcr0 | xss) >> s & 1 and any(regs[(lf, s)]))
    if extra:
        notes.append(f"ignored leaf 0xD sub-leaves {', '.join(f'{s:#x}' for s in extra)}: data for components "
                     "outside the supported masks (some CPUs report it)")

    # Other logical CPUs must agree on leaf 0xD (hybrid parts do; a broken hypervisor might not).
    differ = []
    for cpu in cpus[1:]:
        mine = {k: v for k, v in dump.cpus[cpu].items() if k[0] == 0xD}
        ref = {k: v for k, v in regs.items() if k[0] == 0xD}
        if mine and mine != ref:
            keys = sorted(k for k in set(mine) | set(ref) if mine.get(k) != ref.get(k))
            differ.append(f"CPU {cpu} (sub-leaf {', '.join(f'{s:#x}' for _, s in keys[:4])})")
    if differ:
        warnings.append(f"leaf 0xD differs from CPU {first} on {len(differ)} logical CPU(s): {'; '.join(differ[:8])}"
                        f"; the profile uses CPU {first}")
    elif len(cpus) > 1:
        notes.append(f"leaf 0xD is identical on all {len(cpus)} logical CPUs")

    flags = set()
    max_leaf = regs.get((0, 0), (None,))[0]
    for (leaf, sub), idx, bitno, flag in _FLAG_BITS:
        r = regs.get((leaf, sub))
        if r is None or (leaf == 7 and max_leaf is not None and max_leaf < 7):
            continue
        if leaf == 7 and sub == 1 and regs.get((7, 0), (0,))[0] < 1:
            continue
        if r[idx] >> bitno & 1:
            flags.add(flag)
    if (1, 0) not in regs:
        flags |= {"FPU", "FXSR", "XMM", "XSAVE"} | {f for n, f in _IMPLIED.items() if (xcr0 | xss) >> n & 1}
        notes.append("the dump has no leaf 1 or 7: CPU flags inferred from the enumerated components "
                     "(edit the profile's flags if the CPU hides one)")
    elif (7, 0) not in regs and (max_leaf or 0) >= 7:
        warnings.append("leaf 7 missing: AVX-512, PKU, CET, AMX and MPX flags are unknown and left out")

    vendor = "other"
    if (0, 0) in regs:
        _, b, c, d = regs[(0, 0)]
        vendor = _VENDORS.get(_text(b, d, c), "other")
    elif xcr0 & C.MASK_MPX or xcr0 & C.MASK_XTILE:
        vendor = "intel"
    family = model = None
    if (1, 0) in regs:
        eax = regs[(1, 0)][0]
        base_fam, ext_fam = eax >> 8 & 0xF, eax >> 20 & 0xFF
        family = base_fam + ext_fam if base_fam == 0xF else base_fam
        model = (eax >> 4 & 0xF) | ((eax >> 16 & 0xF) << 4 if base_fam in (6, 0xF) else 0)
    brand = ""
    if all((lf, 0) in regs for lf in (0x80000002, 0x80000003, 0x80000004)):
        brand = "".join(_text(*regs[(lf, 0)]) for lf in (0x80000002, 0x80000003, 0x80000004))
        brand = re.sub(r"\s+", " ", brand.replace("\0", " ")).strip()
    name = name or (_slug(brand) if brand else "imported-cpu")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name):
        raise ImportFormatError(f"--name {name!r}: use letters, digits and . _ + -")

    # The sizes the hardware reported, held against the engine's.
    from .profile import loads_profile

    lines = [
        f"# Imported by xstatecalc from {src} ({FORMATS[dump.format]}), logical CPU {first}.",
        "# Every number below is the dump's; 'reported' keeps the sizes for self-checks.",
        f"name: {name}",
        f"vendor: {vendor}",
        f"description: {_q(brand or 'CPU imported from a CPUID dump')}",
        f"source: {_q(f'{src} ({dump.format})')}",
    ]
    if family is not None:
        lines += [f"family: {family:#x}", f"model: {model:#x}"]
    lines += [f"flags: [{', '.join(sorted(flags))}]",
              f"xcr0_supported: {xcr0:#x}   # CPUID(0xD,0) EDX:EAX",
              f"xss_supported: {xss:#x}   # CPUID(0xD,1) EDX:ECX",
              "components:" + ("" if comps else " {}")]
    for n, c in comps.items():
        parts = [f"size: {c['size']}"] + ([f"offset: {c['offset']}"] if not c["supervisor"] else [])
        parts += [f"{k}: true" for k in ("supervisor", "align64", "xfd") if c[k]]
        lines.append(f"  {n}: {{{', '.join(parts)}}}   # {C.key(n)}")
    lines += ["reported:",
              f"  xcr0_size: {sl0[1]}   # CPUID(0xD,0).EBX",
              f"  xcr0_max_size: {sl0[2]}   # CPUID(0xD,0).ECX",
              f"  compacted_size: {sl1[1]}   # CPUID(0xD,1).EBX"]
    text = "\n".join(lines) + "\n"
    prof = loads_profile(text, f"{src} (imported)")
    notes += _size_report(prof, sl0, sl1, warnings)
    return ImportResult(text, name, notes, warnings)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _size_report(prof, sl0, sl1, warnings) -> list[str]:
    """Compare 0xD.0 ECX/EBX and 0xD.1 EBX with what the components give."""
    notes = []
    full = L.standard_size(prof, prof.xcr0_supported, "offset")
    if sl0[2] == full:
        notes.append(f"CPUID(0xD,0).ECX {sl0[2]} = standard size of every XCR0-supported component: agrees")
    else:
        warnings.append(f"CPUID(0xD,0).ECX {sl0[2]} != {full}, the standard size the components give")
    # The XCR0 in effect when dumped is not in the dump: try the architecturally valid ones.
    user = list(C.bits(prof.xcr0_supported & ~C.MASK_FPSSE))
    groups: list[int] = []
    for grp in (C.MASK_MPX, C.MASK_AVX512, C.MASK_XTILE):
        if prof.xcr0_supported & grp:
            groups.append(prof.xcr0_supported & grp)
    singles = [C.bit(n) for n in user if not any(C.bit(n) & g for g in groups)]
    units = groups + singles
    matches = []
    if len(units) <= 12:
        for sel in range(1 << len(units)):
            x = C.MASK_FPSSE | sum(u for i, u in enumerate(units) if sel >> i & 1)
            if L.standard_size(prof, x, "offset") == sl0[1]:
                matches.append(x)
    if matches:
        x = max(matches, key=lambda m: bin(m).count("1"))
        notes.append(f"CPUID(0xD,0).EBX {sl0[1]} = standard size for XCR0 {x:#x}, the XCR0 the dumping OS had "
                     "enabled (inferred)")
        xss_bits = [C.bit(n) for n in C.bits(prof.xss_supported)]
        hit = None
        if len(xss_bits) <= 10:
            for sel in range(1 << len(xss_bits)):
                s = sum(b for i, b in enumerate(xss_bits) if sel >> i & 1)
                if L.compacted_size(prof, x | s) == sl1[1]:
                    hit = s
                    break
        if sl1[1] == 0:
            notes.append("CPUID(0xD,1).EBX is 0 (no XSAVES/XSAVEC size reported)")
        elif hit is not None:
            notes.append(f"CPUID(0xD,1).EBX {sl1[1]} = compacted size for XCR0 {x:#x} | IA32_XSS {hit:#x}: agrees")
        else:
            warnings.append(f"CPUID(0xD,1).EBX {sl1[1]} matches no IA32_XSS combination with XCR0 {x:#x}")
    else:
        warnings.append(f"CPUID(0xD,0).EBX {sl0[1]} is not the standard size of any valid XCR0")
    return notes
