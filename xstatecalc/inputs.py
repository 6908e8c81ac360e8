"""Reading user-supplied files and writing ours: bounded, decoded, atomic, only over regular files."""

from __future__ import annotations

import os
import stat
import sys

from .errors import InputError

MAX_INPUT_BYTES = 16 * 1024 * 1024


def shown_name(name: str) -> str:
    """A file name as output may show it: escaped (a newline, an escape sequence or a byte that is not UTF-8 cannot
    forge a line or reach the terminal) and at most 120 characters."""
    from .yamltext import visible

    text = visible(name)
    return text if len(text) <= 120 else text[:117] + "..."


def read_text(path: str | os.PathLike, *, limit: int = MAX_INPUT_BYTES, what: str = "file") -> str:
    """Read a UTF-8 text file (``-`` = stdin; pipes and process substitution work), refusing anything
    over *limit* bytes, binary data and other encodings with one line that says which."""
    name = os.fspath(path)
    shown = "<stdin>" if name == "-" else shown_name(name)
    try:
        if name == "-":
            if sys.stdin is None:
                raise InputError("<stdin>: standard input is closed; give a file instead of '-'")
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with _open_nonblocking(name) as fh:
                data = fh.read(limit + 1)
                if not data and stat.S_ISFIFO(os.fstat(fh.fileno()).st_mode):
                    raise InputError(f"{shown}: a FIFO with no writer: nothing to read (start the writer first, or "
                                     f"pipe into '-')")
    except IsADirectoryError:
        raise InputError(f"{shown}: is a directory, not a {what}") from None
    except FileNotFoundError:
        raise InputError(f"{shown}: no such {what}") from None
    except (OSError, ValueError, AttributeError) as e:  # EBADF, a closed stream, a stdin without .buffer
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise InputError(f"{shown}: cannot read {what}: {reason}") from None
    if len(data) > limit:
        raise InputError(f"{shown}: {what} is larger than {limit // (1024 * 1024)} MiB; refusing to read it")
    if _utf16(data):
        raise InputError(f"{shown}: {what} is UTF-16 text; save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)")
    if b"\0" in data:
        at = data.index(b"\0")
        raise InputError(f"{shown}: {what} contains a NUL byte at offset {at}; it looks binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{shown}: {what} is not UTF-8 text (byte {e.start}: {data[e.start]:#04x})") from None


MAX_STDIN_BINARY = 64 * 1024 * 1024


class BinarySource:
    """A binary input read piece by piece: a core file can be gigabytes, but only its headers and notes
    are needed. stdin is read whole, up to MAX_STDIN_BINARY."""

    def __init__(self, path: str | os.PathLike, what: str = "file"):
        self.name = os.fspath(path)
        self.shown = "<stdin>" if self.name == "-" else shown_name(self.name)
        self.what = what
        self._fh = None
        self._data = None
        try:
            if self.name == "-":
                if sys.stdin is None:
                    raise InputError("<stdin>: standard input is closed; give a file instead of '-'")
                self._data = sys.stdin.buffer.read(MAX_STDIN_BINARY + 1)
                if len(self._data) > MAX_STDIN_BINARY:
                    raise InputError(f"<stdin>: more than {MAX_STDIN_BINARY // (1024 * 1024)} MiB; give the file "
                                     "by name")
                self.size = len(self._data)
            else:
                self._fh = _open_nonblocking(self.name)
                st = os.fstat(self._fh.fileno())
                if stat.S_ISDIR(st.st_mode):
                    self._fh.close()
                    raise IsADirectoryError
                if not stat.S_ISREG(st.st_mode):
                    self._fh.close()
                    raise InputError(f"{self.shown}: not a regular file (a FIFO, device or socket); give the file "
                                     "itself, or '-' to read standard input")
                self.size = st.st_size
        except IsADirectoryError:
            raise InputError(f"{self.shown}: is a directory, not a {what}") from None
        except FileNotFoundError:
            raise InputError(f"{self.shown}: no such {what}") from None
        except (OSError, ValueError, AttributeError) as e:
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise InputError(f"{self.shown}: cannot read {what}: {reason}") from None

    def read(self, offset: int, size: int) -> bytes:
        """Exactly *size* bytes at *offset*, or an InputError saying the file is too short."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise InputError(f"{self.shown}: {size} bytes at offset {offset} run past the end of the "
                             f"{self.size}-byte {self.what}")
        if self._data is not None:
            return self._data[offset:offset + size]
        self._fh.seek(offset)
        data = self._fh.read(size)
        if len(data) != size:
            raise InputError(f"{self.shown}: short read at offset {offset}")
        return data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _open_nonblocking(name: str):
    """open(name, "rb") that cannot hang: a FIFO nobody writes to would block open() for ever, so it is opened
    O_NONBLOCK, then switched back to blocking reads (a pipe with a writer streams; one without reads as empty)."""
    import fcntl

    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _utf16(data: bytes) -> bool:
    """A BOM, or ASCII text with a NUL in every other byte."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    head = data[:64]
    if len(head) < 8:
        return False
    odd, even = head[1::2], head[0::2]
    return (odd.count(0) == len(odd) and 0 not in even) or (even.count(0) == len(even) and 0 not in odd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, text: str, *, force: bool = False) -> None:
    """Write *text* to *path* through a temporary file in the same directory: never a half-written file,
    never over anything but a regular file (a device node, FIFO or symlink is refused even with *force*),
    never over an existing file without *force* (checked atomically), with the user's umask."""
    import tempfile  # only when writing: keeps start-up lean

    target = os.fspath(path)
    shown = shown_name(target)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise InputError(f"{shown}: cannot write: {e.strerror or e}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InputError(f"{shown}: is a symbolic link; refusing to write through or over it")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{shown}: is not a regular file (a device, FIFO or directory); refusing to replace it")
        if not force:
            raise InputError(f"{shown}: already exists (use --force to replace it)")
    directory = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".xstatecalc-", suffix=".tmp", dir=directory)
    except OSError as e:
        raise InputError(f"{shown}: cannot write: {e.strerror or e}") from None
    try:
        # A new file gets the user's umask; a file replaced with --force keeps its own permissions (a 0600 profile
        # stays private).
        os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if force and st is not None:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the name appeared meanwhile: no race with another writer
            except FileExistsError:
                raise InputError(f"{shown}: already exists (use --force to replace it)") from None
            except OSError:
                # A file system without hard links: O_EXCL claims the name, then the rename fills it.
                excl = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(excl)
                os.replace(tmp, target)
            else:
                os.unlink(tmp)
    except OSError as e:
        _remove(tmp)
        raise InputError(f"{shown}: cannot write: {e.strerror or e}") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass
