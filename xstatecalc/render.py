"""Output: the one place that draws tables or serialises results.

A command hands over a :class:`View`: machine data (the JSON/YAML contract)
plus table specs for people. rich is imported only when a table is drawn.
"""

from __future__ import annotations

import io
import os
import sys
from typing import NamedTuple

from .yamltext import visible

FORMATS = ("table", "json", "yaml", "csv")


class Column(NamedTuple):
    header: str
    justify: str = "left"  # left | right
    style: str | None = None


class Table:
    """A table for people: title, columns, rows (each with an optional style such as "dim"), caption."""

    def __init__(self, title: str, columns: list[Column], rows: list[list] | None = None,
                 caption: str | None = None):
        self.title, self.columns, self.caption = title, columns, caption
        self.rows: list[list] = rows if rows is not None else []
        self.row_styles: list[str | None] = [None] * len(self.rows)

    def add(self, *cells, style: str | None = None) -> None:
        self.rows.append(list(cells))
        self.row_styles.append(style)


class View:
    """What a command hands to the renderer: machine data (the JSON/YAML contract) plus
    tables and notes for people. *builder* makes (tables, notes, csv_table) on demand, so
    JSON output never pays for table layout."""

    def __init__(self, data, tables: list[Table] | None = None, notes: list[str] | None = None,
                 csv_table: Table | None = None, builder=None):
        self.data, self.builder = data, builder
        self.tables = tables or []
        self.notes = notes or []  # printed after the tables (table format only)
        self.csv_table = csv_table  # what --format csv writes (default: the first table)

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


def _csv(table: Table) -> str:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.header for c in table.columns])
    for row in table.rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def to_text(view: View, fmt: str) -> str:
    """Serialise a view for a non-table format."""
    if fmt == "json":
        return _json(view.data)
    if fmt == "yaml":
        return _yaml(view.data)
    if fmt == "csv":
        view.materialize()
        table = view.csv_table or (view.tables[0] if view.tables else Table("", []))
        return _csv(table)
    raise ValueError(fmt)


def color_wanted(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def draw(view: View, stream=None) -> None:
    """Draw the view's tables with rich (imported here, not at start-up)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable

    stream = stream or sys.stdout
    view.materialize()
    color = color_wanted(stream)
    console = Console(file=stream, markup=False, highlight=False, emoji=False,
                      no_color=not color, force_terminal=color if color else None,
                      width=None if hasattr(stream, "isatty") and stream.isatty() else 160)
    for t in view.tables:
        rt = RichTable(title=t.title or None, caption=t.caption, box=box.SIMPLE_HEAVY,
                       title_justify="left", caption_justify="left", pad_edge=False)
        for c in t.columns:
            rt.add_column(c.header, justify=c.justify, style=c.style, overflow="fold")
        for row, style in zip(t.rows, t.row_styles or [None] * len(t.rows)):
            # Plain strings: the console has markup and emoji off, so "[x]" in data stays literal; control
            # characters (an escape sequence in a file name) are shown escaped, never sent to the terminal.
            rt.add_row(*["" if v is None else visible(str(v), keep_newlines=True) for v in row], style=style)
        console.print(rt)
    for note in view.notes:
        console.print(visible(note, keep_newlines=True))


def emit(view: View, fmt: str, stream=None) -> None:
    stream = stream or sys.stdout
    if fmt == "table":
        draw(view, stream)
    else:
        stream.write(to_text(view, fmt))
