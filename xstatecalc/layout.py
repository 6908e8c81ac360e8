"""XSAVE buffer layout math: standard and compacted offsets and sizes.

Standard format: every user component sits at its CPUID(0xD,i).EBX offset; the
size is the end of the component placed last in the buffer. Compacted format
(XSAVEC/XSAVES, SDM vol. 1 13.4.3): components follow the 576-byte legacy area
and header in ascending component number, each aligned up to 64 bytes when
CPUID(0xD,i).ECX[1] says so.
"""

from __future__ import annotations

from . import components as C
from .profile import Profile
from .records import record

LEGACY = {C.FP: (0, 160), C.SSE: (160, 256)}  # offsetof(fxregs_state, xmm_space) = 160


def align64(x: int) -> int:
    return (x + 63) & ~63


def user_components(profile: Profile, mask: int):
    """Extended user components of *mask* that the profile describes."""
    return [profile.components[n] for n in C.bits(mask & ~C.MASK_FPSSE)
            if n in profile.components and not profile.components[n].supervisor]


def last_in_buffer(profile: Profile, mask: int, order: str = "offset"):
    """The component that ends the standard-format buffer for *mask*, or None.

    order="offset": the one with the largest standard offset (Linux 6.16+,
    xfeature_uncompact_order[]); order="number": the highest-numbered one
    (Linux up to 6.15, fls64(mask) - 1), which is wrong once APX reuses the MPX hole.
    """
    comps = user_components(profile, mask)
    if not comps:
        return None
    if order == "number":
        return comps[-1]
    return max(comps, key=lambda c: (c.offset, c.nr))


def standard_size(profile: Profile, mask: int, order: str = "offset") -> int:
    """Size of a standard-format (non-compacted) buffer for *mask*."""
    last = last_in_buffer(profile, mask, order)
    return C.XSAVE_HDR_END if last is None else last.offset + last.size


def compacted_offsets(profile: Profile, mask: int, aligned: bool = True) -> dict[int, int]:
    """Offset of every extended component of *mask* in a compacted buffer.

    aligned=False ignores CPUID(0xD,i).ECX[1], as KVM's xstate_required_size() did before 5.17.
    """
    offsets, off = {}, C.XSAVE_HDR_END
    for n in C.bits(mask & ~C.MASK_FPSSE):
        comp = profile.components.get(n)
        if comp is None:
            continue
        if comp.align64 and aligned:
            off = align64(off)
        offsets[n] = off
        off += comp.size
    return offsets


def compacted_size(profile: Profile, mask: int, aligned: bool = True) -> int:
    """Size of a compacted-format buffer for *mask* (= CPUID(0xD,1).EBX on real hardware)."""
    offs = compacted_offsets(profile, mask, aligned)
    if not offs:
        return C.XSAVE_HDR_END
    last = max(offs)
    return offs[last] + profile.components[last].size


def size(profile: Profile, mask: int, compacted: bool, order: str = "offset") -> int:
    """The kernel's xstate_calculate_size(mask, compacted)."""
    return compacted_size(profile, mask) if compacted else standard_size(profile, mask, order)


@record
class Row:
    """One line of a layout table: a component, or a gap between components."""

    nr: int | None  # None for a gap
    name: str
    size: int
    std_offset: int | None
    cmp_offset: int | None
    align64: bool = False
    supervisor: bool = False
    pad_before: int = 0  # compacted alignment padding inserted before this component
    kind: str = "component"  # component | gap | legacy | header


def layout_rows(profile: Profile, mask: int) -> tuple[list[Row], list[Row]]:
    """Rows of the standard and compacted layouts of *mask*, holes and padding included."""
    std: list[Row] = [
        Row(C.FP, "x87", 160, 0, 0, kind="legacy"),
        Row(C.SSE, "sse", 256, 160, 160, kind="legacy"),
        Row(None, "(legacy reserved)", 96, 416, 416, kind="gap"),
        Row(None, "xsave header", 64, 512, 512, kind="header"),
    ]
    pos = C.XSAVE_HDR_END
    for comp in sorted(user_components(profile, mask), key=lambda c: c.offset):
        if comp.offset > pos:
            std.append(Row(None, "(hole)", comp.offset - pos, pos, None, kind="gap"))
        std.append(Row(comp.nr, C.key(comp.nr), comp.size, comp.offset, None, comp.align64))
        pos = max(pos, comp.offset + comp.size)
    cmp: list[Row] = list(std[:4])
    offs = compacted_offsets(profile, mask)
    end = C.XSAVE_HDR_END
    for n, off in offs.items():
        comp = profile.components[n]
        if off > end:
            cmp.append(Row(None, "(align64 padding)", off - end, None, end, kind="gap"))
        cmp.append(Row(n, C.key(n), comp.size, comp.offset if not comp.supervisor else None, off,
                       comp.align64, comp.supervisor, off - end))
        end = off + comp.size
    return std, cmp
