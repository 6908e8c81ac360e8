"""What every view shares: how a kernel and its assumptions are named, how a cell is written."""

from __future__ import annotations



R = "right"


def assumptions(options) -> str:
    """The kernel build/boot assumptions behind the numbers, and how to change them."""
    d = options.describe()
    words = ", ".join(f"{k.removeprefix('CONFIG_')}={v}" for k, v in d.items() if k.startswith("CONFIG_"))
    extra = f"; command line: {d['cmdline']}" if d["cmdline"] else ""
    return f"assumed kernel: {words}{extra} (change with --disable, --no-ia32-emulation, --arch)"


def linux(k) -> str:
    """'Linux 7.0.3 (model 7.0)', or 'Linux 6.1' when the kernel is itself a model row."""
    return f"Linux {k.label}" if k.label == k.model else f"Linux {k.label} (model {k.model})"


def cell(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return " ".join(f"{k}={cell(x)}" for k, x in v.items())
    return "-" if v is None else str(v)


def lookup(state: dict, dotted: str):
    for part in dotted.split("."):
        state = state.get(part) if isinstance(state, dict) else None
    return state


def leaves(d: dict, prefix: str = ""):
    """(dotted path, value) for every non-dict value of a nested dict: the paths 'changed' names."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def kernel_runs(rows):
    """Collapse consecutive rows of one CPU whose cells agree into one row, its kernel cell 'a-b' (as `sizes`
    does). *rows* are (cpu, kernel label, kernel position, cells) in order; positions say which kernels are
    neighbours. Returns (cpu, kernel or 'a-b', cells)."""
    out = []
    for cpu, label, pos, cells in rows:
        last = out[-1] if out else None
        if last and last[0] == cpu and last[4] == cells and last[3] == pos - 1:
            last[2], last[3] = label, pos
        else:
            out.append([cpu, label, label, pos, cells])
    return [(cpu, a if a == b else f"{a}-{b}", cells) for cpu, a, b, _pos, cells in out]
