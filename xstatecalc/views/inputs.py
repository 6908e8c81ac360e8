"""Views of what was read: host, core."""

from __future__ import annotations

import os

from .. import components as C
from ..render import Column, Table, View, csv_records
from ..report import kernel_fields
from .common import R, cell


def host_view(b, rows, release: str, options_read: list[str] | None = None) -> View:
    t = Table(f"This machine ({b.profile.description}) on Linux {release} (model {b.kernel.model})",
              [Column("quantity", wrap=True), Column("expected", R), Column("actual", R), Column("status"),
               Column("how", wrap=True, optional=True)],
              caption="expected: xstatecalc's number for this CPUID and kernel; actual: what the running kernel "
                      "reports")
    for r in rows:
        t.add(r.quantity, cell(r.model), cell(r.kernel), r.status, r.how,
              style={"differs": "bad", "unavailable": "dim", "match": "good"}.get(r.status))
    bad = [r.quantity for r in rows if r.status == "differs"]
    d = b.options.describe()
    notes = ["kernel options: " + ", ".join(f"{k.removeprefix('CONFIG_')}={v}" for k, v in d.items() if k != "cmdline")
             + (f"; {'; '.join(options_read)}" if options_read else ""),
             f"differs: {', '.join(bad)}" if bad else "The model agrees with the running kernel on every quantity "
                                                      "it exposes."]
    notes = [n for n in notes if n]
    data = {"cpu": b.profile.name, "description": b.profile.description, **kernel_fields(b.kernel),
            "options": b.options.describe(), "options_read": options_read or [], "ok": not bad,
            "rows": [r.record() for r in rows]}
    keys = ["cpu", "kernel", "model", "quantity", "expected", "actual", "status", "how"]
    return View(data, [t], notes, csv_rows=csv_records(keys, [{**data, **r} for r in data["rows"]]))


GDB_NOTE = ("Written by gdb's gcore (an NT_GDB_TDESC note, no NT_X86_XSAVE_LAYOUT): gdb lays the image out itself. "
            "gdb 13 and older use Intel's offsets and sizes whatever the CPU (i387_collect_xsave()), so on an AMD CPU "
            "the components whose offsets differ (AVX-512, PKRU) do not hold the program's values; later gdb (its "
            "x86_xsave_layout) uses the offsets of the machine gdb ran on (CPUID). gdb also marks every XCR0 "
            "component as holding state (XSTATE_BV = XCR0). The layouts below are gdb's choice, not evidence of the "
            "CPU that ran the program.")
HEX_ROWS = 1024  # hexdump rows drawn for people (16 KiB: AMX tile data is 8 KiB); JSON has every byte


def core_view(source: str, image, fits_, groups, check, chosen, component, frame=None) -> View:
    """What an XSAVE image holds and which CPUs could have written it; for a signal frame's fpstate
    (*frame*: which.explain_frame()'s answer and its space), whether its software bytes hold together and
    which CPU, kernel and kind of frame write them."""
    from ..xsaveimage import LEGACY_RECORDS, WRITER_TEXT

    gdb = image.writer == "gdb"
    t = Table(f"{source}: XSAVE image ({image.kind})", [Column("field"), Column("value", wrap=True)])
    t.add("size", f"{image.size} bytes")
    if image.writer is not None:
        t.add("written by", WRITER_TEXT[image.writer] + (" (its NT_GDB_TDESC note)" if gdb else ""))
    t.add("XCR0", "-" if image.xcr0 is None else f"{image.xcr0:#x} ({' '.join(C.names(image.xcr0))})")
    t.add("XCR0 read from", image.xcr0_from)
    if image.xstate_bv is not None:
        t.add("XSTATE_BV", f"{image.xstate_bv:#x}: state in {' '.join(C.names(image.xstate_bv)) or 'no component'}; "
                            "the rest hold their initial state" + ("; gdb writes XCR0 here" if gdb else ""))
        t.add("XCOMP_BV", f"{image.xcomp_bv:#x} ({'compacted' if image.compacted else 'standard format'})")
    if image.fsave_header:
        t.add("ia32 frame", f"a {image.fsave_header}-byte fsave header (struct fregs_state) precedes the FXSAVE "
                            "image: read from there on")
    t.add("layout", "NT_X86_XSAVE_LAYOUT note (6.12+)" if image.layout is not None else
          "gdb's own: no NT_X86_XSAVE_LAYOUT note" if gdb else
          "inferred: no NT_X86_XSAVE_LAYOUT note (a core before 6.12, or a raw image)")
    rows = []
    lay = chosen or {}
    for n in sorted(lay):
        off, size = lay[n]
        rows.append([n, C.key(n), off, size, "yes" if image.xstate_bv and image.xstate_bv >> n & 1 else "no"])
    comp = Table("Components (extended area)", [Column("#", R), Column("name"), Column("offset", R),
                                                Column("size", R), Column("holds state")], rows,
                 caption="offsets from " + ("the layout note" if image.layout is not None else
                                            "the CPU checked" if check else "the one layout every candidate shares"
                                            if chosen else "-"))
    cand = Table("Layouts of gdb's image: the CPUs whose layout it matches" if gdb else "CPUs whose layout fits",
                 [Column("", style="bold"), Column("layout"), Column("cpus", wrap=True)])
    for i, g in enumerate(groups, 1):
        diff = ", ".join(f"{C.key(n)}@{o}" for n, (o, _s) in sorted(g[0].layout.items()))
        cand.add("*" if len(groups) > 1 else "", f"{i}: {diff}", ", ".join(f.profile.name for f in g),
                 style="warn" if len(groups) > 1 else None)
    notes = [f"FINDING: {p}" for p in image.problems]
    if gdb:
        notes.append(GDB_NOTE)
    if len(groups) > 1:
        notes.append(f"{len(groups)} different layouts fit this image: without the NT_X86_XSAVE_LAYOUT note a reader "
                     "must guess, and guesses here are wrong for some of these CPUs (the AMD-vs-Intel AVX-512 case: "
                     "gdb's i387_guess_xsave_layout, go-delve/delve#3827).")
    elif not groups:
        notes.append("No built-in CPU's layout fits this image.")
    ok = not image.problems and (check is None or check["ok"])
    if image.problems:
        notes.append(f"{len(image.problems)} finding(s): XRSTOR would refuse this image, or no XSETBV could have "
                     "written its XCR0 (exit 1).")
    data = {"file": source, "input": image.kind, "ok": ok, "writer": image.writer, "size": image.size,
            "xcr0": None if image.xcr0 is None else f"{image.xcr0:#x}", "xcr0_from": image.xcr0_from,
            "signal_sw_bytes": image.signal_sw,
            "xstate_bv": None if image.xstate_bv is None else f"{image.xstate_bv:#x}",
            "xcomp_bv": None if image.xcomp_bv is None else f"{image.xcomp_bv:#x}",
            "format": "compacted" if image.compacted else "standard",
            "layout_source": "note" if image.layout is not None else "inferred",
            "layout": [r.record() for r in image.layout if r.type not in LEGACY_RECORDS]
            if image.layout is not None else None,
            "components": [{"nr": r[0], "name": r[1], "offset": r[2], "size": r[3], "holds_state": r[4] == "yes"}
                           for r in rows],
            "candidates": [f.profile.name for f in fits_],
            "layouts": [{"cpus": [f.profile.name for f in g],
                         "offsets": {C.key(n): o for n, (o, _s) in sorted(g[0].layout.items())}} for g in groups],
            "layouts_differ": len(groups) > 1,
            "elf_notes": [{"owner": o, "type": t_, "size": s} for o, t_, s in image.notes],
            "elf_note_count": image.note_count,
            "fsave_header": image.fsave_header,
            "problems": image.problems, "check": check}
    tables = [t, comp, cand]
    if frame is not None:
        from .which import frame_tables

        answer, space = frame
        data["frame"] = answer.record()
        more, said = frame_tables(answer, space, "signal frame", exit_note="")
        tables += more
        notes += said
    if check is not None:
        ct = Table(f"Checked against {check['cpu']}", [Column("verdict"), Column("why", wrap=True)])
        for why in check["differences"] or ["every component at the same offset and size"]:
            ct.add("DIFFERS" if check["differences"] else "ok", why, style="bad" if check["differences"] else "good")
        tables.append(ct)
    if component is not None:
        nr, raw = component
        data["component"] = {"nr": nr, "name": C.key(nr), "hex": raw.hex()}
        hexdump = Table(f"Component {nr} ({C.key(nr)}): {len(raw)} bytes", [Column("offset", R), Column("bytes")])
        for i in range(0, min(len(raw), HEX_ROWS * 16), 16):
            hexdump.add(i, " ".join(f"{b:02x}" for b in raw[i:i + 16]))
        if len(raw) > HEX_ROWS * 16:
            notes.append(f"Component {nr}: the first {HEX_ROWS * 16} of its {len(raw)} bytes are drawn; --format json "
                         "has them all.")
        tables.append(hexdump)
    keys = ["file", "nr", "name", "offset", "size", "holds_state"]
    return View(data, [x for x in tables if x.rows], notes,
                csv_rows=csv_records(keys, [{**data, **c} for c in data["components"]]))


def import_view(items, paths: dict) -> View:
    """A batch import: one row per distinct CPU (the dumps that gave it, the profile written), one per dump
    that could not be imported. JSON and CSV keep one record per dump."""
    groups: dict = {}
    for it in items:
        if not it.error:
            groups.setdefault(it.name, []).append(it)
    written = sum(1 for it in items if it.text is not None)
    bad = [it for it in items if it.error]
    t = Table(f"{_n(len(items), 'dump')}, {_n(written, 'distinct CPU')}", [Column("profile"), Column("dumps", R),
                                                               Column("files", wrap=True)])
    for name, its in groups.items():
        first = next(it for it in its if it.text is not None)
        files = ", ".join(it.file for it in its[:3]) + (f" and {len(its) - 3} more" if len(its) > 3 else "")
        t.add(f"{name} (renamed)" if first.renamed_from else name, str(len(its)), files)
    data = [{**it.record(), "written": paths.get(it.name) if it.text is not None else None} for it in items]
    keys = ["file", "name", "written", "duplicate_of", "renamed_from", "error"]
    where = sorted({os.path.dirname(p) or "." for p in paths.values()})
    notes = [f"{_n(written, 'profile')} written" + (f" to {', '.join(where)}" if where else "")
             + f", {_n(len(items) - written - len(bad), 'duplicate')}"
             + (f"; {_n(len(bad), 'dump')} not imported (exit 2)." if bad else ".")]
    notes += [f"renamed: {it.name}, because {it.renamed_from} names another CPU" for it in items if it.renamed_from]
    notes += [f"not imported: {it.error}" for it in bad]
    return View(data, [t], notes, csv_rows=csv_records(keys, data))


def _n(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")
