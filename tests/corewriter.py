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


def core_file(xstate, layout=None, *, truncate_last_note_by=0, layout_desc_bytes=None, extra_notes=b""):
    """An ELF64 x86-64 core with one PT_NOTE: NT_PRSTATUS (zeros), NT_X86_XSTATE, and the layout note
    (*layout_desc_bytes*: the note's descriptor as given, records or not)."""
    notes = _note("CORE", 1, bytes(336)) + _note("LINUX", 0x202, xstate)
    if layout is not None or layout_desc_bytes is not None:
        notes += _note("LINUX", 0x205, layout_desc(layout) if layout_desc_bytes is None else layout_desc_bytes)
    notes += extra_notes
    seg_size = len(notes) - truncate_last_note_by
    return elf(notes[:seg_size], [(4, seg_size)])


def note(name, ntype, desc):
    """One ELF note: u32 namesz, descsz, type; name and descriptor padded to 4."""
    return _note(name, ntype, desc)


def elf(payload, segments, *, loads=0, xnum=False):
    """An ELF64 x86-64 core: *payload* after the headers; *segments* [(p_type, filesz)] all start at the
    payload (a list of one PT_NOTE, or the same notes listed again and again); *loads* empty PT_LOAD headers
    first (elf_core_dump() writes one per mapping); *xnum*: e_phnum = PN_XNUM (0xffff) and the real count in
    section header 0's sh_info, as elf_core_dump() writes 65535 or more (fill_extnum_info())."""
    count = loads + len(segments)
    phoff, shoff = 64, 64
    phoff = shoff + (64 if xnum else 0)
    data_off = phoff + 56 * count
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
            + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, phoff, shoff if xnum else 0, 0, 64, 56,
                          0xFFFF if xnum else count, 64, 1 if xnum else 0, 0))
    shdr = struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, count, 0, 0) if xnum else b""
    phdrs = b"".join(struct.pack("<IIQQQQQQ", 1, 4, data_off, 0, 0, 0, 0, 4) for _ in range(loads))
    phdrs += b"".join(struct.pack("<IIQQQQQQ", ptype, 4, data_off, 0, 0, size, 0, 4) for ptype, size in segments)
    return ehdr + shdr + phdrs + payload
