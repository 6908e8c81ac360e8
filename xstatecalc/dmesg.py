"""The kernel's x86/fpu boot messages: render them from a model, and check a pasted log.

Formats are the kernel's own (arch/x86/kernel/fpu/xstate.c, init.c, signal.c):
``Supporting XSAVE feature 0x%03Lx: '%s'``, ``xstate_offset[%d]: %4d, xstate_sizes[%d]: %4d``,
``Enabled xstate features 0x%llx, context size is %d bytes, using '%s' format.``
and ``signal: max sigframe size: %lu``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import components as C
from . import layout as L
from .fpu import Boot
from .records import record


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


# ------------------------------------------------------------------ pasted logs

MAX_LOG_LINE = 2048  # printk lines are at most 1024 bytes; anything longer is not a kernel line
_MARKERS = ("x86/fpu: ", "signal: max sigframe size: ", "XSAVE consistency problem")


def strip_ansi(line: str) -> str:
    """Remove ANSI escape sequences (dmesg --color=always): ESC [ parameters final-byte, ESC x."""
    if "\x1b" not in line:
        return line
    out, i, n = [], 0, len(line)
    while i < n:
        ch = line[i]
        if ch != "\x1b":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i < n and line[i] == "[":
            i += 1
            while i < n and not "\x40" <= line[i] <= "\x7e":
                i += 1
            i += 1
        else:
            i += 1
    return "".join(out)


def _fpu_part(raw: str) -> str | None:
    """The x86/fpu-related message of one log line, whatever prefix it has (timestamps, caller ids,
    journalctl, mail quotes, colour), or None."""
    if len(raw) > MAX_LOG_LINE:
        return None
    line = strip_ansi(raw).rstrip()
    at = min((i for i in (line.find(m) for m in _MARKERS) if i != -1), default=-1)
    return None if at == -1 else line[at:]


def line_key(line: str):
    """What a line is about, so that lines about the same thing can be paired."""
    body = line[len("x86/fpu: "):] if line.startswith("x86/fpu: ") else line
    if body.startswith("Supporting XSAVE feature 0x"):
        num = body[len("Supporting XSAVE feature 0x"):].split(":", 1)[0]
        return ("feature", int(num, 16)) if num and len(num) <= 16 and _is_hex(num) else None
    if body.startswith("xstate_offset["):
        num = body[len("xstate_offset["):].split("]", 1)[0]
        return ("offset", int(num)) if num.isascii() and num.isdigit() and len(num) <= 3 else None
    for prefix, key in (("Enabled xstate features", "enabled"), ("signal: max sigframe size", "sigframe"),
                        ("XSAVE consistency problem", "consistency"), ("x87 FPU will use", "legacy"),
                        ("FP/SSE not present", "fpsse"), ("Both APX/MPX present", "apxmpx"),
                        ("XSAVE disabled", "disabled"), ("Disabling AVX", "avx-check")):
        if body.startswith(prefix):
            return (key,)
    if "buffer too small" in body:
        return ("too-small",)
    return None


def _is_hex(s: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in s)


def extract(text: str) -> list[str]:
    """The x86/fpu-related lines of a pasted log, with prefixes and noise removed."""
    return [part for part in map(_fpu_part, text.splitlines()) if part is not None]


@record
class LogBoot:
    """One boot in a pasted log: its x86/fpu lines and where it starts."""

    index: int  # 1-based
    line: int  # first line of the boot in the file
    kernel: str | None  # from its 'Linux version ...' banner
    lines: list


def banner_version(line: str) -> str | None:
    """The release of a kernel banner ('Linux version 6.8.0-45-generic (buildd@...) ...'), else None.

    Only a real banner counts: the release is followed by ' (' and parses as a kernel version."""
    from .errors import KernelVersionError
    from .versions import parse_version

    if len(line) > MAX_LOG_LINE:
        return None
    at = line.find("Linux version ")
    if at == -1:
        return None
    rest = line[at + len("Linux version "):]
    release, sep, tail = rest.partition(" ")
    if not sep or not tail.startswith("("):
        return None
    try:
        parse_version(release)
    except KernelVersionError:
        return None
    return release


def boots(text: str) -> list[LogBoot]:
    """Split a log into boots: at kernel banners, journalctl '-- Boot' markers, or when the fpu block
    starts again. Boots without x86/fpu lines are dropped."""
    out: list[LogBoot] = []
    cur_lines: list[str] = []
    cur_start, cur_kernel, seen = 1, None, set()

    def close():
        if cur_lines:
            out.append(LogBoot(len(out) + 1, cur_start, cur_kernel, list(cur_lines)))

    for no, raw in enumerate(text.splitlines(), 1):
        if len(raw) > MAX_LOG_LINE:
            continue
        clean = strip_ansi(raw)
        version = banner_version(clean)
        if version is not None or clean.lstrip("> |").startswith("-- Boot "):
            close()
            cur_lines, cur_start, cur_kernel, seen = [], no, version, set()
            continue
        part = _fpu_part(raw)
        if part is None:
            continue
        key = line_key(part)
        if key is not None and key in seen and key[0] in ("feature", "enabled", "offset"):
            close()  # the same block again without a banner: a second boot
            cur_lines, cur_start, cur_kernel, seen = [], no, None, set()
        if key is not None:
            seen.add(key)
        cur_lines.append(part)
    close()
    return [b._replace(index=i) for i, b in enumerate(out, 1)]


@dataclass
class CheckResult:
    expected: list[str]
    found: list[str]
    matching: list[str] = field(default_factory=list)
    differing: list[tuple[str, str]] = field(default_factory=list)  # (expected, found)
    unexpected: list[str] = field(default_factory=list)  # in the log, not in the model
    missing: list[str] = field(default_factory=list)  # in the model, not in the (maybe partial) log
    ignored: list[str] = field(default_factory=list)  # x86/fpu lines the model does not cover
    boot: LogBoot | None = None  # the boot checked, when the log holds several
    boots: int = 1

    @property
    def ok(self) -> bool:
        return not self.differing and not self.unexpected and bool(self.matching)


def check(b: Boot, text: str) -> CheckResult:
    """Compare the last boot of a pasted log with the model. Missing lines are tolerated (logs get cut)."""
    all_boots = boots(text)
    chosen = all_boots[-1] if all_boots else None
    found = chosen.lines if chosen else []
    expected = boot_lines(b)
    res = CheckResult(expected, found, boot=chosen, boots=len(all_boots))
    want = {line_key(line): line for line in expected}
    seen = set()
    for line in found:
        k = line_key(line)
        if k is None:
            res.ignored.append(line)
            continue
        if k in seen:
            continue
        seen.add(k)
        if k not in want:
            res.unexpected.append(line)
        elif want[k] == line:
            res.matching.append(line)
        else:
            res.differing.append((want[k], line))
    res.missing = [line for k, line in want.items() if k not in seen]
    return res
