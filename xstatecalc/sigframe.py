"""The kernel side of signal stacks: frame sizes, AT_MINSIGSTKSZ and the two size checks.

From arch/x86/kernel/signal.c and fpu/signal.c (read in 7.3): init_sigframe_size() computes
max_frame_size = round_up(MAX_FRAME_SIGINFO_UCTXT_SIZE + 15 + fpu__get_fpstate_size() + 63, 16),
exported as AT_MINSIGSTKSZ (5.14+). sigaltstack_size_valid() wants ss_size >
max_frame_size - fpu__get_fpstate_size() + perm.__user_state_size, but only when the system has
dynamic features and the task is permitted one, or with strict_sas_size; kernel/signal.c always
refuses less than MINSIGSTKSZ (2048). ARCH_REQ_XCOMP_PERM's validate_sigaltstack() fails with
-ENOSPC when a thread's sas_ss_size < max_frame_size - fpu_user_cfg.max_size + the new user size.

max_frame_size is a bound: it counts the 736-byte ia32 frame and the fsave header. What a 64-bit
process really gets is get_sigframe()'s arithmetic, which :func:`delivered_frame` follows: from the
top of the alternate stack, fpu__alloc_mathframe() takes fpstate->user_size + FP_XSTATE_MAGIC2 rounded
down to 64, then the 440-byte rt_sigframe, then round_down(sp, 16) - 8; __on_sig_stack() wants the
result strictly above ss_sp. With a 64-byte aligned top (mmap, aligned_alloc) that is
round_up(user_size + 4, 64) + 456 bytes: 2952 for a 2432-byte XCR0 0xe7, as measured on a 6.18 host
(a 2953-byte stack with a page-aligned top gets the signal, 2952 bytes gets SIGSEGV).

Without an alternate stack (or without SA_ONSTACK) the same arithmetic starts at the interrupted SP
less the 128-byte red zone of the x86-64 ABI, which get_sigframe() skips only when it does not switch
stacks; :func:`thread_stack_frame` takes the worst of the SP alignments a program can have there.
"""

from __future__ import annotations

from . import components as C
from .records import record


RT_SIGFRAME = 440  # sizeof(struct rt_sigframe) on x86-64: 8 + ucontext 304 + siginfo 128
SIGFRAME_IA32 = 736  # sizeof(struct sigframe_ia32): 732 bytes padded to 8 (u64 in _fpx_sw_bytes)
# 32-bit kernel: the same struct with u64 aligned to 4 (gcc -m32 on the 7.3 uapi headers gives 732, -m64 736).
SIGFRAME_I386_NATIVE = 732
FP_XSTATE_MAGIC1 = 0x46505853  # uapi/asm/sigcontext.h: "SXPF" in _fpx_sw_bytes.magic1
FP_XSTATE_MAGIC2 = 0x46505845  # "EXPF", the u32 after the XSAVE image (fpstate + xstate_size)
FP_XSTATE_MAGIC2_SIZE = 4
MIN_XSTATE_SIZE = C.XSAVE_HDR_END  # check_xstate_in_sigframe(): sizeof(struct fxregs_state) + xstate_header
MINSIGSTKSZ = 2048  # kernel/signal.c do_sigaltstack(): less is -ENOMEM on every kernel
MATHFRAME_ALIGN = 64  # fpu__alloc_mathframe(): round_down(sp - frame_size, 64), XSAVE wants 64-byte alignment
FRAME_ALIGNMENT = 16  # get_sigframe(): round_down(sp, FRAME_ALIGNMENT) - 8, the ABI's entry alignment
RED_ZONE = 128  # get_sigframe(): "sp -= 128" for a 64-bit frame; replaced by the top when it switches stacks


def fpstate_size(b, ia32: bool | None = None) -> int:
    """fpu__get_fpstate_size(): user max + FP_XSTATE_MAGIC2 + the fsave header with IA32 emulation or on i386.

    *ia32* overrides CONFIG_IA32_EMULATION (to show both variants)."""
    ia32 = b.options.ia32_emulation if ia32 is None else ia32
    size = b.user_max.size + (FP_XSTATE_MAGIC2_SIZE if b.xsave else 0)
    if (ia32 or not b.options.x86_64) and "FXSR" in b.flags:
        size += C.FSAVE_SIZE  # the fsave header of an ia32 frame
    return size


def frame_size(b, user_size: int, ia32: bool | None = None) -> int:
    """max_frame_size with *user_size* bytes of XSAVE state: the largest frame the kernel may deliver."""
    ia32 = b.options.ia32_emulation if ia32 is None else ia32
    if not b.options.x86_64:
        frame = SIGFRAME_I386_NATIVE
    else:
        frame = SIGFRAME_IA32 if ia32 else RT_SIGFRAME
    fpstate = fpstate_size(b, ia32) - b.user_max.size + user_size
    return (frame + 15 + fpstate + 63 + 15) // 16 * 16


def xstate_sigframe_size(b, user_size: int) -> int:
    """xstate_sigframe_size(): the XSAVE image in a frame, fpstate->user_size + FP_XSTATE_MAGIC2; with XSAVE on
    it is also the extended_size the kernel writes into a 64-bit frame's sw_reserved bytes (:func:`sw_bytes`)."""
    return user_size + (FP_XSTATE_MAGIC2_SIZE if b.xsave else 0)


def _frame_bottom(sp: int, math: int) -> int:
    """get_sigframe() for a 64-bit frame from *sp* down: fpu__alloc_mathframe() puts the *math*-byte XSAVE
    image at round_down(sp - math, 64), then the rt_sigframe below it, round_down(.., 16) - 8. Returns the
    lowest byte written (the handler's return address)."""
    buf_fx = (sp - math) // MATHFRAME_ALIGN * MATHFRAME_ALIGN
    return (buf_fx - RT_SIGFRAME) // FRAME_ALIGNMENT * FRAME_ALIGNMENT - 8


def delivered_frame(b, user_size: int) -> int | None:
    """Bytes get_sigframe() takes below a 64-byte aligned alternate-stack top for a 64-bit process whose
    fpstate->user_size is *user_size*; the stack must be larger than this. None on a 32-bit kernel (the
    ia32 frame: only the bound is modelled)."""
    if not b.options.x86_64:
        return None
    top = 1 << 20  # any 64-byte aligned address
    return top - _frame_bottom(top, xstate_sigframe_size(b, user_size))


def thread_stack_frame(b, user_size: int) -> int | None:
    """Bytes a signal takes below the interrupted SP of a 64-bit process when the frame does not go to an
    alternate stack: the 128-byte red zone, then the frame (get_sigframe()). The frame's alignment depends
    on the SP, so this is the worst of the eight 8-byte aligned SPs modulo 64 (push, pop and call keep
    SP 8-byte aligned). None on a 32-bit kernel."""
    if not b.options.x86_64:
        return None
    math = xstate_sigframe_size(b, user_size)
    base = 1 << 20
    return max(sp - _frame_bottom(sp - RED_ZONE, math) for sp in range(base, base + 64, 8))


@record
class SignalStack:
    """What the kernel asks of an alternate signal stack on this CPU and kernel."""

    at_minsigstksz: int | None  # the auxv entry (5.14+); None before
    frame_default: int  # get_sigframe_size()'s bound for a process that never asks for a dynamic feature
    frame_permitted: int  # ... for one with every permitted dynamic feature (= AT_MINSIGSTKSZ)
    delivered_default: int | None  # the frame a 64-bit process really gets (delivered_frame()), no AMX
    delivered_permitted: int | None  # ... with every permitted dynamic feature in use
    thread_default: int | None  # bytes a signal takes below the interrupted SP off an alternate stack, no AMX
    thread_permitted: int | None  # ... with every permitted dynamic feature in use
    xstate_default: int  # the frame's XSAVE image (sw_reserved.extended_size), no AMX
    xstate_permitted: int  # ... with every permitted dynamic feature in use
    dynamic: bool  # the system has dynamic features (AMX with XFD): fpu_state_size_dynamic()
    check_default: int | None  # sigaltstack() wants ss_size > this for a task without permission (None: no check)
    check_permitted: int | None  # ... for a permitted task (None: no check)
    perm_min: int | None  # ARCH_REQ_XCOMP_PERM: every sigaltstack must be 0 or >= this, else -ENOSPC
    strict: bool  # strict_sas_size on the command line (or CONFIG_STRICT_SIGALTSTACK_SIZE=y)

    def record(self) -> dict:
        return {"dynamic_features": self.dynamic,
                "sigaltstack_check": {"default": self.check_default, "permitted": self.check_permitted,
                                      "strict_sas_size": self.strict, "minsigstksz": MINSIGSTKSZ},
                "arch_req_xcomp_perm_min": self.perm_min}


def signal_stack(b, *, strict: bool = False) -> SignalStack:
    """The kernel's numbers for alternate signal stacks (see the module docstring for the rules)."""
    k = b.kernel
    permitted_size = b.user_max.size
    default_size = b.user_default.size
    frame_permitted = frame_size(b, permitted_size)
    frame_default = frame_size(b, default_size)
    dynamic = bool(b.xsave and k.fpu_cfg and b.user_max.features & k.user_dynamic)
    check_default = check_permitted = None
    if k.sigframe:  # CONFIG_DYNAMIC_SIGFRAME, 5.14+
        base = frame_permitted - fpstate_size(b)
        if dynamic or strict:
            check_permitted = base + permitted_size
        if strict:
            check_default = base + default_size
    perm_min = frame_permitted if dynamic and k.xcomp_prctl else None
    return SignalStack(frame_permitted if k.sigframe else None, frame_default, frame_permitted,
                       delivered_frame(b, default_size), delivered_frame(b, permitted_size),
                       thread_stack_frame(b, default_size), thread_stack_frame(b, permitted_size),
                       xstate_sigframe_size(b, default_size), xstate_sigframe_size(b, permitted_size), dynamic,
                       check_default, check_permitted, perm_min, strict)


@record
class StackVerdict:
    """An alternate signal stack of *size* bytes, judged against the kernel."""

    size: int
    fits: bool  # holds the largest frame the kernel may deliver to this process (its documented bound)
    margin: int  # usable bytes - that bound (negative: short by so many bytes)
    verdict: str  # fits | below-minimum | fits-without-amx | refused-by-sigaltstack | dies-on-delivery
    why: str
    delivered: bool  # a signal to a 64-bit process on this stack (64-byte aligned top) is delivered


def judge(ss: SignalStack, size: int, *, permitted: bool = True, usable: int | None = None) -> StackVerdict:
    """How the kernel treats a sigaltstack of *size* bytes (of which *usable* are not guard pages).

    *permitted*: the process holds, or may come to hold, its dynamic features (AMX); then the bound that
    must fit is the largest, AT_MINSIGSTKSZ. Three outcomes apart from a refusal: it holds the bound
    (fits); the kernel delivers its real frame but the stack is below the bound (below-minimum: a 32-bit
    frame, an unaligned top or AMX would not fit); the frame does not fit (dies-on-delivery, or
    fits-without-amx when only AMX's frame is too big). Shared by `sigstack` and `guest --process`."""
    usable = size if usable is None else usable
    bound = ss.frame_permitted if permitted else ss.frame_default
    real = ss.delivered_permitted if permitted else ss.delivered_default
    margin = usable - bound

    def out(fits, verdict, why, delivered):
        return StackVerdict(size, fits, margin, verdict, why, delivered)

    if size < MINSIGSTKSZ:
        return out(False, "refused-by-sigaltstack", f"sigaltstack() refuses less than MINSIGSTKSZ ({MINSIGSTKSZ}): "
                   "-ENOMEM", False)
    if not permitted and ss.check_default is not None and not size > ss.check_default:
        return out(False, "refused-by-sigaltstack", f"strict_sas_size: {size} is not more than {ss.check_default}: "
                   "-ENOMEM", False)
    if margin >= 0:
        return out(True, "fits", f"holds the largest frame, {bound} bytes", True)
    if real is not None and usable > real:
        return out(False, "below-minimum", f"a 64-bit process gets its {real}-byte frame, but {usable} bytes are "
                   f"below the documented {bound} ({'AT_MINSIGSTKSZ' if permitted else 'the bound without AMX'}): "
                   "an ia32 frame or a stack top not aligned to 64 bytes may not fit", True)
    real_default = ss.delivered_default if ss.delivered_default is not None else ss.frame_default
    if permitted and ss.dynamic and usable > real_default:
        return out(False, "fits-without-amx", f"holds the {real_default}-byte frame of a process without AMX, not "
                   f"the {real}-byte frame once AMX is in use: while it is installed ARCH_REQ_XCOMP_PERM fails with "
                   f"-ENOSPC, and after the permission sigaltstack() wants more than {ss.check_permitted} (-ENOMEM)",
                   False)
    frame = real if real is not None else bound
    return out(False, "dies-on-delivery", f"the {frame}-byte frame does not fit {usable} bytes (it needs more): the "
               "kernel sends SIGSEGV instead", False)

