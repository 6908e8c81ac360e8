"""`compare`: can XSAVE state move from one CPU to another?

Three consumers, three rules:

* KVM live migration: the destination must support every component a source
  guest may have enabled (kvm_caps.supported_xcr0/xss); a VMM that copies the
  raw KVM_GET_XSAVE2 blob (Firecracker and cloud-hypervisor snapshots) also needs
  identical standard offsets, because KVM_SET_XSAVE reads the blob with the
  destination's CPUID offsets (copy_uabi_to_xstate).
* rr record/replay: every component both CPUs use must have the same size,
  offset and alignment, and the replay CPU must have every recorded component.
* CRIU: criu/arch/x86/cpu.c cpu_validate_features() with the default
  --cpu-cap=fpu: source xfeatures ⊆ destination, and CPUID(0xD,0) EBX and ECX equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import components as C
from . import layout as L
from .fpu import Boot
from .guest import kvm_std_size, kvm_supported_xcr0, kvm_supported_xss


CONSUMERS = ("kvm", "raw", "rr", "criu")  # what `compare --for` chooses; each verdict belongs to one
CONSUMER_TITLES = {"kvm": "KVM live migration", "raw": "a VMM copying the KVM_GET_XSAVE2 blob: Firecracker, "
                   "cloud-hypervisor snapshots", "rr": "rr record/replay", "criu": "CRIU restore"}


@dataclass
class Verdict:
    consumer: str  # one of CONSUMERS
    name: str
    ok: bool
    rule: str
    reasons: list[str] = field(default_factory=list)
    gates: bool = True  # decides the exit code (compare --for)

    def record(self) -> dict:
        return {"for": self.consumer, "name": self.name, "ok": self.ok, "gates": self.gates, "rule": self.rule,
                "reasons": self.reasons}


def gate(verdicts: list[Verdict], consumers) -> bool:
    """Mark the verdicts of *consumers* (all when empty) as deciding; True when all of those pass."""
    chosen = set(consumers or CONSUMERS)
    for v in verdicts:
        v.gates = v.consumer in chosen
    return all(v.ok for v in verdicts if v.gates)


def _names(mask: int) -> str:
    return ", ".join(C.names(mask)) or "none"


def _set_xsave_verdict(src: Boot, dst: Boot, hosts) -> Verdict:
    """KVM_SET_XSAVE on the destination's kernel, fed what KVM_GET_XSAVE made on the source's (kvmblob)."""
    from .kvmblob import guest_kinds, transfer

    if hosts is not None:
        sh, dh, kind = hosts
        kinds = [kind]
    else:
        sh, dh = src, dst
        kinds = guest_kinds(kvm_supported_xcr0(src), kvm_supported_xcr0(dst))
    results = [transfer(sh, dh, k, kvm_supported_xcr0(sh), kvm_supported_xcr0(dh)) for k in kinds]
    bad = [t for t in results if not t.ok]
    return Verdict("kvm", "KVM_SET_XSAVE accepts the blob", not bad,
                   f"the blob KVM_GET_XSAVE makes on Linux {sh.kernel.label} is one KVM_SET_XSAVE on Linux "
                   f"{dh.kernel.label} accepts, for " + ", ".join(k.name for k in kinds) + " (kernel rules: "
                   "xstatecalc kernels)", _by_reason(bad))


def _by_reason(bad) -> list[str]:
    # Guest kinds refused for one reason are named together: the reason is said once.
    kinds: dict = {}
    for t in bad:
        kinds.setdefault(t.reason, []).append(t.guest)
    return [f"{', '.join(g)}: {reason}" for reason, g in kinds.items()]


def component_rows(src: Boot, dst: Boot) -> list[dict]:
    """Per component: what each side enumerates and where the kernel puts it."""
    rows = []
    so = L.compacted_offsets(src.profile, src.kernel_max.features) if src.compacted else {}
    do = L.compacted_offsets(dst.profile, dst.kernel_max.features) if dst.compacted else {}
    for n in sorted(set(src.profile.components) | set(dst.profile.components)):
        sides = []
        for b, offs in ((src, so), (dst, do)):
            c = b.profile.components.get(n)
            sides.append(None if c is None else {
                "size": c.size, "std_offset": None if c.supervisor else c.offset,
                "compacted_offset": offs.get(n), "align64": c.align64, "supervisor": c.supervisor,
                "enabled": bool(b.kernel_max.features >> n & 1)})
        differs = sides[0] is None or sides[1] is None or any(
            sides[0][k] != sides[1][k] for k in ("size", "std_offset", "align64", "supervisor"))
        rows.append({"nr": n, "name": C.key(n), "src": sides[0], "dst": sides[1], "differs": differs})
    return rows


def _side_names(src: Boot, dst: Boot, brief: bool) -> tuple[str, str]:
    if brief:
        return "the source", "the destination"
    return src.profile.name, dst.profile.name


def _lacks(dst: Boot, mask: int, dn: str, what: str) -> str:
    """Components of *mask* the destination cannot take: the CPU lacks them, or its kernel does not offer them."""
    hw = mask & ~dst.profile.supported
    out = [f"{dn} lacks {_names(hw)}"] if hw else []
    if mask & ~hw:
        out.append(f"{what} on Linux {dst.kernel.label} does not offer {_names(mask & ~hw)} on {dn}")
    return "; ".join(out)


def _layout_reasons(src: Boot, dst: Boot, mask: int, keys=("size", "offset"), brief: bool = False) -> list[str]:
    """Why the two layouts differ for the components of *mask*: one sentence per component and quantity, or
    (*brief*) one per quantity naming the components, the machines called the source and the destination."""
    sp, dp = src.profile, dst.profile
    sn, dn = _side_names(src, dst, brief)
    found: dict = {k: [] for k in keys}
    for n in C.bits(mask & ~C.MASK_FPSSE):
        a, b = sp.components.get(n), dp.components.get(n)
        if a is None or b is None or a.supervisor:
            continue
        if "size" in keys and a.size != b.size:
            found["size"].append((n, f"{C.key(n)} is {a.size} bytes on {sn} but {b.size} on {dn}"))
        if "offset" in keys and a.offset != b.offset:
            found["offset"].append((n, f"{C.key(n)} at {a.offset} on {sn} but {b.offset} on {dn}"))
        if "align" in keys and a.align64 != b.align64:
            found["align"].append((n, f"{C.key(n)} is {'' if a.align64 else 'not '}64-byte aligned on {sn} "
                                      f"but {'' if b.align64 else 'not '}on {dn}"))
    if brief:
        what = {"size": "sizes differ", "offset": "offsets differ", "align": "alignment differs"}
        out = [f"{what[k]} for {', '.join(C.key(n) for n, _ in v)}" for k, v in found.items() if v]
    else:
        out = [text for _, i, text in sorted((n, keys.index(k), t) for k, v in found.items() for n, t in v)]
    # The usual cause, said once: an AMD CPU has no MPX area, so everything above it sits 256 bytes lower.
    shifted = [n for n in C.bits(mask & ~C.MASK_FPSSE) if n > C.BNDCSR and n in sp.components and n in dp.components
               and not sp.components[n].supervisor and abs(sp.components[n].offset - dp.components[n].offset) == 256]
    if "offset" in keys and shifted:
        lower = sn if sp.components[shifted[0]].offset < dp.components[shifted[0]].offset else dn
        out.append(f"{lower} has no MPX area (Intel keeps bytes 960-1087 for it)")
    return out


def verdicts(src: Boot, dst: Boot, hosts=None, brief: bool = False) -> tuple[list[Verdict], dict]:
    """The migration, replay and checkpoint verdicts, plus the common feature set a VMM can mask to.

    *src* and *dst* are the machines whose state moves. For guests of a VMM CPU model they are the guests, and
    *hosts* = (source host Boot, destination host Boot, the guest's kvmblob.GuestKind) says which host kernels
    move the blob. *brief* (pools): layout differences name the components, not every offset, and the machines
    are the source and the destination, so that pairs failing for one cause group."""
    out = []
    sn, dn = _side_names(src, dst, brief)
    sx, dx = kvm_supported_xcr0(src), kvm_supported_xcr0(dst)
    sxs, dxs = kvm_supported_xss(src), kvm_supported_xss(dst)
    missing = (sx & ~dx) | (sxs & ~dxs)
    out.append(Verdict(
        "kvm", "KVM live migration", not missing,
        "every component a source guest may enable (KVM supported XCR0/XSS with full permission) exists on the "
        "destination",
        [_lacks(dst, missing, dn, "KVM")] if missing else []))
    out.append(_set_xsave_verdict(src, dst, hosts))
    blob = max(4096, kvm_std_size(src, sx))
    room = max(4096, kvm_std_size(dst, dx))
    out.append(Verdict(
        "kvm", "KVM_SET_XSAVE size", blob <= room,
        "the source's largest KVM_GET_XSAVE2 blob fits the destination's KVM_CAP_XSAVE2",
        [] if blob <= room else [f"blob of {blob} bytes > {room} on {dn}"]))
    reasons = _layout_reasons(src, dst, sx & dx, brief=brief)
    out.append(Verdict(
        "raw", "raw KVM_GET_XSAVE2 blob", not reasons and not missing,
        "same standard offset and size for every component the guest may use (snapshots that copy the blob: "
        "Firecracker, cloud-hypervisor)", reasons + ([_lacks(dst, missing, dn, "KVM")] if missing else [])))
    su, du = src.xcr0, dst.xcr0
    rr = _layout_reasons(src, dst, su & du, ("size", "offset", "align"), brief)
    if su & ~du:
        hw = su & ~du & ~dst.profile.supported
        rr.insert(0, f"the trace may use {_names(su & ~du)}, which " + (
            f"{dn} lacks" if hw == su & ~du else f"Linux {dst.kernel.label} does not enable on {dn}" if not hw
            else f"{dn} lacks or does not enable"))
    out.append(Verdict("rr", "rr record/replay", not rr,
                       "replay CPU has every recorded component, with identical size, offset and alignment", rr))
    criu = []
    sp, dp = src.profile, dst.profile
    if sp.xcr0_supported & ~dp.xcr0_supported:
        criu.append(f"CPU xfeatures has unsupported bits ({sp.xcr0_supported & ~dp.xcr0_supported:#x}): "
                    f"{_names(sp.xcr0_supported & ~dp.xcr0_supported)}")
    if src.user_max.size != dst.user_max.size:
        criu.append(f"CPU xsave size mismatch ({src.user_max.size}/{dst.user_max.size}): CPUID(0xD,0).EBX")
    smax, dmax = L.standard_size(sp, sp.xcr0_supported, "offset"), L.standard_size(dp, dp.xcr0_supported, "offset")
    if smax != dmax:
        criu.append(f"CPU xsave max size mismatch ({smax}/{dmax}): CPUID(0xD,0).ECX")
    out.append(Verdict("criu", "CRIU restore", not criu,
                       "criu --cpu-cap=fpu: source xfeatures within the destination's, 0xD.0 EBX and ECX equal",
                       criu))
    common = sx & dx
    common_info = {
        "xcr0": f"{common:#x}", "names": C.names(common), "xss": f"{sxs & dxs:#x}",
        "standard_size": {"src": kvm_std_size(src, common), "dst": kvm_std_size(dst, common)},
        "compacted_size": {"src": L.compacted_size(sp, common | (sxs & dxs)),
                           "dst": L.compacted_size(dp, common | (sxs & dxs))},
    }
    return out, common_info
