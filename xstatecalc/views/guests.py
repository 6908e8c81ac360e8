"""Views of the KVM guest and process flows: guest."""

from __future__ import annotations

from ..render import Column, Table, View
from ..report import kernel_fields
from .common import R, cell, leaves, linux, lookup


def guest_view(b, steps, *, flow: str) -> View:
    """One row per step of the guest (or process) flow, then the kernel/uAPI split."""
    from ..guest import verdict

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
            changed = [f"{c} = {cell(lookup(st.state, c))}" for c in st.changed]
        returns = [f"{k}: {cell(v)}" for k, v in leaves(st.returns)]
        t.add(st.nr, st.event, st.function, cell(st.result), st.call,
              "\n".join(changed + [f"({n})" for n in st.notes]), "\n".join(returns),
              style="bad" if st.failed else None)
        rec = {"cpu": b.profile.name, **kernel_fields(b.kernel), **st.record()}
        records.append(rec)
        head = [b.profile.name, b.kernel.label, b.kernel.model, st.nr, st.event, st.call, st.function, st.result]
        csv_rows += [head + ["state." + k, v, k in st.changed] for k, v in leaves(st.state)]
        csv_rows += [head + ["returns." + k, v, False] for k, v in leaves(st.returns)]
        csv_rows += [head + ["notes", n, False] for n in st.notes]
    tables = [t]
    if flow == "guest":
        tables.append(_split_table(steps))
    header = ["cpu", "kernel", "model", "step", "event", "call", "function", "result", "name", "value", "changed"]
    return View(records, [x for x in tables if x], [verdict(steps)], csv_rows=(header, csv_rows))


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
        t.add(part, name, *[cell(lookup(s, key)) for _, s in states])
    return t
