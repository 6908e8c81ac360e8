"""`verify`: expectations files for CI.

An expectations file is YAML: one case, or a list of cases, each naming a CPU,
a kernel, options, and the values that must hold, by the dotted names of
:func:`xstatecalc.report.flat_values` (``kernel.max.size``, ``abi.sigframe_min``)::

    - cpu: sapphire-rapids
      kernel: "6.18"
      options: {disable: [enqcmd], ia32_emulation: true}
      expect:
        guest.default.size: 2560
        kernel.max.features: 0x61ae7
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .errors import ProfileError
from .inputs import read_text

MAX_EXPECT_BYTES = 1024 * 1024
_CASE_KEYS = {"name", "cpu", "kernel", "options", "expect"}
_OPTION_KEYS = {"disable", "ia32_emulation", "arch"}


@dataclass
class Case:
    name: str
    cpu: str
    kernel: str | None
    options: dict
    expect: dict
    where: str


def load(path: str) -> list[Case]:
    """Read and validate an expectations file (exit 2 on any problem, naming file, key and line)."""
    from .profile import parse_yaml

    text = read_text(path, limit=MAX_EXPECT_BYTES, what="expectations file")
    data, doc = parse_yaml(text, str(path))
    items = data if isinstance(data, list) else [data]
    cases = []
    for i, item in enumerate(items):
        where = f"[{i}]" if isinstance(data, list) else ""

        def fail(key, problem, _w=where):
            full = f"{_w}.{key}" if _w and key else (_w or key)
            raise ProfileError(str(path), full, problem, doc.lines.get(full) or doc.lines.get(_w))

        if not isinstance(item, dict):
            fail("", "each case is a mapping with cpu, kernel, options and expect")
        for k in item:
            if k not in _CASE_KEYS:
                close = difflib.get_close_matches(str(k), sorted(_CASE_KEYS), n=1)
                fail(str(k), f"unknown key {k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        if not isinstance(item.get("cpu"), str):
            fail("cpu", "missing or not a string: the CPU name, alias or profile path")
        kernel = item.get("kernel")
        if kernel is not None and not isinstance(kernel, (str, int, float)):
            fail("kernel", "expected a version such as \"6.1\" (quote it: 6.10 is not 6.1)")
        opts = item.get("options") or {}
        if not isinstance(opts, dict):
            fail("options", "expected a mapping (disable, ia32_emulation, arch)")
        for k in opts:
            if k not in _OPTION_KEYS:
                fail(f"options.{k}", f"unknown option {k!r}; known: {', '.join(sorted(_OPTION_KEYS))}")
        expect = item.get("expect")
        if not isinstance(expect, dict) or not expect:
            fail("expect", "missing: a mapping of dotted value names to expected values")
        name = item.get("name") or f"{item['cpu']}@{kernel or 'newest'}"
        cases.append(Case(str(name), item["cpu"], None if kernel is None else str(kernel), opts, expect,
                          where or "case"))
    return cases


def _same(expected, actual) -> bool:
    if isinstance(actual, str) and actual.startswith("0x"):
        try:
            want = expected if isinstance(expected, int) else int(str(expected), 0)
        except ValueError:
            return False
        return want == int(actual, 16)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return expected == actual


def evaluate(case: Case) -> list[dict]:
    """One result per expected value: name, expected, actual, ok."""
    from .errors import InputError
    from .fpu import boot, make_options
    from .kernels import resolve_kernel
    from .profile import resolve
    from .report import flat_values, sizes_record

    words = case.options.get("disable") or []
    try:
        opts = make_options([words] if isinstance(words, str) else words,
                            arch=case.options.get("arch", "x86_64"),
                            ia32_emulation=case.options.get("ia32_emulation", True) is not False)
    except ValueError as e:
        raise InputError(f"{case.where}: options.disable: {e}") from None
    values = flat_values(sizes_record(boot(resolve(case.cpu), resolve_kernel(case.kernel), opts)))
    out = []
    for name, want in case.expect.items():
        if name not in values:
            close = difflib.get_close_matches(str(name), sorted(values), n=2)
            raise InputError(f"{case.where}: unknown value name {name!r}"
                             + (f" (did you mean {' or '.join(close)}?)" if close else "")
                             + "; see 'xstatecalc sizes --explain' or the README for the names")
        got = values[name]
        out.append({"case": case.name, "name": name, "expected": want, "actual": got, "ok": _same(want, got)})
    return out
