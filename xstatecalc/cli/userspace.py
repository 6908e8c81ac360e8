"""Where user space meets the numbers: sigstack, limit."""

from __future__ import annotations

import sys

import click

from . import cli
from .common import (CPU_HELP, EXIT_PROBLEM, UInt, boot_all, complete_cpu, cpus, emit, kernel_options,
                     output_options, wants_host)
from .common import kernels as resolve_kernels


def _complete_runtime(ctx, param, incomplete):
    from ..userspace import rules

    return sorted({r.name for r in rules().runtimes if r.name.startswith(incomplete.lower())})


def _complete_libc(ctx, param, incomplete):
    words = ["glibc", "glibc-2.33", "glibc-2.34", "glibc-2.39", "glibc-2.41", "glibc-2.42", "musl", "musl-1.2.3",
             "musl-1.2.5", "musl-1.2.6"]
    return [w for w in words if w.startswith(incomplete.lower())]


@cli.command()
@click.option("--cpu", "-c", "cpu_specs", multiple=True, metavar="CPU", shell_complete=complete_cpu,
              help=CPU_HELP + " Repeatable, or 'all'.")
@kernel_options
@click.option("--libc", "libc", metavar="LIBC", shell_complete=_complete_libc,
              help="The C library: glibc, glibc-2.39, musl, musl-1.2.5 (default: the newest glibc modelled; with "
                   "--cpu host, this machine's).")
@click.option("--runtime", "-r", "runtime_names", multiple=True, metavar="NAME", shell_complete=_complete_runtime,
              help="A runtime's stack, every era of it (go, rust, cpython, erlang, dotnet, sanitizers, breakpad, "
                   "crashpad, swift, ocaml, oxcaml, clickhouse, wine, hotspot, openj9, wasmtime, datadog, julia, "
                   "dynamorio, gramine, v8, node). Repeatable; default: all, unless --size is given.")
@click.option("--size", "sizes", multiple=True, type=UInt(0, 1 << 40), metavar="BYTES",
              help="Judge your own sigaltstack size too. Repeatable.")
@click.option("--strict-sas-size", is_flag=True,
              help="The strict_sas_size boot parameter: sigaltstack() checks every process, permitted or not.")
@output_options
def sigstack(cpu_specs, kernels, options, libc, runtime_names, sizes, strict_sas_size, fmt):
    """Will a program's alternate signal stack hold the kernel's signal frame?

    For each CPU and kernel: AT_MINSIGSTKSZ and the frames the kernel delivers;
    what the C library reports (sysconf(_SC_MINSIGSTKSZ), _SC_SIGSTKSZ, the
    macros, ld.so's save areas); and each runtime's stack with its verdict:
    fits, fits only without AMX, refused by sigaltstack() (kernel or libc), or
    the process dies on delivery. Runtimes without an alternate stack are
    judged where their frames land: the room they keep below the stack pointer
    (HotSpot, OpenJ9), or a buffer that must hold a copy of the state
    (DynamoRIO, Gramine's SGX frames). Exit 1 when a stack does not hold
    AT_MINSIGSTKSZ, the largest frame the kernel may deliver, or a room or
    buffer what it must.

    \b
    Examples:
      xstatecalc sigstack --cpu spr
      xstatecalc sigstack --cpu spr --libc musl --runtime rust --runtime erlang
      xstatecalc sigstack --cpu all --kernel lts --size 16384
      xstatecalc sigstack --cpu spr -f json | jq '.[].stacks[] | select(.fits == false) | .who'
    """
    from ..sigstack import sigstack as report
    from ..userspace import find_runtimes, parse_libc
    from ..views.userspace import sigstack_view

    if libc is None and wants_host(cpu_specs):
        from ..host import running_libc

        found = running_libc()  # this machine's C library, not the newest modelled
        if found is not None:
            libc = "-".join(x for x in found if x)
    choice = parse_libc(libc)
    runtimes = find_runtimes(runtime_names) if runtime_names or not sizes else []
    profiles = cpus(cpu_specs)
    models = resolve_kernels(kernels, host=wants_host(cpu_specs))
    reports = [report(b, choice, runtimes, sizes, strict=strict_sas_size)
               for b in boot_all(profiles, models, options)]
    emit(sigstack_view(reports), fmt)
    if not all(r.ok for r in reports):
        sys.exit(EXIT_PROBLEM)


def _complete_value(ctx, param, incomplete):
    from ..fpu import boot
    from ..limits import value_names
    from ..profile import resolve

    return [n for n in value_names(boot(resolve("spr"))) if n.startswith(incomplete)]


@cli.command()
@click.argument("value", metavar="VALUE", shell_complete=_complete_value)
@click.argument("limit", metavar="N", type=UInt(0, 1 << 40))
@click.option("--cpu", "-c", "cpu_specs", multiple=True, metavar="CPU", shell_complete=complete_cpu,
              help="CPUs to check: built-in names or aliases, profile files, 'host', 'all'; repeatable or "
                   "comma-separated. Default: $XSTATECALC_CPU, else every built-in profile.")
@kernel_options
@output_options
def limit(value, limit, cpu_specs, kernels, options, fmt):
    """Which CPUs and kernels exceed a size your code hard-codes?

    VALUE is a value name of 'sizes' (user.max.size, abi.sigframe_min,
    kernel.max.size, ...) or kvm.cap_xsave2 (the KVM_GET_XSAVE2 buffer). Lists
    every CPU and kernel pair whose VALUE is above N, largest excess first;
    exit 1 if any is.

    \b
    Examples:
      xstatecalc limit user.max.size 4096                # CRIU's struct xsave limit
      xstatecalc limit abi.sigframe_min 8192 --kernel lts # a hard-coded sigaltstack size
      xstatecalc limit kvm.cap_xsave2 4096 -f json
    """
    from ..limits import EXTRA, exceeding, value_names
    from ..views.userspace import limit_view

    import os

    specs = cpu_specs or (os.environ.get("XSTATECALC_CPU") or "all",)
    boots = boot_all(cpus(specs), resolve_kernels(kernels, host=wants_host(specs)), options)
    try:
        over, checked = exceeding(boots, value, limit)
    except KeyError:
        import difflib

        names = value_names(boots[0])
        close = difflib.get_close_matches(value, names, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise click.BadParameter(f"{value!r}: no such value; {hint}known: {', '.join(names)}",
                                 param_hint="VALUE") from None
    emit(limit_view(value, limit, over, checked, EXTRA.get(value, "")), fmt)
    if over:
        sys.exit(EXIT_PROBLEM)
