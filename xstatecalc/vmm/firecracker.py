"""Firecracker, release by release: what its CPU templates and CPUID handling leave of leaf 0xD, as data.

Read for this project (November 2026) in the Firecracker repository, tags v1.0.0 to v1.16.1: the static
templates (src/vmm/src/cpu_config/x86_64/static_cpu_templates/*.rs from v1.4, the legacy src/cpuid crate
before), the CPUID normalisation (cpuid/normalize.rs, docs/cpu_templates/cpuid-normalization.md), the AMX
permission request (PR #5065, v1.12) and the vCPU state saved in snapshots (arch/x86_64/vcpu.rs).

What every release shares, and the logic relies on:

* the guest's CPUID starts from KVM_GET_SUPPORTED_CPUID; Firecracker never recomputes leaf 0xD: 0xD.0
  EBX/ECX stay KVM's sizes for the whole supported XCR0 (ECX is never rewritten, so after a template
  clears bits ECX is larger than the enabled state needs), and every sub-leaf >= 2 is the host's;
* the static templates (T2, T2S, T2CL, T2A, C3) clear the same XSAVE-relevant bits in every release:
  MPX, AVX512F and PKU in leaf 7, XCR0 bits 3-7 and 9 (0xD.0 EAX &= ~0x2f8) and XSAVEC, XGETBV1 and
  XSAVES (0xD.1 EAX &= ~0xe); XSAVEOPT, XFD and AMX pass. T2A applies these Intel-derived masks on AMD.
"""

from __future__ import annotations

from .. import components as C
from ..records import record

TEMPLATE_CLEARS_FLAGS = frozenset({"MPX", "AVX512F", "PKU", "XSAVEC", "XGETBV1", "XSAVES"})
TEMPLATE_CLEARS_XCR0 = C.mask_of(C.BNDREGS, C.BNDCSR, C.OPMASK, C.ZMM_HI256, C.HI16_ZMM, C.PKRU)  # 0x2f8


@record
class Template:
    name: str
    vendor: str  # the host vendor Firecracker requires
    first: str  # the first release that has it
    exact_cpus: tuple  # from 1.12: the host CPUs it accepts, as (family, model) pairs, and their names
    evidence: str


# From 1.12 a static template is refused (InvalidCpuModel) on any CPU but these (exact family/model/stepping
# match; the profiles here carry family and model only, so Skylake-SP and Cascade Lake both read 06_55).
_SKX_CLX = ((6, 0x55),)
_ICX = ((6, 0x6A), (6, 0x6C))
_MILAN = ((0x19, 0x01),)

TEMPLATES = {
    "T2": Template("T2", "intel", "1.0", _SKX_CLX + _ICX, "static_cpu_templates/t2.rs@v1.16.0; legacy "
                   "src/cpuid/src/template/intel/t2.rs@v1.0.0"),
    "C3": Template("C3", "intel", "1.0", _SKX_CLX + _ICX, "static_cpu_templates/c3.rs@v1.16.0"),
    "T2S": Template("T2S", "intel", "1.2", _SKX_CLX, "static_cpu_templates/t2s.rs@v1.16.0 (added in v1.2.0)"),
    "T2CL": Template("T2CL", "intel", "1.3", _SKX_CLX + _ICX, "static_cpu_templates/t2cl.rs@v1.16.0 (v1.3.0); "
                     "before 1.12 it needs FMS >= 06_55_7 (Cascade Lake)"),
    "T2A": Template("T2A", "amd", "1.3", _MILAN, "static_cpu_templates/t2a.rs@v1.16.0 (v1.3.0): T2's masks"),
}


@record
class FirecrackerRelease:
    release: str
    tag: str
    date: str
    requests_amx: bool  # arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM, XTILEDATA) before KVM_GET_SUPPORTED_CPUID (1.12+)
    exact_template_cpus: bool  # static templates only on the CPUs they were made for (1.12+)
    snapshot_xsave: str  # "kvm_get_xsave" (the 4096-byte struct kvm_xsave) | "kvm_get_xsave2" (KVM_CAP_XSAVE2 bytes)
    host_kernels: tuple  # host kernel lines its docs support
    evidence: str


def _fr(release, date, host_kernels, evidence, *, new=False):
    return FirecrackerRelease(release, f"v{release}.0", date, new, new, "kvm_get_xsave2" if new else "kvm_get_xsave",
                              host_kernels, evidence)


_OLD = "KVM_GET_XSAVE/KVM_SET_XSAVE, 4096 bytes (vstate/vcpu/x86_64.rs)"
_NEW = ("PR #5065: ARCH_REQ_XCOMP_GUEST_PERM for XTILEDATA before KVM_GET_SUPPORTED_CPUID; snapshots with "
        "KVM_GET_XSAVE2 (KVM_CAP_XSAVE2 bytes of the source host, no size or layout check on restore); static "
        "templates refused on CPUs they were not made for")

RELEASES = (
    _fr("1.0", "2022-01-28", ("4.14", "5.10"), _OLD),
    _fr("1.1", "2022-05-06", ("4.14", "5.10"), _OLD),
    _fr("1.2", "2022-11-30", ("4.14", "5.10"), _OLD + "; T2S added"),
    _fr("1.3", "2023-03-02", ("4.14", "5.10"), _OLD + "; T2CL and T2A added"),
    _fr("1.4", "2023-07-19", ("4.14", "5.10"), _OLD + "; templates as bitmaps, applied before normalisation"),
    _fr("1.5", "2023-10-11", ("4.14", "5.10", "6.1"), _OLD + "; static templates deprecated"),
    _fr("1.6", "2023-12-20", ("4.14", "5.10", "6.1"), _OLD),
    _fr("1.7", "2024-03-18", ("4.14", "5.10", "6.1"), _OLD),
    _fr("1.8", "2024-07-09", ("4.14", "5.10", "6.1"), _OLD),
    _fr("1.9", "2024-09-02", ("5.10", "6.1"), _OLD),
    _fr("1.10", "2024-11-07", ("5.10", "6.1"), _OLD + "; docs: 6.1 -> 5.10 snapshot restore not supported"),
    _fr("1.11", "2025-03-18", ("5.10", "6.1"), _OLD),
    _fr("1.12", "2025-05-07", ("5.10", "6.1"), _NEW, new=True),
    _fr("1.13", "2025-08-28", ("5.10", "6.1"), _NEW + "; on 5.16.x hosts the permission request fails (EINVAL)",
        new=True),
    _fr("1.14", "2025-12-17", ("5.10", "6.1"), _NEW + "; EINVAL from the request tolerated on 5.16.x (d93f562ad)",
        new=True),
    _fr("1.15", "2026-03-09", ("5.10", "6.1"), _NEW, new=True),
    _fr("1.16", "2026-06-03", ("5.10", "6.1", "6.18"), _NEW + "; v1.16.1 also saves IA32_XSS", new=True),
)
