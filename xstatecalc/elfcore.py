"""Notes of an ELF core file, read with struct and strict bounds.

Only what `core` needs: the ELF header (32- or 64-bit, little-endian x86), the program
headers, and the notes of every PT_NOTE segment (elf(5): namesz, descsz, type, then the
name and the descriptor, each padded to 4 bytes). Every count and offset is checked against
the file before it is used; a malformed header is one InputError naming the place.
"""

from __future__ import annotations

import struct

from .errors import InputError
from .records import record

ELFMAG = b"\x7fELF"
ET_CORE = 4
PT_NOTE = 4
EM_386, EM_X86_64 = 3, 62
MAX_PHDRS = 4096
MAX_NOTES = 4096

NT_PRFPREG = 2  # NT_FPREGSET: struct user_i387_struct (the 512-byte FXSAVE image on x86-64)
NT_PRXFPREG = 0x46E62B7F  # i386: the FXSAVE image
NT_X86_XSTATE = 0x202  # the XSAVE image, standard format (xstateregs_get)
NT_X86_XSAVE_LAYOUT = 0x205  # struct x86_xfeat_component[] (6.12+)
NOTE_NAMES = {1: "NT_PRSTATUS", NT_PRFPREG: "NT_FPREGSET", 3: "NT_PRPSINFO", 6: "NT_AUXV",
              0x53494749: "NT_SIGINFO", 0x46494C45: "NT_FILE", NT_PRXFPREG: "NT_PRXFPREG",
              NT_X86_XSTATE: "NT_X86_XSTATE", NT_X86_XSAVE_LAYOUT: "NT_X86_XSAVE_LAYOUT"}


@record
class Note:
    owner: str
    type: int
    desc: bytes
    offset: int  # of the descriptor in the file

    @property
    def type_name(self) -> str:
        return NOTE_NAMES.get(self.type, f"{self.type:#x}")


MAX_NOTE_SEGMENT = 64 * 1024 * 1024  # the notes of a core with thousands of threads stay far below this


def is_elf(head: bytes) -> bool:
    return head[:4] == ELFMAG


def read_notes(src, source: str) -> tuple[int, list[Note]]:
    """(e_machine, notes) of a core file's PT_NOTE segments. *src* has .size and .read(offset, size)."""
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
        e_phoff, = struct.unpack_from("<Q", head, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", head, 54)
        ph_fmt, want = "<IIQQQQQQ", 56
    elif cls == 1:
        e_type, e_machine = struct.unpack_from("<HH", head, 16)
        e_phoff, = struct.unpack_from("<I", head, 28)
        e_phentsize, e_phnum = struct.unpack_from("<HH", head, 42)
        ph_fmt, want = "<IIIIIIII", 32
    else:
        fail("ELF header", f"unknown ELF class {cls}")
    if e_type != ET_CORE:
        fail("ELF header", f"e_type {e_type} is not ET_CORE (4): not a core file")
    if e_machine not in (EM_386, EM_X86_64):
        fail("ELF header", f"e_machine {e_machine} is not x86 (3 or 62)")
    if e_phentsize != want:
        fail("ELF header", f"e_phentsize {e_phentsize}, expected {want}")
    if e_phnum > MAX_PHDRS or e_phoff + e_phnum * want > src.size:
        fail("program headers", f"{e_phnum} headers at {e_phoff} do not fit the {src.size}-byte file")
    table = src.read(e_phoff, e_phnum * want)
    notes: list[Note] = []
    for i in range(e_phnum):
        fields = struct.unpack_from(ph_fmt, table, i * want)
        if cls == 2:
            p_type, _flags, p_offset, _va, _pa, p_filesz = fields[:6]
        else:
            p_type, p_offset, _va, _pa, p_filesz = fields[:5]
        if p_type != PT_NOTE:
            continue
        if p_offset + p_filesz > src.size:
            fail(f"program header {i}", f"PT_NOTE at {p_offset}, {p_filesz} bytes, runs past the end of the "
                                        f"file ({src.size} bytes): truncated core?")
        if p_filesz > MAX_NOTE_SEGMENT:
            fail(f"program header {i}", f"a {p_filesz}-byte PT_NOTE segment is larger than any core's notes")
        notes += _notes(src.read(p_offset, p_filesz), p_offset, source, len(notes))
    return e_machine, notes


def _notes(seg: bytes, base: int, source: str, count: int) -> list[Note]:
    out, pos, end = [], 0, len(seg)
    while pos + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", seg, pos)
        name_at = pos + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        if desc_at + descsz > end:
            raise InputError(f"{source}: note at offset {base + pos}: its {descsz}-byte descriptor runs past the end "
                             f"of the PT_NOTE segment (offset {base + end}): truncated note")
        owner = seg[name_at:name_at + namesz].split(b"\0", 1)[0].decode("ascii", "replace")
        out.append(Note(owner, ntype, bytes(seg[desc_at:desc_at + descsz]), base + desc_at))
        if count + len(out) > MAX_NOTES:
            raise InputError(f"{source}: more than {MAX_NOTES} notes")
        pos = desc_at + (descsz + 3) // 4 * 4
    return out
