"""Buffer sizes and layouts: sizes, features, layout, kernels, cpus."""

from __future__ import annotations

import click

from ..errors import InputError
from . import cli
from .common import (CPU_HELP, UInt, boot_all, complete_cpu, cpus, emit, kernel_options, one_cpu, one_kernel,
                     output_options, wants_host)
from .common import kernels as resolve_kernels


@cli.command()
@click.option("--cpu", "-c", "cpu_specs", multiple=True, metavar="CPU", shell_complete=complete_cpu,
              help=CPU_HELP + " Repeat or comma-separate for a side-by-side comparison; 'all' for every built-in "
                              "profile.")
@kernel_options
@click.option("--explain", is_flag=True, help="Say how every number came about.")
@output_options
def sizes(cpu_specs, kernels, options, explain, fmt):
    """Every XSAVE buffer configuration Linux keeps for a CPU.

    Kernel, user and guest configs, each with its max and default feature set,
    format and size; plus AT_MINSIGSTKSZ and the NT_X86_XSTATE regset size.
    '--kernel all' compares every kernel model, '--kernel lts' every LTS branch.

    \b
    Examples:
      xstatecalc sizes --cpu sapphire-rapids --explain
      xstatecalc sizes --cpu all --format json | jq '.[] | {cpu, size: .configs.user.max.size}'
      xstatecalc sizes --cpu zen4 --kernel lts
      xstatecalc sizes --cpu spr --disable noxsaves --kernel 6.8
    """
    from ..views.buffers import sizes_view

    profiles = cpus(cpu_specs)
    models = resolve_kernels(kernels, host=wants_host(cpu_specs))
    boots = boot_all(profiles, models, options)
    emit(sizes_view(boots, want_explain=explain), fmt)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", shell_complete=complete_cpu, help=CPU_HELP)
@kernel_options(many=False)
@output_options
def features(cpu, kernels, options, fmt):
    """One row per XSAVE component: CPUID data, its class, and whether Linux enables it.

    \b
    Example:
      xstatecalc features --cpu sapphire-rapids --kernel 6.6
    """
    from ..views.buffers import features_view

    p = one_cpu(cpu, "features")
    k = one_kernel(kernels, "features", host=wants_host([cpu]))
    emit(features_view(boot_all([p], [k], options)[0]), fmt)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", shell_complete=complete_cpu, help=CPU_HELP)
@click.option("--mask", metavar="HEX", type=UInt(hex_only=True),
              help="Feature mask, e.g. 0x602e7 (default: the kernel's max features).")
@click.option("--features", "feature_list", metavar="LIST",
              help="Comma-separated features instead of --mask: avx,avx512,pkru,amx,apx or numbers.")
@click.option("--emit-note", is_flag=True,
              help="Print the NT_X86_XSAVE_LAYOUT records this kernel writes into core files (6.12+).")
@click.option("--diagram", is_flag=True, help="Draw the buffer: standard and compacted side by side.")
@kernel_options(many=False)
@output_options(choices=("table", "text", "json", "yaml", "csv", "svg"))
def layout(cpu, mask, feature_list, emit_note, diagram, kernels, options, fmt):
    """Offsets, sizes, holes and alignment padding of every component, in both formats.

    The compacted offsets are what the kernel prints as xstate_offset[i].

    \b
    Examples:
      xstatecalc layout --cpu sapphire-rapids
      xstatecalc layout --cpu zen4 --mask 0x2e7
      xstatecalc layout --cpu apx --features avx,avx512,pkru,apx
      xstatecalc layout --cpu zen4 --emit-note --format json
      xstatecalc layout --cpu spr --diagram
      xstatecalc layout --cpu spr --format svg > spr.svg
    """
    from .. import components as C
    from ..views.buffers import layout_view

    p = one_cpu(cpu, "layout")
    k = one_kernel(kernels, "layout", host=wants_host([cpu]))
    if mask is not None and feature_list:
        raise click.UsageError("give either --mask or --features, not both")
    if emit_note and (diagram or fmt == "svg"):
        raise click.UsageError("--emit-note prints the note's records, --diagram and --format svg draw the buffer: "
                               "give one of them")
    if mask is not None:
        m = mask
    elif feature_list:
        try:
            m = C.parse_features([feature_list])
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--features") from None
    else:
        b = boot_all([p], [k], options)[0]
        m = b.user_max.features if emit_note else b.kernel_max.features
    m |= C.MASK_FPSSE
    missing = [n for n in C.bits(m & ~C.MASK_FPSSE) if n not in p.components]
    if missing:
        raise InputError(f"{p.name} does not enumerate component(s) "
                         f"{', '.join(f'{n} ({C.key(n)})' for n in missing)}")
    if emit_note:
        from ..views.buffers import layout_note_view
        from ..xsaveimage import layout_note

        emit(layout_note_view(p, k, layout_note(p, m), m), fmt)
        return
    if diagram or fmt == "svg":
        from ..views.buffers import layout_picture_view

        emit(layout_picture_view(p, m, kernel=k), fmt)
        return
    emit(layout_view(p, m, kernel=k), fmt)


@cli.command("kernels")
@click.option("--branch", metavar="X.Y", help="A stable branch: its mainline row and every backport that matters "
                                               "on it, by point release (e.g. 6.1).")
@output_options
def kernels_(branch, fmt):
    """The kernel models, 4.15 to 7.4: what each release changed, with its evidence.

    Any version works with --kernel: the newest row at or below it is the model (its label
    is printed with every result), plus the stable backports of its branch.

    \b
    Examples:
      xstatecalc kernels
      xstatecalc kernels --branch 6.1
      xstatecalc kernels --format json | jq '.[] | select(.moves_numbers) | .kernel'
    """
    from ..kernels import RELEASES, branch_rows
    from ..versions import parse_version
    from ..views.buffers import kernels_view

    if branch:
        kv = parse_version(branch)
        if len(kv.release) != 2:
            raise click.BadParameter(f"{branch!r}: a branch is X.Y, e.g. 6.1", param_hint="--branch")
        rows = branch_rows(kv.release)
        if not rows:
            raise InputError(f"no model row for {branch}: 'xstatecalc kernels' lists the releases modelled")
    else:
        rows = [r for r in RELEASES if r.branch is None]
    emit(kernels_view(rows, branch=branch), fmt)


@cli.command("cpus")
@output_options
def list_cpus(fmt):
    """The built-in CPU profiles, with their aliases.

    \b
    Example:
      xstatecalc cpus --format json
    """
    from ..profile import all_builtin
    from ..views.buffers import cpus_view

    emit(cpus_view(all_builtin()), fmt)

