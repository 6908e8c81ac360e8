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


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("template", [
    ["sigstack", "--cpu", "spr", "--size", "{}"],
    ["guest", "--process", "--sigaltstack", "{}"],
    ["limit", "user.max.size", "{}"],
    ["core", "README.md", "--component", "{}"],
    ["guest", "--enable", "{}"],
    ["layout", "--cpu", "spr", "--features", "avx,{}"],
    ["sizes", "--disable", "clearcpuid={}"],
])
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
