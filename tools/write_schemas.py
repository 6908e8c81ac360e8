#!/usr/bin/env python3
"""Write docs/schemas/COMMAND.json from xstatecalc/render/schemas.py (tests/test_schemas.py fails when stale).

    python tools/write_schemas.py
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def texts() -> dict:
    sys.path.insert(0, str(ROOT))
    from xstatecalc.render.schemas import commands, schema

    return {f"{c}.json": json.dumps(schema(c), indent=2) + "\n" for c in commands()}


def main() -> int:
    out = ROOT / "docs" / "schemas"
    out.mkdir(parents=True, exist_ok=True)
    want = texts()
    for stale in out.glob("*.json"):
        if stale.name not in want:
            stale.unlink()
    for name, text in want.items():
        (out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(want)} schemas to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
