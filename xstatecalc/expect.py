"""`verify`: expectations files for CI.

An expectations file is YAML: one case, or a list of cases, each naming a CPU,
a kernel, options, and the values that must hold, by the dotted names of
:func:`xstatecalc.report.flat_values` (``kernel.max.size``, ``abi.sigframe_min``)::

    - cpu: sapphire-rapids
      kernel: "6.18"
      options: {disable: [clearcpuid=enqcmd], ia32_emulation: true}
      expect:
        guest.default.size: 2560
        kernel.max.features: 0x61ae7

Every problem is one message naming the file, the key and the line.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError, ProfileError
from .inputs import read_text

MAX_EXPECT_BYTES = 1024 * 1024
MAX_CASES = 10000
_CASE_KEYS = {"name", "cpu", "kernel", "options", "expect"}
_OPTION_KEYS = {"disable", "ia32_emulation", "arch"}


@dataclass
class Case:
    name: str
    cpu: str
    kernel: str | None
    options: dict
    expect: dict
    where: str  # "file:line" of the case, for messages
    lines: dict  # value name -> "file:line"


def _close(word, choices):
    import difflib

    return difflib.get_close_matches(str(word), sorted(choices), n=1)


def load(path: str) -> list[Case]:
    """Read and validate an expectations file (exit 2 on any problem, naming file, key and line)."""
    from .options import make_options
    from .profile import parse_yaml

    text = read_text(path, limit=MAX_EXPECT_BYTES, what="expectations file")
    source = "<stdin>" if path == "-" else str(path)
    data, doc = parse_yaml(text, source)
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ProfileError(source, "", "no cases: expected a list of cases with cpu, kernel and expect")
    if len(items) > MAX_CASES:
        raise ProfileError(source, "", f"more than {MAX_CASES} cases")
    cases = []
    for i, item in enumerate(items):
        where = f"[{i}]" if isinstance(data, list) else ""

        def fail(key, problem, _w=where):
            full = f"{_w}.{key}" if _w and key else (_w or key)
            raise ProfileError(source, full, problem, doc.lines.get(full) or doc.lines.get(_w))

        if not isinstance(item, dict):
            fail("", "each case is a mapping with cpu, kernel, options and expect")
        for k in item:
            if k not in _CASE_KEYS:
                close = _close(k, _CASE_KEYS)
                fail(str(k), f"unknown key {_token(k)}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        if not isinstance(item.get("cpu"), str) or not item["cpu"].strip():
            fail("cpu", "missing or not a string: the CPU name, alias or profile path")
        kernel = item.get("kernel")
        if kernel is not None and not isinstance(kernel, str):
            fail("kernel", f"expected a version string such as 6.1 or 6.1.134, got {type(kernel).__name__} "
                           f"{_token(kernel)}")
        opts = item.get("options") or {}
        if not isinstance(opts, dict):
            fail("options", "expected a mapping (disable, ia32_emulation, arch)")
        for k in opts:
            if k not in _OPTION_KEYS:
                fail(f"options.{k}", f"unknown option {_token(k)}; known: {', '.join(sorted(_OPTION_KEYS))}")
        words = opts.get("disable") or []
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            fail("options.disable", "expected a list of switches such as [nopku, clearcpuid=avx512f]")
        if "arch" in opts and opts["arch"] not in ("x86_64", "i386"):
            fail("options.arch", f"expected x86_64 or i386, got {_token(opts['arch'])}")
        if "ia32_emulation" in opts and not isinstance(opts["ia32_emulation"], bool):
            fail("options.ia32_emulation", f"expected true or false, got {_token(opts['ia32_emulation'])}")
        try:
            make_options(words, arch=opts.get("arch", "x86_64"), ia32_emulation=opts.get("ia32_emulation", True))
        except ValueError as e:
            fail("options.disable", str(e))
        expect = item.get("expect")
        if not isinstance(expect, dict) or not expect:
            fail("expect", "missing or empty: a mapping of dotted value names to expected values")
        name = item.get("name") or f"{item['cpu']}@{kernel or 'newest'}"
        if not isinstance(name, str):
            fail("name", "expected a string")
        lines = {k: f"{source}:{doc.lines.get(f'{where}.expect.{k}' if where else f'expect.{k}', '?')}"
                 for k in expect}
        case_line = doc.lines.get(where) or doc.lines.get(f"{where}.cpu" if where else "cpu")
        cases.append(Case(name, item["cpu"], kernel, opts, expect, f"{source}:{case_line}", lines))
    return cases


def _compare(name: str, expected, actual) -> tuple[bool, str | None]:
    """(ok, problem): *problem* explains an expectation of the wrong kind (exit 2, not a mismatch)."""
    if isinstance(actual, bool):
        if not isinstance(expected, bool):
            return False, f"{name} is true or false, got {_token(expected)}"
        return expected is actual, None
    if actual is None:
        return expected is None, None if expected is None or isinstance(expected, int) else \
            f"{name} is a number or null, got {_token(expected)}"
    if isinstance(expected, int) and not isinstance(expected, bool) and expected < 0:
        return False, f"{name}: {expected} is negative; sizes and masks are unsigned"
    if isinstance(actual, str) and actual.startswith("0x"):  # masks
        if isinstance(expected, bool) or not isinstance(expected, (int, str)):
            return False, f"{name} is a mask: write it as 0x hex, got {_token(expected)}"
        if isinstance(expected, str):
            from .numbers import parse_int

            try:
                expected = parse_int(expected, what=name)
            except ValueError as e:
                return False, str(e)
        return expected == int(actual, 16), None
    if isinstance(actual, int):
        if isinstance(expected, str):
            from .numbers import parse_int

            try:
                parse_int(expected, what=name)
            except ValueError:
                return False, f"{name} is a number (ASCII decimal or 0x hex), got {_token(expected)}"
            return False, f"{name} is a number: write {expected} without quotes"
        if isinstance(expected, bool) or not isinstance(expected, int):
            return False, f"{name} is a number, got {_token(expected)}"
        return expected == actual, None
    if not isinstance(expected, str):
        return False, f"{name} is a word ({actual}), got {_token(expected)}"
    return expected == actual, None


def _token(value) -> str:
    from .yamltext import token

    return token(value)


def evaluate(case: Case, resolve_cpu=None) -> list[dict]:
    """One result per expected value: name, expected, actual, ok. *resolve_cpu* turns the case's cpu into a
    profile (default: built-in names and files; the command line adds 'host')."""
    from .fpu import boot
    from .kernels import resolve_kernel
    from .options import make_options
    from .profile import resolve
    from .report import flat_values, sizes_record

    words = case.options.get("disable") or []
    opts = make_options([words] if isinstance(words, str) else words, arch=case.options.get("arch", "x86_64"),
                        ia32_emulation=case.options.get("ia32_emulation", True))
    try:
        profile = (resolve_cpu or resolve)(case.cpu)
        kernel = resolve_kernel(case.kernel)
    except InputError as e:
        raise InputError(f"{case.where}: {e}") from None
    values = flat_values(sizes_record(boot(profile, kernel, opts)))
    out = []
    for name, want in case.expect.items():
        if name not in values:
            close = _close(name, values)
            raise InputError(f"{case.lines[name]}: unknown value name {_token(name)}"
                             + (f" (did you mean {close[0]}?)" if close else "")
                             + "; see 'xstatecalc sizes --explain' or the README for the names")
        ok, problem = _compare(name, want, values[name])
        if problem:
            raise InputError(f"{case.lines[name]}: {problem}")
        out.append({"case": case.name, "cpu": profile.name, "kernel": kernel.label, "model": kernel.model, "name": name,
                    "expected": want, "actual": values[name], "ok": ok})
    return out
