"""What an XSAVE image holds, and which CPUs' layouts it fits.

The image comes from a core file's NT_X86_XSTATE note (xstateregs_get(): standard format, bytes
464..511 = xstate_fx_sw_bytes, whose first u64 is XCR0, i.e. fpu_user_cfg.max_features), a raw
PTRACE_GETREGSET or KVM_GET_XSAVE/KVM_GET_XSAVE2 blob (the same sw bytes), a signal frame's
fpstate (bytes 464.. are struct _fpx_sw_bytes: magic1 FP_XSTATE_MAGIC1, extended_size,
xfeatures, xstate_size), or a program's own XSAVE/XSAVEOPT, which leaves bytes 464..511 as they
were (zero): XCR0 is then unknown and XSTATE_BV and the size stand in for it. The XSAVE header at
512 holds XSTATE_BV and XCOMP_BV (bit 63: compacted). Since 6.12 a core also carries
NT_X86_XSAVE_LAYOUT: {u32 type, size, offset, flags} per extended feature of
fpu_user_cfg.max_features, standard offsets (dump_xsave_layout_desc()). gdb's gcore writes its own
image (i387_collect_xsave(): XCR0 at 464, XSTATE_BV = XCR0, gdb's offsets) and an NT_GDB_TDESC note,
never the layout note.

What XRSTOR would refuse (SDM vol. 1 13.8 and the XRSTOR/XRSTORS #GP conditions) and an XCR0 that
XSETBV would refuse are problems: findings of `core` (exit 1).
"""

from __future__ import annotations

import struct

from . import components as C
from . import layout as L
from .errors import InputError
from .records import record
from .sigframe import FP_XSTATE_MAGIC1

SW_BYTES, HEADER = 464, 512  # xstate_fx_sw_bytes / struct _fpx_sw_bytes; struct xstate_header
MXCSR = 24  # in the legacy region (FXSAVE layout)
COMPACTED_BIT = 1 << 63
MAX_IMAGE = 1 << 20  # CPUID(0xD,0).ECX of today's largest parts is under 12 KiB
MAX_LAYOUT_RECORDS = 64  # one per component number
# XCR0 can hold only the user components the SDM defines (x87 .. APX, and AMD's LWP at 62); the supervisor ones live
# in IA32_XSS, bits 20..61 and 63 are reserved.
USER_BITS = C.mask_of(*[n for n, c in C.CATALOGUE.items() if not c.supervisor])
SUPERVISOR_BITS = C.mask_of(*[n for n, c in C.CATALOGUE.items() if c.supervisor])
WRITER_TEXT = {"kernel": "the kernel (no other writer's note)", "gdb": "gdb's gcore", None: "-"}


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


# dump_xsave_layout_desc()'s first version (v1 of the series, March 2024) also wrote x87 and SSE with
# xstate_offsets[]/xstate_sizes[] of the legacy area; the merged one (6.12) writes extended features only.
LEGACY_RECORDS = {C.FP: (0, 160), C.SSE: (160, 256)}


def parse_layout_note(desc: bytes, source: str, image_size: int | None = None, xcr0: int | None = None
                      ) -> list[LayoutRecord]:
    """The records of an NT_X86_XSAVE_LAYOUT descriptor, checked: whole records, at most one per component, user
    components of XCR0 only (every extended one of them), each inside the image, none overlapping. Any other note
    cannot be trusted for offsets: InputError naming the record."""
    where = f"{source}: NT_X86_XSAVE_LAYOUT"
    if len(desc) % 16:
        raise InputError(f"{where}: {len(desc)} bytes is not a whole number of 16-byte struct x86_xfeat_component "
                         "records")
    if len(desc) > MAX_LAYOUT_RECORDS * 16:
        raise InputError(f"{where}: {len(desc) // 16} records; there are at most {MAX_LAYOUT_RECORDS} components")
    out = [LayoutRecord(*fields) for fields in struct.iter_unpack("<IIII", desc)]
    seen: set[int] = set()
    for i, r in enumerate(out):
        def bad(problem, i=i, r=r):
            raise InputError(f"{where}: record {i} (type {r.type}): {problem}")

        if r.type > 63:
            bad("not an XSAVE component (0..63)")
        if r.type in seen:
            bad("a second record for the same component")
        seen.add(r.type)
        if r.type in LEGACY_RECORDS:
            if (r.offset, r.size) != LEGACY_RECORDS[r.type]:
                bad(f"{C.key(r.type)} is in the legacy area at {LEGACY_RECORDS[r.type][0]}, "
                    f"{LEGACY_RECORDS[r.type][1]} bytes, not at {r.offset}, {r.size} bytes")
            continue
        if SUPERVISOR_BITS >> r.type & 1:
            bad(f"{C.key(r.type)} is supervisor state: never in a user-space image")
        if xcr0 is not None and not xcr0 >> r.type & 1:
            bad(f"{C.key(r.type)} is not in XCR0 {xcr0:#x}, the features the note describes")
        if r.size == 0 or r.offset < C.XSAVE_HDR_END:
            bad(f"{r.size} bytes at {r.offset}: an extended component starts at {C.XSAVE_HDR_END} or later and has "
                "a size")
        if image_size is not None and r.offset + r.size > image_size:
            bad(f"{r.size} bytes at {r.offset} run past the {image_size}-byte image")
    ext = sorted((r for r in out if r.type not in LEGACY_RECORDS), key=lambda r: r.offset)
    for a, b in zip(ext, ext[1:]):
        if b.offset < a.offset + a.size:
            raise InputError(f"{where}: {C.key(b.type)} at {b.offset} overlaps {C.key(a.type)} at "
                             f"{a.offset}..{a.offset + a.size}")
    if xcr0 is not None:
        absent = [C.key(n) for n in C.bits(xcr0 & ~C.MASK_FPSSE) if n not in seen]
        if absent:
            raise InputError(f"{where}: no record for {', '.join(absent)}, in XCR0 {xcr0:#x} (the kernel writes one "
                             "per extended feature of XCR0)")
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
    kind: str  # core | ptrace-or-kvm | signal-frame | xsave (a program's own XSAVE: no XCR0 stored)
    xcr0: int | None
    xcr0_from: str
    signal_sw: dict | None  # struct _fpx_sw_bytes of a signal frame
    xstate_bv: int | None
    xcomp_bv: int | None
    layout: list | None  # NT_X86_XSAVE_LAYOUT records, when the core has them
    notes: list  # (owner, type name, size) of the core's notes (the first elfcore.MAX_LISTED)
    problems: list  # what XRSTOR or XSETBV would refuse: findings
    writer: str | None = None  # core files: "kernel" or "gdb"
    note_count: int = 0  # every note of the core
    fsave_header: int = 0  # bytes of struct fregs_state before the FXSAVE image (an ia32 frame's fpstate)

    @property
    def compacted(self) -> bool:
        return bool(self.xcomp_bv and self.xcomp_bv & COMPACTED_BIT)

    @property
    def size(self) -> int:
        return len(self.data)


def read_image(src, source: str, *, raw: bool | None = None) -> Image:
    """An ELF core (its NT_X86_XSTATE and NT_X86_XSAVE_LAYOUT notes) or a raw image; *raw* None: detect, and
    refuse a file that is neither (exit 2) rather than report its bytes as findings.
    *src* has .size and .read(offset, size) (inputs.BinarySource)."""
    from .elfcore import NT_GDB_TDESC, NT_PRFPREG, NT_PRXFPREG, NT_X86_XSAVE_LAYOUT, NT_X86_XSTATE, is_elf, read_notes

    detect = raw is None
    if detect:
        raw = not is_elf(src.read(0, min(4, src.size)))
    if raw:
        if src.size > MAX_IMAGE:
            raise InputError(f"{source}: {src.size} bytes is larger than any XSAVE image ({MAX_IMAGE >> 20} MiB at "
                             "most)" + ("; not an ELF core file either" if detect else "; is it a core file? (drop "
                                                                                         "--raw)"))
        data = src.read(0, src.size)
        # An ia32 frame's fpstate (struct _fpstate_32) starts with the 112-byte fsave header (struct fregs_state):
        # its FXSAVE image, and the software bytes at 464 of it, begin at 112.
        at = C.FSAVE_SIZE + SW_BYTES
        if len(data) >= C.FSAVE_SIZE + C.XSAVE_HDR_END and struct.unpack_from("<I", data, SW_BYTES)[0] != \
                FP_XSTATE_MAGIC1 and struct.unpack_from("<I", data, at)[0] == FP_XSTATE_MAGIC1:
            return _image(data[C.FSAVE_SIZE:], source, "raw", None, [])._replace(fsave_header=C.FSAVE_SIZE)
        image = _image(data, source, "raw", None, [])
        if detect and image.problems:
            raise InputError(f"{source}: not an ELF core file, and not an XSAVE image: {image.problems[0]} "
                             "(--raw reads it anyway, with that as a finding)")
        return image
    core = read_notes(src, source)
    listed = [(n.owner, n.type_name, n.size) for n in core.listed]
    xstate = core.first("LINUX", NT_X86_XSTATE)
    if xstate is None:
        if not (core.has("CORE", NT_PRFPREG) or core.has("LINUX", NT_PRXFPREG) or core.has("CORE", NT_PRXFPREG)):
            raise InputError(f"{source}: no NT_X86_XSTATE note and no FXSAVE note: no FPU state in this core")
        raise InputError(f"{source}: only an FXSAVE note (NT_FPREGSET): the process ran without XSAVE, so there is "
                         "no XSAVE image to read")
    if len(xstate.desc) > MAX_IMAGE:
        raise InputError(f"{source}: NT_X86_XSTATE of {len(xstate.desc)} bytes is larger than any XSAVE image")
    # gcore_elf_make_tdesc_note(): gdb adds its target description; the kernel never writes a GDB note.
    writer = "gdb" if core.has("GDB", NT_GDB_TDESC) else "kernel"
    # One NT_X86_XSTATE per thread; the first belongs to the thread that dumped (fill_note_info()).
    image = _image(xstate.desc, source, "core", None, listed, writer=writer, note_count=core.count)
    layouts = core.kept.get(("LINUX", NT_X86_XSAVE_LAYOUT), [])
    if len(layouts) > 1:
        raise InputError(f"{source}: two NT_X86_XSAVE_LAYOUT notes (at offsets {layouts[0].offset} and "
                         f"{layouts[1].offset}); the kernel writes one per core")
    if layouts:
        records = parse_layout_note(layouts[0].desc, source, image.size, image.xcr0)
        image = image._replace(layout=records)
    return image


def _image(data: bytes, source: str, kind: str, layout, notes, *, writer=None, note_count=0) -> Image:
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
        how = ("xstate_fx_sw_bytes[0] at 464: XCR0 as gdb stores it (tdep->xcr0)" if writer == "gdb" else
               "xstate_fx_sw_bytes[0] at 464: XCR0 (fpu_user_cfg.max_features) as the kernel stores it")
        if kind == "raw":
            kind = "ptrace-or-kvm"
        if xcr0 == 0 and not any(data[SW_BYTES:HEADER]):
            xcr0 = None
            how = ("bytes 464..511 are zero: no XCR0 stored (XSAVE and XSAVEOPT leave them untouched: a program's "
                   "own image?); the layouts are found from XSTATE_BV and the size")
            if kind == "ptrace-or-kvm":
                kind = "xsave"
    xstate_bv, xcomp_bv = struct.unpack_from("<QQ", data, HEADER)
    if xcr0 is not None:
        problems += [f"XCR0 {xcr0:#x} is impossible: {why}" for why in xcr0_problems(xcr0)]
    problems += xrstor_problems(data, xcr0, xstate_bv, xcomp_bv)
    return Image(data, kind, xcr0, how, signal_sw, xstate_bv, xcomp_bv, layout, notes, problems, writer, note_count)


def xcr0_problems(xcr0: int) -> list[str]:
    """Why no XSETBV could have written *xcr0* (SDM vol. 1 13.3): supervisor or reserved bits, the XSETBV rules."""
    out = []
    if xcr0 & SUPERVISOR_BITS:
        out.append(f"supervisor (IA32_XSS) component(s) {' '.join(C.names(xcr0 & SUPERVISOR_BITS))} are never in "
                   "XCR0")
    if xcr0 & ~USER_BITS & ~SUPERVISOR_BITS:
        out.append(f"reserved bit(s) {', '.join(str(n) for n in C.bits(xcr0 & ~USER_BITS & ~SUPERVISOR_BITS))}")
    return out + C.xsetbv_violations(xcr0)


def xrstor_problems(data: bytes, xcr0: int | None, xstate_bv: int, xcomp_bv: int) -> list[str]:
    """What makes XRSTOR (XRSTORS for a compacted image) raise #GP on this image, per the SDM's list."""
    out = []
    mxcsr, = struct.unpack_from("<I", data, MXCSR)
    if mxcsr >> 16:
        out.append(f"MXCSR {mxcsr:#x} sets reserved bits 31:16: XRSTOR would fault (#GP)")
    if not xcomp_bv & COMPACTED_BIT:
        # Standard form: XSTATE_BV within XCR0, header bytes 23:8 zero.
        allowed = xcr0 if xcr0 is not None else USER_BITS
        if xstate_bv & ~allowed:
            out.append(f"XSTATE_BV {xstate_bv:#x} has bit(s) {', '.join(str(n) for n in C.bits(xstate_bv & ~allowed))}"
                       + (f" outside XCR0 {xcr0:#x}" if xcr0 is not None else " that no XCR0 can have")
                       + ": XRSTOR would fault (#GP)")
        if any(data[HEADER + 8:HEADER + 24]):
            out.append(f"XSAVE header bytes 8..23 are not zero (XCOMP_BV {xcomp_bv:#x} without bit 63, or the "
                       "reserved bytes after it): the standard form of XRSTOR would fault (#GP)")
        return out
    # Compacted form: XCOMP_BV[62:0] within XCR0 (XCR0 | IA32_XSS for XRSTORS), XSTATE_BV within XCOMP_BV, header
    # bytes 63:16 zero.
    comp = xcomp_bv & ~COMPACTED_BIT
    defined = USER_BITS | SUPERVISOR_BITS
    if comp & ~defined:
        out.append(f"XCOMP_BV {xcomp_bv:#x} has reserved bit(s) {', '.join(str(n) for n in C.bits(comp & ~defined))}: "
                   "XRSTOR and XRSTORS would fault (#GP)")
    if xcr0 is not None and comp & USER_BITS & ~xcr0:
        out.append(f"XCOMP_BV {xcomp_bv:#x} has user component(s) outside XCR0 {xcr0:#x}: XRSTOR would fault (#GP)")
    if xstate_bv & ~comp:
        out.append(f"XSTATE_BV {xstate_bv:#x} has bit(s) {', '.join(str(n) for n in C.bits(xstate_bv & ~comp))} "
                   f"outside XCOMP_BV {xcomp_bv:#x}: XRSTOR would fault (#GP)")
    if any(data[HEADER + 16:C.XSAVE_HDR_END]):
        out.append("XSAVE header bytes 16..63 are not zero: the compacted form of XRSTOR would fault (#GP)")
    return out


# ------------------------------------------------------------------ which CPUs fit

def image_mask(image: Image) -> int | None:
    """The components the image's layout is about: XCOMP_BV (compacted), XCR0, or, when no XCR0 is stored, the
    components XSTATE_BV says hold state (the others' bytes mean nothing)."""
    if image.compacted:
        return image.xcomp_bv & ~COMPACTED_BIT
    if image.xcr0 is not None:
        return image.xcr0
    return image.xstate_bv


def profile_layout(profile, image: Image) -> dict[int, tuple[int, int]] | None:
    """{component: (offset, size)} of the image's extended features on *profile*, or None if the profile
    cannot hold them."""
    mask = image_mask(image)
    if mask is None:
        return None
    out = {}
    offsets = L.compacted_offsets(profile, mask) if image.compacted and all(
        n in profile.components for n in C.bits(mask & ~C.MASK_FPSSE)) else None
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
        missing = [C.key(n) for n in C.bits((image_mask(image) or 0) & ~C.MASK_FPSSE)
                   if n not in profile.components or (profile.components[n].supervisor and not image.compacted)]
        return [f"{profile.name} has no {', '.join(missing) or 'such components'}"]
    why = []
    if image.layout is not None:
        noted = {r.type: (r.offset, r.size) for r in image.layout if r.type not in LEGACY_RECORDS}
        for n in sorted(set(noted) | set(lay)):
            if noted.get(n) != lay.get(n):
                a, b = noted.get(n), lay.get(n)
                why.append(f"{C.key(n)}: {'absent' if a is None else f'{a[1]} bytes at {a[0]}'} in the note, "
                           f"{'absent' if b is None else f'{b[1]} bytes at {b[0]}'} on {profile.name}")
    need = max((o + s for o, s in lay.values()), default=C.XSAVE_HDR_END)
    if image.kind == "core" and not image.compacted and image.xcr0 is not None and need != image.size:
        # NT_X86_XSTATE is exactly fpu_user_cfg.max_size: the standard size of XCR0 (regset .n = size / 8); gdb
        # writes the standard size of its XCR0 too (X86_XSTATE_SIZE(), or the host's CPUID(0xD,0).EBX once gdb has
        # x86_xsave_layout).
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
    """Component *nr*'s bytes in the image (x87 and SSE: their legacy-area bytes)."""
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
