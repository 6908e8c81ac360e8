"""Views of buffer sizes and layouts: sizes, features, layout, kernels, cpus."""

from __future__ import annotations

from ..render import Column, Table, View, csv_records
from ..report import (CONFIG_NAMES, CONFIGS, explain, features_record, flat_values, kernel_fields, layout_record,
                      sizes_record)
from .common import R, assumptions, cell, linux


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
            tables = [sizes_table(boots[0], records[0])]
        else:
            matrix = _compare_table(boots, records)
            matrix.alternatives = [[_compare_table(boots, records, numbered=True)], [_long_table(boots, records)]]
            if len(boots) > 6:
                matrix.alternatives.pop(0)  # a legend of more than six names reads worse than rows
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


def sizes_table(b, rec, *, fields: bool = True) -> Table:
    """One CPU on one kernel: every config's features, format and size (*fields*: and the kernel field)."""
    p = b.profile
    title = (f"{p.name} on {linux(b.kernel)}: XSAVE buffers "
             f"({'XSAVE off' if not b.xsave else 'compacted' if b.compacted else 'standard'})")
    t = Table(title, [Column("config"), Column("set"), Column("features", R), Column("components", wrap=True),
                      Column("format"), Column("size", R, "bold")]
              + ([Column("kernel field", wrap=True, optional=True)] if fields else []),
              caption=f"xcr0 {rec['xcr0']}  xss {rec['xss']}   {p.description}\n" + assumptions(b.options))
    for which, variant in CONFIGS:
        c = rec["configs"][which][variant]
        t.add(which, variant, c["features"], " ".join(c["names"]), c["format"], c["size"],
              *([CONFIG_NAMES[(which, variant)]] if fields else []))
    abi = rec["abi"]
    t.add("abi", "sigframe", "", "AT_MINSIGSTKSZ / 'signal: max sigframe size'", "", abi["sigframe_min"],
          *(["get_sigframe_size()"] if fields else []), style="dim" if abi["sigframe_min"] is None else None)
    if b.options.ia32_emulation and b.options.x86_64:
        t.add("abi", "sigframe", "", "… without IA32 emulation", "", abi["sigframe_min_no_ia32_emulation"],
              *([""] if fields else []))
    if not b.options.x86_64:
        t.caption += ("\ni386: the frame is struct sigframe_ia32, 732 bytes (verified: gcc -m32 on the 7.3 uapi "
                      "headers); PKRU and AMX are 64-bit only")
    t.add("abi", "regset", "", "NT_X86_XSTATE (ptrace, core dumps)", "standard", abi["regset_xstate"],
          *(["fpu_user_cfg.max_size"] if fields else []))
    return t


def _heads(boots) -> tuple[list[str], str]:
    """Column heads for boots side by side, and the title that says what they share."""
    cpus, kernels = {b.profile.name for b in boots}, {b.kernel.label for b in boots}
    if len(cpus) == 1:
        return [b.kernel.label for b in boots], f"{boots[0].profile.name}: XSAVE buffers per kernel"
    if len(kernels) == 1:
        return [b.profile.name for b in boots], f"XSAVE buffers on {linux(boots[0].kernel)}"
    return [f"{b.profile.name}@{b.kernel.label}" for b in boots], "XSAVE buffers"


def _compare_table(boots, records, *, numbered: bool = False) -> Table:
    """Values as rows, boots as columns; *numbered* heads the columns 1, 2, ... and names them in the caption
    (for long names, such as a vCPU's spelling)."""
    heads, title = _heads(boots)
    legend = ""
    if numbered:
        legend = "; ".join(f"{i} = {h}" for i, h in enumerate(heads, 1)) + "; "
        heads = [str(i) for i in range(1, len(heads) + 1)]
    t = Table(title, [Column("", style="bold"), Column("value")] + [Column(h, R) for h in heads])
    flats = [flat_values(r) for r in records]
    for name in flats[0]:
        if name.endswith(".format") or name in ("xsave",):
            continue
        vals = [f.get(name) for f in flats]
        differs = len({str(v) for v in vals}) > 1
        t.add("*" if differs else "", name, *[cell(v) for v in vals], style="warn" if differs else None)
    t.caption = legend + "* = the value differs between columns; " + assumptions(boots[0].options)
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
            t.add(*ids, *[cell(v) for v in sizes[3:]], *([_fmt(r)] if mixed else []))
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
               Column("class"), Column("kernel"), Column("user"), Column("guest"),
               Column("why not enabled", wrap=True, optional=True), Column("kernel name", optional=True)],
              caption="ECX flags: S supervisor (IA32_XSS), A 64-byte aligned when compacted, X XFD-capable; "
                      "kernel, user, guest: in that configuration's max (m) and default (d) feature set"
                      + "".join(f"\n{e}" for e in b.explain)
                      + f"\nformat: {'compacted' if b.compacted else 'standard'}")
    for r in rows:
        sets = [("m" if f"{w}.max" in r["in_configs"] else "") + ("d" if f"{w}.default" in r["in_configs"] else "") or "-"
                for w in ("kernel", "user", "guest")]
        t.add(r["nr"], r["name"], r["size"], "-" if r["offset"] is None else r["offset"], _flags(r), r["class"],
              *sets, "" if r["enabled"] else r["why_not"], r["kernel_name"], style=None if r["enabled"] else "dim")
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "components": rows}
    keys = ["cpu", "kernel", "model"] + list(rows[0]) if rows else []
    return View(data, [t], csv_rows=csv_records(keys, [{**data, **r} for r in rows]))


def layout_view(profile, mask: int, *, kernel=None) -> View:
    rec = layout_record(profile, mask)
    if kernel is not None:
        rec.update(kernel_fields(kernel))
    what = f"mask {rec['features']} ({' '.join(rec['names'])})"
    std = Table(f"{profile.name}: standard format, {what} — {rec['standard_size']} bytes",
                [Column("#", R), Column("component"), Column("offset", R), Column("size", R), Column("end", R)],
                caption="offsets are CPUID(0xD,i).EBX; rows without a number are the legacy area, the header or holes")
    for r in rec["standard_layout"]:
        if r["supervisor"]:
            continue
        std.add("" if r["nr"] is None else r["nr"], r["name"], r["std_offset"], r["size"],
                r["std_offset"] + r["size"], style="dim" if r["segment"] in ("gap", "header", "legacy") else None)
    cmp = Table(f"{profile.name}: compacted format (XSAVEC/XSAVES), {what} — {rec['compacted_size']} bytes",
                [Column("#", R), Column("component"), Column("xstate_offset", R), Column("size", R),
                 Column("end", R), Column("align64"), Column("padding before", R)],
                caption="xstate_offset[i] as the kernel prints it for this mask; rows without a number: legacy area, "
                        "header, 64-byte alignment padding")
    for r in rec["compacted_layout"]:
        cmp.add("" if r["nr"] is None else r["nr"], r["name"], r["compacted_offset"], r["size"],
                r["compacted_offset"] + r["size"], "yes" if r["align64"] else "",
                r["pad_before"] or "", style="dim" if r["segment"] in ("gap", "header", "legacy") else None)
    keys = ["cpu", "kernel", "model", "nr", "name", "size", "std_offset", "compacted_offset", "align64", "supervisor"]
    comps = [{**rec, **r} for r in rec["compacted_layout"] if r["segment"] == "component"]
    return View(rec, [std, cmp], csv_rows=csv_records(keys, comps))


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
    return View(data, [t], csv_rows=csv_records(["name", "aliases", "vendor", "xcr0_supported", "xss_supported",
                                                 "hypothetical", "description", "source"], data))


def kernels_view(rows, *, branch: str | None = None) -> View:
    """One row per release (or per point release of a branch): what changed, whether a number moves, evidence."""
    from ..kernels import model_for

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
    keys = ["kernel", "model", "branch", "lts", "released", "moves_numbers", "status", "summary", "evidence"]
    return View(data, [t], csv_rows=csv_records(keys, data))


def layout_note_view(profile, kernel, records, mask) -> View:
    from ..xsaveimage import note_bytes

    t = Table(f"{profile.name} on {linux(kernel)}: NT_X86_XSAVE_LAYOUT (type 0x205, owner \"LINUX\")",
              [Column("type", R), Column("name"), Column("size", R), Column("offset", R), Column("flags", R)],
              caption="struct x86_xfeat_component {u32 type, size, offset, flags}, one per extended feature of "
                      "fpu_user_cfg.max_features (dump_xsave_layout_desc(), 6.12+); offsets are standard")
    for r in records:
        t.add(r.type, r.record()["name"], r.size, r.offset, r.flags)
    notes = [] if kernel.core_layout_note else [f"Linux {kernel.model} writes no such note (it arrived in 6.12)."]
    data = {"cpu": profile.name, **kernel_fields(kernel), "n_type": 0x205, "owner": "LINUX",
            "written": bool(kernel.core_layout_note), "features": f"{mask:#x}",
            "records": [r.record() for r in records], "desc_hex": note_bytes(records).hex()}
    keys = ["cpu", "kernel", "model", "type", "name", "size", "offset", "flags"]
    return View(data, [t], notes, csv_rows=csv_records(keys, [{**data, **r} for r in data["records"]]))


def layout_picture_view(profile, mask: int, *, kernel=None) -> View:
    """`layout --diagram` and `layout --format svg`: the buffer as a picture."""
    from ..pictures import layout_picture

    rec = layout_record(profile, mask)
    if kernel is not None:
        rec.update(kernel_fields(kernel))
    return View(rec, [], pictures=[layout_picture(profile, mask, kernel)])
