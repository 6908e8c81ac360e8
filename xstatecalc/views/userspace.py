"""Views of signal stacks: sigstack, limit."""

from __future__ import annotations

from ..render import Column, Table, View, csv_records
from ..report import kernel_fields
from .common import R, cell, kernel_runs, linux


_VERDICT_STYLE = {"fits": "good", "below-minimum": "warn", "fits-without-amx": "warn", "no-altstack": "dim"}


def sigstack_view(reports) -> View:
    """One report: the kernel, the C library, then every stack. Several: one row per CPU and kernel."""
    data = [_sigstack_record(r) for r in reports]
    keys = ["cpu", "kernel", "model", "libc.rules", "at_minsigstksz", "libc.sc_minsigstksz", "libc.sc_sigstksz",
            "who", "version", "kind", "size", "usable", "need.default", "need.permitted", "fits", "delivered", "margin",
            "verdict"]

    def csv_rows():  # only for --format csv: one row per stack is the bulk of a long run
        return csv_records(keys, [{**d, **s} for d in data for s in d["stacks"]])

    def build():
        if len(reports) == 1:
            return _sigstack_tables(reports[0]), _sigstack_notes(reports), None
        t = Table("Alternate signal stacks (bytes)",
                  [Column("cpu"), Column("kernel"), Column("AT", R), Column("SC_MIN", R), Column("SC_SIG", R),
                   Column("stacks that fall short", wrap=True)],
                  caption=f"C library: {reports[0].libc.choice.label}; AT: AT_MINSIGSTKSZ, the largest frame the "
                          "kernel may deliver; SC_MIN, SC_SIG: sysconf(_SC_MINSIGSTKSZ), sysconf(_SC_SIGSTKSZ); "
                          "fall short: a stack that does not hold AT, or a runtime's room or buffer that does not hold "
                          "the frame (its verdict in brackets); kernel a-b: every kernel asked for from a to b gives "
                          "this row; details per stack: one CPU and kernel, or --format json")
        order: dict = {}
        rows = []
        for r in reports:
            bad = ", ".join(f"{s.who} ({s.verdict})" for s in r.stacks if s.fits is False) or "-"
            rows.append((r.boot.profile.name, r.boot.kernel.label, order.setdefault(r.boot.kernel.label, len(order)),
                         (cell(r.signal.at_minsigstksz), cell(r.libc.sc_minsigstksz), cell(r.libc.sc_sigstksz), bad)))
        for cpu, kernel, cells in kernel_runs(rows):
            t.add(cpu, kernel, *cells, style="bad" if cells[-1] != "-" else "good")
        return [t], _sigstack_notes(reports), None

    return View(data, builder=build, csv_rows=csv_rows)


def _sigstack_record(r) -> dict:
    b = r.boot
    return {"cpu": b.profile.name, **kernel_fields(b.kernel), "options": b.options.describe(),
            "at_minsigstksz": r.signal.at_minsigstksz,
            "frame": {"default": r.signal.delivered_default, "permitted": r.signal.delivered_permitted},
            "frame_bound": {"default": r.signal.frame_default, "permitted": r.signal.frame_permitted},
            "kernel_rules": r.signal.record(), "libc": r.libc.record(),
            "stacks": [s.record() for s in r.stacks], "ok": r.ok}


def _sigstack_tables(r) -> list:
    b, ss, lv = r.boot, r.signal, r.libc
    k = Table(f"{b.profile.name} on {linux(b.kernel)}: the kernel's signal frame",
              [Column("value"), Column("bytes", R), Column("kernel rule", wrap=True, optional=True)])
    k.add("AT_MINSIGSTKSZ", cell(ss.at_minsigstksz), "get_sigframe_size(): the auxv entry (5.14+)")
    if ss.delivered_default is not None:
        k.add("frame delivered, no AMX", ss.delivered_default, "get_sigframe(): a 64-bit process, stack top aligned "
              "to 64 bytes; a stack needs more than this")
        if ss.dynamic:
            k.add("frame delivered, AMX in use", ss.delivered_permitted, "after ARCH_REQ_XCOMP_PERM and first use")
    k.add("bound, no dynamic feature", ss.frame_default, "get_sigframe_size() with the default user size (counts "
          "the ia32 frame)")
    if ss.dynamic:
        k.add("bound, every permitted feature", ss.frame_permitted, "= AT_MINSIGSTKSZ")
    k.add("sigaltstack() needs more than", cell(ss.check_permitted),
          "sigaltstack_size_valid(): only once the process has a dynamic permission (or strict_sas_size)")
    k.add("ARCH_REQ_XCOMP_PERM needs at least", cell(ss.perm_min),
          "validate_sigaltstack(): every installed stack, else -ENOSPC")
    if any(st.kind == "below-sp" for st in r.stacks) and ss.thread_default is not None:
        k.add("a signal on the thread stack takes", ss.thread_default, "get_sigframe() off an alternate stack: the "
              "128-byte red zone, then the frame (the worst 8-byte aligned SP)")
        if ss.dynamic:
            k.add("... with AMX in use", ss.thread_permitted, "")
    c = Table(f"{lv.choice.label}", [Column("value"), Column("bytes", R), Column("note", wrap=True, optional=True)])
    c.add("sysconf(_SC_MINSIGSTKSZ)", cell(lv.sc_minsigstksz),
          "no such name: EINVAL" if lv.sc_minsigstksz is None else "")
    c.add("sysconf(_SC_SIGSTKSZ)", cell(lv.sc_sigstksz), "" if lv.sc_sigstksz is None or lv.sc_sigstksz % 4096 == 0
          else f"not a page multiple ({lv.sc_sigstksz // 4096} pages + {lv.sc_sigstksz % 4096})")
    for name, d in (("MINSIGSTKSZ", lv.minsigstksz), ("SIGSTKSZ", lv.sigstksz),
                    ("PTHREAD_STACK_MIN", lv.pthread_stack_min)):
        c.add(name, d["constant"], "" if d["dynamic"] is None else f"{d['dynamic']} with _GNU_SOURCE (C++)")
    c.add("sigaltstack() minimum", lv.sigaltstack_min,
          "checked by the C library" if lv.sigaltstack_check == "libc" else "the kernel's MINSIGSTKSZ")
    if lv.ldso:
        c.add("ld.so lazy binding saves", lv.ldso["lazy_binding"], f"{lv.ldso['format']}: stack a handler needs "
              "to call a not-yet-bound function")
        if lv.ldso["tlsdesc"] is not None:
            c.add("ld.so TLS descriptor saves", lv.ldso["tlsdesc"], "dynamic TLS access (includes AMX)")
    caption = (f"fits: holds AT_MINSIGSTKSZ ({cell(ss.at_minsigstksz or ss.frame_permitted)} bytes), the largest "
               "frame the kernel may deliver; below-minimum: the frame is delivered, the documented minimum is not "
               "met; margin: usable bytes minus AT_MINSIGSTKSZ (guard pages inside a stack are not usable)")
    kinds = {st.kind for st in r.stacks}
    if "below-sp" in kinds:
        caption += ("; a runtime without an alternate stack: size is the room it keeps below the interrupted SP, "
                    "which must hold the red zone and the frame (margin: with AMX in use), corrupts-memory when "
                    "the frame runs on into ordinary memory, no-altstack when it keeps none")
    if "buffer" in kinds:
        caption += "; a buffer: size against the copy of the state it must hold (margin: with AMX in use)"
    s = Table("Alternate signal stacks" if kinds == {"altstack"} else "Where signal frames land",
              [Column("who"), Column("size", R), Column("margin", R), Column("verdict"),
               Column("why", wrap=True, optional=True)], caption=caption)
    for st in r.stacks:
        why = "" if st.verdict == "fits" else st.why  # said once, in the caption
        s.add(st.who, cell(st.size), "-" if st.margin is None else f"{st.margin:+d}", st.verdict,
              why + (f"; {st.consequence}" if st.consequence else ""), style=_VERDICT_STYLE.get(st.verdict, "bad"))
    return [k, c, s]


def _sigstack_notes(reports) -> list:
    judged = [s for r in reports for s in r.stacks if s.fits is not None]
    bad = sum(not s.fits for s in judged)
    if not judged:
        return [f"Nothing to judge: none of the {sum(len(r.stacks) for r in reports)} runtimes keeps room for "
                "its frames."]
    if all(s.kind == "altstack" for s in judged):
        return [f"OK: every stack holds AT_MINSIGSTKSZ ({len(judged)} checked)." if not bad else
                f"{bad} of {len(judged)} stacks do not hold AT_MINSIGSTKSZ (exit 1)."]
    # Other kinds hold the frame as it lands there, or a copy of the state: not AT_MINSIGSTKSZ.
    return [f"OK: every stack, room and buffer holds what it must ({len(judged)} checked)." if not bad else
            f"{bad} of {len(judged)} stacks, rooms and buffers do not hold what they must (exit 1)."]


def limit_view(name: str, limit: int, over, checked: int, description: str) -> View:
    t = Table(f"{name} above {limit} bytes" + (f": {description}" if description else ""),
              [Column("cpu"), Column("kernel"), Column("value", R), Column("over by", R)],
              caption="kernel a-b: every kernel asked for from a to b has this value")
    for cpu, kernel, (value, excess) in kernel_runs((o.cpu, o.kernel, o.position, (o.value, o.over)) for o in over):
        t.add(cpu, kernel, value, f"+{excess}", style="bad")
    notes = [f"{len(over)} of {checked} CPU and kernel pairs exceed {limit} (exit 1)." if over else
             f"OK: none of {checked} CPU and kernel pairs exceeds {limit}."]
    data = {"name": name, "limit": limit, "checked": checked, "ok": not over,
            "exceeding": [o.record() for o in over]}
    keys = ["cpu", "kernel", "model", "name", "value", "limit", "over"]
    return View(data, [t] if over else [], notes,
                csv_rows=csv_records(keys, [{**o.record(), "name": name, "limit": limit} for o in over]))
