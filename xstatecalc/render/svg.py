"""SVG pictures of XSAVE buffers, to scale, one colour per class of component (no dependency)."""

from __future__ import annotations

_SVG_COLOURS = {"user": "#4e79a7", "dynamic": "#f28e2b", "supervisor": "#9c9c9c", "guest-only": "#b07aa1",
                "independent": "#76b7b2", "legacy": "#c9d7e8", "header": "#e2e2e2", "reserved": "#f3f3f3",
                "hole": "#ffffff", "padding": "#fbe9c6", "unsupported": "#dddddd"}


def _esc(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def svg(pictures) -> str:
    """The pictures as one SVG document, to scale: one horizontal bar per band, coloured by class."""
    width, left, bar_h = 960, 20, 34
    scale_to = max((s.start + s.size for p in pictures for b in p.bands for s in b.segments), default=1)
    px = (width - 2 * left) / scale_to
    parts, y = [], 10
    for pic in pictures:
        head, _, rest = pic.title.partition(" (")
        y += 24
        parts.append(f'<text x="{left}" y="{y}" font-size="15" font-weight="bold">{_esc(head)}</text>')
        if rest:
            y += 16
            parts.append(f'<text x="{left}" y="{y}" font-size="11">({_esc(rest)}</text>')
        for band in pic.bands:
            y += 22
            parts.append(f'<text x="{left}" y="{y}" font-size="12">{_esc(band.label)}</text>')
            y += 6
            for s in band.segments:
                x, w = left + s.start * px, max(s.size * px, 0.5)
                parts.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{bar_h}" '
                             f'fill="{_SVG_COLOURS.get(s.kind, "#cccccc")}" stroke="#333" stroke-width="0.5">'
                             f'<title>{_esc(s.label)}: {s.size} bytes at {s.start} ({_esc(s.kind)})</title></rect>')
                if w > 7 * len(s.label) + 4:
                    parts.append(f'<text x="{x + w / 2:.2f}" y="{y + 21}" font-size="11" text-anchor="middle">'
                                 f'{_esc(s.label)}</text>')
                elif w > 3 and s.kind not in ("hole", "padding", "reserved"):
                    parts.append(f'<text x="{x + w / 2:.2f}" y="{y + bar_h + 11}" font-size="9" '
                                 f'text-anchor="middle">{_esc(s.label.split(" ")[0])}</text>')
            end = max((s.start + s.size for s in band.segments), default=0)
            parts.append(f'<text x="{left + end * px:.2f}" y="{y - 2}" font-size="9" text-anchor="end">{end}</text>')
            y += bar_h + 14
    y += 8
    x = left
    for kind in ("user", "dynamic", "supervisor", "guest-only", "legacy", "header", "hole", "padding"):
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{_SVG_COLOURS[kind]}" stroke="#333" '
                     f'stroke-width="0.5"/><text x="{x + 16}" y="{y + 10}" font-size="11">{kind}</text>')
        x += 26 + 7 * len(kind)
    height = y + 24
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">\n'
            f'<rect width="{width}" height="{height}" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n")


