"""Reading user-supplied files: bounded, decoded, and written atomically."""

from __future__ import annotations

import os
import sys

from .errors import InputError

MAX_INPUT_BYTES = 16 * 1024 * 1024


def read_text(path: str | os.PathLike, *, limit: int = MAX_INPUT_BYTES, what: str = "file") -> str:
    """Read a UTF-8 text file (``-`` = stdin), refusing anything over *limit* bytes."""
    name = str(path)
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
            name = "<stdin>"
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a {what}") from None
    except FileNotFoundError:
        raise InputError(f"{name}: no such {what}") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read {what}: {e.strerror or e}") from None
    if len(data) > limit:
        raise InputError(f"{name}: {what} is larger than {limit // (1024 * 1024)} MiB; refusing to read it")
    if b"\0" in data:
        raise InputError(f"{name}: {what} contains NUL bytes; it looks binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: {what} is not UTF-8 text (byte {e.start}: {data[e.start]:#04x})") from None


def write_atomic(path: str | os.PathLike, text: str, *, force: bool = False) -> None:
    """Write *text* to *path* via a temporary file and rename: never a partial file."""
    import tempfile  # only when writing: keeps start-up lean

    target = os.fspath(path)
    if os.path.exists(target) and not force:
        raise InputError(f"{target}: already exists (use --force to replace it)")
    directory = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise InputError(f"{target}: cannot write: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
