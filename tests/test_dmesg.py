"""`dmesg` reproduces real x86/fpu boot lines; `dmesg --check` judges pasted logs.

The logs in tests/data/dmesg are verbatim copies of public boot logs (see
tests/data/dmesg.yaml for the CPU, kernel and options each implies).
"""

import pytest

from xstatecalc import dmesg as D
from xstatecalc.fpu import Options, boot, make_options
from xstatecalc.kernels import all_models, resolve_kernel
from xstatecalc.profile import resolve

from .conftest import DATA, load_data, write_profile

CASES = load_data("dmesg.yaml")


def _boot(case, kernel=None):
    return boot(resolve(case["cpu"]), resolve_kernel(kernel or case["kernel"]),
                make_options(case.get("disable", ())))


def _log(case):
    return (DATA / "dmesg" / case["log"]).read_text(encoding="utf-8")


def _is_slice(part, whole):
    return any(whole[i:i + len(part)] == part for i in range(len(whole) - len(part) + 1))


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if "xfail" in case else []
        yield pytest.param(case, id=case["log"].removesuffix(".log"), marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_real_log_is_reproduced_line_for_line(case):
    found = D.extract(_log(case))
    expected = D.boot_lines(_boot(case))
    assert found, "the log holds no x86/fpu lines"
    if not any(line.startswith("signal:") for line in found):
        # The sigframe line comes much later in a boot; most excerpts end before it.
        expected = [line for line in expected if not line.startswith("signal:")]
    if case.get("partial"):
        assert _is_slice(found, expected), "\n".join(expected)
    else:
        assert found == expected


def test_every_bare_metal_block_is_covered():
    bare = [c for c in CASES if c.get("bare_metal")]
    assert len(bare) >= 9 and not any("xfail" in c for c in bare)


@pytest.mark.parametrize("case", [c for c in CASES if c.get("any_kernel")], ids=lambda c: c["log"])
def test_version_less_blocks_match_every_model(case):
    for k in all_models():
        assert _is_slice(D.extract(_log(case)), D.boot_lines(_boot(case, k.label))), k.label


@pytest.mark.parametrize("case", [c for c in CASES if "xfail" not in c], ids=lambda c: c["log"])
def test_check_accepts_real_logs(run, case):
    args = ["dmesg", "--cpu", case["cpu"], "--kernel", case["kernel"], "--check", DATA / "dmesg" / case["log"]]
    for word in case.get("disable", ()):
        args += ["--disable", word]
    res = run(*args)
    assert res.exit_code == 0, res.stdout


def test_check_flags_the_wrong_kernel(run):
    # The Tiger Lake log enables CET_U (0xae7, 2456 bytes): a 6.1 kernel would not.
    res = run("dmesg", "--cpu", "tiger-lake", "--kernel", "6.1", "--check",
              DATA / "dmesg" / "07-tiger-lake-i5-11300h.log", "--format", "json")
    assert res.exit_code == 1
    import json

    out = json.loads(res.stdout)
    assert not out["ok"]
    assert {"expected": "x86/fpu: Enabled xstate features 0x2e7, context size is 2440 bytes, using 'compacted' format.",
            "actual": "x86/fpu: Enabled xstate features 0xae7, context size is 2456 bytes, using 'compacted' format."} \
        in out["differing"]
    assert "x86/fpu: Supporting XSAVE feature 0x800: 'Control-flow User registers'" in out["unexpected"]


def test_check_reads_stdin_with_quotes_and_kernel_banner(run):
    log = (DATA / "dmesg" / "24-zen4-7700x.log").read_text()
    pasted = "> [    0.000000] Linux version 6.8.0-45-generic (buildd@lcy02) #45-Ubuntu SMP\n" + \
        "".join("> " + line + "\n" for line in log.splitlines())
    res = run("dmesg", "--cpu", "zen4", "--check", "-", "--format", "json", input=pasted)
    assert res.exit_code == 0, res.stdout
    import json

    out = json.loads(res.stdout)
    assert (out["kernel"], out["model"]) == ("6.8.0-45-generic", "6.8") and "Linux version" in out["kernel_source"]
    assert "Ubuntu 6.8.0-45-generic" in res.stderr  # the upstream model may differ from Ubuntu's kernel
    assert len(out["matching"]) == 6


def test_check_without_fpu_lines_is_an_input_error(run, tmp_path):
    f = tmp_path / "empty.log"
    f.write_text("[    0.0] Booting Linux\n")
    res = run("dmesg", "--check", f)
    assert res.exit_code == 2
    assert "no x86/fpu boot lines" in res.stderr and "Traceback" not in res.stderr


def _json(res):
    import json

    return json.loads(res.stdout)


def test_check_without_cpu_reads_the_log_by_itself(run):
    # The real KVM guest log on a Xeon 8480C (dmesg.md #12): AMX, 0x602e7, 10752 bytes compacted, sigframe 11952.
    res = run("dmesg", "--check", DATA / "dmesg" / "12-spr-8480c-kvm-guest.log", "--format", "json")
    out = _json(res)
    assert res.exit_code == 0 and out["ok"]
    assert (out["features"], out["context_size"], out["format"], out["sigframe"]) == ("0x602e7", 10752, "compacted",
                                                                                     11952)
    comps = {c["name"]: c for c in out["components"]}
    # xtile_cfg at 2496, not at pkru's end 2440: the log itself shows CPUID(0xD,17).ECX bit 1 (align64).
    assert comps["xtile_cfg"]["offset"] == 2496 and comps["xtile_cfg"]["align64"] is True
    assert {c["name"]: c["ok"] for c in out["checks"]} == {"mask": True, "compacted offsets": True,
                                                          "context size": True}
    # No banner: the AMX names ('AMX Tile data') exist from 5.16 on.
    assert out["kernel_models"] == ["5.16-7.3"] and out["kernel_source"] == "the lines themselves"
    assert "sapphire-rapids" not in res.stderr  # no silent fallback to a CPU


def test_check_without_cpu_names_the_cpus_that_match(run):
    # The 7700X excerpt enables CET_U (0xae7): only 6.6+ enables it; the Zen 4 profile prints the same lines.
    out = _json(run("dmesg", "--check", DATA / "dmesg" / "24-zen4-7700x.log", "-f", "json"))
    assert out["kernel_models"] == ["6.6-7.3"] and "zen4" in out["cpus"] and "zen2" not in out["cpus"]
    assert {c["name"]: c["ok"] for c in out["checks"]}["offsets"] is None  # cut: no line for avx


def test_check_without_cpu_uses_the_banner(run):
    out = _json(run("dmesg", "--check", DATA / "dmesg" / "30-dev-epyc-vm-6.18.log", "-f", "json"))
    assert out["kernel_source"] == "'Linux version 6.18.44-fc-v595'" and out["context_size"] == 872


def test_check_without_cpu_catches_a_log_that_does_not_add_up(run, tmp_path):
    # The real SPR guest log with its context size edited: 10752 is where xtile_data ends (2560 + 8192).
    f = tmp_path / "edited.log"
    f.write_text((DATA / "dmesg" / "12-spr-8480c-kvm-guest.log").read_text().replace("10752", "10816"))
    res = run("dmesg", "--check", f, "-f", "json")
    out = _json(res)
    assert res.exit_code == 1 and not out["ok"]
    assert next(c for c in out["checks"] if c["name"] == "context size")["detail"] == \
        "the context size is 10816 but the last component ends at 10752"


def test_check_with_cpu_and_no_kernel_tries_every_model(run):
    # Without a banner or --kernel the 7700X lines agree with 6.6 to 6.16 (6.17 adds CET_S to the kernel's
    # max features: 0x1ae7), and the check runs against the newest of those.
    out = _json(run("dmesg", "--cpu", "zen4", "--check", DATA / "dmesg" / "24-zen4-7700x.log", "-f", "json"))
    assert out["ok"] and out["kernel_models"] == ["6.6-6.16"] and out["model"] == "6.16"


# --- formats and failure paths, from the reference's section 4 and the kernel's printk formats ---

def test_sapphire_rapids_newest_lines_match_reference():
    lines = D.boot_lines(boot(resolve("spr")))
    # Reference 9.2 (newest): offsets of the max buffer and the Enabled line.
    assert "x86/fpu: Supporting XSAVE feature 0x1000: 'Control-flow Kernel registers (KVM only)'" in lines
    assert "x86/fpu: Supporting XSAVE feature 0x40000: 'AMX Tile data'" in lines
    assert "x86/fpu: xstate_offset[12]: 2464, xstate_sizes[12]:   24" in lines  # after PASID (2440) and CET_U
    assert "x86/fpu: xstate_offset[18]: 2560, xstate_sizes[18]: 8192" in lines
    assert lines[-2] == "x86/fpu: Enabled xstate features 0x61ee7, context size is 10752 bytes, using 'compacted' format."
    assert lines[-1] == "signal: max sigframe size: 11952"


def test_zen4_newest_matches_the_real_617_log():
    # Reference section 4: a real Ryzen 9 7945HX on 6.17+.
    lines = D.boot_lines(boot(resolve("zen4"), resolve_kernel("6.17")))
    assert lines[-9:] == [
        "x86/fpu: xstate_offset[2]:  576, xstate_sizes[2]:  256",
        "x86/fpu: xstate_offset[5]:  832, xstate_sizes[5]:   64",
        "x86/fpu: xstate_offset[6]:  896, xstate_sizes[6]:  512",
        "x86/fpu: xstate_offset[7]: 1408, xstate_sizes[7]: 1024",
        "x86/fpu: xstate_offset[9]: 2432, xstate_sizes[9]:    8",
        "x86/fpu: xstate_offset[11]: 2440, xstate_sizes[11]:   16",
        "x86/fpu: xstate_offset[12]: 2456, xstate_sizes[12]:   24",
        "x86/fpu: Enabled xstate features 0x1ae7, context size is 2480 bytes, using 'compacted' format.",
        "signal: max sigframe size: 3376",
    ]
    assert "x86/fpu: Supporting XSAVE feature 0x1000: 'Control-flow Kernel registers (KVM only)'" in lines


def test_515_names_bits_above_pasid_unknown():
    # Up to 5.15 xfeature_names[] ends after "PASID state"; 6.6-6.16 call CET_S "(unused)".
    assert resolve_kernel("5.15").xfeature_names.get(11) is None
    assert resolve_kernel("6.6").xfeature_names[12] == "Control-flow Kernel registers (unused)"


def test_legacy_fpu_line_without_xsave():
    # Reference 6.2: round_up(736 + 15 + (512 FXSAVE + 0 magic + 112 fsave) + 63, 16) = 1440.
    assert D.boot_lines(boot(resolve("zen4"), options=make_options(["noxsave"]))) == [
        "x86/fpu: x87 FPU will use FXSAVE", "signal: max sigframe size: 1440"]


def test_apx_with_mpx_disables_xsave_with_616_wording(tmp_path):
    lines = D.boot_lines(boot(_apx_mpx_profile(tmp_path), resolve_kernel("6.16")))
    # The kernel prints the raw CPUID mask (x87, SSE, AVX, MPX x2, PKRU, APX).
    assert lines == ["x86/fpu: Both APX/MPX present in the CPU's xstate features: 0x8021f.",
                     "x86/fpu: XSAVE disabled", "signal: max sigframe size: 1440"]


def _apx_mpx_profile(tmp_path):
    return resolve(str(write_profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX, MPX, APX, PKU]
xcr0_supported: 0x8021f
xss_supported: 0
components:
  2: {size: 256, offset: 576}
  3: {size: 64, offset: 960}
  4: {size: 64, offset: 1024}
  9: {size: 8, offset: 2688}
  19: {size: 128, offset: 1088}
""", "apx-mpx", description="APX next to MPX (not a real CPU)")))


def test_sigframe_line_is_the_last_and_uses_ia32_frame():
    lines = D.boot_lines(boot(resolve("zen4"), resolve_kernel("6.1"), Options(ia32_emulation=False)))
    assert lines[-1] == "signal: max sigframe size: 2976"  # round_up(2440 + 522, 16)


def test_extract_strips_prefixes():
    text = "\n".join([
        "<6>[    0.1][    T0] x86/fpu: Enabled xstate features 0x7, context size is 832 bytes, using 'compacted' format.",
        "jan 13 14:17:13 host kernel: x86/fpu: xstate_offset[2]:  576, xstate_sizes[2]:  256",
        ">> [ 3.80] signal: max sigframe size: 1776   ",
        "unrelated line",
    ])
    assert D.extract(text) == [
        "x86/fpu: Enabled xstate features 0x7, context size is 832 bytes, using 'compacted' format.",
        "x86/fpu: xstate_offset[2]:  576, xstate_sizes[2]:  256",
        "signal: max sigframe size: 1776",
    ]


def test_dmesg_json_lines(run_json):
    out = run_json("dmesg", "--cpu", "zen2", "--kernel", "6.1")
    assert out["lines"][-2] == "x86/fpu: Enabled xstate features 0x7, context size is 832 bytes, using 'compacted' format."


def _big_profile(tmp_path):
    # A non-dynamic 4 KiB component: the default buffer exceeds sizeof(union fpregs_state) = 4096.
    return resolve(str(write_profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, XSAVES, AVX, PKU]
xcr0_supported: 0x207
components:
  2: {size: 256, offset: 576}
  9: {size: 4096, offset: 832}
""", "big", description="too big for the init buffer (not a real CPU)")))


@pytest.mark.parametrize("kernel,lines", [
    # reference §2.3: <= 5.15 / 5.16-5.19 check the kernel (default) size ...
    ("5.15", ["x86/fpu: xstate buffer too small (4096 < 4928), disabling xsave"]),
    # ... from 6.0 init_fpstate.size, with ", disabling XSAVE" until 6.16 replaced it by its own line
    ("6.1", ["x86/fpu: init_fpstate buffer too small (4096 < 4928), disabling XSAVE"]),
    ("6.16", ["x86/fpu: init_fpstate buffer too small (4096 < 4928)", "x86/fpu: XSAVE disabled"]),
])
def test_buffer_too_small_wording_by_version(tmp_path, kernel, lines):
    b = boot(_big_profile(tmp_path), resolve_kernel(kernel))
    assert not b.xsave  # 576 + 256 + 4096 = 4928 compacted
    assert D.boot_lines(b)[:len(lines)] == lines


def test_fp_sse_missing(tmp_path):
    f = write_profile(tmp_path, """flags: [FPU, FXSR, XMM, XSAVE]
xcr0_supported: 0x1
""", "nosse", vendor="other", description="XCR0-supported without SSE (not a real CPU)")
    lines = D.boot_lines(boot(resolve(str(f)), resolve_kernel("6.16")))
    assert lines[:2] == ["x86/fpu: FP/SSE not present amongst the CPU's xstate features: 0x1.", "x86/fpu: XSAVE disabled"]
