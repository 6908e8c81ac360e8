"""Kernel version strings: upstream releases and the release strings distributions print.

Parsing is by hand over a bounded, ASCII-only string: no regular expression that
could backtrack, no integer longer than five digits. What a distribution string
implies for the model (Ubuntu and Debian ABI numbers, vendors that backport) is
data in :mod:`xstatecalc.distros`.
"""

from __future__ import annotations

from .errors import KernelVersionError
from .records import record

MAX_VERSION_CHARS = 128
LATEST = 99999  # "X.Y.y": the newest point release of a branch, every known backport applied
_SUFFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+~-")


@record
class KernelVersion:
    """A parsed kernel version: the upstream release it stands for, and where it came from."""

    release: tuple[int, ...]  # (6, 1) mainline, (6, 1, 134) a stable point release
    text: str  # as the user wrote it, trimmed
    distro: str | None = None  # "ubuntu", "debian", "rhel", ... when the string names one
    abi: int | None = None  # Ubuntu/Debian ABI number (the "45" of 6.8.0-45-generic)
    rc: int | None = None  # release candidate number (v6.8-rc3)


def _number(part: str, text: str, what: str) -> int:
    if not part:
        raise KernelVersionError(f"kernel version {_show(text)}: missing {what}")
    if not (part.isascii() and part.isdigit()):
        raise KernelVersionError(f"kernel version {_show(text)}: {what} {_show(part)} is not a number")
    if len(part) > 5:
        raise KernelVersionError(f"kernel version {_show(text)}: {what} has {len(part)} digits")
    if len(part) > 1 and part[0] == "0":
        raise KernelVersionError(f"kernel version {_show(text)}: {what} {part!r} has a leading zero")
    return int(part)


def _show(text: str, limit: int = 40) -> str:
    """A user string for an error message: quoted, control characters escaped, long ones cut."""
    s = text if len(text) <= limit else text[:limit] + "…"
    return repr(s)


def _split_number(s: str) -> tuple[str, str]:
    i = 0
    while i < len(s) and s[i].isascii() and s[i].isdigit():
        i += 1
    return s[:i], s[i:]


def parse_version(text: str) -> KernelVersion:
    """'6.1', '6.1.134', 'v6.8-rc3', '6.1.y', '5.15.0-91-generic', '6.12.41+deb13-amd64',
    '5.14.0-427.el9.x86_64', 'Debian 6.1.76-1' -> KernelVersion. Raises KernelVersionError."""
    if not isinstance(text, str):
        raise KernelVersionError(f"kernel version must be a string, not {type(text).__name__}")
    s = text.strip()
    if len(s) > MAX_VERSION_CHARS:
        raise KernelVersionError(f"kernel version {_show(s)} is longer than {MAX_VERSION_CHARS} characters")
    if not s:
        raise KernelVersionError("empty kernel version (expected e.g. 6.1, 6.1.134, v6.8-rc3)")
    if not s.isascii() or not s.isprintable():
        raise KernelVersionError(f"kernel version {_show(s)} has non-ASCII or control characters")
    text = s
    distro_prefix = None
    for word in ("Debian ", "Ubuntu "):
        if s.startswith(word):
            distro_prefix, s = word.strip().lower(), s[len(word):].strip()
    body = s[1:] if s[:1] in ("v", "V") else s
    major_s, rest = _split_number(body)
    major = _number(major_s, text, "major number")
    if not rest.startswith("."):
        raise KernelVersionError(f"cannot read a kernel version from {_show(text)} (expected e.g. 6.1, 6.1.134, "
                                 "v6.8-rc3, 5.15.0-91-generic)")
    minor_s, rest = _split_number(rest[1:])
    minor = _number(minor_s, text, "minor number")
    patch = None
    if rest == ".y":
        return KernelVersion((major, minor, LATEST), text)
    if rest.startswith("."):
        patch_s, rest = _split_number(rest[1:])
        patch = _number(patch_s, text, "patch level")
    _check_suffix(text, rest, f"{major}.{minor}{'' if patch is None else f'.{patch}'}", patch is not None)
    release = (major, minor) if patch is None else (major, minor, patch)
    rc = None
    if rest.startswith("-rc"):
        rc_s, tail = _split_number(rest[3:])
        if rc_s and not tail:
            rc = _number(rc_s, text, "release candidate number")
            if rc == 0:
                raise KernelVersionError(f"kernel version {_show(text)}: release candidates start at -rc1")
            return KernelVersion((major, minor), text, rc=rc)
    distro, abi = _distro(release, rest, distro_prefix)
    return KernelVersion(release, text, distro, abi)


def _check_suffix(text: str, rest: str, release: str, has_patch: bool) -> None:
    """What may follow X.Y[.Z]: nothing, or '-' or '+' and a word that ends in a letter or digit (-rc3, -91-generic,
    +deb13-amd64, -427.el9.x86_64), and after X.Y.Z one more '+' (setlocalversion's mark of a tree past its tag)."""
    if has_patch and rest.endswith("+") and (len(rest) == 1 or rest[-2].isascii() and rest[-2].isalnum()):
        rest = rest[:-1]  # 6.1.0+, 6.8.0-rc3+: a locally built tree with changes past its tag
    if not rest:
        return
    why = None
    if any(ch not in _SUFFIX_CHARS for ch in rest):
        why = f"unexpected {_show(rest, 20)}"
    elif rest[0] == ".":
        why = "a kernel release has at most three numbers (X.Y.Z)"
    elif rest[0] not in "-+":
        why = f"unexpected {_show(rest, 20)} (a release suffix starts with '-' or '+')"
    elif len(rest) == 1:
        why = f"nothing follows {rest!r}"
    elif not (rest[-1].isascii() and rest[-1].isalnum()):
        why = f"the suffix {_show(rest, 20)} ends in {rest[-1]!r}: cut short?"
    if why:
        raise KernelVersionError(f"kernel version {_show(text)}: after {release}, {why}")


# Flavours Debian appends to its release strings; Ubuntu uses generic, lowlatency, aws, ...
DEBIAN_FLAVOURS = frozenset({"amd64", "cloud-amd64", "rt-amd64", "686", "686-pae", "686-pae-rt", "rt-686-pae",
                             "arm64", "cloud-arm64", "rt-arm64"})


def _distro(release: tuple[int, ...], rest: str, prefix: str | None) -> tuple[str | None, int | None]:
    """Which distribution a release-string suffix names, and its ABI number where it has one."""
    if prefix == "debian":
        return "debian", None
    if prefix == "ubuntu":
        return "ubuntu", _abi(rest)
    low = rest.lower()
    if "+deb" in low or "+bpo" in low:
        return "debian", None
    if ".el" in low and "uek" in low:
        return "oracle-uek", None
    if ".el" in low:
        return "rhel", None
    if ".amzn" in low:
        return "amazon", None
    if ".fc" in low:
        return "fedora", None
    if low.startswith("-1") and "-default" in low and _suse_build(rest):
        return "suse", None
    if len(release) == 3 and release[2] == 0 and rest.startswith("-"):
        abi_s, tail = _split_number(rest[1:])
        if abi_s and (tail.startswith("-") or tail.startswith(".")):
            flavour = tail[1:]
            if tail.startswith("-") and flavour in DEBIAN_FLAVOURS:
                return "debian", int(abi_s[:6])
            return "ubuntu", int(abi_s[:6])
    return None, None


def _abi(rest: str) -> int | None:
    if not rest.startswith("-"):
        return None
    abi_s, _ = _split_number(rest[1:])
    return int(abi_s[:6]) if abi_s else None


def _suse_build(rest: str) -> bool:
    # SLES: 5.14.21-150500.55.39-default (a six-digit product code first)
    abi_s, _ = _split_number(rest[1:])
    return len(abi_s) == 6
