"""Profile loading: the built-ins, the index, and strict validation of user files."""

from pathlib import Path
import textwrap

import pytest

from xstatecalc.errors import ProfileError, UnknownCpuError
from xstatecalc.profile import builtin_names, load_profile, loads_profile, parse_yaml, profiles_dir, resolve

GOOD = textwrap.dedent("""\
    name: mini
    vendor: amd
    flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, AVX]
    xcr0_supported: 0x7
    components:
      2: {size: 256, offset: 576}
    """)

REQUIRED = ["haswell", "skylake", "skylake-sp", "cascade-lake", "ice-lake-sp", "tiger-lake", "alder-lake",
            "raptor-lake", "meteor-lake", "arrow-lake", "sapphire-rapids", "emerald-rapids", "granite-rapids",
            "zen1", "zen2", "zen3", "zen4", "zen5", "apx-hypothetical"]


def test_required_builtins_present():
    assert set(REQUIRED) <= set(builtin_names())
    assert len(builtin_names()) >= 16


@pytest.mark.parametrize("alias,name", [("spr", "sapphire-rapids"), ("SPR", "sapphire-rapids"),
                                        ("genoa", "genoa"), ("raphael", "zen4"), ("apx", "apx-hypothetical"),
                                        ("skx", "skylake-sp")])
def test_aliases(alias, name):
    assert resolve(alias).name == name


def test_index_matches_profiles():
    data, _ = parse_yaml((Path(profiles_dir()) / "index.yaml").read_text(), "index")
    files = sorted(p.stem for p in Path(profiles_dir()).glob("*.yaml") if p.stem != "index")
    assert sorted(data) == files
    for name, aliases in data.items():
        p = load_profile(Path(profiles_dir()) / f"{name}.yaml")
        assert p.name == name and list(p.aliases) == aliases


def test_compiled_builtins_are_the_yaml():
    # builtin_profiles.py is generated from profiles/*.yaml (tools/compile_profiles.py): the module must be
    # byte for byte what the YAML gives today, and every profile the same as loading its file.
    import importlib.util

    from xstatecalc.profile import builtin_profile

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("compile_profiles", root / "tools" / "compile_profiles.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert (root / "xstatecalc" / "builtin_profiles.py").read_text(encoding="utf-8") == tool.render(), \
        "stale: run python tools/compile_profiles.py"
    for name in builtin_names():
        assert builtin_profile(name) == load_profile(Path(profiles_dir()) / f"{name}.yaml")


def test_every_builtin_names_its_source():
    for n in builtin_names():
        p = resolve(n)
        assert p.source and p.description
        assert p.hypothetical == ("hypothetical" in p.source)


def test_unknown_cpu_suggests():
    with pytest.raises(UnknownCpuError) as e:
        resolve("sapphire-rapid")
    assert "sapphire-rapids" in str(e.value)


def test_good_minimal_profile():
    p = loads_profile(GOOD, "mini.yaml")
    assert p.name == "mini" and p.components[2].offset == 576


def bad(text, *needles):
    with pytest.raises(ProfileError) as e:
        loads_profile(textwrap.dedent(text), "bad.yaml")
    msg = str(e.value)
    assert msg.startswith("bad.yaml"), msg
    for n in needles:
        assert n in msg, msg
    return e.value


def test_unknown_key_named_with_line():
    err = bad(GOOD + "colour: red\n", "colour", "unknown key")
    assert err.line == 7


def test_unknown_component_key_suggests():
    bad(GOOD.replace("offset: 576", "ofset: 576"), "components.2.ofset", "did you mean 'offset'")


def test_wrong_type():
    bad(GOOD.replace("size: 256", "size: big"), "components.2.size", "expected an integer")


def test_negative_size():
    bad(GOOD.replace("size: 256", "size: -256"), "components.2.size", "negative")


def test_component_outside_masks():
    bad(GOOD + "  9: {size: 8, offset: 832}\n", "components.9", "neither xcr0_supported nor xss_supported")


def test_missing_component_for_mask():
    bad(GOOD.replace("0x7", "0x207"), "component 9", "no entry")


def test_overlapping_user_components():
    text = GOOD.replace("0x7", "0x207") + "  9: {size: 8, offset: 800}\n"
    bad(text, "overlaps", "components.9.offset")


def test_duplicate_key():
    bad(GOOD + "name: again\n", "duplicate key")


def test_aliases_refused():
    bad(GOOD + "extra: &a [1]\nmore: *a\n", "aliases")


def test_unknown_flag():
    bad(GOOD.replace("AVX]", "AVX, AVX9000]"), "flags[6]", "unknown CPU flag")


def test_supervisor_mismatch():
    text = GOOD.replace("xcr0_supported: 0x7", "xcr0_supported: 0x7\nxss_supported: 0x800") + "  11: {size: 16}\n"
    bad(text, "components.11.supervisor")


def test_not_yaml():
    bad("name: [unclosed\n", "not valid YAML")


def test_not_a_mapping():
    bad("- 1\n- 2\n", "mapping")


def test_python_tags_never_constructed():
    bad(GOOD + "x: !!python/object/apply:os.system ['true']\n")
