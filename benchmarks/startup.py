#!/usr/bin/env python3
"""Start-up budget of xstatecalc, measured side by side with the import floor of its dependencies.

Runs each command many times, interleaved in one run, and prints medians, ratios and limits
(issue 12):

* ``sizes --cpu sapphire-rapids --format json`` vs ``python -c "import click"``: at most 1.25x
* ``sizes --cpu sapphire-rapids`` (table) vs ``python -c "import click, rich.console, rich.table"``: 1.25x
* ``sizes --cpu all --kernel all --format json``: under 0.5 s; its table: under 1 s

Use the interpreter that has xstatecalc installed::

    python benchmarks/startup.py [--runs 30]

Not a test: timing depends on the machine. Bytecode caching is switched on for the
children (PYTHONDONTWRITEBYTECODE is removed), as after a normal ``pip install``.
Exit 1 when a budget is exceeded.
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
    ("floor: import click", [PY, "-c", "import click"]),
    ("sizes --format json", XC + ["sizes", "--cpu", "sapphire-rapids", "--format", "json"]),
    ("floor: import click, rich.console, rich.table", [PY, "-c", "import click, rich.console, rich.table"]),
    ("sizes (table)", XC + ["sizes", "--cpu", "sapphire-rapids"]),
    ("sizes --cpu all --kernel all --format json",
     XC + ["sizes", "--cpu", "all", "--kernel", "all", "--format", "json"]),
    ("sizes --cpu all --kernel all (table)", XC + ["sizes", "--cpu", "all", "--kernel", "all"]),
    # For reference, not budgeted: what any click program pays to parse two options and print JSON.
    ("reference: a 2-option click command printing JSON",
     [PY, "-c", "import click, json\n@click.command()\n@click.option('--cpu')\n@click.option('--format')\n"
                "def f(cpu, format): print(json.dumps({'cpu': cpu}, indent=2))\n"
                "f(['--cpu', 'spr', '--format', 'json'])"]),
]
RATIOS = [  # (name, numerator, denominator, budget)
    ("json vs import click", 1, 0, 1.25),
    ("table vs import click + rich", 3, 2, 1.25),
]
LIMITS = [  # (name, case, milliseconds)
    ("all x all JSON", 4, 500),
    ("all x all table", 5, 1000),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NO_COLOR="1", COLUMNS="80")
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
    for name, i, limit in LIMITS:
        ok &= med[i] <= limit
        print(f"  {med[i]:5.0f} ms  {name} (limit {limit} ms){'' if med[i] <= limit else '  OVER BUDGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
