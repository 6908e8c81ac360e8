"""The command line: parse, call the library, render. No arithmetic here.

One module per workflow: buffer sizes and layouts (:mod:`.buffers`), KVM guests and
processes (:mod:`.guests`), checking CPUs, logs and expectations (:mod:`.checks`),
reading dumps and this machine (:mod:`.inputs`).
"""

from __future__ import annotations

import click

from .. import __version__
from .common import XstateGroup


@click.group(cls=XstateGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="xstatecalc")
def cli():
    """Exact x86 XSAVE buffer sizes: CPUID leaf 0xD, standard and compacted layouts, and the
    kernel/user/guest fpstate configurations of Linux 4.15-7.4.

    \b
    Examples:
      xstatecalc sizes --cpu sapphire-rapids
      xstatecalc sizes --cpu spr --cpu zen4 --kernel lts --format json
      xstatecalc guest --cpu spr --kernel 6.1 --enable amx
      sudo dmesg | xstatecalc dmesg --check -
      xstatecalc compare zen4 skylake-sp
      xstatecalc verify ci/xsave.yaml
    """


def main(argv=None):
    """Console-script entry point."""
    cli.main(args=argv, prog_name="xstatecalc")
