"""Layout pictures: an XSAVE buffer as bands of segments, for `layout --diagram`, SVG and `compare`.

The picture is data (render.Picture); render/text.py and render/svg.py draw it. Segments come from
layout.layout_rows(): the legacy area, the XSAVE header, each component, holes in the standard
format and 64-byte alignment padding in the compacted one. Each component is coloured by its class
in the kernel asked about (report.kernel_class).
"""

from __future__ import annotations

from . import components as C
from . import layout as L
from .render import Band, Picture, Segment
from .report import kernel_class


def _segments(rows, kernel, compacted: bool) -> list:
    out = []
    for r in rows:
        start = r.cmp_offset if compacted else r.std_offset
        if start is None or (r.supervisor and not compacted) or not r.size:
            continue
        if r.kind == "component":
            cls = kernel_class(kernel, r.nr) if kernel is not None else ("supervisor" if r.supervisor else "user")
            out.append(Segment(start, r.size, f"{r.nr} {C.key(r.nr)}", cls))
        elif r.kind == "legacy" and r.nr is not None:
            out.append(Segment(start, r.size, f"{r.nr} {C.key(r.nr)}", "legacy"))
        elif r.kind == "header":
            out.append(Segment(start, r.size, "XSAVE header", "header"))
        elif "reserved" in r.name:
            out.append(Segment(start, r.size, "reserved", "reserved"))
        else:  # a hole (standard) or 64-byte alignment padding (compacted)
            out.append(Segment(start, r.size, "pad" if compacted else "hole", "padding" if compacted else "hole"))
    return out


def layout_picture(profile, mask: int, kernel=None) -> Picture:
    """Standard and compacted format of *mask* on *profile*, side by side."""
    std, cmp = L.layout_rows(profile, mask)
    where = f" on Linux {kernel.label}" if kernel is not None else ""
    return Picture(f"{profile.name}{where}: XSAVE buffer for {mask:#x} ({' '.join(C.names(mask))})", [
        Band(f"standard: {L.standard_size(profile, mask)} bytes", _segments(std, kernel, False)),
        Band(f"compacted: {L.compacted_size(profile, mask)} bytes", _segments(cmp, kernel, True)),
    ])


def compare_picture(src, dst, mask: int) -> Picture:
    """Two CPUs' standard layouts of the features both have, one above the other."""
    bands = []
    for b in (src, dst):
        std, _ = L.layout_rows(b.profile, mask)
        bands.append(Band(f"{b.profile.name} ({b.kernel.label}): {L.standard_size(b.profile, mask)} bytes",
                          _segments(std, b.kernel, False)))
    return Picture(f"{src.profile.name} vs {dst.profile.name}: standard layout of the user features both have "
                   f"({mask:#x} {' '.join(C.names(mask))})", bands)
