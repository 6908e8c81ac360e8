"""What an XSAVE image holds, and which CPUs' layouts it fits.

The image comes from a core file's NT_X86_XSTATE note (xstateregs_get(): standard format, bytes
464..511 = xstate_fx_sw_bytes, whose first u64 is XCR0, i.e. fpu_user_cfg.max_features), a raw
PTRACE_GETREGSET or KVM_GET_XSAVE/KVM_GET_XSAVE2 blob (the same sw bytes), or a signal frame's
fpstate (bytes 464.. are struct _fpx_sw_bytes: magic1 FP_XSTATE_MAGIC1, extended_size,
xfeatures, xstate_size). The XSAVE header at 512 holds XSTATE_BV and XCOMP_BV (bit 63: compacted).
Since 6.12 a core also carries NT_X86_XSAVE_LAYOUT: {u32 type, size, offset, flags} per extended
feature of fpu_user_cfg.max_features, standard offsets (dump_xsave_layout_desc()).
"""

from __future__ import annotations

import struct

from . import components as C
from . import layout as L
from .errors import InputError
from .records import record
from .sigframe import FP_XSTATE_MAGIC1

SW_BYTES, HEADER = 464, 512  # xstate_fx_sw_bytes / struct _fpx_sw_bytes; struct xstate_header
COMPACTED_BIT = 1 << 63
MAX_IMAGE = 1 << 24


@record
class LayoutRecord:
    """struct x86_xfeat_component."""

    type: int
    size: int
    offset: int
    flags: int

    def record(self) -> dict:
        return {"type": self.type, "name": C.key(self.type), "size": self.size, "offset": self.offset,
                "flags": self.flags}


def parse_layout_note(desc: bytes, source: str) -> list[LayoutRecord]:
    if len(desc) % 16:
        raise InputError(f"{source}: NT_X86_XSAVE_LAYOUT: {len(desc)} bytes is not a whole number of 16-byte "
                         "struct x86_xfeat_component records")
    out = [LayoutRecord(*struct.unpack_from("<IIII", desc, i)) for i in range(0, len(desc), 16)]
    for r in out:
        if r.type > 63:
            raise InputError(f"{source}: NT_X86_XSAVE_LAYOUT: type {r.type} is not an XSAVE component (0..63)")
    return out


def layout_note(profile, mask: int) -> list[LayoutRecord]:
    """The records dump_xsave_layout_desc() writes for user features *mask* (fpu_user_cfg.max_features)."""
    return [LayoutRecord(n, profile.components[n].size, profile.components[n].offset, 0)
            for n in C.bits(mask & ~C.MASK_FPSSE) if n in profile.components]


def note_bytes(records) -> bytes:
    return b"".join(struct.pack("<IIII", r.type, r.size, r.offset, r.flags) for r in records)


@record
class Image:
    """An XSAVE image and what its own bytes say."""

    data: bytes
    kind: str  # core | ptrace-or-kvm | signal-frame
    xcr0: int | None
    xcr0_from: str
    signal_sw: dict | None  # struct _fpx_sw_bytes of a signal frame
    xstate_bv: int | None
    xcomp_bv: int | None
    layout: list | None  # NT_X86_XSAVE_LAYOUT records, when the core has them
    notes: list  # (owner, type name, size) of the core's notes
    problems: list
    fsave_header: int = 0  # bytes of struct fregs_state before the FXSAVE image (an ia32 frame's fpstate)

    @property
    def compacted(self) -> bool:
        return bool(self.xcomp_bv and self.xcomp_bv & COMPACTED_BIT)

    @property
    def size(self) -> int:
        return len(self.data)


def read_image(src, source: str, *, raw: bool | None = None) -> Image:
    """An ELF core (its NT_X86_XSTATE and NT_X86_XSAVE_LAYOUT notes) or a raw image; *raw* None: detect.
    *src* has .size and .read(offset, size) (inputs.BinarySource)."""
    from .elfcore import NT_PRFPREG, NT_PRXFPREG, NT_X86_XSAVE_LAYOUT, NT_X86_XSTATE, is_elf, read_notes

    if raw is None:
        raw = not is_elf(src.read(0, min(4, src.size)))
    if raw:
        if src.size > MAX_IMAGE:
            raise InputError(f"{source}: {src.size} bytes is larger than any XSAVE image; is it a core file? "
                             "(drop --raw)")
        data = src.read(0, src.size)
        # An ia32 frame's fpstate (struct _fpstate_32) starts with the 112-byte fsave header (struct fregs_state):
        # its FXSAVE image, and the software bytes at 464 of it, begin at 112.
        at = C.FSAVE_SIZE + SW_BYTES
        if len(data) >= C.FSAVE_SIZE + C.XSAVE_HDR_END and struct.unpack_from("<I", data, SW_BYTES)[0] != \
                FP_XSTATE_MAGIC1 and struct.unpack_from("<I", data, at)[0] == FP_XSTATE_MAGIC1:
            return _image(data[C.FSAVE_SIZE:], source, "raw", None, [])._replace(fsave_header=C.FSAVE_SIZE)
        return _image(data, source, "raw", None, [])
    _machine, notes = read_notes(src, source)
    listed = [(n.owner, n.type_name, len(n.desc)) for n in notes]
    xstate = [n for n in notes if n.type == NT_X86_XSTATE and n.owner == "LINUX"]
    layout_notes = [n for n in notes if n.type == NT_X86_XSAVE_LAYOUT and n.owner == "LINUX"]
    layout = parse_layout_note(layout_notes[0].desc, source) if layout_notes else None
    if not xstate:
        fx = [n for n in notes if n.type in (NT_PRFPREG, NT_PRXFPREG) and len(n.desc) == C.FXSAVE_SIZE]
        if not fx:
            raise InputError(f"{source}: no NT_X86_XSTATE note and no FXSAVE note: no FPU state in this core")
        raise InputError(f"{source}: only an FXSAVE note (NT_FPREGSET): the process ran without XSAVE, so there is "
                         "no XSAVE image to read")
    # One NT_X86_XSTATE per thread; the first belongs to the thread that dumped (fill_note_info()).
    return _image(xstate[0].desc, source, "core", layout, listed)


def _image(data: bytes, source: str, kind: str, layout, notes) -> Image:
    if len(data) < C.XSAVE_HDR_END:
        raise InputError(f"{source}: {len(data)} bytes is shorter than the 576-byte legacy area and XSAVE header: "
                         "not an XSAVE image")
    problems = []
    magic1, ext_size, sw_xfeatures, xstate_size = struct.unpack_from("<IIQI", data, SW_BYTES)
    signal_sw = None
    if magic1 == FP_XSTATE_MAGIC1:
        kind = "signal-frame" if kind == "raw" else kind
        signal_sw = {"magic1": f"{magic1:#x}", "extended_size": ext_size, "xfeatures": f"{sw_xfeatures:#x}",
                     "xstate_size": xstate_size}
        xcr0, how = sw_xfeatures, "struct _fpx_sw_bytes.xfeatures at 472 (a signal frame's fpstate)"
        if xstate_size > len(data):
            problems.append(f"_fpx_sw_bytes.xstate_size {xstate_size} is more than the {len(data)} bytes given")
    else:
        xcr0, = struct.unpack_from("<Q", data, SW_BYTES)
        how = "xstate_fx_sw_bytes[0] at 464: XCR0 (fpu_user_cfg.max_features) as the kernel stores it"
        if kind == "raw":
            kind = "ptrace-or-kvm"
        if xcr0 == 0:
            xcr0, how = None, "bytes 464..471 are zero: no XCR0 stored (not a kernel-written image?)"
    xstate_bv, xcomp_bv = struct.unpack_from("<QQ", data, HEADER)
    if xcr0 is not None:
        if not xcr0 & 1:
            problems.append(f"XCR0 {xcr0:#x} without x87 (bit 0) is architecturally invalid")
        if xstate_bv & ~xcr0:
            problems.append(f"XSTATE_BV {xstate_bv:#x} has bits outside XCR0 {xcr0:#x}")
    if xcomp_bv and not xcomp_bv & COMPACTED_BIT:
        problems.append(f"XCOMP_BV {xcomp_bv:#x} without bit 63: XRSTOR would fault (#GP)")
    if any(data[HEADER + 16:C.XSAVE_HDR_END]):
        problems.append("XSAVE header bytes 528..575 are not zero: XRSTOR would fault (#GP)")
    return Image(data, kind, xcr0, how, signal_sw, xstate_bv, xcomp_bv, layout, notes, problems)


# ------------------------------------------------------------------ which CPUs fit

def profile_layout(profile, image: Image) -> dict[int, tuple[int, int]] | None:
    """{component: (offset, size)} of the image's extended features on *profile*, or None if the profile
    cannot hold them."""
    if image.compacted:
        mask = image.xcomp_bv & ~COMPACTED_BIT
    elif image.xcr0 is not None:
        mask = image.xcr0
    else:
        return None
    out = {}
    offsets = L.compacted_offsets(profile, mask) if image.compacted else None
    for n in C.bits(mask & ~C.MASK_FPSSE):
        c = profile.components.get(n)
        if c is None or (c.supervisor and not image.compacted):
            return None
        out[n] = (offsets[n] if offsets is not None else c.offset, c.size)
    return out


def fits(profile, image: Image) -> list[str]:
    """Why *profile*'s layout does not fit the image (empty: it fits)."""
    lay = profile_layout(profile, image)
    if lay is None:
        missing = [C.key(n) for n in C.bits((image.xcr0 or 0) & ~C.MASK_FPSSE) if n not in profile.components]
        return [f"{profile.name} has no {', '.join(missing) or 'such components'}"]
    why = []
    if image.layout is not None:
        noted = {r.type: (r.offset, r.size) for r in image.layout}
        for n in sorted(set(noted) | set(lay)):
            if noted.get(n) != lay.get(n):
                a, b = noted.get(n), lay.get(n)
                why.append(f"{C.key(n)}: {'absent' if a is None else f'{a[1]} bytes at {a[0]}'} in the note, "
                           f"{'absent' if b is None else f'{b[1]} bytes at {b[0]}'} on {profile.name}")
    need = max((o + s for o, s in lay.values()), default=C.XSAVE_HDR_END)
    if image.kind == "core" and not image.compacted and need != image.size:
        # NT_X86_XSTATE is exactly fpu_user_cfg.max_size: the standard size of XCR0 (regset .n = size / 8).
        why.append(f"the standard size for XCR0 is {need} on {profile.name}, the note has {image.size} bytes")
    elif need > image.size:
        why.append(f"{profile.name} needs {need} bytes for these features, the image has {image.size}")
    return why


@record
class Fit:
    profile: object
    layout: dict

    @property
    def key(self) -> tuple:
        return tuple(sorted(self.layout.items()))


def candidates(image: Image, profiles) -> list[Fit]:
    """The profiles whose layout is consistent with the image."""
    return [Fit(p, profile_layout(p, image)) for p in profiles if not fits(p, image)]


def layout_groups(fits_: list[Fit]) -> list[list[Fit]]:
    """Candidates grouped by identical layout; more than one group means the layout is ambiguous."""
    groups: dict = {}
    for f in fits_:
        groups.setdefault(f.key, []).append(f)
    return list(groups.values())


def component_bytes(image: Image, nr: int, layout: dict) -> bytes:
    if nr in (C.FP, C.SSE):
        start, size = (0, 160) if nr == C.FP else (160, 256)
    elif nr not in layout:
        raise InputError(f"component {nr} ({C.key(nr)}) is not in this image's layout")
    else:
        start, size = layout[nr]
    if start + size > image.size:
        raise InputError(f"component {nr} ({C.key(nr)}) at {start}, {size} bytes, runs past the "
                         f"{image.size}-byte image")
    return image.data[start:start + size]
