"""Golden numbers from the specification (linux-xstate-model.md §5.6, §9) and real boot logs."""

import pytest

from xstatecalc.fpu import Options, boot, make_options
from xstatecalc.kernels import resolve_kernel
from xstatecalc.profile import resolve

NO_PASID = make_options(["clearcpuid=541"])  # the reference's example CPU has no PASID (ENQCMD = 16*32+29: a number works on every kernel)


def b(cpu, kernel=None, options=None):
    return boot(resolve(cpu), resolve_kernel(kernel), options or Options())


def test_sapphire_rapids_newest_reference_9_2():
    x = b("sapphire-rapids", "6.18", NO_PASID)
    assert (x.kernel_max.features, x.kernel_max.size) == (0x61AE7, 10752)
    assert (x.kernel_default.features, x.kernel_default.size) == (0x20AE7, 2560)
    assert (x.user_max.features, x.user_max.size) == (0x602E7, 11008)
    assert (x.user_default.features, x.user_default.size) == (0x202E7, 2816)
    assert (x.guest_default.features, x.guest_default.size) == (0x21AE7, 2560)
    assert x.sigframe_min == 11952
    assert x.regset_xstate == 11008
    assert x.compacted


def test_sapphire_rapids_no_ia32_emulation():
    x = b("sapphire-rapids", "6.18", Options(ia32_emulation=False))
    assert x.sigframe_min == 11536


def test_sapphire_rapids_with_pasid_matches_real_logs():
    # "With PASID the logs show 0x606e7 ... 10752" (6.1-era SPR/EMR hosts).
    x = b("sapphire-rapids", "6.1")
    assert (x.kernel_max.features, x.kernel_max.size) == (0x606E7, 10752)


def test_sapphire_rapids_6_1_reference():
    x = b("sapphire-rapids", "6.1", NO_PASID)
    assert (x.kernel_max.features, x.kernel_max.size) == (0x602E7, 10752)
    assert (x.kernel_default.features, x.kernel_default.size) == (0x202E7, 2560)
    assert (x.user_max.size, x.user_default.size, x.sigframe_min) == (11008, 2816, 11952)


def test_sapphire_rapids_5_15_reference():
    x = b("sapphire-rapids", "5.15", NO_PASID)  # §9.2's example CPU has no PASID (with it: kernel-audit A1)
    assert (x.kernel_max.features, x.kernel_max.size) == (0x2E7, 2440)
    assert x.user_max.size == 2696
    assert (x.sigframe_min, b("sapphire-rapids", "5.15", make_options(ia32_emulation=False)).sigframe_min) == \
        (3632, 3232)


@pytest.mark.parametrize("kernel,kmax,kdef,gdef", [
    ("6.1", (0x2E7, 2440), 2440, 2440),
    ("6.6", (0xAE7, 2456), 2456, 2456),
    ("6.16", (0xAE7, 2456), 2456, 2456),
    ("6.17", (0x1AE7, 2480), 2456, 2480),
    ("6.18", (0x1AE7, 2480), 2456, 2480),
])
def test_zen4_reference_9_3(kernel, kmax, kdef, gdef):
    x = b("zen4", kernel)
    assert (x.kernel_max.features, x.kernel_max.size) == kmax
    assert (x.kernel_default.size, x.guest_default.size) == (kdef, gdef)
    assert (x.user_max.size, x.user_default.size, x.sigframe_min) == (2440, 2440, 3376)


def test_apx_hypothetical_reference_9_4():
    x = b("apx-hypothetical", "6.16", NO_PASID)
    assert x.kernel_max.size == 10880 and x.kernel_default.size == 2688
    assert x.user_max.size == 11008 and x.user_default.size == 2816


def test_development_machine_sigframe():
    # shared/README: AMD EPYC VM, XCR0 0x7, AT_MINSIGSTKSZ 1776 = round_up(832 + 930, 16)
    x = b("zen2", "6.18")
    assert x.user_max.size == 832 and x.sigframe_min == 1776
