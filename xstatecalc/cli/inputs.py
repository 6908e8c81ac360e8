"""Reading what users have: import (CPUID dumps) and host (this machine)."""

from __future__ import annotations

import sys

import click

from . import cli
from ..errors import InputError
from .common import (EXIT_PROBLEM, EXIT_USAGE, UInt, complete_cpu, emit, install_signal_handlers, note, output_options,
                     warn)


@cli.command("import")
@click.argument("dumps", nargs=-1, required=True, metavar="FILE|DIR|-...", type=click.Path(allow_dash=True))
@click.option("--name", metavar="NAME", help="Profile name (default: from the brand string; one dump only).")
@click.option("--from", "fmt_from", type=click.Choice(["cpuid-r", "aida64", "kernel", "sde"]),
              help="Dump format (default: detected).")
@click.option("-o", "--output", metavar="PROFILE.yaml|DIR", type=click.Path(allow_dash=True),
              help="Write the profile here (atomically) instead of stdout; '-' is stdout. With several dumps or a "
                   "directory: a directory, one PROFILE.yaml per distinct CPU.")
@click.option("--force", is_flag=True, help="Replace existing output files.")
@output_options(default="text", choices=("text", "table", "json", "yaml", "csv"))
def import_(dumps, name, fmt_from, output, force, fmt):
    """Turn CPUID dumps into profiles.

    Reads `cpuid -r` (Todd Allen), AIDA64/InstLatx64, the kernel's own CPUID dump
    from an XSAVE consistency warning, or Intel SDE cpuid.def, in every layout the
    InstLatx64 collection uses. One dump: the profile goes to stdout or -o. Many
    dumps or directories: -o DIR gets one profile per distinct CPU; a dump that
    repeats another's CPUID is reported as a duplicate, not written twice, and two
    different CPUs never share a name. Notes and disagreements go to stderr. Exit 1
    (profiles still written) when a leaf 0xD is one the kernel would refuse or
    distrust: no x87/SSE in CPUID(0xD,0).EAX (an empty mask included), or a
    CPUID(0xD,1).EBX that no IA32_XSS explains.

    \b
    Examples:
      cpuid -r | xstatecalc import - --name my-host -o my-host.yaml
      xstatecalc import GenuineIntel00806F8_CPUID.txt -o spr.yaml
      xstatecalc import fleet-dumps/ -o profiles/ --format json
      xstatecalc sizes --cpu my-host.yaml
    """
    from .. import importers
    from ..inputs import read_text, write_atomic

    install_signal_handlers()  # SIGTERM while reading or writing ends like Ctrl-C: exit 130, no temporary file
    import os

    if len(dumps) > 1 or (dumps[0] != "-" and os.path.isdir(dumps[0])):
        _import_many(dumps, name, fmt_from, output, force, fmt)
        return
    dump = dumps[0]
    if fmt != "text" and (not output or output == "-"):
        raise click.UsageError("--format describes the import report, written when the profile goes to -o FILE "
                               "(the profile itself is YAML)")

    text = read_text(dump, what="CPUID dump")
    res = importers.to_profile(importers.parse(text, "<stdin>" if dump == "-" else dump, fmt_from), name)
    for n in res.notes:
        note(n)
    for w in res.warnings:
        warn(w)
    for f in res.findings:
        warn(f)
    if output and output != "-":
        write_atomic(output, res.text, force=force)
        if fmt == "text":
            note(f"wrote profile {res.name!r} to {output}")
        else:  # the report a batch prints, for one dump
            from ..pool import Imported
            from ..views.inputs import import_view

            emit(import_view([Imported(dump, res.name, res.text, None, None, tuple(res.notes),
                                       tuple(res.findings))], {res.name: output}), fmt)
    else:
        click.echo(res.text, nl=False)
    if res.findings:
        sys.exit(EXIT_PROBLEM)


def _import_many(dumps, name, fmt_from, output, force, fmt):
    """import with several dumps or directories: every one read first, then one profile per distinct CPU."""
    import os

    from ..inputs import write_atomic
    from ..pool import expand_files, import_many
    from ..views.inputs import import_view

    if name:
        raise click.UsageError("--name names one profile; with several dumps the brand strings name them")
    if not output or output == "-" or (os.path.exists(output) and not os.path.isdir(output)):
        raise click.UsageError("several dumps need -o DIR: a directory for one profile per distinct CPU")
    items = import_many(expand_files(dumps), fmt_from)
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as e:
        raise InputError(f"{output}: cannot create the directory: {e.strerror or e}") from None
    paths = {it.name: os.path.join(output, f"{it.name}.yaml") for it in items if it.text is not None}
    if not force:  # all or nothing: no profile written when one would be refused
        taken = [p for p in paths.values() if os.path.lexists(p)]
        if taken:
            raise InputError(f"{taken[0]}: already exists" + (f" (and {len(taken) - 1} more)" if len(taken) > 1
                                                              else "") + "; use --force to replace them")
    for it in items:
        if it.text is not None:
            write_atomic(paths[it.name], it.text, force=force)
    for it in items:  # a fleet's notes would drown the findings: those only
        for f in it.findings:
            warn(f"{it.file}: {f}")
    emit(import_view(items, paths), fmt)
    if any(it.error for it in items):
        sys.exit(EXIT_USAGE)
    if any(it.findings for it in items):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.option("--kernel", "-k", "kernel", metavar="VERSION",
              help="Model this kernel instead of the running one (uname -r).")
@output_options
def host(kernel, fmt):
    """Model the running kernel on this CPU and hold it against what the kernel reports.

    XCR0 (XGETBV), CPUID 0xD sizes, AT_MINSIGSTKSZ, ARCH_GET_XCOMP_SUPP/PERM and,
    when the kernel log is readable, the x86/fpu boot lines. Exit 1 when any differs;
    what the host does not expose is shown as unavailable.

    \b
    Examples:
      xstatecalc host
      xstatecalc host --format json | jq '.rows[] | select(.status == "differs")'
    """
    import platform

    from ..fpu import boot
    from ..host import compare_with_kernel, host_profile, read_cpuid, running_options
    from ..views.inputs import host_view
    from .common import one_kernel

    dump = read_cpuid()
    p = host_profile(dump)
    release = kernel or platform.release()
    options, read = running_options(platform.release())
    b = boot(p, one_kernel([release], "host"), options)
    rows = compare_with_kernel(b, dump)
    emit(host_view(b, rows, release, read), fmt)
    if any(r.status == "differs" for r in rows):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--raw", is_flag=True, help="FILE is a raw XSAVE image (KVM_GET_XSAVE2, PTRACE_GETREGSET, a signal "
                                          "frame's fpstate), not an ELF core; detected when not given.")
@click.option("--cpu", "-c", "cpu", metavar="CPU", shell_complete=complete_cpu,
              help="Check the image against this CPU's layout; exit 1 if it differs.")
@click.option("--component", type=UInt(0, 63), metavar="N", help="Print component N's raw bytes.")
@output_options
def core(file, raw, cpu, component, fmt):
    """What an XSAVE image holds, and which CPUs' layouts it fits.

    Reads an ELF core file (NT_X86_XSTATE, NT_X86_XSAVE_LAYOUT from 6.12; cores
    gdb's gcore wrote are recognised) or a raw image: XCR0 as stored, XSTATE_BV
    and XCOMP_BV, the format and size, the components that hold state, and the
    layout — from the note when the core has one, else every built-in CPU whose
    layout fits, saying when several different layouts fit (where debuggers
    guess wrong). Exit 1 when XRSTOR would refuse the image (or XSETBV its XCR0),
    or --cpu's layout differs; exit 2 for a file that is neither a core nor an
    XSAVE image (--raw reads it anyway).

    \b
    Examples:
      xstatecalc core core.12345
      xstatecalc core guest.xsave --raw --cpu zen4
      xstatecalc core core.12345 --component 5 --format json
    """
    from ..inputs import BinarySource
    from ..profile import all_builtin
    from ..views.inputs import core_view
    from ..xsaveimage import LEGACY_RECORDS, candidates, component_bytes, fits, layout_groups, profile_layout, read_image

    src = BinarySource(file, what="core file or XSAVE image")
    name = src.shown  # escaped: the name goes into titles, JSON and errors
    try:
        image = read_image(src, name, raw=True if raw else None)
    finally:
        src.close()
    fits_ = candidates(image, all_builtin())
    groups = layout_groups(fits_)
    check = chosen = None
    if cpu:
        from .common import one_cpu

        p = one_cpu(cpu, "core")
        why = fits(p, image)
        check = {"cpu": p.name, "ok": not why, "differences": why}
        chosen = profile_layout(p, image)
    if image.layout is not None:
        chosen = {r.type: (r.offset, r.size) for r in image.layout if r.type not in LEGACY_RECORDS}
    elif chosen is None and len(groups) == 1:
        chosen = groups[0][0].layout
    comp = None
    if component is not None:
        if chosen is None and component > 1:
            why = (f"the layout is ambiguous ({len(groups)} layouts fit)" if groups else
                   "no built-in CPU's layout fits")
            raise InputError(f"{name}: component {component}: {why}; name the CPU with --cpu")
        try:
            comp = (component, component_bytes(image, component, chosen or {}))
        except InputError as e:
            raise InputError(f"{name}: {e}") from None
    frame = _explain_frame(image) if image.signal_sw else None
    view = core_view(name, image, fits_, groups, check, chosen, comp, frame)
    emit(view, fmt)
    if not view.data["ok"]:
        sys.exit(EXIT_PROBLEM)


def _explain_frame(image):
    """A signal frame's fpstate: its software bytes (and FP_XSTATE_MAGIC2 after the image, when the dump reaches
    it) against every real built-in CPU and kernel row, as `which --frame` judges them."""
    import struct

    from ..options import Options
    from ..profile import all_builtin
    from ..which import default_kernels, explain_frame, make_space

    sw = image.signal_sw
    fields = {"magic1": int(sw["magic1"], 16), "extended_size": sw["extended_size"],
              "xfeatures": int(sw["xfeatures"], 16), "xstate_size": sw["xstate_size"]}
    xs = fields["xstate_size"]
    if xs >= 576 and xs + 4 <= image.size:
        fields["magic2"] = struct.unpack_from("<I", image.data, xs)[0]
    space = make_space([p for p in all_builtin() if not p.hypothetical], default_kernels(), [], Options())
    return explain_frame(space, fields, image.size), space
