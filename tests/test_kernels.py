"""Kernel models: version parsing, model choice, backports, and the per-version facts of the reference §0."""

import pytest

from xstatecalc.errors import KernelVersionError
from xstatecalc.fpu import Options, boot
from xstatecalc.kernels import all_models, parse_version, resolve_kernel
from xstatecalc.profile import resolve


@pytest.mark.parametrize("text,version", [
    ("6.1", (6, 1)),
    ("6.1.133", (6, 1, 133)),
    ("v6.8-rc3", (6, 8)),
    ("5.15.0-91-generic", (5, 15, 0)),
    ("6.6.30-200.fc40.x86_64", (6, 6, 30)),
    (" 6.12.23 ", (6, 12, 23)),
])
def test_parse_version(text, version):
    assert parse_version(text) == version


@pytest.mark.parametrize("bad", ["", "six", "6", "linux-6.1"])
def test_unreadable_version(bad):
    with pytest.raises(KernelVersionError):
        parse_version(bad)


def test_version_between_models_uses_the_one_below():
    # 6.8 has no change of its own: it behaves like 6.6 (CET_U, OSPKE) and says it is 6.8.
    k = resolve_kernel("v6.8-rc3")
    assert k.label == "6.8" and k.supervisor_supported == resolve_kernel("6.6").supervisor_supported
    assert k.guest_alloc == "user_default"


def test_older_than_oldest_model_exit_2(run):
    res = run("sizes", "--kernel", "5.10")
    assert res.exit_code == 2
    assert "older than the oldest model (5.15)" in res.stderr


def test_default_is_newest_and_says_so(run_json):
    assert run_json("sizes")[0]["kernel"] == all_models()[-1].label == "6.18"


@pytest.mark.parametrize("version,alloc", [
    ("6.1", "user_default"), ("6.1.133", "user_default"), ("6.1.134", "kernel_default"),
    ("6.6.86", "user_default"), ("6.6.87", "kernel_default"), ("6.12.22", "user_default"),
    ("6.12.23", "kernel_default"),
    ("6.14", "user_default"), ("6.15", "kernel_default"), ("6.17", "guest_default"),
])
def test_guest_buffer_fix_by_point_release(version, alloc):
    # 1937e18cc3cf upstream in 6.15. Stable: the reference says 6.1.133, but the stable review puts the
    # patch in 6.1.134-rc1 ('[PATCH 6.1 006/204]', cover '6.1.134-rc1 review'), 6.6.87-rc1 and 6.12.23-rc1.
    assert resolve_kernel(version).guest_alloc == alloc


def test_backports_stay_on_their_branch():
    # 6.2.134 is not a 6.1 stable release: no backport applies.
    assert resolve_kernel("6.2.134").guest_alloc == "user_default"


def test_kernel_all_lists_every_model(run_json):
    out = run_json("sizes", "--cpu", "zen4", "--kernel", "all")
    labels = [r["kernel"] for r in out]
    assert labels == ["5.15", "5.16", "5.17", "5.18", "5.19", "6.0", "6.3", "6.4", "6.6", "6.15", "6.16",
                      "6.17", "6.18"]
    by = {r["kernel"]: r["configs"]["kernel"]["max"]["size"] for r in out}
    assert (by["6.0"], by["6.6"], by["6.17"]) == (2440, 2456, 2480)  # reference §9.3


def test_kernels_command(run_json):
    out = run_json("kernels")
    k616 = next(m for m in out if m["kernel"] == "6.16")
    assert k616["facts"]["std_size_order"] == "offset"
    assert k616["facts"]["user_supported"] == "0xe02ff"  # reference §1.2: 6.16+ USER_SUPPORTED on 64-bit
    assert next(m for m in out if m["kernel"] == "5.16")["facts"]["user_supported"] == "0x602ff"
    assert all(m["changes"] and m["evidence"] for m in out)


def test_kernels_table(run):
    res = run("kernels")
    assert res.exit_code == 0 and "6.15" in res.stdout and "fpu_alloc_guest_fpstate" in res.stdout


# Options that change numbers (reference §8, last bullet).

def _kmax(cpu, kernel, **opts):
    return boot(resolve(cpu), resolve_kernel(kernel), Options(**opts)).kernel_max


def test_nopku_drops_pkru():
    assert _kmax("zen4", "6.6").features == 0xAE7
    assert _kmax("zen4", "6.6", disabled=frozenset({"pku"})).features == 0x8E7


def test_no_user_shadow_stack_drops_cet():
    assert _kmax("zen4", "6.17", disabled=frozenset({"shstk"})).features == 0x2E7


def test_no_iommu_svm_drops_pasid():
    assert _kmax("sapphire-rapids", "6.1").features == 0x606E7
    assert _kmax("sapphire-rapids", "6.1", disabled=frozenset({"enqcmd"})).features == 0x602E7


def test_enqcmd_force_disabled_before_518():
    # Reference §0: ENQCMD force-disabled until 5.18 (7c1ef59145f1), so no PASID on 5.17.
    assert _kmax("sapphire-rapids", "5.17").features == 0x602E7
    assert _kmax("sapphire-rapids", "5.18").features == 0x606E7


def test_noxsaves_on_518_means_standard_but_compacted_from_519():
    # Reference §8: up to 5.18 no XSAVES means the standard format; 5.19 uses XSAVEC.
    off = frozenset({"xsaves"})
    assert not _kmax("zen4", "5.18", disabled=off).compacted
    assert _kmax("zen4", "5.19", disabled=off).compacted


def test_erratum_1386_zen2_from_63():
    # Reference §8: XSAVES cleared on family 0x17 from 6.3; still compacted via XSAVEC.
    b62 = boot(resolve("zen2"), resolve_kernel("6.2"))
    b63 = boot(resolve("zen2"), resolve_kernel("6.3"))
    assert "XSAVES" in b62.flags and "XSAVES" not in b63.flags and b63.compacted


def test_clearcpuid_style_removal():
    assert _kmax("sapphire-rapids", "6.18", disabled=frozenset({"amx_tile"})).features & 0x60000 == 0


def test_consistency_message_wording_by_version():
    # 48280042f2c6: "..., dumping leaves" became "...: size %u != kernel_size %u" (6.2; 6.0.17/6.1.3 stable).
    assert resolve_kernel("6.1").consistency_sizes is False
    assert resolve_kernel("6.1.3").consistency_sizes is True
    assert resolve_kernel("6.2").consistency_sizes is True
