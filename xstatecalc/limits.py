"""`limit`: which CPU and kernel pairs exceed a size some code hard-codes.

Any numeric value name of `sizes` (user.max.size, abi.sigframe_min, kernel.max.size, ...)
plus the sizes KVM hands a VMM (kvm.cap_xsave2: KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) with every
dynamic feature permitted, the buffer KVM_GET_XSAVE2 fills).
"""

from __future__ import annotations

from .guest import KVM_XSAVE_SIZE, kvm_std_size, kvm_supported_xcr0
from .records import record
from .report import flat_values, sizes_record

EXTRA = {
    "kvm.cap_xsave2": "KVM_CAP_XSAVE2 with every dynamic feature permitted: the KVM_GET_XSAVE2 buffer "
                      "(max(4096, CPUID 0xD.0 EBX of KVM's supported XCR0))",
}


def values(b) -> dict:
    """Every numeric value of one boot, by name."""
    out = {k: v for k, v in flat_values(sizes_record(b)).items()
           if isinstance(v, int) and not isinstance(v, bool)}
    if b.kernel.guest_perm != "none" and b.xsave:
        out["kvm.cap_xsave2"] = max(KVM_XSAVE_SIZE, kvm_std_size(b, kvm_supported_xcr0(b)))
    return out


def value_names(b) -> list[str]:
    return sorted(values(b))


@record
class Over:
    cpu: str
    kernel: str
    model: str
    value: int
    over: int  # value - limit
    position: int  # where the kernel stands in the kernels asked for (runs of neighbours collapse in tables)

    def record(self) -> dict:
        return {"cpu": self.cpu, "kernel": self.kernel, "model": self.model, "value": self.value,
                "over": self.over}


def exceeding(boots, name: str, limit: int) -> tuple[list[Over], int]:
    """The pairs whose *name* exceeds *limit*, largest excess first; and how many pairs had the value.
    Raises KeyError for a name no boot has."""
    out, checked, order = [], 0, {}
    for b in boots:
        pos = order.setdefault(b.kernel.label, len(order))
        vals = values(b)
        if name not in vals:
            continue
        checked += 1
        if vals[name] > limit:
            out.append(Over(b.profile.name, b.kernel.label, b.kernel.model, vals[name], vals[name] - limit, pos))
    if not checked:
        raise KeyError(name)
    out.sort(key=lambda o: (-o.over, o.cpu, o.position))  # kernels in version order, as they were asked for
    return out, checked
