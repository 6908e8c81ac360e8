"""Output: the one place that draws tables or serialises results.

A command hands over a :class:`View`: machine data (the JSON/YAML/CSV contract) plus
table specs for people. rich is imported only when a table is drawn. Tables fit the
width they are given: identifiers and numbers are never broken, prose columns wrap,
optional columns move under the table when space runs out, and a table that still
does not fit is printed as one record per row. Piped output has no colour and no
trailing spaces; ``--format text`` is ASCII for mail.
"""

from __future__ import annotations

import io
import os
import sys
from typing import NamedTuple

from .yamltext import visible

FORMATS = ("table", "text", "json", "yaml", "csv")
STATUS_STYLES = {"bad": "bold red", "warn": "yellow", "good": "green", "dim": "dim", "bold": "bold", None: None}
WRAP_MIN = 24  # the narrowest a prose column is squeezed to before optional columns move under the table
TEXT_WIDTH = 78  # --format text: fits a mail quoted twice


class Column(NamedTuple):
    header: str
    justify: str = "left"  # left | right
    style: str | None = None
    wrap: bool = False  # prose that may wrap at spaces; other cells (identifiers, numbers) are never broken
    optional: bool = False  # moved under the table when the width is too small


class Table:
    """A table for people: title, columns, rows (each with a status: bad, warn, good, dim, bold), caption."""

    def __init__(self, title: str, columns: list[Column], rows: list[list] | None = None,
                 caption: str | None = None):
        self.title, self.columns, self.caption = title, columns, caption
        self.rows: list[list] = rows if rows is not None else []
        self.row_styles: list[str | None] = [None] * len(self.rows)
        # Other layouts of the same data, each a list of tables, tried in order when this one cannot fit.
        self.alternatives: list[list[Table]] = []

    def add(self, *cells, style: str | None = None) -> None:
        self.rows.append(list(cells))
        self.row_styles.append(style)


class View:
    """What a command hands to the renderer: machine data (the JSON/YAML contract) plus
    tables and notes for people. *builder* makes (tables, notes, csv_table) on demand, so
    JSON output never pays for table layout. *csv_rows* (header, rows) is what --format csv
    writes when the CSV carries more than a table shows."""

    def __init__(self, data, tables: list[Table] | None = None, notes: list[str] | None = None,
                 csv_table: Table | None = None, builder=None, csv_rows=None):
        self.data, self.builder = data, builder
        self.tables = tables or []
        self.notes = notes or []  # printed after the tables (table and text formats)
        self.csv_table = csv_table  # what --format csv writes (default: the first table)
        self.csv_rows = csv_rows

    def materialize(self) -> "View":
        if self.builder is not None:
            self.tables, self.notes, self.csv_table = self.builder()
            self.builder = None
        return self


LARGE_LIST = 50  # longer top-level lists are written one element per line


def _json(data) -> str:
    """Indented JSON; a long list (e.g. --cpu all --kernel all) gets one compact element per line,
    which the C encoder writes many times faster and jq reads the same."""
    import json

    if isinstance(data, list) and len(data) > LARGE_LIST:
        return "[\n" + ",\n".join(json.dumps(x, separators=(",", ":")) for x in data) + "\n]\n"
    return json.dumps(data, indent=2) + "\n"


def _yaml(data) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False)


def _csv(header, rows) -> str:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def to_text(view: View, fmt: str) -> str:
    """Serialise a view for a machine format."""
    if fmt == "json":
        return _json(view.data)
    if fmt == "yaml":
        return _yaml(view.data)
    if fmt == "csv":
        if view.csv_rows is not None:
            return _csv(*view.csv_rows)
        view.materialize()
        table = view.csv_table or (view.tables[0] if view.tables else Table("", []))
        return _csv([c.header for c in table.columns], table.rows)
    raise ValueError(fmt)


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


def draw(view: View, stream=None, *, fmt: str = "table") -> None:
    """Draw the view's tables and notes (rich is imported here, not at start-up)."""
    from rich import box
    from rich.console import Console

    stream = stream or sys.stdout
    view.materialize()
    plain = fmt == "text"
    color = not plain and color_wanted(stream)
    width = min(TEXT_WIDTH, width_for(stream)) if plain else width_for(stream)
    fix = ascii_only if plain else (lambda s: s)
    buf = io.StringIO()
    console = Console(file=buf, width=width, markup=False, highlight=False, emoji=False, no_color=not color,
                      force_terminal=color, color_system="standard" if color else None, soft_wrap=False)
    chosen_box = _ascii_box() if plain else box.SIMPLE_HEAVY
    laid_out = [x for t in view.tables for x in _layout(t, width, fix)]
    for n, (t, columns) in enumerate(laid_out):
        if n:
            console.print()
        _draw_table(console, t, columns, width, chosen_box, fix, color)
    for note in view.notes:
        for para in fix(visible(note, keep_newlines=True)).split("\n"):
            for line in _wrap(para, width, "", ""):
                console.print(line, soft_wrap=True)
    text = buf.getvalue()
    if not color:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    stream.write(text)


def _ascii_box():
    """rich's SIMPLE box (a rule under the header, nothing else) drawn with '-' for mail."""
    from rich.box import Box

    return Box("    \n    \n -- \n    \n    \n -- \n    \n    \n", ascii=True)


def _cell(v) -> str:
    return "" if v is None else visible(str(v), keep_newlines=True)


def _fit(t: Table, width: int, fix) -> list[int] | None:
    """The columns to draw so that *t* fits *width* (optional ones dropped last-first), or None."""
    columns = list(range(len(t.columns)))
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


def _draw_table(console, t: Table, columns: list[int] | None, width: int, chosen_box, fix, color: bool) -> None:
    if columns is None:
        _draw_records(console, t, fix, width)
        return
    moved = [i for i in range(len(t.columns)) if i not in columns]
    rt = _rich_table(t, columns, chosen_box, fix, color)
    if t.title:
        for line in _wrap(fix(visible(t.title)), width, "", "  "):
            console.print(line, soft_wrap=True, style="bold" if color else None)
    console.print(rt)
    if t.caption:
        console.print(fix(visible(t.caption, keep_newlines=True)), style="dim" if color else None)
    # Columns that did not fit: one block per row, named by the row's identifier cells; a cell's
    # lines stay separate lines, wrapped at spaces.
    for row in t.rows:
        cells = [(t.columns[i].header, _cell(row[i]).split("\n")) for i in sorted(moved)]
        cells = [(h, [x for x in v if x.strip()]) for h, v in cells]
        cells = [(h, v) for h, v in cells if v]
        if not cells:
            continue
        console.print(fix(_key(t, row, columns)), soft_wrap=True)
        for h, items in cells:
            lines = [f"{h}: {items[0]}"] if len(items) == 1 else [f"{h}:"] + [f"  {x}" for x in items]
            for item in lines:
                indent = "    " + " " * (len(item) - len(item.lstrip()))
                for line in _wrap(fix(item.strip()), width, indent, indent + "  "):
                    console.print(line, soft_wrap=True)


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """Wrap at spaces only: an identifier or a number is never split, even if it overflows."""
    import textwrap

    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest, break_long_words=False,
                         break_on_hyphens=False) or [first.rstrip()]


def _min_width(t: Table, columns, fix) -> int:
    """The narrowest the table can be: unbroken identifiers and numbers, prose down to its longest word,
    and two characters between columns (collapsed padding)."""
    total = 2 * (len(columns) - 1)
    for i in columns:
        c = t.columns[i]
        texts = [fix(_cell(row[i])) for row in t.rows] + [fix(c.header)]
        if c.wrap:
            # Prose narrower than WRAP_MIN reads badly: below that, an optional column moves out first.
            word = max((len(w) for text in texts for w in text.split()), default=1)
            line = max((len(x) for text in texts for x in text.split("\n")), default=1)
            total += min(line, max(word, WRAP_MIN))
        else:
            total += max((len(line) for text in texts for line in text.split("\n")), default=1)
    return total


def _key(t: Table, row, columns) -> str:
    """How a row is named when a moved column's value is listed under the table: its identifier cells."""
    keys = [_cell(row[i]) for i in columns[:2] if _cell(row[i]).strip()]
    return " ".join(k.replace("\n", " ") for k in keys) or "-"


def _rich_table(t: Table, columns, chosen_box, fix, color: bool):
    from rich.table import Table as RichTable

    rt = RichTable(box=chosen_box, pad_edge=False, show_edge=False, collapse_padding=True,
                   header_style="bold" if color else None)
    for i in columns:
        c = t.columns[i]
        cells = [_cell(row[i]) for row in t.rows]
        longest = max((len(line) for cell in cells + [c.header] for line in cell.split("\n")), default=1)
        if c.wrap:
            rt.add_column(fix(c.header), justify=c.justify, style=c.style if color else None, overflow="fold",
                          ratio=None)
        else:
            rt.add_column(fix(c.header), justify=c.justify, style=c.style if color else None, no_wrap=True,
                          min_width=longest)
    for row, status in zip(t.rows, t.row_styles or [None] * len(t.rows)):
        # Plain strings: the console has markup and emoji off, so "[x]" in data stays literal; control
        # characters (an escape sequence in a file name) are shown escaped, never sent to the terminal.
        rt.add_row(*[fix(_cell(row[i])) for i in columns], style=STATUS_STYLES.get(status) if color else None)
    return rt


def _draw_records(console, t: Table, fix, width: int) -> None:
    """The narrowest layout: every row as 'header: value' lines."""
    if t.title:
        for line in _wrap(fix(visible(t.title)), width, "", "  "):
            console.print(line, soft_wrap=True)
    for row in t.rows:
        console.print()
        for c, v in zip(t.columns, row):
            text = _cell(v).replace("\n", "; ")
            if text.strip():
                for line in _wrap(fix(f"{c.header}: {text}"), width, "", "    "):
                    console.print(line, soft_wrap=True)
    if t.caption:
        console.print()
        console.print(fix(visible(t.caption, keep_newlines=True)))


def emit(view: View, fmt: str, stream=None) -> None:
    stream = stream or sys.stdout
    if fmt in ("table", "text"):
        draw(view, stream, fmt=fmt)
    else:
        stream.write(to_text(view, fmt))
