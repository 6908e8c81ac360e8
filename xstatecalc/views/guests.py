"""Views of the KVM guest and process flows: guest."""

from __future__ import annotations

from ..render import Column, Table, View, csv_records
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
        records.append(st.record())
        head = [b.profile.name, b.kernel.label, b.kernel.model, st.nr, st.event, st.call, st.function, st.result]
        csv_rows += [head + ["state." + k, v, k in st.changed] for k, v in leaves(st.state)]
        csv_rows += [head + ["returns." + k, v, False] for k, v in leaves(st.returns)]
        csv_rows += [head + ["notes", n, False] for n in st.notes]
    tables = [t]
    if flow == "guest":
        tables.append(_split_table(steps))
    header = ["cpu", "kernel", "model", "step", "event", "call", "function", "result", "name", "value", "changed"]
    line = verdict(steps)
    data = {"cpu": b.profile.name, **kernel_fields(b.kernel), "options": b.options.describe(), "flow": flow,
            "steps": records, "verdict": line, "ok": not any(st.failed for st in steps)}
    return View(data, [x for x in tables if x], [line], csv_rows=(header, csv_rows))


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


_SUBLEAF1_BITS = ("xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd")
_GUEST_FLAGS = ("XSAVE", "AVX", "AVX512F", "MPX", "PKU", "AMX_TILE", "XFD", "APX", "SHSTK", "IBT", "XSAVEOPT",
                "XSAVEC", "XGETBV1", "XSAVES")


def vcpu_record(v, b) -> dict:
    """The JSON of `vcpu`: the VMM, the model as resolved, the host, the guest's leaf 0xD and flags, what was
    dropped, and the guest kernel's sizes on this CPU (`guest`, a `sizes` object)."""
    from ..report import sizes_record
    from ..vcpu import leaf_0xd

    host = v.host
    return {
        "cpu": v.profile.name,
        "vmm": {"name": v.vmm, "release": v.release, "status": v.release_status, "evidence": v.release_evidence},
        "cpu_model": {"name": v.model, "version": v.model_version, "alias": v.alias,
                      "modifiers": [("+" if on else "-") + f for f, on in v.spec.mods],
                      "requested": list(v.requested)},
        "spec": v.spec.text,
        "accel": host.accel,
        "host": {"cpu": host.name, **(kernel_fields(host.boot.kernel) if host.boot is not None else
                                      {"kernel": None, "model": None})},
        "xcr0": f"{v.xcr0:#x}",
        "xss": f"{v.xss:#x}",
        "flags": sorted(f.lower() for f in v.flags),
        "dropped": [d.record() for d in v.dropped],
        "leaf_0xd": {str(n): list(regs) for n, regs in leaf_0xd(v, b).items()},
        "problems": list(v.problems),
        "notes": list(v.notes),
        "ok": not v.problems,
        "guest": sizes_record(b),
    }


def vcpu_view(v, b) -> View:
    """The guest's leaf 0xD decoded, its flags, what was dropped, then the guest kernel's sizes."""
    from .buffers import sizes_table

    rec = vcpu_record(v, b)
    where = ("QEMU's TCG" if v.host.accel == "tcg" else
             f"{v.host.name}, KVM on {linux(v.host.boot.kernel)}")
    vmm = {"qemu": "QEMU", "firecracker": "Firecracker", "libvirt": "libvirt"}[v.vmm]
    title = (f"{vmm} {v.release} {v.model}" if v.vmm != "libvirt" else f"libvirt {v.model} (QEMU {v.release})")
    t = Table(f"{title} on {where}: the guest's CPUID leaf 0xD",
              [Column("sub", R), Column("eax", R), Column("ebx", R), Column("ecx", R), Column("edx", R),
               Column("what it says", wrap=True, optional=True)],
              caption="EBX of sub-leaves 0 and 1: the size for what the guest kernel enabled ("
                      + ("QEMU computes 0xD.0 and keeps its table's 0xD.1" if v.host.accel == "tcg" else
                         "KVM rewrites both; at vCPU reset, XCR0 = 1, they read 576") + ")")
    for n, (eax, ebx, ecx, edx) in rec_leaf(rec):
        t.add(n, f"{eax:#x}", f"{ebx:#x}", f"{ecx:#x}", f"{edx:#x}", _decode(n, eax, ebx, ecx, edx, b))
    f = Table("CPU flags the guest kernel reads", [Column("flag"), Column("guest"), Column("why not", wrap=True)])
    why = {}
    for d in v.dropped:
        for word in d.feature.replace(" or ", " ").split():
            why.setdefault(word.upper().replace("-", "_"), d.why)
    names = {"CET_SS": "SHSTK", "CET_IBT": "IBT", "AMX_TILE": "AMX_TILE", "APXF": "APX"}
    why = {names.get(k, k): w for k, w in why.items()}
    for flag in _GUEST_FLAGS:
        on = flag in v.flags
        f.add(flag.lower(), "yes" if on else "no", "" if on else why.get(flag, "the model lacks it" if v.vmm == "qemu"
                                                                        else "the host or KVM lacks it"),
              style=None if on else "dim")
    d = Table("Dropped", [Column("feature"), Column("components", wrap=True), Column("why", wrap=True)],
              [[x.feature, " ".join(x.components) or "-", x.why] for x in v.dropped])
    guest = sizes_table(b, rec["guest"], fields=False)
    guest.title = f"The guest kernel on it: {guest.title}"
    notes = [f"problem: {p}" for p in v.problems] + list(v.notes)
    status = "" if v.release_status == "source" else f" ({v.release_status})"
    notes.append(f"{vmm} {v.release}{status}: {v.release_evidence}")
    keys = ["cpu", "vmm.name", "vmm.release", "cpu_model.name", "host.cpu", "host.kernel", "subleaf", "eax", "ebx",
            "ecx", "edx"]
    rows = [{**rec, "subleaf": n, "eax": r[0], "ebx": r[1], "ecx": r[2], "edx": r[3]} for n, r in rec_leaf(rec)]
    if not v.dropped:
        notes.insert(0, "Nothing dropped: every XSAVE feature the model asks for reaches the guest.")
    return View(rec, [x for x in (t, f, d, guest) if x.rows], notes, csv_rows=csv_records(keys, rows))


def rec_leaf(rec):
    return [(int(n), regs) for n, regs in rec["leaf_0xd"].items()]


def _decode(n, eax, ebx, ecx, edx, b) -> str:
    from .. import components as C

    if n == 0:
        mask = eax | edx << 32
        return f"XCR0 may hold {' '.join(C.names(mask))}; EBX: the enabled ones, ECX: all"
    if n == 1:
        bits = [w for i, w in enumerate(_SUBLEAF1_BITS) if eax >> i & 1]
        xss = ecx | edx << 32
        return (" ".join(bits) or "none of xsaveopt xsavec xgetbv1 xsaves xfd") + "; EBX: compacted size" + \
            (f"; IA32_XSS may hold {' '.join(C.names(xss))}" if xss else "")
    flags = [w for bit, w in ((1, "supervisor"), (2, "align64"), (4, "xfd")) if ecx & bit]
    where = "in IA32_XSS" if ecx & 1 else f"at {ebx}"
    return f"{C.key(n)}: {eax} bytes {where}" + (f" ({', '.join(flags)})" if flags else "")
