"""What a C library reports about signal stacks on one CPU and kernel.

sysconf(_SC_MINSIGSTKSZ) and sysconf(_SC_SIGSTKSZ), the MINSIGSTKSZ/SIGSTKSZ macros (constant,
or sysconf calls in glibc 2.34+ under _GNU_SOURCE), PTHREAD_STACK_MIN, the smallest stack its
sigaltstack() takes, and for glibc the stack its ld.so trampolines take to save vector state
(lazy binding, dynamic TLS descriptors). The rules are data (userspace_rules.yaml).
"""

from __future__ import annotations

from . import components as C
from .records import record
from .userspace import LibcChoice, rules

PAGE = 4096
APX = 19


@record
class LibcValues:
    """One C library on one machine."""

    choice: LibcChoice
    at: int  # AT_MINSIGSTKSZ as the auxiliary vector carries it (0: none)
    sc_minsigstksz: int | None  # None: the libc has no such sysconf name (EINVAL)
    sc_sigstksz: int | None
    minsigstksz: dict  # {"constant": 2048, "dynamic": ... or None}
    sigstksz: dict
    pthread_stack_min: dict
    sigaltstack_min: int  # sigaltstack() fails with ENOMEM below this (the kernel's MINSIGSTKSZ for glibc)
    sigaltstack_check: str  # "kernel" or "libc": who refuses a small stack
    ldso: dict | None  # glibc: {"lazy_binding", "tlsdesc", "full", "register_area"}
    values: dict  # the names runtime formulas use

    def record(self) -> dict:
        era = self.choice.era
        return {"name": era.name, "version": None if self.choice.version is None else
                ".".join(map(str, self.choice.version)), "rules": era.label,
                "sc_minsigstksz": self.sc_minsigstksz, "sc_sigstksz": self.sc_sigstksz,
                "sc_sigstksz_page_multiple": None if self.sc_sigstksz is None else self.sc_sigstksz % PAGE == 0,
                "minsigstksz": self.minsigstksz, "sigstksz": self.sigstksz,
                "pthread_stack_min": self.pthread_stack_min, "page_size": PAGE,
                "sigaltstack_min": self.sigaltstack_min, "sigaltstack_check": self.sigaltstack_check,
                "ld_so": self.ldso, "evidence": era.rules.get("evidence"), "status": era.rules.get("status")}


def libc_values(b, choice: LibcChoice, signal) -> LibcValues:
    """The libc's numbers for boot *b* whose kernel signal-stack facts are *signal* (sigframe.SignalStack)."""
    era = choice.era.rules
    consts = rules().constants["x86_64" if b.options.x86_64 else "i386"]
    at = signal.at_minsigstksz or 0
    v = {"AT": at, "EBX": b.user_max.size if b.xsave else 0, "PAGE": PAGE, **consts}
    if era["sysconf"]:
        v["SC_MINSIGSTKSZ"] = era["sc_minsigstksz"].evaluate(v)
        v["SC_SIGSTKSZ"] = era["sc_sigstksz"].evaluate(v)
    else:
        v["SC_MINSIGSTKSZ"] = v["SC_SIGSTKSZ"] = -1
    dyn = {k: era[f"dynamic_{k}"].evaluate(v) if f"dynamic_{k}" in era else None
           for k in ("minsigstksz", "sigstksz", "pthread_stack_min")}
    minimum = era["sigaltstack_min"].evaluate(v)
    ldso = _ldso(b, era.get("ldso"))
    return LibcValues(choice, at, None if not era["sysconf"] else v["SC_MINSIGSTKSZ"],
                      None if not era["sysconf"] else v["SC_SIGSTKSZ"],
                      {"constant": era["minsigstksz"], "dynamic": dyn["minsigstksz"]},
                      {"constant": era["sigstksz"], "dynamic": dyn["sigstksz"]},
                      {"constant": era["pthread_stack_min"], "dynamic": dyn["pthread_stack_min"]},
                      minimum, "libc" if choice.era.name == "musl" else "kernel", ldso, v)


def macro_values(lv: LibcValues, macros: str) -> dict:
    """SIGSTKSZ and MINSIGSTKSZ as a program built with *macros* ('dynamic' or 'constant') sees them."""
    dynamic = macros == "dynamic" and lv.sigstksz["dynamic"] is not None
    return {**lv.values,
            "SIGSTKSZ": lv.sigstksz["dynamic"] if dynamic else lv.sigstksz["constant"],
            "MINSIGSTKSZ": lv.minsigstksz["dynamic"] if dynamic else lv.minsigstksz["constant"]}


def _compacted_end(profile, mask: list[int]) -> tuple[int, dict]:
    """glibc's own walk over CPUID(0xD,i): offsets of the components in *mask* (the CPU's sizes, aligned
    when ECX[1] is set), from 576. Returns the end and the offset of every component number walked."""
    offsets, end = {}, C.XSAVE_HDR_END
    for n in range(2, max(mask) + 2):
        c = profile.components.get(n) if n in mask else None
        size = c.size if c is not None and not c.supervisor else 0
        if c is not None and size and c.align64:
            end = -(-end // 64) * 64
        offsets[n] = end
        end += size
    return end, offsets


def _ldso(b, era_name) -> dict | None:
    """ld.so's save areas on x86-64 (update_active() in sysdeps/x86/cpu-features.c)."""
    if era_name is None or not b.xsave or not b.options.x86_64:
        return None
    facts = rules().ldso[str(era_name)]
    r = facts["register_area"]
    ebx = b.user_max.size

    def align(x):
        return -(-x // 64) * 64

    full = align(ebx + r)
    out = {"register_area": r, "full": full, "lazy_binding": full, "tlsdesc": None, "format": "standard (XSAVE)",
           "evidence": facts["evidence"]}
    if "XSAVEC" not in b.profile.flags:
        if facts["tlsdesc_mask"]:
            out["tlsdesc"] = full
        return out
    lazy_end, _ = _compacted_end(b.profile, list(facts["lazy_mask"]))
    out.update(lazy_binding=align(lazy_end + r), format="compacted (XSAVEC)")
    if facts["tlsdesc_mask"]:
        end, offs = _compacted_end(b.profile, list(facts["tlsdesc_mask"]))
        out["tlsdesc"] = align(end + r)
        if str(era_name) == "2.42":  # lazy = TLSDESC size minus the XTILECFG..XTILEDATA span (70b6488551)
            out["lazy_binding"] = out["tlsdesc"] - (offs[APX] - offs[C.XTILE_CFG])
    return out
