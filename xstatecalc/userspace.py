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
# A buffer's formulas may also name the XSAVE image of the frame (sw_reserved.extended_size): XSTATE for the
# process judged (without AMX, then with every permitted feature in use), XSTATE_AT_INIT as a signal the
# program sends itself at start-up sees it (no permission asked yet).
BUFFER_NAMES = {"XSTATE", "XSTATE_AT_INIT"}
# What a program does when sigaltstack() or the stack's allocation fails (on_refused, on_alloc_failure).
ON_REFUSED = {
    "abort": "the program aborts",
    "abort-at-start": "the program aborts at start-up",
    "ignore": "it runs without an alternate stack: a stack overflow or a fault in its handler is a plain SIGSEGV",
    "fail-thread": "the thread fails to start",
    "fail-init": "its set-up returns an error and no crash handler is installed",
    "warn": "it logs a warning and runs without an alternate stack",
}
# Where the frame lands, and so how a record is judged (sigstack.runtime_stack):
#   altstack  the runtime's alternate signal stack of `size` bytes (the kernel's and the C library's checks)
#   below-sp  below the interrupted SP, in `size` bytes the runtime keeps free there (none: nothing kept);
#             `below` says what is past them: guard (PROT_NONE) or memory (ordinary memory)
#   buffer    a fixed buffer of `size` bytes that must hold `need` (the runtime copies state into it)
KINDS = ("altstack", "below-sp", "buffer")
_KIND_KEYS = {"altstack": {"size", "macros", "guard", "guard_outside", "page_multiple", "on_refused",
                           "on_alloc_failure"},
              "below-sp": {"size", "below", "on_overflow"},
              "buffer": {"size", "need", "macros", "on_overflow"}}
_COMMON_KEYS = {"name", "era", "kind", "title", "versions", "constants", "source", "status", "notes", "reports"}
_LIBC_KEYS = {"versions", "sysconf", "sc_minsigstksz", "sc_sigstksz", "dynamic_sigstksz", "dynamic_minsigstksz",
              "minsigstksz", "sigstksz", "pthread_stack_min", "dynamic_pthread_stack_min", "sigaltstack_min", "ldso",
              "evidence", "status"}
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
    """A program's rule for the place its signal frames land: an alternate stack, room below SP, a buffer."""

    name: str
    era: str  # short label telling a runtime's records apart ("<29.1", "copy 7.1+"); "" when it has one
    title: str
    versions: str
    size: Formula | None  # the stack, the room below SP or the buffer; None: nothing is kept (below-sp)
    constants: dict
    macros: str  # dynamic | constant
    guard: int
    page_multiple: bool
    on_refused: str
    source: str
    status: str
    notes: str
    reports: tuple
    kind: str = "altstack"
    below: str = ""  # below-sp: guard | memory
    need: Formula | None = None  # buffer: what it must hold
    on_alloc_failure: str = ""  # altstack with page_multiple: what a failed allocation does (ON_REFUSED)
    on_overflow: str = ""  # below-sp, buffer: what the program does when it does not hold the frame


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
    runtimes = tuple(_runtime(r, f"runtimes[{i}]", known) for i, r in enumerate(data["runtimes"]))
    return Rules(libcs, dict(data["ldso"]), constants, runtimes)


def _runtime(r, where: str, known: set) -> Runtime:
    """One runtime record, its keys checked against its kind and its formulas parsed."""
    _check_keys(r, set(r) if isinstance(r, dict) else set(), where)  # a mapping, before its kind is read
    kind = r.get("kind", "altstack")
    if kind not in KINDS:
        raise InputError(f"{RULES_FILE}: {where}.kind: expected one of {', '.join(KINDS)}")
    _check_keys(r, _COMMON_KEYS | _KIND_KEYS[kind], f"{where} ({kind})")
    for key in ("name", "title", "versions", "source", "status"):
        if not r.get(key):
            raise InputError(f"{RULES_FILE}: {where}.{key}: required")
    if r["status"] not in ("read", "reference"):
        raise InputError(f"{RULES_FILE}: {where}.status: expected read or reference")
    consts = dict(r.get("constants") or {})
    names = known | set(consts) | (BUFFER_NAMES if kind == "buffer" else set())

    def formula(key):
        return _formula(r[key], f"{where}.{key}", names) if key in r else None

    def choice(key, allowed, default=None):
        value = r.get(key, default)
        if value not in allowed:
            raise InputError(f"{RULES_FILE}: {where}.{key}: expected one of {', '.join(allowed)}")
        return value

    # How SIGSTKSZ/MINSIGSTKSZ reach the code matters for every stack; a buffer rarely names them.
    macros = choice("macros", ("dynamic", "constant"), None if kind == "altstack" else "constant")
    on_refused = on_alloc_failure = below = ""
    if kind == "altstack":
        on_refused = choice("on_refused", tuple(ON_REFUSED))
        if r.get("page_multiple") or "on_alloc_failure" in r:  # only a strict allocator fails on the size
            on_alloc_failure = choice("on_alloc_failure", tuple(ON_REFUSED))
    if kind == "below-sp" and "size" in r:
        below = choice("below", ("guard", "memory"))
    if kind != "below-sp" and "size" not in r:
        raise InputError(f"{RULES_FILE}: {where}.size: required")
    if kind == "buffer" and "need" not in r:
        raise InputError(f"{RULES_FILE}: {where}.need: required")
    return Runtime(str(r["name"]), str(r.get("era", "")), str(r["title"]), str(r["versions"]), formula("size"),
                   consts, macros, int(r.get("guard", 0)), bool(r.get("page_multiple", False)), on_refused,
                   str(r["source"]), str(r["status"]), str(r.get("notes", "")), tuple(r.get("reports") or ()),
                   kind, below, formula("need"), on_alloc_failure, str(r.get("on_overflow", "")))


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
