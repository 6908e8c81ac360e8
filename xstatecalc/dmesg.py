"""The kernel's x86/fpu boot messages: render them from a model, and check a pasted log.

Formats are the kernel's own (arch/x86/kernel/fpu/xstate.c, init.c, signal.c):
``Supporting XSAVE feature 0x%03Lx: '%s'``, ``xstate_offset[%d]: %4d, xstate_sizes[%d]: %4d``,
``Enabled xstate features 0x%llx, context size is %d bytes, using '%s' format.``
and ``signal: max sigframe size: %lu``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import components as C
from . import layout as L
from .fpu import Boot


def boot_lines(b: Boot) -> list[str]:
    """The lines this kernel prints at boot for this CPU, in order."""
    k, p = b.kernel, b.profile
    out: list[str] = []
    if not b.xsave and not b.problems:
        out.append(f"x86/fpu: x87 FPU will use {'FXSAVE' if 'FXSR' in b.flags else 'FSAVE'}")
    else:
        out += b.problems
        if b.xsave:
            names = k.xfeature_names
            for n in C.bits(b.kernel_max.features):
                out.append(f"x86/fpu: Supporting XSAVE feature 0x{1 << n:03x}: "
                           f"'{names.get(n, 'unknown xstate feature')}'")
            offs = L.compacted_offsets(p, b.kernel_max.features) if b.compacted else None
            for n in C.bits(b.kernel_max.features & ~C.MASK_FPSSE):
                off = offs[n] if offs is not None else p.components[n].offset
                out.append(f"x86/fpu: xstate_offset[{n}]: {off:4d}, xstate_sizes[{n}]: {p.components[n].size:4d}")
            out.append(f"x86/fpu: Enabled xstate features 0x{b.kernel_max.features:x}, context size is "
                       f"{b.kernel_max.size} bytes, using '{'compacted' if b.compacted else 'standard'}' format.")
    if b.sigframe_min is not None:
        out.append(f"signal: max sigframe size: {b.sigframe_min}")
    return out


# Pasted logs: dmesg timestamps, caller ids, journalctl prefixes, mail quotes.
_PREFIX = re.compile(r"^(?:[>|]\s*)*(?:<\d+>)?(?:\[\s*[\d.]+\])?(?:\[\s*[TC]\d+\])?\s*")
_START = re.compile(r"(x86/fpu: .*|signal: max sigframe size: .*|XSAVE consistency problem.*)$")


def _key(line: str):
    """What a line is about, so that lines about the same thing can be paired."""
    patterns = [
        (r"Supporting XSAVE feature (0x[0-9a-f]+)", lambda m: ("feature", int(m.group(1), 16))),
        (r"xstate_offset\[(\d+)\]", lambda m: ("offset", int(m.group(1)))),
        (r"Enabled xstate features", lambda m: ("enabled",)),
        (r"signal: max sigframe size", lambda m: ("sigframe",)),
        (r"XSAVE consistency problem", lambda m: ("consistency",)),
        (r"x87 FPU will use", lambda m: ("legacy",)),
        (r"FP/SSE not present", lambda m: ("fpsse",)),
        (r"Both APX/MPX present", lambda m: ("apxmpx",)),
        (r"buffer too small", lambda m: ("too-small",)),
        (r"XSAVE disabled", lambda m: ("disabled",)),
    ]
    for pat, mk in patterns:
        m = re.search(pat, line)
        if m:
            return mk(m)
    return None


def extract(text: str) -> list[str]:
    """The x86/fpu-related lines of a pasted log, with prefixes and noise removed."""
    out = []
    for raw in text.splitlines():
        line = _PREFIX.sub("", raw.rstrip())
        m = _START.search(line)
        if m:
            out.append(re.sub(r"\s+$", "", m.group(1)))
    return out


@dataclass
class CheckResult:
    expected: list[str]
    found: list[str]
    matching: list[str] = field(default_factory=list)
    differing: list[tuple[str, str]] = field(default_factory=list)  # (expected, found)
    unexpected: list[str] = field(default_factory=list)  # in the log, not in the model
    missing: list[str] = field(default_factory=list)  # in the model, not in the (maybe partial) log
    ignored: list[str] = field(default_factory=list)  # x86/fpu lines the model does not cover

    @property
    def ok(self) -> bool:
        return not self.differing and not self.unexpected and bool(self.matching)


def check(b: Boot, text: str) -> CheckResult:
    """Compare a pasted log with the model. Missing lines are tolerated (logs get cut)."""
    expected = boot_lines(b)
    found = extract(text)
    res = CheckResult(expected, found)
    want = {_key(line): line for line in expected}
    seen = set()
    for line in found:
        k = _key(line)
        if k is None:
            res.ignored.append(line)
            continue
        if k in seen:
            continue  # a log may hold several boots; the first one counts
        seen.add(k)
        if k not in want:
            res.unexpected.append(line)
        elif want[k] == line:
            res.matching.append(line)
        else:
            res.differing.append((want[k], line))
    res.missing = [line for k, line in want.items() if k not in seen]
    return res


_LINUX_VERSION = re.compile(r"Linux version (\S+)")


def log_kernel_version(text: str) -> str | None:
    """The kernel release a log names in its 'Linux version …' banner, if any."""
    m = _LINUX_VERSION.search(text)
    return m.group(1) if m else None
