"""Integers from users: masks, sizes, CPUID registers. Strict and bounded.

ASCII digits only (int() would take '٥' and '²'-free Unicode digits), no sign, no
underscores, no leading zeros on decimals (is 0256 octal?), at most 64 bits. Every
place that reads a number a person typed (options, arguments, profiles, expectations
files) goes through :func:`parse_int`, so '1_8', '+18', '0b11' and '١٦' mean the same
thing everywhere: not a number.
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdefABCDEF")
_DEC = frozenset("0123456789")


def _say(what: str, problem: str) -> str:
    return f"{what}: {problem}" if what else problem


def parse_int(text, *, what: str = "number", bits: int = 64, hex_only: bool = False) -> int:
    """'11952', '0x2e80' -> int. Raises ValueError naming *what* (if any) and the problem."""
    if isinstance(text, bool):
        raise ValueError(_say(what, f"expected a number, got {text!r}"))
    if isinstance(text, int):
        value = text
    else:
        s = str(text).strip()
        if not s:
            raise ValueError(_say(what, "empty"))
        if len(s) > 2 + (bits + 3) // 4 + 16:
            raise ValueError(_say(what, f"{s[:24]!r}… is far too long for a {bits}-bit number"))
        low = s.lower()
        if low.startswith("0x"):
            digits = s[2:]
            if not digits or not set(digits) <= _HEX:
                raise ValueError(_say(what, f"{s!r} is not a hex number (0x followed by 0-9, a-f)"))
            value = int(digits, 16)
        elif hex_only:
            if not set(s) <= _HEX:
                raise ValueError(_say(what, f"{s!r} is not a hex number"))
            value = int(s, 16)
        else:
            if not set(s) <= _DEC:
                raise ValueError(_say(what, f"{s!r} is not a number (decimal digits, or 0x and hex digits)"))
            if len(s) > 1 and s[0] == "0":
                raise ValueError(_say(what, f"{s!r} has a leading zero; write it without, or as 0x hex"))
            value = int(s)
    if value < 0:
        raise ValueError(_say(what, f"{value} is negative"))
    if value >= 1 << bits:
        raise ValueError(_say(what, f"{value:#x} does not fit in {bits} bits"))
    return value


def looks_numeric(text: str) -> bool:
    """Whether *text* was meant as a number (starts with a digit or a sign): a word list that also takes names
    hands such words to parse_int, so that '+18' or '1_8' is refused rather than read as a name."""
    s = text.strip()
    return bool(s) and (s[0] in "+-" or s[0].isdigit())
