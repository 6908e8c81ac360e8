"""Virtual machine monitors as data: what each release of a VMM does to a guest's CPUID leaf 0xD.

One module per VMM (:mod:`.qemu`, :mod:`.firecracker`); libvirt is a way of driving QEMU and has no
data of its own. The engine that turns a model, a host and its kernel into the guest's CPU is
:mod:`xstatecalc.vcpu`.
"""

from __future__ import annotations

VMMS = ("qemu", "firecracker", "libvirt")


def release_key(text: str) -> tuple[int, ...]:
    """'10.1' -> (10, 1); for ordering releases."""
    return tuple(int(p) for p in text.split("."))
