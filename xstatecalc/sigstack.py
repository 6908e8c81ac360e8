"""`sigstack`: the kernel's signal frame, a C library's numbers, and every runtime's alternate stack.

For one CPU, kernel and C library: AT_MINSIGSTKSZ and the frames (sigframe.py), the libc's
sysconf values and macros (libc.py), and each stack asked about — a runtime's rule from
userspace_rules.yaml or a size given by hand — judged the way the kernel judges it
(sigframe.judge, shared with `guest --process`) after the C library's own sigaltstack() check.
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
    size: int
    usable: int  # size minus guard pages inside it
    fits: bool  # installed, and holds AT_MINSIGSTKSZ (the largest frame the kernel may deliver)
    delivered: bool  # installed, and a signal to the 64-bit process (any permitted feature in use) is delivered
    margin: int | None  # usable - AT_MINSIGSTKSZ; None when no stack is installed
    # fits | below-minimum | fits-without-amx | refused-by-libc | refused-by-sigaltstack | dies-on-delivery |
    # alloc-fails
    verdict: str
    why: str
    consequence: str  # what the program does about it
    formula: str
    source: str
    status: str
    reports: tuple

    def record(self) -> dict:
        return {"who": self.who, "version": self.version, "size": self.size, "usable": self.usable,
                "fits": self.fits, "delivered": self.delivered, "margin": self.margin, "verdict": self.verdict, "why": self.why,
                "consequence": self.consequence, "formula": self.formula, "source": self.source, "status": self.status,
                "reports": list(self.reports)}


@record
class SigstackReport:
    boot: object
    signal: object  # sigframe.SignalStack
    libc: LibcValues
    stacks: list

    @property
    def ok(self) -> bool:
        return all(s.fits for s in self.stacks)


def judge_stack(signal, lv: LibcValues, who: str, size: int, *, version: str = "", guard: int = 0,
                page_multiple: bool = False, on_refused: str = "", formula: str = "", source: str = "",
                status: str = "", reports: tuple = ()) -> Stack:
    """A stack of *size* bytes on this machine: the libc's check, then the kernel's (sigframe.judge)."""
    largest = signal.frame_permitted
    usable = max(size - guard, 0)
    then = ON_REFUSED.get(on_refused, "")

    def make(fits, verdict, why, consequence="", delivered=False):
        installed = verdict not in ("alloc-fails", "refused-by-libc", "refused-by-sigaltstack")
        return Stack(who, version, size, usable, fits, delivered, usable - largest if installed else None, verdict,
                     why, consequence, formula, source, status, reports)

    if page_multiple and size % PAGE:
        return make(False, "alloc-fails", f"aligned_alloc({PAGE}, {size}): the size is not a multiple of the "
                    f"alignment ({size} = {size // PAGE} pages + {size % PAGE}), so no stack is allocated", then)
    if lv.sigaltstack_check == "libc" and size < lv.sigaltstack_min:
        return make(False, "refused-by-libc", f"{lv.choice.era.name}'s sigaltstack() refuses less than "
                    f"{lv.sigaltstack_min} bytes (ENOMEM)", then)
    v = judge(signal, size, permitted=True, usable=usable)
    if v.verdict == "refused-by-sigaltstack":
        return make(False, v.verdict, v.why, then)
    return make(v.fits, v.verdict, v.why, delivered=v.delivered)


def runtime_stack(signal, lv: LibcValues, rt: Runtime) -> Stack:
    values = {**macro_values(lv, rt.macros), **rt.constants}
    size = rt.size.evaluate(values)
    return judge_stack(signal, lv, f"{rt.name} {rt.era}" if rt.era else rt.name, size, version=rt.versions, guard=rt.guard,
                       page_multiple=rt.page_multiple, on_refused=rt.on_refused,
                       formula=f"{rt.size.text} ({'SIGSTKSZ ' + str(values['SIGSTKSZ']) if 'SIGSTKSZ' in rt.size.names else 'no macros'})",
                       source=rt.source, status=rt.status, reports=rt.reports)


def sigstack(b, choice: LibcChoice, runtimes, sizes, *, strict: bool = False) -> SigstackReport:
    """The report for boot *b*: the runtimes' stacks, then each size given by hand."""
    signal = signal_stack(b, strict=strict)
    lv = libc_values(b, choice, signal)
    stacks = [runtime_stack(signal, lv, rt) for rt in runtimes]
    stacks += [judge_stack(signal, lv, f"--size {n}", n, formula=str(n), source="given") for n in sizes]
    return SigstackReport(b, signal, lv, stacks)
