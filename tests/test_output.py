"""Output for people at any width and count (issue 12): tables that fit, identifiers never broken, markers
that show differences without colour, colour only where wanted, ASCII for mail.

The numbers asserted here are the reference's (linux-xstate-model.md §5.6 for Sapphire Rapids, the real
Ryzen 7700X log in dmesg.md for Zen 4); the rest is about shape.
"""

import csv
import io
import json

import pytest

NARROW = {"COLUMNS": "80", "NO_COLOR": "1"}

COMMANDS = [
    ("sizes", "--cpu", "spr"),
    ("sizes", "--cpu", "spr,zen4,skx"),
    ("sizes", "--cpu", "all"),
    ("sizes", "--cpu", "spr", "--kernel", "all"),
    ("sizes", "--cpu", "all", "--kernel", "all"),
    ("sizes", "--cpu", "spr", "--explain"),
    ("features", "--cpu", "spr"),
    ("layout", "--cpu", "spr"),
    ("guest", "--enable", "amx"),
    ("guest", "--enable", "amx", "--process", "--sigaltstack", "16384"),
    ("compare", "spr", "zen4"),
    ("check", "--cpu", "zen2", "--kernel", "6.1"),
    ("kernels",),
    ("kernels", "--branch", "6.1"),
    ("cpus",),
    ("sigstack", "--cpu", "spr"),
    ("sigstack", "--cpu", "all", "--kernel", "lts", "--libc", "musl"),
    ("limit", "user.max.size", "4096"),
    ("core", "tests/data/cores/epyc-6.18-avx512.core", "--cpu", "skx"),
    ("layout", "--cpu", "spr", "--diagram"),
    ("compare", "skx", "zen4", "--diagram"),
    ("dmesg", "--check", "tests/data/dmesg/12-spr-8480c-kvm-guest.log"),
    ("which", "11952"),
    ("which", "2688", "2696"),
    ("which", "39616"),
    ("which", "--frame", "magic1=0x46505853,extended_size=836,xfeatures=0x7,xstate_size=832,magic2=0"),
]


def _lines(text):
    return text.rstrip("\n").split("\n")


@pytest.fixture(autouse=True)
def _at_the_checkout(monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent.parent)  # the commands name test files relative to it


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_fits_80_columns_without_trailing_spaces(run, args):
    res = run(*args, env=NARROW)
    assert res.exit_code in (0, 1), res.stderr
    lines = _lines(res.stdout)
    assert max(len(line) for line in lines) <= 80
    assert not [line for line in lines if line != line.rstrip()]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_text_format_is_ascii_and_fits_a_quoted_mail(run, args):
    res = run(*args, "--format", "text", env={"COLUMNS": "200"})
    assert res.exit_code in (0, 1), res.stderr
    assert res.stdout.isascii()
    assert max(len(line) for line in _lines(res.stdout)) <= 78


def test_piped_output_defaults_to_80_columns(run):
    res = run("sizes", "--cpu", "spr", env={"COLUMNS": ""})
    assert max(len(line) for line in _lines(res.stdout)) <= 80


def test_identifiers_are_never_broken(run):
    # At 80 columns the kernel-field column moves under the table rather than breaking its names.
    out = run("sizes", "--cpu", "spr", env=NARROW).stdout
    for word in ("fpu_kernel_cfg.max_features", "fpu_user_cfg.default_features", "guest_default_cfg.features",
                 "get_sigframe_size()", "xtile_data", "0x61ee7"):
        assert word in out


def test_all_cpus_and_kernels_is_readable(run):
    # The issue: a title, a rule and twenty blank lines. Now every CPU is there, with its numbers.
    from xstatecalc.profile import all_builtin

    out = run("sizes", "--cpu", "all", "--kernel", "all", env=NARROW).stdout
    for p in all_builtin():
        assert p.name in out
    assert "\n\n\n" not in out
    # Sapphire Rapids from 5.16 (AMX): kernel max 10752, user max 11008, AT_MINSIGSTKSZ 11952 (reference §5.6).
    spr = out.split("sapphire-rapids: XSAVE buffers per kernel")[1].split("\n\n")[0]
    assert any(line.split()[1:4] == ["10752", "2560", "11008"] and line.split()[-1] == "11952"
               for line in spr.split("\n") if line.startswith("5.16"))


def test_few_cpus_side_by_side_with_a_marker_for_differences(run):
    out = run("sizes", "--cpu", "spr,zen4", env=NARROW).stdout
    rows = {line.split()[-3] if line.startswith("*") else line.split()[0]: line for line in _lines(out)
            if line.strip() and line.split()[0] in ("*", "compacted", "kernel.max.size")}
    # Kernel max on the newest kernel: 10752 on Sapphire Rapids (reference §5.6), 2480 on Zen 4 from 6.17 on
    # (reference §9.3: CET_S joins the kernel's max features).
    assert rows["kernel.max.size"].startswith("*") and rows["kernel.max.size"].split()[-2:] == ["10752", "2480"]
    assert not rows["compacted"].startswith("*")


def test_one_cpu_many_kernels_groups_runs_of_equal_numbers(run):
    # Too many kernels to stand side by side in 80 columns: a row per run of kernels with equal numbers.
    out = run("sizes", "--cpu", "zen4", "--kernel", "5.15,6.1,6.5,6.6,6.8,6.12,6.17,6.18,7.0,7.3", env=NARROW).stdout
    # Zen 4 kernel max: 2440, then 2456 once 6.6 enables CET_U (user shadow stack): the real 7700X log
    # (dmesg.md #24) prints "0xae7, context size is 2456 bytes".
    kernel_max = {line.split()[0]: line.split()[1] for line in _lines(out) if line[:1].isdigit()}
    assert kernel_max["6.6-6.12"] == "2456" and kernel_max["5.15-6.5"] == "2440"


@pytest.mark.parametrize("env,colour", [
    ({"FORCE_COLOR": "1"}, True),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ({"FORCE_COLOR": "", "NO_COLOR": "", "TERM": "dumb"}, False),
    ({"FORCE_COLOR": "", "NO_COLOR": ""}, False),  # a pipe
])
def test_colour_only_where_wanted(run, env, colour):
    res = run("check", "--cpu", "zen2", "--kernel", "6.1", env=env)
    assert ("\x1b[" in res.stdout) == colour


def test_fail_is_red_and_ok_is_green_on_a_terminal(run):
    out = run("compare", "ice-lake-sp", "spr", env={"FORCE_COLOR": "1", "COLUMNS": "200"}).stdout
    fails = next(line for line in out.split("\n") if "CRIU restore" in line)
    ok = next(line for line in out.split("\n") if "KVM live migration" in line)
    assert "\x1b[1;31m" in fails and "\x1b[32m" in ok


def test_text_format_keeps_words_a_table_would_colour(run):
    out = run("compare", "ice-lake-sp", "spr", "--format", "text").stdout
    assert "FAILS" in out and "ok" in out


# ------------------------------------------------------------------ compare: per-consumer gates, kernels

def test_compare_for_chooses_the_verdicts_that_decide(run):
    # Ice Lake-SP -> Sapphire Rapids: KVM can migrate (the destination has every component), but CRIU's
    # cpu_validate_features() wants CPUID(0xD,0).EBX equal: 2696 vs 11008 (criu/arch/x86/cpu.c).
    assert run("compare", "ice-lake-sp", "spr").exit_code == 1
    res = run("compare", "ice-lake-sp", "spr", "--for", "kvm", "--for", "raw", "--format", "json")
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["ok"] and data["for"] == ["kvm", "raw"]
    criu = next(v for v in data["verdicts"] if v["for"] == "criu")
    assert not criu["ok"] and not criu["gates"]
    assert run("compare", "ice-lake-sp", "spr", "--for", "criu").exit_code == 1


def test_compare_across_a_kernel_upgrade(run):
    # Sapphire Rapids from 5.15 (no AMX) to 6.18: user xstate 2696 -> 11008 bytes.
    a = json.loads(run("compare", "spr@5.15", "spr@6.18", "-f", "json").stdout)
    b = json.loads(run("compare", "spr", "spr", "--src-kernel", "5.15", "--dst-kernel", "6.18", "-f", "json").stdout)
    assert a["verdicts"] == b["verdicts"]
    assert a["src"]["kernel"] == "5.15" and a["dst"]["kernel"] == "6.18"
    assert a["values"]["user.max.size"] == {"src": 2696, "dst": 11008}
    res = run("compare", "spr@6.1", "zen4", "--src-kernel", "6.6")
    assert res.exit_code == 2 and "names a kernel and so does --src-kernel" in res.stderr


# ------------------------------------------------------------------ CSV carries what JSON does

def test_sizes_csv_is_long_and_carries_every_value(run, run_json):
    rows = list(csv.DictReader(io.StringIO(run("sizes", "--cpu", "spr,zen4", "-f", "csv").stdout)))
    got = {(r["cpu"], r["name"]): r["value"] for r in rows}
    assert got[("sapphire-rapids", "abi.sigframe_min")] == "11952"
    assert got[("zen4", "abi.regset_xstate")] == "2440"
    assert got[("sapphire-rapids", "guest.default.size")] == "2560"


def test_guest_csv_has_every_state_value_by_path(run, run_json):
    steps = run_json("guest", "--enable", "amx")["steps"]
    rows = list(csv.DictReader(io.StringIO(run("guest", "--enable", "amx", "-f", "csv").stdout)))
    set_cpuid = [r for r in rows if r["event"] == "set the guest CPUID"]
    values = {r["name"]: r["value"] for r in set_cpuid}
    assert values["state.gfpu.uabi_size"] == "11008" and values["returns.kvm_get_xsave"] == "'-EINVAL"  # made inert for spreadsheets
    # Every path the JSON calls changed exists in the state, as a dotted path.
    for st in steps:
        for path in st["changed"]:
            node = st["state"]
            for part in path.split("."):
                node = node[part]
            assert not isinstance(node, dict)
            assert " " not in path


def test_guest_json_numbers_are_integers(run_json):
    for st in run_json("guest", "--enable", "amx")["steps"]:
        fs = st["state"].get("fpstate")
        if fs and fs["allocated"] is not None:
            assert isinstance(fs["allocated"], int) and isinstance(fs["size"], int)
