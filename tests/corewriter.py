"""Write ELF core files and XSAVE images for tests, from the kernel's rules — independently of the reader.

elf(5) notes: u32 namesz, descsz, type; the name ("LINUX\\0") and the descriptor, each padded to 4.
NT_X86_XSTATE (0x202) is xstateregs_get()'s standard-format image: XCR0 as a u64 at 464
(xstate_fx_sw_bytes), XSTATE_BV and XCOMP_BV at 512. NT_X86_XSAVE_LAYOUT (0x205): one
{u32 type, size, offset, flags} per extended feature (dump_xsave_layout_desc(), 6.12+).
"""

import struct


def xsave_image(size, xcr0, xstate_bv, layout, *, fill=0x5A, sw=None):
    """A standard-format image of *size* bytes; *layout* {nr: (offset, size)}; components in *xstate_bv*
    are filled with *fill*, the others stay zero (their initial state)."""
    img = bytearray(size)
    img[24:28] = struct.pack("<I", 0x1F80)  # MXCSR's reset value
    if sw is None:
        img[464:472] = struct.pack("<Q", xcr0)
    else:
        img[464:464 + len(sw)] = sw
    img[512:528] = struct.pack("<QQ", xstate_bv, 0)
    for nr, (off, length) in layout.items():
        if xstate_bv >> nr & 1:
            img[off:off + length] = bytes([fill]) * length
    return bytes(img)


def layout_desc(layout):
    return b"".join(struct.pack("<IIII", nr, length, off, 0) for nr, (off, length) in sorted(layout.items()))


def _note(name, ntype, desc):
    name_b = name.encode() + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name_b), len(desc), ntype) + pad(name_b) + pad(desc)


def core_file(xstate, layout=None, *, truncate_last_note_by=0):
    """An ELF64 x86-64 core with one PT_NOTE: NT_PRSTATUS (zeros), NT_X86_XSTATE, and the layout note."""
    notes = _note("CORE", 1, bytes(336)) + _note("LINUX", 0x202, xstate)
    if layout is not None:
        notes += _note("LINUX", 0x205, layout_desc(layout))
    ehdr_size, phdr_size = 64, 56
    note_off = ehdr_size + phdr_size
    seg_size = len(notes) - truncate_last_note_by
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
            + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 64, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, seg_size, 0, 4)
    return ehdr + phdr + notes[:seg_size]
