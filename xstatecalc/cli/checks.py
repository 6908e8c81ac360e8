"""Checking CPUs, boot logs and expectations: check, compare, verify, dmesg."""

from __future__ import annotations

import os
import sys

import click

from ..errors import InputError
from . import cli
from .common import (CPU_HELP, EXIT_PROBLEM, boot_all, complete_cpu, complete_kernel, emit, kernel_options, one_cpu,
                     one_kernel, output_options, wants_host)
from .common import kernels as resolve_kernels


@cli.command()
@click.argument("profile", required=False, metavar="[PROFILE]", shell_complete=complete_cpu)
@click.option("--cpu", "-c", "cpu", metavar="CPU", shell_complete=complete_cpu, help=CPU_HELP + " (or give PROFILE)")
@kernel_options(many=False)
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
    from ..views.checks import check_findings_view

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
@click.argument("src", metavar="SRC", shell_complete=complete_cpu)
@click.argument("dst", metavar="DST", shell_complete=complete_cpu)
@kernel_options(many=False)
@click.option("--src-kernel", metavar="VERSION", shell_complete=complete_kernel, help="The source's kernel (default: --kernel). SRC@VERSION "
              "says the same.")
@click.option("--dst-kernel", metavar="VERSION", shell_complete=complete_kernel, help="The destination's kernel (default: --kernel). "
              "DST@VERSION says the same.")
@click.option("--for", "consumers", multiple=True, type=click.Choice(["kvm", "raw", "rr", "criu"]),
              help="The verdicts that decide the exit code: kvm (live migration: components and "
                   "KVM_SET_XSAVE size), raw (a VMM copying the KVM_GET_XSAVE2 blob), rr, criu. Repeatable; "
                   "default: all. Every verdict is still shown.")
@click.option("--diagram", is_flag=True, help="Draw both standard layouts, one above the other.")
@output_options(choices=("table", "text", "json", "yaml", "csv", "svg"))
def compare(src, dst, kernels, options, src_kernel, dst_kernel, consumers, diagram, fmt):
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
      xstatecalc compare skylake-sp zen4 --format svg > skx-vs-zen4.svg
    """
    from ..compare import component_rows, gate, verdicts
    from ..vcpu import is_vcpu_spec
    from ..report import flat_values, sizes_record
    from ..views.checks import compare_view

    sides = []
    for spec, own, opt in ((src, src_kernel, "--src-kernel"), (dst, dst_kernel, "--dst-kernel")):
        # A profile file may have '@' in its name; a vCPU's '@' parts are its host and host kernel.
        split = "@" in spec and not os.path.exists(spec) and not is_vcpu_spec(spec)
        cpu_spec, at, at_kernel = spec.rpartition("@") if split else (spec, "", "")
        if at and not (cpu_spec.strip() and at_kernel.strip()):
            raise click.UsageError(f"{spec[:40]!r}: CPU@KERNEL needs both, e.g. spr@6.1 "
                                   f"({'no CPU before' if not cpu_spec.strip() else 'no kernel after'} '@')")
        if at and own:
            raise click.UsageError(f"{spec!r} names a kernel and so does {opt}: give one")
        wanted = [at_kernel or own] if (at_kernel or own) else list(kernels)
        k = one_kernel(wanted, "compare", host=wants_host([cpu_spec]))
        (b,) = boot_all([one_cpu(cpu_spec, "compare")], [k], options)
        sides.append(b)
    a, b = sides
    fa, fb = flat_values(sizes_record(a)), flat_values(sizes_record(b))
    sizes = {name: (fa[name], fb.get(name)) for name in fa}
    extra, hosts = [], None
    specs = (src, dst)
    if all(is_vcpu_spec(s) for s in specs):
        from ..kvmblob import GuestKind
        from .common import vcpu

        va, vb = (vcpu(s) for s in specs)
        if va.host.boot is not None and vb.host.boot is not None:
            hosts = (va.host.boot, vb.host.boot, GuestKind(va.label, va.xcr0, "PKU" in va.flags))
        if (va.vmm, va.release, va.model, va.spec.mods) == (vb.vmm, vb.release, vb.model, vb.spec.mods) \
                and va.host.name != vb.host.name:
            same = va.xcr0 == vb.xcr0 and va.xss == vb.xss
            extra.append(f"One model on two hosts: the guest sees {'the same' if same else 'different'} features "
                         f"(xcr0 {va.xcr0:#x} / {vb.xcr0:#x}), but every standard offset is the host's own "
                         "(QEMU takes CPUID 0xD from the host under KVM). QEMU unpacks KVM_GET_XSAVE into per-register "
                         "state with the source's offsets and packs it again with the destination's, so its live "
                         "migration copes; a VMM that copies the raw blob (Firecracker, cloud-hypervisor snapshots) "
                         "restores state at the wrong offsets wherever they differ.")
    vs, common = verdicts(a, b, hosts)
    ok = gate(vs, consumers)
    view = compare_view(a, b, component_rows(a, b), vs, common, sizes=sizes, ok=ok, extra_notes=extra)
    if diagram or fmt == "svg":
        from ..pictures import compare_picture

        view.pictures = [compare_picture(a, b, a.user_max.features & b.user_max.features)]
    emit(view, fmt)
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
      xstatecalc verify ci/xsave.yaml
    with ci/xsave.yaml:
      - cpu: sapphire-rapids
        kernel: "6.18"
        options: {disable: [clearcpuid=enqcmd]}
        expect:
          guest.default.size: 2560
          abi.sigframe_min: 11952
    """
    from ..expect import evaluate, load
    from ..views.checks import verify_view

    results = [r for case in load(expectations) for r in evaluate(case, resolve_cpu=lambda s: one_cpu(s, "verify"))]
    emit(verify_view(results), fmt)
    if not all(r["ok"] for r in results):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", shell_complete=complete_cpu, help=CPU_HELP)
@kernel_options(many=False)
@click.option("--check", "logfile", metavar="LOGFILE", type=click.Path(dir_okay=False, allow_dash=True),
              help="Check the x86/fpu lines of a boot log (dmesg, journalctl, a pasted bug report; '-' for "
                   "stdin); exit 1 when they differ from the model, or contradict each other. Without --cpu: "
                   "what the log says by itself, the kernels that could have printed it and the built-in CPUs "
                   "that match. Without --kernel: the log's 'Linux version' line, else every kernel model.")
@output_options(default="text", choices=("text", "table", "json", "yaml", "csv"))
def dmesg(cpu, kernels, options, logfile, fmt):
    """The x86/fpu boot lines this kernel prints for this CPU, byte for byte.

    \b
    Examples:
      xstatecalc dmesg --cpu zen4 --kernel 6.6
      dmesg | xstatecalc dmesg --check -
      dmesg | xstatecalc dmesg --cpu sapphire-rapids --check -
      xstatecalc dmesg --cpu spr --kernel 6.1 --disable clearcpuid=enqcmd --check bug-report.txt
    """
    from .. import dmesg as D
    from ..inputs import read_text
    from ..views.checks import dmesg_check_view, dmesg_view

    if logfile is None:
        p = one_cpu(cpu, "dmesg")
        (b,) = boot_all([p], [one_kernel(kernels, "dmesg", host=wants_host([cpu]))], options)
        lines = D.boot_lines(b)
        if fmt == "text":
            click.echo("\n".join(lines))
        else:
            emit(dmesg_view(b, lines), fmt)
        return
    from ..inputs import shown_name

    name = "<stdin>" if logfile == "-" else shown_name(logfile)
    text = read_text(logfile, what="boot log")
    log = D.parse_log(text)  # read once: every CPU and kernel model is compared with these parsed lines
    log_boots = log.boots
    if not log_boots:
        raise InputError(f"{name}: no x86/fpu boot lines found (expected lines like \"x86/fpu: Enabled xstate "
                         "features ...\")")
    # 'text' is the default for the boot lines; for a check it is the ASCII table only when asked for.
    explicit = click.get_current_context().get_parameter_source("fmt") != click.core.ParameterSource.DEFAULT
    table_fmt = "table" if fmt == "text" and not explicit else fmt
    banner = log_boots[-1].kernel
    if cpu is None:
        ok = _log_only(log, kernels, options, table_fmt)
        if not ok:
            sys.exit(EXIT_PROBLEM)
        return
    p = one_cpu(cpu, "dmesg")
    if kernels or banner:
        source = "--kernel" if kernels else f"'Linux version {banner}' in the log"
        (b,) = boot_all([p], [one_kernel(kernels or (banner,), "dmesg")], options)
        res = D.check(b, log)
        emit(dmesg_check_view(b, res, kernel_source=source), table_fmt)
    else:
        from ..kernels import mainline_models

        # No version anywhere: every model, and the newest that agrees with every line (else the newest).
        models = mainline_models()
        boots_ = boot_all([p], models, options)
        agree = [b.kernel.label for b in boots_ if D.agrees(b, log)]
        b = next((b for b in reversed(boots_) if b.kernel.label in agree), boots_[-1])
        res = D.check(b, log)
        from ..logfacts import ranges

        runs = ranges([m for m in models if m.label in agree], models)
        source = (f"the log names no kernel; models that agree with every line: {', '.join(runs)}; checked against "
                  f"the newest" if agree else "the log names no kernel and no model agrees with every line; "
                  "checked against the newest")
        emit(dmesg_check_view(b, res, kernel_source=source, agreeing=runs), table_fmt)
    if not res.ok:
        sys.exit(EXIT_PROBLEM)


def _log_only(log, kernels, options, fmt) -> bool:
    """dmesg --check without --cpu: the log's own facts and arithmetic, its kernel, the CPUs that match."""
    from .. import dmesg as D
    from ..kernels import mainline_models
    from ..logfacts import consistent_models, ranges, read
    from ..profile import all_builtin
    from ..views.checks import log_facts_view

    log_boots = log.boots
    facts = read(log_boots[-1])
    models = mainline_models()
    if kernels:
        candidates, how = list(resolve_kernels(kernels)), "--kernel"
    elif facts.boot.kernel:
        candidates, how = list(resolve_kernels([facts.boot.kernel])), f"'Linux version {facts.boot.kernel}'"
    else:
        candidates, how = consistent_models(facts, models), "the lines themselves"
    from ..fpu import boot

    cpus = []  # quietly: a CPU's own boot warnings are not about this log
    for p in all_builtin():
        if any(D.agrees(boot(p, k, options), log) for k in candidates):
            cpus.append(p.name)
    kernel_ranges = ranges(candidates, models) if how == "the lines themselves" else \
        [m.label if m.label == m.model else f"{m.label} (model {m.model})" for m in candidates]
    emit(log_facts_view(facts, kernel_ranges, how, cpus, boots=len(log_boots)), fmt)
    return facts.ok



