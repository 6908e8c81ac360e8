"""xstatecalc: exact x86 XSAVE buffer sizes for CPUs and Linux kernels.

Library use::

    from xstatecalc import resolve, boot, resolve_kernel
    b = boot(resolve("sapphire-rapids"), resolve_kernel("6.18"))
    b.kernel_max.size, b.user_max.size, b.sigframe_min   # 10752, 11008, 11952

The library never imports click or rich; those belong to the command line.
"""

__version__ = "0.2.0"

__all__ = ["resolve", "boot", "resolve_kernel", "Options", "__version__"]


def __getattr__(name):
    # Lazy re-exports keep `import xstatecalc` (and the CLI's start-up) cheap.
    if name == "resolve":
        from .profile import resolve
        return resolve
    if name in ("boot", "Options"):
        from . import fpu
        return getattr(fpu, name)
    if name == "resolve_kernel":
        from .kernels import resolve_kernel
        return resolve_kernel
    raise AttributeError(name)
