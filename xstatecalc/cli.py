"""The command line: parse, call the library, render. No arithmetic here."""

from __future__ import annotations

import functools
import os
import sys

import click

from . import __version__
from .errors import InputError

DEFAULT_CPU = "sapphire-rapids"
EXIT_PROBLEM, EXIT_USAGE = 1, 2


class XstateGroup(click.Group):
    """Turns library errors into one clear line on stderr and exit 2 (never a traceback)."""

    def list_commands(self, ctx):
        return list(self.commands)  # the order they are defined in: sizes first, then by workflow

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as e:
            click.echo(f"xstatecalc: error: {e}", err=True)
            ctx.exit(EXIT_USAGE)
        except BrokenPipeError:
            # `xstatecalc ... | head`: the reader went away; that is not an error.
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            ctx.exit(0)


def output_options(fn=None, *, default="table", choices=("table", "json", "yaml", "csv")):
    """--format/-f, the same on every command (json is the documented contract)."""

    def deco(f):
        @click.option("--format", "-f", "fmt", type=click.Choice(list(choices)), default=default,
                      show_default=True, help="Output format; json is a stable contract.")
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            return f(*args, **kwargs)

        return wrapper

    return deco(fn) if fn is not None else deco


def _default_cpu() -> str:
    return os.environ.get("XSTATECALC_CPU") or DEFAULT_CPU


def kernel_options(fn):
    """--kernel plus the kernel build/boot options that change numbers."""

    @click.option("--kernel", "-k", "kernel", metavar="VERSION",
                  help="Kernel version (6.1, 6.1.134, v6.8-rc3, 5.15.0-91-generic); default: the newest model.")
    @click.option("--disable", "disable", multiple=True, metavar="FEATURE",
                  help="Take a CPU feature away as the kernel would: pku (nopku, or PKEYS=n), shstk "
                       "(USER_SHADOW_STACK=n), enqcmd (INTEL_IOMMU_SVM=n), xsave/xsaves/xsavec/xsaveopt "
                       "(noxsave...), or any flag name like clearcpuid= (avx512f, amx_tile, xfd). Repeatable.")
    @click.option("--no-ia32-emulation", is_flag=True, help="CONFIG_IA32_EMULATION=n (smaller signal frame).")
    @click.option("--arch", type=click.Choice(["x86_64", "i386"]), default="x86_64", show_default=True,
                  help="Kernel architecture; i386 has no AMX (its sigframe constant is unverified).")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .fpu import make_options

        try:
            kwargs["options"] = make_options(kwargs.pop("disable"), arch=kwargs.pop("arch"),
                                             ia32_emulation=not kwargs.pop("no_ia32_emulation"))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--disable") from None
        return fn(*args, **kwargs)

    return wrapper


def _emit(view, fmt):
    from .render import emit

    emit(view, fmt)


def _kernels(spec: str | None):
    from .kernels import all_models, resolve_kernel

    if spec == "all":
        return all_models()
    return [resolve_kernel(spec)]


def _cpus(specs):
    from .profile import all_builtin, resolve

    out = []
    for s in specs or (_default_cpu(),):
        out.extend(all_builtin() if s == "all" else [resolve(s)])
    return out


CPU_HELP = ("CPU: a built-in name or alias (see 'xstatecalc cpus'), a profile file, or 'host'. "
            "Default: $XSTATECALC_CPU, else sapphire-rapids.")


@click.group(cls=XstateGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="xstatecalc")
def cli():
    """Exact x86 XSAVE buffer sizes: CPUID leaf 0xD, standard and compacted layouts, and the
    kernel/user/guest fpstate configurations of Linux 5.15-6.18.

    \b
    Examples:
      xstatecalc sizes --cpu sapphire-rapids
      xstatecalc sizes --cpu spr --cpu zen4 --format json
      xstatecalc guest --cpu spr --kernel 6.1 --enable amx
      sudo dmesg | xstatecalc dmesg --cpu host --check -
      xstatecalc compare zen4 skylake-sp
      xstatecalc verify ci/xsave-expect.yaml
    """


@cli.command()
@click.option("--cpu", "-c", "cpus", multiple=True, metavar="CPU",
              help=CPU_HELP + " Repeat for a side-by-side comparison; 'all' for every built-in profile.")
@kernel_options
@click.option("--explain", is_flag=True, help="Say how every number came about.")
@output_options
def sizes(cpus, kernel, options, explain, fmt):
    """Every XSAVE buffer configuration Linux keeps for a CPU.

    Kernel, user and guest configs, each with its max and default feature set,
    format and size; plus AT_MINSIGSTKSZ and the NT_X86_XSTATE regset size.
    '--kernel all' compares every kernel model.

    \b
    Examples:
      xstatecalc sizes --cpu sapphire-rapids --explain
      xstatecalc sizes --cpu all --format json | jq '.[] | {cpu, size: .configs.user.max.size}'
      xstatecalc sizes --cpu zen4 --kernel all
    """
    from .fpu import boot
    from .views import sizes_view

    boots = [boot(p, k, options) for p in _cpus(cpus) for k in _kernels(kernel)]
    _emit(sizes_view(boots, want_explain=explain), fmt)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", help=CPU_HELP)
@kernel_options
@output_options
def features(cpu, kernel, options, fmt):
    """One row per XSAVE component: CPUID data, its class, and whether Linux enables it.

    \b
    Example:
      xstatecalc features --cpu sapphire-rapids --kernel 6.6
    """
    from .fpu import boot
    from .views import features_view

    (p,) = _cpus([cpu] if cpu else [])
    (k,) = _kernels(kernel)
    _emit(features_view(boot(p, k, options)), fmt)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", help=CPU_HELP)
@click.option("--mask", metavar="HEX", help="Feature mask, e.g. 0x602e7 (default: the kernel's max features).")
@click.option("--features", "feature_list", metavar="LIST",
              help="Comma-separated features instead of --mask: avx,avx512,pkru,amx,apx or numbers.")
@kernel_options
@output_options
def layout(cpu, mask, feature_list, kernel, options, fmt):
    """Offsets, sizes, holes and alignment padding of every component, in both formats.

    The compacted offsets are what the kernel prints as xstate_offset[i].

    \b
    Examples:
      xstatecalc layout --cpu sapphire-rapids
      xstatecalc layout --cpu zen4 --mask 0x2e7
      xstatecalc layout --cpu apx --features avx,avx512,pkru,apx
    """
    from . import components as C
    from .fpu import boot
    from .views import layout_view

    (p,) = _cpus([cpu] if cpu else [])
    (k,) = _kernels(kernel)
    if mask and feature_list:
        raise click.UsageError("give either --mask or --features, not both")
    if mask:
        try:
            m = int(mask, 16)
        except ValueError:
            raise click.BadParameter(f"{mask!r} is not a hex mask", param_hint="--mask") from None
    elif feature_list:
        try:
            m = C.parse_features([feature_list])
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--features") from None
    else:
        m = boot(p, k, options).kernel_max.features
    m |= C.MASK_FPSSE
    missing = [n for n in C.bits(m & ~C.MASK_FPSSE) if n not in p.components]
    if missing:
        raise InputError(f"{p.name} does not enumerate component(s) {', '.join(f'{n} ({C.key(n)})' for n in missing)}")
    _emit(layout_view(p, m, kernel_label=k.label), fmt)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", help=CPU_HELP)
@kernel_options
@click.option("--enable", "-e", "enable", multiple=True, metavar="FEATURE",
              help="Dynamic feature to ask permission for: amx (= xtile_data, 18). Repeatable.")
@click.option("--process", is_flag=True,
              help="Show an ordinary process instead: ARCH_REQ_XCOMP_PERM, then the #NM reallocation.")
@click.option("--sigaltstack", type=click.IntRange(min=0), metavar="BYTES",
              help="Check an alternate signal stack of BYTES against the permission request (implies "
                   "--process); exit 1 when the kernel would refuse with -ENOSPC.")
@output_options
def guest(cpu, kernel, options, enable, process, sigaltstack, fmt):
    """The KVM guest fpstate lifecycle, step by step, with every size.

    Boot; the VMM's perm and guest_perm; ARCH_REQ_XCOMP_GUEST_PERM; KVM_CREATE_VCPU
    (fpu_alloc_guest_fpstate); KVM_SET_CPUID2 (the AMX reallocation, uabi_size);
    and the guest's CPUID 0xD. Each row names the kernel function.

    \b
    Examples:
      xstatecalc guest --enable amx
      xstatecalc guest --cpu spr --kernel 6.1.133 --enable amx
      xstatecalc guest --enable amx --process --sigaltstack 8192
      xstatecalc guest --enable amx -f json | jq '.[] | {step, call, alloc: .state.fpstate.allocated}'
    """
    from .fpu import boot
    from .guest import ENOSPC, GuestFlowError, dynamic_request, guest_flow, process_flow
    from .views import guest_view

    (p,) = _cpus([cpu] if cpu else [])
    (k,) = _kernels(kernel)
    b = boot(p, k, options)
    try:
        idx = dynamic_request(b, enable)
    except GuestFlowError as e:
        raise click.BadParameter(str(e), param_hint="--enable") from None
    if sigaltstack is not None:
        process = True
        if not idx:
            raise click.UsageError("--sigaltstack checks a permission request: add --enable amx")
    steps = process_flow(b, idx, sigaltstack) if process else guest_flow(b, idx)
    _emit(guest_view(b, steps, flow="process" if process else "guest"), fmt)
    if sigaltstack is not None and any(st.result == ENOSPC for st in steps):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.argument("profile", required=False, metavar="[PROFILE]")
@click.option("--cpu", "-c", "cpu", metavar="CPU", help=CPU_HELP + " (or give PROFILE)")
@kernel_options
@output_options
def check(profile, cpu, kernel, options, fmt):
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
    from .checks import check as run_checks
    from .checks import has_errors
    from .fpu import boot
    from .views import check_findings_view

    if profile and cpu:
        raise click.UsageError("give PROFILE or --cpu, not both")
    (p,) = _cpus([profile or cpu] if (profile or cpu) else [])
    (k,) = _kernels(kernel)
    b = boot(p, k, options)
    findings = run_checks(b)
    _emit(check_findings_view(b, findings), fmt)
    if has_errors(findings):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@kernel_options
@output_options
def compare(src, dst, kernel, options, fmt):
    """Can XSAVE state move from SRC to DST? Live migration, rr replay, CRIU.

    SRC and DST are CPU names, aliases or profile files. Per component: presence,
    size, offsets, alignment; per config: sizes side by side; then one verdict per
    consumer with its rule and the reason. Exit 1 when a verdict fails.

    \b
    Examples:
      xstatecalc compare sapphire-rapids emerald-rapids
      xstatecalc compare zen4 skylake-sp --format json | jq .verdicts
    """
    from .compare import component_rows, verdicts
    from .fpu import boot
    from .report import flat_values, sizes_record
    from .views import compare_view

    (k,) = _kernels(kernel)
    a, b = (boot(p, k, options) for p in _cpus([src, dst]))
    fa, fb = flat_values(sizes_record(a)), flat_values(sizes_record(b))
    sizes = {name: (fa[name], fb.get(name)) for name in fa}
    vs, common = verdicts(a, b)
    _emit(compare_view(a, b, component_rows(a, b), vs, common, sizes=sizes), fmt)
    if not all(v.ok for v in vs):
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
        options: {disable: [enqcmd]}
        expect:
          guest.default.size: 2560
          abi.sigframe_min: 11952
    """
    from .expect import evaluate, load
    from .views import verify_view

    results = [r for case in load(expectations) for r in evaluate(case)]
    _emit(verify_view(results), fmt)
    if not all(r["ok"] for r in results):
        sys.exit(EXIT_PROBLEM)


@cli.command("import")
@click.argument("dump", metavar="FILE|-", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--name", metavar="NAME", help="Profile name (default: from the brand string).")
@click.option("--from", "fmt_from", type=click.Choice(["cpuid-r", "aida64", "kernel", "sde"]),
              help="Dump format (default: detected).")
@click.option("-o", "--output", metavar="PROFILE.yaml", type=click.Path(dir_okay=False),
              help="Write the profile here (atomically) instead of stdout.")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
def import_(dump, name, fmt_from, output, force):
    """Turn a CPUID dump into a profile.

    Reads `cpuid -r` (Todd Allen), AIDA64/InstLatx64, the kernel's own CPUID dump
    from an XSAVE consistency warning, or Intel SDE cpuid.def. Notes and
    disagreements go to stderr; the profile goes to stdout or -o.

    \b
    Examples:
      cpuid -r | xstatecalc import - --name my-host -o my-host.yaml
      xstatecalc import GenuineIntel00806F8_CPUID.txt -o spr.yaml
      xstatecalc sizes --cpu my-host.yaml
    """
    from . import importers
    from .inputs import read_text, write_atomic

    text = read_text(dump, what="CPUID dump")
    res = importers.to_profile(importers.parse(text, "<stdin>" if dump == "-" else dump, fmt_from), name)
    for n in res.notes:
        click.echo(f"xstatecalc: note: {n}", err=True)
    for w in res.warnings:
        click.echo(f"xstatecalc: warning: {w}", err=True)
    if output:
        write_atomic(output, res.text, force=force)
        click.echo(f"xstatecalc: wrote profile {res.name!r} to {output}", err=True)
    else:
        click.echo(res.text, nl=False)


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

    from .fpu import boot
    from .host import compare_with_kernel, host_profile, read_cpuid
    from .kernels import resolve_kernel
    from .views import host_view

    dump = read_cpuid()
    p = host_profile(dump)
    release = kernel or platform.release()
    b = boot(p, resolve_kernel(release))
    rows = compare_with_kernel(b, dump)
    _emit(host_view(b, rows, release), fmt)
    if any(r.status == "differs" for r in rows):
        sys.exit(EXIT_PROBLEM)


@cli.command()
@output_options
def kernels(fmt):
    """The kernel models, 5.15 to 6.18, and what each release changed.

    Any version in between works with --kernel: the newest model at or below it
    is used, plus the stable backports of its branch.

    \b
    Example:
      xstatecalc kernels --format json | jq '.[].kernel'
    """
    from .kernels import all_models
    from .views import kernels_view

    _emit(kernels_view(all_models()), fmt)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", help=CPU_HELP)
@kernel_options
@click.option("--check", "logfile", metavar="LOGFILE", type=click.Path(dir_okay=False, allow_dash=True),
              help="Compare the x86/fpu lines of a boot log (dmesg, journalctl, a pasted bug report; '-' "
                   "for stdin) with the model; exit 1 when they differ. Without --kernel, the version in the "
                   "log's 'Linux version' line is used.")
@output_options(default="text", choices=("text", "table", "json", "yaml", "csv"))
def dmesg(cpu, kernel, options, logfile, fmt):
    """The x86/fpu boot lines this kernel prints for this CPU, byte for byte.

    \b
    Examples:
      xstatecalc dmesg --cpu zen4 --kernel 6.6
      dmesg | xstatecalc dmesg --cpu sapphire-rapids --check -
      xstatecalc dmesg --cpu spr --kernel 6.1 --disable enqcmd --check bug-report.txt
    """
    from . import dmesg as D
    from .fpu import boot
    from .inputs import read_text
    from .views import dmesg_check_view, dmesg_view

    (p,) = _cpus([cpu] if cpu else [])
    if logfile is None:
        (k,) = _kernels(kernel)
        b = boot(p, k, options)
        lines = D.boot_lines(b)
        if fmt == "text":
            click.echo("\n".join(lines))
        else:
            _emit(dmesg_view(b, lines), fmt)
        return
    text = read_text(logfile, what="boot log")
    source = "--kernel"
    if kernel is None:
        kernel = D.log_kernel_version(text)
        source = f"'Linux version {kernel}' in the log" if kernel else "newest model; the log names no version"
    (k,) = _kernels(kernel)
    b = boot(p, k, options)
    res = D.check(b, text)
    if not res.found:
        raise InputError(f"{'<stdin>' if logfile == '-' else logfile}: no x86/fpu boot lines found "
                         "(expected lines like \"x86/fpu: Enabled xstate features ...\")")
    _emit(dmesg_check_view(b, res, kernel_source=source), "table" if fmt == "text" else fmt)
    if not res.ok:
        sys.exit(EXIT_PROBLEM)


@cli.command()
@output_options
def cpus(fmt):
    """The built-in CPU profiles, with their aliases.

    \b
    Example:
      xstatecalc cpus --format json
    """
    from .profile import all_builtin
    from .views import cpus_view

    _emit(cpus_view(all_builtin()), fmt)


def main(argv=None):
    """Console-script entry point."""
    cli.main(args=argv, prog_name="xstatecalc")


if __name__ == "__main__":  # pragma: no cover
    main()
