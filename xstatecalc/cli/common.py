"""What every command shares: the group, error handling, --format, --cpu and --kernel."""

from __future__ import annotations

import functools
import os
import sys

import click

from ..errors import InputError

DEFAULT_CPU = "sapphire-rapids"
EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

CPU_HELP = ("CPU: a built-in name or alias (see 'xstatecalc cpus'), a profile file, or 'host'. "
            "Default: $XSTATECALC_CPU, else sapphire-rapids.")
KERNEL_HELP = ("Kernel version: 6.1, 6.1.134, 6.1.y (newest point release), v6.8-rc3, a distribution's release "
               "(5.15.0-91-generic, 6.1.0-18-amd64, 5.14.0-427.el9.x86_64); comma-separated or repeated for several, "
               "'lts' (every LTS branch), 'all' (every model). Default: the newest release, or the running kernel "
               "with --cpu host.")
ONE_KERNEL_HELP = ("Kernel version (one): 6.1, 6.1.134, 6.1.y (newest point release), v6.8-rc3, a distribution's "
                   "release (5.15.0-91-generic, 6.1.0-18-amd64, 5.14.0-427.el9.x86_64). Default: the newest release, "
                   "or the running kernel with --cpu host. Several kernels: 'xstatecalc sizes --kernel lts'.")


def _say(kind: str, message: str) -> None:
    from ..yamltext import visible

    text = visible(str(message))  # one line, and no escape sequence from a file name reaches the terminal
    if len(text) > 2000:
        text = text[:1997] + "..."
    click.echo(f"xstatecalc: {kind}: {text}", err=True)


def error(message: str) -> None:
    """One line on stderr, prefixed like every other diagnostic."""
    _say("error", message)


def warn(message: str) -> None:
    _say("warning", message)


def note(message: str) -> None:
    _say("note", message)


class UInt(click.ParamType):
    """A non-negative integer as users type it on every command: ASCII decimal or 0x hex, nothing else
    (numbers.parse_int: no sign, underscore, 0b/0o, leading zero or non-ASCII digit), within [lo, hi]. *hex_only*:
    a mask, hex with or without 0x (602e7 = 0x602e7)."""

    name = "integer"

    def __init__(self, lo: int = 0, hi: int = (1 << 64) - 1, *, hex_only: bool = False):
        self.lo, self.hi, self.hex_only = lo, hi, hex_only
        if hex_only:
            self.name = "mask"

    def convert(self, value, param, ctx):
        from ..numbers import parse_int

        try:
            n = parse_int(value, what="", hex_only=self.hex_only)
        except ValueError as e:
            self.fail(str(e), param, ctx)
        if not self.lo <= n <= self.hi:
            self.fail(f"{n} is outside {self.lo}..{self.hi}", param, ctx)
        return n


# Every command and the module that defines it, in workflow order: a command's module is imported only
# when that command runs (or help lists them all), which keeps start-up to what one command needs.
COMMAND_MODULES = {"sizes": "buffers", "features": "buffers", "layout": "buffers", "kernels": "buffers",
                   "cpus": "buffers", "guest": "guests", "vcpu": "guests", "check": "checks", "compare": "checks",
                   "verify": "checks", "dmesg": "checks", "pool": "pools", "sigstack": "userspace",
                   "limit": "userspace", "which": "which",
                   "import": "inputs", "host": "inputs", "core": "inputs", "schema": "contract"}


class XstateGroup(click.Group):
    """Turns library errors into one clear line on stderr and exit 2 (never a traceback)."""

    def list_commands(self, ctx):
        return list(COMMAND_MODULES)

    def resolve_command(self, ctx, args):
        """Click's lookup, with the closest command names when a name is mistyped."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise click.UsageError(f"no such command {_clip(name)!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx, name):
        module = COMMAND_MODULES.get(name)
        if module is not None and name not in self.commands:
            import importlib

            importlib.import_module(f"xstatecalc.cli.{module}")  # its decorators register its commands
        return super().get_command(ctx, name)

    def main(self, args=None, prog_name=None, **kwargs):
        """Click's own errors in the same one-line style as ours; Ctrl-C is 130, as shells expect."""
        kwargs["standalone_mode"] = False
        _guard_stdout()
        try:
            _check_completion_request()
            code = super().main(args=args, prog_name=prog_name, **kwargs)
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(0)
        except OSError as e:  # > /dev/full, a closed stdout
            _quiet_stdout()
            error(f"cannot write the output: {e.strerror or e}")
            sys.exit(EXIT_USAGE)
        except click.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:  # click 8.2+: bare 'xstatecalc'
                click.echo(e.ctx.get_help(), err=True)
                sys.exit(EXIT_USAGE)
            cmd = e.ctx.command_path if e.ctx is not None else "xstatecalc"
            error(f"{e.format_message()} (see '{cmd} --help')")
            sys.exit(EXIT_USAGE)
        except click.ClickException as e:
            error(e.format_message())
            sys.exit(e.exit_code)
        except (click.Abort, KeyboardInterrupt):
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as e:
            error(str(e))
            ctx.exit(EXIT_USAGE)
        except BrokenPipeError:
            # `xstatecalc ... | head`: the reader went away; that is not an error.
            _quiet_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            _quiet_stdout()
            ctx.exit(EXIT_INTERRUPTED)


def _clip(text: str) -> str:
    from ..yamltext import clip

    return clip(text)


class _ClosedStream:
    """Standard output when the shell closed it (`xstatecalc sizes >&-`): writing fails like a bad descriptor,
    which main() reports as one error line, instead of an AttributeError on None."""

    encoding = "utf-8"

    def write(self, text):
        import errno

        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        raise OSError("standard output is closed")


def _guard_stdout() -> None:
    """A closed stdout becomes _ClosedStream; an encoding that cannot write every character (PYTHONIOENCODING=ascii,
    a Latin-1 locale) escapes what it cannot write rather than dying mid-output (tables are drawn in ASCII there:
    render.text)."""
    if sys.stdout is None:
        sys.stdout = _ClosedStream()
        return
    from ..render import unicode_ok

    if not unicode_ok(sys.stdout) and hasattr(sys.stdout, "reconfigure"):
        try:
            sys.stdout.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass


class _BadInvocation(click.ClickException):
    exit_code = EXIT_USAGE


# The shells whose COMP_CWORD is a word index (fish passes the word being completed instead).
_INDEX_SHELLS = ("bash", "zsh", "powershell")


def _check_completion_request() -> None:
    """Shell completion is driven by environment variables (click's protocol); a missing COMP_WORDS or a COMP_CWORD
    that is not an index into it is a wrong invocation, said in one line, not a traceback from int()."""
    instruction = os.environ.get("_XSTATECALC_COMPLETE")
    if not instruction:
        return
    shell, _, action = instruction.partition("_")
    if action != "complete":
        return  # *_source prints the script; anything else click refuses itself
    words, cword = os.environ.get("COMP_WORDS"), os.environ.get("COMP_CWORD")
    if words is None or cword is None:
        raise _BadInvocation("shell completion: COMP_WORDS and COMP_CWORD must both be set (see the README, "
                                   "'Shell completion')")
    if shell not in _INDEX_SHELLS:
        return
    from click.shell_completion import split_arg_string

    count = len(split_arg_string(words))
    if not (cword.isascii() and cword.isdigit() and len(cword) <= 6 and int(cword) <= count):
        raise _BadInvocation(f"shell completion: COMP_CWORD {_clip(cword)!r} is not a word index 0..{count} "
                                   f"of COMP_WORDS")


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# ------------------------------------------------------------------ shell completion (click's, see README)

def _last_item(incomplete: str) -> tuple[str, str]:
    """'spr,ze' -> ('spr,', 'ze'): comma-separated lists complete their last item."""
    head, sep, tail = incomplete.rpartition(",")
    return head + sep, tail


def complete_cpu(ctx, param, incomplete):
    """CPU names and aliases, 'all', 'host', profile files, VMM models (qemu:MODEL@HOST@KERNEL); after 'CPU@' the
    kernels (compare)."""
    from click.shell_completion import CompletionItem

    from ..profile import builtin_index
    from ..vcpu import is_vcpu_spec

    if is_vcpu_spec(incomplete):  # VMM:MODEL@HOST@HOST_KERNEL
        parts = incomplete.split("@")
        if len(parts) == 1:
            from .guests import _complete_model

            return [CompletionItem(w) for w in _complete_model(ctx, param, incomplete)]
        head = "@".join(parts[:-1]) + "@"
        words = sorted(builtin_index()) + ["host", "tcg"] if len(parts) == 2 else \
            [w for w in _kernel_words() if w not in ("lts", "all")]
        return [CompletionItem(head + w) for w in words if w.startswith(parts[-1].lower())]
    if "@" in incomplete:
        cpu, _, kernel = incomplete.rpartition("@")
        return [CompletionItem(f"{cpu}@{k}") for k in _kernel_words() if k.startswith(kernel)]
    if "/" in incomplete or incomplete.startswith("."):
        return [CompletionItem(incomplete, type="file")]

    head, tail = _last_item(incomplete)
    words = sorted(builtin_index()) + ["all", "host", "qemu:", "firecracker:", "libvirt:"]
    out = [CompletionItem(head + w) for w in words if w.startswith(tail.lower())]
    return out or [CompletionItem(incomplete, type="file")]


def _kernel_words() -> list[str]:
    from ..kernels import LTS_BRANCHES, mainline

    rows = [".".join(map(str, r.version)) for r in mainline()]
    return rows + [f"{a}.{b}.y" for a, b in LTS_BRANCHES] + ["lts", "all"]


def complete_kernel(ctx, param, incomplete):
    """Kernel release rows, X.Y.y for LTS branches, 'lts', 'all'."""
    head, tail = _last_item(incomplete)
    return [head + w for w in _kernel_words() if w.startswith(tail)]


def complete_one_kernel(ctx, param, incomplete):
    """Kernel release rows and X.Y.y: what a one-kernel option takes."""
    return [w for w in _kernel_words() if w.startswith(incomplete) and w not in ("lts", "all")]


def complete_switch(ctx, param, incomplete):
    from ..options import switch_words

    return [w for w in switch_words() if w.lower().startswith(incomplete.lower())]


def complete_feature(ctx, param, incomplete):
    from ..components import feature_words

    return [w for w in feature_words() if w.startswith(incomplete.lower())]


def output_options(fn=None, *, default="table", choices=("table", "text", "json", "yaml", "csv")):
    """--format/-f, the same on every command (json is the documented contract)."""

    def deco(f):
        @click.option("--format", "-f", "fmt", type=click.Choice(list(choices)), default=default,
                      show_default=True, help="Output format; json is a stable contract.")
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            return f(*args, **kwargs)

        return wrapper

    return deco(fn) if fn is not None else deco


def kernel_options(fn=None, *, many: bool = True, default: str | None = None):
    """--kernel plus the kernel build options and boot parameters that change numbers. *many*: the command
    takes lists, 'lts' and 'all'; otherwise its help says it takes one kernel. *default*: the help's
    'Default: ...' sentence, for a command whose default is not the newest release."""
    if fn is None:
        return functools.partial(kernel_options, many=many, default=default)
    text = KERNEL_HELP if many else ONE_KERNEL_HELP
    if default:
        text = text[:text.index("Default:")] + default

    @click.option("--kernel", "-k", "kernels", multiple=True, metavar="VERSION",
                  help=text,
                  shell_complete=complete_kernel if many else complete_one_kernel)
    @click.option("--disable", "disable", multiple=True, metavar="SWITCH", shell_complete=complete_switch,
                  help="Change the kernel as a kernel switch would, by its real mechanism: a boot parameter (nopku, "
                       "noxsave, noxsaves, noxsaveopt, nousershstk, clearcpuid=avx512f), a build option "
                       "(CONFIG_X86_USER_SHADOW_STACK=n, CONFIG_INTEL_IOMMU_SVM=n, "
                       "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=n), a CPU flag (xsaves, amx_tile: as clearcpuid=) or "
                       "an XSAVE feature (amx, avx512, pkru: the flag it needs). Repeatable; the output says which "
                       "mechanism each took.")
    @click.option("--no-ia32-emulation", is_flag=True, help="CONFIG_IA32_EMULATION=n (smaller signal frame).")
    @click.option("--arch", type=click.Choice(["x86_64", "i386"]), default="x86_64", show_default=True,
                  help="Kernel architecture: i386 has no AMX and its own signal frame.")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..options import make_options

        try:
            kwargs["options"] = make_options(kwargs.pop("disable"), arch=kwargs.pop("arch"),
                                             ia32_emulation=not kwargs.pop("no_ia32_emulation"))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--disable") from None
        return fn(*args, **kwargs)

    return wrapper


def emit(view, fmt):
    from ..render import emit as _emit

    _emit(view, fmt)


def default_cpu() -> str:
    return os.environ.get("XSTATECALC_CPU") or DEFAULT_CPU


def cpus(specs):
    """Profiles for --cpu values: names, aliases, files, 'host', 'all' (repeatable, comma-separated)."""
    from ..profile import all_builtin, resolve

    out, seen = [], set()
    for spec in specs or (default_cpu(),):
        spec = str(spec)
        if ":" in spec:  # a vCPU's modifiers hold commas: only then is the VMM module needed
            from ..vcpu import split_cpu_list

            parts = split_cpu_list(spec)
        else:
            parts = [p.strip() for p in spec.split(",")]
        for part in parts:
            if not part:
                raise InputError(f"empty item in the CPU list {spec!r}")
            for p in (all_builtin() if part == "all" else [_resolve_cpu(part, resolve)]):
                if p.name not in seen:
                    seen.add(p.name)
                    out.append(p)
    return out


def _resolve_cpu(spec: str, resolve):
    if spec.strip().lower() == "host":
        from ..host import host_profile

        return host_profile()
    if ":" in spec:
        from ..vcpu import is_vcpu_spec

        if is_vcpu_spec(spec):
            return vcpu(spec).profile
    return resolve(spec)


def vcpu(spec: str):
    """A guest CPU from its spelling, saying on stderr (once) what the VMM dropped or refuses."""
    from ..vcpu import resolve_vcpu

    v = resolve_vcpu(spec, default_cpu())
    lost = [d for d in v.dropped if d.components and not d.why.startswith("the model lacks")]
    if lost:
        text = (f"{v.label}: dropped " + "; ".join(f"{d.feature} ({d.why})" for d in lost))
        if text not in _WARNED:
            _WARNED.add(text)
            warn(text)
    for p in v.problems:
        if p not in _WARNED:
            _WARNED.add(p)
            warn(f"{v.label}: {p}")
    return v


def one_cpu(spec, command: str):
    """The single profile a command works on; 'all' or a list is a usage error, not a traceback."""
    profiles = cpus([spec] if spec else [])
    if len(profiles) != 1:
        raise click.UsageError(f"{command} works on one CPU; got {len(profiles)} ({spec}). "
                               "Use 'xstatecalc sizes' to compare several.")
    return profiles[0]


_WARNED: set = set()


def kernels(specs, *, host: bool = False):
    """Models for --kernel values; with --cpu host and no --kernel, the running kernel. Warnings once, on stderr."""
    from ..kernels import resolve_kernels

    if not specs and host:
        import platform

        specs = [platform.release()]
    models = resolve_kernels(list(specs) or None)
    for m in models:
        for w in m.warnings:
            if w not in _WARNED:
                _WARNED.add(w)
                warn(w)
    return models


def boot_all(profiles, models, options):
    """Boot every profile on every kernel; what the model sees and the kernel does not print goes to stderr."""
    from ..fpu import boot

    out = []
    for p in profiles:
        for k in models:
            b = boot(p, k, options)
            for w in b.warnings:
                text = f"{p.name} on Linux {k.label}: {w}"
                if text not in _WARNED:
                    _WARNED.add(text)
                    warn(text)
            out.append(b)
    return out


def one_kernel(specs, command: str, *, host: bool = False):
    ks = kernels(specs, host=host)
    if len(ks) != 1:
        raise click.UsageError(f"{command} works on one kernel; got {len(ks)} ({', '.join(specs)}). "
                               "Use 'xstatecalc sizes' to compare kernels.")
    return ks[0]


def wants_host(specs) -> bool:
    return any(str(s).strip().lower() == "host" for spec in (specs or ()) for s in str(spec).split(","))


def install_signal_handlers() -> None:
    """SIGTERM ends like Ctrl-C: cleanly, with temporary files removed by their owners."""
    import signal

    def on_term(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, on_term)
    except (ValueError, OSError):  # not the main thread (tests), or no such signal
        pass
