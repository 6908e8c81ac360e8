"""`sigstack`: the kernel's signal frame, a C library's numbers, and every runtime's alternate stack.

For one CPU, kernel and C library: AT_MINSIGSTKSZ and the frames (sigframe.py), the libc's
sysconf values and macros (libc.py), and each stack asked about — a runtime's rule from
userspace_rules.yaml or a size given by hand — judged the way the kernel judges it
(sigframe.judge, shared with `guest --process`) after the C library's own sigaltstack() check.

Runtimes whose frames land elsewhere are judged by one shared rule, :func:`judge_place`: the room
they keep below the interrupted SP (the kernel's red zone and frame must fit), or a fixed buffer
that must hold a copy of the state; each first for a process without AMX, then with it in use.
"""

from __future__ import annotations

from .libc import PAGE, LibcValues, libc_values, macro_values
from .records import record
from .sigframe import judge, signal_stack
from .userspace import ON_REFUSED, LibcChoice, Runtime


@record
class Stack:
    """One alternate signal stack and what becomes of it."""

    who: str
    version: str
    size: int | None  # the stack, the room below SP or the buffer; None: nothing is kept (no-altstack)
    usable: int | None  # size minus guard pages inside it
    # installed, and holds AT_MINSIGSTKSZ (the largest frame the kernel may deliver); for the other kinds,
    # holds what it must with every permitted feature in use; None: nothing to judge (no-altstack)
    fits: bool | None
    # a signal to the 64-bit process (any permitted feature in use) is delivered; None for a buffer (the
    # kernel does not write it) or when nothing is kept
    delivered: bool | None
    margin: int | None  # usable - need["permitted"]; None when no stack is installed or nothing is kept
    # fits | below-minimum | fits-without-amx | refused-by-libc | refused-by-sigaltstack | dies-on-delivery |
    # alloc-fails; other kinds: corrupts-memory (below-sp into ordinary memory), buffer-too-small, no-altstack
    verdict: str
    why: str
    consequence: str  # what the program does about it
    formula: str
    source: str
    status: str
    reports: tuple
    kind: str = "altstack"  # altstack | below-sp | buffer (userspace.KINDS)
    need: dict | None = None  # {"default", "permitted"}: bytes it must hold without AMX / with it in use

    def record(self) -> dict:
        return {"who": self.who, "version": self.version, "kind": self.kind, "size": self.size,
                "usable": self.usable, "need": self.need, "fits": self.fits, "delivered": self.delivered,
                "margin": self.margin, "verdict": self.verdict, "why": self.why, "consequence": self.consequence,
                "formula": self.formula, "source": self.source, "status": self.status, "reports": list(self.reports)}


@record
class SigstackReport:
    boot: object
    signal: object  # sigframe.SignalStack
    libc: LibcValues
    stacks: list

    @property
    def ok(self) -> bool:
        return all(s.fits is not False for s in self.stacks)


def judge_stack(signal, lv: LibcValues, who: str, size: int, *, version: str = "", guard: int = 0,
                page_multiple: bool = False, on_refused: str = "", on_alloc_failure: str = "", formula: str = "",
                source: str = "", status: str = "", reports: tuple = ()) -> Stack:
    """A stack of *size* bytes on this machine: the libc's check, then the kernel's (sigframe.judge)."""
    largest = signal.frame_permitted
    usable = max(size - guard, 0)
    need = {"default": signal.frame_default, "permitted": largest}

    def make(fits, verdict, why, consequence="", delivered=False):
        installed = verdict not in ("alloc-fails", "refused-by-libc", "refused-by-sigaltstack")
        return Stack(who, version, size, usable, fits, delivered, usable - largest if installed else None, verdict,
                     why, consequence, formula, source, status, reports, "altstack", need)

    if page_multiple and size % PAGE:
        return make(False, "alloc-fails", f"aligned_alloc({PAGE}, {size}): the size is not a multiple of the "
                    f"alignment ({size} = {size // PAGE} pages + {size % PAGE}), so no stack is allocated",
                    ON_REFUSED.get(on_alloc_failure, ""))
    then = ON_REFUSED.get(on_refused, "")
    if lv.sigaltstack_check == "libc" and size < lv.sigaltstack_min:
        return make(False, "refused-by-libc", f"{lv.choice.era.name}'s sigaltstack() refuses less than "
                    f"{lv.sigaltstack_min} bytes (ENOMEM)", then)
    v = judge(signal, size, permitted=True, usable=usable)
    if v.verdict == "refused-by-sigaltstack":
        return make(False, v.verdict, v.why, then)
    return make(v.fits, v.verdict, v.why, delivered=v.delivered)


_OVERFLOW = {  # verdict, and what becomes of the frame, when a place does not hold it
    "guard": ("dies-on-delivery", "the frame would reach the PROT_NONE guard zone, so the kernel sends SIGSEGV "
              "instead"),
    "memory": ("corrupts-memory", "the kernel writes the rest of the frame over the memory below"),
    "buffer": ("buffer-too-small", "the copy does not fit"),
}


def judge_place(size: int | None, need: dict, below: str, red_zone: bool = True) -> tuple:
    """(fits, delivered, margin, verdict, why) for a place that is not an alternate stack: *size* bytes kept
    below the interrupted SP (*below*: guard or memory past them) or a buffer (*below* = 'buffer') that must
    hold need['default'] bytes without AMX and need['permitted'] with every permitted feature in use.
    *red_zone*: the need counts the 128-byte red zone (a 64-bit frame off an alternate stack)."""
    default, permitted = need["default"], need["permitted"]
    if size is None:
        return (None, None, None, "no-altstack", f"no alternate stack and nothing kept free: a signal takes "
                f"{default} bytes below the interrupted SP ({'the 128-byte red zone and ' if red_zone else ''}the "
                "frame)" + (f", {permitted} with AMX in use" if permitted != default else ""))
    what = "a copy of the state" if below == "buffer" else "the red zone and the frame" if red_zone else "the frame"
    verdict, then = _OVERFLOW[below]
    if size >= permitted:
        return True, None if below == "buffer" else True, size - permitted, "fits", \
            f"{size} bytes hold {what}, {permitted} bytes"
    # Too small: the kernel still writes a frame that runs into ordinary memory, not one that reaches a guard
    # zone; a buffer is the runtime's copy, no delivery of the kernel's.
    delivered = None if below == "buffer" else below == "memory"
    if size >= default:
        return (False, delivered, size - permitted, "fits-without-amx", f"{size} bytes hold {what} without AMX "
                f"({default} bytes), not the {permitted} bytes once AMX is in use: {then}")
    return (False, delivered, size - permitted, verdict, f"{what} take{'s' if below == 'buffer' else ''} {default} "
            "bytes" + (f" ({permitted} with AMX in use)" if permitted != default else "") + f", {size} are there: "
            + then)


def runtime_stack(signal, lv: LibcValues, rt: Runtime, macros: dict | None = None) -> Stack:
    """A runtime's record judged on this machine, by the rule of its kind (*macros*: macro_values() by
    'dynamic' and 'constant', when the caller judges many)."""
    values = {**(macros[rt.macros] if macros else macro_values(lv, rt.macros)), **rt.constants}
    seen = f"SIGSTKSZ {values['SIGSTKSZ']}" if rt.size is not None and "SIGSTKSZ" in rt.size.names else "no macros"
    who = f"{rt.name} {rt.era}" if rt.era else rt.name
    if rt.kind == "altstack":
        size = rt.size.evaluate(values)
        return judge_stack(signal, lv, who, size, version=rt.versions, guard=rt.guard,
                           page_multiple=rt.page_multiple, on_refused=rt.on_refused,
                           on_alloc_failure=rt.on_alloc_failure, formula=f"{rt.size.text} ({seen})",
                           source=rt.source, status=rt.status, reports=rt.reports)
    if rt.kind == "buffer":
        values.update(XSTATE_AT_INIT=signal.xstate_default)
        need = {mode: rt.need.evaluate({**values, "XSTATE": xstate}) for mode, xstate in
                (("default", signal.xstate_default), ("permitted", signal.xstate_permitted))}
        formula = f"{rt.size.text} holds {rt.need.text}"
        below = "buffer"
    else:
        # The kernel's own arithmetic; on a 32-bit kernel (ia32 frames, no red zone) only its bound is known.
        need = {"default": signal.thread_default or signal.frame_default,
                "permitted": signal.thread_permitted or signal.frame_permitted}
        formula = "nothing kept" if rt.size is None else f"{rt.size.text} below SP, then {rt.below}"
        below = rt.below
    size = None if rt.size is None else rt.size.evaluate(values)
    fits, delivered, margin, verdict, why = judge_place(size, need, below, signal.thread_default is not None)
    return Stack(who, rt.versions, size, size, fits, delivered, margin, verdict, why,
                 rt.on_overflow if fits is False else "", formula, rt.source, rt.status, rt.reports, rt.kind, need)


def sigstack(b, choice: LibcChoice, runtimes, sizes, *, strict: bool = False) -> SigstackReport:
    """The report for boot *b*: the runtimes' stacks, then each size given by hand."""
    signal = signal_stack(b, strict=strict)
    lv = libc_values(b, choice, signal)
    macros = {m: macro_values(lv, m) for m in ("dynamic", "constant")}
    stacks = [runtime_stack(signal, lv, rt, macros) for rt in runtimes]
    stacks += [judge_stack(signal, lv, f"--size {n}", n, formula=str(n), source="given") for n in sizes]
    return SigstackReport(b, signal, lv, stacks)
