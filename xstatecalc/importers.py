"""CPUID dumps -> profiles: Todd Allen's ``cpuid -r``, AIDA64/InstLatx64 (every layout the collection
uses), the kernel's own dump (printed with an XSAVE consistency warning) and Intel SDE ``cpuid.def``.

A dump is parsed, line by line and without backtracking, into registers per logical CPU.
:func:`to_profile` reads leaf 0xD (enumerating components by the supported masks, which have
holes), the leaf 1/7 flags the kernel model needs and the brand string, and writes profile
YAML that the strict profile loader then validates. What the importer decided goes to notes;
what is inconsistent in the dump goes to warnings; what no kernel would accept goes to findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import components as C
from . import layout as L
from .errors import ImportFormatError

Regs = tuple[int, int, int, int]
MAX_LINE = 1024  # no register line is longer; longer lines are skipped unread

# Leaves whose ECX selects a sub-leaf: in dumps without [SL nn] tags their lines come in sub-leaf order.
SUBLEAF_LEAVES = frozenset({4, 7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1A, 0x1B, 0x1D, 0x1E, 0x1F, 0x20,
                            0x23, 0x24, 0x8000001D, 0x80000020, 0x80000026})
READ_LEAVES = frozenset({0, 1, 7, 0xD, 0x80000000, 0x80000002, 0x80000003, 0x80000004})


@dataclass
class Dump:
    format: str
    source: str
    cpus: dict[str, dict[tuple[int, int], Regs]] = field(default_factory=dict)
    lines: dict[tuple[str, int, int], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


FORMATS = {
    "cpuid-r": "Todd Allen's cpuid -r / -1 -r",
    "aida64": "AIDA64 / InstLatx64 'CPUID 0000000D: EAX-EBX-ECX-EDX [SL 00]'",
    "kernel": "the kernel's 'CPUID[0d, 00]: eax=... ' dump (XSAVE consistency warning)",
    "sde": "Intel SDE cpuid.def 'EAX ECX => EAX EBX ECX EDX'",
}


def _hex(s: str, width: int = 8) -> int | None:
    """An unsigned hex field of at most *width* digits, or None."""
    if not 1 <= len(s) <= width or any(ch not in "0123456789abcdefABCDEF" for ch in s):
        return None
    return int(s, 16)


# ------------------------------------------------------------------ one line of each format

def _aida_line(line: str):
    """'CPUID 0000000D: 00000207-00000340-00000988-00000000 [SL 00] [x87]' -> (leaf, sub or None, regs)."""
    s = line.strip()
    if not s.startswith("CPUID ") or len(s) < 50 or s[14:16] != ": ":
        return None
    leaf = _hex(s[6:14])
    parts = s[16:51].split("-")
    if leaf is None or len(parts) != 4 or s[51:52] not in ("", " ", "\t"):
        return None
    regs = tuple(_hex(p) for p in parts)
    if None in regs or any(len(p) != 8 for p in parts):
        return None
    sub = None
    tag = s.find("[SL ", 51)
    if tag != -1:
        end = s.find("]", tag)
        sub = _hex(s[tag + 4:end]) if end != -1 else None
    return leaf, sub, regs


def _cpuid_r_line(line: str):
    """'   0x0000000d 0x01: eax=0x0000000f ebx=... ecx=... edx=...' -> (leaf, sub, regs)."""
    f = line.split()
    if len(f) != 6 or not f[0].startswith("0x") or not f[1].startswith("0x") or not f[1].endswith(":"):
        return None
    leaf, sub = _hex(f[0][2:]), _hex(f[1][2:-1])
    regs = []
    for field_, name in zip(f[2:], ("eax=0x", "ebx=0x", "ecx=0x", "edx=0x")):
        if not field_.startswith(name):
            return None
        regs.append(_hex(field_[len(name):]))
    if leaf is None or sub is None or None in regs:
        return None
    return leaf, sub, tuple(regs)


def _kernel_line(line: str):
    """'... CPUID[0d, 01]: eax=0000001b ebx=000029d0 ecx=00001800 edx=00000000' -> (leaf, sub, regs)."""
    at = line.find("CPUID[")
    if at == -1:
        return None
    s = line[at + 6:]
    close = s.find("]: ")
    if close == -1:
        return None
    ids = s[:close].split(",")
    f = s[close + 3:].split()
    if len(ids) != 2 or len(f) < 4:
        return None
    leaf, sub = _hex(ids[0].strip()), _hex(ids[1].strip())
    regs = []
    for field_, name in zip(f[:4], ("eax=", "ebx=", "ecx=", "edx=")):
        regs.append(_hex(field_[len(name):]) if field_.startswith(name) else None)
    if leaf is None or sub is None or None in regs:
        return None
    return leaf, sub, tuple(regs)


def _sde_line(line: str):
    """'0000000d 00000001 => 0000000f 00000440 00000000 00000000  # comment' -> (leaf, sub, regs)."""
    body = line.split("#", 1)[0]
    if "=>" not in body:
        return None
    left, right = body.split("=>", 1)
    a, b = left.split(), right.split()
    if len(a) != 2 or len(b) != 4:
        return None
    vals = [_hex(x) for x in a + b]
    if None in vals:
        return None
    return vals[0], vals[1], tuple(vals[2:])


_LINE_PARSERS = {"cpuid-r": _cpuid_r_line, "aida64": _aida_line, "kernel": _kernel_line, "sde": _sde_line}


def _header(line: str, fmt: str) -> str | None:
    """A logical-CPU header line -> its CPU id, else None. Every layout the collections use."""
    s = line.strip()
    if fmt == "cpuid-r":
        if s == "CPU:":
            return "0"
        if s.startswith("CPU ") and s.endswith(":") and s[4:-1].strip().isdigit() and s[4:-1].isascii():
            return str(int(s[4:-1]))
        return None
    if fmt != "aida64":
        return None
    at = s.find("Logical CPU #")
    if s.startswith("---") and at != -1:
        num = s[at + 13:].split(" ", 1)[0].rstrip("]-")
        return str(int(num)) if num.isascii() and num.isdigit() and len(num) < 7 else None
    if s.startswith("CPU#") and "AffMask" in s:
        num = s[4:].split(" ", 1)[0]
        return str(int(num)) if num.isascii() and num.isdigit() and len(num) < 7 else None
    if s.startswith("CPU ") and s.endswith(":") and s[4:-1].strip().isascii() and s[4:-1].strip().isdigit():
        return str(int(s[4:-1]))
    return None


def detect(text: str) -> str | None:
    """The dump format, judged from the first lines that match one."""
    for n, line in enumerate(text.splitlines()):
        if n > 20000:
            break
        if len(line) > MAX_LINE:
            continue
        for fmt in ("cpuid-r", "aida64", "kernel", "sde"):
            if _LINE_PARSERS[fmt](line):
                return fmt
    return None


# ------------------------------------------------------------------ whole dumps

class _Block:
    """One logical CPU's lines: tagged registers, untagged lines per leaf in order, and their line numbers."""

    def __init__(self, cpu: str):
        self.cpu = cpu
        self.regs: dict[tuple[int, int], Regs] = {}
        self.lines: dict[tuple[int, int], int] = {}
        self.untagged: dict[int, list[tuple[Regs, int]]] = {}
        self.malformed: list[tuple[int, int | None, str]] = []  # (line, leaf if readable, text): register-like lines


def parse(text: str, source: str, fmt: str | None = None) -> Dump:
    """Registers per logical CPU. Raises ImportFormatError naming the file when nothing is usable."""
    from .yamltext import visible

    source = visible(source)
    fmt = fmt or detect(text)
    if fmt is None:
        raise ImportFormatError(f"{source}: not a CPUID dump I can read; expected one of: "
                                + "; ".join(FORMATS.values()))
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown dump format {fmt!r}; known: {', '.join(FORMATS)}")
    parse_line = _LINE_PARSERS[fmt]
    dump = Dump(fmt, source)
    blocks: list[_Block] = []
    explicit_headers = False
    skipped = 0
    for no, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_LINE:
            skipped += 1
            continue
        cpu = _header(line, fmt)
        if cpu is not None:
            explicit_headers = True
            blocks.append(_Block(cpu))
            continue
        got = parse_line(line)
        if got is None:
            if fmt == "aida64" and _aida_like(line):
                if not blocks:
                    blocks.append(_Block("0"))
                s = line.strip()
                blocks[-1].malformed.append((no, _hex(s[6:14]), s))
            continue
        leaf, sub, regs = got
        if not blocks:
            blocks.append(_Block("0"))
        blk = blocks[-1]
        if leaf == 0 and sub in (None, 0) and (0, 0) in blk.regs and not explicit_headers:
            # No headers in this dump: a second leaf-0 line starts the next logical CPU.
            blk = _Block(str(len(blocks)))
            blocks.append(blk)
        if sub is None and leaf in SUBLEAF_LEAVES:
            blk.untagged.setdefault(leaf, []).append((regs, no))
            continue
        key = (leaf, sub or 0)
        if key in blk.regs and blk.regs[key] != regs:
            _conflict(dump, blk, key, regs, no)
            continue
        blk.regs.setdefault(key, regs)
        blk.lines.setdefault(key, no)
    if skipped:
        dump.notes.append(f"skipped {skipped} line(s) longer than {MAX_LINE} characters: no register line is")
    worked_out = {}
    for blk in blocks:
        choice = _resolve_untagged(dump, blk)
        if choice is not None:
            worked_out.setdefault(choice, []).append(blk)
    for (how, subs), blks in worked_out.items():
        where = (f"logical CPU {blks[0].cpu}" if len(blks) == 1 else f"{len(blks)} logical CPUs")
        dump.notes.append(f"leaf 0xD lines carry no [SL nn] tags ({where}, first at line "
                          f"{blks[0].untagged[0xD][0][1]}): read as sub-leaves 0 and 1, then {how}"
                          + (f": {', '.join(f'{s:#x}' for s in subs)}" if subs else " (none follow)"))
    for blk in blocks:
        if blk.regs:
            cpu = blk.cpu if blk.cpu not in dump.cpus else f"{blk.cpu}.{len(dump.cpus)}"
            dump.cpus[cpu] = blk.regs
            for (leaf, sub), no in blk.lines.items():
                dump.lines[(cpu, leaf, sub)] = no
    if not dump.cpus:
        raise ImportFormatError(f"{source}: no CPUID register lines in the {FORMATS[fmt]} format")
    return dump


def _conflict(dump: Dump, blk: _Block, key, regs, no: int) -> None:
    leaf, sub = key
    first = blk.lines[key]
    msg = (f"{dump.source}: line {no} repeats CPUID leaf {leaf:#x} sub-leaf {sub:#x} of logical CPU {blk.cpu} "
           f"(line {first}) with different values: two dumps pasted together?")
    if leaf in READ_LEAVES:
        raise ImportFormatError(msg + " Split the file and import each dump.")
    dump.warnings.append(msg + " (the importer does not read this leaf)")


def _aida_like(line: str) -> bool:
    """'CPUID 0000000D: …' that _aida_line() could not read: a register line damaged in transit (not 'CPUID
    Manufacturer: …' or 'CPUID Revision    : …', which AIDA64 reports also print)."""
    s = line.strip()
    return s.startswith("CPUID ") and s[14:15] == ":" and " " not in s[6:14]


def _resolve_untagged(dump: Dump, blk: _Block):
    """Give untagged sub-leaf lines their numbers: in order for most leaves; leaf 0xD by its supported masks.
    Returns how leaf 0xD was read, (description, sub-leaves from 2), or None."""
    for leaf in (7, 0xD):  # the sub-leaf leaves the importer reads
        for no, bad_leaf, text in blk.malformed if leaf in blk.untagged else ():
            if bad_leaf in (None, leaf):
                # Without [SL nn] tags a line's sub-leaf is its position: skipping this line would move every later
                # line of the leaf onto the wrong sub-leaf, and the profile would be wrong without a word.
                from .yamltext import clip

                raise ImportFormatError(f"{dump.source}: line {no}: {clip(text, 60)!r} is not a readable register "
                                        f"line, and leaf {leaf:#x}'s lines carry no [SL nn] tags: every sub-leaf after "
                                        "it would shift; fix or delete the line")
    choice = None
    for leaf, items in blk.untagged.items():
        if leaf != 0xD:
            for sub, (regs, no) in enumerate(items):
                blk.regs.setdefault((leaf, sub), regs)
                blk.lines.setdefault((leaf, sub), no)
            continue
        subs, choice = _xsave_subleaves(items)
        for sub, (regs, no) in zip(subs, items):
            key = (0xD, sub)
            if key in blk.regs and blk.regs[key] != regs:
                _conflict(dump, blk, key, regs, no)
            blk.regs.setdefault(key, regs)
            blk.lines.setdefault(key, no)
    return choice


def _xsave_subleaves(items):
    """Sub-leaf numbers for untagged leaf 0xD lines: 0 and 1 first, then either one line per component of the
    supported masks (ascending) or every sub-leaf from 2 on; the one the registers agree with wins."""
    if len(items) < 2:
        return [0][:len(items)], ("nothing", ())
    sl0, sl1 = items[0][0], items[1][0]
    masks = (sl0[0] | sl0[3] << 32) | (sl1[2] | sl1[3] << 32)
    xss = sl1[2] | sl1[3] << 32
    rest = [regs for regs, _ in items[2:]]
    by_mask = list(C.bits(masks & ~C.MASK_FPSSE))[:len(rest)]
    in_order = list(range(2, 2 + len(rest)))

    def mismatches(subs):
        bad = 0
        for sub, regs in zip(subs, rest):
            listed = bool(masks >> sub & 1)
            bad += listed != bool(regs[0]) or (listed and (regs[2] & 1) != (xss >> sub & 1))
        return bad

    choice = in_order if mismatches(in_order) < mismatches(by_mask) else by_mask
    how = "one line per supported component" if choice is by_mask else "every sub-leaf from 2 on"
    return [0, 1] + choice, (how, tuple(choice))


# ------------------------------------------------------------------ the profile

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


def _used_by_linux() -> int:
    """Every component some modelled kernel puts in a task, user or guest buffer."""
    from .kernels import RELEASES, _model

    m = _model(max(r.version for r in RELEASES))
    return m.user_supported | m.supervisor_supported


@dataclass
class ImportResult:
    text: str  # the profile YAML
    name: str
    notes: list[str]  # what the importer decided or ignored (stderr)
    warnings: list[str]  # disagreements worth a look
    findings: list[str] = field(default_factory=list)  # what makes the kernel distrust this leaf 0xD (exit 1)


def _slug(brand: str) -> str:
    words = []
    for raw in brand.replace("(R)", " ").replace("(TM)", " ").replace("(tm)", " ").replace("(r)", " ").split():
        if raw.startswith("@"):
            break
        if raw in ("CPU", "Processor") or raw.endswith("-Core"):
            continue
        words.append(raw)
    out, dash = [], False
    for ch in " ".join(words).lower():
        if ch.isascii() and ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-")[:60].strip("-") or "imported-cpu"


def _cut_hint(table, leaf: int) -> str:
    subs = sorted(s for (lf, s) in table if lf == leaf)
    return f"the dump was cut at sub-leaf {subs[-1]:#x}" if subs else f"the dump has no leaf {leaf:#x} at all"


def _valid_name(name: str) -> bool:
    return (0 < len(name) <= 64 and name[0].isascii() and name[0].isalnum()
            and all(ch.isascii() and (ch.isalnum() or ch in "._+-") for ch in name))


def to_profile(dump: Dump, name: str | None = None) -> ImportResult:
    """Profile YAML from the first logical CPU of *dump*; checks the others agree on leaf 0xD."""
    notes, warnings, findings = list(dump.notes), list(dump.warnings), []
    cpus = list(dump.cpus)
    first = cpus[0]
    regs = dump.cpus[first]
    src = dump.source

    def line_of(leaf, sub):
        no = dump.lines.get((first, leaf, sub))
        return f" (line {no})" if no else ""

    def need(leaf, sub, why):
        if (leaf, sub) not in regs:
            raise ImportFormatError(f"{src}: CPUID leaf {leaf:#x} sub-leaf {sub:#x} missing ({why}): "
                                    f"{_cut_hint(regs, leaf)}")
        return regs[(leaf, sub)]

    max_leaf = regs.get((0, 0), (None,))[0]
    leaf1 = regs.get((1, 0))
    flags, known = _flags(regs, max_leaf)
    no_xsave = (leaf1 is not None and not leaf1[2] >> 26 & 1) or (max_leaf is not None and max_leaf < 0xD)
    if no_xsave:
        notes.append("the CPU has no XSAVE (CPUID.1:ECX[26] clear or no leaf 0xD): Linux uses FXSAVE/FSAVE")
        xcr0 = xss = unread = 0
        sl0 = sl1 = (0, 0, 0, 0)
        comps = {}
    else:
        sl0 = need(0xD, 0, "XCR0-supported mask and sizes")
        sl1 = need(0xD, 1, "IA32_XSS-supported mask and XSAVEC/XSAVES flags")
        xcr0 = sl0[0] | sl0[3] << 32
        xss = sl1[2] | sl1[3] << 32
        if xcr0 & xss:
            raise ImportFormatError(f"{src}: leaf 0xD reports components {C.names(xcr0 & xss)} in both the XCR0"
                                    f"{line_of(0xD, 0)} and IA32_XSS{line_of(0xD, 1)} masks")
        if xcr0 & C.MASK_FPSSE != C.MASK_FPSSE:
            # fpu__init_system_xstate(): 'FP/SSE not present amongst the CPU's xstate features', then
            # fpu__init_disable_system_xstate(): the kernel refuses this leaf 0xD (an empty mask included).
            findings.append(f"CPUID(0xD,0).EAX {sl0[0]:#x}{line_of(0xD, 0)} "
                            + ("reports no XCR0 component at all" if not xcr0 else "lacks x87 or SSE")
                            + ": Linux refuses XSAVE on this CPU ('FP/SSE not present amongst the CPU's xstate "
                              "features') and falls back to FXSAVE")
        xcr0, xss, comps, unread = _components(dump, first, regs, xcr0, xss, notes, warnings, line_of,
                                               flags if leaf1 is not None else set(), known)
    _cross_check(dump, first, notes, warnings)

    if leaf1 is None:
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
    if leaf1 is not None:
        eax = leaf1[0]
        base_fam, ext_fam = eax >> 8 & 0xF, eax >> 20 & 0xFF
        family = base_fam + ext_fam if base_fam == 0xF else base_fam
        model = (eax >> 4 & 0xF) | ((eax >> 16 & 0xF) << 4 if base_fam in (6, 0xF) else 0)
    brand = ""
    if all((lf, 0) in regs for lf in (0x80000002, 0x80000003, 0x80000004)):
        raw = "".join(_text(*regs[(lf, 0)]) for lf in (0x80000002, 0x80000003, 0x80000004))
        brand = " ".join("".join(ch if ch.isprintable() and ch.isascii() else " " for ch in raw).split())
    name = name or (_slug(brand) if brand else "imported-cpu")
    if not _valid_name(name):
        raise ImportFormatError(f"--name {name[:40]!r}: use up to 64 letters, digits and . _ + -, starting with a "
                                "letter or digit")

    from .profile import loads_profile
    from .yamltext import quote

    lines = [
        f"# Imported by xstatecalc from {quote(src)} ({FORMATS[dump.format]}), logical CPU {first}.",
        "# Every number below is the dump's; 'reported' keeps the sizes for self-checks.",
        f"name: {name}",
        f"vendor: {vendor}",
        f"description: {quote(brand or 'CPU imported from a CPUID dump')}",
        f"source: {quote(f'{src} ({dump.format})')}",
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
    reported = _size_report(comps, xcr0, xss, unread, sl0, sl1, notes, warnings, findings) if not no_xsave else {}
    if reported:
        lines.append("reported:")
        for k, (v, comment) in reported.items():
            lines.append(f"  {k}: {v}   # {comment}")
    text = "\n".join(lines) + "\n"
    from .errors import ProfileError

    try:
        loads_profile(text, f"{src} (imported)")
    except ProfileError as e:
        sub = _subleaf_of(e.where)
        where = line_of(0xD, sub).strip(" ()") if sub is not None else ""
        raise ImportFormatError(f"{src}: {where + ': ' if where else ''}{e.problem}") from None
    return ImportResult(text, name, notes, warnings, findings)


def _subleaf_of(where: str) -> int | None:
    parts = where.split(".")
    if len(parts) >= 2 and parts[0] == "components" and parts[1].isdigit():
        return int(parts[1])
    return None


def _flags(regs, max_leaf) -> tuple[set, set]:
    """(the CPU flags the dump sets, the flags it says anything about: their leaf is in the dump)."""
    flags, known = set(), set()
    for (leaf, sub), idx, bitno, flag in _FLAG_BITS:
        r = regs.get((leaf, sub))
        if r is None or (leaf == 7 and max_leaf is not None and max_leaf < 7):
            continue
        if leaf == 7 and sub == 1 and regs.get((7, 0), (0,))[0] < 1:
            continue
        known.add(flag)
        if r[idx] >> bitno & 1:
            flags.add(flag)
    return flags, known


# Synthetic flags of xsave_cpuid_features[] and the CPUID flag without which the kernel never sets them.
_HARDWARE_FLAG = {"OSPKE": "PKU"}


def _never_enabled(n: int, flags: set, known: set) -> str | None:
    """The CPU flag(s) every modelled kernel's xsave_cpuid_features[] wants for component *n*, when the dump says
    the CPU lacks them all (Linux then never enables *n*, e.g. PKRU on a Zen 2: CPUID.7.ECX.PKU is 0), else None."""
    from .kernels import all_models

    wants = {_HARDWARE_FLAG.get(f, f) for m in all_models() for f in (m.cpuid_deps.get(n),) if f}
    if wants and all(f in known and f not in flags for f in wants):
        return ", ".join(sorted(wants))
    return None


def _components(dump, first, regs, xcr0, xss, notes, warnings, line_of, flags=frozenset(), known=frozenset()):
    """The sub-leaves of every supported component; what Linux never uses, or never enables on this CPU, may be
    missing or empty (a note)."""
    used = _used_by_linux()
    comps, unread = {}, 0
    src = dump.source
    for n in C.bits((xcr0 | xss) & ~C.MASK_FPSSE):
        r = regs.get((0xD, n))
        if r is None or r[0] == 0:
            what = "missing" if r is None else f"reports size 0{line_of(0xD, n)}"
            lacking = _never_enabled(n, flags, known) if used >> n & 1 else None
            if lacking:
                notes.append(f"sub-leaf {n:#x} ({C.key(n)}) {what}: the CPU lacks {lacking}, which Linux needs to "
                             f"enable component {n} (xsave_cpuid_features[]), so it is left out of the profile")
                unread |= C.bit(n)
                continue
            if used >> n & 1:
                if r is None:
                    raise ImportFormatError(f"{src}: CPUID leaf 0xd sub-leaf {n:#x} missing (component {n}, "
                                            f"{C.key(n)}, is in the supported masks and Linux uses it): "
                                            f"{_cut_hint(regs, 0xD)}")
                raise ImportFormatError(f"{src}: CPUID leaf 0xd sub-leaf {n:#x}{line_of(0xD, n)} reports size 0 "
                                        f"for component {n} ({C.key(n)}), which the supported masks name and Linux "
                                        "uses: the dump is faulty")
            notes.append(f"sub-leaf {n:#x} ({C.key(n)}) {what}: Linux never enables component {n}, so it is left "
                         "out of the profile")
            unread |= C.bit(n)
            continue
        eax, ebx, ecx, _ = r
        sup = bool(ecx & 1)
        if sup != bool(xss >> n & 1):
            warnings.append(f"sub-leaf {n:#x}{line_of(0xD, n)}: ECX[0] says {'supervisor' if sup else 'user'} but "
                            f"the component is in the {'IA32_XSS' if xss >> n & 1 else 'XCR0'} mask; the mask wins")
            sup = bool(xss >> n & 1)
        if not sup and ebx < C.XSAVE_HDR_END:
            raise ImportFormatError(f"{src}: CPUID leaf 0xd sub-leaf {n:#x}{line_of(0xD, n)} gives user component "
                                    f"{n} ({C.key(n)}) the offset {ebx}, inside the legacy area and header")
        comps[n] = {"size": eax, "offset": 0 if sup else ebx, "supervisor": sup, "align64": bool(ecx & 2),
                    "xfd": bool(ecx & 4)}
        if sup and ebx:
            warnings.append(f"sub-leaf {n:#x}{line_of(0xD, n)}: supervisor component with standard offset {ebx}; "
                            "recorded as 0")
    extra = sorted(s for (lf, s) in regs if lf == 0xD and s >= 2 and not (xcr0 | xss) >> s & 1 and any(regs[(lf, s)]))
    if extra:
        notes.append(f"ignored leaf 0xD sub-leaves {', '.join(f'{s:#x}' for s in extra)}: data for components "
                     "outside the supported masks (some CPUs report it)")
    return xcr0 & ~unread, xss & ~unread, comps, unread


def _cross_check(dump: Dump, first: str, notes, warnings) -> None:
    """Other logical CPUs must agree on leaf 0xD (hybrid parts do; a broken hypervisor might not)."""
    cpus = list(dump.cpus)
    ref = {k: v for k, v in dump.cpus[first].items() if k[0] == 0xD}
    differ = []
    for cpu in cpus[1:]:
        mine = {k: v for k, v in dump.cpus[cpu].items() if k[0] == 0xD}
        if mine and mine != ref:
            keys = sorted(k for k in set(mine) | set(ref) if mine.get(k) != ref.get(k))
            differ.append(f"CPU {cpu} (sub-leaf {', '.join(f'{s:#x}' for _, s in keys[:4])})")
    if differ:
        warnings.append(f"leaf 0xD differs from CPU {first} on {len(differ)} logical CPU(s): {'; '.join(differ[:8])}"
                        f"; the profile uses CPU {first}")
    elif len(cpus) > 1:
        notes.append(f"leaf 0xD is identical on all {len(cpus)} logical CPUs")


def _size_report(comps, xcr0, xss, unread, sl0, sl1, notes, warnings, findings) -> dict:
    """Compare 0xD.0 ECX/EBX and 0xD.1 EBX with what the components give; the 'reported' block."""
    from .profile import Component, Profile

    prof = Profile("import", "other", frozenset(), xcr0, xss,
                   {n: Component(n, c["size"], c["offset"], c["supervisor"], c["align64"], c["xfd"])
                    for n, c in comps.items()})
    reported = {"xcr0_size": (sl0[1], "CPUID(0xD,0).EBX"), "xcr0_max_size": (sl0[2], "CPUID(0xD,0).ECX"),
                "compacted_size": (sl1[1], "CPUID(0xD,1).EBX")}
    full = L.standard_size(prof, xcr0, "offset")
    if sl0[2] == full:
        notes.append(f"CPUID(0xD,0).ECX {sl0[2]} = standard size of every XCR0-supported component: agrees")
    elif unread:
        notes.append(f"CPUID(0xD,0).ECX {sl0[2]} is not checked: it counts components whose sub-leaves the dump "
                     f"lacks ({', '.join(C.names(unread))})")
    else:
        warnings.append(f"CPUID(0xD,0).ECX {sl0[2]} != {full}, the standard size the components give")
    # The XCR0 in effect when dumped is not in the dump: try the architecturally valid ones.
    groups = [xcr0 & g for g in (C.MASK_MPX, C.MASK_AVX512, C.MASK_XTILE) if xcr0 & g]
    singles = [C.bit(n) for n in C.bits(xcr0 & ~C.MASK_FPSSE) if not any(C.bit(n) & g for g in groups)]
    units = groups + singles
    matches = []
    if len(units) <= 12:
        for sel in range(1 << len(units)):
            x = C.MASK_FPSSE | sum(u for i, u in enumerate(units) if sel >> i & 1)
            if L.standard_size(prof, x, "offset") == sl0[1]:
                matches.append(x)
    if not matches:
        warnings.append(f"CPUID(0xD,0).EBX {sl0[1]} is not the standard size of any valid XCR0")
        return reported
    x = max(matches, key=lambda m: bin(m).count("1"))
    notes.append(f"CPUID(0xD,0).EBX {sl0[1]} = standard size for XCR0 {x:#x}, the XCR0 the dumping OS had "
                 "enabled (inferred)")
    if sl1[1] == 0:
        if {"XSAVEC", "XSAVES"} & _d1_flags(sl1):
            findings.append("CPUID(0xD,1).EBX is 0 although the CPU has XSAVEC/XSAVES: a kernel using the "
                            "compacted format reads 0 and its paranoid size check fails ('XSAVE consistency "
                            "problem'), so it falls back to FXSAVE")
            reported["xcr0"] = (f"{x:#x}", "inferred from CPUID(0xD,0).EBX")
            reported["compacted_fixed"] = ("true", "no IA32_XSS explains CPUID(0xD,1).EBX")
        else:
            notes.append("CPUID(0xD,1).EBX is 0 (no XSAVES/XSAVEC size reported)")
        return reported
    xss_bits = [C.bit(n) for n in C.bits(xss)]
    hit = None
    if len(xss_bits) <= 10:
        for sel in range(1 << len(xss_bits)):
            s = sum(b for i, b in enumerate(xss_bits) if sel >> i & 1)
            if L.compacted_size(prof, x | s) == sl1[1]:
                hit = s
                break
    if hit is not None:
        notes.append(f"CPUID(0xD,1).EBX {sl1[1]} = compacted size for XCR0 {x:#x} | IA32_XSS {hit:#x}: agrees")
        return reported
    if unread:
        notes.append(f"CPUID(0xD,1).EBX {sl1[1]} is not checked: the dumping OS's IA32_XSS may hold components whose "
                     f"sub-leaves the dump lacks ({', '.join(C.names(unread))})")
        return reported
    findings.append(f"CPUID(0xD,1).EBX {sl1[1]} matches no IA32_XSS combination with XCR0 {x:#x}: whatever IA32_XSS "
                    "the kernel writes, its paranoid size check fails ('XSAVE consistency problem') and it falls "
                    "back to FXSAVE")
    reported["xcr0"] = (f"{x:#x}", "inferred from CPUID(0xD,0).EBX")
    reported["compacted_fixed"] = ("true", "no IA32_XSS explains CPUID(0xD,1).EBX: the CPU reports it whatever "
                                           "the kernel writes")
    return reported


def _d1_flags(sl1) -> set[str]:
    return {f for (leaf, sub), idx, bitno, f in _FLAG_BITS if (leaf, sub) == (0xD, 1) and sl1[idx] >> bitno & 1}
