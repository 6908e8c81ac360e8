"""Issue 19 ("One contract, every number true"), sections 3 and 4: one test per class of defect, each with its
reproducer. Every case ends in a true result, a finding (exit 1) or one line `xstatecalc: error: …` (exit 2):
never a traceback, a hang, unbounded memory, or a wrong answer with exit 0.

Big hostile inputs are generated in tmp_path; nothing here takes more than a fraction of a second.
"""

import pytest

from xstatecalc.errors import KernelVersionError
from xstatecalc.versions import parse_version


def _one_error_line(res, code=2):
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xstatecalc: error:") and "Traceback" not in res.stderr, res.stderr
    return lines[0]


# ------------------------------------------------------------------ numbers users type

NOT_NUMBERS = ["١٦٣٨٤", "1_8", "+18", "0b11", "0o7", "-1", "018", "1e3", "١٨"]
NOT_MASKS = ["+7", "-1", "1_8", "١٨", "0x_7", "0x1" + "0" * 16]  # --mask is hex with or without 0x: 0b11 is 0xb11
TEMPLATES = [
    ["sigstack", "--cpu", "spr", "--size", "{}"],
    ["guest", "--process", "--sigaltstack", "{}"],
    ["limit", "user.max.size", "{}"],
    ["core", "README.md", "--component", "{}"],
    ["guest", "--enable", "{}"],
    ["layout", "--cpu", "spr", "--features", "avx,{}"],
    ["sizes", "--disable", "clearcpuid={}"],
]


@pytest.mark.parametrize("template,value", [(t, v) for t in TEMPLATES for v in NOT_NUMBERS]
                         + [(["layout", "--cpu", "spr", "--mask", "{}"], v) for v in NOT_MASKS]
                         + [(["sigstack", "--cpu", "spr", "--libc", "glibc-2.0{}"], "39")])
def test_integers_are_ascii_decimal_or_hex_everywhere(run, template, value):
    # int() takes all of these ('١٦' is 16, '1_8' is 18, '+18' is 18, int(x, 0) takes '0b11'); a user who typed
    # one of them meant something the tool cannot know. Refused at parse time, before any file is read.
    _one_error_line(run(*[a.format(value) for a in template]))


@pytest.mark.parametrize("value", ["+18", "1_8", "0b11", "'١٨'", "-18"])
def test_expectations_numbers_are_strict_too(run, tmp_path, value):
    f = tmp_path / "e.yaml"
    f.write_text(f"- cpu: zen4\n  kernel: '6.6'\n  expect:\n    user.max.size: {value}\n")
    assert "e.yaml:4" in _one_error_line(run("verify", f))


@pytest.mark.parametrize("good", ["0x4000", "16384"])
def test_plain_numbers_still_work(run, good):
    assert run("sigstack", "--cpu", "spr", "--size", good, "--runtime", "go").exit_code == 0


# ------------------------------------------------------------------ kernel strings

@pytest.mark.parametrize("bad", ["6.1-", "6.1~", "6.1.1.1.1", "v6.8-rc0", "6.1+", "6.1.0-", "v6.8-rc3-", "6.1.0.1"])
def test_kernel_strings_with_trailing_junk_are_refused(run, bad):
    with pytest.raises(KernelVersionError):
        parse_version(bad)
    _one_error_line(run("sizes", "--kernel", bad))


@pytest.mark.parametrize("good", ["6.1.0+", "6.8.0-rc3+", "6.6.30+rpt-rpi-v8", "5.15.0-200.131.27.el9uek.x86_64",
                                  "6.1.76-1~bpo11+1"])
def test_real_release_strings_still_read(good):
    # setlocalversion's '+' (a tree past its tag), Raspberry Pi OS, Oracle UEK, a Debian backport upload.
    parse_version(good)


@pytest.mark.parametrize("spec", ["@6.1", "zen4@", "@"])
def test_compare_cpu_at_kernel_needs_both(run, spec):
    assert "CPU@KERNEL needs both" in _one_error_line(run("compare", spec, "zen4"))


# ------------------------------------------------------------------ what an error message may quote

SECRET = "s3cr3t" * 40


@pytest.mark.parametrize("body", [
    f"{SECRET}: 1\n",  # an unknown key: the first line of a file that is not a profile
    f"name: x\nvendor: intel\nflags: [{SECRET}]\n",
    f"name: x\nvendor: intel\nflags: [FPU]\nxcr0_supported: {SECRET}\n",
    f"a: *{SECRET}\n",  # YAML's own message names the alias
])
def test_errors_quote_at_most_a_short_token_of_a_file(run, tmp_path, body):
    f = tmp_path / "p.yaml"
    f.write_text(body)
    line = _one_error_line(run("sizes", "--cpu", f))
    assert SECRET[:41] not in line and line.count("s3cr3t") <= 2 * (40 // 6 + 1)


def test_expectation_errors_quote_a_short_token(run, tmp_path):
    for body in (f"- cpu: {SECRET}\n  expect: {{xcr0: 0x7}}\n",
                 f"- cpu: zen4\n  options: {{disable: [clearcpuid={SECRET}]}}\n  expect: {{xcr0: 0x7}}\n",
                 f"- cpu: zen4\n  expect: {{xcr0: 0x7}}\n  {SECRET}: 1\n"):
        f = tmp_path / "e.yaml"
        f.write_text(body)
        line = _one_error_line(run("verify", f))
        assert SECRET[:41].lower() not in line.lower()


# ------------------------------------------------------------------ streams, encodings, the environment

def _sh(command, tmp_path, env=None):
    import os
    import subprocess
    import sys

    full = {**os.environ, "COLUMNS": "80", **(env or {})}
    full.pop("_XSTATECALC_COMPLETE", None) if "_XSTATECALC_COMPLETE" not in (env or {}) else None
    return subprocess.run(f"'{sys.executable}' -m xstatecalc {command}", shell=True, capture_output=True,
                          cwd=tmp_path, env=full)


def test_closed_stdout_is_one_error_line(tmp_path):
    for command in ("sizes >&-", "dmesg --cpu zen4 >&-"):  # a table, and click.echo's path
        res = _sh(command, tmp_path)
        err = res.stderr.decode()
        assert res.returncode == 2 and err.startswith("xstatecalc: error:") and "Traceback" not in err, err
        assert "standard output is closed" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_stdout_that_cannot_take_unicode(tmp_path, encoding):
    # Box-drawing characters, '→' and '—' in tables and CSV: drawn in ASCII, escaped in CSV, never a traceback.
    from click.testing import CliRunner

    from xstatecalc.cli import cli

    try:
        runner = CliRunner(charset=encoding, mix_stderr=False)
    except TypeError:
        runner = CliRunner(charset=encoding)
    for command in ("sizes --cpu zen4 --kernel all", "compare spr@6.1 spr@6.18", "compare spr@6.1 spr@6.18 -f csv",
                    "layout --cpu spr --diagram", "sigstack --cpu spr --libc musl", "core README.md --raw"):
        res = runner.invoke(cli, command.split(), env={"COLUMNS": "80"}, catch_exceptions=False)
        assert res.exit_code in (0, 1) and "Traceback" not in res.stderr, (command, res.stderr)
        assert res.stdout_bytes.isascii() and len(res.stdout_bytes) > 200
    res = _sh("compare spr@6.1 spr@6.18", tmp_path, env={"PYTHONIOENCODING": encoding})  # the real thing, once
    assert res.returncode == 0 and res.stdout.isascii() and b"Traceback" not in res.stderr


@pytest.mark.parametrize("env", [
    {"COMP_WORDS": "xstatecalc sizes", "COMP_CWORD": "99"},
    {"COMP_WORDS": "xstatecalc sizes", "COMP_CWORD": "x"},
    {"COMP_WORDS": "xstatecalc sizes", "COMP_CWORD": "-1"},
    {"COMP_WORDS": "xstatecalc sizes"},
])
def test_bad_completion_environment_is_one_error_line(run, env):
    from xstatecalc.cli import cli

    def complete(**env):
        return run.invoke(cli, [], prog_name="xstatecalc", env={"_XSTATECALC_COMPLETE": "bash_complete", **env},
                          catch_exceptions=False)

    res = complete(**env)
    assert res.exit_code == 2 and res.stderr.startswith("xstatecalc: error: shell completion")
    assert len(res.stderr.splitlines()) == 1
    good = complete(COMP_WORDS="xstatecalc sizes --cpu sap", COMP_CWORD="3")
    assert good.exit_code == 0 and "sapphire-rapids" in good.stdout


@pytest.mark.parametrize("name", ["forged\nxstatecalc: error: not really", "esc\x1b[2Jape", "bad\udcffutf8"])
def test_file_names_cannot_forge_lines(run, tmp_path, name):
    import json

    from . import corewriter as W

    f = tmp_path / name
    f.write_bytes(W.core_file(W.xsave_image(2696, 0x2E7, 0x2E7, {})))
    for fmt in ("table", "text", "json", "yaml", "csv"):
        res = run("core", f, "-f", fmt)
        assert res.exit_code == 0 and "\x1b" not in res.stdout, res.stderr
        assert not any(line.startswith(("xstatecalc: error", "esc", "bad")) for line in res.stdout.splitlines()[1:])
        assert "forged\n" not in res.stdout
    shown = json.loads(run("core", f, "-f", "json").stdout)["file"]
    assert shown.endswith(name[-4:]) and not any(ch in shown for ch in "\n\x1b\udcff")
    bad = tmp_path / (name + ".missing")
    line = _one_error_line(run("dmesg", "--check", bad))
    assert "\n" not in line and "\x1b" not in line


def test_force_keeps_the_replaced_files_permissions(run, tmp_path):
    import os
    import stat

    from .conftest import DATA

    dump = tmp_path / "d.txt"
    dump.write_text((DATA / "dumps" / "alder-lake-hybrid.aida64.txt").read_text())
    out = tmp_path / "private.yaml"
    out.write_text("old\n")
    os.chmod(out, 0o600)
    old = os.umask(0o022)
    try:
        assert run("import", dump, "-o", out, "--force").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600 and out.read_text() != "old\n"


# ------------------------------------------------------------------ dmesg --check

ZEN4_LOG = "24-zen4-7700x.log"


def test_dmesg_check_reads_the_log_once(run, tmp_path, monkeypatch):
    # 9000 x86/fpu lines the model does not print (300 KB): main re-read the whole log for every CPU and kernel
    # model (about 1900 times, 75 s); it is parsed once and the models are held against the parsed lines.
    import time

    from xstatecalc import dmesg as D

    from .conftest import DATA

    f = tmp_path / "big.log"
    f.write_text("".join(f"[    0.0] x86/fpu: noise line {i}\n" for i in range(9000))
                 + (DATA / "dmesg" / ZEN4_LOG).read_text())
    calls = []
    real = D.boots
    monkeypatch.setattr(D, "boots", lambda text: calls.append(len(text)) or real(text))
    start = time.monotonic()
    for args in ((), ("--cpu", "zen4"), ("--cpu", "zen4", "--kernel", "6.6")):
        calls.clear()
        res = run("dmesg", "--check", f, *args, "-f", "json")
        assert res.exit_code == 0 and len(calls) == 1, (args, len(calls))
    assert time.monotonic() - start < 20  # about a second; main took minutes


@pytest.mark.parametrize("bad,good", [
    ("Enabled xstate features 0x-5,", "Enabled xstate features 0x602e7,"),
    ("Enabled xstate features 0x1" + "0" * 16 + ",", "Enabled xstate features 0x602e7,"),  # 65 bits
    ("Enabled xstate features 0x60_2e7,", "Enabled xstate features 0x602e7,"),
    ("context size is -10752 bytes", "context size is 10752 bytes"),
    ("xstate_offset[2]: \u0665\u0667\u0666,", "xstate_offset[2]:  576,"),  # Arabic-Indic digits: int() reads 576
    ("xstate_offset[2]: -576,", "xstate_offset[2]:  576,"),
    ("xstate_sizes[2]:  +256", "xstate_sizes[2]:  256"),
    ("max sigframe size: 1_1952", "max sigframe size: 11952"),
])
def test_numbers_no_kernel_prints_never_add_up(run, tmp_path, bad, good):
    from .conftest import DATA

    text = (DATA / "dmesg" / "12-spr-8480c-kvm-guest.log").read_text()
    assert good in text
    f = tmp_path / "log"
    f.write_text(text.replace(good, bad, 1))
    for args in ((), ("--cpu", "spr", "--kernel", "6.1")):
        res = run("dmesg", "--check", f, *args)
        assert res.exit_code == 1 and "Traceback" not in res.stderr, (args, res.stdout, res.stderr)
        assert "adds up" not in res.stdout and "agrees" not in res.stdout


# ------------------------------------------------------------------ import

def _regs(cpu):
    from . import dumpfmt
    from .conftest import load_data

    return dumpfmt.registers(load_data("cpuid_regs.yaml")[cpu])


def test_a_component_linux_never_enables_needs_no_subleaf(run, tmp_path):
    # A real Zen 2 (Ryzen 5 3600X): CPUID(0xD,0).EAX 0x207 lists PKRU, CPUID(7,0).ECX 0x00400004 has no PKU, so
    # xsave_cpuid_features[] drops PKRU on every kernel; a dump without sub-leaf 9 must still import.
    import json

    from . import dumpfmt

    regs = _regs("zen2")
    assert regs[(0xD, 0)][0] == 0x207 and not regs[(7, 0)][2] >> 3 & 1
    del regs[(0xD, 9)]
    dump, prof = tmp_path / "zen2.txt", tmp_path / "zen2.yaml"
    dump.write_text(dumpfmt.cpuid_r([regs]))
    res = run("import", dump, "-o", prof)
    assert res.exit_code == 0 and "sub-leaf 0x9 (pkru) missing: the CPU lacks PKU" in res.stderr, res.stderr
    out = json.loads(run("sizes", "--cpu", prof, "--kernel", "6.6", "-f", "json").stdout)[0]
    assert out["configs"]["user"]["max"]["size"] == regs[(0xD, 0)][1] == 0x340  # CPUID(0xD,0).EBX under Linux
    del regs[(0xD, 2)]  # AVX is another matter: the CPU has it, Linux enables it, its sub-leaf is needed
    dump.write_text(dumpfmt.cpuid_r([regs]))
    assert "sub-leaf 0x2 missing" in _one_error_line(run("import", dump))


@pytest.mark.parametrize("which", [0, 3])
def test_a_damaged_line_among_untagged_subleaves_is_named(run, tmp_path, which):
    # AIDA64 without [SL nn] tags: a line's sub-leaf is its position. Dropping a damaged line shifted the rest (main
    # made AVX 64 bytes at 1088 out of Sapphire Rapids' sub-leaf 5 when sub-leaf 0 was damaged).
    lines = [f"CPUID {leaf:08X}: {a:08X}-{b:08X}-{c:08X}-{d:08X}" for (leaf, _s), (a, b, c, d)
             in _regs("sapphire-rapids").items()]
    at = [i for i, line in enumerate(lines) if line.startswith("CPUID 0000000D")][which]
    lines[at] = lines[at][:30]
    f = tmp_path / "untagged.txt"
    f.write_text("\n".join(lines) + "\n")
    line = _one_error_line(run("import", f))
    assert f"untagged.txt: line {at + 1}:" in line and "[SL nn]" in line


@pytest.mark.parametrize("eax", [0x0, 0x204])
def test_a_leaf_0xd_the_kernel_refuses_exits_1(run, tmp_path, eax):
    # fpu__init_system_xstate(): no x87/SSE in CPUID(0xD,0).EAX (an empty mask included) disables XSAVE.
    from . import dumpfmt

    regs = _regs("zen2")
    a, b, c, d = regs[(0xD, 0)]
    regs[(0xD, 0)] = (eax, b, c, d)
    if not eax & 0x200:
        regs.pop((0xD, 9))
    if not eax & 0x4:
        regs.pop((0xD, 2))
    f, out = tmp_path / "d.txt", tmp_path / "p.yaml"
    f.write_text(dumpfmt.cpuid_r([regs]))
    res = run("import", f, "-o", out)
    assert res.exit_code == 1 and "Linux refuses XSAVE" in res.stderr and out.exists(), res.stderr
    assert run("check", out).exit_code == 1


# ------------------------------------------------------------------ core

CORES = DATA_CORES = None


def _cores():
    from .conftest import DATA

    return DATA / "cores"


def _core(run, path, *args):
    import json

    res = run("core", path, *args, "-f", "json")
    return res, (json.loads(res.stdout) if res.stdout.strip() else None)


def test_an_image_without_xcr0_is_placed_by_xstate_bv_and_size(run):
    # The development machine's own XSAVE into a zeroed buffer (tests/data/cores/README.md): XSAVE leaves bytes
    # 464..511 alone, so no XCR0 is stored. XSTATE_BV 0x206 and 2440 bytes fit AMD's PKRU at 2432 (CPUID(0xD,9).EBX
    # of Zen 3/4/5), not Intel's 2688; main said no layout fits, and that the machine itself differs.
    res, out = _core(run, _cores() / "epyc-6.18-pkru.xsave")
    assert res.exit_code == 0 and out["ok"] and out["xcr0"] is None and out["input"] == "xsave", res.stderr
    assert out["xstate_bv"] == "0x206" and "zen3" in out["candidates"] and "sapphire-rapids" not in out["candidates"]
    assert {o["offsets"]["pkru"] for o in out["layouts"] if "pkru" in o["offsets"]} >= {2432}
    res, out = _core(run, _cores() / "epyc-6.18-pkru.xsave", "--cpu", "zen3", "--component", "2")
    assert res.exit_code == 0 and out["check"]["ok"]
    assert bytes.fromhex(out["component"]["hex"])[7 * 16:8 * 16] == bytes.fromhex("0000c03f") * 4  # ymm7: 1.5f


@pytest.mark.parametrize("xcr0,why", [
    (0x307, "supervisor"),  # PT (bit 8) lives in IA32_XSS
    (0x207 | 1 << 40, "reserved"),
    (0x7 | 1 << 63, "reserved"),
    (0x206, "x87"),
    (0x27, "AVX-512"),  # opmask without ZMM_Hi256 and Hi16_ZMM: XSETBV refuses it
])
def test_an_impossible_xcr0_is_a_finding(run, tmp_path, xcr0, why):
    from . import corewriter as W

    f = tmp_path / "core"
    f.write_bytes(W.core_file(W.xsave_image(2696, xcr0, 0x3, {})))
    res, out = _core(run, f)
    assert res.exit_code == 1 and out["ok"] is False and any(why in p for p in out["problems"]), out and out["problems"]
    raw = tmp_path / "raw"
    raw.write_bytes(W.xsave_image(2696, xcr0, 0x3, {}))
    assert "not an XSAVE image" in _one_error_line(run("core", raw))  # detected raw: refused
    assert run("core", raw, "--raw").exit_code == 1  # read anyway: a finding


def test_a_file_that_is_neither_core_nor_image_is_refused(run, tmp_path):
    from .conftest import DATA

    line = _one_error_line(run("core", DATA.parent.parent / "README.md"))
    assert "not an ELF core file, and not an XSAVE image" in line
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n" * 100)
    _one_error_line(run("core", text))


def _header(image, at, value):
    import struct

    data = bytearray(image)
    data[at:at + 8] = struct.pack("<Q", value)
    return bytes(data)


@pytest.mark.parametrize("edit,why", [
    (lambda img: _header(img, 512, 0x2E7 | 1 << 8), "outside XCR0"),  # XSTATE_BV bit 8 (PT) not in XCR0 0x2e7
    (lambda img: _header(img, 512, 0x2E7 | 1 << 63), "outside XCR0"),
    (lambda img: _header(img, 520, 0x2E7), "bytes 8..23"),  # XCOMP_BV without bit 63: standard form, #GP
    (lambda img: _header(img, 528, 1), "bytes 8..23"),  # header bytes 16..23
    (lambda img: _header(_header(img, 520, 1 << 63 | 0x7), 512, 0x2E7), "outside XCOMP_BV"),
    (lambda img: _header(_header(img, 520, 1 << 63 | 0x2E7), 560, 1), "bytes 16..63"),
    (lambda img: _header(img, 520, 1 << 63 | 1 << 40 | 0x7), "reserved"),
    (lambda img: img[:24] + bytes.fromhex("801f0100") + img[28:], "MXCSR"),  # bit 16 of MXCSR is reserved
])
def test_what_xrstor_would_refuse_is_a_finding(run, tmp_path, edit, why):
    # SDM XRSTOR #GP: standard form XSTATE_BV outside XCR0 or header bytes 23:8 not zero; compacted form XSTATE_BV
    # outside XCOMP_BV or header bytes 63:16 not zero; a reserved MXCSR bit. Main printed the image with exit 0.
    from . import corewriter as W

    img = W.xsave_image(2696, 0x2E7, 0x2E7, {})
    f = tmp_path / "core"
    f.write_bytes(W.core_file(edit(img)))
    res, out = _core(run, f)
    assert res.exit_code == 1 and out["ok"] is False and any(why in p for p in out["problems"]), out["problems"]
    assert run("core", f).exit_code == 1 and "FINDING" in run("core", f).stdout


def test_gdb_cores_are_recognised(run):
    # The same program dumped by the kernel and by gdb 13.1's gcore on one AMD EPYC (tests/data/cores/README.md).
    res, kernel = _core(run, _cores() / "epyc-6.18-pkru.core")
    assert res.exit_code == 0 and kernel["writer"] == "kernel" and kernel["layout_source"] == "note"
    assert kernel["size"] == 2440 and kernel["layout"][-1]["offset"] == 2432
    res, gdb = _core(run, _cores() / "epyc-6.18-pkru.gdb13.core")
    assert res.exit_code == 0 and gdb["writer"] == "gdb" and gdb["layout_source"] == "inferred"
    assert gdb["size"] == 2696 and gdb["xstate_bv"] == gdb["xcr0"] == "0x207"  # i387_collect_xsave(gcore)
    assert {"owner": "GDB", "type": "NT_GDB_TDESC", "size": 8069} in gdb["elf_notes"]
    table = run("core", _cores() / "epyc-6.18-pkru.gdb13.core").stdout
    assert "gdb's gcore" in table and "not evidence of the CPU that ran the program" in " ".join(table.split())
    assert "CPUs whose layout fits" not in table


def test_core_json_keeps_its_keys_and_says_ok(run):
    res, out = _core(run, _cores() / "epyc-6.18-avx512.core")
    keys = ["file", "input", "size", "xcr0", "xcr0_from", "signal_sw_bytes", "xstate_bv", "xcomp_bv", "format",
            "layout_source", "layout", "components", "candidates", "layouts", "layouts_differ", "elf_notes",
            "problems", "check", "ok"]
    assert res.exit_code == 0 and out["ok"] is True and not set(keys) - set(out)
    assert all(k == k.lower() and " " not in k and "-" not in k for k in out)
    res, out = _core(run, _cores() / "epyc-6.18-avx512.core", "--cpu", "skylake-sp")
    assert res.exit_code == 1 and out["ok"] is False  # a --cpu that differs is not ok either


def test_emit_note_with_diagram_is_a_usage_error(run):
    assert "--emit-note" in _one_error_line(run("layout", "--cpu", "zen4", "--emit-note", "--diagram"))
    assert "--emit-note" in _one_error_line(run("layout", "--cpu", "zen4", "--emit-note", "-f", "svg"))


def _read_core(path):
    from xstatecalc.inputs import BinarySource
    from xstatecalc.xsaveimage import read_image

    src = BinarySource(path)
    try:
        return read_image(src, "core")
    finally:
        src.close()


def test_core_memory_is_bounded_whatever_the_program_headers_say(tmp_path):
    # One PT_NOTE segment holding a 1 MiB note, listed 80 times as itself and 80 times as overlapping segments of
    # other lengths (k empty 12-byte notes more): main kept a copy of every descriptor it walked (160 MiB here,
    # gigabytes with more headers).
    import tracemalloc

    from . import corewriter as W

    img = W.xsave_image(2696, 0x2E7, 0x2E7, {})
    notes = W.note("LINUX", 0x202, img) + W.note("CORE", 0x46494C45, bytes(1 << 20))  # an NT_FILE of 1 MiB
    segs = [(4, len(notes))] * 80 + [(4, len(notes) + 12 * k) for k in range(1, 81)]
    f = tmp_path / "core"
    f.write_bytes(W.elf(notes + bytes(12 * 80), segs))
    tracemalloc.start()
    try:
        image = _read_core(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak >> 20} MiB"
    assert image.size == 2696 and image.note_count >= 160


@pytest.mark.parametrize("loads,xnum", [(5000, False), (70000, True)])
def test_cores_with_many_program_headers_read(run, tmp_path, loads, xnum):
    # elf_core_dump() writes a program header per mapping; from 65535 on, e_phnum is PN_XNUM and the count is in
    # section header 0's sh_info. Main refused more than 4096 and read PN_XNUM as 65535 headers.
    from . import corewriter as W

    notes = W.note("CORE", 1, bytes(336)) + W.note("LINUX", 0x202, W.xsave_image(2696, 0x2E7, 0x2E7, {}))
    f = tmp_path / "core"
    f.write_bytes(W.elf(notes, [(4, len(notes))], loads=loads, xnum=xnum))
    res, out = _core(run, f)
    assert res.exit_code == 0 and out["size"] == 2696 and "ice-lake-sp" in out["candidates"], res.stderr


LAYOUT_2E7 = {2: (576, 256), 5: (1088, 64), 6: (1152, 512), 7: (1664, 1024), 9: (2688, 8)}


@pytest.mark.parametrize("change,why", [
    (lambda r: r + [(9, 8, 2688, 0)], "a second record"),
    (lambda r: [(2, 4096, 576, 0)] + r[1:], "run past"),  # AVX of 4096 bytes in a 2696-byte image
    (lambda r: r[:1] + [(5, 64, 600, 0)] + r[2:], "overlaps"),
    (lambda r: r + [(18, 8192, 2696, 0)], "not in XCR0"),
    (lambda r: r + [(11, 16, 2700, 0)], "supervisor"),
    (lambda r: r + [(70, 8, 2700, 0)], "not an XSAVE component"),
    (lambda r: r[:-1], "no record for pkru"),
    (lambda r: r + [(0, 160, 0, 0)] * 70, "larger than any kernel writes"),
])
def test_layout_note_records_are_checked(run, tmp_path, change, why):
    import struct

    from . import corewriter as W

    records = [(n, size, off, 0) for n, (off, size) in sorted(LAYOUT_2E7.items())]
    desc = b"".join(struct.pack("<IIII", *r) for r in change(records))
    f = tmp_path / "core"
    f.write_bytes(W.core_file(W.xsave_image(2696, 0x2E7, 0x2E7, LAYOUT_2E7), layout_desc_bytes=desc))
    assert why in _one_error_line(run("core", f, "--component", "2"))


def test_component_output_is_bounded(run, tmp_path):
    # The biggest image core reads is 1 MiB; a component dump draws 16 KiB for people and gives JSON every byte.
    import json

    from . import corewriter as W

    big = tmp_path / "big"
    big.write_bytes(W.core_file(bytes(576) + bytes((2 << 20) - 576)))
    assert "larger than" in _one_error_line(run("core", big, "--component", "2"))
    layout = {2: (576, 100_000)}
    f = tmp_path / "core"
    f.write_bytes(W.core_file(W.xsave_image(576 + 100_000, 0x7, 0x7, layout), layout))
    res = run("core", f, "--component", "2")
    assert res.exit_code == 0 and len(res.stdout.splitlines()) < 1100
    assert len(bytes.fromhex(json.loads(run("core", f, "--component", "2", "-f", "json").stdout)["component"]["hex"])
               ) == 100_000


def test_a_fifo_never_blocks(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (["core", str(fifo)], ["dmesg", "--check", str(fifo)], ["sizes", "--cpu", str(fifo)]):
        res = subprocess.run([sys.executable, "-m", "xstatecalc", *args], capture_output=True, text=True, timeout=20,
                             cwd=tmp_path)
        assert res.returncode == 2 and res.stderr.startswith("xstatecalc: error:") and "FIFO" in res.stderr
