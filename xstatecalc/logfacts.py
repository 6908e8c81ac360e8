"""What a boot log says by itself, without a CPU profile: its x86/fpu facts, whether its own
arithmetic holds, and which kernel models could have printed it.

The kernel prints (arch/x86/kernel/fpu/xstate.c, print_xstate_features() and
print_xstate_offset_size()) one 'Supporting XSAVE feature' line per bit of
fpu_kernel_cfg.max_features, the offset and size of every component above SSE (compacted
offsets when it uses XSAVES/XSAVEC), then the enabled mask and context size; signal.c adds
'signal: max sigframe size' from 5.14. Those lines fix each other: the mask is the OR of
the features, a compacted offset is the previous end or that rounded up to 64 (the
component's align64 bit), and the context size is where the last component ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import components as C
from .dmesg import LogBoot, boot_keys
from .yamltext import clip

MAX_BIT = 63


@dataclass
class Component:
    nr: int
    name: str | None  # as printed in 'Supporting XSAVE feature'
    offset: int | None
    size: int | None
    aligned: bool | None = None  # compacted: True when the offset was rounded up to 64; None when unknown

    def record(self) -> dict:
        return {"nr": self.nr, "name": C.key(self.nr), "kernel_name": self.name, "offset": self.offset, "size": self.size,
                "align64": self.aligned}


@dataclass
class Check:
    name: str
    ok: bool | None  # None: cannot tell, the log is cut
    detail: str

    def record(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class LogFacts:
    """The x86/fpu facts of one boot of a log."""

    boot: LogBoot | None
    components: dict[int, Component] = field(default_factory=dict)
    enabled: int | None = None
    context_size: int | None = None
    format: str | None = None  # 'compacted' or 'standard'
    sigframe: int | None = None
    legacy: str | None = None  # 'x87 FPU will use FXSAVE': no XSAVE
    problems: list[str] = field(default_factory=list)  # lines in which the kernel itself complains
    unreadable: list[str] = field(default_factory=list)  # x86/fpu lines whose numbers no kernel prints
    checks: list[Check] = field(default_factory=list)

    @property
    def printed_mask(self) -> int:
        return C.mask_of(*[c.nr for c in self.components.values() if c.name is not None])

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks) and not self.problems

    def record(self, of: int = 1) -> dict:
        """The JSON object; *of* is how many boots the log holds."""
        return {"boot": None if self.boot is None else {"index": self.boot.index, "of": of, "line": self.boot.line,
                                                         "banner": self.boot.kernel},
                "features": None if self.enabled is None else f"{self.enabled:#x}",
                "names": [] if self.enabled is None else C.names(self.enabled),
                "context_size": self.context_size, "format": self.format, "sigframe": self.sigframe,
                "legacy": self.legacy, "problems": self.problems, "unreadable": self.unreadable,
                "components": [c.record() for c in sorted(self.components.values(), key=lambda c: c.nr)],
                "checks": [c.record() for c in self.checks], "ok": self.ok}


_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def _int(text: str, base: int = 10) -> int | None:
    """A number as the kernel prints it, or None: '%d'/'%u'/'%lu' of a size or offset (ASCII decimal, at most 10
    digits: a u32), or '%llx' of a mask (ASCII hex, at most 16 digits: a u64). int() would also take a sign,
    underscores and other scripts' digits ('٥٧٦' is 576 to it), which no kernel prints."""
    text = text.strip()
    digits, width = (_HEX, 16) if base == 16 else (_DEC, 10)
    if not text or len(text) > width or not set(text) <= digits:
        return None
    return int(text, base)


def read(boot: LogBoot | None) -> LogFacts:
    """The facts of one boot's x86/fpu lines (see dmesg.boots())."""
    facts = LogFacts(boot)
    for line, key in zip(boot.lines, boot_keys(boot)) if boot else ():
        if key is None:
            continue
        body = line.removeprefix("x86/fpu: ")
        if key[0] == "unreadable":
            facts.unreadable.append(line)
        elif key[0] == "feature":
            value = key[1]  # 'Supporting XSAVE feature 0x%03Lx' prints the mask bit, not its number
            if value <= 0 or value & (value - 1) or value.bit_length() - 1 > MAX_BIT:
                facts.unreadable.append(line)
                continue
            nr = value.bit_length() - 1
            name = body.split(": ", 1)[1].strip().strip("'") if ": " in body else None
            facts.components.setdefault(nr, Component(nr, None, None, None)).name = name
        elif key[0] == "offset":
            # xstate_offset[%d]: %4d, xstate_sizes[%d]: %4d
            left, _, right = body.partition(",")
            offset, size = _int(left.rpartition(":")[2]), _int(right.rpartition(":")[2])
            if key[1] > MAX_BIT or offset is None or size is None:
                facts.unreadable.append(line)
                continue
            comp = facts.components.setdefault(key[1], Component(key[1], None, None, None))
            comp.offset, comp.size = offset, size
        elif key[0] == "enabled":
            # Enabled xstate features 0x%llx, context size is %d bytes, using '%s' format.
            words = body.replace(",", " ").split()
            mask = words[3] if len(words) > 3 else ""
            facts.enabled = _int(mask[2:], 16) if mask.startswith("0x") else None
            size = words[words.index("is") + 1] if "is" in words[:-1] else ""
            facts.context_size = _int(size)
            if facts.enabled is None or facts.context_size is None:
                facts.unreadable.append(line)
            facts.format = "compacted" if "'compacted'" in body else "standard" if "'standard'" in body else None
        elif key[0] == "sigframe":
            facts.sigframe = _int(line.rpartition(":")[2])
            if facts.sigframe is None:
                facts.unreadable.append(line)
        elif key[0] == "legacy":
            facts.legacy = body
        elif key[0] in ("consistency", "too-small", "disabled", "fpsse", "apxmpx", "avx-check"):
            facts.problems.append(line)
    facts.checks = _arithmetic(facts)
    return facts


def _arithmetic(f: LogFacts) -> list[Check]:
    """The checks the lines allow. ok None: the log is cut where the check needs a line."""
    out: list[Check] = []
    if f.unreadable:
        # A number no kernel prints (a sign, 65 bits, another script's digits) is not a cut log: it fails.
        out.append(Check("numbers", False, f"{len(f.unreadable)} line(s) with numbers the kernel does not print "
                                           f"(first: {clip(f.unreadable[0], 100)})"))
    printed = f.printed_mask
    if f.enabled is not None and printed:
        if printed == f.enabled:
            out.append(Check("mask", True, f"the enabled mask {f.enabled:#x} is the OR of the 'Supporting' lines"))
        elif printed & ~f.enabled:
            out.append(Check("mask", False, f"'Supporting' lines for {printed & ~f.enabled:#x}, not in the enabled "
                                            f"mask {f.enabled:#x} (two boots joined?)"))
        else:
            out.append(Check("mask", None, f"no 'Supporting' line for {f.enabled & ~printed:#x} (the log is cut)"))
    if f.enabled is None:
        return out
    chain = [n for n in C.bits(f.enabled) if n >= 2]
    lines = {n: c for n, c in f.components.items() if c.offset is not None and c.size is not None}
    cut = [n for n in chain if n not in lines]
    if cut:
        out.append(Check("offsets", None, "no xstate_offset line for " + ", ".join(C.key(n) for n in cut)
                         + " (the log is cut)"))
    extra = [n for n in lines if not f.enabled >> n & 1]
    if extra:
        out.append(Check("offsets", False, "xstate_offset lines for components not enabled: "
                         + ", ".join(C.key(n) for n in extra)))
    end: int | None = C.XSAVE_HDR_END
    if f.format == "compacted":
        bad = []
        for n in chain:
            c = lines.get(n)
            if c is None:
                end = None  # unknown from here until a line that can be placed on its own
                continue
            if end is not None:
                aligned = -(-end // 64) * 64
                if c.offset == end:
                    c.aligned = False if end != aligned else None
                elif c.offset == aligned:
                    c.aligned = True
                else:
                    bad.append(f"{C.key(n)} at {c.offset}, expected {end}"
                               + (f" or {aligned}" if aligned != end else ""))
            end = c.offset + c.size
        if chain and len(cut) < len(chain):
            out.append(Check("compacted offsets", not bad, "; ".join(bad) or
                             "each component starts where the one before ends, or at the next multiple of 64"))
    else:
        placed = sorted(lines.values(), key=lambda c: c.offset)
        overlaps = [f"{C.key(a.nr)} and {C.key(b.nr)}" for a, b in zip(placed, placed[1:])
                    if a.offset + a.size > b.offset]
        if overlaps:
            out.append(Check("standard offsets", False, "components overlap: " + ", ".join(overlaps)))
        end = max((c.offset + c.size for c in placed), default=C.XSAVE_HDR_END) if not cut else None
    if f.context_size is not None:
        if end is None or (chain and chain[-1] not in lines):
            out.append(Check("context size", None, "the last component's line is missing (the log is cut)"))
        elif f.context_size == end:
            out.append(Check("context size", True, f"{f.context_size} bytes is where the last component ends"))
        else:
            out.append(Check("context size", False,
                             f"the context size is {f.context_size} but the last component ends at {end}"))
    return out


def consistent_models(f: LogFacts, models) -> list:
    """The kernel models that could have printed these lines: the same feature names, only features the
    model enables, and a sigframe line only from 5.14."""
    out = []
    for m in models:
        if f.sigframe is not None and not m.sigframe:
            continue
        known = m.user_supported | m.supervisor_supported
        if f.enabled is not None and f.enabled & ~known & ~C.MASK_FPSSE:
            continue
        if any(c.name is not None and c.name != m.xfeature_names.get(c.nr, "unknown xstate feature")
               for c in f.components.values()):
            continue
        out.append(m)
    return out


def ranges(models, all_models) -> list[str]:
    """Consecutive runs of *models* within *all_models*, as 'a-b' labels of model rows."""
    order = [m.model for m in all_models]
    chosen = {m.model for m in models}
    out, run = [], []
    for name in order:
        if name in chosen:
            run.append(name)
        elif run:
            out.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run = []
    if run:
        out.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return out
