"""`check`: a profile's leaf 0xD judged the way the kernel and the SDM judge it.

Two sources of rules: the kernel's boot-time checks (fpu__init_system_xstate,
check_xstate_against_struct, paranoid_xstate_size_valid; reference §2-§3) as
modelled by :func:`xstatecalc.fpu.boot`, and the architectural XCR0 rules of
XSETBV (SDM vol. 1 13.3; KVM's __kvm_set_xcr() applies the same ones to guests).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import components as C
from . import layout as L
from .fpu import Boot

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Finding:
    severity: str  # error: Linux disables or distrusts XSAVE; warning: it warns or silently differs
    rule: str
    message: str
    kernel_line: str | None = None  # what this kernel prints, where it prints anything
    consequence: str = ""

    def record(self) -> dict:
        return {"severity": self.severity, "rule": self.rule, "message": self.message,
                "kernel_line": self.kernel_line, "consequence": self.consequence}


def check(b: Boot) -> list[Finding]:
    """Every finding for this profile on this kernel, errors first."""
    p, k = b.profile, b.kernel
    out: list[Finding] = []
    disabled = "XSAVE disabled: the kernel falls back to FXSAVE (512-byte buffers, no AVX state)"

    for line in b.problems:
        if "consistency problem" in line:
            fatal = k.consistency_fatal
            out.append(Finding(ERROR, "paranoid_xstate_size_valid",
                               f"the size computed from the sub-leaves ({b.computed_kernel_size}) differs from what "
                               f"CPUID reports for the kernel's masks", line,
                               disabled if fatal else f"Linux {k.label} only warns and trusts CPUID: buffers may be "
                                                      "too small"))
        elif "FP/SSE not present" in line:
            out.append(Finding(ERROR, "fpu__init_system_xstate", "x87 or SSE is missing from XCR0-supported", line,
                               disabled))
        elif "APX/MPX" in line:
            out.append(Finding(ERROR, "fpu__init_system_xstate",
                               "APX (19) reuses the MPX area: the kernel refuses a CPU that enumerates both", line,
                               disabled))
        elif "too small" in line:
            out.append(Finding(ERROR, "init_xstate_size", "the default buffer exceeds sizeof(union fpregs_state)",
                               line, disabled))

    bad_xcr0 = C.xsetbv_violations(b.xcr0) if b.xsave else []
    for why in bad_xcr0:
        out.append(Finding(ERROR, "XSETBV", f"the kernel would write XCR0 {b.xcr0:#x}, which XSETBV refuses: {why}",
                           None, "#GP in fpu__init_cpu_xstate(): the boot crashes"))
    for why in C.xsetbv_violations(p.xcr0_supported | C.MASK_FPSSE):
        if why not in bad_xcr0:
            out.append(Finding(WARNING, "SDM 13.3", f"XCR0-supported {p.xcr0_supported:#x}: {why}", None,
                               "Linux filters it out here, but another OS or a guest enabling every supported bit "
                               "gets #GP"))

    names = k.xfeature_names
    # The per-component checks run before the size check, so they also see what a later
    # failure disabled; fpu_user_cfg.max_features survives fpu__init_disable_system_xstate().
    checked = b.kernel_max.features if b.xsave else b.user_max.features
    for n in C.bits(checked & ~C.MASK_FPSSE):
        info = C.CATALOGUE.get(n)
        want = info.struct_size if info else None
        if n == C.XTILE_DATA:
            want = None  # 1024 bytes x the palette's max tiles (leaf 0x1D), not in the profile
        size = p.components[n].size
        if want is not None and size != want:
            out.append(Finding(WARNING, "check_xstate_against_struct",
                               f"component {n} ({C.key(n)}) is {size} bytes; the kernel's struct is {want}",
                               f"[{names.get(n, 'unknown xstate feature')}]: struct is {want} bytes, cpu state "
                               f"{size} bytes", "WARN and CPUID dump; the CPUID size is used"))

    for n, comp in p.components.items():
        if comp.supervisor and comp.offset:
            out.append(Finding(WARNING, "SDM 13.2", f"supervisor component {n} ({C.key(n)}) reports standard offset "
                                                    f"{comp.offset}; supervisor state has none (EBX should be 0)",
                               None, "Linux ignores it (xstate_offsets[] stays -1 for supervisor state)"))

    user = [c for c in p.components.values() if not c.supervisor and checked >> c.nr & 1]
    for a, c in zip(user, user[1:]):
        if c.offset < a.offset:
            line = None if k.std_size_order == "offset" else f"x86/fpu: misordered xstate at {a.offset}"
            out.append(Finding(WARNING, "setup_xstate_cache",
                               f"component {c.nr} ({C.key(c.nr)}) at {c.offset} comes before component {a.nr} "
                               f"at {a.offset}", line,
                               "6.16+ sorts by offset (xfeature_uncompact_order)" if line is None else
                               "WARN; sizes taken from the highest-numbered component are wrong"))

    rep = p.reported
    if rep.xcr0_max_size is not None:
        want = L.standard_size(p, p.xcr0_supported, "offset")
        if rep.xcr0_max_size != want:
            out.append(Finding(WARNING, "CPUID(0xD,0).ECX",
                               f"reported maximum standard size {rep.xcr0_max_size}, but the sub-leaves give {want}",
                               None, "Linux never reads ECX; software sizing buffers from it gets the wrong size"))
    if rep.xcr0 is not None and rep.xcr0_size is not None:
        want = L.standard_size(p, rep.xcr0, "offset")
        if rep.xcr0_size != want and rep.xcr0 != b.xcr0:
            out.append(Finding(WARNING, "CPUID(0xD,0).EBX",
                               f"reported {rep.xcr0_size} for XCR0 {rep.xcr0:#x}; the sub-leaves give {want}", None,
                               "inconsistent under the dumping OS's XCR0 (not the one Linux would use)"))
    if rep.xcr0 is not None and rep.compacted_size is not None:
        mask = rep.xcr0 | (rep.xss or 0)
        want = L.compacted_size(p, mask)
        if rep.compacted_size != want and "consistency problem" not in " ".join(b.problems):
            out.append(Finding(WARNING, "CPUID(0xD,1).EBX",
                               f"reported {rep.compacted_size} for XCR0|XSS {mask:#x}; the sub-leaves give {want}",
                               None, "inconsistent under the dumping OS's masks; Linux checks only its own"))

    if b.dropped and b.xsave:
        for n, why in sorted(b.dropped.items()):
            out.append(Finding(INFO, "xsave_cpuid_features", f"component {n} ({C.key(n)}) not enabled: {why}"))
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    return sorted(out, key=lambda f: order[f.severity])


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
