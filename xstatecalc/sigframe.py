"""The kernel side of signal stacks: frame sizes, AT_MINSIGSTKSZ and the two size checks.

From arch/x86/kernel/signal.c and fpu/signal.c (read in 7.3): init_sigframe_size() computes
max_frame_size = round_up(MAX_FRAME_SIGINFO_UCTXT_SIZE + 15 + fpu__get_fpstate_size() + 63, 16),
exported as AT_MINSIGSTKSZ (5.14+). sigaltstack_size_valid() wants ss_size >
max_frame_size - fpu__get_fpstate_size() + perm.__user_state_size, but only when the system has
dynamic features and the task is permitted one, or with strict_sas_size; kernel/signal.c always
refuses less than MINSIGSTKSZ (2048). ARCH_REQ_XCOMP_PERM's validate_sigaltstack() fails with
-ENOSPC when a thread's sas_ss_size < max_frame_size - fpu_user_cfg.max_size + the new user size.
"""

from __future__ import annotations

from . import components as C
from .records import record


RT_SIGFRAME = 440  # sizeof(struct rt_sigframe) on x86-64: 8 + ucontext 304 + siginfo 128
SIGFRAME_IA32 = 736  # sizeof(struct sigframe_ia32): 732 bytes padded to 8 (u64 in _fpx_sw_bytes)
# 32-bit kernel: the same struct with u64 aligned to 4 (gcc -m32 on the 7.3 uapi headers gives 732, -m64 736).
SIGFRAME_I386_NATIVE = 732
FP_XSTATE_MAGIC2_SIZE = 4
MINSIGSTKSZ = 2048  # kernel/signal.c do_sigaltstack(): less is -ENOMEM on every kernel


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


@record
class SignalStack:
    """What the kernel asks of an alternate signal stack on this CPU and kernel."""

    at_minsigstksz: int | None  # the auxv entry (5.14+); None before
    frame_default: int  # the largest frame for a process that never asks for a dynamic feature
    frame_permitted: int  # ... for one with every permitted dynamic feature (= AT_MINSIGSTKSZ)
    dynamic: bool  # the system has dynamic features (AMX with XFD): fpu_state_size_dynamic()
    check_default: int | None  # sigaltstack() wants ss_size > this for a task without permission (None: no check)
    check_permitted: int | None  # ... for a permitted task (None: no check)
    perm_min: int | None  # ARCH_REQ_XCOMP_PERM: every sigaltstack must be 0 or >= this, else -ENOSPC
    strict: bool  # strict_sas_size on the command line (or CONFIG_STRICT_SIGALTSTACK_SIZE=y)

    def record(self) -> dict:
        return {"at_minsigstksz": self.at_minsigstksz,
                "frame": {"default": self.frame_default, "permitted": self.frame_permitted},
                "dynamic_features": self.dynamic,
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
    return SignalStack(frame_permitted if k.sigframe else None, frame_default, frame_permitted, dynamic,
                       check_default, check_permitted, perm_min, strict)


@record
class StackVerdict:
    """An alternate signal stack of *size* bytes, judged against the kernel."""

    size: int
    fits: bool  # holds the largest frame the kernel may deliver to this process
    margin: int  # usable bytes - that frame (negative: short by so many bytes)
    verdict: str  # fits | fits-without-amx | refused-by-sigaltstack | dies-on-delivery
    why: str


def judge(ss: SignalStack, size: int, *, permitted: bool = True, usable: int | None = None) -> StackVerdict:
    """How the kernel treats a sigaltstack of *size* bytes (of which *usable* are not guard pages).

    *permitted*: the process holds, or may come to hold, its dynamic features (AMX); then the frame that
    must fit is the largest, AT_MINSIGSTKSZ. Shared by `sigstack` and `guest --process`."""
    usable = size if usable is None else usable
    frame = ss.frame_permitted if permitted else ss.frame_default
    margin = usable - frame
    if size < MINSIGSTKSZ:
        return StackVerdict(size, False, margin, "refused-by-sigaltstack",
                            f"sigaltstack() refuses less than MINSIGSTKSZ ({MINSIGSTKSZ}): -ENOMEM")
    if not permitted and ss.check_default is not None and not size > ss.check_default:
        return StackVerdict(size, False, margin, "refused-by-sigaltstack",
                            f"strict_sas_size: {size} is not more than {ss.check_default}: -ENOMEM")
    if margin >= 0:
        return StackVerdict(size, True, margin, "fits", f"holds the largest frame, {frame} bytes")
    if permitted and ss.dynamic and usable >= ss.frame_default:
        return StackVerdict(size, False, margin, "fits-without-amx",
                            f"holds the {ss.frame_default}-byte frame of a process without AMX, not the {frame}-byte "
                            f"frame once AMX is in use: while it is installed ARCH_REQ_XCOMP_PERM fails with -ENOSPC, "
                            f"and after the permission sigaltstack() wants more than {ss.check_permitted} (-ENOMEM)")
    return StackVerdict(size, False, margin, "dies-on-delivery",
                        f"a {frame}-byte frame does not fit {usable} bytes: the kernel delivers SIGSEGV instead")
