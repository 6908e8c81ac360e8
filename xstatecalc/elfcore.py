"""Notes of an ELF core file, read with struct and strict bounds.

Only what `core` needs: the ELF header (32- or 64-bit, little-endian x86), the program
headers (PN_XNUM: with 65535 or more the real count is in section header 0's sh_info, elf(5)),
and the notes of every PT_NOTE segment (elf(5): namesz, descsz, type, then the name and the
descriptor, each padded to 4 bytes). Every count and offset is checked against the file
before it is used; a malformed header is one InputError naming the place.

Memory and time are bounded whatever the headers claim: the program headers are read in
chunks, a PT_NOTE segment is walked through a window (only the descriptors `core` reads are
kept, each with its own cap), a segment listed twice is walked once, and the number of notes
and of note bytes walked is capped.
"""

from __future__ import annotations

import struct

from .errors import InputError
from .records import record

ELFMAG = b"\x7fELF"
ET_CORE = 4
PT_NOTE = 4
EM_386, EM_X86_64 = 3, 62
PN_XNUM = 0xFFFF
# elf_core_dump() writes one program header per mapping: vm.max_map_count is 65530 by default; a core with 64 times
# that is not one a machine wrote.
MAX_PHDRS = 1 << 22
MAX_NOTES = 1 << 21  # about five per thread: several hundred thousand threads
MAX_NOTE_BYTES = 1 << 30  # PT_NOTE bytes walked in all: an AMX thread's notes are about 12 KiB
MAX_LISTED = 4096  # notes listed by name (the count is always given)
PHDR_CHUNK = 1 << 16  # program headers read at a time
WINDOW = 1 << 16  # bytes of a PT_NOTE segment held at a time

NT_PRFPREG = 2  # NT_FPREGSET: struct user_i387_struct (the 512-byte FXSAVE image on x86-64)
NT_PRXFPREG = 0x46E62B7F  # i386: the FXSAVE image
NT_X86_XSTATE = 0x202  # the XSAVE image, standard format (xstateregs_get)
NT_X86_XSAVE_LAYOUT = 0x205  # struct x86_xfeat_component[] (6.12+)
NT_GDB_TDESC = 0xFF000000  # gdb's target description (gcore_elf_make_tdesc_note(), owner "GDB", since 2021)
NOTE_NAMES = {1: "NT_PRSTATUS", NT_PRFPREG: "NT_FPREGSET", 3: "NT_PRPSINFO", 6: "NT_AUXV",
              0x53494749: "NT_SIGINFO", 0x46494C45: "NT_FILE", NT_PRXFPREG: "NT_PRXFPREG",
              NT_X86_XSTATE: "NT_X86_XSTATE", NT_X86_XSAVE_LAYOUT: "NT_X86_XSAVE_LAYOUT",
              NT_GDB_TDESC: "NT_GDB_TDESC"}
# The descriptors `core` reads, and the most bytes each may have (larger is refused, never read).
MAX_XSTATE = 1 << 20  # CPUID(0xD,0).ECX of today's largest parts is under 12 KiB
MAX_LAYOUT = 64 * 16  # one 16-byte record per XSAVE component number
KEEP = {("LINUX", NT_X86_XSTATE): MAX_XSTATE, ("LINUX", NT_X86_XSAVE_LAYOUT): MAX_LAYOUT}


@record
class Note:
    owner: str
    type: int
    desc: bytes | None  # the descriptor, for the notes in KEEP; None for the others
    offset: int  # of the descriptor in the file
    size: int = 0  # of the descriptor

    @property
    def type_name(self) -> str:
        return NOTE_NAMES.get(self.type, f"{self.type:#x}")


@record
class CoreNotes:
    """What the notes of a core file hold, as far as `core` needs it."""

    machine: int  # e_machine
    listed: list  # the first MAX_LISTED notes (descriptors only for KEEP)
    count: int  # every note of every PT_NOTE segment
    kept: dict  # (owner, type) in KEEP -> its notes, in file order (at most a few)
    owners: frozenset  # (owner, type) of every note

    def first(self, owner: str, ntype: int) -> Note | None:
        got = self.kept.get((owner, ntype))
        return got[0] if got else None

    def has(self, owner: str, ntype: int) -> bool:
        return (owner, ntype) in self.owners


def is_elf(head: bytes) -> bool:
    return head[:4] == ELFMAG


def read_notes(src, source: str) -> CoreNotes:
    """The notes of a core file's PT_NOTE segments. *src* has .size and .read(offset, size)."""
    def fail(where, problem):
        raise InputError(f"{source}: {where}: {problem}")

    if src.size < 52:
        fail("ELF header", "not an ELF file (too short)")
    head = src.read(0, min(src.size, 64))
    if head[:4] != ELFMAG:
        fail("ELF header", "not an ELF file")
    cls, endian = head[4], head[5]
    if endian != 1:
        fail("ELF header", "big-endian ELF: x86 core files are little-endian" if endian == 2 else
             f"unknown data encoding {endian}")
    if cls == 2:
        if len(head) < 64:
            fail("ELF header", "truncated")
        e_type, e_machine = struct.unpack_from("<HH", head, 16)
        e_phoff, e_shoff = struct.unpack_from("<QQ", head, 32)
        e_phentsize, e_phnum, e_shentsize = struct.unpack_from("<HHH", head, 54)
        ph_fmt, want, sh_want, sh_info_at = "<IIQQQQQQ", 56, 64, 44
    elif cls == 1:
        e_type, e_machine = struct.unpack_from("<HH", head, 16)
        e_phoff, e_shoff = struct.unpack_from("<II", head, 28)
        e_phentsize, e_phnum, e_shentsize = struct.unpack_from("<HHH", head, 42)
        ph_fmt, want, sh_want, sh_info_at = "<IIIIIIII", 32, 40, 28
    else:
        fail("ELF header", f"unknown ELF class {cls}")
    if e_type != ET_CORE:
        fail("ELF header", f"e_type {e_type} is not ET_CORE (4): not a core file")
    if e_machine not in (EM_386, EM_X86_64):
        fail("ELF header", f"e_machine {e_machine} is not x86 (3 or 62)")
    if e_phentsize != want:
        fail("ELF header", f"e_phentsize {e_phentsize}, expected {want}")
    if e_phnum == PN_XNUM:
        # elf_core_dump() with 65535 or more segments: e_phnum is PN_XNUM, the count is section header 0's sh_info.
        if e_shentsize != sh_want or not e_shoff or e_shoff + sh_want > src.size:
            fail("ELF header", f"e_phnum is PN_XNUM (0xffff) but there is no section header 0 at {e_shoff} "
                               f"(e_shentsize {e_shentsize}) to hold the real count")
        e_phnum, = struct.unpack_from("<I", src.read(e_shoff + sh_info_at, 4))
    if e_phnum > MAX_PHDRS:
        fail("program headers", f"{e_phnum} program headers: more than any core file has ({MAX_PHDRS})")
    if e_phoff + e_phnum * want > src.size:
        fail("program headers", f"{e_phnum} headers at {e_phoff} do not fit the {src.size}-byte file")
    walker = _Walker(src, source)
    seen_segments = set()
    for i, p_type, p_offset, p_filesz in _phdrs(src, e_phoff, e_phnum, want, ph_fmt, cls):
        if p_type != PT_NOTE or (p_offset, p_filesz) in seen_segments:
            continue
        seen_segments.add((p_offset, p_filesz))
        if p_offset + p_filesz > src.size:
            fail(f"program header {i}", f"PT_NOTE at {p_offset}, {p_filesz} bytes, runs past the end of the "
                                        f"file ({src.size} bytes): truncated core?")
        walker.segment(p_offset, p_filesz, i)
    return CoreNotes(e_machine, walker.listed, walker.count, walker.kept, frozenset(walker.owners))


def _phdrs(src, e_phoff: int, count: int, size: int, fmt: str, cls: int):
    """(index, p_type, p_offset, p_filesz) of every program header, read PHDR_CHUNK at a time."""
    for start in range(0, count, PHDR_CHUNK):
        n = min(PHDR_CHUNK, count - start)
        table = src.read(e_phoff + start * size, n * size)
        for j, fields in enumerate(struct.iter_unpack(fmt, table)):
            if cls == 2:
                p_type, _flags, p_offset, _va, _pa, p_filesz = fields[:6]
            else:
                p_type, p_offset, _va, _pa, p_filesz = fields[:5]
            yield start + j, p_type, p_offset, p_filesz


class _Walker:
    """Walks PT_NOTE segments through a WINDOW-byte window; keeps what `core` reads, counts the rest."""

    def __init__(self, src, source: str):
        self.src, self.source = src, source
        self.listed: list[Note] = []
        self.kept: dict = {}
        self.owners: set = set()
        self.count = 0
        self.bytes = 0
        self._win_at, self._win = 0, b""

    def _read(self, offset: int, size: int) -> bytes:
        end = offset + size
        if not (self._win_at <= offset and end <= self._win_at + len(self._win)):
            self._win_at = offset
            self._win = self.src.read(offset, max(size, min(WINDOW, self._limit - offset)))
        return self._win[offset - self._win_at:end - self._win_at]

    def segment(self, base: int, size: int, index: int) -> None:
        self.bytes += size
        if self.bytes > MAX_NOTE_BYTES:
            raise InputError(f"{self.source}: program header {index}: the PT_NOTE segments hold more than "
                             f"{MAX_NOTE_BYTES >> 20} MiB in all: more than any core's notes")
        self._limit, self._win_at, self._win = base + size, 0, b""
        pos, end = base, base + size
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack("<III", self._read(pos, 12))
            name_at = pos + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            if desc_at + descsz > end:
                raise InputError(f"{self.source}: note at offset {pos}: its {descsz}-byte descriptor runs past the end "
                                 f"of the PT_NOTE segment (offset {end}): truncated note")
            owner = self._read(name_at, min(namesz, 64)).split(b"\0", 1)[0].decode("ascii", "replace")
            self.count += 1
            if self.count > MAX_NOTES:
                raise InputError(f"{self.source}: more than {MAX_NOTES} notes: more than any core file has")
            key = (owner, ntype)
            self.owners.add(key)
            desc = None
            cap = KEEP.get(key)
            if cap is not None:
                kept = self.kept.setdefault(key, [])
                if len(kept) < 4 and all(n.offset != desc_at for n in kept):
                    if descsz > cap:
                        raise InputError(f"{self.source}: note at offset {pos}: a {descsz}-byte "
                                         f"{NOTE_NAMES.get(ntype, hex(ntype))} is larger than any kernel writes "
                                         f"({cap} bytes at most)")
                    desc = self.src.read(desc_at, descsz)
                    kept.append(Note(owner, ntype, desc, desc_at, descsz))
            if len(self.listed) < MAX_LISTED:
                self.listed.append(Note(owner, ntype, desc, desc_at, descsz))
            pos = desc_at + (descsz + 3) // 4 * 4
