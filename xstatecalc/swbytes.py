"""A signal frame's software bytes: what the kernel writes after the XSAVE image's legacy part, and checks.

arch/x86/kernel/fpu/signal.c: save_sw_bytes() fills struct _fpx_sw_bytes at fpstate + 464 (magic1
FP_XSTATE_MAGIC1, extended_size, xfeatures, xstate_size; uapi/asm/sigcontext.h) and save_xstate_epilog()
puts FP_XSTATE_MAGIC2 after the image, at fpstate + xstate_size; on sigreturn check_xstate_in_sigframe()
reads them back and restores x87/SSE only (fx_only) when one is wrong. Kept apart from sigframe.py, which
every `sizes` call imports.
"""

from __future__ import annotations

from . import components as C
from .records import record
from .sigframe import FP_XSTATE_MAGIC1, FP_XSTATE_MAGIC2, FP_XSTATE_MAGIC2_SIZE, MIN_XSTATE_SIZE

@record
class SwBytes:
    """What a kernel writes into a signal frame's struct _fpx_sw_bytes (fpstate + 464), and FP_XSTATE_MAGIC2
    after the XSAVE image (fpstate + xstate_size; None: not written)."""

    variant: str  # 64-bit | 64-bit, AMX in use | ia32 | i386 | ... without XSAVE
    magic1: int
    extended_size: int
    xfeatures: int
    xstate_size: int
    magic2: int | None

    def fields(self) -> dict:
        return {"magic1": self.magic1, "extended_size": self.extended_size, "xfeatures": self.xfeatures,
                "xstate_size": self.xstate_size, "magic2": self.magic2}


def sw_bytes(b) -> list[SwBytes]:
    """Every _fpx_sw_bytes this kernel may write on this CPU, by kind of frame.

    5.16+ (fpu/signal.c save_sw_bytes()): magic1, extended_size = fpstate->user_size + FP_XSTATE_MAGIC2_SIZE
    (+ sizeof(struct fregs_state) in an ia32 frame), xfeatures = fpstate->user_xfeatures, xstate_size =
    fpstate->user_size: the default user set until a dynamic feature is first used (fpstate_realloc()), and
    written even when XSAVE is off (user_size is then the legacy 512, and no FP_XSTATE_MAGIC2 follows).
    Before 5.16 the same arithmetic on fpu_user_xstate_size, fixed at boot (fx_sw_reserved and
    fx_sw_reserved_ia32 from fpu__init_prepare_fx_sw_frame()), left zero when XSAVE is off. An ia32
    process never uses AMX (64-bit mode only), so its frame is always the default one. No FXSR: an fnsave
    frame has no software bytes at all."""
    if "FXSR" not in b.flags:
        return []
    if not b.xsave and not b.kernel.fpu_cfg:
        return [SwBytes("without XSAVE (before 5.16)", 0, 0, 0, 0, None)]
    magic2 = FP_XSTATE_MAGIC2 if b.xsave else None
    suffix = "" if b.xsave else ", XSAVE off"

    def make(variant, cfg, extra=0):
        return SwBytes(variant + suffix, FP_XSTATE_MAGIC1, cfg.size + FP_XSTATE_MAGIC2_SIZE + extra, cfg.features,
                       cfg.size, magic2)

    out = []
    ud, um = b.user_default, b.user_max
    if b.options.x86_64:
        out.append(make("64-bit", ud))
        if b.xsave and um.features != ud.features:
            out.append(make("64-bit, AMX in use", um))
    if b.options.ia32_emulation or not b.options.x86_64:
        out.append(make("ia32" if b.options.x86_64 else "i386", ud, C.FSAVE_SIZE))
    return out


@record
class FrameCheck:
    """One rule a frame's software bytes must follow, and whether the frame given does."""

    name: str
    ok: bool
    detail: str

    def record(self) -> dict:  # as dmesg --check's checks
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def frame_checks(sw: dict, image_size: int | None = None) -> list[FrameCheck]:
    """The rules a frame's software bytes follow whatever the CPU, for the fields given in *sw* (magic1,
    extended_size, xfeatures, xstate_size, magic2: any of them); *image_size*: bytes of a dumped fpstate,
    whose end may cut off FP_XSTATE_MAGIC2. save_sw_bytes() writes them, check_xstate_in_sigframe() reads
    them back on sigreturn and falls back to x87/SSE only (fx_only) when one fails."""
    out = []
    fx_only = ("sigreturn then restores x87 and SSE only and the other registers return to their initial "
               "state (check_xstate_in_sigframe(): fx_only)")
    m1, ext, xf, xs, m2 = (sw.get(k) for k in ("magic1", "extended_size", "xfeatures", "xstate_size", "magic2"))
    if m1 is not None:
        if m1 == FP_XSTATE_MAGIC1:
            out.append(FrameCheck("magic1", True, f"{m1:#x} is FP_XSTATE_MAGIC1: the kernel wrote these bytes "
                                                  "(save_sw_bytes())"))
        elif m1 == 0:
            out.append(FrameCheck("magic1", False, "0: no extended state here, as a kernel before 5.16 without "
                                                   f"XSAVE leaves it, or cleared by hand; {fx_only}"))
        else:
            out.append(FrameCheck("magic1", False, f"{m1:#x} is not FP_XSTATE_MAGIC1 ({FP_XSTATE_MAGIC1:#x}); "
                                                   + fx_only))
    if ext is not None and xs is not None:
        d = ext - xs
        if d == FP_XSTATE_MAGIC2_SIZE:
            out.append(FrameCheck("extended_size", True, f"{ext} = xstate_size {xs} + FP_XSTATE_MAGIC2_SIZE 4: a "
                                                         "64-bit frame"))
        elif d == FP_XSTATE_MAGIC2_SIZE + C.FSAVE_SIZE:
            out.append(FrameCheck("extended_size", True, f"{ext} = xstate_size {xs} + 4 + 112 (struct "
                                                         "fregs_state): an ia32 frame"))
        else:
            out.append(FrameCheck("extended_size", False, f"{ext} - xstate_size {xs} = {d}: save_sw_bytes() "
                                  "writes xstate_size + 4 in a 64-bit frame, + 116 in an ia32 one"
                                  + (f"; and xstate_size > extended_size: {fx_only}" if d < 0 else "")))
    if xs is not None:
        if xs == C.FXSAVE_SIZE:
            out.append(FrameCheck("xstate_size", True, "512: the legacy FXSAVE image of a kernel with XSAVE off "
                                  "(5.16+ writes the bytes anyway, without FP_XSTATE_MAGIC2)"))
        elif xs < MIN_XSTATE_SIZE:
            out.append(FrameCheck("xstate_size", False, f"{xs} is less than the {MIN_XSTATE_SIZE}-byte legacy area "
                                  f"and XSAVE header; {fx_only}"))
        else:
            out.append(FrameCheck("xstate_size", True, f"{xs}: at least the {MIN_XSTATE_SIZE}-byte legacy area and "
                                  "XSAVE header"))
    if xf is not None:
        # fpstate->user_xfeatures is XCR0 less the dynamic features not yet in use: XTILE_CFG without
        # XTILE_DATA is the default set of an AMX kernel, every other XSETBV rule holds as for XCR0.
        xtile = C.bit(C.XTILE_DATA) if xf & C.bit(C.XTILE_CFG) else 0
        bad = C.xsetbv_violations(xf | xtile) if xf else []
        if xf and xf & C.MASK_FPSSE != C.MASK_FPSSE:
            bad.insert(0, "x87 and SSE (bits 0 and 1) are in every user feature set")
        if bad:
            out.append(FrameCheck("xfeatures", False, f"{xf:#x} is no set a kernel enables: " + "; ".join(bad)))
        else:
            out.append(FrameCheck("xfeatures", True, f"{xf:#x}: " + (" ".join(C.names(xf)) if xf else
                                                                     "none, as with XSAVE off (noxsave)")))
    if m2 is not None:
        if m2 == FP_XSTATE_MAGIC2:
            out.append(FrameCheck("magic2", True, f"FP_XSTATE_MAGIC2 ({FP_XSTATE_MAGIC2:#x}) follows the image at "
                                                  "fpstate + xstate_size"))
        else:
            out.append(FrameCheck("magic2", False, f"{m2:#x} at fpstate + xstate_size, not FP_XSTATE_MAGIC2 "
                                  f"({FP_XSTATE_MAGIC2:#x}): the frame says it holds extended state it does not "
                                  f"(a copy of the legacy part only, as in Clozure CL #556); {fx_only}"))
    elif image_size is not None and xs is not None and xs >= MIN_XSTATE_SIZE and image_size < xs + 4:
        out.append(FrameCheck("magic2", False, f"the image ends at {image_size} bytes, before FP_XSTATE_MAGIC2 at "
                              f"fpstate + xstate_size ({xs}): if that is all the frame holds, {fx_only}"))
    return out
