"""The command line: JSON contract, exit codes, streams, help."""

from pathlib import Path

import pytest

from xstatecalc.cli import cli


def test_sizes_json_contract(run_json):
    data = run_json("sizes", "--cpu", "sapphire-rapids")
    assert isinstance(data, list) and len(data) == 1
    rec = data[0]
    assert rec["cpu"] == "sapphire-rapids" and rec["kernel"] == "7.3" and rec["model"] == "7.3" and rec["compacted"] is True
    for which in ("kernel", "user", "guest"):
        for variant in ("max", "default"):
            c = rec["configs"][which][variant]
            assert set(c) >= {"features", "names", "format", "size"}
            assert c["features"] == c["features"].lower() and c["features"].startswith("0x")
            assert isinstance(c["size"], int)
    assert rec["configs"]["kernel"]["max"]["size"] == 10752
    assert rec["configs"]["user"]["max"]["format"] == "standard"
    assert rec["abi"] == {**rec["abi"], "sigframe_min": 11952, "regset_xstate": 11008}


def test_sizes_several_cpus(run_json):
    data = run_json("sizes", "--cpu", "spr", "--cpu", "zen4")
    assert [r["cpu"] for r in data] == ["sapphire-rapids", "zen4"]
    assert data[1]["configs"]["user"]["max"]["size"] == 2440


def test_sizes_all_cpus(run_json):
    data = run_json("sizes", "--cpu", "all")
    assert len(data) >= 19


def test_default_cpu_from_environment(run):
    import json
    res = run("sizes", "--format", "json", env={"XSTATECALC_CPU": "zen4"})
    assert json.loads(res.stdout)[0]["cpu"] == "zen4"


def test_unknown_cpu_exit_2(run):
    res = run("sizes", "--cpu", "sapphire-rapid")
    assert res.exit_code == 2
    assert res.stdout == ""
    assert "sapphire-rapids" in res.stderr and "Traceback" not in res.stderr


def test_invalid_profile_file_exit_2(run, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\nvendor: amd\nflags: []\nxcr0_supported: -3\n")
    res = run("sizes", "--cpu", str(f))
    assert res.exit_code == 2 and res.stdout == ""
    assert "bad.yaml:4" in res.stderr and "xcr0_supported" in res.stderr


def test_unreadable_file_exit_2(run, tmp_path):
    res = run("sizes", "--cpu", str(tmp_path / "missing.yaml"))
    assert res.exit_code == 2 and "no such profile" in res.stderr


def test_profile_path(run_json, tmp_path):
    from xstatecalc.profile import profiles_dir
    src = (Path(profiles_dir()) / "zen4.yaml").read_text()
    f = tmp_path / "mine.yaml"
    f.write_text(src.replace("name: zen4", "name: my-zen4"))
    assert run_json("sizes", "--cpu", str(f))[0]["cpu"] == "my-zen4"


def test_explain_names_the_last_component(run):
    res = run("sizes", "--cpu", "apx", "--explain")
    assert res.exit_code == 0
    assert "not the highest-numbered component" in res.stdout
    assert "xtile_cfg (align64)" in res.stdout


def test_features_json(run_json):
    rows = {r["nr"]: r for r in run_json("features", "--cpu", "spr")["components"]}
    assert rows[18]["class"] == "dynamic" and rows[18]["xfd"] is True
    assert rows[12]["class"] == "guest-only"
    assert rows[15]["class"] == "independent" and rows[15]["enabled"] is False
    assert rows[8]["enabled"] is False and "not supported" in rows[8]["why_not"]
    assert rows[6]["kernel_name"] == "AVX-512 Hi256"


def test_features_why_not_flag(run_json):
    rows = {r["nr"]: r for r in run_json("features", "--cpu", "zen2")["components"]}
    assert rows[9]["enabled"] is False and "OSPKE" in rows[9]["why_not"]


def test_layout_default_mask_is_kernel_max(run_json):
    data = run_json("layout", "--cpu", "spr")
    comp = {r["nr"]: r for r in data["compacted_layout"] if r["segment"] == "component"}
    # the offsets the kernel prints as xstate_offset[i] (real SPR logs)
    assert comp[17]["compacted_offset"] == 2496 and comp[18]["compacted_offset"] == 2560
    assert data["compacted_size"] == 10752
    gaps = [r for r in data["compacted_layout"] if r["segment"] == "gap" and r["name"].startswith("(align64")]
    # reference §9.1: CET_S ends at 2488 with PASID, so XTILE_CFG's alignment pads 8 bytes ...
    assert [g["size"] for g in gaps] == [2496 - 2488]
    # ... and 16 bytes without PASID (CET_S ends at 2480)
    data = run_json("layout", "--cpu", "spr", "--disable", "clearcpuid=enqcmd")
    gaps = [r for r in data["compacted_layout"] if r["segment"] == "gap" and r["name"].startswith("(align64")]
    assert [g["size"] for g in gaps] == [2496 - 2480]


def test_layout_features_and_mask(run_json):
    data = run_json("layout", "--cpu", "zen4", "--mask", "0x2e7")
    assert data["standard_size"] == 2440
    data = run_json("layout", "--cpu", "apx", "--features", "avx,apx")
    assert data["standard_size"] == 1088 and data["compacted_size"] == 576 + 256 + 128


def test_layout_bad_mask_exit_2(run):
    assert run("layout", "--mask", "zz").exit_code == 2
    res = run("layout", "--cpu", "zen4", "--features", "amx")
    assert res.exit_code == 2 and "does not enumerate" in res.stderr


def test_cpus(run_json):
    data = run_json("cpus")
    names = {c["name"] for c in data}
    assert {"sapphire-rapids", "zen4", "apx-hypothetical"} <= names
    assert [c for c in data if c["name"] == "apx-hypothetical"][0]["hypothetical"] is True


@pytest.mark.parametrize("fmt", ["yaml", "csv", "table"])
def test_other_formats(run, fmt):
    res = run("sizes", "--cpu", "zen4", "--format", fmt)
    assert res.exit_code == 0 and "2440" in res.stdout


def test_table_without_color_when_no_color(run):
    res = run("sizes", "--cpu", "zen4", env={"NO_COLOR": "1", "FORCE_COLOR": ""})
    assert "\x1b[" not in res.stdout


def test_version(run):
    res = run("--version")
    assert res.exit_code == 0 and "xstatecalc" in res.stdout


def test_every_command_module_is_listed():
    # Commands load lazily from COMMAND_MODULES; a command defined but not listed would be unreachable.
    import importlib

    from xstatecalc.cli.common import COMMAND_MODULES

    for module in set(COMMAND_MODULES.values()):
        importlib.import_module(f"xstatecalc.cli.{module}")
    assert sorted(cli.commands) == sorted(COMMAND_MODULES)


@pytest.mark.parametrize("name", sorted(__import__("xstatecalc.cli.common").cli.common.COMMAND_MODULES))
def test_every_command_has_help_with_an_example(run, name):
    res = run(name, "--help")
    assert res.exit_code == 0
    assert "Example" in res.stdout and f"xstatecalc {name}" in res.stdout


def test_bad_disable_word_exit_2(run):
    res = run("sizes", "--disable", "warp-drive")
    assert res.exit_code == 2 and "warp-drive" in res.stderr


def test_user_text_is_never_rich_markup(run, tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("name: markup\nvendor: intel\ndescription: '[bold]x[/bold] :smile:'\nsource: t\n"
                 "flags: [FPU, FXSR, XMM, XSAVE, AVX]\nxcr0_supported: 0x7\ncomponents:\n  2: {size: 256, offset: 576}\n")
    res = run("sizes", "--cpu", f, env={"NO_COLOR": "1"})
    assert "[bold]x[/bold] :smile:" in res.stdout


@pytest.mark.parametrize("words,expected", [
    ("xstatecalc sizes --cpu sap", ["sapphire-rapids"]),
    ("xstatecalc sizes --cpu spr,zen", ["spr,zen1", "spr,zen4"]),
    ("xstatecalc sizes --kernel 6.1", ["6.1", "6.1.y"]),
    ("xstatecalc guest --enable am", ["amx"]),
    ("xstatecalc sizes --disable clearcpuid=x", ["clearcpuid=xsaves"]),
    ("xstatecalc compare spr@6.1", ["spr@6.1", "spr@6.18"]),
])
def test_shell_completion_of_value_names(run, words, expected):
    # The bash protocol of click's shell completion, as `eval "$(_XSTATECALC_COMPLETE=bash_source ...)"` uses it.
    res = run.invoke(cli, [], prog_name="xstatecalc", env={
        "_XSTATECALC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)})
    got = [line.split(",", 1)[1] for line in res.stdout.splitlines()]
    assert set(expected) <= set(got), got


def test_bare_command_prints_the_help(run):
    res = run()
    assert res.exit_code in (0, 2) and "Commands:" in (res.stdout + res.stderr) and "\\n" not in res.stderr
