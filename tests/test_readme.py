"""The README is tested against the CLI: its examples run with the exit codes it states, its value-name
table matches the JSON, and its library snippet gives the numbers it shows (reference §9.2, §5.4)."""

import re
import shlex
from pathlib import Path

import pytest

from xstatecalc.fpu import boot
from xstatecalc.profile import resolve
from xstatecalc.report import flat_values, sizes_record

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _examples():
    block = README.split("Examples — each of these is run by the test suite")[1].split("```console")[1].split("```")[0]
    for line in block.strip().splitlines():
        cmd, _, comment = line.removeprefix("$ ").partition("#")
        m = re.search(r"exit (\d)", comment)
        yield pytest.param(shlex.split(cmd)[1:], int(m.group(1)) if m else 0, id=cmd.strip())


ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("args,code", list(_examples()))
def test_readme_examples_run(run, args, code, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples name files relative to the checkout
    res = run(*args)
    assert res.exit_code == code, res.stdout + res.stderr


def test_value_names_table_matches_json():
    documented = set()
    table = README.split("**Value names.**")[1].split("`guest --format json`")[0]
    for cell in re.findall(r"^\| (.+?) \|", table, re.M):
        for name in re.findall(r"`([a-z_.*0-9]+)`", cell):
            documented.add(name)
    actual = set(flat_values(sizes_record(boot(resolve("spr")))))
    expanded = set()
    for name in documented:
        if name.endswith(".*"):
            expanded |= {a for a in actual if a.startswith(name[:-1])}
        elif name.startswith("."):
            continue
        else:
            expanded.add(name)
    for short in ("kernel.max.features",):
        expanded |= {short.rsplit(".", 1)[0] + suffix for suffix in (".format", ".size")}
    assert expanded == actual


def test_library_snippet():
    from xstatecalc import boot as b_, resolve as r_, resolve_kernel
    from xstatecalc.guest import guest_flow

    b = b_(r_("sapphire-rapids"), resolve_kernel("6.1"))
    assert (b.kernel_max.size, b.user_max.size, b.sigframe_min) == (10752, 11008, 11952)
    assert guest_flow(b, [18])[3].state["fpstate"]["allocated"] == 2880


def test_readme_gives_the_two_setup_commands():
    assert "pip install . && xstatecalc sizes --cpu sapphire-rapids" in README
    assert "pip install -e '.[test]' && python -m pytest" in README
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "pip install -q -e '.[test]' && python -m pytest" in ci


def test_profiles_doc_example_loads_and_runs(run, tmp_path):
    doc = (Path(__file__).parent.parent / "docs" / "profiles.md").read_text(encoding="utf-8")
    example = doc.split("```yaml")[1].split("```")[0]
    f = tmp_path / "docs-example.yaml"
    f.write_text(example)
    for line in doc.split("```console")[1].split("```")[0].strip().splitlines():
        args = shlex.split(line.removeprefix("$ "))[1:]
        res = run(*[str(f) if a == "docs-example.yaml" else a for a in args])
        assert res.exit_code == 0, res.stdout + res.stderr
    out = run("sizes", "--cpu", f, "--format", "json")
    import json

    rec = json.loads(out.stdout)[0]
    # The same sub-leaves as Sapphire Rapids hardware without CET/PASID: reference §9.2's 6.1-era numbers.
    assert rec["configs"]["kernel"]["max"]["size"] == 10752 and rec["configs"]["user"]["max"]["size"] == 11008


def test_readme_sample_outputs_are_the_real_outputs():
    # Every sample block is what the command prints at 80 columns today (tools/readme_samples.py rewrites them).
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_samples", ROOT / "tools" / "readme_samples.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert len(list(tool.samples(README))) >= 3
    for start, end, command in tool.samples(README):
        shown = "\n".join(README.split("\n")[start:end])
        assert shown == tool.run(command).rstrip("\n"), f"stale sample: {command} (run python tools/readme_samples.py)"


def test_docs_pictures_are_current():
    # docs/*.svg are what the command draws today (tools/docs_pictures.py rewrites them).
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_pictures", ROOT / "tools" / "docs_pictures.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for path, command in tool.PICTURES.items():
        assert (ROOT / path).read_text(encoding="utf-8") == tool.run(command), f"stale {path}"
        assert f"({path})" in README  # the README shows it
