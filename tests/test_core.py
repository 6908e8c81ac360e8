"""`core`: reading XSAVE images from core files and raw blobs (issue 14).

The real core file is described in tests/data/cores/README.md. The others are written by
tests/corewriter.py from the kernel's rules, with offsets from real CPUID: Intel AVX-512 parts put
opmask at 1088 (CPUID(0xD,5).EBX on Skylake-SP and Ice Lake-SP, after MPX's 960..1087), AMD parts at 832
(the real Zen 4 / EPYC core below), Sapphire Rapids' AMX at 2752 and 2816 (CPUID(0xD,17/18).EBX).
"""

import json
import struct

import pytest

from . import corewriter as W
from .conftest import DATA

REAL = DATA / "cores" / "epyc-6.18-avx512.core"
INTEL_AVX512 = {2: (576, 256), 5: (1088, 64), 6: (1152, 512), 7: (1664, 1024), 9: (2688, 8)}
AMD_AVX512 = {2: (576, 256), 5: (832, 64), 6: (896, 512), 7: (1408, 1024), 9: (2432, 8)}
SPR_AMX = {**INTEL_AVX512, 17: (2752, 64), 18: (2816, 8192)}


def core(run, tmp_path, data, *args, name="core"):
    f = tmp_path / name
    f.write_bytes(data)
    res = run("core", f, *args, "-f", "json")
    return res, (json.loads(res.stdout) if res.stdout.strip() else None)


def test_real_core_file(run):
    res = run("core", REAL, "-f", "json")
    out = json.loads(res.stdout)
    assert res.exit_code == 0
    assert (out["input"], out["size"], out["xcr0"], out["format"]) == ("core", 2432, "0xe7", "standard")
    assert out["layout_source"] == "note"
    assert [(r["type"], r["size"], r["offset"]) for r in out["layout"]] == [(2, 256, 576), (5, 64, 832),
                                                                           (6, 512, 896), (7, 1024, 1408)]
    # AMD's layout (no MPX hole): the AMD AVX-512 profiles fit, no Intel one does.
    assert "zen4" in out["candidates"] and "skylake-sp" not in out["candidates"]
    assert not out["layouts_differ"]
    # The program put 1.5f (0x3fc00000) in every lane of ymm7: its upper half is in the AVX component.
    res = run("core", REAL, "--component", "2", "-f", "json")
    assert bytes.fromhex(json.loads(res.stdout)["component"]["hex"])[7 * 16:8 * 16] == struct.pack("<f", 1.5) * 4


def test_real_core_checked_against_an_intel_cpu(run):
    res = run("core", REAL, "--cpu", "skylake-sp", "-f", "json")
    out = json.loads(res.stdout)
    assert res.exit_code == 1 and not out["check"]["ok"]
    assert "opmask: 64 bytes at 832 in the note, 64 bytes at 1088 on skylake-sp" in out["check"]["differences"]
    assert run("core", REAL, "--cpu", "zen4").exit_code == 0


def test_pre_6_12_core_without_the_note_is_inferred(run, tmp_path):
    img = W.xsave_image(2696, 0x2E7, 0x2E7, INTEL_AVX512)
    res, out = core(run, tmp_path, W.core_file(img))
    assert res.exit_code == 0 and out["layout_source"] == "inferred" and out["layout"] is None
    assert "ice-lake-sp" in out["candidates"] and "zen4" not in out["candidates"]
    assert not out["layouts_differ"]
    amd = W.xsave_image(2440, 0x2E7, 0x2E7, AMD_AVX512)
    _, out = core(run, tmp_path, W.core_file(amd), name="amd")
    assert "zen4" in out["candidates"] and "ice-lake-sp" not in out["candidates"]


def test_a_kvm_blob_fits_intel_and_amd_layouts_that_differ(run, tmp_path):
    # struct kvm_xsave is 4096 bytes whatever the CPU: XCR0 0x2e7 fits both vendors, at different offsets.
    blob = W.xsave_image(4096, 0x2E7, 0x2E7, INTEL_AVX512)
    res, out = core(run, tmp_path, blob, "--raw", name="guest.xsave")
    assert res.exit_code == 0 and out["input"] == "ptrace-or-kvm" and out["layouts_differ"]
    offsets = {o["offsets"]["opmask"] for o in out["layouts"]}
    assert offsets == {1088, 832}
    res = run("core", tmp_path / "guest.xsave", "--raw", "--component", "5")
    assert res.exit_code == 2 and "ambiguous" in res.stderr
    res = run("core", tmp_path / "guest.xsave", "--raw", "--component", "5", "--cpu", "icx", "-f", "json")
    assert bytes.fromhex(json.loads(res.stdout)["component"]["hex"]) == b"\x5a" * 64


@pytest.mark.parametrize("bv,holds", [(0x602E7, True), (0x202E7, False)])
def test_amx_image_with_and_without_tile_data(run, tmp_path, bv, holds):
    img = W.xsave_image(11008, 0x602E7, bv, SPR_AMX)
    res, out = core(run, tmp_path, W.core_file(img, SPR_AMX))
    comps = {c["name"]: c for c in out["components"]}
    assert res.exit_code == 0 and out["layout_source"] == "note"
    assert comps["xtile_data"]["offset"] == 2816 and comps["xtile_data"]["holds_state"] is holds
    assert "sapphire-rapids" in out["candidates"]


def test_truncated_note_is_an_input_error(run, tmp_path):
    img = W.xsave_image(2696, 0x2E7, 0x2E7, INTEL_AVX512)
    res, _ = core(run, tmp_path, W.core_file(img, INTEL_AVX512, truncate_last_note_by=8))
    assert res.exit_code == 2 and "truncated note" in res.stderr and "Traceback" not in res.stderr


def test_a_signal_frames_sw_bytes(run, tmp_path):
    # struct _fpx_sw_bytes: magic1 FP_XSTATE_MAGIC1, extended_size, xfeatures, xstate_size.
    sw = struct.pack("<IIQI", 0x46505853, 2696 + 4, 0x2E7, 2696)
    img = W.xsave_image(2696, 0, 0x2E7, INTEL_AVX512, sw=sw)
    res, out = core(run, tmp_path, img, "--raw", name="frame")
    assert out["input"] == "signal-frame" and out["xcr0"] == "0x2e7" and out["signal_sw_bytes"]["xstate_size"] == 2696


@pytest.mark.parametrize("data,message", [
    (b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 2, 62) + bytes(44), "not ET_CORE"),
    (b"\x7fELF" + bytes(60), "unknown data encoding 0"),
    (b"hello", "shorter than the 576-byte"),
    (b"\x7fELF\x02\x01" + bytes(10), "too short"),
])
def test_malformed_input_exit_2(run, tmp_path, data, message):
    res, _ = core(run, tmp_path, data)
    assert res.exit_code == 2 and message in res.stderr


# ------------------------------------------------------------------ layout --emit-note

def test_emit_note_reproduces_the_real_note(run):
    # The kernel wrote these 64 bytes into the real core; the model of Zen 4 with the same XCR0 writes the same.
    from xstatecalc.elfcore import read_notes
    from xstatecalc.inputs import BinarySource

    src = BinarySource(REAL)
    real = read_notes(src, "real").first("LINUX", 0x205).desc
    out = json.loads(run("layout", "--cpu", "zen4", "--mask", "0xe7", "--emit-note", "-f", "json").stdout)
    assert bytes.fromhex(out["desc_hex"]) == real and out["written"]


def test_emit_note_for_sapphire_rapids_and_an_old_kernel(run):
    out = json.loads(run("layout", "--cpu", "spr", "--kernel", "6.18", "--emit-note", "-f", "json").stdout)
    assert [(r["type"], r["offset"]) for r in out["records"]] == [(n, o) for n, (o, _s) in sorted(SPR_AMX.items())]
    old = json.loads(run("layout", "--cpu", "spr", "--kernel", "6.6", "--emit-note", "-f", "json").stdout)
    assert old["written"] is False
