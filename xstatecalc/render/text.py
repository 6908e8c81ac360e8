"""Drawing for people: tables that fit the width, records when nothing fits, text maps of buffers.

Identifiers and numbers are never broken; prose columns wrap; optional columns move under the
table when space runs out; a table that still does not fit is printed as one record per row.
Piped output has no colour and no trailing spaces; ``--format text`` is ASCII for mail.
"""

from __future__ import annotations

import io
import os
import sys

from ..yamltext import visible
from . import STATUS_STYLES, TEXT_WIDTH, WRAP_MIN, Band, Picture, Table, View, unicode_ok

# ------------------------------------------------------------------ for people

def color_wanted(stream) -> bool:
    """NO_COLOR wins, then FORCE_COLOR, then TERM=dumb, then: colour on a terminal only."""
    if os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR")
    if force and force != "0":
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def width_for(stream) -> int:
    """The width to lay out for: $COLUMNS, else the terminal's, else 80 when piped."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isascii() and cols.isdigit() and 0 < len(cols) < 5:
        return max(30, min(int(cols), 1000))
    if hasattr(stream, "isatty") and stream.isatty():
        try:
            return max(30, os.get_terminal_size(stream.fileno()).columns)
        except (OSError, ValueError):
            pass
    return 80


_ASCII = {"—": "-", "–": "-", "…": "...", "≠": "!=", "≤": "<=", "≥": ">=", "→": "->", "×": "x", "‘": "'", "’": "'",
          "“": '"', "”": '"', "•": "*", "µ": "u", "✓": "ok", "✗": "X"}


def ascii_only(text: str) -> str:
    """A close ASCII rendering of *text* for --format text (mail)."""
    if text.isascii():
        return text
    import unicodedata

    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif ch in _ASCII:
            out.append(_ASCII[ch])
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?")
    return "".join(out)


class _Out:
    """Where drawn text goes: plain lines straight into the buffer, styled lines and tables through
    rich (a console is made once, on first need)."""

    def __init__(self, width: int, color: bool, fix):
        self.width, self.color, self.fix = width, color, fix
        self.buf = io.StringIO()
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.buf, width=self.width, markup=False, highlight=False, emoji=False,
                                    no_color=not self.color, force_terminal=self.color,
                                    color_system="standard" if self.color else None, soft_wrap=False)
        return self._console

    def line(self, text: str = "", style: str | None = None) -> None:
        """One line, already wrapped (or an identifier that may overflow, never broken)."""
        if self.color and style and text:
            from rich.text import Text

            self.console.print(Text(text, style=style), soft_wrap=True)
        else:
            self.buf.write(text + "\n")

    def paragraph(self, text: str, style: str | None = None, first: str = "", rest: str = "") -> None:
        for para in self.fix(visible(text, keep_newlines=True)).split("\n"):
            for line in _wrap(para, self.width, first, rest):
                self.line(line, style)


def draw(view: View, stream=None, *, fmt: str = "table") -> None:
    """Draw the view's tables and notes (rich is imported here, not at start-up)."""
    stream = stream or sys.stdout
    view.materialize()
    plain = fmt == "text"
    color = not plain and color_wanted(stream)
    width = min(TEXT_WIDTH, width_for(stream)) if plain else width_for(stream)
    ascii_out = plain or not unicode_ok(stream)  # a stream that cannot take '━' gets the ASCII drawing
    out = _Out(width, color, ascii_only if ascii_out else (lambda s: s))
    for pic in view.pictures:
        _draw_picture(out, pic, ascii_out)
        out.line()
    laid_out = [x for t in view.tables for x in _layout(t, width, out.fix)]
    for n, (t, columns) in enumerate(laid_out):
        if n:
            out.line()
        _draw_table(out, t, columns, ascii_out)
    for note in view.notes:
        out.paragraph(note)
    text = out.buf.getvalue()
    if not color:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    stream.write(text)


def _box(plain: bool):
    """SIMPLE_HEAVY on a terminal; for mail, rich's SIMPLE shape (a rule under the header) drawn with '-'."""
    from rich import box

    return box.Box("    \n    \n -- \n    \n    \n -- \n    \n    \n", ascii=True) if plain else box.SIMPLE_HEAVY


def _cell(v) -> str:
    return "" if v is None else visible(str(v), keep_newlines=True)


def _texts(t: Table, fix) -> list[list[str]]:
    """Every cell as it will be printed, computed once per table."""
    if getattr(t, "_texts_for", None) is not fix:
        t._texts = [[fix(_cell(v)) for v in row] for row in t.rows]
        t._texts_for = fix
    return t._texts


def _fit(t: Table, width: int, fix) -> list[int] | None:
    """The columns to draw so that *t* fits *width* (optional ones dropped last-first), or None. A column
    with nothing in any row is not drawn."""
    texts = _texts(t, fix)
    columns = [i for i in range(len(t.columns)) if any(row[i].strip() for row in texts)] if texts else \
        list(range(len(t.columns)))
    while _min_width(t, columns, fix) > width:
        optional = [i for i in columns if t.columns[i].optional]
        if not optional:
            return None
        columns.remove(optional[-1])
    return columns


def _layout(t: Table, width: int, fix) -> list[tuple[Table, list[int] | None]]:
    """The tables to draw for *t*: itself if it fits, else the first alternative that fits, else the
    last alternative (or *t*) as records (columns None)."""
    fitted = _fit(t, width, fix)
    if fitted is not None:
        return [(t, fitted)]
    for alt in t.alternatives:
        fits = [_fit(a, width, fix) for a in alt]
        if all(f is not None for f in fits):
            return list(zip(alt, fits))
    last = t.alternatives[-1] if t.alternatives else [t]
    return [(a, _fit(a, width, fix)) for a in last]


def _draw_table(out: _Out, t: Table, columns: list[int] | None, plain: bool) -> None:
    if t.title:
        out.paragraph(t.title, "bold", "", "  ")
    if columns is None:
        _draw_records(out, t)
        return
    out.console.print(_rich_table(t, columns, _box(plain), out.fix, out.color, out.width))
    if t.caption:
        out.paragraph(t.caption, "dim")
    # Columns that did not fit: one block per row, named by the row's identifier cells; a cell's
    # lines stay separate lines, wrapped at spaces.
    moved = [i for i in range(len(t.columns)) if i not in columns]
    texts = _texts(t, out.fix)
    for row in texts:
        cells = [(out.fix(t.columns[i].header), [x for x in row[i].split("\n") if x.strip()]) for i in moved]
        cells = [(h, v) for h, v in cells if v]
        if not cells:
            continue
        out.line(" ".join(row[i].replace("\n", " ") for i in columns[:2] if row[i].strip()) or "-")
        for h, items in cells:
            lines = [f"{h}: {items[0]}"] if len(items) == 1 else [f"{h}:"] + [f"  {x}" for x in items]
            for item in lines:
                indent = "    " + " " * (len(item) - len(item.lstrip()))
                for line in _wrap(item.strip(), out.width, indent, indent + "  "):
                    out.line(line)


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """Wrap at spaces only: an identifier or a number is never split, even if it overflows."""
    if len(first) + len(text) <= width:
        return [first + text]
    words = text.split(" ")  # runs of spaces inside a line are kept, as the text has them
    lines, line, fresh = [], first, True
    for word in words:
        if fresh:
            if word:
                line, fresh = line + word, False
        elif len(line) + 1 + len(word) <= width or not word:
            line += " " + word
        else:
            lines.append(line.rstrip())
            line = rest + word
    lines.append(line.rstrip())
    return lines


def _min_width(t: Table, columns, fix) -> int:
    """The narrowest the table can be: unbroken identifiers and numbers, prose down to its longest word
    (but not below WRAP_MIN), and two characters between columns (collapsed padding)."""
    texts = _texts(t, fix)
    total = 2 * (len(columns) - 1)
    for i in columns:
        c = t.columns[i]
        cells = [row[i] for row in texts] + [fix(c.header)]
        line = max((len(x) for text in cells for x in text.split("\n")), default=1)
        if c.wrap:
            word = max((len(w) for text in cells for w in text.split()), default=1)
            total += min(line, max(word, WRAP_MIN))
        else:
            total += line
    return total


def _wrap_widths(t: Table, columns, texts, fix, width: int) -> dict:
    """Exact widths for the prose columns: their natural width when everything fits, else the room left by
    the other columns, shared in proportion, never below a column's longest word. (Left to itself, rich
    sizes collapsed padding two characters too wide and crops the last column.)"""
    natural, floor, fixed = {}, {}, 2 * (len(columns) - 1)
    for i in columns:
        c = t.columns[i]
        lines = [line for row in texts for line in row[i].split("\n")] + fix(c.header).split("\n")
        longest = max((len(x) for x in lines), default=1)
        if c.wrap:
            natural[i] = longest
            floor[i] = max([len(w) for x in lines for w in x.split()] + [1])
        else:
            fixed += longest
    room = width - fixed
    if sum(natural.values()) <= room:
        return natural
    out = {i: floor[i] for i in natural}
    spare = room - sum(out.values())
    want = {i: natural[i] - floor[i] for i in natural}
    total = sum(want.values())
    for i in natural:
        if spare > 0 and total:
            out[i] += min(want[i], spare * want[i] // total)
    return out


def _rich_table(t: Table, columns, chosen_box, fix, color: bool, width: int = 80):
    from rich.table import Table as RichTable
    from rich.text import Text

    rt = RichTable(box=chosen_box, pad_edge=False, show_edge=False, collapse_padding=True,
                   header_style="bold" if color else None)
    texts = _texts(t, fix)
    widths = _wrap_widths(t, columns, texts, fix, width)
    for i in columns:
        c = t.columns[i]
        longest = max((len(line) for row in texts for line in row[i].split("\n")), default=0)
        longest = max(longest, max(len(x) for x in fix(c.header).split("\n")))
        if c.wrap:
            rt.add_column(fix(c.header), justify=c.justify, style=c.style if color else None, overflow="fold",
                          width=widths[i])
        else:
            rt.add_column(fix(c.header), justify=c.justify, style=c.style if color else None, no_wrap=True,
                          min_width=longest)
    for row, status in zip(texts, t.row_styles or [None] * len(t.rows)):
        # Plain strings: the console has markup and emoji off, so "[x]" in data stays literal; control
        # characters (an escape sequence in a file name) are shown escaped, never sent to the terminal.
        rt.add_row(*[Text(row[i]) for i in columns], style=STATUS_STYLES.get(status) if color else None)
    return rt


def _draw_records(out: _Out, t: Table) -> None:
    """The narrowest layout: every row as 'header: value' lines; a cell of a headless column (a '*'
    mark) leads the row's first line instead of standing alone."""
    for row in _texts(t, out.fix):
        out.line()
        marks = " ".join(text for c, text in zip(t.columns, row) if not c.header.strip() and text.strip())
        items = [f"{out.fix(c.header).replace(chr(10), ' ')}: {text.replace(chr(10), '; ')}"
                 for c, text in zip(t.columns, row) if c.header.strip() and text.strip()]
        if marks:
            items = [f"{marks} {items[0]}" if items else marks] + items[1:]
        for item in items:
            for line in _wrap(item, out.width, "", "    "):
                out.line(line)
    if t.caption:
        out.line()
        out.paragraph(t.caption)


# ------------------------------------------------------------------ pictures

_TEXT_FILL = {"hole": "~", "padding": ".", "reserved": "/"}  # marks for bytes that hold no state


def _draw_picture(out: _Out, pic: Picture, plain: bool) -> None:
    """Each band as a column of boxes, not to scale (a row per segment, its size written in it), side by side
    when the width allows, one under the other otherwise."""
    out.paragraph(pic.title + " (not to scale: one row per run of bytes)", "bold", "", "  ")
    out.line()
    n = max(1, len(pic.bands))
    # Wide enough for every label: bands side by side when that fits, else one under the other.
    need = max([len(_segment_text(s)) + _GUTTER + 4 for b in pic.bands for s in b.segments] + [30])
    side = (out.width - 2 * (n - 1)) // n
    col = min(max(need, 30), side) if side >= need else min(need, out.width)
    columns = [_picture_column(b, col, plain) for b in pic.bands]
    if side >= need:
        for row in range(max(len(c) for c in columns)):
            out.line("  ".join((c[row] if row < len(c) else "").ljust(col) for c in columns).rstrip())
    else:
        for c in columns:
            for line in c:
                out.line(line)
            out.line()
    out.paragraph("~ hole (no component)   . alignment padding   / reserved" if plain else
                  "~ hole (no component)   . 64-byte alignment padding   / reserved legacy bytes")


_GUTTER = 6  # the offset column left of each box


def _segment_text(s) -> str:
    return f" {s.label} {s.size}" + ("" if s.kind in _TEXT_FILL or s.kind in ("legacy", "header") else
                                     f" [{s.kind}]")


def _picture_column(band: Band, width: int, plain: bool) -> list[str]:
    h, v, tl, tr, ml, mr, bl, br = ("-", "|", "+", "+", "+", "+", "+", "+") if plain else \
        ("─", "│", "┌", "┐", "├", "┤", "└", "┘")
    gutter = _GUTTER
    inner = width - gutter - 3
    lines = [band.label]  # a long label overflows rather than losing its end
    for i, s in enumerate(band.segments):
        lines.append(f"{s.start:>{gutter}} " + (tl if i == 0 else ml) + h * inner + (tr if i == 0 else mr))
        fill = _TEXT_FILL.get(s.kind, " ")
        text = (_segment_text(s) + " ")[:inner]
        lines.append(" " * gutter + " " + v + text + fill * (inner - len(text)) + v)
    end = band.segments[-1].start + band.segments[-1].size if band.segments else 0
    lines.append(f"{end:>{gutter}} " + bl + h * inner + br)
    return lines


