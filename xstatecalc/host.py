"""The machine we run on: its CPUID, and what its running kernel reports.

CPUID comes from /dev/cpu/0/cpuid when readable, else from the CPUID
instruction itself (a few bytes of machine code in a page mapped writable,
then flipped to read+execute: never both), else from an installed ``cpuid -1 -r``.
The kernel's own answers: XGETBV(0), AT_MINSIGSTKSZ (getauxval), arch_prctl
ARCH_GET_XCOMP_SUPP/PERM, and the x86/fpu boot lines when the log is readable.
"""

from __future__ import annotations

import os
import platform
import struct
import sys
from dataclasses import dataclass

from . import components as C
from .errors import InputError
from .importers import Dump

AT_MINSIGSTKSZ = 51
SYS_ARCH_PRCTL = 158  # x86-64
ARCH_GET_XCOMP_SUPP, ARCH_GET_XCOMP_PERM = 0x1021, 0x1022

# cpuid(leaf=edi, subleaf=esi, out=rdx): push rbx; mov r8,rdx; mov eax,edi; mov ecx,esi; cpuid;
# mov [r8],eax; mov [r8+4],ebx; mov [r8+8],ecx; mov [r8+12],edx; pop rbx; ret
_CPUID_CODE = bytes.fromhex("53" "4989d0" "89f8" "89f1" "0fa2" "418900" "41895804" "41894808" "4189500c" "5b" "c3")
# xgetbv(ecx=edi) -> rax: mov ecx,edi; xgetbv; shl rdx,32; or rax,rdx; ret
_XGETBV_CODE = bytes.fromhex("89f9" "0f01d0" "48c1e220" "4809d0" "c3")


def is_x86_64_linux() -> bool:
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def _require_host() -> None:
    if not is_x86_64_linux():
        raise InputError(f"host CPUID is only available on x86-64 Linux (this is {sys.platform}/{platform.machine()})")


class _Native:
    """Machine code called through ctypes; the page is W^X."""

    _fns: dict = {}

    @classmethod
    def fn(cls, name: str, code: bytes, restype, argtypes):
        if name in cls._fns:
            return cls._fns[name]
        import ctypes
        import mmap

        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        size = mmap.PAGESIZE
        addr = libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        ctypes.memmove(addr, code, len(code))
        if libc.mprotect(addr, size, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            raise OSError(ctypes.get_errno(), "mprotect(PROT_READ|PROT_EXEC) failed")
        f = ctypes.CFUNCTYPE(restype, *argtypes)(addr)
        cls._fns[name] = f
        return f


def _cpuid_native():
    import ctypes

    f = _Native.fn("cpuid", _CPUID_CODE, None, [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p])

    def call(leaf: int, sub: int):
        out = (ctypes.c_uint32 * 4)()
        f(leaf, sub, ctypes.addressof(out))
        return tuple(out)

    return call


def _cpuid_devfile():
    fd = os.open("/dev/cpu/0/cpuid", os.O_RDONLY)

    def call(leaf: int, sub: int):
        data = os.pread(fd, 16, sub << 32 | leaf)
        if len(data) != 16:
            raise OSError(5, f"short read of CPUID {leaf:#x}.{sub:#x} from /dev/cpu/0/cpuid")
        return struct.unpack("<4I", data)

    return call


def read_cpuid() -> Dump:
    """This machine's CPUID registers (the leaves the importer needs), as a Dump."""
    _require_host()
    errors = []
    for how, make in (("/dev/cpu/0/cpuid", _cpuid_devfile), ("CPUID instruction", _cpuid_native)):
        try:
            call = make()
            return _collect(call, how)
        except OSError as e:
            errors.append(f"{how}: {e.strerror or e}")
    import shutil
    import subprocess

    if shutil.which("cpuid"):
        from .importers import parse

        try:
            out = subprocess.run(["cpuid", "-1", "-r"], capture_output=True, text=True, timeout=10, check=True)
            return parse(out.stdout, "cpuid -1 -r", "cpuid-r")
        except (OSError, subprocess.SubprocessError) as e:
            errors.append(f"cpuid program: {e}")
    raise InputError("cannot read this machine's CPUID: " + "; ".join(errors))


def _collect(call, how: str) -> Dump:
    regs = {}
    max_leaf = call(0, 0)[0]
    regs[(0, 0)] = call(0, 0)
    for leaf, sub in ((1, 0), (7, 0), (7, 1), (0xD, 0), (0xD, 1)):
        if leaf <= max_leaf:
            regs[(leaf, sub)] = call(leaf, sub)
    if (0xD, 0) in regs:
        masks = regs[(0xD, 0)][0] | regs[(0xD, 0)][3] << 32 | regs[(0xD, 1)][2] | regs[(0xD, 1)][3] << 32
        for n in C.bits(masks & ~C.MASK_FPSSE):
            regs[(0xD, n)] = call(0xD, n)
    ext = call(0x80000000, 0)[0]
    for leaf in (0x80000002, 0x80000003, 0x80000004):
        if ext >= leaf:
            regs[(leaf, 0)] = call(leaf, 0)
    return Dump("cpuid-r", f"host ({how})", {"0": regs})


def host_profile(dump: Dump | None = None):
    """A Profile for this machine (or for *dump*), built exactly as `import` would build it."""
    from .importers import to_profile
    from .profile import loads_profile

    # Named after its brand string (amd-epyc), as `import` names it: results say which CPU 'host' was.
    res = to_profile(dump or read_cpuid())
    return loads_profile(res.text, "host")


@dataclass
class Row:
    quantity: str
    model: object
    kernel: object
    status: str  # "match", "differs", "unavailable"
    how: str = ""

    def record(self) -> dict:
        return {"quantity": self.quantity, "expected": self.model, "actual": self.kernel, "status": self.status,
                "how": self.how}


def _hexv(v):
    return None if v is None else f"{v:#x}"


def _row(q, model, kernel, how, unavailable=None) -> Row:
    if kernel is None:
        return Row(q, model, None, "unavailable", unavailable or how)
    return Row(q, model, kernel, "match" if model == kernel else "differs", how)


def xgetbv0() -> int:
    import ctypes

    return _Native.fn("xgetbv", _XGETBV_CODE, ctypes.c_uint64, [ctypes.c_uint32])(0)


def _auxv(kind: int) -> int | None:
    import ctypes

    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    libc.getauxval.argtypes = [ctypes.c_ulong]
    v = libc.getauxval(kind)
    return v or None


def _arch_prctl_get(code: int) -> tuple[int | None, str]:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    val = ctypes.c_uint64(0)
    rc = libc.syscall(ctypes.c_long(SYS_ARCH_PRCTL), ctypes.c_long(code), ctypes.byref(val))
    if rc != 0:
        err = ctypes.get_errno()
        return None, f"arch_prctl({code:#x}) failed: {os.strerror(err)} (kernel before 5.16?)"
    return val.value, f"arch_prctl({code:#x})"


_SC_MINSIGSTKSZ, _SC_SIGSTKSZ = 249, 250  # glibc bits/confname.h and musl unistd.h agree


def running_libc() -> tuple[str, str] | None:
    """('glibc', '2.36') from gnu_get_libc_version(), ('musl', '') from platform.libc_ver(); None if unknown."""
    import ctypes
    import platform

    try:
        libc = ctypes.CDLL(None)
        fn = libc.gnu_get_libc_version
        fn.restype = ctypes.c_char_p
        return "glibc", fn().decode("ascii", "replace")
    except (AttributeError, OSError):
        name, version = platform.libc_ver()
        return ("musl", version) if "musl" in (name or "").lower() else None


def _sysconf(name: int) -> int | None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.sysconf.restype = ctypes.c_long
    libc.sysconf.argtypes = [ctypes.c_int]
    v = libc.sysconf(name)
    return None if v < 0 else v


def libc_rows(b) -> list[Row]:
    """The C library's signal-stack numbers: xstatecalc's rules for this libc against sysconf() here.
    Python's os.sysconf does not know _SC_MINSIGSTKSZ, so they are read through ctypes."""
    from .errors import InputError
    from .libc import libc_values
    from .sigframe import signal_stack
    from .userspace import parse_libc

    found = running_libc()
    if found is None:
        return [Row("libc sysconf(_SC_MINSIGSTKSZ)", None, None, "unavailable",
                    "neither glibc nor musl: no rules for this C library")]
    name, version = found
    try:
        choice = parse_libc(f"{name}-{version}" if version else name)
    except InputError as e:
        return [Row("libc sysconf(_SC_MINSIGSTKSZ)", None, None, "unavailable", str(e))]
    lv = libc_values(b, choice, signal_stack(b))
    label = f"{name} {version}".strip()
    how = f"sysconf({{}}) through ctypes ({label})"
    rows = []
    for q, model, code in (("sysconf(_SC_MINSIGSTKSZ)", lv.sc_minsigstksz, _SC_MINSIGSTKSZ),
                           ("sysconf(_SC_SIGSTKSZ)", lv.sc_sigstksz, _SC_SIGSTKSZ)):
        got = _sysconf(code)
        if model is None and got is None:
            rows.append(Row(q, None, None, "match", f"{label} has no such name (EINVAL), as modelled"))
        else:
            rows.append(_row(q, model, got, how.format(code), f"{label}: sysconf({code}) fails (EINVAL)"))
    return rows


MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a distribution .config is about 300 KB
# Boot parameters that change xstate, in the kernel's spelling (the rest of /proc/cmdline is not ours).
_XSTATE_PARAMS = ("noxsave", "noxsaves", "noxsaveopt", "nopku", "nousershstk")


def _config_text(release: str) -> tuple[str | None, str]:
    """The running kernel's .config (/proc/config.gz, else /boot/config-RELEASE), and where it came from."""
    import gzip

    for path, opener in (("/proc/config.gz", gzip.open), (f"/boot/config-{release}", open)):
        try:
            with opener(path, "rb") as fh:
                data = fh.read(MAX_CONFIG_BYTES + 1)
        except (OSError, EOFError, ValueError):
            continue
        if len(data) <= MAX_CONFIG_BYTES:
            return data.decode("ascii", "replace"), path
    return None, ""


def running_options(release: str) -> tuple[object, list[str]]:
    """Options of the running kernel: its build options from its .config and its xstate boot parameters from
    /proc/cmdline, each where readable (else the distribution defaults), and a note of what was read."""
    from .options import BUILD_OPTIONS, make_options

    notes, words = [], []
    text, where = _config_text(release)
    if text is None:
        notes.append("kernel config not readable (/proc/config.gz, /boot/config-" + release + "): build options "
                     "assumed as distributions ship them")
    else:
        seen = {}
        for line in text.splitlines():
            name, eq, value = line.partition("=")
            if eq and name in BUILD_OPTIONS:
                seen[name] = value.strip()
        # An option that is not set (or absent: INTEL_IOMMU_SVM without INTEL_IOMMU) is off.
        words = [f"{name}=n" for name in BUILD_OPTIONS if name not in ("CONFIG_X86_64", "CONFIG_IA32_EMULATION")
                 and seen.get(name) != "y"]
        notes.append(f"build options read from {where}")
    try:
        with open("/proc/cmdline", "rb") as fh:
            cmdline = fh.read(64 * 1024).decode("ascii", "replace").split()
    except OSError:
        cmdline = []
    for token in cmdline:
        if token == "--":  # what follows goes to init
            break
        low = token.lower()
        if low in _XSTATE_PARAMS or low.startswith("clearcpuid="):
            words.append(low)
    skipped = [w for w in words if not _known_switch(w)]  # e.g. a clearcpuid= flag xstate never looks at
    options = make_options([w for w in words if w not in skipped],
                           ia32_emulation=text is None or "CONFIG_IA32_EMULATION=y" in text)
    if skipped:
        notes.append("not modelled from /proc/cmdline: " + " ".join(skipped))
    if options.cmdline:
        notes.append("boot parameters from /proc/cmdline: " + " ".join(options.cmdline))
    return options, notes


def _known_switch(word: str) -> bool:
    from .options import parse_switch

    try:
        parse_switch(word)
    except ValueError:
        return False
    return True


def _kernel_log() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 and out.stdout else None


def compare_with_kernel(b, dump: Dump) -> list[Row]:
    """Hold the model of the running kernel against what the kernel reports."""
    regs = dump.cpus["0"]
    rows = []
    try:
        xcr0 = xgetbv0()
    except OSError as e:
        xcr0, why = None, f"XGETBV unavailable: {e}"
    else:
        why = "XGETBV(0)"
    rows.append(_row("XCR0", _hexv(b.xcr0), _hexv(xcr0), "XGETBV(0) = fpu_user_cfg.max_features", why))
    rows.append(_row("CPUID(0xD,0).EBX", b.user_max.size, regs.get((0xD, 0), (None, None))[1],
                     "standard size for the XCR0 in use = fpu_user_cfg.max_size"))
    if b.compacted:
        rows.append(_row("CPUID(0xD,1).EBX", b.kernel_max.size, regs.get((0xD, 1), (None, None))[1],
                         "compacted size for XCR0|IA32_XSS = fpu_kernel_cfg.max_size"))
    rows.append(_row("AT_MINSIGSTKSZ", b.sigframe_min, _auxv(AT_MINSIGSTKSZ), "getauxval(AT_MINSIGSTKSZ)",
                     "the kernel passes no AT_MINSIGSTKSZ (before 5.14)"))
    legacy = C.MASK_FPSSE if "FXSR" in b.flags else C.bit(C.FP)
    supp, how = _arch_prctl_get(ARCH_GET_XCOMP_SUPP)
    rows.append(_row("ARCH_GET_XCOMP_SUPP", _hexv(b.user_max.features | legacy), _hexv(supp), how, how))
    perm, how = _arch_prctl_get(ARCH_GET_XCOMP_PERM)
    rows.append(_row("ARCH_GET_XCOMP_PERM", _hexv(b.user_default.features | legacy), _hexv(perm),
                     how + " (this process: no dynamic feature requested)", how))
    rows += libc_rows(b)
    log = _kernel_log()
    if log is None:
        rows.append(Row("x86/fpu boot lines", None, None, "unavailable",
                        "kernel log not readable (dmesg_restrict?); try: sudo dmesg | xstatecalc dmesg --check -"))
    else:
        from .dmesg import check

        res = check(b, log)
        if not res.found:
            rows.append(Row("x86/fpu boot lines", len(res.expected), None, "unavailable",
                            "the boot lines have rotated out of the kernel log"))
        else:
            got = f"{len(res.matching)} of {len(res.found)} agree"
            rows.append(Row("x86/fpu boot lines", f"{len(res.expected)} lines", got,
                            "match" if res.ok else "differs",
                            "; ".join(f"model {w!r}, log {g!r}" for w, g in res.differing[:3]) or "dmesg"))
    return rows
