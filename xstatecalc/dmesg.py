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


def _fpu_part(raw: str, clean: str | None = None) -> str | None:
    """The x86/fpu-related message of one log line, whatever prefix it has (timestamps, caller ids,
    journalctl, mail quotes, colour), or None. *clean*: the line already without ANSI sequences."""
    if len(raw) > MAX_LOG_LINE:
        return None
    line = strip_ansi(raw) if clean is None else clean
    at = -1
    for marker in _MARKERS:
        i = line.find(marker)
        if i != -1 and (at == -1 or i < at):
            at = i
    return None if at == -1 else line[at:].rstrip()


def line_key(line: str):
    """What a line is about, so that lines about the same thing can be paired."""
    body = line[len("x86/fpu: "):] if line.startswith("x86/fpu: ") else line
    # A feature or offset line whose number no kernel prints (65 bits, a sign, another script's digits) is keyed
    # as unreadable: never paired with a model's line, so it can only differ.
    if body.startswith("Supporting XSAVE feature "):
        num = body[len("Supporting XSAVE feature "):].split(":", 1)[0]
        ok = num.startswith("0x") and 2 < len(num) <= 18 and _is_hex(num[2:])
        return ("feature", int(num[2:], 16)) if ok else ("unreadable", line)
    if body.startswith("xstate_offset["):
        num = body[len("xstate_offset["):].split("]", 1)[0]
        ok = num.isascii() and num.isdigit() and len(num) <= 3
        return ("offset", int(num)) if ok else ("unreadable", line)
    for prefix, key in (("Enabled xstate features", "enabled"), ("signal: max sigframe size", "sigframe"),
                        ("XSAVE consistency problem", "consistency"), ("x87 FPU will use", "legacy"),
                        ("FP/SSE not present", "fpsse"), ("Both APX/MPX present", "apxmpx"),
                        ("XSAVE disabled", "disabled"), ("Disabling AVX", "avx-check")):
        if body.startswith(prefix):
            return (key,)
    if "buffer too small" in body:
        return ("too-small",)
    return None


_HEX = frozenset("0123456789abcdefABCDEF")


def _is_hex(s: str) -> bool:
    return set(s) <= _HEX


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
    keys: list = ()  # line_key() of each line, computed once by boots()


def banner_version(line: str) -> str | None:
    """The release of a kernel banner ('Linux version 6.8.0-45-generic (buildd@...) ...'), else None.

    Only a real banner counts: the release is followed by ' (' and parses as a kernel version."""
    if len(line) > MAX_LOG_LINE:
        return None
    at = line.find("Linux version ")
    if at == -1:
        return None
    from .errors import KernelVersionError
    from .versions import parse_version

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
    cur_keys: list = []
    cur_start, cur_kernel, seen = 1, None, set()

    def close():
        if cur_lines:
            out.append(LogBoot(len(out) + 1, cur_start, cur_kernel, cur_lines, cur_keys))

    for no, raw in enumerate(text.splitlines(), 1):
        if len(raw) > MAX_LOG_LINE:
            continue
        clean = strip_ansi(raw)
        version = banner_version(clean)
        if version is not None or ("-- Boot " in clean and clean.lstrip("> |").startswith("-- Boot ")):
            close()
            cur_lines, cur_keys, cur_start, cur_kernel, seen = [], [], no, version, set()
            continue
        part = _fpu_part(raw, clean)
        if part is None:
            continue
        key = line_key(part)
        if key is not None and key in seen and key[0] in ("feature", "enabled", "offset"):
            close()  # the same block again without a banner: a second boot
            cur_lines, cur_keys, cur_start, cur_kernel, seen = [], [], no, None, set()
        if key is not None:
            seen.add(key)
        cur_lines.append(part)
        cur_keys.append(key)
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


@record
class ParsedLog:
    """A log read once: its boots, and the last boot's lines keyed (the first line of each key, in order) for
    comparing with any number of models without reading the log again."""

    boots: list
    keyed: dict  # line_key -> line
    ignored: list  # x86/fpu lines without a key

    @property
    def last(self) -> LogBoot | None:
        return self.boots[-1] if self.boots else None


def parse_log(text: str) -> ParsedLog:
    """Split *text* into boots and key the last one's lines (linear in the log)."""
    return keyed_boots(boots(text))


def keyed_boots(found_boots: list) -> ParsedLog:
    """ParsedLog of boots() already split: the last boot's lines keyed once."""
    keyed: dict = {}
    ignored: list[str] = []
    last = found_boots[-1] if found_boots else None
    for line, k in zip(last.lines, boot_keys(last)) if last else ():
        if k is None:
            ignored.append(line)
        else:
            keyed.setdefault(k, line)
    return ParsedLog(found_boots, keyed, ignored)


def boot_keys(boot: LogBoot) -> list:
    """line_key() of each of the boot's lines: computed by boots(), else now."""
    return boot.keys if len(boot.keys) == len(boot.lines) else [line_key(x) for x in boot.lines]


def agrees(b: Boot, log: ParsedLog) -> bool:
    """check(b, log).ok, in time proportional to what the model prints, not to the log: every keyed line of the
    log is the model's line for that key (none differs, none is unexpected) and at least one matches."""
    seen = 0
    for k, line in {line_key(x): x for x in boot_lines(b)}.items():
        got = log.keyed.get(k)
        if got is not None:
            if got != line:
                return False
            seen += 1
    return seen > 0 and seen == len(log.keyed)


def check(b: Boot, log) -> CheckResult:
    """Compare the last boot of a pasted log (its text, or parse_log() of it) with the model. Missing lines are
    tolerated (logs get cut)."""
    if isinstance(log, str):
        log = parse_log(log)
    expected = boot_lines(b)
    chosen = log.last
    res = CheckResult(expected, chosen.lines if chosen else [], boot=chosen, boots=len(log.boots),
                      ignored=list(log.ignored))
    want = {line_key(line): line for line in expected}
    for k, line in log.keyed.items():
        if k not in want:
            res.unexpected.append(line)
        elif want[k] == line:
            res.matching.append(line)
        else:
            res.differing.append((want[k], line))
    res.missing = [line for k, line in want.items() if k not in log.keyed]
    return res
