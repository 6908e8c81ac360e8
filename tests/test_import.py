"""`import`: every real dump, written in every supported format, imports to the built-in profile's numbers."""

import json

import pytest

from xstatecalc import importers as I
from xstatecalc.errors import ImportFormatError
from xstatecalc.fpu import boot
from xstatecalc.kernels import all_models
from xstatecalc.profile import loads_profile, resolve
from xstatecalc.report import sizes_record

from . import dumpfmt
from .conftest import DATA, load_data

DATA_DUMPS = DATA / "dumps"

REGS = load_data("cpuid_regs.yaml")


def _numbers(prof, kernel):
    rec = sizes_record(boot(prof, kernel))
    return {k: rec[k] for k in ("xsave", "compacted", "xcr0", "xss", "configs", "abi")}


@pytest.mark.parametrize("fmt", sorted(dumpfmt.WRITERS))
@pytest.mark.parametrize("cpu", sorted(REGS))
def test_round_trip_equals_builtin(cpu, fmt):
    text = dumpfmt.WRITERS[fmt]([dumpfmt.registers(REGS[cpu])])
    res = I.to_profile(I.parse(text, f"{cpu}.txt"), name="imported")
    prof = loads_profile(res.text, "imported.yaml")
    builtin = resolve(cpu)
    if fmt == "kernel" and 9 in builtin.components and "PKU" not in builtin.flags:
        pytest.skip("PKRU enumerated without PKU (Zen 1/2): a leaf-0xD-only dump cannot tell")
    for k in all_models():
        assert _numbers(prof, k) == _numbers(builtin, k), (cpu, fmt, k.label)


def test_detects_each_format():
    regs = [dumpfmt.registers(REGS["zen4"])]
    for fmt, write in dumpfmt.WRITERS.items():
        assert I.detect(write(regs)) == fmt


def test_multi_cpu_hybrid_dump_agrees():
    # Alder Lake P- and E-cores: leaf 0xD is the same on both kinds (the dump says so).
    regs = dumpfmt.registers(REGS["alder-lake"])
    res = I.to_profile(I.parse(dumpfmt.aida64([regs, regs, regs]), "adl.txt"))
    assert any("identical on all 3 logical CPUs" in n for n in res.notes)
    assert res.name == "12th-gen-intel-core-i9-12900k"


def test_multi_cpu_dump_that_differs_is_reported():
    a = dumpfmt.registers(REGS["alder-lake"])
    b = dict(a)
    b[(0xD, 1)] = (0xF, 0x3E0, 0x19900, 0)
    res = I.to_profile(I.parse(dumpfmt.cpuid_r([a, b]), "odd.txt"))
    assert any("differs from CPU 0 on 1 logical CPU(s): CPU 1 (sub-leaf 0x1)" in w for w in res.warnings)


def test_truncated_dump_names_the_missing_subleaf():
    regs = dumpfmt.registers(REGS["sapphire-rapids"])
    cut = {k: v for k, v in regs.items() if not (k[0] == 0xD and k[1] > 0x10)}
    with pytest.raises(ImportFormatError, match=r"sub-leaf 0x11 missing .*cut at sub-leaf 0xf"):
        I.to_profile(I.parse(dumpfmt.aida64([cut]), "spr-cut.txt"))


def test_subleaf_outside_masks_is_ignored_and_said():
    regs = dumpfmt.registers(REGS["sapphire-rapids"])  # the real dump has PT/UINTR/LBR data; add a stray one
    regs[(0xD, 13)] = (0x40, 0, 1, 0)
    res = I.to_profile(I.parse(dumpfmt.cpuid_r([regs]), "spr.txt"))
    assert any("ignored leaf 0xD sub-leaves 0xd" in n for n in res.notes)


def test_zen2_64_byte_pkru_imports():
    res = I.to_profile(I.parse(dumpfmt.sde([dumpfmt.registers(REGS["zen2"])]), "zen2.def"))
    prof = loads_profile(res.text, "z.yaml")
    assert prof.components[9].size == 64 and "PKU" not in prof.flags


def test_sizes_reported_agree_for_real_hardware():
    res = I.to_profile(I.parse(dumpfmt.cpuid_r([dumpfmt.registers(REGS["sapphire-rapids"])]), "spr.txt"))
    assert not res.warnings
    assert any("CPUID(0xD,0).ECX 11008" in n and "agrees" in n for n in res.notes)
    assert any("CPUID(0xD,1).EBX 10880" in n and "agrees" in n for n in res.notes)


def test_not_a_dump():
    with pytest.raises(ImportFormatError, match="not a CPUID dump"):
        I.parse("hello\nworld\n", "x.txt")


def test_cli_import_to_stdout_and_file(run, tmp_path):
    f = tmp_path / "zen4.txt"
    f.write_text(dumpfmt.aida64([dumpfmt.registers(REGS["zen4"])]))
    res = run("import", f, "--name", "my-zen4")
    assert res.exit_code == 0 and res.stdout.startswith("# Imported by xstatecalc")
    out = tmp_path / "p.yaml"
    assert run("import", f, "-o", out).exit_code == 0
    assert run("import", f, "-o", out).exit_code == 2  # exists, no --force
    assert run("import", f, "-o", out, "--force").exit_code == 0
    sizes = json.loads(run("sizes", "--cpu", out, "--format", "json").stdout)[0]
    assert sizes["configs"]["kernel"]["max"]["size"] == 2480  # reference 9.3, 6.17+


def test_cli_import_failure_leaves_no_file(run, tmp_path):
    regs = dumpfmt.registers(REGS["sapphire-rapids"])
    cut = {k: v for k, v in regs.items() if not (k[0] == 0xD and k[1] > 0x10)}
    f = tmp_path / "cut.txt"
    f.write_text(dumpfmt.aida64([cut]))
    out = tmp_path / "p.yaml"
    res = run("import", f, "-o", out)
    assert res.exit_code == 2 and "sub-leaf 0x11 missing" in res.stderr and not out.exists()
    assert list(tmp_path.iterdir()) == [f]


def test_fixture_files(run, tmp_path):
    # Files in each real format, kept in tests/data/dumps (written from the registers of the real CPUs).
    d = DATA_DUMPS
    res = run("import", d / "alder-lake-hybrid.aida64.txt", "-o", tmp_path / "adl.yaml")
    assert res.exit_code == 0 and "identical on all 4 logical CPUs" in res.stderr
    out = json.loads(run("sizes", "--cpu", tmp_path / "adl.yaml", "--kernel", "6.6", "--format", "json").stdout)[0]
    assert out["configs"]["kernel"]["max"]["size"] == 856  # the real Alder Lake 6.6 boot log (dmesg.md #9)
    res = run("import", d / "spr-truncated.cpuid-r.txt", "-o", tmp_path / "spr.yaml")
    assert res.exit_code == 2 and "sub-leaf 0x11 missing" in res.stderr and not (tmp_path / "spr.yaml").exists()
