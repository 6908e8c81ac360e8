#!/usr/bin/env python3
"""Speed of `which`: the whole search space, every CPU x kernel row x C library era, per call.

Runs each command many times, interleaved, beside the ``import click`` floor, and prints medians and limits
(issue 20: the whole search space in well under a second):

* ``which 11952 --format json`` (a match), ``which 39616 --format json`` (none: nearest values and formulas
  run backwards), ``which 2688 2696`` (two numbers, a table), ``which --frame ...``: each under 750 ms
* ``which 2688 --vcpu spr --format json`` (every QEMU model and Firecracker template on a host as well, opt-in):
  under 1500 ms

It also times the engine alone, in this process: building the space (one boot per CPU and distinct kernel
model, C library values once per distinct key) and looking a number up.

    python benchmarks/which.py [--runs 20]

Not a test: timing depends on the machine. The checkout this file lives in is measured (PYTHONPATH), with
bytecode caching on for the children, as after a normal ``pip install``. Exit 1 when a limit is exceeded.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
XC = [PY, "-m", "xstatecalc"]
FRAME = "magic1=0x46505853,extended_size=1092,xfeatures=0x1f,xstate_size=1088"
CASES = [  # (name, command, limit in ms or None)
    ("floor: import click", [PY, "-c", "import click"], None),
    ("which 11952 --format json", XC + ["which", "11952", "--format", "json"], 750),
    ("which 39616 --format json (no match)", XC + ["which", "39616", "--format", "json"], 750),
    ("which 2688 2696 (table)", XC + ["which", "2688", "2696"], 750),
    ("which --frame ... --format json", XC + ["which", "--frame", FRAME, "--format", "json"], 750),
    ("which 2688 --vcpu spr --format json", XC + ["which", "2688", "--vcpu", "spr", "--format", "json"], 1500),
]


def engine(runs: int) -> tuple[float, float, str]:
    """Median milliseconds to build the default space and to look one number up, in this process."""
    sys.path.insert(0, ROOT)
    from xstatecalc.options import Options
    from xstatecalc.profile import all_builtin
    from xstatecalc.which import Space, default_kernels, libc_eras, which

    profiles = [p for p in all_builtin() if not p.hypothetical]
    kernels, eras = default_kernels(), libc_eras()
    build, look = [], []
    for _ in range(runs):
        t = time.perf_counter()
        space = Space(profiles, kernels, eras, Options())
        space.cells
        build.append(time.perf_counter() - t)
        t = time.perf_counter()
        which(space, [11952])
        look.append(time.perf_counter() - t)
    shape = (f"{len(profiles)} CPUs x {len(kernels)} kernel rows ({len(space.models)} models) x {len(eras)} C "
             f"library eras: {len(profiles) * len(space.models)} boots, {len(space._libc)} C library keys")
    return statistics.median(build) * 1000, statistics.median(look) * 1000, shape


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NO_COLOR="1", COLUMNS="80", PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""),
               XSTATECALC_CPU="")
    samples = {i: [] for i in range(len(CASES))}

    def once(cmd):
        res = subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
        if res.returncode not in (0, 1):  # 1 is a finding (39616 occurs nowhere), not a failure
            raise SystemExit(f"{' '.join(cmd)}: exit {res.returncode}")

    for _, cmd, _limit in CASES:  # warm-up: page cache and .pyc files
        once(cmd)
    for _ in range(args.runs):
        for i, (_, cmd, _limit) in enumerate(CASES):  # interleaved, so drift hits every case alike
            t = time.perf_counter()
            once(cmd)
            samples[i].append(time.perf_counter() - t)
    med = {i: statistics.median(v) * 1000 for i, v in samples.items()}
    print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} CPUs, {args.runs} runs each; "
          f"xstatecalc run as {' '.join(XC)} from {ROOT}")
    ok = True
    for i, (name, _cmd, limit) in enumerate(CASES):
        over = limit is not None and med[i] > limit
        ok &= not over
        print(f"  {med[i]:7.1f} ms  {name}" + ("" if limit is None else f" (limit {limit} ms)")
              + ("  OVER BUDGET" if over else ""))
    build, look, shape = engine(max(3, args.runs // 4))
    print(f"  engine: {build:.0f} ms to build the space ({shape}), {look:.1f} ms to look up a number")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
