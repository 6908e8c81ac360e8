"""Fleets: pool (many hosts at once)."""

from __future__ import annotations

import sys

import click

from . import cli
from .common import EXIT_PROBLEM, complete_cpu, emit, kernel_options, output_options


@cli.command()
@click.argument("hosts", nargs=-1, required=True, metavar="HOST...", shell_complete=complete_cpu)
@kernel_options(many=False)
@click.option("--libc", "libc", metavar="LIBC",
              help="The C library of members that do not name theirs (glibc-2.39, musl): its ld.so save areas "
                   "decide the CRIU verdict. Default: the newest glibc modelled.")
@click.option("--for", "consumers", multiple=True, type=click.Choice(["kvm", "raw", "rr", "criu"]),
              help="The consumers whose failing pairs decide the exit code: kvm, raw (a VMM copying the "
                   "KVM_GET_XSAVE2 blob), rr, criu. Repeatable; default: all. Every consumer is still shown.")
@click.option("--no-qemu", is_flag=True, help="Skip the search for the largest QEMU model every member runs.")
@output_options
def pool(hosts, kernels, options, libc, consumers, no_qemu, fmt):
    """A fleet at once: what every member shares, what holds it back, and who can move state to whom.

    HOST is anything --cpu takes (a built-in CPU, a profile file, a vCPU such as
    qemu:SapphireRapids-v3@spr, 'host'), each optionally @KERNEL; a CPUID dump
    (imported on the fly); a directory of profiles and dumps; or an inventory, a
    YAML list or CSV with the columns name, profile or dump, kernel, libc and count.
    Identical members are computed once. Shows the XCR0/XSS Linux enables on
    every member, the largest size of every configuration and where, the members
    that hold the pool back, the failing pairs per consumer grouped by reason, and
    the largest QEMU model every member runs. Exit 1 when a pair fails for a
    consumer chosen by --for, 2 on bad input.

    \b
    Examples:
      xstatecalc pool spr zen4 skylake-sp@6.1
      xstatecalc pool spr@5.15.0-91-generic spr@6.2 --for kvm
      xstatecalc pool fleet.csv --for raw -f json | jq '.consumers.raw.failing'
      xstatecalc pool dumps/ --kernel 6.8
    """
    from ..pool import analyse, classes, members_from
    from ..views.pools import pool_view
    from .common import _resolve_cpu, note, one_kernel

    if len(kernels) > 1:
        raise click.UsageError("pool takes one default --kernel; give each host its own as HOST@KERNEL")
    from ..profile import resolve

    members = members_from(hosts, kernel=kernels[0] if kernels else None, libc=libc)
    cls, renamed = classes(members, options, lambda spec: _resolve_cpu(spec, resolve),
                           lambda spec: one_kernel([spec] if spec else [], "pool"),
                           default_libc=libc)
    for r in renamed:
        note(r)
    report = analyse(cls, consumers, renamed, qemu=not no_qemu)
    emit(pool_view(report), fmt)
    if not report.ok:
        sys.exit(EXIT_PROBLEM)
