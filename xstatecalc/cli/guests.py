"""KVM guests and AMX processes: guest."""

from __future__ import annotations

import sys

import click

from . import cli
from .common import (CPU_HELP, EXIT_PROBLEM, UInt, boot_all, complete_cpu, complete_feature, complete_kernel, emit,
                     kernel_options, one_cpu, one_kernel, output_options, wants_host)


@cli.command()
@click.option("--cpu", "-c", "cpu", metavar="CPU", shell_complete=complete_cpu, help=CPU_HELP)
@kernel_options(many=False)
@click.option("--enable", "-e", "enable", multiple=True, metavar="FEATURE", shell_complete=complete_feature,
              help="Dynamic feature to ask permission for: amx (= xtile_data, 18). Repeatable.")
@click.option("--process", is_flag=True,
              help="Show an ordinary process instead: ARCH_REQ_XCOMP_PERM, then the #NM reallocation.")
@click.option("--sigaltstack", type=UInt(0, 1 << 40), metavar="BYTES",
              help="Follow an alternate signal stack of BYTES through the process flow (implies --process): "
                   "sigaltstack(), the permission request, a signal. Exit 1 when any step fails.")
@output_options
def guest(cpu, kernels, options, enable, process, sigaltstack, fmt):
    """The KVM guest fpstate lifecycle, step by step, with every size.

    Boot; the VMM's perm and guest_perm; ARCH_REQ_XCOMP_GUEST_PERM; KVM_CREATE_VCPU
    (fpu_alloc_guest_fpstate); KVM_SET_CPUID2 (the AMX reallocation, uabi_size);
    and the guest's CPUID 0xD. Each row names the kernel function. Exit 1 when a
    step fails (-EINVAL, -EOPNOTSUPP, -EPERM, -EBUSY, -ENOSPC, a fatal signal).

    \b
    Examples:
      xstatecalc guest --enable amx
      xstatecalc guest --cpu spr --kernel 6.1.133 --enable amx
      xstatecalc guest --enable amx --process --sigaltstack 8192
      xstatecalc guest --enable amx -f json | jq '.[] | {step, call, alloc: .state.fpstate.allocated}'
    """
    from ..guest import GuestFlowError, dynamic_request, failed, guest_flow, process_flow
    from ..views.guests import guest_view

    p = one_cpu(cpu, "guest")
    k = one_kernel(kernels, "guest", host=wants_host([cpu]))
    (b,) = boot_all([p], [k], options)
    try:
        idx = dynamic_request(b, enable)
    except GuestFlowError as e:
        raise click.BadParameter(str(e), param_hint="--enable") from None
    process = process or sigaltstack is not None
    steps = process_flow(b, idx, sigaltstack) if process else guest_flow(b, idx)
    emit(guest_view(b, steps, flow="process" if process else "guest"), fmt)
    if failed(steps):
        sys.exit(EXIT_PROBLEM)


def _complete_model(ctx, param, incomplete):
    """QEMU model names of the newest release, Firecracker templates, libvirt modes; or a whole VMM:MODEL."""
    from ..vcpu import qemu_models
    from ..vmm.firecracker import TEMPLATES
    from ..vmm.qemu import RELEASES

    vmm = ((ctx.params or {}).get("vmm") or "qemu").lower()
    if ":" in incomplete:
        head, _, tail = incomplete.partition(":")
        vmm, prefix = head.lower(), head + ":"
    else:
        tail, prefix = incomplete, ""
    release = vmm.partition("-")[2]
    if vmm.startswith("firecracker"):
        words = list(TEMPLATES) + ["none"]
    elif vmm.startswith("libvirt"):
        words = ["host-model", "host-passthrough"]
    else:
        known = [r.release for r in RELEASES]
        words = qemu_models(release if release in known else known[-1])
    return [prefix + w for w in sorted(set(words)) if w.lower().startswith(tail.lower())]


def _complete_vmm(ctx, param, incomplete):
    from ..vmm.firecracker import RELEASES as FC
    from ..vmm.qemu import RELEASES as QEMU

    words = ["qemu", "firecracker", "libvirt"] + [f"qemu-{r.release}" for r in QEMU] + \
        [f"firecracker-{r.release}" for r in FC]
    return [w for w in words if w.startswith(incomplete.lower())]


@cli.command()
@click.argument("model", metavar="MODEL", shell_complete=_complete_model)
@click.option("--host", "host", metavar="CPU", shell_complete=complete_cpu,
              help="The host CPU (a built-in name, a profile file, 'host'), or 'tcg' for QEMU's own emulation. "
                   "Default: $XSTATECALC_CPU, else sapphire-rapids.")
@click.option("--vmm", "vmm", metavar="VMM", default="qemu", show_default=True, shell_complete=_complete_vmm,
              help="qemu, qemu-10.1 (a release), firecracker, firecracker-1.12, libvirt. Without a release, the "
                   "newest modelled; the output says which.")
@click.option("--host-kernel", metavar="VERSION", shell_complete=complete_kernel,
              help="The host's kernel, whose KVM decides what passes (default: the newest release).")
@kernel_options(many=False)
@click.option("-o", "--output", metavar="GUEST.yaml", type=click.Path(dir_okay=False),
              help="Also write the guest's CPU as a profile, for every other command (--cpu GUEST.yaml).")
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@output_options
def vcpu(model, host, vmm, host_kernel, kernels, options, output, force, fmt):
    """What a guest sees: a VMM's CPU model on a host, cut to what KVM on that host passes.

    MODEL is a QEMU model (SapphireRapids-v3, Skylake-Server, qemu64, host, max; with
    QEMU's modifiers: SapphireRapids-v2,-amx-tile), a Firecracker template (T2S, T2CL,
    T2A, C3, none) or a libvirt mode (host-model, host-passthrough). Prints the guest's
    CPUID leaf 0xD, sub-leaf by sub-leaf, the flags its kernel reads, what was dropped and
    why, and the guest kernel's buffer sizes (--kernel). Wherever a CPU is accepted the
    same guest is written VMM[-RELEASE]:MODEL[@HOST[@HOST_KERNEL]]:
    --cpu qemu-10.1:SapphireRapids-v3@zen4@6.8.

    \b
    Examples:
      xstatecalc vcpu SapphireRapids-v3 --host zen4
      xstatecalc vcpu Skylake-Server-v5 --host spr --vmm qemu-10.1 --host-kernel 6.8
      xstatecalc vcpu T2S --vmm firecracker --host skylake-sp
      xstatecalc vcpu EPYC-Milan --host tcg -f json | jq .leaf_0xd
      xstatecalc vcpu host --host spr -o guest.yaml && xstatecalc sizes --cpu guest.yaml
      xstatecalc sizes --cpu qemu:SapphireRapids-v3@zen4 --kernel 6.1
    """
    from ..vcpu import is_vcpu_spec
    from ..views.guests import vcpu_view
    from .common import default_cpu
    from .common import vcpu as resolve_vcpu

    if is_vcpu_spec(model):
        if host or host_kernel or click.get_current_context().get_parameter_source("vmm").name != "DEFAULT":
            raise click.UsageError("MODEL is a whole VMM:MODEL@HOST spelling: give --vmm, --host and --host-kernel "
                                   "in it, or not at all")
        spec = model
    else:
        if ":" in vmm or "@" in vmm:
            raise click.BadParameter(f"{vmm[:40]!r}: a VMM is qemu, qemu-10.1, firecracker, firecracker-1.12 or "
                                     "libvirt", param_hint="--vmm")
        if "@" in model or "@" in (host or "") or "@" in (host_kernel or ""):
            raise click.UsageError("'@' belongs to the VMM:MODEL@HOST spelling; here give --host and --host-kernel")
        spec = f"{vmm}:{model}@{host or default_cpu()}" + (f"@{host_kernel}" if host_kernel else "")
    v = resolve_vcpu(spec)
    k = one_kernel(kernels, "vcpu")
    (b,) = boot_all([v.profile], [k], options)
    if output:
        from ..inputs import write_atomic
        from ..profile import profile_text

        from ..vcpu import profile_name
        from .common import note

        prof = v.profile._replace(name=profile_name(v.profile.name))
        write_atomic(output, profile_text(prof, [f"Written by xstatecalc vcpu {spec}",
                                                 "The guest's CPUID leaf 0xD as the VMM and KVM build it."]),
                     force=force)
        note(f"wrote the guest's CPU as profile {prof.name!r} to {output}")
    emit(vcpu_view(v, b), fmt)
    if v.problems:
        sys.exit(EXIT_PROBLEM)
