"""Output: the one place that draws tables and pictures or serialises results.

A command hands over a :class:`View`: machine data (the JSON/YAML/CSV contract) plus table
specs and pictures for people. This module holds the data classes and the machine formats;
tables and text maps are drawn by :mod:`.text` (rich is imported there, only when a table is
drawn), SVG by :mod:`.svg`.
"""

from __future__ import annotations

import io
import sys

from ..records import record

FORMATS = ("table", "text", "json", "yaml", "csv", "svg")
STATUS_STYLES = {"bad": "bold red", "warn": "yellow", "good": "green", "dim": "dim", "bold": "bold", None: None}
WRAP_MIN = 24  # the narrowest a prose column is squeezed to before optional columns move under the table
TEXT_WIDTH = 78  # --format text: fits a mail quoted twice


@record
class Column:
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
        self._texts: list[list[str]] | None = None  # the cells as printed (render._texts)
        self._texts_for = None

    def add(self, *cells, style: str | None = None) -> None:
        self.rows.append(list(cells))
        self.row_styles.append(style)


@record
class Segment:
    """A run of bytes in a buffer picture."""

    start: int
    size: int
    label: str
    kind: str  # user | dynamic | supervisor | guest-only | independent | legacy | header | reserved | hole | padding


@record
class Band:
    """One buffer: a label and its segments in order."""

    label: str
    segments: list


@record
class Picture:
    title: str
    bands: list


class View:
    """What a command hands to the renderer: machine data (the JSON/YAML contract) plus
    tables and notes for people. *builder* makes (tables, notes, csv_table) on demand, so
    JSON output never pays for table layout. *csv_rows* (header, rows), or a function that makes them, is
    what --format csv writes when the CSV carries more than a table shows."""

    def __init__(self, data, tables: list[Table] | None = None, notes: list[str] | None = None,
                 csv_table: Table | None = None, builder=None, csv_rows=None, pictures=None):
        self.data, self.builder = data, builder
        self.pictures = pictures or []  # drawn as text maps (table, text) or SVG (svg)
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
    which json's C encoder writes many times faster and jq reads the same. Small outputs are written
    by _dumps, byte for byte what json.dumps(indent=2) writes, without importing json (start-up)."""
    if isinstance(data, list) and len(data) > LARGE_LIST:
        import json

        return "[\n" + ",\n".join(json.dumps(x, separators=(",", ":")) for x in data) + "\n]\n"
    return _dumps(data, "") + "\n"


# json's escapes for ensure_ascii output: the short forms, \u00XX for the other controls and DEL.
_ESCAPES = {i: f"\\u{i:04x}" for i in list(range(0x20)) + [0x7F]}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
                 8: "\\b", 12: "\\f"})


def _jstr(text: str) -> str:
    if text.isascii():
        return '"' + text.translate(_ESCAPES) + '"'
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            out.append(_ESCAPES.get(code, ch))
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:  # a surrogate pair, as json writes it
            code -= 0x10000
            out.append(f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}")
    return '"' + "".join(out) + '"'


def _dumps(obj, indent: str) -> str:
    """json.dumps(obj, indent=2) for what views hand over: dicts, lists, tuples, str, int, bool, None."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _jstr(obj)
    if isinstance(obj, int):
        return int.__repr__(obj)
    inner = indent + "  "
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [inner + _key(k) + ": " + _dumps(v, inner) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in obj) + "\n" + indent + "]"
    import json  # anything else (a float): json's own rules

    return json.dumps(obj)


def _key(k) -> str:
    if isinstance(k, str):
        return _jstr(k)
    if k is True or k is False or k is None:
        return '"' + _dumps(k, "") + '"'
    if isinstance(k, int):
        return '"' + int.__repr__(k) + '"'
    raise TypeError(f"keys must be str, int, bool or None, not {type(k).__name__}")


# YAML 1.1 reads these as booleans (Go's yaml.v2, Ruby's Psych): quoted, so that "y" stays the string it is.
_YAML11_BOOLS = frozenset("y Y yes Yes YES n N no No NO on On ON off Off OFF".split())


def _yaml(data) -> str:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):
        pass

    def text(dumper, value):
        style = "'" if value in _YAML11_BOOLS else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False)


def csv_records(keys: list[str], records) -> tuple[list[str], list[list]]:
    """(header, rows) for --format csv: the header is the JSON key names (dotted for nested keys), each
    row the values at those keys; a list becomes its items joined by spaces."""
    rows = []
    for rec in records:
        row = []
        for key in keys:
            v = rec
            for part in key.split("."):
                v = v.get(part) if isinstance(v, dict) else None
            row.append(" ".join(str(x) for x in v) if isinstance(v, (list, tuple)) else v)
        rows.append(row)
    return list(keys), rows


# A cell a spreadsheet would run as a formula (=, +, -, @) or that starts with a control character
# (C0, DEL, C1 such as U+009B CSI) is written with a leading apostrophe (OWASP's CSV-injection advice).
_FORMULA_START = frozenset("=+-@") | frozenset(map(chr, range(0x20))) | frozenset(map(chr, range(0x7F, 0xA0)))


def csv_cell(v):
    """A value as CSV writes it: as in JSON (no value is empty, booleans true/false), text made inert."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) and v and v[0] in _FORMULA_START:
        return "'" + v
    return v


def _csv(header, rows) -> str:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([csv_cell(h) for h in header])
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def to_text(view: View, fmt: str) -> str:
    """Serialise a view for a machine format."""
    if fmt == "json":
        return _json(view.data)
    if fmt == "yaml":
        return _yaml(view.data)
    if fmt == "svg":
        if not view.pictures:
            raise ValueError("this output has no picture to draw as SVG")
        from .svg import svg

        return svg(view.pictures)
    if fmt == "csv":
        if view.csv_rows is not None:
            return _csv(*(view.csv_rows() if callable(view.csv_rows) else view.csv_rows))
        view.materialize()
        table = view.csv_table or (view.tables[0] if view.tables else Table("", []))
        return _csv([c.header for c in table.columns], table.rows)
    raise ValueError(fmt)


def unicode_ok(stream) -> bool:
    """Whether *stream* can take any character: a UTF encoding (or none, as io.StringIO)."""
    enc = getattr(stream, "encoding", None)
    if not enc:
        return True
    import codecs

    try:
        return codecs.lookup(enc).name.startswith("utf")
    except LookupError:
        return False


def emit(view: View, fmt: str, stream=None) -> None:
    stream = stream or sys.stdout
    if fmt in ("table", "text"):
        from .text import draw

        draw(view, stream, fmt=fmt)
        return
    text = to_text(view, fmt)
    if not unicode_ok(stream):
        # PYTHONIOENCODING=ascii or a Latin-1 locale: JSON and YAML are ASCII already; SVG keeps its characters as
        # XML references, CSV as backslash escapes, rather than a UnicodeEncodeError half-way through.
        enc = stream.encoding
        text = text.encode(enc, "xmlcharrefreplace" if fmt == "svg" else "backslashreplace").decode(enc)
    stream.write(text)
