"""Views of checks: check, compare, verify, dmesg."""

from __future__ import annotations

from .. import components as C
from ..render import Column, Table, View, csv_records
from ..report import kernel_fields
from .common import R, cell, linux


def dmesg_view(b, lines: list[str]) -> View:
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "options": b.options.describe(), "lines": lines}
    t = Table(f"{b.profile.name} on {linux(b.kernel)}: x86/fpu boot lines", [Column("line", wrap=True)],
              [[x] for x in lines])
    return View(data, [t], csv_rows=csv_records(["cpu", "kernel", "model", "line"],
                                                [{**data, "line": x} for x in lines]))


TABLE_ROWS = 200  # lines of each verdict drawn for people; JSON and CSV carry them all


def dmesg_check_view(b, res, *, kernel_source: str, agreeing: list[str] | None = None) -> View:
    """A pasted log held against one model: JSON now, the table and CSV only when drawn."""
    boot_rec = None
    if res.boot is not None:
        boot_rec = {"index": res.boot.index, "of": res.boots, "line": res.boot.line, "banner": res.boot.kernel}
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "kernel_source": kernel_source,
            "kernel_models": agreeing if agreeing is not None else [b.kernel.label], "boot": boot_rec,
            "options": b.options.describe(), "ok": res.ok, "matching": res.matching,
            "differing": [{"expected": w, "actual": g} for w, g in res.differing],
            "unexpected": res.unexpected, "missing": res.missing, "ignored": res.ignored}

    def build():
        # Only when drawn: a log of a million lines costs its table only if a table is asked for.
        t = Table(f"x86/fpu lines of the log vs {b.profile.name} on {linux(b.kernel)}",
                  [Column("verdict"), Column("line", wrap=True)],
                  caption=f"kernel: {kernel_source}; same: the log has the model's line; not in log: the model "
                          "prints it, the log does not; not modelled: a log line the model does not reproduce")
        cut = []
        for verdict, items, style in (("same", res.matching, "good"),
                                      ("DIFFERS", [f"model: {w}\nlog:   {g}" for w, g in
                                                   res.differing[:TABLE_ROWS]], "bad"),
                                      ("UNEXPECTED", res.unexpected, "bad"), ("not in log", res.missing, "dim"),
                                      ("not modelled", res.ignored, "dim")):
            for line in items[:TABLE_ROWS]:
                t.add(verdict, line, style=style)
            n = len(res.differing if verdict == "DIFFERS" else items)
            if n > TABLE_ROWS:
                cut.append(f"{n - TABLE_ROWS} more {verdict}")
        verdict = ("the log agrees with the model" if res.ok else
                   f"the log differs from the model: {len(res.differing)} line(s) differ, "
                   f"{len(res.unexpected)} unexpected")
        notes = [f"{verdict} ({len(res.matching)} matching, {len(res.missing)} not in the log)."]
        if cut:
            notes.append(f"Not drawn: {', '.join(cut)} (every line is in --format json or csv).")
        if res.boot is not None and res.boots > 1:
            notes.insert(0, f"The log holds {res.boots} boots; checked the last, boot {res.boot.index} (from line "
                            f"{res.boot.line}{', Linux ' + res.boot.kernel if res.boot.kernel else ''}).")
        return [t], notes, None

    def csv_rows():
        lines = ([{"status": "matching", "expected": x, "actual": x} for x in res.matching]
                 + [{"status": "differing", **d} for d in data["differing"]]
                 + [{"status": "unexpected", "expected": None, "actual": x} for x in res.unexpected]
                 + [{"status": "missing", "expected": x, "actual": None} for x in res.missing]
                 + [{"status": "ignored", "expected": None, "actual": x} for x in res.ignored])
        keys = ["cpu", "kernel", "model", "status", "expected", "actual"]
        return csv_records(keys, [{**data, **x} for x in lines])

    return View(data, builder=build, csv_rows=csv_rows)


def check_findings_view(b, findings) -> View:
    t = Table(f"{b.profile.name} on {linux(b.kernel)}: leaf 0xD checks",
              [Column("severity"), Column("rule"), Column("finding", wrap=True),
               Column("kernel prints", wrap=True, optional=True), Column("consequence", wrap=True, optional=True)],
              caption="error: Linux disables or distrusts XSAVE (exit 1); warning: it warns or differs silently")
    for f in findings:
        t.add(f.severity, f.rule, f.message, f.kernel_line or "", f.consequence,
              style={"error": "bad", "warning": "warn", "info": "dim"}.get(f.severity))
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    notes = [f"{errors} error(s), {warnings} warning(s)." if findings else "No findings: the kernel accepts this leaf 0xD."]
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "ok": not errors,
            "findings": [f.record() for f in findings]}
    keys = ["cpu", "kernel", "model", "severity", "rule", "message", "kernel_line", "consequence"]
    return View(data, [t] if findings else [], notes,
                csv_rows=csv_records(keys, [{**data, **f} for f in data["findings"]]))


def log_facts_view(facts, kernel_ranges: list[str], how: str, cpus: list[str], *, boots: int) -> View:
    """dmesg --check without --cpu: what the log says, whether it adds up, what could have printed it."""
    comp = Table("What the log says (x86/fpu lines of its last boot)",
                 [Column("#", R), Column("component"), Column("printed name", wrap=True), Column("offset", R),
                  Column("size", R), Column("align64")],
                 caption=f"enabled {cell(None if facts.enabled is None else hex(facts.enabled))}, context size {cell(facts.context_size)} "
                         f"bytes, {cell(facts.format)} format; signal: max sigframe size {cell(facts.sigframe)}")
    for c in sorted(facts.components.values(), key=lambda c: c.nr):
        comp.add(c.nr, C.key(c.nr), cell(c.name), cell(c.offset), cell(c.size),
                 {True: "yes", False: "no", None: "-"}[c.aligned])
    checks = Table("Its own arithmetic", [Column("check"), Column("verdict"), Column("detail", wrap=True)])
    for c in facts.checks:
        word, style = {True: ("ok", "good"), False: ("FAILS", "bad"), None: ("cut", "dim")}[c.ok]
        checks.add(c.name, word, c.detail, style=style)
    for line in facts.problems:
        checks.add("kernel says", "FAILS", line, style="bad")
    if facts.legacy:
        checks.add("xsave", "-", facts.legacy + ": no XSAVE")
    notes = []
    if boots > 1:
        notes.append(f"The log holds {boots} boots; read the last (from line {facts.boot.line}).")
    kernel_text = ", ".join(kernel_ranges) or "none of the models"
    notes.append(f"Kernel: from {how}: {kernel_text}" if how != "the lines themselves" else
                 f"Kernel: the log has no 'Linux version' line; its lines fit models {kernel_text}")
    notes.append("Built-in CPUs whose model prints these lines: " + (", ".join(cpus) if cpus else
                 "none (give --cpu FILE with the machine's leaf 0xD to check it line by line)"))
    notes.append("The log adds up." if facts.ok else "The log contradicts itself or reports a problem (exit 1).")
    data = {**facts.record(of=boots), "kernel_source": how, "kernel_models": kernel_ranges, "cpus": cpus}
    keys = ["nr", "name", "kernel_name", "offset", "size", "align64"]
    return View(data, [t for t in (comp, checks) if t.rows], notes, csv_rows=csv_records(keys, data["components"]))


def side_record(b) -> dict:
    """One side of a comparison: the CPU and the kernel it runs."""
    return {"cpu": b.profile.name, **kernel_fields(b.kernel)}


def side_names(src, dst) -> tuple[str, str, str]:
    """Short names for the two sides (by kernel when the CPU is the same) and a title that says the rest."""
    if src.profile.name == dst.profile.name:
        return (src.kernel.label, dst.kernel.label,
                f"{src.profile.name}, Linux {src.kernel.label} → {dst.kernel.label}")
    if src.kernel.label == dst.kernel.label:
        return src.profile.name, dst.profile.name, f"{src.profile.name} → {dst.profile.name} on {linux(src.kernel)}"
    sp, dp = (f"{b.profile.name}@{b.kernel.label}" for b in (src, dst))
    return sp, dp, f"{sp} → {dp}"


def compare_view(src, dst, rows, verdicts, common, *, sizes, ok: bool, extra_notes=()) -> View:
    sp, dp, what = side_names(src, dst)

    def pair(key):
        """'a' when both sides agree, else 'a → b' ('-' for a side without the component)."""
        a, b = (_side(x, key) for x in (r["src"], r["dst"]))
        return a if a == b else f"{a} → {b}"

    comp = Table(f"Components: {what}",
                 [Column("", style="bold"), Column("#", R), Column("name"), Column("size", R),
                  Column("offset", R), Column("compacted", R), Column("flags")],
                 caption=f"a → b: {sp} → {dp}, '-' where a side lacks the component; offset: standard (CPUID "
                         "EBX; S = supervisor, none); compacted: xstate_offset[i] in each kernel's max buffer; "
                         "flags: A 64-byte aligned, S supervisor; * = the component differs")
    for r in rows:
        cells = [pair(key) for key in ("size", "std_offset", "compacted_offset", "flags")]
        differs = r["differs"] or any("→" in c for c in cells)
        comp.add("*" if differs else "", r["nr"], r["name"], *cells, style="warn" if differs else None)
    ver = Table("Verdicts", [Column("for"), Column("check", wrap=True), Column("verdict"),
                             Column("why", wrap=True), Column("rule", wrap=True, optional=True)],
                caption="verdicts in parentheses do not decide the exit code (compare --for)")
    for v in verdicts:
        word = "ok" if v.ok else "FAILS"
        ver.add(v.consumer, v.name, word if v.gates else f"({word})", "\n".join(v.reasons) or "-", v.rule,
                style=("good" if v.ok else "bad") if v.gates else "dim")
    gating = sorted({v.consumer for v in verdicts if v.gates})
    std, cmp = common["standard_size"], common["compacted_size"]
    notes = [f"Common guest feature set (a mask a VMM can use on both): xcr0 {common['xcr0']} "
             f"({' '.join(common['names'])}); standard size {_arrow(std['src'], std['dst'])}, compacted "
             f"{_arrow(cmp['src'], cmp['dst'])}.",
             *extra_notes,
             (f"OK: every verdict for {', '.join(gating)} passes." if ok else
              f"FAILS: a verdict for {', '.join(gating)} fails (exit 1).")]
    data = {"src": side_record(src), "dst": side_record(dst), "for": gating, "ok": ok, "components": rows,
            "values": {name: {"src": a, "dst": b} for name, (a, b) in sizes.items()},
            "verdicts": [v.record() for v in verdicts], "common": common}
    keys = ["src.cpu", "src.kernel", "dst.cpu", "dst.kernel", "for", "name", "ok", "gates", "rule", "reasons"]
    return View(data, [comp, _sizes_pair_table(sizes, sp, dp), ver], notes,
                csv_rows=csv_records(keys, [{**data, **v.record()} for v in verdicts]))


def _arrow(a, b) -> str:
    return str(a) if a == b else f"{a} → {b}"


def _side(s, key) -> str:
    if s is None:
        return "-"
    if key == "flags":
        return ("A" if s["align64"] else "") + ("S" if s["supervisor"] else "") or "-"
    return "S" if key == "std_offset" and s["supervisor"] else cell(s[key])


# Sizes, and the masks and formats only where they differ: the rest is in --format json.
_ALWAYS = (".size", "xcr0", "xss", "abi.")


def _sizes_pair_table(sizes, sp, dp, *, short: bool = False) -> Table:
    """Values side by side; *short* heads them src and dst (for narrow widths), the caption names them."""
    t = Table("Sizes (bytes) and masks", [Column("", style="bold"), Column("value"),
                                          Column("src" if short else sp, R), Column("dst" if short else dp, R)],
              caption=(f"src = {sp}, dst = {dp}; " if short else "") + "* = the value differs; equal formats and "
                      "feature masks are left out (--format json has every value)")
    for name, (a, b) in sizes.items():
        if a == b and not any(k in name for k in _ALWAYS):
            continue
        t.add("*" if a != b else "", name, cell(a), cell(b), style="warn" if a != b else None)
    if not short:
        t.alternatives = [[_sizes_pair_table(sizes, sp, dp, short=True)]]
    return t


def verify_view(results) -> View:
    t = Table("Expectations", [Column("case", wrap=True), Column("value"), Column("expected", R),
                               Column("actual", R), Column("verdict")])
    for r in results:
        t.add(r["case"], r["name"], cell(r["expected"]), cell(r["actual"]), "ok" if r["ok"] else "DIFFERS",
              style="good" if r["ok"] else "bad")
    bad = sum(not r["ok"] for r in results)
    notes = [f"{len(results) - bad} of {len(results)} expectations hold."]
    keys = ["case", "cpu", "kernel", "model", "name", "expected", "actual", "ok"]
    return View({"ok": not bad, "results": results}, [t], notes, csv_rows=csv_records(keys, results))
