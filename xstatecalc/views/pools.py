"""Views of fleets: pool."""

from __future__ import annotations

from .. import components as C
from ..render import Column, Table, View, csv_records
from ..report import kernel_fields
from .common import R

GROUPS_SHOWN = 8  # failing groups per consumer in a table; JSON and CSV carry all of them


def pool_record(rep) -> dict:
    """The JSON of `pool`."""
    names = [n for k in rep.classes for n in k.members]
    return {
        "hosts": {"count": sum(k.count for k in rep.classes), "names": names},
        "kinds": [{"kind": k.label, "cpu": k.boot.profile.name, **kernel_fields(k.boot.kernel),
                     "libc": k.libc.label, "count": k.count, "members": list(k.members),
                     "xcr0": f"{k.boot.xcr0:#x}", "xss": f"{k.boot.xss:#x}"} for k in rep.classes],
        "common": {"xcr0": f"{rep.common_xcr0:#x}", "xss": f"{rep.common_xss:#x}",
                   "names": C.names(rep.common_xcr0 | rep.common_xss)},
        "max": {name: {"size": size, "kinds": kinds} for name, (size, kinds) in rep.maxima.items()},
        "holding_back": [{"kind": label, "count": count, "gains": gains} for label, gains, count in rep.holding_back],
        "consumers": {c: {"ok": ok, "gates": c in rep.gating, "failing": [f.record() for f in groups]}
                      for c, (ok, groups) in rep.consumers.items()},
        "qemu": [{"release": rel, "cpu_model": model, "xcr0": f"{xcr0:#x}", "xss": f"{xss:#x}", "sizes": sizes}
                 for rel, model, xcr0, xss, sizes in rep.qemu],
        "renamed": list(rep.renamed),
        "for": list(rep.gating),
        "ok": rep.ok,
    }


def pool_view(rep) -> View:
    data = pool_record(rep)
    total = data["hosts"]["count"]

    def build():
        kinds = Table(f"A pool of {total} host{'s' if total != 1 else ''}, {len(rep.classes)} kind"
                      f"{'s' if len(rep.classes) != 1 else ''}",
                      [Column("kind"), Column("hosts", R), Column("xcr0", R), Column("user", R),
                       Column("kernel", R), Column("AT", R)],
                      caption="kind: a CPU on a kernel (with its C library when members differ), identical members "
                              "computed once; user, kernel: user.max.size and kernel.max.size; AT: AT_MINSIGSTKSZ. "
                              f"Every member enables xcr0 {data['common']['xcr0']}, xss {data['common']['xss']} "
                              f"({' '.join(data['common']['names'])}).")
        for k in rep.classes:
            b = k.boot
            kinds.add(k.label, k.count, f"{b.xcr0:#x}", b.user_max.size, b.kernel_max.size,
                      "-" if b.sigframe_min is None else b.sigframe_min)
        maxima = Table("The largest of every size", [Column("value"), Column("bytes", R),
                                                     Column("where", wrap=True)])
        for name, (size, hosts) in rep.maxima.items():
            maxima.add(name, size, ", ".join(hosts))
        tables = [kinds, maxima]
        if rep.holding_back:
            hb = Table("What holds the pool back", [Column("kind"), Column("hosts", R),
                                                    Column("without it, every member would also have", wrap=True)])
            for label, gains, count in rep.holding_back[:GROUPS_SHOWN]:
                hb.add(label, count, " ".join(gains))
            tables.append(hb)
        from ..compare import CONSUMER_TITLES

        for c, (ok, groups) in rep.consumers.items():
            gates = c in rep.gating
            word = "ok" if ok else f"FAILS, {len(groups)} group{'s' if len(groups) != 1 else ''} of pairs"
            cons = Table(f"{c} ({CONSUMER_TITLES[c]}): {word}" + ("" if gates else " (does not decide the exit code)"),
                         [Column("from → to", wrap=True), Column("why", wrap=True)])
            if ok:
                cons.add("every kind → every kind", "-", style="good" if gates else "dim")
            for f in groups[:GROUPS_SHOWN]:
                cons.add(f"{', '.join(f.sources)} → {', '.join(f.destinations)}", f.reason,
                         style="bad" if gates else "dim")
            if len(groups) > GROUPS_SHOWN:
                cons.add("", f"... {len(groups) - GROUPS_SHOWN} more groups (--format json or csv)", style="dim")
            tables.append(cons)
        if rep.qemu:
            q = Table("The largest QEMU model every member runs without dropping an XSAVE feature (KVM)",
                      [Column("QEMU", R), Column("model"), Column("xcr0", R), Column("guest user size", wrap=True)],
                      caption="what libvirt's baseline CPU gives, with the sizes its guests see on each host "
                              "(standard format, CPUID 0xD.0 EBX)")
            for rel, model, xcr0, xss, sizes in rep.qemu:
                by_size: dict = {}
                for host, size in sizes.items():
                    by_size.setdefault(size, []).append(host)
                q.add(rel, model or "none", f"{xcr0:#x}" if model else "-",
                      "; ".join(f"{s} on {', '.join(h)}" for s, h in sorted(by_size.items())) or "-")
            tables.append(q)
        failing = [c for c in rep.gating if not rep.consumers[c][0]]
        notes = [f"note: {r}" for r in rep.renamed]
        notes.append(f"FAILS: a pair fails for {', '.join(failing)} (exit 1)." if failing else
                     f"OK: state moves between every two members for {', '.join(rep.gating)}.")
        return tables, notes, None

    keys = ["for", "gates", "from", "to", "reason"]
    rows = [{"for": c, "gates": c in rep.gating, **f.record()} for c, (ok, groups) in rep.consumers.items()
            for f in groups]
    return View(data, builder=build, csv_rows=csv_records(keys, rows))
