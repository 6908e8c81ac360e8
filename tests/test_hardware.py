"""Engine against the hardware: the register values of 30 real CPUID dumps.

tests/data/hardware.yaml holds, for each dump, CPUID(0xD,0).EBX/ECX and
CPUID(0xD,1).EBX exactly as the CPU reported them, copied from the dump.
"""

import pytest

from xstatecalc import components as C
from xstatecalc import layout as L
from xstatecalc.profile import resolve

from .conftest import load_data

FACTS = load_data("hardware.yaml")


@pytest.mark.parametrize("cpu", sorted(FACTS))
def test_standard_size_of_all_xcr0_supported_is_ecx(cpu):
    p, f = resolve(cpu), FACTS[cpu]
    assert L.standard_size(p, p.xcr0_supported) == f["sl0_ecx"]


@pytest.mark.parametrize("cpu", sorted(FACTS))
def test_standard_size_of_xcr0_in_effect_is_ebx(cpu):
    p, f = resolve(cpu), FACTS[cpu]
    assert L.standard_size(p, int(f["xcr0_enabled_inferred"], 16)) == f["sl0_ebx"]


@pytest.mark.parametrize("cpu", sorted(c for c in FACTS if FACTS[c]["sl1_masks"]))
def test_compacted_size_reproduces_subleaf1_ebx(cpu):
    p, f = resolve(cpu), FACTS[cpu]
    for mask in f["sl1_masks"]:
        assert L.compacted_size(p, int(mask, 16)) == f["sl1_ebx"], mask


@pytest.mark.parametrize("cpu", sorted(FACTS))
def test_profile_masks_are_the_dumps(cpu):
    p, f = resolve(cpu), FACTS[cpu]
    assert (hex(p.xcr0_supported), hex(p.xss_supported)) == (f["xcr0_supported"].lower(), f["xss_supported"].lower())


@pytest.mark.parametrize("cpu", sorted(FACTS))
def test_profile_reported_sizes_are_the_dumps(cpu):
    p, f = resolve(cpu), FACTS[cpu]
    assert (p.reported.xcr0_size, p.reported.xcr0_max_size) == (f["sl0_ebx"], f["sl0_ecx"])
    assert p.reported.compacted_size == f["sl1_ebx"]


def test_legacy_only_masks_are_576():
    p = resolve("zen4")
    for m in (0, 1, 2, 3):
        assert L.standard_size(p, m) == 576 and L.compacted_size(p, m) == 576


def test_standard_size_uses_the_component_last_in_the_buffer():
    # APX (19) sits at 960, inside the old MPX hole: the highest-numbered component
    # does not end the buffer (Linux 6.16 'Walk through the xfeature order to pick the last').
    p = resolve("apx-hypothetical")
    m = C.mask_of(0, 1, 2, 5, 6, 7, 9, 19)
    assert L.standard_size(p, m) == 2696  # PKRU at 2688 + 8 ends it
    assert L.standard_size(p, m, order="number") == 960 + 128  # the pre-6.16 formula
    assert L.compacted_size(p, C.mask_of(0, 1, 19)) == 576 + 128


def test_zen4_layout_has_no_mpx_hole():
    # rr #3573: opmask at 832 on AMD, 1088 on Intel.
    assert resolve("zen4").components[C.OPMASK].offset == 832
    assert resolve("skylake-sp").components[C.OPMASK].offset == 1088
