#!/usr/bin/env python3
"""Start-up budget of xstatecalc, measured against the import floor of its dependencies.

Runs each command many times, side by side in one run, and prints medians and ratios:

* ``sizes --cpu sapphire-rapids --format json`` vs ``python -c "import click, yaml"`` (budget 1.3x)
* ``sizes --cpu sapphire-rapids`` (table) vs ``python -c "import click, yaml, rich.console, rich.table"`` (1.3x)
* ``sizes --cpu all --kernel all --format json`` vs the single-CPU JSON call (budget 2x)

Use the interpreter that has xstatecalc installed::

    python benchmarks/startup.py [--runs 30]

Not a test: timing depends on the machine. Bytecode caching is switched on for the
children (PYTHONDONTWRITEBYTECODE is removed), as after a normal ``pip install``.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

PY = sys.executable
# The console script pip installed next to this interpreter: what users run.
_SCRIPT = os.path.join(os.path.dirname(PY), "xstatecalc")
XC = [_SCRIPT] if os.access(_SCRIPT, os.X_OK) else [PY, "-m", "xstatecalc"]
CASES = [
    ("floor: import click, yaml", [PY, "-c", "import click, yaml"]),
    ("sizes --format json", XC + ["sizes", "--cpu", "sapphire-rapids", "--format", "json"]),
    ("floor: + rich.console, rich.table", [PY, "-c", "import click, yaml, rich.console, rich.table"]),
    ("sizes (table)", XC + ["sizes", "--cpu", "sapphire-rapids"]),
    ("sizes --cpu all --kernel all --format json",
     XC + ["sizes", "--cpu", "all", "--kernel", "all", "--format", "json"]),
]
RATIOS = [  # (name, numerator, denominator, budget)
    ("json vs import floor", 1, 0, 1.3),
    ("table vs import floor with rich", 3, 2, 1.3),
    ("all CPUs x all kernels vs one CPU", 4, 1, 2.0),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["NO_COLOR"] = "1"
    samples = {i: [] for i in range(len(CASES))}
    for _, cmd in CASES:  # warm-up: page cache and .pyc files
        subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, check=True)
    for _ in range(args.runs):
        for i, (_, cmd) in enumerate(CASES):  # interleaved, so drift hits every case alike
            t = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, check=True)
            samples[i].append(time.perf_counter() - t)
    med = {i: statistics.median(v) * 1000 for i, v in samples.items()}
    print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} CPUs, {args.runs} runs each; "
          f"xstatecalc run as {' '.join(XC)}")
    for i, (name, _) in enumerate(CASES):
        print(f"  {med[i]:7.1f} ms  {name}")
    ok = True
    for name, a, b, budget in RATIOS:
        r = med[a] / med[b]
        ok &= r <= budget
        print(f"  {r:5.2f}x  {name} (budget {budget}x){'' if r <= budget else '  OVER BUDGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
