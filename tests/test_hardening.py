"""One test per defect of the hostile-input review (issue 11, section 3), each with its reproducer.

Every case ends in a result or one clean line on stderr with exit 0, 1, 2 or 130: never a traceback,
never a hang, never a file or device damaged.
"""

import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from xstatecalc import dmesg as D
from xstatecalc.inputs import write_atomic

from .conftest import DATA, write_profile

LOG = DATA / "dmesg" / "24-zen4-7700x.log"
SPR_LOG = DATA / "dmesg" / "12-spr-8480c-kvm-guest.log"


def _one_error_line(res, code=2):
    assert res.exit_code == code, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("xstatecalc: error:") and "Traceback" not in res.stderr
    return lines[-1]


# ------------------------------------------------------------------ serious

@pytest.mark.parametrize("mask", ["-1", "0x" + "f" * 17, "1" + "0" * 5000, "-0x1"])
def test_layout_mask_negative_or_huge_ends_at_once(run, mask):
    _one_error_line(run("layout", "--mask", mask))


def test_dmesg_check_long_line_is_linear(run, tmp_path):
    # 100k spaces took 55 s with the old regular expressions; now lines are scanned once.
    f = tmp_path / "log"
    f.write_text(LOG.read_text() + "x86/fpu: " + " " * 100_000 + "x\n" + " " * 200_000 + "\n")
    res = run("dmesg", "--cpu", "zen4", "--kernel", "6.6", "--check", f)
    assert res.exit_code == 0


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_import_force_never_replaces_a_device(run, tmp_path):
    dump = tmp_path / "d.txt"
    dump.write_text((DATA / "dumps" / "alder-lake-hybrid.aida64.txt").read_text())
    line = _one_error_line(run("import", dump, "-o", "/dev/null", "--force"))
    assert "not a regular file" in line and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_import_force_never_replaces_a_fifo_or_symlink(run, tmp_path):
    dump = tmp_path / "d.txt"
    dump.write_text((DATA / "dumps" / "alder-lake-hybrid.aida64.txt").read_text())
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in _one_error_line(run("import", dump, "-o", fifo, "--force"))
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    for extra in ((), ("--force",)):
        assert "symbolic link" in _one_error_line(run("import", dump, "-o", link, *extra))
    assert not (tmp_path / "nowhere").exists()


# ------------------------------------------------------------------ one CPU, one kernel

@pytest.mark.parametrize("args,env", [
    (["features", "--cpu", "all"], None), (["layout", "--kernel", "all"], None), (["guest", "--kernel", "lts"], None),
    (["check", "--cpu", "spr,zen4"], None), (["dmesg"], {"XSTATECALC_CPU": "all"}),
    (["compare", "all", "zen4"], None),
])
def test_single_cpu_or_kernel_commands_refuse_lists(run, args, env):
    line = _one_error_line(run(*args, env=env))
    assert "works on one" in line


# ------------------------------------------------------------------ integers

@pytest.mark.parametrize("value,message", [
    ("0256", "leading zero"), ("0x_", "write numbers as decimal or 0x hex"), ("1" * 5000, "too long"),
    ("²", "expected an integer"), ("٥", "expected an integer"), ("0o17", "write numbers as decimal or 0x hex"),
])
def test_profile_integers_are_strict(run, tmp_path, value, message):
    f = write_profile(tmp_path, f"flags: [FPU, FXSR, XMM, XSAVE, AVX]\nxcr0_supported: 0x7\ncomponents:\n"
                                f"  2: {{size: {value}, offset: 576}}\n")
    line = _one_error_line(run("sizes", "--cpu", f))
    assert message in line and "test-cpu.yaml:8" in line  # the file, the line


def test_component_keys_5_and_quoted_5_are_one_key(run, tmp_path):
    f = write_profile(tmp_path, "flags: [FPU, FXSR, XMM, XSAVE, AVX]\nxcr0_supported: 0x7\ncomponents:\n"
                                "  2: {size: 256, offset: 576}\n  '2': {size: 128, offset: 576}\n")
    assert "duplicate key" in _one_error_line(run("sizes", "--cpu", f))


# ------------------------------------------------------------------ dmesg --check

def test_two_boots_check_the_last_and_say_which(run, tmp_path):
    f = tmp_path / "two.log"
    f.write_text("[    0.000000] Linux version 6.1.0 (a@b) #1\n" + SPR_LOG.read_text() +
                 "[    0.000000] Linux version 6.6.9 (a@b) #1\n" + LOG.read_text())
    res = run("dmesg", "--cpu", "zen4", "--check", f, "--format", "json")
    out = json.loads(res.stdout)
    second = 2 + len(SPR_LOG.read_text().splitlines())  # the line of the second banner
    assert res.exit_code == 0 and out["boot"] == {"index": 2, "of": 2, "line": second, "banner": "6.6.9"}
    assert out["kernel"] == "6.6.9"


def test_ansi_colours_are_stripped(run, tmp_path):
    f = tmp_path / "colour.log"
    f.write_text("".join(f"\x1b[32m[    0.0]\x1b[0m \x1b[1m{line.split('] ', 1)[1]}\x1b[0m\n"
                         for line in LOG.read_text().splitlines() if "] " in line))
    res = run("dmesg", "--cpu", "zen4", "--kernel", "6.6", "--check", f, "--format", "json")
    assert res.exit_code == 0 and len(json.loads(res.stdout)["matching"]) == 6


def test_a_linux_version_mention_is_not_a_banner(run, tmp_path):
    f = tmp_path / "mention.log"
    f.write_text("support ended for Linux version 2.6.32 long ago\n" + LOG.read_text())
    res = run("dmesg", "--cpu", "zen4", "--check", f, "--format", "json")
    assert res.exit_code in (0, 1) and json.loads(res.stdout)["kernel"] != "2.6.32"  # not an abort, not 2.6.32
    assert D.banner_version("Linux version 6.8.0-45-generic (buildd@lcy02) #45") == "6.8.0-45-generic"


def test_process_substitution_reads_a_pipe(run):
    r, w = os.pipe()
    os.write(w, LOG.read_bytes())
    os.close(w)
    try:
        res = run("dmesg", "--cpu", "zen4", "--kernel", "6.6", "--check", f"/dev/fd/{r}")
    finally:
        os.close(r)
    assert res.exit_code == 0, res.stderr


# ------------------------------------------------------------------ import

def _dump(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text((DATA / "dumps" / "alder-lake-hybrid.aida64.txt").read_text())
    return f


def test_output_dash_is_stdout(run, tmp_path):
    res = run("import", _dump(tmp_path), "-o", "-")
    assert res.exit_code == 0 and res.stdout.startswith("# Imported") and not (tmp_path / "-").exists()


def test_output_honours_the_umask(run, tmp_path):
    old = os.umask(0o027)
    try:
        assert run("import", _dump(tmp_path), "-o", tmp_path / "p.yaml").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "p.yaml").st_mode) == 0o640


def test_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import xstatecalc.inputs as inputs

    def boom(*a):
        raise KeyboardInterrupt  # what the SIGTERM handler raises

    monkeypatch.setattr(inputs.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "p.yaml", "x: 1\n")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_is_exit_130_and_cleans_up(tmp_path):
    # A real SIGTERM to a real process reading a never-ending stdin.
    proc = subprocess.Popen([sys.executable, "-m", "xstatecalc", "import", "-", "-o", str(tmp_path / "p.yaml")],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    import time

    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_hostile_file_names_are_escaped(run, tmp_path):
    for name in ("new\nline.txt", "esc\x1b[31m.txt", "bad\udcff.txt"):
        f = tmp_path / name
        f.write_text((DATA / "dumps" / "alder-lake-hybrid.aida64.txt").read_text())
        res = run("import", f, "--name", "x")
        assert res.exit_code == 0 and "\x1b" not in res.stderr
        text = res.stdout
        assert "\x1b" not in text and len([x for x in text.splitlines() if x.startswith("source:")]) == 1
        (tmp_path / "p.yaml").write_text(text)
        assert run("sizes", "--cpu", tmp_path / "p.yaml").exit_code == 0  # the profile reads back
        f.unlink()


def test_control_characters_in_the_brand_string(run, tmp_path):
    text = (DATA / "dumps" / "alder-lake-hybrid.aida64.txt").read_text()
    # 0x80000002 EAX spells "12th"; make it "\x1b[31"
    text = text.replace("CPUID 80000002: 68742132", "CPUID 80000002: 31335B1B")
    f = tmp_path / "d.txt"
    f.write_text(text)
    res = run("import", f)
    assert res.exit_code == 0 and "\x1b" not in res.stdout


def test_import_errors_name_the_dump_line(run, tmp_path):
    text = (DATA / "instlat" / "GenuineIntel0050656_CascadeLakeSP_CPUID.txt").read_text()
    f = tmp_path / "clx.txt"
    f.write_text(text)
    line = _one_error_line(run("import", f))
    assert "clx.txt: CPUID leaf 0xd sub-leaf 0x9 (line 28)" in line and "(imported)" not in line


def test_stdin_closed(tmp_path):
    res = subprocess.run(f"'{sys.executable}' -m xstatecalc import - <&-", shell=True, capture_output=True,
                         text=True, cwd=tmp_path)
    assert res.returncode == 2 and "standard input is closed" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_output_to_a_full_device(tmp_path):
    with open("/dev/full", "w") as full:
        res = subprocess.run([sys.executable, "-m", "xstatecalc", "sizes", "--cpu", "all", "--format", "json"],
                             stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert res.returncode == 2 and "cannot write the output: No space left on device" in res.stderr


def test_utf16_files_are_called_utf16(run, tmp_path):
    f = tmp_path / "u16.txt"
    f.write_bytes(LOG.read_text().encode("utf-16"))
    assert "UTF-16" in _one_error_line(run("dmesg", "--check", f))


# ------------------------------------------------------------------ profiles

def test_brackets_inside_strings_do_not_nest(run, tmp_path):
    f = write_profile(tmp_path, "flags: [FPU, FXSR, XMM, XSAVE, AVX]\nxcr0_supported: 0x7\n"
                                "components: {2: {size: 256, offset: 576}}\n",
                      description='"' + "[" * 33 + '"')
    assert run("sizes", "--cpu", f).exit_code == 0


def test_deep_flow_nesting_is_refused(run, tmp_path):
    f = write_profile(tmp_path, "notes: " + "[" * 100_000 + "]" * 100_000 + "\nflags: []\nxcr0_supported: 0x3\n")
    assert "nested deeper than 32" in _one_error_line(run("sizes", "--cpu", f))


def test_x87_cannot_be_supervisor(run, tmp_path):
    f = write_profile(tmp_path, "flags: [FPU, FXSR, XMM, XSAVE]\nxcr0_supported: 0x2\nxss_supported: 0x1\n")
    assert "never supervisor" in _one_error_line(run("sizes", "--cpu", f))


def test_half_mpx_xcr0_is_said(run, tmp_path):
    f = write_profile(tmp_path, "flags: [FPU, FXSR, XMM, XSAVE, AVX, MPX]\nxcr0_supported: 0xf\ncomponents:\n"
                                "  2: {size: 256, offset: 576}\n  3: {size: 64, offset: 960}\n")
    res = run("sizes", "--cpu", f)
    assert res.exit_code == 0 and "XSETBV refuses XCR0 0xf" in res.stderr
    assert run("check", f).exit_code == 1


@pytest.mark.parametrize("description", ["\\x1b[2J", "nul\\0here", "bell\\a"])
def test_escape_sequences_in_strings_are_refused(run, tmp_path, description):
    f = write_profile(tmp_path, "flags: [FPU, FXSR, XMM, XSAVE]\nxcr0_supported: 0x3\n",
                      description=f'"{description}"')
    assert "control or format characters" in _one_error_line(run("sizes", "--cpu", f))


def test_long_names_are_refused(run, tmp_path):
    f = write_profile(tmp_path, "flags: [FPU]\nxcr0_supported: 0x3\n", name="x" * 65)
    assert "up to 64" in _one_error_line(run("compare", f, "zen4"))


def test_ctrl_c_is_130(run, monkeypatch):
    import xstatecalc.views.buffers as views

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(views, "sizes_view", interrupted)
    assert run("sizes").exit_code == 130


@pytest.mark.skipif(not os.path.exists("/dev/cpu/0/cpuid") or os.access("/dev/cpu/0/cpuid", os.R_OK),
                    reason="needs an unreadable /dev/cpu/0/cpuid")
def test_host_with_unreadable_cpuid_device_falls_back(run):
    res = run("host", "--format", "json")
    assert res.exit_code in (0, 1, 2) and "Traceback" not in res.stderr
