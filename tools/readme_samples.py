#!/usr/bin/env python3
"""Regenerate the sample outputs in README.md from the real command line.

A sample is a ```console block whose first line is '$ xstatecalc ...' followed by output.
Each is rerun at 80 columns without colour and its output replaced; tests/test_readme.py
fails when a sample differs from what the command prints today.

    python tools/readme_samples.py          # rewrite README.md
    python tools/readme_samples.py --check  # exit 1 if a sample is stale
"""

import argparse
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ENV = {"COLUMNS": "80", "NO_COLOR": "1", "FORCE_COLOR": "", "TERM": "dumb", "XSTATECALC_CPU": ""}


def run(command: str) -> str:
    """What `command` prints on stdout, as a user at an 80-column pipe would see it."""
    sys.path.insert(0, str(ROOT))
    from click.testing import CliRunner

    from xstatecalc.cli import cli

    args = shlex.split(command)[1:]
    res = CliRunner().invoke(cli, args, env=ENV, prog_name="xstatecalc", catch_exceptions=False)
    return res.stdout


def samples(text: str):
    """(start, end, command) of every sample block: the lines between its '$' line and the fence."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "```console" and i + 2 < len(lines) and lines[i + 1].startswith("$ xstatecalc ") \
                and not lines[i + 2].startswith(("$ ", "```")):
            end = lines.index("```", i + 1)
            yield i + 2, end, lines[i + 1][2:]
            i = end
        i += 1


def render(text: str) -> str:
    lines = text.split("\n")
    for start, end, command in reversed(list(samples(text))):
        lines[start:end] = run(command).rstrip("\n").split("\n")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print("README.md samples are stale: run python tools/readme_samples.py", file=sys.stderr)
            return 1
        return 0
    tmp = README.with_suffix(".md.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, README)
    print(f"updated {sum(1 for _ in samples(new))} samples in README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
