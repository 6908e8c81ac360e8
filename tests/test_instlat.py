"""`import` of real InstLatx64 dumps in every layout the collection uses (tests/data/instlat, unmodified), and
variants built from their registers: tags removed, CPUs pasted together, XSAVE absent.

Every size asserted here is a register value of the dump itself (the line is cited).
"""

import json

import pytest

from xstatecalc import importers as I
from xstatecalc.errors import ImportFormatError
from xstatecalc.profile import loads_profile

from .conftest import DATA

INSTLAT = DATA / "instlat"
SKX = INSTLAT / "GenuineIntel0050654_SkylakeXeon_CPUID16.txt"
EHL = INSTLAT / "GenuineIntel0090661_ElkhartLake_02_CPUID.txt"
CFL = INSTLAT / "GenuineIntel00906EA_Coffeelake_CPUID.txt"
CZN = INSTLAT / "AuthenticAMD0660F01_K15_Carrizo_CPUID2.txt"
MILAN = INSTLAT / "AuthenticAMD0A00F11_K19_Milan_02_CPUID.txt"
CLX = INSTLAT / "GenuineIntel0050656_CascadeLakeSP_CPUID.txt"


def _import(text, name="t.txt"):
    res = I.to_profile(I.parse(text, name))
    return res, loads_profile(res.text, "imported.yaml")


def _sizes(run, tmp_path, dump_text, kernel="6.1"):
    f = tmp_path / "dump.txt"
    f.write_text(dump_text)
    out = tmp_path / "p.yaml"
    res = run("import", f, "-o", out)
    assert res.exit_code == 0, res.stderr
    return json.loads(run("sizes", "--cpu", out, "--kernel", kernel, "--format", "json").stdout)[0], res


def test_untagged_skylake_xeon(run, tmp_path):
    out, res = _sizes(run, tmp_path, SKX.read_text())
    assert "carry no [SL nn] tags (24 logical CPUs" in res.stderr and "identical on all 24" in res.stderr
    # line 19: CPUID 0000000d: 000002ff-00000a88-...; line 20: 0000000f-00000a08 (0xD.1 EBX for XCR0 0x2ff)
    assert out["xcr0"] == "0x2ff" and out["configs"]["user"]["max"]["size"] == 0xA88
    assert out["configs"]["kernel"]["max"]["size"] == 0xA08


def test_no_header_leaf0_per_cpu_elkhart_lake(run, tmp_path):
    out, res = _sizes(run, tmp_path, EHL.read_text())
    assert "4 logical CPUs" in res.stderr and "sub-leaf 0x8 (pt) missing: Linux never enables" in res.stderr
    assert out["xcr0"] == "0x3" and out["configs"]["user"]["max"]["size"] == 0x240  # line 19: ...-00000240-00000240


def test_tagged_but_cut_coffee_lake(run, tmp_path):
    out, res = _sizes(run, tmp_path, CFL.read_text())
    assert "identical on all 12 logical CPUs" in res.stderr and "(pt) missing" in res.stderr
    assert out["xcr0"] == "0x1f" and out["configs"]["user"]["max"]["size"] == 0x440  # line 68: 0000001F-00000440


def test_carrizo_two_cpus_and_lwp():
    res, prof = _import(CZN.read_text())
    assert any("identical on all 2 logical CPUs" in n for n in res.notes)
    assert prof.xcr0_supported == 0x4000000000000007 and prof.components[62].size == 0x80  # [SL 3E]
    assert any("CPUID(0xD,0).ECX 960" in n and "agrees" in n for n in res.notes)  # line 16: ...-000003C0-...


def test_milan_128_cpus():
    res, prof = _import(MILAN.read_text())
    assert any("identical on all 128 logical CPUs" in n for n in res.notes) and not res.warnings
    assert prof.xss_supported == 0x1800 and prof.components[12].size == 0x18  # lines 22-23: [SL 0B], [SL 0C]


def test_cascade_lake_zero_pkru_subleaf_is_refused_naming_the_line():
    with pytest.raises(ImportFormatError, match=r"sub-leaf 0x9 \(line 28\) reports size 0 for component 9 \(pkru\)"):
        _import(CLX.read_text())


# ------------------------------------------------------------------ variants built from the real registers

def _milan_cpu0():
    lines = MILAN.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "Logical CPU #0" in line)
    end = next(i for i, line in enumerate(lines) if "Logical CPU #1" in line)
    return lines[start:end]


def test_untagged_subleaves_with_holes_are_read_by_mask():
    # Milan's leaf 0xD sub-leaves 0, 1, 2, 9, 0xb, 0xc with their [SL nn] tags removed
    block = [line.split(" [SL")[0] if line.startswith("CPUID 0000000D") else line for line in _milan_cpu0()]
    res, prof = _import("\n".join(block))
    assert sorted(prof.components) == [2, 9, 11, 12] and prof.components[9].offset == 0x980
    assert any("one line per supported component: 0x2, 0x9, 0xb, 0xc" in n for n in res.notes)


def test_untagged_subleaves_in_order_with_empty_ones():
    # the same registers, with the all-zero sub-leaves 3..8 and 0xa written out: every sub-leaf from 2 on
    out = []
    for line in _milan_cpu0():
        if line.startswith("CPUID 0000000D"):
            body, tag = line.split(" [SL ")
            sub = int(tag[:2], 16)
            if sub == 9:
                out += ["CPUID 0000000D: 00000000-00000000-00000000-00000000"] * 6
            if sub == 0xB:
                out.append("CPUID 0000000D: 00000000-00000000-00000000-00000000")
            out.append(body)
        else:
            out.append(line)
    res, prof = _import("\n".join(out))
    assert sorted(prof.components) == [2, 9, 11, 12] and prof.components[11].size == 0x10
    assert any("every sub-leaf from 2 on" in n for n in res.notes)


def test_two_pasted_dumps_are_a_conflict_not_first_wins():
    lines = EHL.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("CPUID 00000001"))
    lines.insert(at + 1, "CPUID 00000001: 000906EA-00100800-7FFAFBFF-BFEBFBFF")  # Coffee Lake's leaf 1 (line 52)
    with pytest.raises(ImportFormatError, match=r"line 4 repeats CPUID leaf 0x1 sub-leaf 0x0 .*\(line 3\)"):
        _import("\n".join(lines))


def test_cpu_without_xsave_imports_quietly(run, tmp_path):
    # Elkhart Lake's registers with CPUID.1:ECX[26] (XSAVE) cleared, as on CPUs without XSAVE
    text = EHL.read_text().replace("00090661-00800800-4FF8EBBF-BFEBFBFF", "00090661-00800800-4BF8EBBF-BFEBFBFF")
    out, res = _sizes(run, tmp_path, text)
    assert "warning" not in res.stderr and "has no XSAVE" in res.stderr
    assert out["xsave"] is False and out["configs"]["kernel"]["max"]["size"] == 512  # sizeof(fxregs_state)
