#!/usr/bin/env python3
"""Regenerate the pictures in docs/ from the command line (tests/test_readme.py keeps them current).

    python tools/docs_pictures.py          # rewrite docs/*.svg
    python tools/docs_pictures.py --check  # exit 1 if one is stale
"""

import argparse
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PICTURES = {
    "docs/layout-sapphire-rapids.svg": "xstatecalc layout --cpu sapphire-rapids --kernel 7.3 --format svg",
    "docs/compare-skylake-sp-zen4.svg": "xstatecalc compare skylake-sp zen4 --kernel 7.3 --format svg",
}


def run(command: str) -> str:
    sys.path.insert(0, str(ROOT))
    from click.testing import CliRunner

    from xstatecalc.cli import cli

    res = CliRunner().invoke(cli, shlex.split(command)[1:], prog_name="xstatecalc", catch_exceptions=False)
    return res.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for path, command in PICTURES.items():
        target = ROOT / path
        text = run(command)
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        tmp = target.with_suffix(".svg.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
        print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)} (run python tools/docs_pictures.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
