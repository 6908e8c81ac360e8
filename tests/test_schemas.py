"""The output contract: every command's JSON and YAML validate against its published schema (docs/schemas/),
the schemas in docs/ are the ones the package prints, and CSV headers are the published columns."""

import csv
import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from xstatecalc.render.schemas import commands, schema

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Beyond the README's examples: every CPU on every LTS kernel, and the shapes a command only has with some options.
EXTRA = [
    "sizes --cpu all --kernel lts",
    "sizes --cpu spr --disable noxsave",
    "sizes --cpu zen2 --kernel 4.19 --disable noxsaves",
    "features --cpu zen2 --kernel 6.1",
    "layout --cpu zen4 --features avx,avx512,pkru",
    "layout --cpu skylake --kernel 6.1 --emit-note",
    "guest --cpu spr --kernel 5.4 --enable amx",
    "guest --enable amx --process --sigaltstack 3000",
    "dmesg --cpu spr --kernel 6.1",
    "dmesg --check tests/data/dmesg/24-zen4-7700x.log --cpu spr",
    "check --cpu zen2 --kernel 6.1",
    "compare spr zen4 --for rr",
    "sigstack --cpu all --kernel lts --libc musl",
    "sigstack --cpu spr --runtime hotspot --runtime dynamorio --runtime node --runtime clickhouse --size 4096",
    "limit kvm.cap_xsave2 4096 --kernel lts",
    "vcpu qemu:qemu64@zen4",
    "vcpu qemu:SapphireRapids-v3,-amx-tile@spr@6.1",
    "vcpu firecracker:T2S@spr",
    "vcpu qemu:Skylake-Server-v5@tcg",
    "pool spr zen4 skylake-sp@6.1 emerald-rapids@5.15",
    "cpus",
    "kernels --branch 6.1",
    "core tests/data/cores/epyc-6.18-pkru.gdb13.core",
    "core tests/data/cores/epyc-6.18-pkru.xsave --raw --cpu zen3",
    "core tests/data/cores/epyc-6.18-pkru.core --component 9",
    "which 11952",
    "which 2688 2696",
    "which 39616",
    "which 0x66f",
    "which 1092 --cpu skylake --kernel lts",
    "which --frame magic1=0x46505853,extended_size=2804,xfeatures=0x2e7,xstate_size=2688",
    "which --frame magic1=0x46505853,extended_size=1092",
]


def _readme_commands():
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        for line in block.splitlines():
            if line.startswith("$ xstatecalc "):
                yield line.removeprefix("$ xstatecalc ").partition("  #")[0].strip()


def _cases():
    seen = set()
    for cmd in list(_readme_commands()) + EXTRA:
        args = cmd.split()
        if args[0] not in commands() or "--format" in args or "-f" in args:
            continue
        if cmd not in seen:
            seen.add(cmd)
            yield cmd


CASES = list(_cases())


@pytest.fixture(scope="module")
def validators():
    return {c: jsonschema.Draft202012Validator(schema(c)) for c in commands()}


def _each(cmd, fmt, run, monkeypatch):
    monkeypatch.chdir(ROOT)  # README examples name files relative to the checkout
    res = run(*cmd.split(), "--format", fmt)
    assert res.exit_code in (0, 1), res.stderr
    return res.stdout


def _explain(errors) -> str:
    return "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def _sample(data):
    # A long list is records of one shape (a CPU x kernel each): every k-th of them keeps the test fast.
    return data[::len(data) // 40 + 1] if isinstance(data, list) and len(data) > 40 else data


@pytest.mark.parametrize("cmd", CASES)
def test_json_and_yaml_follow_the_schema(cmd, run, validators, monkeypatch):
    v = validators[cmd.split()[0]]
    text = _each(cmd, "json", run, monkeypatch)
    outputs = [json.loads(text)]
    if len(text) < 200_000:  # PyYAML's pure-Python loader: large outputs are held to the schema as JSON only
        outputs.append(yaml.safe_load(_each(cmd, "yaml", run, monkeypatch)))
    for data in outputs:
        errors = list(v.iter_errors(_sample(data)))
        assert not errors, _explain(errors)


@pytest.mark.parametrize("cmd", [c for c in CASES if c.split()[0] not in ("import",)])
def test_csv_header_is_a_published_column_list(cmd, run, monkeypatch):
    header = next(csv.reader(io.StringIO(_each(cmd, "csv", run, monkeypatch))))
    assert header in schema(cmd.split()[0])["x-csv-columns"]


@pytest.mark.parametrize("command", ["features", "check", "layout", "dmesg", "sigstack"])
def test_every_built_in_cpu_follows_the_schema(command, run, validators):
    from xstatecalc.profile import builtin_names

    for cpu in builtin_names():
        res = run(command, "--cpu", cpu, "--kernel", "6.12", "--format", "json")
        assert res.exit_code in (0, 1), res.stderr
        errors = list(validators[command].iter_errors(json.loads(res.stdout)))
        assert not errors, f"{cpu}: {_explain(errors)}"


def test_batch_import_follows_the_schema(run, tmp_path, validators):
    from tests.dumpfmt import cpuid_r, registers

    regs = yaml.safe_load((ROOT / "tests" / "data" / "cpuid_regs.yaml").read_text())
    d = tmp_path / "dumps"
    d.mkdir()
    for cpu in ("zen4", "zen4", "alder-lake"):
        (d / f"{cpu}-{len(list(d.iterdir()))}.txt").write_text(cpuid_r([registers(regs[cpu])]))
    res = run("import", d, "-o", tmp_path / "out", "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert not list(validators["import"].iter_errors(json.loads(res.stdout)))


def test_docs_schemas_are_the_packaged_ones():
    docs = ROOT / "docs" / "schemas"
    assert sorted(p.name for p in docs.glob("*.json")) == sorted(f"{c}.json" for c in commands())
    for c in commands():
        assert json.loads((docs / f"{c}.json").read_text()) == schema(c), (
            f"docs/schemas/{c}.json is stale: python tools/write_schemas.py")


def test_every_command_with_json_output_has_a_schema(run):
    from xstatecalc.cli.common import COMMAND_MODULES

    assert set(COMMAND_MODULES) - {"schema"} == set(commands())


def test_the_schemas_are_valid_and_closed():
    jq_keywords = {"def", "as", "if", "then", "elif", "else", "end", "and", "or", "not", "reduce", "foreach", "try",
                   "catch", "label", "import", "include", "__loc__"}

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, path
                for key in node["properties"]:
                    assert key not in jq_keywords, f"{path}.{key} is a jq keyword"
                    assert re.fullmatch(r"[a-z][a-z0-9_]*|CONFIG_[A-Z0-9_]+", key), f"{path}.{key} is not snake_case"
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for v in node:
                walk(v, path)

    for c in commands():
        s = schema(c)
        jsonschema.Draft202012Validator.check_schema(s)
        assert s["schema_version"] == 2
        walk(s, c)


def test_the_schema_command(run):
    res = run("schema", "sizes")
    assert res.exit_code == 0 and json.loads(res.stdout) == schema("sizes")
    listing = json.loads(run("schema").stdout)
    assert set(listing["commands"]) == set(commands())
    bad = run("schema", "sise")
    assert bad.exit_code == 2 and "did you mean sizes" in bad.stderr
