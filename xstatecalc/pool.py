"""A fleet at once: many hosts (CPUs, guests, dumps, inventories), each on its kernel, judged together.

Members that are the same machine (the same CPUID, kernel, build options and C library) form one class and
are booted once, whatever their count: a pool of 10,000 hosts of a dozen kinds costs a dozen boots. From the
classes, :func:`analyse` says what the pool shares (the XCR0 and IA32_XSS Linux enables on every member), the
largest size of every configuration and where it occurs, which members hold the pool back, and for each
consumer of XSAVE state (KVM live migration, a raw blob copy, rr, CRIU) whether state may move between any
two members, with the failing pairs grouped by reason.
"""

from __future__ import annotations

import hashlib
import os

from . import components as C
from .errors import InputError
from .records import record

MAX_MEMBERS = 1 << 20  # hosts, counts included
MAX_FILES = 100_000  # files read from directories and inventories
MAX_INVENTORY_BYTES = 64 * 1024 * 1024
INVENTORY_KEYS = ("name", "profile", "dump", "kernel", "libc", "count")


@record
class Member:
    """One line of a pool: a host (or a group of identical hosts) as the user named it."""

    name: str
    cpu: str  # anything --cpu accepts; a dump when *dump* is set
    kernel: str | None
    libc: str | None
    count: int
    dump: bool  # *cpu* is a CPUID dump, imported on the fly
    where: str  # the argument, or file:line of an inventory


@record
class Klass:
    """Members that are one machine: booted once."""

    label: str  # "profile@kernel", unique in the pool
    boot: object
    libc: object  # userspace.LibcChoice
    members: list  # member names
    count: int


# ------------------------------------------------------------------ reading members

def _looks_like_inventory(path: str) -> bool:
    if path.endswith(".csv"):
        return True
    if not path.endswith((".yaml", ".yml")):
        return False
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith(b"-") or head.startswith(b"hosts:")


def members_from(args, *, kernel: str | None = None, libc: str | None = None) -> list[Member]:
    """Members for the command line's HOST arguments: CPU spellings (each optionally @KERNEL), profile files,
    CPUID dumps, directories of profiles and dumps, and inventory files (YAML or CSV)."""
    from .vcpu import is_vcpu_spec

    out: list[Member] = []
    for arg in args:
        spec, at, kern = (arg, "", "")
        if "@" in arg and not os.path.exists(arg) and not is_vcpu_spec(arg):
            spec, at, kern = arg.rpartition("@")
            if not spec:
                raise InputError(f"{arg!r}: nothing before '@': name a CPU, a file or a directory")
        k = kern or kernel
        if spec == "all":  # as --cpu all: every built-in CPU
            from .profile import builtin_names

            out += [Member(n, n, k, libc, 1, False, arg) for n in builtin_names()]
        elif os.path.isdir(spec):
            out += _directory(spec, k, libc)
        elif os.path.isfile(spec) and _looks_like_inventory(spec):
            out += inventory(spec, kernel=k, libc=libc)
        elif os.path.isfile(spec) and not spec.endswith((".yaml", ".yml")):
            out.append(Member(spec, spec, k, libc, 1, True, arg))
        elif spec.endswith((".csv", ".yaml", ".yml", ".txt")) or os.sep in spec:
            raise InputError(f"{spec}: no such file or directory")
        else:
            out.append(Member(spec, spec, k, libc, 1, False, arg))
        if len(out) > MAX_FILES:
            raise InputError(f"more than {MAX_FILES} pool members from files: give an inventory with counts")
    if not out:
        raise InputError("an empty pool: name at least one host")
    return out


def _directory(path: str, kernel, libc) -> list[Member]:
    out = []
    names = sorted(os.listdir(path))
    if len(names) > MAX_FILES:
        raise InputError(f"{path}: more than {MAX_FILES} files")
    for name in names:
        full = os.path.join(path, name)
        if name.startswith(".") or not os.path.isfile(full):
            continue
        is_profile = name.endswith((".yaml", ".yml"))
        out.append(Member(name, full, kernel, libc, 1, not is_profile, full))
    if not out:
        raise InputError(f"{path}: no profile (.yaml) or CPUID dump in this directory")
    return out


def inventory(path: str, *, kernel: str | None = None, libc: str | None = None) -> list[Member]:
    """An inventory: a YAML list (or {hosts: [...]}) or a CSV with a header, each row name, profile or dump,
    kernel, libc, count. Paths are relative to the inventory's directory."""
    from .inputs import read_text

    text = read_text(path, limit=MAX_INVENTORY_BYTES, what="inventory")
    rows = _csv_rows(text, path) if path.endswith(".csv") else _yaml_rows(text, path)
    base = os.path.dirname(os.path.abspath(path))
    out = []
    for where, row in rows:
        unknown = sorted(set(row) - set(INVENTORY_KEYS))
        if unknown:
            raise InputError(f"{where}: unknown column {unknown[0][:40]!r}; an inventory has "
                             f"{', '.join(INVENTORY_KEYS)}")
        cpu, dump = row.get("profile"), row.get("dump")
        if bool(cpu) == bool(dump):
            raise InputError(f"{where}: give exactly one of 'profile' (a CPU name, profile file or vCPU) and "
                             "'dump' (a CPUID dump file)")
        count = row.get("count", 1)
        if isinstance(count, str):
            from .numbers import parse_int

            try:
                count = parse_int(count.strip(), what="count", bits=32)
            except ValueError as e:
                raise InputError(f"{where}: {e}") from None
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_MEMBERS:
            raise InputError(f"{where}: count must be a whole number from 1 to {MAX_MEMBERS}")
        target = str(dump or cpu)
        if dump or os.sep in target or target.endswith((".yaml", ".yml")):
            target = os.path.join(base, target)
        name = str(row.get("name") or (dump or cpu))
        out.append(Member(name, target, _opt_str(row.get("kernel")) or kernel, _opt_str(row.get("libc")) or libc,
                          count, bool(dump), where))
        if len(out) > MAX_FILES:
            raise InputError(f"{where}: more than {MAX_FILES} rows")
    if not out:
        raise InputError(f"{path}: an inventory without hosts")
    return out


def _opt_str(v):
    return None if v is None or v == "" else str(v)


def _yaml_rows(text: str, path: str):
    from .profile import parse_yaml

    data, doc = parse_yaml(text, path)
    if isinstance(data, dict) and set(data) == {"hosts"}:
        data, prefix = data["hosts"], "hosts"
    else:
        prefix = ""
    if not isinstance(data, list):
        raise InputError(f"{path}: an inventory is a list of hosts (name, profile or dump, kernel, libc, count)")
    out = []
    for i, row in enumerate(data):
        key = f"{prefix}[{i}]" if prefix else f"[{i}]"
        line = doc.lines.get(key)
        where = f"{path}:{line}" if line else f"{path} {key}"
        if not isinstance(row, dict):
            raise InputError(f"{where}: each host is a mapping (name, profile or dump, kernel, libc, count)")
        out.append((where, row))
    return out


def _csv_rows(text: str, path: str):
    import csv
    import io

    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{path}: an empty CSV; the first line names the columns "
                         f"({', '.join(INVENTORY_KEYS)})") from None
    except csv.Error as e:
        raise InputError(f"{path}:1: {e}") from None
    out = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path}:{reader.line_num}"
            if len(row) != len(header):
                raise InputError(f"{where}: {len(row)} cells for {len(header)} columns")
            out.append((where, {h: cell.strip() for h, cell in zip(header, row) if cell.strip() != ""}))
    except csv.Error as e:
        raise InputError(f"{path}:{reader.line_num}: {e}") from None
    return out


# ------------------------------------------------------------------ members to classes

class _Profiles:
    """Profiles for members: built-ins and files by name, dumps by content (identical dumps import once),
    and names kept distinct: two different CPUs never share a name in the pool."""

    def __init__(self, resolve_cpu):
        self.resolve_cpu = resolve_cpu
        self.by_digest: dict = {}
        self.by_spec: dict = {}
        self.names: dict = {}  # profile name -> the identity that has it
        self.renamed: list[str] = []

    def get(self, m: Member):
        if not m.dump:
            p = self.by_spec.get(m.cpu)
            if p is None:
                p = self.by_spec[m.cpu] = self._unique(self.resolve_cpu(m.cpu), ("spec", m.cpu), m.where)
            return p
        from .inputs import read_text

        digest = _digest(m.cpu)
        p = self.by_digest.get(digest)
        if p is None:
            from . import importers
            from .profile import loads_profile

            text = read_text(m.cpu, what="CPUID dump")  # decoded and checked only when new
            res = importers.to_profile(importers.parse(text, m.cpu))
            p = self.by_digest[digest] = self._unique(loads_profile(res.text, m.cpu), ("cpuid", _cpuid_key(res.text)),
                                                      m.where)
        return p

    def _unique(self, p, identity, where):
        owner = self.names.get(p.name)
        if owner is None or owner == identity:
            self.names[p.name] = identity
            return p
        # Two different CPUs with one name: keep both, distinctly named, and say so.
        name = distinct_name(p.name, self.names)
        self.names[name] = identity
        self.renamed.append(f"{where}: a different CPU also named {p.name!r}; called {name!r} here")
        return p._replace(name=name)


def distinct_name(name: str, taken) -> str:
    """NAME-2, NAME-3, ...: the first not in *taken*, for a different CPU whose brand string gave a taken name."""
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _digest(path: str):
    """The bytes of a file, hashed: dumps of identical machines are identical files, read and hashed but
    parsed once. None when the file cannot be read (read_text then says why)."""
    from .inputs import MAX_INPUT_BYTES

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
    except OSError:
        return None
    return hashlib.sha1(data, usedforsecurity=False).digest() + len(data).to_bytes(4, "little")


def _cpuid_key(profile_text: str) -> str:
    # What decides the numbers, without the comment and source lines that name the file.
    keep = [line for line in profile_text.splitlines() if not line.startswith(("#", "source:"))]
    return hashlib.sha256("\n".join(keep).encode()).hexdigest()


def classes(members: list[Member], options, resolve_cpu, resolve_kernel, default_libc=None):
    """(classes, notes): one boot per distinct machine, members counted into it."""
    from .fpu import boot
    from .userspace import parse_libc

    profiles = _Profiles(resolve_cpu)
    kernels: dict = {}
    libcs: dict = {}
    out: dict = {}
    total = 0
    for m in members:
        p = profiles.get(m)
        k = kernels.get(m.kernel)
        if k is None:
            k = kernels[m.kernel] = resolve_kernel(m.kernel)
        lc = libcs.get(m.libc or default_libc)
        if lc is None:
            lc = libcs[m.libc or default_libc] = parse_libc(m.libc or default_libc)
        key = (p.name, k.label, lc.label)
        total += m.count
        if total > MAX_MEMBERS:
            raise InputError(f"{m.where}: more than {MAX_MEMBERS} hosts in the pool")
        kl = out.get(key)
        if kl is None:
            label = f"{p.name}@{k.label}" + ("" if lc.version is None and default_libc is None else f" {lc.label}")
            kl = out[key] = [label, boot(p, k, options), lc, [], 0]
        kl[3].append(m.name)
        kl[4] += m.count
    return [Klass(*kl) for kl in out.values()], profiles.renamed


# ------------------------------------------------------------------ what the pool says

SIZE_VALUES = ("kernel.max.size", "kernel.default.size", "user.max.size", "user.default.size", "guest.max.size",
               "guest.default.size", "abi.sigframe_min", "abi.regset_xstate", "kvm.cap_xsave2")


@record
class Failing:
    consumer: str
    sources: tuple  # class labels
    destinations: tuple
    reason: str

    def record(self) -> dict:
        return {"from": list(self.sources), "to": list(self.destinations), "reason": self.reason}


@record
class PoolReport:
    classes: list
    renamed: list
    common_xcr0: int
    common_xss: int
    maxima: dict  # value name -> (size, [class labels])
    holding_back: list  # (class label, components gained if it left, count)
    consumers: dict  # name -> (ok, [Failing])
    gating: tuple
    ldso: list  # Failing-like records of the C library's save areas (criu)
    qemu: list  # (release, model, xcr0, sizes dict) or (release, None, ...) when none runs everywhere

    @property
    def ok(self) -> bool:
        return all(self.consumers[c][0] for c in self.gating)


def analyse(cls: list, consumers=(), renamed=(), qemu: bool = True) -> PoolReport:
    """Everything the pool shares and every pair that cannot move state, by consumer."""
    from .compare import CONSUMERS, verdicts
    from .limits import values

    common_xcr0 = common_xss = ~0
    for k in cls:
        common_xcr0 &= k.boot.xcr0
        common_xss &= k.boot.xss
    maxima = {}
    vals = [values(k.boot) for k in cls]
    for name in SIZE_VALUES:
        have = [(v[name], k.label) for v, k in zip(vals, cls) if v.get(name) is not None]
        if have:
            top = max(s for s, _ in have)
            maxima[name] = (top, [label for s, label in have if s == top])
    holding = []
    if len(cls) > 1:
        for i, k in enumerate(cls):
            rest = ~0
            for j, other in enumerate(cls):
                if j != i:
                    rest &= other.boot.xcr0 | other.boot.xss
            gained = rest & ~(common_xcr0 | common_xss)
            if gained:
                holding.append((k.label, C.names(gained), k.count))
        holding.sort(key=lambda h: (-len(h[1]), h[2], h[0]))
    failing: dict = {c: {} for c in CONSUMERS}
    ldso: dict = {}
    areas = _ldso_areas(cls)
    for i, a in enumerate(cls):
        for j, b in enumerate(cls):
            if i == j:
                continue
            for v in verdicts(a.boot, b.boot, brief=True)[0]:
                if not v.ok:
                    reason = v.name + ": " + "; ".join(v.reasons)
                    failing[v.consumer].setdefault(reason, []).append((a.label, b.label))
            hazard = ldso_hazard(a, areas[i, a.libc.label], areas[j, a.libc.label])
            if hazard:
                ldso.setdefault(hazard, []).append((a.label, b.label))
                failing["criu"].setdefault("ld.so: " + hazard, []).append((a.label, b.label))
    result = {c: (not groups, _group(c, groups)) for c, groups in failing.items()}
    gating = tuple(consumers or CONSUMERS)
    return PoolReport(cls, list(renamed), common_xcr0 & ((1 << 64) - 1), common_xss & ((1 << 64) - 1), maxima,
                      holding, result, gating, _group("criu", ldso), qemu_baseline(cls) if qemu else [])


def _group(consumer: str, by_reason: dict) -> list:
    """Failing pairs, reason by reason, as few from/to groups as cover them (sources with the same
    destinations merge)."""
    out = []
    for reason, pairs in by_reason.items():
        dests: dict = {}
        for s, d in pairs:
            dests.setdefault(s, []).append(d)
        merged: dict = {}
        for s, ds in dests.items():
            merged.setdefault(tuple(ds), []).append(s)
        for ds, ss in merged.items():
            out.append(Failing(consumer, tuple(ss), ds, reason))
    return out


def _ldso_areas(cls: list) -> dict:
    """(class index, libc label) -> the save areas that libc's ld.so sizes on that class's CPU, for every libc in
    the pool: computed once per class, not per pair."""
    from .libc import libc_values
    from .sigframe import signal_stack

    libcs = {k.libc.label: k.libc for k in cls}
    out = {}
    for i, k in enumerate(cls):
        ss = signal_stack(k.boot)
        for label, lc in libcs.items():
            out[i, label] = libc_values(k.boot, lc, ss).ldso
    return out


def ldso_hazard(src: Klass, a: dict | None, b: dict | None) -> str | None:
    """A process restored on the destination (CRIU) keeps the save areas *src*'s glibc ld.so sized at start-up
    (*a*); its lazy-binding and TLS-descriptor trampolines XSAVE(C) what the destination enables (*b*, the same
    libc's rule on the destination's CPU) into them (criu #3120)."""
    if not a or not b:
        return None
    over = [f"{what} {b[key]} > {a[key]} bytes" for key, what in (("lazy_binding", "lazy-binding save area"),
                                                                  ("tlsdesc", "TLS-descriptor save area"))
            if a.get(key) is not None and b.get(key) is not None and b[key] > a[key]]
    if not over:
        return None
    return (f"{src.libc.label}'s ld.so sized its save areas on the source; on the destination its trampolines "
            f"save more ({', '.join(over)}): the stack below them is overwritten")


def qemu_baseline(cls: list) -> list:
    """Per QEMU release: the largest named model every KVM member runs without dropping an XSAVE-relevant
    feature (what libvirt's baseline CPU gives), with the sizes its guests see; bare-metal members only."""
    from .vcpu import kvm_host, qemu_runs_everywhere

    hosts = [kvm_host(k.boot) for k in cls if k.boot.profile.source and not k.boot.profile.source.startswith(
        "xstatecalc vcpu")]
    if not hosts:
        return []
    return qemu_runs_everywhere(hosts)


# ------------------------------------------------------------------ import at fleet scale

@record
class Imported:
    """One dump of a batch import: the profile it gave, or the earlier dump it repeats."""

    file: str
    name: str  # the profile's name (made distinct from other CPUs' names)
    text: str | None  # the profile to write; None for a duplicate
    duplicate_of: str | None  # the file whose CPUID this one repeats
    renamed_from: str | None  # the name the brand string gave, when another CPU had it
    notes: tuple
    findings: tuple
    error: str | None = None  # the dump could not be imported (nothing written for it)

    def record(self) -> dict:
        return {"file": self.file, "name": self.name, "duplicate_of": self.duplicate_of,
                "renamed_from": self.renamed_from, "findings": list(self.findings), "error": self.error}


def expand_files(paths) -> list[str]:
    """Files named, and the files of directories named (not recursive), in order; '-' is stdin."""
    out = []
    for p in paths:
        if p != "-" and os.path.isdir(p):
            out += [os.path.join(p, n) for n in sorted(os.listdir(p))
                    if not n.startswith(".") and os.path.isfile(os.path.join(p, n))]
        else:
            out.append(p)
        if len(out) > MAX_FILES:
            raise InputError(f"more than {MAX_FILES} files to import")
    if not out:
        raise InputError("no file to import (the directories named are empty)")
    return out


def import_many(files, fmt=None) -> list[Imported]:
    """Every dump in *files* as a profile, identical CPUIDs once: a file whose bytes repeat an earlier one is
    not parsed again, and one whose CPUID does (another file of the same machine) is a duplicate; two different
    CPUs never share a name (the second becomes NAME-2, and says so)."""
    from . import importers
    from .inputs import read_text

    out: list[Imported] = []
    by_digest: dict = {}
    by_cpuid: dict = {}
    names: dict = {}
    for f in files:
        digest = _digest(f) if f != "-" else None
        first = by_digest.get(digest) if digest is not None else None
        if first is not None:
            out.append(Imported(f, first.name, None, first.file, None, (), (), first.error))
            continue
        try:
            text = read_text(f, what="CPUID dump")
            res = importers.to_profile(importers.parse(text, "<stdin>" if f == "-" else f, fmt))
        except InputError as e:  # one bad dump does not stop a fleet: it is reported with the rest
            item = Imported(f, "", None, None, None, (), (), str(e))
            if digest is not None:
                by_digest[digest] = item
            out.append(item)
            continue
        key = _cpuid_key(res.text.replace(f"name: {res.name}\n", "", 1))
        first = by_cpuid.get(key)
        if first is not None:
            item = Imported(f, first.name, None, first.file, None, tuple(res.notes), tuple(res.findings))
        else:
            name, renamed = res.name, None
            if name in names:
                name, renamed = distinct_name(res.name, names), res.name
            names[name] = f
            text_out = res.text if renamed is None else res.text.replace(f"name: {res.name}\n", f"name: {name}\n", 1)
            item = Imported(f, name, text_out, None, renamed, tuple(res.notes + res.warnings), tuple(res.findings))
            by_cpuid[key] = item
        if digest is not None:
            by_digest[digest] = item
        out.append(item)
    return out
