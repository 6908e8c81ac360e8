"""Views of `which`: a number's matches, near misses and readings; a signal frame explained."""

from __future__ import annotations

from ..render import Column, Table, View, csv_records
from .common import R


def where(m) -> str:
    """'sapphire-rapids, emerald-rapids; Linux 5.16-7.3; glibc 2.34+' (every CPU / every kernel when so)."""
    parts = ["every CPU searched" if m.every_cpu else ", ".join(m.cpus),
             "every kernel" if m.every_kernel else "Linux " + ", ".join(m.kernels)]
    if m.libc:
        parts.append(", ".join(m.libc))
    return "; ".join(parts)


def _what(m) -> str:
    return f"{m.name} ({m.function})" if m.function else m.name


def merged(matches) -> list[tuple[str, str, list]]:
    """Matches of one value that occur in the same places, as one row: (quantities, where, matches)."""
    rows: dict = {}
    for m in matches:
        rows.setdefault(where(m), []).append(m)
    return [("; ".join(_what(m) for m in ms), w, ms) for w, ms in rows.items()]


def searched(space, libc: bool = True) -> str:
    labels = [k.label for k in space.kernels]
    eras = [e.label for e in space.eras]
    text = (f"searched {len(space.profiles)} CPU{'s' if len(space.profiles) != 1 else ''} x {len(labels)} "
            f"kernel{'s' if len(labels) != 1 else ''} ({labels[0]}" + (f"-{labels[-1]}" if len(labels) > 1 else "")
            + ")")
    if libc:
        text += f" x {len(eras)} C library era{'s' if len(eras) != 1 else ''}" if eras else ", no C library"
    if space.options.x86_64:
        text += ", IA32 emulation " + ("on and off" if libc else "on" if space.options.ia32_emulation else "off")
    return text


def which_view(answer, space) -> View:
    """Every number: where it occurs (a table each); the nearest values and the readings of those that occur
    nowhere; a verdict."""
    data = {"values": answer.values, "together": answer.together, "ok": answer.ok,
            "matches": [m.record() for m in answer.matches], "unmatched": answer.unmatched,
            "nearest": [n.record() for n in answer.nearest], "readings": [r.record() for r in answer.readings],
            "notes": answer.notes,
            "searched": {"cpus": [p.name for p in space.profiles], "kernels": [k.label for k in space.kernels],
                         "libc": [e.label for e in space.eras], "options": space.options.describe()}}

    def csv_rows():
        return csv_records(["value", "quantity", "name", "function", "cpus", "kernels", "libc"], data["matches"])

    def build():
        tables = []
        together = answer.together and len(answer.values) > 1
        for v in answer.values:
            ms = [m for m in answer.matches if m.value == v]
            if ms:
                t = Table(f"{v} ({v:#x})" + (": where every number given occurs" if together else ""),
                          [Column("quantity (function)", wrap=True), Column("where", wrap=True)])
                for what, w, _ms in merged(ms):
                    t.add(what, w)
                tables.append(t)
                continue
            t = Table(f"{v} ({v:#x}): no exact match; the nearest values",
                      [Column("value", R), Column("diff", R), Column("quantity", wrap=True),
                       Column("where", wrap=True)],
                      caption="diff: that value minus the number given; sizes and offsets of the kernel, the CPU "
                              "and the C libraries (the runtimes' stacks match only exactly)")
            for n in [n for n in answer.nearest if n.value == v]:
                first = True
                for what, w, _ms in merged(n.matches):
                    t.add(n.nearest if first else "", f"{n.difference:+d}" if first else "", what, w)
                    first = False
                if n.differences:
                    t.add("", "", f"{abs(n.difference)} bytes = " + "; or ".join(n.differences), "",
                          style="dim")
            tables.append(t)
            reads = [r for r in answer.readings if r.value == v]
            if reads:
                rt = Table(f"{v} read backwards: what would produce it",
                           [Column("reading", wrap=True), Column("modelled values nearest the last step",
                                                                 wrap=True)],
                           caption="each step runs a C library's or the kernel's formula backwards; the last "
                                   "step's value occurs nowhere in the space searched")
                for r in reads:
                    rt.add(reading_text(r), "; ".join(f"{x} ({_short_where(ms)})" for x, ms in r.nearest) or "-")
                tables.append(rt)
        if tables:
            tables[-1].caption = ((tables[-1].caption + "; ") if tables[-1].caption else "") + searched(space)
        return tables, notes(answer), None

    return View(data, builder=build, csv_rows=csv_rows)


def reading_text(r) -> str:
    """'39616 as sysconf(_SC_SIGSTKSZ), from 9904 as sysconf(_SC_MINSIGSTKSZ) [glibc 2.34+: 4 x ...], ...'."""
    from ..which import quantity

    parts = []
    for i, s in enumerate(r.steps):
        value = str(s.lo) if s.lo == s.hi else f"{s.lo}-{s.hi}"
        name = quantity(s.key)[0]
        parts.append(f"{value} as {name}" if i == 0 else f"from {value} as {name} [{s.rule}]")
    return ", ".join(parts)


def _short_where(ms) -> str:
    cpus = sorted({c for m in ms for c in m.cpus})
    return ", ".join(cpus) if len(cpus) <= 3 else f"{len(cpus)} CPUs"


def summary(v, ms) -> str:
    """'11952 = AT_MINSIGSTKSZ (get_sigframe_size()) on emerald-rapids, ... with Linux 5.16-7.3, and 3 more'."""
    m = ms[0]
    cpus = "every CPU searched" if m.every_cpu else ", ".join(m.cpus) if len(m.cpus) <= 4 else \
        f"{', '.join(m.cpus[:3])} and {len(m.cpus) - 3} more CPUs"
    kernels = "every kernel" if m.every_kernel else "Linux " + ", ".join(m.kernels)
    more = len({x.key for x in ms}) - 1
    return (f"{v} = {_what(m)} on {cpus} with {kernels}" + (f", {', '.join(m.libc)}" if m.libc else "")
            + (f"; and {more} more quantit{'ies' if more > 1 else 'y'}" if more else ""))


def notes(answer) -> list[str]:
    out = list(answer.notes)
    found = [v for v in answer.values if v not in answer.unmatched]
    out += [summary(v, [m for m in answer.matches if m.value == v]) for v in found]
    if answer.ok:
        out.append(f"FOUND: {', '.join(map(str, found))}" + (" together" if answer.together else "") + ".")
    else:
        why = [f"{', '.join(map(str, answer.unmatched))} occur{'s' if len(answer.unmatched) == 1 else ''} nowhere"
               ] if answer.unmatched else []
        if answer.together is False and not answer.unmatched:
            why.append("the numbers never occur together")
        out.append(f"NOT FOUND: {'; '.join(why)} (exit 1).")
    return out


def frame_tables(answer, space, source: str = "the frame given", exit_note: str = " (exit 1)"):
    """(tables, notes) for a signal frame's software bytes: the rules they follow or break, and who writes
    them. Shared by `which --frame` and `core` on a frame's fpstate."""
    f = ", ".join(f"{k}={v:#x}" if k in ("magic1", "xfeatures", "magic2") else f"{k}={v}"
                  for k, v in answer.fields.items())
    c = Table(f"{source}: {f}", [Column("check"), Column("ok"), Column("detail", wrap=True)],
              caption="save_sw_bytes() writes these bytes; check_xstate_in_sigframe() reads them back on sigreturn")
    for ch in answer.checks:
        c.add(ch.name, "ok" if ch.ok else "FAILS", ch.detail, style="good" if ch.ok else "bad")
    p = Table("Who writes this frame", [Column("frame"), Column("where", wrap=True)],
              caption="frame: 64-bit (no dynamic feature in use), 64-bit with AMX in use (after ARCH_REQ_XCOMP_PERM "
                      "and first use), ia32 (a 32-bit process, IA32 emulation); " + searched(space, libc=False))
    for variant, m in answer.producers:
        p.add(variant, where(m))
    verdict = []
    if not answer.consistent:
        verdict.append("the fields break the kernel's rules (" + ", ".join(ch.name for ch in answer.checks
                                                                           if not ch.ok) + ")")
    if not answer.producers:
        verdict.append("no CPU, kernel and kind of frame searched writes these fields")
    note = ("OK: the fields agree with each other and with the kernel's rules, and the kernels above write them."
            if answer.ok else
            f"NOT CONSISTENT: {'; '.join(verdict)}{exit_note}.")
    return [x for x in (c, p) if x.rows], [note]


def frame_view(answer, space) -> View:
    """`which --frame`."""
    data = answer.record()
    data["searched"] = {"cpus": [p.name for p in space.profiles], "kernels": [k.label for k in space.kernels],
                        "options": space.options.describe()}

    def build():
        tables, out = frame_tables(answer, space)
        return tables, out, None

    return View(data, builder=build, csv_rows=csv_records(["name", "ok", "detail"], data["checks"]))
