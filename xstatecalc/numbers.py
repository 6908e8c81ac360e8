"""Integers from users: masks, sizes, CPUID registers. Strict and bounded.

ASCII digits only (int() would take '٥' and '²'-free Unicode digits), no sign, no
underscores, no leading zeros on decimals (is 0256 octal?), at most 64 bits.
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdefABCDEF")
_DEC = frozenset("0123456789")


def parse_int(text, *, what: str = "number", bits: int = 64, hex_only: bool = False) -> int:
    """'11952', '0x2e80' -> int. Raises ValueError naming *what* and the problem."""
    if isinstance(text, bool):
        raise ValueError(f"{what}: expected a number, got {text!r}")
    if isinstance(text, int):
        value = text
    else:
        s = str(text).strip()
        if not s:
            raise ValueError(f"{what}: empty")
        if len(s) > 2 + (bits + 3) // 4 + 16:
            raise ValueError(f"{what}: {s[:24]!r}… is far too long for a {bits}-bit number")
        low = s.lower()
        if low.startswith("0x"):
            digits = s[2:]
            if not digits or not set(digits) <= _HEX:
                raise ValueError(f"{what}: {s!r} is not a hex number (0x followed by 0-9, a-f)")
            value = int(digits, 16)
        elif hex_only:
            if not set(s) <= _HEX:
                raise ValueError(f"{what}: {s!r} is not a hex number")
            value = int(s, 16)
        else:
            if not set(s) <= _DEC:
                raise ValueError(f"{what}: {s!r} is not a number (decimal digits, or 0x and hex digits)")
            if len(s) > 1 and s[0] == "0":
                raise ValueError(f"{what}: {s!r} has a leading zero; write it without, or as 0x hex")
            value = int(s)
    if value < 0:
        raise ValueError(f"{what}: {value} is negative")
    if value >= 1 << bits:
        raise ValueError(f"{what}: {value:#x} does not fit in {bits} bits")
    return value


def parse_mask(text) -> int:
    """A 64-bit XSAVE feature mask: '0x602e7' or '602e7' (hex either way)."""
    return parse_int(text, what="mask", hex_only=True)
