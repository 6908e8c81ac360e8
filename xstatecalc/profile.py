"""CPU profiles: CPUID leaf 0xD plus the CPU flags the kernel looks at.

A profile is YAML (see docs/profiles.md). Loading is strict: unknown keys,
wrong types, impossible sizes and overlapping user components are errors that
name the file, the key and the line.
"""

from __future__ import annotations

import os

from . import components as C
from .errors import ProfileError, UnknownCpuError
from .records import record
from .yamltext import clip, token

# CPU flags (the kernel's X86_FEATURE_* names) that decide which xfeatures Linux enables.
KNOWN_FLAGS = frozenset(
    """FPU FXSR XMM AVX XSAVE XSAVEOPT XSAVEC XSAVES XGETBV1 XFD MPX AVX512F INTEL_PT PKU
    SHSTK IBT ENQCMD AMX_TILE APX ARCH_LBR UINTR HYPERVISOR""".split()
)
VENDORS = ("intel", "amd", "hygon", "zhaoxin", "other")
MAX_PROFILE_BYTES = 1024 * 1024
MAX_NESTING = 32

_TOP_KEYS = {
    "name", "aliases", "vendor", "description", "source", "family", "model",
    "hypothetical", "flags", "xcr0_supported", "xss_supported", "components", "reported", "notes",
}
_COMP_KEYS = {"size", "offset", "supervisor", "align64", "xfd", "name"}
_REPORTED_KEYS = {"xcr0_size", "xcr0_max_size", "compacted_size", "xcr0", "xss", "compacted_fixed"}
MAX_NAME = 64


@record
class Component:
    """One CPUID(0xD, nr) sub-leaf: EAX size, EBX standard offset, ECX flags."""

    nr: int
    size: int
    offset: int = 0
    supervisor: bool = False
    align64: bool = False
    xfd: bool = False

    @property
    def ecx(self) -> int:
        return int(self.supervisor) | int(self.align64) << 1 | int(self.xfd) << 2


@record
class Reported:
    """Sizes the hardware reported in the dump, for self-checks (not used to compute)."""

    xcr0_size: int | None = None  # CPUID(0xD,0).EBX for the XCR0 in effect when dumped
    xcr0_max_size: int | None = None  # CPUID(0xD,0).ECX
    compacted_size: int | None = None  # CPUID(0xD,1).EBX for XCR0|IA32_XSS in effect
    xcr0: int | None = None  # XCR0 in effect, where known
    xss: int | None = None  # IA32_XSS in effect, where known
    compacted_fixed: bool | None = None  # 0xD.1 EBX fits no IA32_XSS: the CPU reports it whatever XSS is


@record
class Profile:
    name: str
    vendor: str
    flags: frozenset[str]
    xcr0_supported: int
    xss_supported: int
    components: dict[int, Component]
    aliases: tuple[str, ...] = ()
    description: str = ""
    source: str = ""
    family: int | None = None
    model: int | None = None
    hypothetical: bool = False
    reported: Reported = Reported()
    notes: tuple[str, ...] = ()
    path: str = ""

    @property
    def supported(self) -> int:
        return self.xcr0_supported | self.xss_supported

    def has(self, flag: str) -> bool:
        return flag in self.flags


def _is_name(name: str) -> bool:
    return (0 < len(name) <= MAX_NAME and name[0].isascii() and name[0].isalnum()
            and all(ch.isascii() and (ch.isalnum() or ch in "._+-") for ch in name))


def _close(word, choices, n=1, cutoff=0.6):
    """difflib's suggestions, imported only when a message needs them."""
    import difflib

    return difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)


# --------------------------------------------------------------------------------------
# YAML -> plain values, keeping line numbers and refusing what a profile never needs.

class _Doc:
    """Plain values built from a YAML node tree, with the line of every path."""

    def __init__(self, source: str):
        self.source = source
        self.lines: dict[str, int] = {}

    def fail(self, where: str, problem: str):
        raise ProfileError(self.source, where, problem, self.lines.get(where))

    def build(self, node, path: str = "", depth: int = 0, seen=None):
        import yaml

        seen = set() if seen is None else seen
        if id(node) in seen:
            self.fail(path, "YAML aliases/anchors are not allowed in profiles")
        seen.add(id(node))
        if depth > MAX_NESTING:
            self.fail(path, f"nested deeper than {MAX_NESTING} levels")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out = {}
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode):
                    raise ProfileError(self.source, path, "mapping keys must be plain scalars", knode.start_mark.line + 1)
                k = self.scalar(knode, path)
                kpath = f"{path}.{k}" if path else str(k)
                self.lines[kpath] = knode.start_mark.line + 1
                if k in out or str(k) in {str(x) for x in out}:
                    self.fail(kpath, "duplicate key")
                out[k] = self.build(vnode, kpath, depth + 1, seen)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, f"{path}[{i}]", depth + 1, seen) for i, v in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node, path: str):
        try:
            v = _scalar(node)
        except ValueError as e:
            raise ProfileError(self.source, path, str(e), node.start_mark.line + 1) from None
        if isinstance(v, str) and any(not ch.isprintable() for ch in v):
            raise ProfileError(self.source, path, "contains control or format characters (an escape sequence?)",
                               node.start_mark.line + 1)
        return v


def _scalar(node):
    """YAML scalars resolved by hand, so that nothing but str/int/bool/None appears and numbers are strict:
    decimal without a leading zero, or 0x hex; no underscores, octal or binary (is 0256 octal?)."""
    if node.tag.endswith(":str") or node.style in ("'", '"'):
        return node.value
    v = node.value
    if node.tag.endswith(":null") or v in ("", "~", "null", "Null", "NULL"):
        return None
    if v in ("true", "True", "TRUE", "yes", "Yes", "on", "On"):
        return True
    if v in ("false", "False", "FALSE", "no", "No", "off", "Off"):
        return False
    return _number_or_text(v)


_DIGITS = frozenset("0123456789")


def _number_or_text(v: str):
    body = v[1:] if v[:1] in "+-" else v
    if not body or body[0] not in _DIGITS:
        return v
    low = body.lower()
    if set(body) <= _DIGITS or low.startswith(("0x", "0o", "0b")) or "_" in body:
        from .numbers import parse_int

        if v[0] == "+":
            raise ValueError(f"{v[:30]!r}: write numbers without a sign")
        if low.startswith(("0o", "0b")) or "_" in body:
            raise ValueError(f"{v[:30]!r}: write numbers as decimal or 0x hex (no underscores, octal or binary)")
        value = parse_int(body, what="number", bits=64)
        return -value if v[0] == "-" else value
    return v


def parse_yaml(text: str, source: str):
    """Parse one YAML document into plain values plus a path->line map."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    _check_flow_depth(text, source)
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = clip(getattr(e, "problem", None) or str(e).splitlines()[0], 80)
        raise ProfileError(source, "", f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    doc = _Doc(source)
    if node is None:
        raise ProfileError(source, "", "empty document")
    return doc.build(node), doc


def _check_flow_depth(text: str, source: str) -> None:
    # The composer recurses per nesting level; refuse absurd flow nesting before it does. Brackets inside
    # quoted strings and comments do not nest.
    depth, quote = 0, None
    for lineno, line in enumerate(text.splitlines(), 1):
        prev = " "
        i = 0
        while i < len(line):
            ch = line[i]
            if quote == '"':
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    quote = None
            elif quote == "'":
                if ch == "'":
                    quote = None
            elif ch == "#" and prev in " \t":
                break
            elif ch in "\"'" and prev in " \t[{,:":
                quote = ch
            elif ch in "[{":
                depth += 1
                if depth > MAX_NESTING:
                    raise ProfileError(source, "", f"flow collections nested deeper than {MAX_NESTING} levels",
                                       lineno)
            elif ch in "]}":
                depth = max(0, depth - 1)
            prev = ch
            i += 1


# --------------------------------------------------------------------------------------
# Validation

def _want(doc: _Doc, data, key: str, typ, path: str, *, required=False, default=None):
    full = f"{path}.{key}" if path else key
    if key not in data or data[key] is None:
        if required:
            doc.fail(path or key, f"missing required key {key!r}")
        return default
    v = data[key]
    if typ is int:
        if isinstance(v, str) and v.strip()[:1] in _DIGITS:
            try:
                v = _number_or_text(v.strip())
            except ValueError as e:
                doc.fail(full, str(e))
        if isinstance(v, bool) or not isinstance(v, int):
            doc.fail(full, f"expected an integer, got {type(v).__name__} {token(v)}")
        if v < 0:
            doc.fail(full, f"must not be negative (got {v})")
        if v >= 1 << 64:
            doc.fail(full, f"{v:#x} does not fit in 64 bits")
        return v
    if typ is bool and not isinstance(v, bool):
        doc.fail(full, f"expected true or false, got {token(v)}")
    if typ is str and not isinstance(v, str):
        doc.fail(full, f"expected a string, got {type(v).__name__}")
    if typ is list and not isinstance(v, list):
        doc.fail(full, f"expected a list, got {type(v).__name__}")
    if typ is dict and not isinstance(v, dict):
        doc.fail(full, f"expected a mapping, got {type(v).__name__}")
    return v


def _unknown_keys(doc: _Doc, data: dict, allowed: set, path: str) -> None:
    for k in data:
        if k not in allowed:
            full = f"{path}.{k}" if path else str(k)
            close = _close(str(k), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            doc.fail(full, f"unknown key {token(k)}{hint}")


def profile_from_data(data, doc: _Doc, path: str = "") -> Profile:
    """Validate parsed YAML values and build a :class:`Profile`."""
    if not isinstance(data, dict):
        doc.fail("", "a profile must be a mapping of keys to values")
    _unknown_keys(doc, data, _TOP_KEYS, "")
    name = _want(doc, data, "name", str, "", required=True).strip()
    if not _is_name(name):
        doc.fail("name", f"name {name[:40]!r} may hold only up to {MAX_NAME} letters, digits and . _ + -, "
                         "starting with a letter or digit")
    aliases = _want(doc, data, "aliases", list, "", default=[])
    for i, a in enumerate(aliases):
        if not isinstance(a, str) or not _is_name(a.strip()):
            doc.fail(f"aliases[{i}]", f"aliases are names too: up to {MAX_NAME} letters, digits and . _ + -")
    for key, limit in (("description", 300), ("source", 1000)):
        if isinstance(data.get(key), str) and len(data[key]) > limit:
            doc.fail(key, f"longer than {limit} characters")
    vendor = _want(doc, data, "vendor", str, "", required=True).lower()
    if vendor not in VENDORS:
        doc.fail("vendor", f"vendor must be one of {', '.join(VENDORS)}")
    flags_raw = _want(doc, data, "flags", list, "", required=True)
    flags = set()
    for i, f in enumerate(flags_raw):
        if not isinstance(f, str):
            doc.fail(f"flags[{i}]", "flags are names like AVX or XSAVES")
        fu = f.upper()
        if fu not in KNOWN_FLAGS:
            close = _close(fu, sorted(KNOWN_FLAGS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            doc.fail(f"flags[{i}]", f"unknown CPU flag {token(f)}{hint}; known: {' '.join(sorted(KNOWN_FLAGS))}")
        flags.add(fu)
    xcr0 = _want(doc, data, "xcr0_supported", int, "", required=True)
    xss = _want(doc, data, "xss_supported", int, "", default=0)
    if xss & C.MASK_FPSSE:
        doc.fail("xss_supported", "x87 and SSE (bits 0, 1) are XCR0 components, never supervisor (IA32_XSS) state")
    for key, m in (("xcr0_supported", xcr0), ("xss_supported", xss)):
        if m >> 63 & 1:
            doc.fail(key, "bit 63 is reserved (XCR0 bit 63 extends the register)")
    if xcr0 & xss:
        doc.fail("xss_supported", f"components {C.names(xcr0 & xss)} are in both xcr0_supported and xss_supported")
    comps_raw = _want(doc, data, "components", dict, "", default={})
    comps: dict[int, Component] = {}
    notes = list(_want(doc, data, "notes", list, "", default=[]))
    for k, v in comps_raw.items():
        where = f"components.{k}"
        if isinstance(k, str) and k.strip().isascii() and k.strip().isdigit() and len(k.strip()) <= 2:
            k = int(k)
        if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= 62:
            doc.fail(where, "component keys are numbers 2..62 (x87 and SSE are fixed and not listed)")
        if k in comps:
            doc.fail(where, f"component {k} is listed twice")
        if not isinstance(v, dict):
            doc.fail(where, "expected a mapping with size/offset/supervisor/align64/xfd")
        _unknown_keys(doc, v, _COMP_KEYS, where)
        size = _want(doc, v, "size", int, where, required=True)
        if size == 0:
            doc.fail(f"{where}.size", "size 0: a component the CPU does not support is simply not listed")
        if size > 1 << 20:
            doc.fail(f"{where}.size", f"size {size} is implausibly large (more than 1 MiB)")
        sup = _want(doc, v, "supervisor", bool, where, default=False)
        in_xcr0, in_xss = bool(xcr0 >> k & 1), bool(xss >> k & 1)
        if not in_xcr0 and not in_xss:
            doc.fail(where, f"component {k} ({C.key(k)}) is in neither xcr0_supported nor xss_supported")
        if sup != in_xss:
            side = "xss_supported" if in_xss else "xcr0_supported"
            doc.fail(f"{where}.supervisor", f"supervisor is {str(sup).lower()} but the component is in {side}")
        off = _want(doc, v, "offset", int, where, default=0)
        if not sup and off < C.XSAVE_HDR_END:
            doc.fail(f"{where}.offset", f"user component needs a standard offset >= {C.XSAVE_HDR_END} (got {off})")
        if off + size > 1 << 24:
            doc.fail(f"{where}.offset", "offset + size is beyond 16 MiB")
        comps[k] = Component(k, size, off, sup,
                             _want(doc, v, "align64", bool, where, default=False),
                             _want(doc, v, "xfd", bool, where, default=False))
    for nr in C.bits((xcr0 | xss) & ~C.MASK_FPSSE):
        if nr not in comps:
            doc.fail("components", f"component {nr} ({C.key(nr)}) is in the supported masks but has no entry")
    _check_overlaps(doc, comps)
    rep = _want(doc, data, "reported", dict, "", default={})
    _unknown_keys(doc, rep, _REPORTED_KEYS, "reported")
    reported = Reported(**{k: _want(doc, rep, k, bool if k == "compacted_fixed" else int, "reported")
                           for k in _REPORTED_KEYS})
    return Profile(
        name=name,
        vendor=vendor,
        flags=frozenset(flags),
        xcr0_supported=xcr0,
        xss_supported=xss,
        components=dict(sorted(comps.items())),
        aliases=tuple(a.strip() for a in aliases),
        description=_want(doc, data, "description", str, "", default=""),
        source=_want(doc, data, "source", str, "", default=""),
        family=_want(doc, data, "family", int, "", default=None),
        model=_want(doc, data, "model", int, "", default=None),
        hypothetical=_want(doc, data, "hypothetical", bool, "", default=False),
        reported=reported,
        notes=tuple(str(n) for n in notes),
        path=path,
    )


def _check_overlaps(doc: _Doc, comps: dict[int, Component]) -> None:
    # Two user components may not share bytes of the standard-format buffer.
    user = sorted((c for c in comps.values() if not c.supervisor), key=lambda c: c.offset)
    for a, b in zip(user, user[1:]):
        if b.offset < a.offset + a.size:
            doc.fail(f"components.{b.nr}.offset",
                     f"component {b.nr} ({C.key(b.nr)}) at {b.offset} overlaps component {a.nr} "
                     f"({C.key(a.nr)}) at {a.offset}..{a.offset + a.size} in the standard format")


def load_profile(path: str | os.PathLike) -> Profile:
    """Load and validate one profile file."""
    from .inputs import read_text

    text = read_text(path, limit=MAX_PROFILE_BYTES, what="profile")
    return loads_profile(text, str(path))


def loads_profile(text: str, source: str = "<profile>") -> Profile:
    data, doc = parse_yaml(text, source)
    return profile_from_data(data, doc, source)


# --------------------------------------------------------------------------------------
# Built-in profiles

def profiles_dir() -> str:
    """Where the built-in profiles live: inside the installed package, or the checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "profiles")
    return packaged if os.path.isdir(packaged) else os.path.join(os.path.dirname(here), "profiles")


def builtin_index() -> dict[str, str]:
    """Map every built-in name and alias (lower case) to its profile name.

    From builtin_profiles.py, compiled from profiles/*.yaml by tools/compile_profiles.py (the YAML is the
    source; a test proves they agree), so that a built-in CPU costs no YAML parsing at start-up.
    """
    from .builtin_profiles import INDEX

    return INDEX


def builtin_names() -> list[str]:
    return sorted(set(builtin_index().values()))


def builtin_profile(name: str) -> Profile:
    """A built-in profile by its canonical name, validated like a file would be."""
    from .builtin_profiles import DATA

    source = os.path.join(profiles_dir(), f"{name}.yaml")
    return profile_from_data(DATA[name], _Doc(source), source)


_LOADED: dict[str, Profile] = {}


def resolve(spec: str) -> Profile:
    """A profile from a built-in name, an alias or a path to a profile file.

    'host' (this machine) is resolved above the engine, by the command line (xstatecalc.host).
    """
    if spec in _LOADED:
        return _LOADED[spec]
    idx = builtin_index()
    key = spec.strip().lower()
    if key in idx:
        prof = builtin_profile(idx[key])
    elif key.split(":", 1)[0].split("-", 1)[0] in ("qemu", "firecracker", "libvirt") and ":" in key:
        from .vcpu import guest_profile

        prof = guest_profile(spec)
    elif "/" in spec or spec.endswith((".yaml", ".yml")) or os.path.isfile(spec):
        prof = load_profile(spec)
    else:
        raise UnknownCpuError(spec, _close(key, sorted(idx), n=3, cutoff=0.5))
    _LOADED[spec] = prof
    return prof


def all_builtin() -> list[Profile]:
    return [resolve(n) for n in builtin_names()]


def profile_text(p: Profile, comments=()) -> str:
    """*p* as a profile file (YAML), which loads back to the same profile."""
    from .yamltext import quote

    lines = [f"# {c}" for c in comments] + [
        f"name: {p.name}", f"vendor: {p.vendor}", f"description: {quote(p.description)}", f"source: {quote(p.source)}"]
    if p.family is not None:
        lines.append(f"family: {p.family:#x}")
    if p.model is not None:
        lines.append(f"model: {p.model:#x}")
    lines += [f"flags: [{', '.join(sorted(p.flags))}]", f"xcr0_supported: {p.xcr0_supported:#x}",
              f"xss_supported: {p.xss_supported:#x}", "components:" + ("" if p.components else " {}")]
    for n, c in sorted(p.components.items()):
        parts = [f"size: {c.size}"] + ([f"offset: {c.offset}"] if not c.supervisor else [])
        parts += [f"{k}: true" for k in ("supervisor", "align64", "xfd") if getattr(c, k)]
        lines.append(f"  {n}: {{{', '.join(parts)}}}   # {C.key(n)}")
    text = "\n".join(lines) + "\n"
    loads_profile(text, p.name)  # what is written must load back
    return text
