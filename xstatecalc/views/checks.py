"""Views of checks: check, compare, verify, dmesg."""

from __future__ import annotations

from .. import components as C
from ..render import Column, Table, View
from ..report import kernel_fields
from .common import R, cell, linux


def dmesg_view(b, lines: list[str]) -> View:
    return View({"cpu": b.profile.name, **kernel_fields(b.kernel), "options": b.options.describe(),
                 "lines": lines}, [], csv_table=Table("", [Column("line")], [[x] for x in lines]))


def dmesg_check_view(b, res, *, kernel_source: str, agreeing: list[str] | None = None) -> View:
    t = Table(f"x86/fpu lines of the log vs {b.profile.name} on {linux(b.kernel)}",
              [Column("verdict"), Column("model", wrap=True), Column("log", wrap=True)],
              caption=f"kernel: {kernel_source}")
    for line in res.matching:
        t.add("same", line, line, style="good")
    for want, got in res.differing:
        t.add("DIFFERS", want, got, style="bad")
    for line in res.unexpected:
        t.add("UNEXPECTED", "", line, style="bad")
    for line in res.missing:
        t.add("not in log", line, "", style="dim")
    for line in res.ignored:
        t.add("not modelled", "", line, style="dim")
    verdict = ("the log agrees with the model" if res.ok else
               f"the log differs from the model: {len(res.differing)} line(s) differ, "
               f"{len(res.unexpected)} unexpected")
    notes = [f"{verdict} ({len(res.matching)} matching, {len(res.missing)} not in the log)."]
    boot_rec = None
    if res.boot is not None:
        boot_rec = {"index": res.boot.index, "of": res.boots, "line": res.boot.line, "banner": res.boot.kernel}
        if res.boots > 1:
            notes.insert(0, f"The log holds {res.boots} boots; checked the last, boot {res.boot.index} (from line "
                            f"{res.boot.line}{', Linux ' + res.boot.kernel if res.boot.kernel else ''}).")
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "kernel_source": kernel_source,
            "agreeing_models": agreeing, "boot": boot_rec,
            "options": b.options.describe(), "ok": res.ok, "matching": res.matching,
            "differing": [{"model": w, "log": g} for w, g in res.differing],
            "unexpected": res.unexpected, "missing": res.missing, "ignored": res.ignored}
    return View(data, [t], notes, csv_table=t)


def check_findings_view(b, findings) -> View:
    t = Table(f"{b.profile.name} on {linux(b.kernel)}: leaf 0xD checks",
              [Column("severity"), Column("rule"), Column("finding", wrap=True),
               Column("kernel prints", wrap=True, optional=True), Column("then", wrap=True, optional=True)],
              caption="error: Linux disables or distrusts XSAVE (exit 1); warning: it warns or differs silently")
    for f in findings:
        t.add(f.severity, f.rule, f.message, f.kernel_line or "", f.consequence,
              style={"error": "bad", "warning": "warn", "info": "dim"}.get(f.severity))
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    notes = [f"{errors} error(s), {warnings} warning(s)." if findings else "No findings: the kernel accepts this leaf 0xD."]
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "ok": not errors,
            "findings": [f.record() for f in findings]}
    return View(data, [t] if findings else [], notes, csv_table=t)


def log_facts_view(facts, kernel_ranges: list[str], how: str, cpus: list[str], *, boots: int) -> View:
    """dmesg --check without --cpu: what the log says, whether it adds up, what could have printed it."""
    comp = Table("What the log says (x86/fpu lines of its last boot)",
                 [Column("#", R), Column("component"), Column("printed name", wrap=True), Column("offset", R),
                  Column("size", R), Column("align64")],
                 caption=f"enabled {cell(facts.record()['enabled'])}, context size {cell(facts.context_size)} "
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
    data = {**facts.record(), "kernel_source": how, "kernel_models": kernel_ranges, "cpus": cpus, "boots": boots}
    return View(data, [t for t in (comp, checks) if t.rows], notes, csv_table=comp)


def compare_view(src, dst, rows, verdicts, common, *, sizes, ok: bool) -> View:
    sp, dp = src.profile.name, dst.profile.name
    same_kernel = src.kernel.label == dst.kernel.label
    if sp == dp:  # one CPU across a kernel upgrade: name the sides by kernel
        sp, dp = f"{sp}@{src.kernel.label}", f"{dp}@{dst.kernel.label}"
    where = linux(src.kernel) if same_kernel else f"{linux(src.kernel)} -> {linux(dst.kernel)}"

    def side(s, key):
        return "-" if s is None else ("S" if key == "std_offset" and s["supervisor"] else cell(s[key]))

    comp = Table(f"Components: {sp} vs {dp} ({where})",
                 [Column("", style="bold"), Column("#", R), Column("name"), Column("size", R), Column("", R),
                  Column("offset", R), Column("", R), Column("compacted", R), Column("", R), Column("align64"),
                  Column("supervisor")],
                 caption=f"each pair: {sp} then {dp}; offset: standard (CPUID EBX; S = supervisor, none); "
                         "compacted: xstate_offset[i] in each kernel's max buffer; * = the component differs")
    for r in rows:
        s, d = r["src"], r["dst"]
        comp.add("*" if r["differs"] else "", r["nr"], r["name"], side(s, "size"), side(d, "size"),
                 side(s, "std_offset"), side(d, "std_offset"), side(s, "compacted_offset"),
                 side(d, "compacted_offset"), "/".join(side(x, "align64") for x in (s, d)),
                 "/".join(side(x, "supervisor") for x in (s, d)), style="warn" if r["differs"] else None)
    comp.alternatives = [[_component_pairs(sp, dp, rows, comp.title, comp.caption)]]
    ver = Table("Verdicts", [Column("for"), Column("check", wrap=True), Column("verdict"),
                             Column("why", wrap=True), Column("rule", wrap=True, optional=True)],
                caption="verdicts in parentheses do not decide the exit code (compare --for)")
    for v in verdicts:
        word = "ok" if v.ok else "FAILS"
        ver.add(v.consumer, v.name, word if v.gates else f"({word})", "\n".join(v.reasons) or "-", v.rule,
                style=("good" if v.ok else "bad") if v.gates else "dim")
    gating = sorted({v.consumer for v in verdicts if v.gates})
    notes = [f"Common guest feature set (mask a VMM can use on both): xcr0 {common['xcr0']} "
             f"({' '.join(common['names'])}), standard size "
             + " / ".join(f"{k} {v}" for k, v in common["standard_size"].items())
             + ", compacted " + " / ".join(f"{k} {v}" for k, v in common["compacted_size"].items()) + ".",
             (f"OK: every verdict for {', '.join(gating)} passes." if ok else
              f"FAILS: a verdict for {', '.join(gating)} fails (exit 1).")]
    data = {"src": src.profile.name, "dst": dst.profile.name,
            "src_kernel": kernel_fields(src.kernel), "dst_kernel": kernel_fields(dst.kernel),
            **kernel_fields(src.kernel), "for": gating, "ok": ok, "components": rows,
            "configs": sizes, "verdicts": [v.record() for v in verdicts], "common": common}
    header = ["for", "check", "ok", "gates", "rule", "reasons"]
    csv_rows = [[v.consumer, v.name, v.ok, v.gates, v.rule, "; ".join(v.reasons)] for v in verdicts]
    return View(data, [comp, _sizes_pair_table(src, dst, sizes, sp, dp), ver], notes,
                csv_rows=(header, csv_rows))


def _component_pairs(sp, dp, rows, title, caption) -> Table:
    """The component table for narrow widths: one row per component and side."""
    t = Table(title, [Column("", style="bold"), Column("#", R), Column("name"),
                                            Column("side"), Column("size", R), Column("offset", R),
                                            Column("compacted", R), Column("align64"), Column("supervisor")],
              caption=caption.replace("each pair: " + sp + " then " + dp + "; ", ""))
    for r in rows:
        for name, s in ((sp, r["src"]), (dp, r["dst"])):
            vals = ["-"] * 5 if s is None else [s["size"], "S" if s["supervisor"] else s["std_offset"],
                                                cell(s["compacted_offset"]), cell(s["align64"]),
                                                cell(s["supervisor"])]
            t.add("*" if r["differs"] else "", r["nr"] if name == sp else "", r["name"] if name == sp else "",
                  name, *vals, style="warn" if r["differs"] else None)
    return t


def _sizes_pair_table(src, dst, sizes, sp, dp) -> Table:
    t = Table("Sizes", [Column("", style="bold"), Column("value"), Column(sp, R), Column(dp, R)],
              caption="* = the value differs")
    for name, (a, b) in sizes.items():
        t.add("*" if a != b else "", name, cell(a), cell(b), style="warn" if a != b else None)
    return t


def verify_view(results) -> View:
    t = Table("Expectations", [Column("case", wrap=True), Column("value"), Column("expected", R),
                               Column("actual", R), Column("")])
    for r in results:
        t.add(r["case"], r["name"], cell(r["expected"]), cell(r["actual"]), "ok" if r["ok"] else "DIFFERS",
              style="good" if r["ok"] else "bad")
    bad = sum(not r["ok"] for r in results)
    notes = [f"{len(results) - bad} of {len(results)} expectations hold."]
    return View({"ok": not bad, "results": results}, [t], notes, csv_table=t)
