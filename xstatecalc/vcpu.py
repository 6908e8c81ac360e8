"""What a guest really sees: a VMM's CPU model on a host, cut to what KVM on the host's kernel passes.

A guest never sees the host CPU. QEMU builds its CPUID from a named model (``-cpu SapphireRapids-v3``),
drops what the accelerator cannot give (``x86_cpu_filter_features()``), and takes each XSAVE component's
size and offset from the *host's* CPUID under KVM; Firecracker starts from KVM_GET_SUPPORTED_CPUID and
applies a template. The result is an ordinary :class:`~xstatecalc.profile.Profile` (so every command can
boot a guest kernel on it) plus the leaf 0xD the guest reads, and what was dropped and why.

Spelling, the same wherever a CPU is accepted::

    VMM[-RELEASE]:MODEL[,+feat|,-feat|,feat=on|off ...][@HOST[@HOST_KERNEL]]

    qemu:SapphireRapids-v3@zen4            newest QEMU modelled, host zen4 on the newest kernel
    qemu-10.1:Skylake-Server-v5,-pku@spr@6.8
    qemu:EPYC-Milan@tcg                    QEMU's own TCG, no host
    firecracker-1.12:T2S@skylake-sp        a static template; firecracker:none passes the host through
    libvirt:host-model@spr                 libvirt drives the newest QEMU (host-model, host-passthrough)

The rules are QEMU's and Firecracker's, per release (:mod:`xstatecalc.vmm`), and KVM's, per kernel
(:mod:`xstatecalc.kernels`, :mod:`xstatecalc.guest`).
"""

from __future__ import annotations

import functools

from . import components as C
from . import layout as L
from .errors import InputError
from .records import record
from .vmm import VMMS, release_key

MAX_SPEC = 300
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_IMPLIED_FLAGS = frozenset({"FPU", "FXSR", "XMM", "HYPERVISOR"})  # every x86-64 guest has these
_ECX_SUPERVISOR, _ECX_ALIGN64, _ECX_XFD = 1, 2, 4


class VcpuError(InputError):
    """A vCPU spelling, VMM release or model that does not exist (exit 2, with the closest names)."""


@record
class VcpuSpec:
    text: str
    vmm: str
    release: str | None  # None: the newest modelled
    model: str
    mods: tuple  # ((feature, on: bool), ...) in order
    host: str  # a CPU spec, or "tcg"
    host_kernel: str | None


def is_vcpu_spec(text) -> bool:
    """Whether *text* names a VMM CPU model rather than a CPU or a profile file."""
    if not isinstance(text, str) or ":" not in text:
        return False
    head = text.split(":", 1)[0].lower()
    return head.split("-", 1)[0] in VMMS


def _close(word: str, choices, n=3) -> str:
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)
    return f" (did you mean {', '.join(found)}?)" if found else ""


def parse_spec(text: str, default_host: str = "sapphire-rapids") -> VcpuSpec:
    """Read ``VMM[-RELEASE]:MODEL[,±feat...][@HOST[@HOST_KERNEL]]``. Raises VcpuError."""
    if not isinstance(text, str) or len(text) > MAX_SPEC or not text.isascii() or not text.isprintable():
        raise VcpuError(f"{str(text)[:40]!r}: a vCPU is VMM[-RELEASE]:MODEL[,+feat,-feat][@HOST[@KERNEL]], in "
                        f"printable ASCII of at most {MAX_SPEC} characters")
    head, _, rest = text.partition(":")
    vmm, _, release = head.lower().partition("-")
    if vmm not in VMMS:
        raise VcpuError(f"{text!r}: unknown VMM {vmm!r}; known: {', '.join(VMMS)}{_close(vmm, VMMS)}")
    if release and not all(p.isdigit() and len(p) < 4 for p in release.split(".")):
        raise VcpuError(f"{text!r}: {head!r} is not VMM-RELEASE (qemu-10.1, firecracker-1.12)")
    body, _, where = rest.partition("@")
    host, _, host_kernel = where.partition("@")
    if "@" in host_kernel:
        raise VcpuError(f"{text!r}: at most two '@': MODEL@HOST@HOST_KERNEL")
    parts = body.split(",")
    model, mods = parts[0].strip(), []
    if not model or not set(model) <= _NAME_CHARS:
        raise VcpuError(f"{text!r}: {model[:40]!r} is not a CPU model name")
    for p in parts[1:]:
        p = p.strip()
        if p[:1] in "+-" and len(p) > 1:
            feat, on = p[1:], p[0] == "+"
        elif p.endswith(("=on", "=off")):
            feat, _, val = p.partition("=")
            on = val == "on"
        else:
            raise VcpuError(f"{text!r}: {p[:40]!r}: a modifier is +feat, -feat, feat=on or feat=off")
        if not feat or not set(feat) <= _NAME_CHARS:
            raise VcpuError(f"{text!r}: {feat[:40]!r} is not a feature name")
        mods.append((feat.lower(), on))
    if where and not host:
        raise VcpuError(f"{text!r}: nothing after '@': name the host CPU")
    if "@" in text and host_kernel == "" and where.endswith("@"):
        raise VcpuError(f"{text!r}: nothing after the second '@': name the host kernel")
    return VcpuSpec(text, vmm, release or None, model, tuple(mods), host or default_host, host_kernel or None)


# ------------------------------------------------------------------ the host side: what KVM can pass

@record
class HostSide:
    """What the accelerator offers a guest: features, supported XCR0/XSS and where each component lies."""

    name: str  # the host CPU's name, or "tcg"
    boot: object  # the host Boot (None for TCG)
    accel: str  # "kvm" | "tcg"
    xcr0: int  # KVM_X86_XCOMP_GUEST_SUPP (kvm_caps.supported_xcr0), or TCG's XCR0 word
    xss: int  # kvm_caps.supported_xss
    components: dict  # nr -> (size, offset, ecx): the host's CPUID(0xD, nr), or QEMU's TCG table


def kvm_host(host_boot) -> HostSide:
    """The host as KVM on its kernel presents it (guest.kvm_supported_xcr0/xss: host XCR0 & KVM_SUPPORTED_XCR0)."""
    from .guest import kvm_supported_xcr0, kvm_supported_xss

    p = host_boot.profile
    comps = {n: (c.size, c.offset, c.ecx) for n, c in p.components.items()}
    return HostSide(p.name, host_boot, "kvm", kvm_supported_xcr0(host_boot), kvm_supported_xss(host_boot), comps)


def kvm_flag(host: HostSide, flag: str) -> str | None:
    """Why KVM on this host cannot give a guest *flag* (None: it can). The host kernel's view of the CPU
    (boot_cpu_data, after its options and quirks) is what kvm_set_cpu_caps() masks."""
    b = host.boot
    k = b.kernel
    if flag not in b.flags:
        if flag in b.profile.flags:
            return f"the host kernel ({k.label}) cleared it"
        return f"the host CPU ({b.profile.name}) lacks it"
    if flag not in k.kvm_guest_flags:
        return f"KVM on Linux {k.model} does not pass it to guests"
    amd = b.profile.vendor in ("amd", "hygon")
    if amd and flag == "MPX":
        return "KVM on AMD never passes MPX"
    if amd and flag == "IBT":
        return "KVM on AMD clears IBT (svm_set_cpu_caps())"
    if amd and flag == "XSAVES" and not k.kvm_svm_xsaves:
        return f"KVM on AMD passes XSAVES only from 5.5 (Linux {k.model})"
    if flag == "PKU" and "OSPKE" not in b.flags:
        return "the host kernel does not use protection keys (no OSPKE), so KVM does not pass PKU"
    return None


# ------------------------------------------------------------------ the result

@record
class Dropped:
    feature: str  # the VMM's name for it (a QEMU feature, a template's flag) or a component
    why: str
    components: tuple  # the XSAVE components it takes away (names)

    def record(self) -> dict:
        return {"feature": self.feature, "why": self.why, "components": list(self.components)}


@record
class Vcpu:
    spec: VcpuSpec
    vmm: str
    release: str
    release_status: str
    release_evidence: str
    model: str  # as resolved: "SapphireRapids-v3", "T2S", "host"
    model_version: int | None
    alias: str | None
    requested: tuple  # the model's XSAVE-relevant features after versions and modifiers, VMM spelling
    host: HostSide
    flags: frozenset  # the guest's CPU flags (X86_FEATURE names)
    xcr0: int  # CPUID(0xD,0) EDX:EAX
    xss: int  # CPUID(0xD,1) EDX:ECX
    subleaf1_eax: int
    described: dict  # sub-leaf >= 2 -> (eax, ebx, ecx, edx) as the VMM hands them over
    subleaf0_ecx: int
    subleaf1_ebx: int | None  # the VMM's table value; None: KVM fills it at run time
    dropped: tuple  # Dropped
    notes: tuple
    problems: tuple  # the VMM refuses to start this guest
    profile: object  # the guest as a Profile

    @property
    def label(self) -> str:
        mods = "".join(f",{'+' if on else '-'}{f}" for f, on in self.spec.mods)
        if self.vmm == "libvirt":
            return f"libvirt:{self.model}@{self.host.name} (QEMU {self.release})"
        return f"{self.vmm}-{self.release}:{self.model}{mods}@{self.host.name}"


# ------------------------------------------------------------------ QEMU

def _qemu_release(spec: VcpuSpec):
    from .vmm.qemu import RELEASES

    if spec.release is None:
        return RELEASES[-1]
    for r in RELEASES:
        if r.release == spec.release:
            return r
    names = [r.release for r in RELEASES]
    raise VcpuError(f"{spec.text!r}: QEMU {spec.release} is not modelled; modelled releases: {', '.join(names)}")


def _in(rel: str, first: str, last: str | None) -> bool:
    return release_key(first) <= release_key(rel) and (last is None or release_key(rel) <= release_key(last))


def qemu_models(release: str) -> list[str]:
    """Every ``Name-vN`` and alias that QEMU *release* knows, for completion and did-you-mean."""
    from .vmm.qemu import MODELS

    out = []
    for m in MODELS.values():
        if not _in(release, m.first, m.last):
            continue
        out.append(m.name)
        for n, v in m.versions.items():
            if _in(release, v.first, v.last):
                out.append(f"{m.name}-v{n}")
                if v.alias:
                    out.append(v.alias)
    return out + ["host", "max"]


def _resolve_qemu_model(rel, spec: VcpuSpec):
    """(Model, version number) for a name, Name-vN or alias in this release."""
    from .vmm.qemu import MODELS

    name = spec.model
    by_lower = {m.lower(): m for m in MODELS}
    for m in MODELS.values():
        for n, v in m.versions.items():
            if v.alias and v.alias.lower() == name.lower() and _in(rel.release, v.first, v.last):
                return m, n
    base, ver = name, 1
    low = name.lower()
    if "-v" in low and low.rsplit("-v", 1)[1].isdigit():
        base, ver = name[:low.rindex("-v")], int(low.rsplit("-v", 1)[1])
    m = MODELS.get(by_lower.get(base.lower(), ""))
    if m is None or not _in(rel.release, m.first, m.last):
        raise VcpuError(f"{spec.text!r}: QEMU {rel.release} has no CPU model {name!r}"
                        + _close(name, qemu_models(rel.release)))
    v = m.versions.get(ver)
    if v is None or not _in(rel.release, v.first, v.last):
        have = [f"{m.name}-v{n}" for n, x in m.versions.items() if _in(rel.release, x.first, x.last)]
        raise VcpuError(f"{spec.text!r}: QEMU {rel.release} has no {m.name}-v{ver}; it has {', '.join(have)}")
    return m, ver


def _qemu_features(m, ver: int) -> set:
    feats = set(m.features)
    for n in sorted(m.versions):
        if n > ver:
            break
        for f, val in m.versions[n].set.items():
            if f in ("avx10-version",):
                continue
            (feats.add if val == "on" else feats.discard)(f)
    return feats


def _apply_mods(feats: set, spec: VcpuSpec, known) -> None:
    for f, on in spec.mods:
        if f not in known:
            raise VcpuError(f"{spec.text!r}: {f!r} is not an XSAVE-relevant feature xstatecalc models"
                            + _close(f, sorted(known)) + f"; known: {', '.join(sorted(known))}")
        (feats.add if on else feats.discard)(f)


def _qemu(spec: VcpuSpec, host: HostSide) -> Vcpu:
    from .vmm.qemu import FEATURE_FLAGS, SAVE_AREA_SIZES, SUBLEAF1_FEATURES, TCG_OFFSETS

    rel = _qemu_release(spec)
    tcg = host.accel == "tcg"
    notes, dropped = [], []
    if spec.model.lower() in ("host", "max"):
        if tcg and spec.model.lower() == "host":
            raise VcpuError(f"{spec.text!r}: CPU model 'host' requires KVM (QEMU refuses it under TCG)")
        name, ver, alias = spec.model.lower(), None, None
        # every feature word the accelerator supports (x86_cpu_get_supported_feature_word())
        feats = {f for f, flag in FEATURE_FLAGS.items() if flag and _accel_has(host, rel, f) is None}
        feats &= {f for comp in rel.save_areas.values() for f in comp} | set(SUBLEAF1_FEATURES) | {"xsave"}
        requested = set(feats)
    else:
        m, ver = _resolve_qemu_model(rel, spec)
        name, alias = f"{m.name}-v{ver}", m.versions[ver].alias
        requested = _qemu_features(m, ver)
        if m.versions[ver].status:
            notes.append(f"{name} in QEMU {rel.release}: its existence there is {m.versions[ver].status} "
                         "(no feature of it that moves a number is uncertain)")
    known = {f for f in FEATURE_FLAGS if f in {x for comp in rel.save_areas.values() for x in comp}
             or f in SUBLEAF1_FEATURES or f == "xsave"}
    _apply_mods(requested, spec, known)
    requested &= known
    # x86_cpu_enable_xsave_components(): the mask from the requested features, before any filtering.
    if rel.mpx_apx_exclusive and {"mpx", "apxf"} <= requested:
        requested -= {"mpx", "apxf"}
        dropped.append(Dropped("mpx, apxf", "a model with both MPX and APX gets both masked off (QEMU 11.0+)",
                               tuple(C.names(C.mask_of(C.BNDREGS, C.BNDCSR, C.APX)))))
    mask = 0
    for n, feats_n in rel.save_areas.items():
        if set(feats_n) & requested:
            mask |= C.bit(n)
    xcr0_mask = rel.xcr0_mask if rel.xcr0_mask is not None else ~0
    xss_mask = rel.xss_mask if not rel.supervisor_needs_xsaves or "xsaves" in requested else 0
    want_xcr0, want_xss = mask & xcr0_mask, mask & xss_mask
    # x86_cpu_filter_features(): what the accelerator lacks goes, with a warning (check=on); the XCR0 and
    # XSS words are filtered like any other word, by what the accelerator supports, and never re-derived:
    # a component can stay while the feature that asked for it goes (PKRU without PKU).
    kept = {f for f in requested if _accel_has(host, rel, f) is None}
    if tcg:
        sup_xcr0, sup_xss = (rel.tcg_xcr0 if rel.tcg_xcr0 is not None else ~0), 0
    else:
        sup_xcr0, sup_xss = host.xcr0, host.xss
    if "xsave" in kept:
        xcr0, xss = want_xcr0 & sup_xcr0, want_xss & sup_xss
    else:
        xcr0 = xss = 0
    lost = (want_xcr0 | want_xss) & ~(xcr0 | xss)
    for f in sorted(requested - kept):
        comps = C.mask_of(*[n for n, fs in rel.save_areas.items() if f in fs]) & lost
        dropped.append(Dropped(f, _accel_has(host, rel, f), tuple(C.names(comps))))
        lost &= ~comps
    if lost & ~C.MASK_FPSSE:
        dropped.append(Dropped(" ".join(C.names(lost & ~C.MASK_FPSSE)), "the accelerator's supported XCR0/XSS "
                               + ("(TCG's XCR0 word)" if tcg else
                                  f"(KVM_X86_XCOMP_GUEST_SUPP on Linux {host.boot.kernel.model})") + " leaves it out",
                               tuple(C.names(lost & ~C.MASK_FPSSE))))
    if not tcg:
        _model_lacks(host, requested, rel, xcr0 | xss, dropped)
    flags = {FEATURE_FLAGS[f] for f in kept if FEATURE_FLAGS.get(f)} | _IMPLIED_FLAGS
    if not xcr0:
        flags -= {"XSAVE", "AVX", "AVX512F", "MPX", "PKU", "AMX_TILE", "XFD", "APX", "SHSTK", "IBT"}
        flags -= {FEATURE_FLAGS[f] for f in SUBLEAF1_FEATURES}
    sub1 = sum(1 << i for i, f in enumerate(SUBLEAF1_FEATURES) if f in kept) if xcr0 else 0
    # Where the components lie: the host's CPUID under KVM (kvm_cpu_xsave_init()), QEMU's table under TCG.
    if tcg:
        comps = {n: (size, TCG_OFFSETS.get(n, 0), 0) for n, size in SAVE_AREA_SIZES.items() if n in rel.save_areas}
    else:
        comps = {n: c for n, c in host.components.items() if (host.xcr0 | host.xss) >> n & 1}
    described = {}
    if rel.subleaves == "every-sized":
        # 11.x: [size, offset, ecx] of every component QEMU knows, whatever the guest has. x86_cpu_init_xsave()
        # zeroed the sizes the accelerator lacks; under KVM their offsets stay 0 too (kvm_cpu_xsave_init() skips
        # them), under TCG the fixed offsets remain (seen with 11.1.3: sub-leaves 5-7 read [0, offset, 0, 0]).
        if tcg:
            for n in rel.tcg_described:
                size, off, ecx = comps[n]
                described[n] = (size if sup_xcr0 >> n & 1 else 0, off, ecx, 0)
        else:
            for n in sorted(rel.save_areas):
                if n >= 2 and n in comps and (sup_xcr0 | sup_xss) >> n & 1:
                    size, off, ecx = comps[n]
                    described[n] = (size, off, ecx, 0)
    else:
        for n in C.bits((xcr0 | xss) & ~C.MASK_FPSSE):
            if n not in comps:
                continue
            size, off, ecx = comps[n]
            if rel.subleaves == "in-mask-no-ecx":
                described[n] = (size, off, 0, 0)
            elif xss >> n & 1:
                described[n] = (size, 0, _ECX_SUPERVISOR, 0)
            else:
                described[n] = (size, off, ecx & (_ECX_ALIGN64 | _ECX_XFD), 0)
    # xsave_area_size(): standard from the offsets; compacted without the 64-byte alignment.
    sub0_ecx = _standard(comps, xcr0) if xcr0 else 0
    sub1_ebx = None
    if xcr0 and rel.subleaf1 == "table":
        sub1_ebx = C.XSAVE_HDR_END + sum(comps[n][0] for n in C.bits((xcr0 | xss) & ~C.MASK_FPSSE) if n in comps)
    if not tcg and rel.requests_guest_perm and xcr0 & C.bit(C.XTILE_DATA):
        notes.append("QEMU asks for AMX with ARCH_REQ_XCOMP_GUEST_PERM(XTILEDATA) once, for the first vCPU")
    return _finish(spec, "qemu", rel.release, rel.status, rel.evidence, name, ver, alias, tuple(sorted(requested)),
                   host, flags, xcr0, xss, sub1, described, sub0_ecx, sub1_ebx, dropped, notes, [])


def _accel_has(host: HostSide, rel, feature: str) -> str | None:
    """Why the accelerator lacks a QEMU feature (None: it has it)."""
    from .vmm.qemu import FEATURE_FLAGS

    if host.accel == "tcg":
        return None if feature in rel.tcg_features else "TCG does not emulate it"
    flag = FEATURE_FLAGS.get(feature)
    if flag is None:
        return "not modelled for KVM (no component of its own)"
    return kvm_flag(host, flag)


def _model_lacks(host: HostSide, requested: set, rel, got: int, dropped: list) -> None:
    """Components KVM offers on this host that the model does not ask for, by the feature that would."""
    offered = (host.xcr0 | host.xss) & ~C.MASK_FPSSE & ~got
    by_feature: dict = {}
    for n in C.bits(offered):
        feats = rel.save_areas.get(n)
        if feats and not set(feats) & requested:
            by_feature.setdefault(feats, []).append(C.key(n))
    for feats, names in by_feature.items():
        dropped.append(Dropped(" or ".join(feats), "the model lacks it; the host and KVM offer it", tuple(names)))


def _standard(comps: dict, mask: int) -> int:
    ends = [comps[n][1] + comps[n][0] for n in C.bits(mask & ~C.MASK_FPSSE) if n in comps]
    return max(ends + [C.XSAVE_HDR_END])


# ------------------------------------------------------------------ Firecracker

def _firecracker(spec: VcpuSpec, host: HostSide) -> Vcpu:
    from .vmm.firecracker import RELEASES, TEMPLATE_CLEARS_FLAGS, TEMPLATE_CLEARS_XCR0, TEMPLATES

    if host.accel != "kvm":
        raise VcpuError(f"{spec.text!r}: Firecracker runs only on KVM")
    rels = {r.release: r for r in RELEASES}
    if spec.release is not None and spec.release not in rels:
        raise VcpuError(f"{spec.text!r}: Firecracker {spec.release} is not modelled; modelled releases: "
                        f"{', '.join(rels)}")
    rel = rels[spec.release] if spec.release else RELEASES[-1]
    if spec.mods:
        raise VcpuError(f"{spec.text!r}: Firecracker takes a template, not +feat/-feat (write a custom template as "
                        "a profile instead)")
    name = spec.model.upper() if spec.model.lower() != "none" else "none"
    tpl = TEMPLATES.get(name)
    if name != "none" and (tpl is None or release_key(tpl.first) > release_key(rel.release)):
        have = [t for t, x in TEMPLATES.items() if release_key(x.first) <= release_key(rel.release)]
        raise VcpuError(f"{spec.text!r}: Firecracker {rel.release} has no template {spec.model!r}; it has "
                        f"{', '.join(have)} and none (no template){_close(name, have)}")
    b, k = host.boot, host.boot.kernel
    dropped, notes, problems = [], [], []
    if tpl is not None:
        if tpl.vendor != b.profile.vendor:
            problems.append(f"Firecracker refuses {tpl.name} on a {b.profile.vendor} host: it is for {tpl.vendor} "
                            "CPUs")
        elif rel.exact_template_cpus and (b.profile.family, b.profile.model) not in tpl.exact_cpus:
            problems.append(f"Firecracker {rel.release} refuses {tpl.name} on {b.profile.name} (InvalidCpuModel): "
                            "from 1.12 a static template runs only on the CPUs it was made for")
        notes.append("static CPU templates are deprecated since Firecracker 1.5")
    # KVM_GET_SUPPORTED_CPUID, as the VMM process asked: without ARCH_REQ_XCOMP_GUEST_PERM its guest_perm is
    # the default set, so XTILE_DATA is filtered out (5.17+: permitted_xcr0 = supported & guest perm); before
    # 6.4 XTILE_CFG stays, and a guest kernel that enables it alone takes a #GP in XSETBV (55cd57b596e8).
    xcr0, xss = host.xcr0, host.xss
    amx = C.mask_of(C.XTILE_CFG, C.XTILE_DATA)
    if xcr0 & amx and not rel.requests_amx:
        xcr0 &= ~C.bit(C.XTILE_DATA)
        if k.kvm_filter_xtilecfg:
            xcr0 &= ~C.bit(C.XTILE_CFG)
            dropped.append(Dropped("amx", f"Firecracker {rel.release} never asks ARCH_REQ_XCOMP_GUEST_PERM, so "
                                          f"KVM on Linux {k.model} leaves AMX out of KVM_GET_SUPPORTED_CPUID",
                                   tuple(C.names(amx))))
        else:
            dropped.append(Dropped("xtile_data", f"Firecracker {rel.release} never asks ARCH_REQ_XCOMP_GUEST_PERM",
                                   ("xtile_data",)))
            problems.append(f"KVM on Linux {k.model} still reports XTILE_CFG without XTILE_DATA (no guest permission "
                            f"from Firecracker {rel.release}): a guest kernel that enables it takes a #GP in XSETBV "
                            "and does not boot (fixed in KVM by 55cd57b596e8, 6.4; in Firecracker by PR #5065, 1.12)")
    if rel.release in ("1.12", "1.13") and k.version[:2] == (5, 16):
        problems.append(f"Firecracker {rel.release} fails at start-up on 5.16 hosts: ARCH_REQ_XCOMP_GUEST_PERM "
                        "returns EINVAL (tolerated from 1.14)")
    flags = {f for f in ("XSAVE", "AVX", "AVX512F", "PKU", "MPX", "AMX_TILE", "XFD", "XSAVEOPT", "XSAVEC",
                         "XGETBV1", "XSAVES", "SHSTK", "IBT")
             if kvm_flag(host, f) is None} | _IMPLIED_FLAGS
    if not rel.requests_amx and not xcr0 & amx:
        flags -= {"AMX_TILE"}
    sup_xcr0 = xcr0
    if tpl is not None:
        for f in sorted(TEMPLATE_CLEARS_FLAGS & flags):
            comps = {"MPX": C.MASK_MPX, "AVX512F": C.MASK_AVX512, "PKU": C.bit(C.PKRU)}.get(f, 0) & xcr0
            dropped.append(Dropped(f.lower(), f"the {tpl.name} template clears it", tuple(C.names(comps))))
        flags -= TEMPLATE_CLEARS_FLAGS
        xcr0 &= ~TEMPLATE_CLEARS_XCR0
    sub1 = sum(1 << i for i, f in enumerate(("XSAVEOPT", "XSAVEC", "XGETBV1", "XSAVES", "XFD")) if f in flags)
    comps = {n: host.components[n] for n in host.components if (sup_xcr0 | xss) >> n & 1}
    # Sub-leaves are KVM's for everything it supports, the template's cleared components included.
    described = {n: (size, off, ecx, 0) for n, (size, off, ecx) in sorted(comps.items()) if n >= 2}
    sub0_ecx = _standard(comps, sup_xcr0)
    # KVM_GET_SUPPORTED_CPUID's 0xD.1 EBX (the compacted size of everything supported), kept when the template
    # clears XSAVEC and XSAVES: KVM rewrites it at run time only for a guest that has one of them.
    sub1_ebx = L.compacted_size(b.profile, sup_xcr0 | xss, aligned=k.kvm_xsave_aligned) \
        if {"XSAVEC", "XSAVES"} & b.flags else 0
    notes.append(f"0xD.0 ECX stays KVM's {sub0_ecx} (the size of every supported component): Firecracker never "
                 "recomputes leaf 0xD")
    return _finish(spec, "firecracker", rel.release, "source", rel.evidence, tpl.name if tpl else "none", None, None,
                   tuple(sorted(f.lower() for f in flags - _IMPLIED_FLAGS)), host, flags, xcr0, xss, sub1, described,
                   sub0_ecx, sub1_ebx, dropped, notes, problems)


# ------------------------------------------------------------------ the guest as a profile

def _finish(spec, vmm, release, status, evidence, model, ver, alias, requested, host, flags, xcr0, xss, sub1,
            described, sub0_ecx, sub1_ebx, dropped, notes, problems) -> Vcpu:
    from .profile import Component, Profile

    comps = {}
    for n, (eax, ebx, ecx, _edx) in described.items():
        if (xcr0 | xss) >> n & 1:
            comps[n] = Component(n, eax, ebx if not xss >> n & 1 else 0, bool(xss >> n & 1),
                                 bool(ecx & _ECX_ALIGN64), bool(ecx & _ECX_XFD))
    sub1_flags = {"XSAVEOPT": 1, "XSAVEC": 2, "XGETBV1": 4, "XSAVES": 8, "XFD": 16}
    flags = {f for f in flags if f not in sub1_flags or sub1 & sub1_flags[f]}
    vendor = host.boot.profile.vendor if host.boot is not None else _qemu_vendor(spec, model)
    base = host.boot.profile if host.boot is not None else None
    mods = "".join(f",{'+' if on else '-'}{f}" for f, on in spec.mods)
    label = f"{vmm}-{release}:{model}{mods}@{host.name}"
    # The spelling is the name results carry; a profile file written from it gets profile_name().
    prof = Profile(name=label, vendor=vendor, flags=frozenset(flags),
                   xcr0_supported=xcr0, xss_supported=xss, components=comps,
                   description=f"{label}: a guest's CPU" + (f" on {host.boot.kernel.label}" if host.boot else ""),
                   source=f"xstatecalc vcpu {spec.text}",
                   family=base.family if base else None, model=base.model if base else None)
    return Vcpu(spec, vmm, release, status, evidence, model, ver, alias, requested, host, frozenset(flags), xcr0, xss,
                sub1, described, sub0_ecx, sub1_ebx, tuple(dropped), tuple(notes), tuple(problems), prof)


def _qemu_vendor(spec, model: str) -> str:
    from .vmm.qemu import MODELS

    m = MODELS.get(model.rsplit("-v", 1)[0])
    return m.vendor if m is not None and m.vendor in ("intel", "amd", "hygon", "zhaoxin") else "other"


def profile_name(label: str) -> str:
    """A profile file's name for a guest spelling (letters, digits, . _ + -, at most 64)."""
    raw = label.replace(":", "-").replace("@", "-on-").replace(",", "-").lower()
    name = "".join(ch if ch.isalnum() or ch in "._+-" else "-" for ch in raw)
    return name[:64].rstrip("-.")


# ------------------------------------------------------------------ entry points

def build(spec: VcpuSpec, resolve_host, resolve_kernel) -> Vcpu:
    """The guest CPU for *spec*. *resolve_host* turns a CPU spec into a Profile, *resolve_kernel* a version
    (or None: the newest) into a KernelModel; both raise InputError."""
    from .fpu import boot

    if spec.host.lower() == "tcg":
        if spec.vmm == "firecracker":
            raise VcpuError(f"{spec.text!r}: Firecracker runs only on KVM")
        if spec.host_kernel:
            raise VcpuError(f"{spec.text!r}: TCG has no host kernel to name")
        host = HostSide("tcg", None, "tcg", 0, 0, {})
    else:
        if is_vcpu_spec(spec.host):
            raise VcpuError(f"{spec.text!r}: the host must be a CPU, not another vCPU")
        host = kvm_host(boot(resolve_host(spec.host), resolve_kernel(spec.host_kernel)))
    if spec.vmm == "firecracker":
        return _firecracker(spec, host)
    if spec.vmm == "libvirt":
        mode = spec.model.lower()
        if spec.release:
            raise VcpuError(f"{spec.text!r}: libvirt drives QEMU; the newest QEMU modelled is used (for another "
                            "release write qemu-X.Y:host)")
        if mode not in ("host-model", "host-passthrough"):
            raise VcpuError(f"{spec.text!r}: libvirt's CPU modes here are host-model and host-passthrough (a custom "
                            "model is QEMU's: qemu:NAME)" + _close(mode, ("host-model", "host-passthrough")))
        if host.accel != "kvm":
            raise VcpuError(f"{spec.text!r}: libvirt's {mode} needs KVM")
        v = _qemu(spec._replace(model="host"), host)
        note = ("host-passthrough is QEMU's -cpu host" if mode == "host-passthrough" else
                "host-model is a named model plus every host feature QEMU reports (query-cpu-model-expansion of "
                "host): for leaf 0xD the same components as -cpu host, since libvirt's CPU map names every "
                "XSAVE-relevant feature")
        return v._replace(vmm="libvirt", model=mode, notes=v.notes + (note,))
    return _qemu(spec, host)


def leaf_0xd(v: Vcpu, guest_boot=None) -> dict[int, tuple]:
    """Every non-zero sub-leaf the guest reads, as (eax, ebx, ecx, edx). Under KVM the two EBX values are
    KVM's, for the XCR0 (and, from host 6.18, IA32_XSS) the guest kernel enabled (*guest_boot*; without it,
    every component advertised); under TCG QEMU computes 0xD.0 EBX and keeps its table's 0xD.1 EBX."""
    if not v.xcr0:
        return {}
    comps = v.profile.components
    on_xcr0 = guest_boot.xcr0 if guest_boot is not None and guest_boot.xsave else v.xcr0
    on_xss = guest_boot.xss if guest_boot is not None and guest_boot.xsave else v.xss
    ebx0 = L.standard_size(v.profile, on_xcr0, "offset") if comps or on_xcr0 else C.XSAVE_HDR_END
    out = {0: (v.xcr0 & 0xFFFFFFFF, ebx0, v.subleaf0_ecx, v.xcr0 >> 32)}
    k = v.host.boot.kernel if v.host.boot is not None else None
    if k is not None and v.subleaf1_eax & 0b1010:  # XSAVEC or XSAVES: kvm_update_cpuid_runtime()
        mask = on_xcr0 | (on_xss if k.kvm_xss_in_cpuid else 0)
        ebx1 = L.compacted_size(v.profile, mask, aligned=k.kvm_xsave_aligned)
    else:
        ebx1 = v.subleaf1_ebx or 0
    sub1 = (v.subleaf1_eax, ebx1, v.xss & 0xFFFFFFFF, v.xss >> 32)
    if any(sub1):
        out[1] = sub1
    for n, regs in sorted(v.described.items()):
        if any(regs):
            out[n] = regs
    return out


@functools.lru_cache(maxsize=256)
def resolve_vcpu(text: str, default_host: str = "sapphire-rapids") -> Vcpu:
    """The guest CPU a spelling names (hosts by name, alias, file or 'host'; host kernels by version)."""
    from .kernels import resolve_kernel

    return build(parse_spec(text, default_host), _host_cpu, resolve_kernel)


def _host_cpu(spec: str):
    if spec.strip().lower() == "host":
        from .host import host_profile

        return host_profile()
    from .profile import resolve

    return resolve(spec)


def guest_profile(text: str, default_host: str = "sapphire-rapids"):
    """The guest's CPU as a Profile: every command can boot a kernel on it."""
    return resolve_vcpu(text, default_host).profile


def split_cpu_list(text: str) -> list[str]:
    """Split a comma-separated --cpu list, keeping a vCPU's modifiers with it:
    'spr,qemu:SapphireRapids-v2,-amx-tile@zen4' -> ['spr', 'qemu:SapphireRapids-v2,-amx-tile@zen4']."""
    out: list[str] = []
    for part in text.split(","):
        item = part.strip()
        if out and is_vcpu_spec(out[-1]) and "@" not in out[-1] and (item[:1] in "+-" or "=" in item):
            out[-1] += "," + item
        else:
            out.append(item)
    return out


def qemu_runs_everywhere(hosts: list) -> list:
    """Per QEMU release: (release, model, xcr0, xss, standard sizes by host) of the largest named model version
    that every host in *hosts* (KVM HostSides) runs without dropping an XSAVE-relevant feature or component;
    model None when no model with XSAVE does."""
    from .vmm.qemu import FEATURE_FLAGS, MODELS, RELEASES, SUBLEAF1_FEATURES

    out = []
    vendors = [h.boot.profile.vendor if h.boot is not None else "" for h in hosts]
    for rel in RELEASES:
        known = {f for comp in rel.save_areas.values() for f in comp} | set(SUBLEAF1_FEATURES) | {"xsave"}
        avail = [{f for f in known if FEATURE_FLAGS.get(f) and _accel_has(h, rel, f) is None} for h in hosts]
        best = None
        for m in MODELS.values():
            if not _in(rel.release, m.first, m.last):
                continue
            for ver, v in m.versions.items():
                if not _in(rel.release, v.first, v.last):
                    continue
                feats = _qemu_features(m, ver) & known
                if "xsave" not in feats or any(not feats <= a for a in avail):
                    continue
                mask = 0
                for n, fs in rel.save_areas.items():
                    if set(fs) & feats:
                        mask |= C.bit(n)
                xss_mask = rel.xss_mask if not rel.supervisor_needs_xsaves or "xsaves" in feats else 0
                xcr0, xss = mask & (rel.xcr0_mask if rel.xcr0_mask is not None else ~0), mask & xss_mask
                if any(xcr0 & ~h.xcr0 or xss & ~h.xss for h in hosts):
                    continue
                from .vmm.qemu import SAVE_AREA_SIZES

                # Among equals, a model of the hosts' own vendor: what libvirt's baseline would name.
                rank = (bin(xcr0 | xss).count("1"), sum(SAVE_AREA_SIZES.get(n, 0) for n in C.bits(xcr0 | xss)),
                        sum(1 for v_ in vendors if v_ == m.vendor), len(feats), release_key(v.first), ver)
                if best is None or rank > best[0]:
                    best = (rank, f"{m.name}-v{ver}", xcr0, xss)
        if best is None:
            out.append((rel.release, None, 0, 0, {}))
            continue
        _, name, xcr0, xss = best
        sizes = {h.name: _standard(h.components, xcr0) for h in hosts}
        out.append((rel.release, name, xcr0, xss, sizes))
    return out
