"""The user-space rules: how C libraries and runtimes size signal stacks (userspace_rules.yaml).

Loaded once, checked strictly (every key known, every formula parsed, every name it uses
provided), so that adding a runtime is adding a record. The numbers are computed in
:mod:`xstatecalc.libc` and :mod:`xstatecalc.sigstack`.
"""

from __future__ import annotations

import functools
import os

from .errors import InputError
from .formula import Formula, FormulaError
from .records import record

RULES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "userspace_rules.yaml")
LIBC_NAMES = ("glibc", "musl")
ENGINE_NAMES = {"AT", "EBX", "PAGE", "SC_MINSIGSTKSZ", "SC_SIGSTKSZ", "SIGSTKSZ", "MINSIGSTKSZ", "EMU_PAD"}
ON_REFUSED = {
    "abort": "the program aborts",
    "ignore": "it runs without an alternate stack: a stack overflow or a fault in its handler is a plain SIGSEGV",
    "fail-thread": "the thread (or OCaml domain) fails to start",
    "warn": "it logs a warning and runs without an alternate stack",
}
_LIBC_KEYS = {"versions", "sysconf", "sc_minsigstksz", "sc_sigstksz", "dynamic_sigstksz", "dynamic_minsigstksz",
              "minsigstksz", "sigstksz", "pthread_stack_min", "dynamic_pthread_stack_min", "sigaltstack_min", "ldso",
              "evidence", "status"}
_RUNTIME_KEYS = {"name", "era", "title", "versions", "size", "constants", "macros", "guard", "guard_outside", "page_multiple",
                 "on_refused", "source", "status", "notes", "reports"}
_LDSO_KEYS = {"register_area", "lazy_mask", "tlsdesc_mask", "evidence"}


def _version(text, where: str) -> tuple:
    parts = str(text).split(".")
    if len(parts) > 4 or not all(p.isascii() and p.isdigit() and len(p) < 6 for p in parts):
        raise InputError(f"{where}: {text!r} is not a version like 2.39")
    return tuple(int(p) for p in parts)


@record
class LibcEra:
    """One C library over a range of versions."""

    name: str
    first: tuple
    last: tuple | None  # None: up to the newest
    rules: dict  # the YAML record, formulas parsed

    @property
    def label(self) -> str:
        first = ".".join(map(str, self.first))
        return f"{self.name} {first}+" if self.last is None else \
            f"{self.name} {first}-{'.'.join(map(str, self.last))}"


@record
class Runtime:
    """A program's alternate signal stack rule."""

    name: str
    era: str  # short label when the runtime has several rules ("<29.1"); "" otherwise
    title: str
    versions: str
    size: Formula
    constants: dict
    macros: str  # dynamic | constant
    guard: int
    page_multiple: bool
    on_refused: str
    source: str
    status: str
    notes: str
    reports: tuple


@record
class Rules:
    libcs: dict  # name -> [LibcEra], oldest first
    ldso: dict  # era -> {register_area, lazy_mask, tlsdesc_mask, evidence}
    constants: dict  # arch -> {name: value}
    runtimes: tuple


def _formula(value, where: str, known: set) -> Formula:
    try:
        f = Formula(value)
    except FormulaError as e:
        raise InputError(f"{RULES_FILE}: {where}: {e}") from None
    unknown = f.names - known
    if unknown:
        raise InputError(f"{RULES_FILE}: {where}: unknown name(s) {', '.join(sorted(unknown))}")
    return f


def _check_keys(data, allowed: set, where: str) -> None:
    if not isinstance(data, dict):
        raise InputError(f"{RULES_FILE}: {where}: expected a mapping")
    extra = set(data) - allowed
    if extra:
        raise InputError(f"{RULES_FILE}: {where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")


@functools.lru_cache(maxsize=None)
def rules() -> Rules:
    """The parsed and checked rules file (cached)."""
    import yaml

    with open(RULES_FILE, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    _check_keys(data, {"libcs", "ldso", "constants", "runtimes"}, "top level")
    constants = {arch: dict(v) for arch, v in data["constants"].items()}
    known = ENGINE_NAMES | {k for v in constants.values() for k in v}
    libcs: dict = {}
    for name, eras in data["libcs"].items():
        if name not in LIBC_NAMES:
            raise InputError(f"{RULES_FILE}: libcs: unknown C library {name!r}")
        out = []
        for i, era in enumerate(eras):
            where = f"libcs.{name}[{i}]"
            _check_keys(era, _LIBC_KEYS, where)
            first, last = era["versions"]
            parsed = {}
            for key, value in era.items():
                if key in ("sc_minsigstksz", "sc_sigstksz", "dynamic_sigstksz", "dynamic_minsigstksz",
                           "dynamic_pthread_stack_min", "sigaltstack_min"):
                    parsed[key] = _formula(value, f"{where}.{key}", known)
                else:
                    parsed[key] = value
            if parsed.get("ldso") is not None and str(parsed["ldso"]) not in data["ldso"]:
                raise InputError(f"{RULES_FILE}: {where}.ldso: no ldso era {parsed['ldso']!r}")
            out.append(LibcEra(name, _version(first, f"{RULES_FILE}: {where}"),
                               None if last is None else _version(last, f"{RULES_FILE}: {where}"),
                               parsed))
        libcs[name] = out
    for era, facts in data["ldso"].items():
        _check_keys(facts, _LDSO_KEYS, f"ldso.{era}")
    runtimes = []
    for i, r in enumerate(data["runtimes"]):
        where = f"runtimes[{i}]"
        _check_keys(r, _RUNTIME_KEYS, where)
        consts = dict(r.get("constants") or {})
        if r.get("on_refused") not in ON_REFUSED:
            raise InputError(f"{RULES_FILE}: {where}.on_refused: expected one of {', '.join(ON_REFUSED)}")
        if r.get("macros") not in ("dynamic", "constant"):
            raise InputError(f"{RULES_FILE}: {where}.macros: expected dynamic or constant")
        runtimes.append(Runtime(str(r["name"]), str(r.get("era", "")), str(r["title"]), str(r["versions"]),
                                _formula(r["size"], f"{where}.size", known | set(consts)), consts, r["macros"],
                                int(r.get("guard", 0)), bool(r.get("page_multiple", False)), r["on_refused"],
                                str(r["source"]), str(r["status"]), str(r.get("notes", "")),
                                tuple(r.get("reports") or ())))
    return Rules(libcs, dict(data["ldso"]), constants, tuple(runtimes))


@record
class LibcChoice:
    """The C library asked for: its era of rules, and the version named (None: the newest modelled)."""

    era: LibcEra
    version: tuple | None

    @property
    def label(self) -> str:
        if self.version is None:
            return f"{self.era.name} {'.'.join(map(str, self.era.first))}+ (newest modelled)"
        return f"{self.era.name} {'.'.join(map(str, self.version))}"


_LIBC_VERSION_PARTS = {"glibc": (2,), "musl": (2, 3)}  # glibc makes no point releases; musl is X.Y.Z


def parse_libc(spec: str | None) -> LibcChoice:
    """'glibc' (the newest modelled), 'glibc-2.39', 'glibc 2.39', 'musl-1.2.5', 'musl'."""
    text = (spec or "glibc").strip().lower()
    name, _, version = text.replace(" ", "-").partition("-")
    where = f"--libc {spec!r}"
    if name not in LIBC_NAMES:
        raise InputError(f"{where}: expected glibc or musl, optionally with a version (glibc-2.39, musl-1.2.5)")
    eras = rules().libcs[name]
    if not version:
        return LibcChoice(eras[-1], None)
    parts = version.split(".")
    if len(parts) not in _LIBC_VERSION_PARTS[name] or not all(p.isascii() and p.isdigit() and len(p) < 6
                                                                and (p == "0" or p[0] != "0") for p in parts):
        shape = "MAJOR.MINOR, like glibc-2.39 (glibc makes no point releases)" if name == "glibc" else \
            "MAJOR.MINOR.PATCH, like musl-1.2.5"
        raise InputError(f"{where}: {name} versions are {shape}")
    v = tuple(int(p) for p in parts) + (0,) * (3 - len(parts))
    for era in eras:
        first, last = (x + (0,) * (3 - len(x)) for x in (era.first, era.last or era.first))
        if first <= v and (era.last is None or v <= last):
            return LibcChoice(era, tuple(int(p) for p in parts))
    raise InputError(f"{where}: xstatecalc models {name} from {'.'.join(map(str, eras[0].first))}")


def find_runtimes(words) -> list[Runtime]:
    """Runtimes by name ('erlang' gives every era of Erlang); all of them for no words."""
    known = rules().runtimes
    if not words:
        return list(known)
    out = []
    for word in words:
        for part in str(word).split(","):
            part = part.strip().lower()
            hits = [r for r in known if r.name == part]
            if not hits:
                names = sorted({r.name for r in known})
                raise InputError(f"--runtime {part!r}: known runtimes are {', '.join(names)}")
            out += [r for r in hits if r not in out]
    return out
