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
