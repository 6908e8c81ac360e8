"""Checking CPUs, boot logs and expectations: check, compare, verify, dmesg."""

from __future__ import annotations

import os
import sys

import click

from ..errors import InputError
from . import cli
from .common import (CPU_HELP, EXIT_PROBLEM, boot_all, emit, kernel_options, one_cpu, one_kernel, output_options,
                     wants_host)


@cli.command()
@click.argument("profile", required=False, metavar="[PROFILE]")
@click.option("--cpu", "-c", "cpu", metavar="CPU", help=CPU_HELP + " (or give PROFILE)")
@kernel_options
@output_options
def check(profile, cpu, kernels, options, fmt):
    """Check a leaf 0xD the way the kernel and the SDM do.

    The kernel's boot checks (FP/SSE, APX with MPX, struct sizes, the paranoid
    size check against CPUID(0xD,1).EBX), XSETBV's XCR0 rules, and the sizes the
    dump reported. Each finding shows the exact line the kernel prints and what it
    does next. Exit 1 when Linux would disable or distrust XSAVE.

    \b
    Examples:
      xstatecalc check my-hypervisor-cpu.yaml --kernel 6.8
      xstatecalc check --cpu zen2 --kernel 6.1
    """
    from ..checks import check as run_checks
    from ..checks import has_errors
    from ..views import check_findings_view

    if profile and cpu:
        raise click.UsageError("give PROFILE or --cpu, not both")
    p = one_cpu(profile or cpu, "check")
    k = one_kernel(kernels, "check", host=wants_host([profile or cpu]))
    (b,) = boot_all([p], [k], options)
    findings = run_checks(b)
    emit(check_findings_view(b, findings), fmt)
    if has_errors(findings):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@kernel_options
@click.option("--src-kernel", metavar="VERSION", help="The source's kernel (default: --kernel). SRC@VERSION "
              "says the same.")
@click.option("--dst-kernel", metavar="VERSION", help="The destination's kernel (default: --kernel). "
              "DST@VERSION says the same.")
@click.option("--for", "consumers", multiple=True, type=click.Choice(["kvm", "raw", "rr", "criu"]),
              help="The verdicts that decide the exit code: kvm (live migration: components and "
                   "KVM_SET_XSAVE size), raw (a VMM copying the KVM_GET_XSAVE2 blob), rr, criu. Repeatable; "
                   "default: all. Every verdict is still shown.")
@output_options
def compare(src, dst, kernels, options, src_kernel, dst_kernel, consumers, fmt):
    """Can XSAVE state move from SRC to DST? Live migration, rr replay, CRIU.

    SRC and DST are CPU names, aliases or profile files, optionally with a kernel
    (spr@6.1). Per component: presence, size, offsets, alignment; per config:
    sizes side by side; then one verdict per consumer with its rule and the
    reason. Exit 1 when a verdict chosen by --for fails.

    \b
    Examples:
      xstatecalc compare sapphire-rapids emerald-rapids
      xstatecalc compare spr zen4 --src-kernel 6.1 --dst-kernel 6.18 --for kvm
      xstatecalc compare spr@6.1 spr@6.18
      xstatecalc compare zen4 skylake-sp --format json | jq .verdicts
    """
    from ..compare import component_rows, gate, verdicts
    from ..report import flat_values, sizes_record
    from ..views import compare_view

    sides = []
    for spec, own, opt in ((src, src_kernel, "--src-kernel"), (dst, dst_kernel, "--dst-kernel")):
        split = "@" in spec and not os.path.exists(spec)  # a profile file may have '@' in its name
        cpu_spec, at, at_kernel = spec.rpartition("@") if split else (spec, "", "")
        if at and own:
            raise click.UsageError(f"{spec!r} names a kernel and so does {opt}: give one")
        wanted = [at_kernel or own] if (at_kernel or own) else list(kernels)
        k = one_kernel(wanted, "compare", host=wants_host([cpu_spec]))
        (b,) = boot_all([one_cpu(cpu_spec, "compare")], [k], options)
        sides.append(b)
    a, b = sides
    fa, fb = flat_values(sizes_record(a)), flat_values(sizes_record(b))
    sizes = {name: (fa[name], fb.get(name)) for name in fa}
    vs, common = verdicts(a, b)
    ok = gate(vs, consumers)
    emit(compare_view(a, b, component_rows(a, b), vs, common, sizes=sizes, ok=ok), fmt)
    if not ok:
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.argument("expectations", metavar="EXPECT.yaml", type=click.Path(dir_okay=False, allow_dash=True))
@output_options
def verify(expectations, fmt):
    """Check values against an expectations file; exit 1 when any differs.

    The file names a CPU, a kernel, options, and values by their dotted names
    (kernel.max.size, guest.default.size, abi.sigframe_min, xcr0, ...).

    \b
    Example:
      xstatecalc verify ci/xsave-expect.yaml
    with ci/xsave-expect.yaml:
      - cpu: sapphire-rapids
        kernel: "6.18"
        options: {disable: [clearcpuid=enqcmd]}
        expect:
          guest.default.size: 2560
          abi.sigframe_min: 11952
    """
    from ..expect import evaluate, load
    from ..views import verify_view

    results = [r for case in load(expectations) for r in evaluate(case, resolve_cpu=lambda s: one_cpu(s, "verify"))]
    emit(verify_view(results), fmt)
    if not all(r["ok"] for r in results):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", help=CPU_HELP)
@kernel_options
@click.option("--check", "logfile", metavar="LOGFILE", type=click.Path(dir_okay=False, allow_dash=True),
              help="Compare the x86/fpu lines of a boot log (dmesg, journalctl, a pasted bug report; '-' "
                   "for stdin) with the model; exit 1 when they differ. Without --kernel, the version in the "
                   "log's 'Linux version' line is used.")
@output_options(default="text", choices=("text", "table", "json", "yaml", "csv"))
def dmesg(cpu, kernels, options, logfile, fmt):
    """The x86/fpu boot lines this kernel prints for this CPU, byte for byte.

    \b
    Examples:
      xstatecalc dmesg --cpu zen4 --kernel 6.6
      dmesg | xstatecalc dmesg --cpu sapphire-rapids --check -
      xstatecalc dmesg --cpu spr --kernel 6.1 --disable clearcpuid=enqcmd --check bug-report.txt
    """
    from .. import dmesg as D
    from ..inputs import read_text
    from ..views import dmesg_check_view, dmesg_view

    p = one_cpu(cpu, "dmesg")
    if logfile is None:
        (b,) = boot_all([p], [one_kernel(kernels, "dmesg", host=wants_host([cpu]))], options)
        lines = D.boot_lines(b)
        if fmt == "text":
            click.echo("\n".join(lines))
        else:
            emit(dmesg_view(b, lines), fmt)
        return
    text = read_text(logfile, what="boot log")
    source = "--kernel"
    if not kernels:
        version = D.log_kernel_version(text)
        source = f"'Linux version {version}' in the log" if version else "newest model; the log names no version"
        kernels = (version,) if version else ()
    (b,) = boot_all([p], [one_kernel(kernels, "dmesg")], options)
    res = D.check(b, text)
    if not res.found:
        raise InputError(f"{'<stdin>' if logfile == '-' else logfile}: no x86/fpu boot lines found "
                         "(expected lines like \"x86/fpu: Enabled xstate features ...\")")
    emit(dmesg_check_view(b, res, kernel_source=source), "table" if fmt == "text" else fmt)
    if not res.ok:
        sys.exit(EXIT_PROBLEM)

