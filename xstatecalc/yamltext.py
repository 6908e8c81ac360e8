"""Writing YAML by hand, safely: strings that may hold anything a user or a dump supplied."""

from __future__ import annotations

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote(text: str) -> str:
    """A YAML double-quoted scalar for *text*: control characters, format characters and undecodable
    bytes (lone surrogates from a file name) escaped, so the result is one line that reads back as *text*
    (surrogates as U+FFFD)."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif "\ud800" <= ch <= "\udfff":
            out.append("\\uFFFD")
        elif not ch.isprintable():
            cp = ord(ch)
            out.append(f"\\x{cp:02X}" if cp < 0x100 else f"\\u{cp:04X}" if cp < 0x10000 else f"\\U{cp:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def visible(text: str, keep_newlines: bool = False) -> str:
    """*text* with every character that is not printable written as its escape (for names shown to people)."""
    out = []
    for ch in text:
        if (ch.isprintable() and not ("\ud800" <= ch <= "\udfff")) or (keep_newlines and ch == "\n"):
            out.append(ch)
        else:
            cp = ord(ch)
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch) or
                       (f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"))
    return "".join(out)


def clip(text: str, limit: int = 40) -> str:
    """At most *limit* characters of *text*, escaped (see visible()), '…' where it was cut."""
    return visible(text[:limit]) + ("…" if len(text) > limit else "")


def token(value, limit: int = 40) -> str:
    """A short, escaped piece of what a user's file says, for an error message: a string quoted, anything else
    as Python writes it, at most *limit* characters either way (an error about /etc/shadow given as a profile
    must not print its lines)."""
    if isinstance(value, str):
        return "'" + clip(value, limit).replace("'", "\\'") + "'"
    return clip(repr(value), limit)
