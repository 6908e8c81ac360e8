import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from xstatecalc.cli import cli

DATA = Path(__file__).parent / "data"


class Runner(CliRunner):
    """CliRunner that lets unexpected exceptions through (they are bugs)."""

    def __call__(self, *args, input=None, env=None):
        # Wide by default, so a test reads whole table cells; width tests pass their own COLUMNS.
        env = {"COLUMNS": "200", **(env or {})}
        return self.invoke(cli, [str(a) for a in args], input=input, env=env, catch_exceptions=False)


@pytest.fixture(scope="session")
def run():
    try:
        return Runner(mix_stderr=False)  # click < 8.2 mixes stderr into stdout by default
    except TypeError:
        return Runner()  # click >= 8.2 always captures stderr separately


@pytest.fixture(scope="session")
def run_json(run):
    def go(*args):
        res = run(*args, "--format", "json")
        assert res.exit_code == 0, res.stderr + res.stdout
        return json.loads(res.stdout)

    return go


def write_profile(tmp_path, body, name="test-cpu", vendor="intel", description="not a real CPU"):
    """A profile file for a test: the identity keys, then *body* (flags, masks, components)."""
    f = tmp_path / f"{name}.yaml"
    f.write_text(f"name: {name}\nvendor: {vendor}\ndescription: {description}\nsource: test\n" + body)
    return f


def load_data(name):
    with open(DATA / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)
