#!/usr/bin/env python3
"""A fleet at scale: `pool` and `import` on 1,000 and 10,000 hosts built from real CPUID dumps.

Each host is a `cpuid -r` dump (one logical CPU, as `cpuid -1 -r` writes it) holding the real registers of
one of the CPUs in tests/data/cpuid_regs.yaml (copied from their InstLatx64 dumps), in the proportions of a
cloud fleet of a dozen instance types: most files repeat another byte for byte, as dumps of identical
machines do.
Each command runs in one process: every file read, identical CPUIDs imported and booted once, the pool
analysed. Prints medians beside the `import click` floor, the growth from 1,000 to 10,000 hosts (linear is
10x) and the peak memory of the children (max RSS).

    python benchmarks/fleet.py [--runs 5]

Not a test. Budget (issue 18): 10,000 hosts under 2 s; cost no worse than linear from 1,000 to 10,000.
Exit 1 when the budget is exceeded.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")
PY = sys.executable
_SCRIPT = os.path.join(os.path.dirname(PY), "xstatecalc")
XC = [_SCRIPT] if os.access(_SCRIPT, os.X_OK) else [PY, "-m", "xstatecalc"]
# (CPU of cpuid_regs.yaml, share of the fleet in percent): a dozen instance types.
FLEET = [("sapphire-rapids", 25), ("emerald-rapids", 10), ("ice-lake-sp", 10), ("cascade-lake", 5),
         ("skylake-sp", 5), ("granite-rapids", 5), ("genoa", 15), ("turin", 10), ("zen3", 5),
         ("zen2-rome", 5), ("alder-lake", 3), ("raptor-lake", 2)]


def make_fleet(root: str, hosts: int) -> str:
    sys.path.insert(0, os.path.join(HERE, ".."))
    import yaml

    from tests.dumpfmt import cpuid_r, registers

    regs = yaml.safe_load(open(os.path.join(DATA, "cpuid_regs.yaml")))
    d = os.path.join(root, f"fleet-{hosts}")
    os.makedirs(d)
    n = 0
    for cpu, share in FLEET:
        data = cpuid_r([registers(regs[cpu])]).encode()
        for _ in range(hosts * share // 100):
            with open(os.path.join(d, f"host{n:05d}.txt"), "wb") as out:
                out.write(data)
            n += 1
    return d


def run(cmd, env) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NO_COLOR="1", COLUMNS="80")
    root = tempfile.mkdtemp(prefix="xstatecalc-fleet-")
    try:
        fleets = {h: make_fleet(root, h) for h in (1000, 10000)}
        cases = [("floor: import click", [PY, "-c", "import click"])]
        for h, d in fleets.items():
            cases.append((f"pool of {h} hosts --format json", XC + ["pool", d, "--format", "json"]))
            out = os.path.join(root, f"out-{h}")
            cases.append((f"import {h} dumps -o DIR --force", XC + ["import", d, "-o", out, "--force", "-f", "json"]))
        for _, cmd in cases:  # warm-up
            run(cmd, env)
        samples = {name: [] for name, _ in cases}
        for _ in range(args.runs):
            for name, cmd in cases:
                samples[name].append(run(cmd, env))
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        med = {name: statistics.median(v) * 1000 for name, v in samples.items()}
        print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} CPUs, {args.runs} runs "
              f"each; xstatecalc run as {' '.join(XC)}")
        for name, _ in cases:
            print(f"  {med[name]:8.1f} ms  {name}")
        ok = True
        for what in ("pool of {} hosts --format json", "import {} dumps -o DIR --force"):
            small, big = med[what.format(1000)], med[what.format(10000)]
            floor = med["floor: import click"]
            growth = (big - floor) / max(small - floor, 1e-3)
            print(f"  {big / 1000:6.2f} s   {what.format(10000)} (budget 2 s); x{growth:.1f} the work of 1,000 "
                  "beyond the floor (linear: x10)")
            ok &= big <= 2000 and growth <= 10.5
        print(f"  {rss:6.0f} MiB  peak memory of a child (max RSS)")
        return 0 if ok else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
