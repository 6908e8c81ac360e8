"""From a number back to the cause: which."""

from __future__ import annotations

import sys

import click

from . import cli
from ..errors import InputError
from .common import EXIT_PROBLEM, complete_cpu, cpus, emit, kernel_options, output_options, wants_host
from .common import kernels as resolve_kernels

MAX_NUMBERS = 16


def _complete_libc(ctx, param, incomplete):
    from .userspace import _complete_libc as words

    return words(ctx, param, incomplete)


@cli.command()
@click.argument("numbers", nargs=-1, metavar="NUMBER...")
@click.option("--cpu", "-c", "cpu_specs", multiple=True, metavar="CPU", shell_complete=complete_cpu,
              help="CPUs to search: built-in names or aliases, profile files, vCPUs (qemu:MODEL@HOST), 'host', "
                   "'all'; repeatable or comma-separated. Default: $XSTATECALC_CPU, else every built-in CPU that "
                   "exists (not the hypothetical APX part).")
@kernel_options(default="Default: every released kernel row from 4.15 (see 'xstatecalc kernels'), or the running "
                        "kernel with --cpu host.")
@click.option("--libc", "libcs", multiple=True, metavar="LIBC", shell_complete=_complete_libc,
              help="C libraries to search: glibc, musl (every version modelled), or one version (glibc-2.39, "
                   "musl-1.2.5); repeatable or comma-separated. Default: every glibc and musl.")
@click.option("--vcpu", "vcpu_hosts", multiple=True, metavar="HOST", shell_complete=complete_cpu,
              help="Search the guests of every QEMU model (newest release modelled) and Firecracker template on "
                   "HOST as well; repeatable. Not searched by default: a few hundred guests per host.")
@click.option("--frame", "frame", metavar="FIELD=N,...",
              help="Explain a signal frame's software bytes instead: magic1, extended_size, xfeatures, "
                   "xstate_size (and magic2, the word after the image), any of them, e.g. "
                   "magic1=0x46505853,extended_size=1092,xstate_size=1088.")
@output_options
def which(numbers, cpu_specs, kernels, options, libcs, vcpu_hosts, frame, fmt):
    """Which CPU, kernel and C library produce a number?

    NUMBER is a size or a mask someone observed (decimal or 0x hex): an
    AT_MINSIGSTKSZ, a sysconf(_SC_SIGSTKSZ), an extended_size, a context size,
    a KVM buffer. Every quantity xstatecalc computes is searched — the
    kernel's configurations, CPUID's sizes, the signal frame (IA32 emulation
    on and off), the C libraries' sysconf values, macros and ld.so save areas,
    KVM's values, core notes, each runtime's stack — on every CPU and kernel,
    and each match is named with the function behind it. Several numbers:
    where they all occur together. A number that occurs nowhere gets the
    nearest values, with the difference, and the formulas run backwards.
    Exit 0 when every number occurs (together), 1 when not, 2 for bad input.

    \b
    Examples:
      xstatecalc which 11952                       # AT_MINSIGSTKSZ on Sapphire Rapids
      xstatecalc which 2688 2696                   # rr: XSAVE data length 2688, expected 2696
      xstatecalc which 39616 --libc glibc          # a MINSIGSTKSZ nobody can explain
      xstatecalc which 1092 --kernel 4.15          # DynamoRIO #1937's extended_size
      xstatecalc which --frame magic1=0x46505853,extended_size=2804,xstate_size=2688
      xstatecalc which 47808 -f json | jq '.matches[] | {quantity, cpus}'
    """
    from ..which import default_kernels, explain_frame, libc_eras, make_space

    if frame and numbers:
        raise click.UsageError("give NUMBERs or --frame, not both")
    if not frame and not numbers:
        raise click.UsageError("give a NUMBER to look for (decimal or 0x hex), or --frame FIELD=N,...")
    if len(numbers) > MAX_NUMBERS:
        raise click.UsageError(f"at most {MAX_NUMBERS} NUMBERs at once (got {len(numbers)})")
    values, hexed = [], set()
    for text in numbers:
        values.append(_number(text, "NUMBER"))
        if str(text).strip().lower().startswith("0x"):
            hexed.add(values[-1])
    fields = _frame(frame) if frame else None

    import os

    specs = cpu_specs or ((os.environ["XSTATECALC_CPU"],) if os.environ.get("XSTATECALC_CPU") else ())
    if specs:
        profiles = cpus(specs)
    else:
        from ..profile import all_builtin

        profiles = [p for p in all_builtin() if not p.hypothetical]
    profiles += _guests(vcpu_hosts, {p.name for p in profiles})
    models = resolve_kernels(kernels, host=wants_host(specs)) if kernels or wants_host(specs) else default_kernels()
    # A frame's software bytes owe nothing to the C library: its eras are not computed then.
    space = make_space(profiles, models, [] if fields is not None else libc_eras(libcs), options)
    if fields is not None:
        from ..views.which import frame_view

        answer = explain_frame(space, fields)
        emit(frame_view(answer, space), fmt)
    else:
        from ..views.which import which_view
        from ..which import which as search

        answer = search(space, values, hexed)
        emit(which_view(answer, space), fmt)
    if not answer.ok:
        sys.exit(EXIT_PROBLEM)


def _number(text, what: str, bits: int = 64) -> int:
    """ASCII decimal or 0x hex, else one line naming *what* and the problem (exit 2)."""
    from ..numbers import parse_int

    try:
        return parse_int(text, what=what, bits=bits)
    except ValueError as e:
        raise InputError(str(e)) from None


def _frame(text: str) -> dict:
    """'magic1=0x46505853,extended_size=1092' -> {'magic1': 0x46505853, 'extended_size': 1092}."""
    from ..which import FRAME_FIELDS

    out = {}
    for item in str(text).split(","):
        name, eq, value = item.strip().partition("=")
        name = name.strip().lower()
        if not eq or name not in FRAME_FIELDS:
            raise InputError(f"--frame: {item.strip()!r}: expected FIELD=N with FIELD one of {', '.join(FRAME_FIELDS)}")
        if name in out:
            raise InputError(f"--frame: {name} given twice")
        # struct _fpx_sw_bytes: xfeatures is a __u64, the others __u32 (as is the magic2 word)
        out[name] = _number(value, f"--frame {name}", 64 if name == "xfeatures" else 32)
    return out


def _guests(hosts, taken: set) -> list:
    """Every QEMU model of the newest release modelled and every Firecracker template on each host, one profile
    per distinct guest CPUID (its name the first model that gives it)."""
    if not hosts:
        return []
    from ..vcpu import qemu_models, resolve_vcpu
    from ..vmm.firecracker import TEMPLATES
    from ..vmm.qemu import RELEASES

    newest = RELEASES[-1].release
    out, seen = [], {}
    for host in hosts:
        for spec in [f"qemu-{newest}:{m}@{host}" for m in qemu_models(newest)] + \
                [f"firecracker:{t}@{host}" for t in TEMPLATES]:
            try:
                p = resolve_vcpu(spec).profile
            except InputError:
                continue  # a template that refuses this host, a model this release lacks
            key = repr((p.vendor, p.family, p.model, sorted(p.flags), p.xcr0_supported, p.xss_supported,
                        sorted(p.components.items()), p.reported))
            if key in seen or p.name in taken:
                continue
            seen[key] = p
            out.append(p)
    return out
