"""KVM guests and AMX processes: guest."""

from __future__ import annotations

import sys

import click

from . import cli
from .common import (CPU_HELP, EXIT_PROBLEM, UInt, boot_all, complete_cpu, complete_feature, emit, kernel_options,
                     one_cpu, one_kernel, output_options, wants_host)


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
