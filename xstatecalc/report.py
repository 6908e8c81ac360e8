"""Results as plain data: the documented JSON contract and its dotted value names.

``sizes_record()`` is what ``xstatecalc sizes --format json`` prints for one
CPU; ``flat_values()`` names every number in it with the dotted names used by
``verify`` expectations and ``--explain`` (``kernel.max.size``, ``abi.sigframe_min``).
"""

from __future__ import annotations

from . import components as C
from . import layout as L
from .fpu import Boot, Options
from .sigframe import frame_size

CONFIG_NAMES = {
    ("kernel", "max"): "fpu_kernel_cfg.max_features / max_size",
    ("kernel", "default"): "fpu_kernel_cfg.default_features / default_size",
    ("user", "max"): "fpu_user_cfg.max_features / max_size",
    ("user", "default"): "fpu_user_cfg.default_features / default_size",
    ("guest", "max"): "= fpu_kernel_cfg.max (guest with every dynamic feature permitted)",
    ("guest", "default"): "guest_default_cfg.features / size (the review's fpu_guest_cfg)",
}
CONFIGS = [("kernel", "max"), ("kernel", "default"), ("user", "max"), ("user", "default"),
           ("guest", "max"), ("guest", "default")]


def hexm(mask: int) -> str:
    return f"{mask:#x}"


def kernel_fields(k) -> dict:
    """The kernel a result is for, and the model that produced it (every JSON object with "kernel" has both)."""
    return {"kernel": k.label, "model": k.model}


def switch_records(b: Boot) -> list[dict]:
    """Every switch that differs from the distribution defaults, with the mechanism it took."""
    return [{"switch": sw, "mechanism": kind, "effect": how} for sw, kind, how in b.switches]


def sigframe_variants(b: Boot) -> tuple[int | None, int | None]:
    """AT_MINSIGSTKSZ with and without IA32 emulation."""
    if not b.kernel.sigframe or not b.options.x86_64:
        return None, None  # before 5.14 no AT_MINSIGSTKSZ; a 32-bit kernel has no IA32 emulation to choose
    return frame_size(b, b.user_max.size, ia32=True), frame_size(b, b.user_max.size, ia32=False)


def sizes_record(b: Boot) -> dict:
    """The JSON object of one CPU on one kernel (the stable contract of `sizes`)."""
    configs: dict = {}
    for which, variant in CONFIGS:
        cfg = b.config(which, variant)
        configs.setdefault(which, {})[variant] = {
            "features": hexm(cfg.features),
            "names": C.names(cfg.features),
            "format": cfg.format,
            "size": cfg.size,
        }
    with_ia32, without_ia32 = sigframe_variants(b)
    return {
        "cpu": b.profile.name,
        **kernel_fields(b.kernel),
        "options": b.options.describe(),
        "switches": switch_records(b),
        "xsave": b.xsave,
        "compacted": b.compacted,
        "xcr0": hexm(b.xcr0),
        "xss": hexm(b.xss),
        "configs": configs,
        "abi": {
            "sigframe_min": b.sigframe_min,
            "sigframe_min_ia32_emulation": with_ia32,
            "sigframe_min_no_ia32_emulation": without_ia32,
            "regset_xstate": b.regset_xstate,
            "xsave_disabled_reason": b.disabled_reason,
        },
        "dropped": [{"feature": C.key(n), "nr": n, "why": why} for n, why in sorted(b.dropped.items())],
        "problems": list(b.problems),
    }


def flat_values(record: dict) -> dict:
    """Dotted names for every value of a sizes record: kernel.max.size, abi.sigframe_min, ..."""
    out = {"xsave": record["xsave"], "compacted": record["compacted"],
           "xcr0": record["xcr0"], "xss": record["xss"]}
    for which, variants in record["configs"].items():
        for variant, cfg in variants.items():
            for k in ("features", "format", "size"):
                out[f"{which}.{variant}.{k}"] = cfg[k]
    for k, v in record["abi"].items():
        if k != "xsave_disabled_reason":
            out[f"abi.{k}"] = v
    return out


def explain(b: Boot) -> list[str]:
    """How each number came about, in words (the `--explain` text)."""
    p, k = b.profile, b.kernel
    out = [f"CPU {p.name}: XCR0-supported {hexm(p.xcr0_supported)}, IA32_XSS-supported {hexm(p.xss_supported)}"
           f"{' (HYPOTHETICAL profile)' if p.hypothetical else ''}.",
           f"Kernel {k.label}, model {k.model}; build options: "
           + ", ".join(f"{a}={v}" for a, v in b.options.describe().items() if a.startswith("CONFIG_"))
           + (f"; command line: {' '.join(b.options.cmdline)}" if b.options.cmdline else "") + "."]
    out += [f"{sw} ({kind}): {how}." for sw, kind, how in b.switches]
    if not b.xsave:
        out.append(f"XSAVE is not used: {b.disabled_reason}. Every buffer is the legacy "
                   f"{b.legacy_size}-byte {'FXSAVE' if b.legacy_size == 512 else 'FSAVE'} image.")
        return out
    for n, why in sorted(b.dropped.items()):
        out.append(f"Dropped {n} {C.key(n)}: {why}.")
    via = [f for f in k.compacted_via if f in b.flags]
    out.append(f"Format: {'compacted, because the CPU has ' + ' and '.join(via) if b.compacted else 'standard: Linux ' + k.label + ' needs ' + k.compacted_flag_text + ' for the compacted format'}"
               f" (kernel and guest buffers; user buffers are always standard).")
    if k.fpu_cfg:
        dyn = C.names(b.kernel_max.features & k.user_dynamic)
        guest_only = C.names(b.kernel_max.features & k.guest_supervisor)
        out.append(f"Default sets leave out the dynamic features ({', '.join(dyn) or 'none present'})"
                   + (f"; host defaults also leave out the guest-only supervisor features ({', '.join(guest_only)})"
                      if guest_only else "") + ".")
    else:
        out.append(f"Linux {k.label} has a single feature mask (xfeatures_mask_all): default = max.")
    for which, variant in CONFIGS:
        cfg = b.config(which, variant)
        out.append(f"{which}.{variant}.size = {cfg.size}: {_size_story(b, cfg)}")
    out.append("guest.default is guest_default_cfg in mainline (6.17+); the review called it fpu_guest_cfg. "
               "Before 6.17 it equals kernel.default. guest.max has no kernel field: it is kernel.max.")
    if b.sigframe_min is not None:
        ia32 = b.options.ia32_emulation or not b.options.x86_64
        frame = "sizeof(struct sigframe_ia32) 736" if ia32 else "sizeof(struct rt_sigframe) 440"
        out.append(f"abi.sigframe_min = {b.sigframe_min} = round_up({frame} + 15 + user.max.size {b.user_max.size}"
                   f" + 4 (FP_XSTATE_MAGIC2){' + 112 (fregs_state)' if ia32 else ''} + 63, 16): AT_MINSIGSTKSZ and "
                   f"'signal: max sigframe size', computed once from user.max.size.")
    out.append(f"abi.regset_xstate = user.max.size = {b.user_max.size}: the NT_X86_XSTATE ptrace/core-dump regset.")
    out += [f"Kernel message: {m}" for m in b.problems]
    return out


def _size_story(b: Boot, cfg) -> str:
    p = b.profile
    if cfg.features & ~C.MASK_FPSSE == 0:
        return "only x87/SSE: the 512-byte legacy area plus the 64-byte header."
    if cfg.compacted:
        offs = L.compacted_offsets(p, cfg.features)
        last = max(offs)
        pads, end = [], C.XSAVE_HDR_END
        for n, off in offs.items():
            if off > end:
                pads.append(f"{off - end} bytes before {C.key(n)} (align64)")
            end = off + p.components[n].size
        s = f"compacted; {C.key(last)} (component {last}) ends the buffer at {offs[last]} + {p.components[last].size}"
        return s + (f"; padding: {', '.join(pads)}." if pads else "; no alignment padding.")
    order = b.kernel.std_size_order
    last = L.last_in_buffer(p, cfg.features, order)
    top = max(C.bits(cfg.features & ~C.MASK_FPSSE & ~b.profile.xss_supported), default=None)
    s = f"standard; {C.key(last.nr)} (component {last.nr}) at CPUID offset {last.offset} + {last.size}"
    if top is not None and last.nr != top:
        s += f" — not the highest-numbered component ({C.key(top)} sits at {p.components[top].offset})"
    return s + "."


def component_class(b: Boot, nr: int) -> str:
    return kernel_class(b.kernel, nr)


def kernel_class(k, nr: int) -> str:
    """user, dynamic, supervisor, guest-only, independent, legacy or unsupported, in kernel *k*'s masks."""
    if nr in (C.FP, C.SSE):
        return "legacy"
    if k.independent >> nr & 1:
        return "independent"
    if k.guest_supervisor >> nr & 1:
        return "guest-only"
    if k.user_dynamic >> nr & 1:
        return "dynamic"
    if k.user_supported >> nr & 1:
        return "user"
    if k.supervisor_supported >> nr & 1:
        return "supervisor"
    return "unsupported"


def features_record(b: Boot) -> list[dict]:
    """One entry per XSAVE component the CPU enumerates (x87/SSE included)."""
    p = b.profile
    rows = []
    for nr in sorted({C.FP, C.SSE} | set(p.components)):
        comp = p.components.get(nr)
        in_sets = [f"{w}.{v}" for w, v in CONFIGS if b.config(w, v).features >> nr & 1 and b.xsave]
        legacy = L.LEGACY.get(nr)
        rows.append({
            "nr": nr,
            "name": C.key(nr),
            "kernel_name": b.kernel.xfeature_names.get(nr, "unknown xstate feature"),
            "size": comp.size if comp else legacy[1],
            "offset": (comp.offset if comp and not comp.supervisor else None) if comp else legacy[0],
            "supervisor": bool(comp and comp.supervisor),
            "align64": bool(comp and comp.align64),
            "xfd": bool(comp and comp.xfd),
            "class": component_class(b, nr),
            "enabled": bool(b.kernel_max.features >> nr & 1) if b.xsave else nr in (C.FP, C.SSE),
            "in_configs": in_sets,
            "why_not": b.dropped.get(nr) or (None if b.xsave else b.disabled_reason),
        })
    return rows


def layout_record(profile, mask: int) -> dict:
    std, cmp = L.layout_rows(profile, mask)

    def rows(rs):
        return [{"nr": r.nr, "name": r.name, "segment": r.kind, "size": r.size, "std_offset": r.std_offset,
                 "compacted_offset": r.cmp_offset, "align64": r.align64, "supervisor": r.supervisor,
                 "pad_before": r.pad_before} for r in rs]

    return {
        "cpu": profile.name,
        "features": hexm(mask),
        "names": C.names(mask),
        "standard_size": L.standard_size(profile, mask),
        "compacted_size": L.compacted_size(profile, mask),
        "standard_layout": rows(std),
        "compacted_layout": rows(cmp),
    }


__all__ = ["sizes_record", "flat_values", "explain", "features_record", "layout_record", "Options"]
