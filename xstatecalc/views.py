"""Table layouts for each command: library results -> render.View (no rich here)."""

from __future__ import annotations

from . import components as C
from .render import Column, Table, View
from .report import (CONFIG_NAMES, CONFIGS, explain, features_record, flat_values, kernel_fields, layout_record,
                     sizes_record)

R = "right"


def _flags(row: dict) -> str:
    return "".join(ch for ch, on in (("S", row["supervisor"]), ("A", row["align64"]), ("X", row["xfd"])) if on) or "-"


def sizes_view(boots: list, *, want_explain: bool = False) -> View:
    """One boot: a table of the configs. Several: values as rows and boots as columns when that fits the
    width, else one row per CPU and run of kernels with the same numbers."""
    records = [sizes_record(b) for b in boots]
    if want_explain:
        for b, r in zip(boots, records):
            r["explain"] = explain(b)

    def build():
        if len(boots) == 1:
            tables = [_sizes_table(boots[0], records[0])]
        else:
            matrix = _compare_table(boots, records)
            matrix.alternatives = [[_long_table(boots, records)]]
            if len({b.profile.name for b in boots}) > 1 and len({b.kernel.label for b in boots}) > 1:
                by_cpu: dict = {}
                for b, r in zip(boots, records):
                    by_cpu.setdefault(b.profile.name, []).append((b, r))
                per_cpu = [_long_table(*zip(*pairs), one_cpu=True) for pairs in by_cpu.values()]
                for t in per_cpu[:-1]:
                    t.caption = None  # said once, under the last
                matrix.alternatives.append(per_cpu)
            tables = [matrix]
        notes = []
        for b, r in zip(boots, records):
            if want_explain:
                notes += ([f"— {b.profile.name} on Linux {b.kernel.label} —"] if len(boots) > 1 else []) + r["explain"]
            elif r["problems"]:
                notes += [f"{b.profile.name}: {m}" for m in r["problems"]]
        if not want_explain and len(boots) == 1:
            notes.append("Run with --explain to see how each number came about.")
        return tables, notes, None

    header = ["cpu", "kernel", "model", "name", "value"]
    rows = [[r["cpu"], r["kernel"], r["model"], name, v] for r in records for name, v in flat_values(r).items()]
    return View(records, builder=build, csv_rows=(header, rows))


def assumptions(options) -> str:
    """The kernel build/boot assumptions behind the numbers, and how to change them."""
    d = options.describe()
    words = ", ".join(f"{k.removeprefix('CONFIG_')}={v}" for k, v in d.items() if k.startswith("CONFIG_"))
    extra = f"; command line: {d['cmdline']}" if d["cmdline"] else ""
    return f"assumed kernel: {words}{extra} (change with --disable, --no-ia32-emulation, --arch)"


def linux(k) -> str:
    """'Linux 7.0.3 (model 7.0)', or 'Linux 6.1' when the kernel is itself a model row."""
    return f"Linux {k.label}" if k.label == k.model else f"Linux {k.label} (model {k.model})"


def _sizes_table(b, rec) -> Table:
    p = b.profile
    title = (f"{p.name} on {linux(b.kernel)}: XSAVE buffers "
             f"({'XSAVE off' if not b.xsave else 'compacted' if b.compacted else 'standard'})")
    t = Table(title, [Column("config"), Column("set"), Column("features", R), Column("components", wrap=True),
                      Column("format"), Column("size", R, "bold"), Column("kernel field", wrap=True, optional=True)],
              caption=f"xcr0 {rec['xcr0']}  xss {rec['xss']}   {p.description}\n" + assumptions(b.options))
    for which, variant in CONFIGS:
        c = rec["configs"][which][variant]
        t.add(which, variant, c["features"], " ".join(c["names"]), c["format"], c["size"],
              CONFIG_NAMES[(which, variant)])
    abi = rec["abi"]
    t.add("abi", "sigframe", "", "AT_MINSIGSTKSZ / 'signal: max sigframe size'", "", abi["sigframe_min"],
          "get_sigframe_size()", style="dim" if abi["sigframe_min"] is None else None)
    if b.options.ia32_emulation and b.options.x86_64:
        t.add("abi", "sigframe", "", "… without IA32 emulation", "", abi["sigframe_min_no_ia32_emulation"], "")
    if not b.options.x86_64:
        t.caption += ("\ni386: the frame is struct sigframe_ia32, 732 bytes (verified: gcc -m32 on the 7.3 uapi "
                      "headers); PKRU and AMX are 64-bit only")
    t.add("abi", "regset", "", "NT_X86_XSTATE (ptrace, core dumps)", "standard", abi["regset_xstate"],
          "fpu_user_cfg.max_size")
    return t


def _heads(boots) -> tuple[list[str], str]:
    """Column heads for boots side by side, and the title that says what they share."""
    cpus, kernels = {b.profile.name for b in boots}, {b.kernel.label for b in boots}
    if len(cpus) == 1:
        return [b.kernel.label for b in boots], f"{boots[0].profile.name}: XSAVE buffers per kernel"
    if len(kernels) == 1:
        return [b.profile.name for b in boots], f"XSAVE buffers on {linux(boots[0].kernel)}"
    return [f"{b.profile.name}@{b.kernel.label}" for b in boots], "XSAVE buffers"


def _compare_table(boots, records) -> Table:
    heads, title = _heads(boots)
    t = Table(title, [Column("", style="bold"), Column("value")] + [Column(h, R) for h in heads])
    flats = [flat_values(r) for r in records]
    for name in flats[0]:
        if name.endswith(".format") or name in ("xsave",):
            continue
        vals = [f.get(name) for f in flats]
        differs = len({str(v) for v in vals}) > 1
        t.add("*" if differs else "", name, *[_cell(v) for v in vals], style="warn" if differs else None)
    t.caption = "* = the value differs between columns; " + assumptions(boots[0].options)
    return t


LONG_COLUMNS = (("kernel.max.size", "kernel\nmax"), ("kernel.default.size", "kernel\ndefault"),
                ("user.max.size", "user\nmax"), ("user.default.size", "user\ndefault"),
                ("guest.default.size", "guest\ndefault"), ("abi.sigframe_min", "AT_MIN\nSIGSTKSZ"))


_FORMAT_WORDS = {"cmp": "compacted", "std": "standard", "off": "XSAVE off"}


def _fmt(r: dict) -> str:
    return "off" if not r["xsave"] else "cmp" if r["compacted"] else "std"


def _long_table(boots, records, *, one_cpu: bool = False) -> Table:
    """Many boots: a row per CPU and run of consecutive kernels whose sizes are all the same."""
    cpus, kernels = {b.profile.name for b in boots}, {b.kernel.label for b in boots}
    _, title = _heads(boots)
    if one_cpu:
        title = f"{boots[0].profile.name}: XSAVE buffers per kernel"
    cols = ([Column("cpu")] if len(cpus) > 1 else []) + ([Column("kernel")] if len(kernels) > 1 else [])
    formats = {_fmt(r) for r in records}
    mixed = len(formats) > 1
    if not mixed:
        title += f", {_FORMAT_WORDS[formats.pop()]}"
    t = Table(title + " (bytes)", cols + [Column(h, R) for _, h in LONG_COLUMNS] + ([Column("fmt")] if mixed else []),
              caption=("kernel a-b: every kernel asked for from a to b gives these sizes; " if len(kernels) > 1
                       else "") + ("fmt: cmp = compacted (XSAVES/XSAVEC), std = standard, off = no XSAVE; "
                                   if mixed else "") + "features and every other value: --format json or csv\n"
              + assumptions(boots[0].options))
    run: list = []  # (boot, record, its sizes) of consecutive kernels with equal sizes

    def flush():
        if run:
            first, r, sizes = run[0][0], run[-1][1], run[-1][2]
            label = first.kernel.label + ("" if len(run) == 1 else f"-{run[-1][0].kernel.label}")
            ids = ([r["cpu"]] if len(cpus) > 1 else []) + ([label] if len(kernels) > 1 else [])
            t.add(*ids, *[_cell(v) for v in sizes[3:]], *([_fmt(r)] if mixed else []))
            run.clear()

    for b, r in zip(boots, records):
        flat = flat_values(r)
        sizes = (r["cpu"], r["xsave"], r["compacted"], *(flat[name] for name, _ in LONG_COLUMNS))
        if run and run[-1][2] != sizes:
            flush()
        run.append((b, r, sizes))
    flush()
    return t


def features_view(b) -> View:
    rows = features_record(b)
    t = Table(f"{b.profile.name}: XSAVE components on {linux(b.kernel)}",
              [Column("#", R), Column("name"), Column("size", R), Column("offset", R), Column("ECX"),
               Column("class", wrap=True), Column("Linux", wrap=True), Column("kernel name", optional=True)],
              caption="ECX flags: S supervisor (IA32_XSS), A 64-byte aligned when compacted, X XFD-capable"
                      + "".join(f"\n{e}" for e in b.explain)
                      + f"\nformat: {'compacted' if b.compacted else 'standard'}")
    for r in rows:
        status = ("enabled: " + ", ".join(x.replace(".", " ") for x in r["in"] if not x.startswith("guest.max"))
                  if r["enabled"] else f"no: {r['why_not']}")
        t.add(r["nr"], r["name"], r["size"], "-" if r["offset"] is None else r["offset"], _flags(r), r["class"],
              status, r["kernel_name"], style=None if r["enabled"] else "dim")
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "components": rows}
    return View(data, [t], csv_table=t)


def layout_view(profile, mask: int, *, kernel=None) -> View:
    rec = layout_record(profile, mask)
    if kernel is not None:
        rec.update(kernel_fields(kernel))
    what = f"mask {rec['mask']} ({' '.join(rec['names'])})"
    std = Table(f"{profile.name}: standard format, {what} — {rec['standard_size']} bytes",
                [Column("#", R), Column("component"), Column("offset", R), Column("size", R), Column("end", R)],
                caption="offsets are CPUID(0xD,i).EBX; rows without a number are the legacy area, the header or holes")
    for r in rec["standard"]:
        if r["supervisor"]:
            continue
        std.add("" if r["nr"] is None else r["nr"], r["name"], r["std_offset"], r["size"],
                r["std_offset"] + r["size"], style="dim" if r["kind"] in ("gap", "header", "legacy") else None)
    cmp = Table(f"{profile.name}: compacted format (XSAVEC/XSAVES), {what} — {rec['compacted_size']} bytes",
                [Column("#", R), Column("component"), Column("xstate_offset", R), Column("size", R),
                 Column("end", R), Column("align64"), Column("padding before", R)],
                caption="xstate_offset[i] as the kernel prints it for this mask; rows without a number: legacy area, "
                        "header, 64-byte alignment padding")
    for r in rec["compacted"]:
        cmp.add("" if r["nr"] is None else r["nr"], r["name"], r["compacted_offset"], r["size"],
                r["compacted_offset"] + r["size"], "yes" if r["align64"] else "",
                r["pad_before"] or "", style="dim" if r["kind"] in ("gap", "header", "legacy") else None)
    flat = Table("", [Column(h) for h in ("nr", "name", "size", "std_offset", "compacted_offset", "align64",
                                          "supervisor")])
    for r in rec["compacted"]:
        if r["kind"] == "component":
            flat.add(r["nr"], r["name"], r["size"], r["std_offset"], r["compacted_offset"], r["align64"],
                     r["supervisor"])
    return View(rec, [std, cmp], csv_table=flat)


def cpus_view(profiles) -> View:
    t = Table("Built-in CPU profiles", [Column("name"), Column("aliases", wrap=True), Column("vendor"),
                                        Column("xcr0", R), Column("xss", R),
                                        Column("description", wrap=True, optional=True)],
              caption="--cpu also takes a path to a profile file (see docs/profiles.md)")
    data = []
    for p in profiles:
        t.add(p.name, ", ".join(p.aliases), p.vendor, f"{p.xcr0_supported:#x}", f"{p.xss_supported:#x}",
              p.description, style="dim" if p.hypothetical else None)
        data.append({"name": p.name, "aliases": list(p.aliases), "vendor": p.vendor,
                     "xcr0_supported": f"{p.xcr0_supported:#x}", "xss_supported": f"{p.xss_supported:#x}",
                     "hypothetical": p.hypothetical, "description": p.description, "source": p.source})
    return View(data, [t], csv_table=t)



def kernels_view(rows, *, branch: str | None = None) -> View:
    """One row per release (or per point release of a branch): what changed, whether a number moves, evidence."""
    from .kernels import model_for

    title = (f"Linux {branch}: the mainline release and its stable backports, by point release" if branch else
             "Linux releases modelled, 4.15 to 7.4 (a version between rows uses the row at or below it)")
    t = Table(title, [Column("kernel"), Column("moves"), Column("evidence", wrap=True),
                      Column("what changed", wrap=True)],
              caption="moves: * = a size or mask can change; evidence: source = read in a release "
                      "tree, changelog = a distribution changelog names the stable release, mail = a pull request "
                      "or stable review, audit = kernel-audit.md, inferred = not confirmed; 'xstatecalc kernels "
                      "--format json' has the citations")
    data = []
    for r in rows:
        status = r.status + ("" if r.released else ", unreleased")
        t.add(r.label, "*" if r.numbers else "", status, r.summary + ("  [LTS]" if r.lts else ""))
        m = model_for(r.version)
        data.append({"kernel": r.label, "model": m.model, "branch": None if r.branch is None else
                     ".".join(map(str, r.branch)), "lts": r.lts, "released": r.released, "moves_numbers": r.numbers,
                     "status": r.status, "summary": r.summary, "evidence": r.evidence, "facts": m.facts()})
    return View(data, [t], csv_table=t)


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


def _cell(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return " ".join(f"{k}={_cell(x)}" for k, x in v.items())
    return "-" if v is None else str(v)


def _lookup(state: dict, dotted: str):
    for part in dotted.split("."):
        state = state.get(part) if isinstance(state, dict) else None
    return state


def guest_view(b, steps, *, flow: str) -> View:
    """One row per step of the guest (or process) flow, then the kernel/uAPI split."""
    from .guest import stack_verdict

    title = (f"{b.profile.name} on {linux(b.kernel)}: "
             + ("KVM guest fpstate, step by step" if flow == "guest" else "a process and its dynamic features, "
                "step by step"))
    t = Table(title, [Column("#", R), Column("event", wrap=True), Column("kernel function", wrap=True),
                      Column("result", R), Column("call", wrap=True, optional=True),
                      Column("what changed", wrap=True, optional=True), Column("returns", wrap=True, optional=True)],
              caption="state names: perm/guest_perm = struct fpu_state_perm, fpstate = struct fpstate, "
                      "gfpu = struct fpu_guest; a step that returns an error or ends in a signal fails (exit 1)")
    records, csv_rows = [], []
    for st in steps:
        if st.nr == 1:
            changed = [f"{w} {v}: {c['features']} / {c['size']}" for w, vs in st.state["configs"].items()
                       for v, c in vs.items()]
        else:
            changed = [f"{c} = {_cell(_lookup(st.state, c))}" for c in st.changed]
        returns = [f"{k}: {_cell(v)}" for k, v in _leaves(st.returns)]
        t.add(st.nr, st.event, st.function, _cell(st.result), st.call,
              "\n".join(changed + [f"({n})" for n in st.notes]), "\n".join(returns),
              style="bad" if st.failed else None)
        rec = {"cpu": b.profile.name, **kernel_fields(b.kernel), **st.record()}
        records.append(rec)
        head = [b.profile.name, b.kernel.label, st.nr, st.event, st.call, st.function, st.result]
        csv_rows += [head + ["state." + k, v, k in st.changed] for k, v in _leaves(st.state)]
        csv_rows += [head + ["returns." + k, v, False] for k, v in _leaves(st.returns)]
        csv_rows += [head + ["notes", n, False] for n in st.notes]
    tables = [t]
    if flow == "guest":
        tables.append(_split_table(steps))
    header = ["cpu", "kernel", "step", "event", "call", "function", "result", "path", "value", "changed"]
    verdict = stack_verdict(steps)
    return View(records, [x for x in tables if x], [verdict] if verdict else [], csv_rows=(header, csv_rows))


def _leaves(d: dict, prefix: str = ""):
    """(dotted path, value) for every non-dict value of a nested dict: the paths 'changed' names."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _split_table(steps):
    """The review's request: the guest config's kernel part next to its user/uAPI part."""
    states = [(st.event, st.state) for st in steps if "fpstate" in st.state and st.event != "the guest runs"]
    if not states:
        return None
    cols = [Column("part"), Column("field")] + [Column(ev, R) for ev, _ in states]
    t = Table("Guest fpstate: kernel part (compacted, XSAVES) vs user/uAPI part (standard, KVM_GET_XSAVE2)", cols)
    rows = [("kernel", "bytes allocated", "fpstate.allocated"), ("kernel", "fpstate->size", "fpstate.size"),
            ("kernel", "fpstate->xfeatures", "fpstate.xfeatures"), ("kernel", "fpstate->xfd", "fpstate.xfd"),
            ("user/uAPI", "fpstate->user_size", "fpstate.user_size"),
            ("user/uAPI", "fpstate->user_xfeatures", "fpstate.user_xfeatures"),
            ("user/uAPI", "gfpu->uabi_size", "gfpu.uabi_size"), ("kernel", "gfpu->xfeatures", "gfpu.xfeatures")]
    for part, name, key in rows:
        t.add(part, name, *[_cell(_lookup(s, key)) for _, s in states])
    return t


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
                 caption=f"enabled {_cell(facts.record()['enabled'])}, context size {_cell(facts.context_size)} "
                         f"bytes, {_cell(facts.format)} format; signal: max sigframe size {_cell(facts.sigframe)}")
    for c in sorted(facts.components.values(), key=lambda c: c.nr):
        comp.add(c.nr, C.key(c.nr), _cell(c.name), _cell(c.offset), _cell(c.size),
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
        return "-" if s is None else ("S" if key == "std_offset" and s["supervisor"] else _cell(s[key]))

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
                                                _cell(s["compacted_offset"]), _cell(s["align64"]),
                                                _cell(s["supervisor"])]
            t.add("*" if r["differs"] else "", r["nr"] if name == sp else "", r["name"] if name == sp else "",
                  name, *vals, style="warn" if r["differs"] else None)
    return t


def _sizes_pair_table(src, dst, sizes, sp, dp) -> Table:
    t = Table("Sizes", [Column("", style="bold"), Column("value"), Column(sp, R), Column(dp, R)],
              caption="* = the value differs")
    for name, (a, b) in sizes.items():
        t.add("*" if a != b else "", name, _cell(a), _cell(b), style="warn" if a != b else None)
    return t


def verify_view(results) -> View:
    t = Table("Expectations", [Column("case", wrap=True), Column("value"), Column("expected", R),
                               Column("actual", R), Column("")])
    for r in results:
        t.add(r["case"], r["name"], _cell(r["expected"]), _cell(r["actual"]), "ok" if r["ok"] else "DIFFERS",
              style="good" if r["ok"] else "bad")
    bad = sum(not r["ok"] for r in results)
    notes = [f"{len(results) - bad} of {len(results)} expectations hold."]
    return View({"ok": not bad, "results": results}, [t], notes, csv_table=t)


def host_view(b, rows, release: str) -> View:
    t = Table(f"This machine ({b.profile.description}) on Linux {release} (model {b.kernel.model})",
              [Column("quantity", wrap=True), Column("model", R), Column("kernel", R), Column("status"),
               Column("how", wrap=True, optional=True)],
              caption="model: xstatecalc's numbers for this CPUID and kernel; kernel: what the running kernel reports")
    for r in rows:
        t.add(r.quantity, _cell(r.model), _cell(r.kernel), r.status, r.how,
              style={"differs": "bad", "unavailable": "dim", "match": "good"}.get(r.status))
    bad = [r.quantity for r in rows if r.status == "differs"]
    notes = [f"differs: {', '.join(bad)}" if bad else "The model agrees with the running kernel on every quantity "
                                                        "it exposes."]
    data = {"release": release, **kernel_fields(b.kernel), "cpu": b.profile.description,
            "options": b.options.describe(), "ok": not bad, "rows": [r.record() for r in rows]}
    return View(data, [t], notes, csv_table=t)


# ------------------------------------------------------------------ sigstack and limit

_VERDICT_STYLE = {"fits": "good", "fits-without-amx": "warn"}


def sigstack_view(reports) -> View:
    """One report: the kernel, the C library, then every stack. Several: one row per CPU and kernel."""
    data = [_sigstack_record(r) for r in reports]
    header = ["cpu", "kernel", "model", "libc", "at_minsigstksz", "sc_minsigstksz", "sc_sigstksz", "who", "version",
              "size", "usable", "fits", "margin", "verdict"]
    rows = [[d["cpu"], d["kernel"], d["model"], d["libc"]["rules"], d["at_minsigstksz"], d["libc"]["sc_minsigstksz"],
             d["libc"]["sc_sigstksz"], s["who"], s["version"], s["size"], s["usable"], s["fits"], s["margin"],
             s["verdict"]] for d in data for s in d["stacks"]]

    def build():
        if len(reports) == 1:
            return _sigstack_tables(reports[0]), _sigstack_notes(reports), None
        t = Table("Alternate signal stacks (bytes)",
                  [Column("cpu"), Column("kernel"), Column("AT_MIN\nSIGSTKSZ", R), Column("_SC_MIN\nSIGSTKSZ", R),
                   Column("_SC_SIG\nSTKSZ", R), Column("stacks that do not hold AT", wrap=True)],
                  caption=f"C library: {reports[0].libc.choice.label}; AT_MINSIGSTKSZ is the largest frame the "
                          "kernel may deliver; details per stack: one CPU and kernel, or --format json")
        for r in reports:
            bad = [f"{s.who} ({s.verdict})" for s in r.stacks if not s.fits]
            t.add(r.boot.profile.name, r.boot.kernel.label, _cell(r.signal.at_minsigstksz),
                  _cell(r.libc.sc_minsigstksz), _cell(r.libc.sc_sigstksz), ", ".join(bad) or "-",
                  style="bad" if bad else "good")
        return [t], _sigstack_notes(reports), None

    return View(data if len(data) > 1 else data[0], builder=build, csv_rows=(header, rows))


def _sigstack_record(r) -> dict:
    b = r.boot
    return {"cpu": b.profile.name, **kernel_fields(b.kernel), "options": b.options.describe(),
            "at_minsigstksz": r.signal.at_minsigstksz,
            "frame": {"default": r.signal.frame_default, "permitted": r.signal.frame_permitted},
            "kernel_rules": r.signal.record(), "libc": r.libc.record(),
            "stacks": [s.record() for s in r.stacks], "ok": r.ok}


def _sigstack_tables(r) -> list:
    b, ss, lv = r.boot, r.signal, r.libc
    k = Table(f"{b.profile.name} on {linux(b.kernel)}: the kernel's signal frame",
              [Column("value"), Column("bytes", R), Column("kernel rule", wrap=True, optional=True)])
    k.add("AT_MINSIGSTKSZ", _cell(ss.at_minsigstksz), "get_sigframe_size(): the auxv entry (5.14+)")
    k.add("frame, no dynamic feature", ss.frame_default, "a process that never asks for AMX")
    k.add("frame, every permitted feature", ss.frame_permitted, "after ARCH_REQ_XCOMP_PERM and first use")
    k.add("sigaltstack() needs more than", _cell(ss.check_permitted),
          "sigaltstack_size_valid(): only once the process has a dynamic permission (or strict_sas_size)")
    k.add("ARCH_REQ_XCOMP_PERM needs at least", _cell(ss.perm_min),
          "validate_sigaltstack(): every installed stack, else -ENOSPC")
    c = Table(f"{lv.choice.label}", [Column("value"), Column("bytes", R), Column("note", wrap=True, optional=True)])
    c.add("sysconf(_SC_MINSIGSTKSZ)", _cell(lv.sc_minsigstksz),
          "no such name: EINVAL" if lv.sc_minsigstksz is None else "")
    c.add("sysconf(_SC_SIGSTKSZ)", _cell(lv.sc_sigstksz), "" if lv.sc_sigstksz is None or lv.sc_sigstksz % 4096 == 0
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
    s = Table("Alternate signal stacks",
              [Column("who"), Column("size", R), Column("margin", R), Column("verdict"),
               Column("why", wrap=True, optional=True)],
              caption="margin: usable bytes minus AT_MINSIGSTKSZ (guard pages inside a stack are not usable)")
    for st in r.stacks:
        s.add(st.who, st.size, "-" if st.margin is None else f"{st.margin:+d}", st.verdict, st.why + (f"; {st.then}" if st.then else ""),
              style=_VERDICT_STYLE.get(st.verdict, "bad"))
    return [k, c, s]


def _sigstack_notes(reports) -> list:
    bad = sum(not s.fits for r in reports for s in r.stacks)
    total = sum(len(r.stacks) for r in reports)
    return [f"OK: every stack holds AT_MINSIGSTKSZ ({total} checked)." if not bad else
            f"{bad} of {total} stacks do not hold AT_MINSIGSTKSZ (exit 1)."]


def limit_view(name: str, limit: int, over, checked: int, description: str) -> View:
    t = Table(f"{name} above {limit} ({description})" if description else f"{name} above {limit}",
              [Column("cpu"), Column("kernel"), Column(name, R), Column("over by", R)])
    for o in over:
        t.add(o.cpu, o.kernel, o.value, f"+{o.over}", style="bad")
    notes = [f"{len(over)} of {checked} CPU and kernel pairs exceed {limit} (exit 1)." if over else
             f"OK: none of {checked} CPU and kernel pairs exceeds {limit}."]
    data = {"value": name, "limit": limit, "checked": checked, "ok": not over,
            "exceeding": [o.record() for o in over]}
    rows = [[o.cpu, o.kernel, o.model, name, o.value, limit, o.over] for o in over]
    return View(data, [t] if over else [], notes,
                csv_rows=(["cpu", "kernel", "model", "value", "size", "limit", "over"], rows))


# ------------------------------------------------------------------ core files and XSAVE images

def core_view(source: str, image, fits_, groups, check, chosen, component) -> View:
    """What an XSAVE image holds and which CPUs could have written it."""
    t = Table(f"{source}: XSAVE image ({image.kind})", [Column("field"), Column("value", wrap=True)])
    t.add("size", f"{image.size} bytes")
    t.add("XCR0", "-" if image.xcr0 is None else f"{image.xcr0:#x} ({' '.join(C.names(image.xcr0))})")
    t.add("XCR0 read from", image.xcr0_from)
    if image.xstate_bv is not None:
        t.add("XSTATE_BV", f"{image.xstate_bv:#x}: state in {' '.join(C.names(image.xstate_bv)) or 'no component'}; "
                            "the rest hold their initial state")
        t.add("XCOMP_BV", f"{image.xcomp_bv:#x} ({'compacted' if image.compacted else 'standard format'})")
    t.add("layout", "NT_X86_XSAVE_LAYOUT note (6.12+)" if image.layout is not None else
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
    cand = Table("CPUs whose layout fits", [Column("", style="bold"), Column("layout"), Column("cpus", wrap=True)])
    for i, g in enumerate(groups, 1):
        diff = ", ".join(f"{C.key(n)}@{o}" for n, (o, _s) in sorted(g[0].layout.items()))
        cand.add("*" if len(groups) > 1 else "", f"{i}: {diff}", ", ".join(f.profile.name for f in g),
                 style="warn" if len(groups) > 1 else None)
    notes = list(image.problems)
    if len(groups) > 1:
        notes.append(f"{len(groups)} different layouts fit this image: without the NT_X86_XSAVE_LAYOUT note a reader "
                     "must guess, and guesses here are wrong for some of these CPUs (the AMD-vs-Intel AVX-512 case: "
                     "gdb's i387_guess_xsave_layout, go-delve/delve#3827).")
    elif not groups:
        notes.append("No built-in CPU's layout fits this image.")
    data = {"file": source, "kind": image.kind, "size": image.size,
            "xcr0": None if image.xcr0 is None else f"{image.xcr0:#x}", "xcr0_from": image.xcr0_from,
            "signal_sw_bytes": image.signal_sw,
            "xstate_bv": None if image.xstate_bv is None else f"{image.xstate_bv:#x}",
            "xcomp_bv": None if image.xcomp_bv is None else f"{image.xcomp_bv:#x}",
            "format": "compacted" if image.compacted else "standard",
            "layout_source": "note" if image.layout is not None else "inferred",
            "layout": [r.record() for r in image.layout] if image.layout is not None else None,
            "components": [{"nr": r[0], "name": r[1], "offset": r[2], "size": r[3], "holds_state": r[4] == "yes"}
                           for r in rows],
            "candidates": [f.profile.name for f in fits_],
            "layouts": [{"cpus": [f.profile.name for f in g],
                         "offsets": {C.key(n): o for n, (o, _s) in sorted(g[0].layout.items())}} for g in groups],
            "layouts_differ": len(groups) > 1,
            "notes": [{"owner": o, "type": t_, "size": s} for o, t_, s in image.notes],
            "problems": image.problems, "check": check}
    tables = [t, comp, cand]
    if check is not None:
        ct = Table(f"Checked against {check['cpu']}", [Column("verdict"), Column("why", wrap=True)])
        for why in check["differences"] or ["every component at the same offset and size"]:
            ct.add("DIFFERS" if check["differences"] else "ok", why, style="bad" if check["differences"] else "good")
        tables.append(ct)
    if component is not None:
        nr, raw = component
        data["component"] = {"nr": nr, "name": C.key(nr), "hex": raw.hex()}
        hexdump = Table(f"Component {nr} ({C.key(nr)}): {len(raw)} bytes", [Column("offset", R), Column("bytes")])
        for i in range(0, len(raw), 16):
            hexdump.add(i, " ".join(f"{b:02x}" for b in raw[i:i + 16]))
        tables.append(hexdump)
    return View(data, [x for x in tables if x.rows], notes, csv_table=comp)


def layout_note_view(profile, kernel, records, mask) -> View:
    from .xsaveimage import note_bytes

    t = Table(f"{profile.name} on {linux(kernel)}: NT_X86_XSAVE_LAYOUT (type 0x205, owner \"LINUX\")",
              [Column("type", R), Column("name"), Column("size", R), Column("offset", R), Column("flags", R)],
              caption="struct x86_xfeat_component {u32 type, size, offset, flags}, one per extended feature of "
                      "fpu_user_cfg.max_features (dump_xsave_layout_desc(), 6.12+); offsets are standard")
    for r in records:
        t.add(r.type, r.record()["name"], r.size, r.offset, r.flags)
    notes = [] if kernel.core_layout_note else [f"Linux {kernel.model} writes no such note (it arrived in 6.12)."]
    data = {"cpu": profile.name, **kernel_fields(kernel), "n_type": 0x205, "owner": "LINUX",
            "written": bool(kernel.core_layout_note), "xfeatures": f"{mask:#x}",
            "records": [r.record() for r in records], "desc_hex": note_bytes(records).hex()}
    return View(data, [t], notes, csv_table=t)


def layout_picture_view(profile, mask: int, *, kernel=None) -> View:
    """`layout --diagram` and `layout --format svg`: the buffer as a picture."""
    from .pictures import layout_picture

    rec = layout_record(profile, mask)
    if kernel is not None:
        rec.update(kernel_fields(kernel))
    return View(rec, [], pictures=[layout_picture(profile, mask, kernel)])
