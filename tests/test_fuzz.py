"""Property and fuzz tests: layout invariants over random valid profiles, and every input
reader fed random, mutated and hostile text. Each ends in a result or one clean message
(exit 0, 1 or 2), never a traceback, and never leaves a half-written file.

Budget: examples are few and derandomized so the suite stays fast and repeatable in CI. For a long,
random run set XSTATECALC_FUZZ_EXAMPLES (see tests/README.md), e.g.

    XSTATECALC_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -q
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xstatecalc import components as C
from xstatecalc import importers as I
from xstatecalc import layout as L
from xstatecalc.errors import InputError
from xstatecalc.fpu import boot
from xstatecalc.kernels import all_models
from xstatecalc.profile import Component, Profile, loads_profile

from . import dumpfmt
from .conftest import DATA, load_data

_LONG = int(os.environ.get("XSTATECALC_FUZZ_EXAMPLES", "0") or 0)
FAST = settings(max_examples=_LONG or 60, deadline=None, derandomize=not _LONG,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
REGS = load_data("cpuid_regs.yaml")
MODELS = all_models()


# ---------------------------------------------------------------- random valid profiles

@st.composite
def profiles(draw):
    """A profile with user components packed in increasing (or shuffled) standard offsets."""
    nrs = draw(st.lists(st.sampled_from([2, 3, 4, 5, 6, 7, 9, 17, 18, 19]), unique=True, max_size=8))
    sup = draw(st.lists(st.sampled_from([8, 10, 11, 12, 14, 15]), unique=True, max_size=4))
    sizes = {n: draw(st.integers(1, 4096)) for n in nrs + sup}
    order = draw(st.permutations(sorted(nrs)))
    off, comps = C.XSAVE_HDR_END, {}
    for n in order:
        off += draw(st.integers(0, 128))
        comps[n] = Component(n, sizes[n], off, False, draw(st.booleans()), False)
        off += sizes[n]
    for n in sup:
        comps[n] = Component(n, sizes[n], 0, True, draw(st.booleans()), False)
    flags = frozenset(draw(st.sets(st.sampled_from(sorted(
        "FPU FXSR XMM XSAVE XSAVEOPT XSAVEC XSAVES XFD AVX MPX AVX512F PKU SHSTK ENQCMD AMX_TILE APX".split())))))
    return Profile("rand", "intel", flags | {"FPU", "FXSR", "XMM", "XSAVE"},
                   C.MASK_FPSSE | sum(C.bit(n) for n in nrs), sum(C.bit(n) for n in sup), dict(sorted(comps.items())))


@FAST
@given(profiles(), st.integers(0, (1 << 20) - 1), st.integers(0, (1 << 20) - 1))
def test_layout_invariants(p, a, b):
    have = C.MASK_FPSSE | sum(C.bit(n) for n in p.components)
    small, big = (a & have) | C.MASK_FPSSE, ((a | b) & have) | C.MASK_FPSSE
    offs = L.compacted_offsets(p, big)
    assert list(offs.values()) == sorted(offs.values())  # non-decreasing in component number
    assert L.compacted_size(p, big) >= L.compacted_size(p, small)  # superset never smaller
    assert L.standard_size(p, big) >= L.standard_size(p, small)
    for n in C.bits(big & ~C.MASK_FPSSE):
        c = p.components[n]
        if not c.supervisor:
            assert L.standard_size(p, big) >= c.offset + c.size  # standard size covers every component
        assert L.compacted_size(p, big) >= offs[n] + c.size
    assert L.standard_size(p, C.MASK_FPSSE) == L.compacted_size(p, C.MASK_FPSSE) == 576


@FAST
@given(profiles(), st.sampled_from(MODELS))
def test_boot_invariants(p, k):
    b = boot(p, k)
    if not b.xsave:  # fpu__init_disable_system_xstate(): every buffer is the legacy image
        assert b.kernel_max.size == b.user_max.size == b.kernel_default.size == 512
        return
    assert b.kernel_default.features & ~b.kernel_max.features == 0  # default within max
    assert b.user_default.features & ~b.user_max.features == 0
    assert b.user_max.features & ~b.kernel_max.features == 0
    assert b.kernel_default.size <= b.kernel_max.size
    assert b.user_default.size <= b.user_max.size
    assert b.guest_default.features & ~b.kernel_max.features == 0
    assert b.kernel_max.features & C.MASK_FPSSE == C.MASK_FPSSE


# ---------------------------------------------------------------- hostile profile text

GOOD = """name: mini
vendor: intel
description: minimal
source: test
flags: [FPU, FXSR, XMM, XSAVE, XSAVEC, AVX, PKU]
xcr0_supported: 0x207
components:
  2: {size: 256, offset: 576}
  9: {size: 8, offset: 832}
"""

HOSTILE = [
    "",
    "\n\n",
    "- a\n- b\n",
    "name: &a [*a]\n",
    "a: &a ['x','x']\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\nd: [*c,*c,*c,*c]\n",  # alias bomb
    "[" * 5000 + "]" * 5000,
    "{" * 100 + "}" * 100,
    "x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60)),
    GOOD.replace("256", "-256"),
    GOOD.replace("256", "99999999999999999999999999999"),
    GOOD.replace("0x207", "0x207\nxcr0_supported: 0x7"),
    GOOD + "components: {}\n",
    GOOD.replace("name: mini", "name: !!python/object/apply:os.system ['true']"),
    GOOD.replace("[FPU", "!!binary aGVsbG8= [FPU"),
    GOOD.replace("offset: 832", "offset: 600"),  # overlap
    GOOD.replace("2: {", "99: {"),
    GOOD.replace("2: {", "two: {"),
    "\t" + GOOD,
    GOOD.replace("intel", "[intel]"),
    GOOD + "reported: {xcr0_size: yes}\n",
]


def _assert_clean_exit(res, allowed=(0, 2)):
    assert res.exit_code in allowed, (res.exit_code, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    if res.exit_code == 2:
        assert res.stderr.strip().startswith(("xstatecalc: error:", "Usage:", "Error:")), res.stderr
        assert len(res.stderr.strip().splitlines()) <= 4


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_profiles_exit_cleanly(run, tmp_path, text):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    _assert_clean_exit(run("sizes", "--cpu", f))


def test_non_utf8_and_binary_profiles(run, tmp_path):
    for data in (b"\xff\xfe\x00garbage", bytes(range(256)), GOOD.encode().replace(b"mini", b"m\xe9ni")):
        f = tmp_path / "p.yaml"
        f.write_bytes(data)
        res = run("sizes", "--cpu", f)
        _assert_clean_exit(res)
        assert res.exit_code == 2


def test_oversized_input_is_refused(run, tmp_path):
    f = tmp_path / "huge.txt"
    with open(f, "wb") as fh:
        fh.truncate(17 * 1024 * 1024)  # sparse: 17 MiB of zero bytes
    for args in (("import", f), ("dmesg", "--check", f), ("verify", f), ("sizes", "--cpu", f)):
        res = run(*args)
        assert res.exit_code == 2 and ("larger than" in res.stderr or "MiB" in res.stderr), res.stderr


@FAST
@given(st.text(max_size=400))
def test_random_text_profiles(text):
    try:
        loads_profile(text, "r.yaml")
    except InputError as e:
        assert str(e).startswith("r.yaml")


@FAST
@given(st.data())
def test_mutated_good_profile(data):
    text = GOOD
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "dup"]))
        if op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "insert":
            text = text[:i] + data.draw(st.sampled_from(list(":-{}[]&*!|>'\"#\n 0x9zZ%@"))) + text[i:]
        else:
            text = text[:i] + text[max(0, i - 10):i] + text[i:]
    try:
        p = loads_profile(text, "m.yaml")
    except InputError as e:
        assert str(e).startswith("m.yaml")
    else:
        for k in MODELS[::4]:
            boot(p, k)


# ---------------------------------------------------------------- hostile CPUID dumps

@FAST
@given(st.sampled_from(sorted(dumpfmt.WRITERS)), st.sampled_from(sorted(REGS)), st.data())
def test_mutated_dumps(fmt, cpu, data):
    text = dumpfmt.WRITERS[fmt]([dumpfmt.registers(REGS[cpu])])
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 6))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "truncate", "flip", "swap"]))
        if op == "drop":
            del lines[i]
        elif op == "truncate":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        elif op == "flip":
            line = lines[i]
            j = data.draw(st.integers(0, max(0, len(line) - 1)))
            lines[i] = line[:j] + data.draw(st.sampled_from(list("0123456789abcdefF-: x"))) + line[j + 1:]
        else:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    try:
        res = I.to_profile(I.parse("\n".join(lines), "d.txt"))
    except InputError as e:
        assert "d.txt" in str(e) or "--name" in str(e)
    else:
        p = loads_profile(res.text, "x.yaml")
        boot(p)


@FAST
@given(st.binary(max_size=300))
def test_binary_garbage_import(run, tmp_path_factory, blob):
    d = tmp_path_factory.mktemp("g")
    f, out = d / "g.bin", d / "out.yaml"
    f.write_bytes(blob)
    res = run("import", f, "-o", out)
    _assert_clean_exit(res)
    if res.exit_code:
        assert not out.exists() and sorted(os.listdir(d)) == ["g.bin"]  # nothing half-written


@FAST
@given(st.text(max_size=600))
def test_random_boot_logs(run, tmp_path_factory, text):
    f = tmp_path_factory.mktemp("l") / "log.txt"
    f.write_text(text)
    _assert_clean_exit(run("dmesg", "--cpu", "zen4", "--check", f), (0, 1, 2))


@FAST
@given(st.text(max_size=300))
def test_random_expectation_files(run, tmp_path_factory, text):
    f = tmp_path_factory.mktemp("e") / "e.yaml"
    f.write_text(text)
    _assert_clean_exit(run("verify", f), (0, 1, 2))


# ---------------------------------------------------------------- the layouts of the InstLatx64 collection

_HEADERS = ["------[ Logical CPU #{n} ]------", "------[ CPUID Registers / Logical CPU #{n} ]------",
            "CPU#{n:03d} AffMask: 0x{m:016X} ", "CPU {n}:", None]


@FAST
@given(st.sampled_from(sorted(REGS)), st.sampled_from(_HEADERS), st.booleans(), st.integers(1, 3), st.data())
def test_aida_layouts(cpu, header, tagged, ncpus, data):
    """Every header style, tags on or off, several CPUs, optionally a pasted line with other values:
    the import ends in a profile whose leaf 0xD is the CPU's, or in one clean error."""
    regs = dumpfmt.registers(REGS[cpu])
    lines = []
    for n in range(ncpus):
        if header:
            lines.append(header.format(n=n, m=1 << n))
        for (leaf, sub), r in regs.items():
            tag = f" [SL {sub:02X}]" if tagged and leaf in (7, 0xD) else ""
            lines.append(f"CPUID {leaf:08X}: {r[0]:08X}-{r[1]:08X}-{r[2]:08X}-{r[3]:08X}{tag}")
    if data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(i, data.draw(st.sampled_from(lines)).replace("0", "1", 1))
    try:
        res = I.to_profile(I.parse("\n".join(lines), "a.txt"))
    except InputError as e:
        assert "a.txt" in str(e)
    else:
        p = loads_profile(res.text, "x.yaml")
        assert p.xcr0_supported & 0x3 == regs[(0xD, 0)][0] & 0x3


# ---------------------------------------------------------------- strings users type

@FAST
@given(st.text(max_size=80) | st.from_regex(r"v?[0-9]{1,3}\.[0-9]{1,3}(\.[0-9y]{1,3})?([-+.][a-z0-9._+-]{0,30})?",
                                          fullmatch=True))
def test_version_strings(text):
    from xstatecalc.errors import KernelVersionError
    from xstatecalc.kernels import model_for

    try:
        m = model_for(text)
    except KernelVersionError as e:
        assert "\n" not in str(e) and len(str(e)) < 400
    else:
        assert m.model and m.label == text.strip()


@FAST
@given(st.text(max_size=60) | st.sampled_from(["nopku", "noxsaves", "clearcpuid=avx512f,xfd", "CONFIG_X86_64=n",
                                                "clearcpuid=304", "amx", "pku"]))
def test_switch_words(word):
    from xstatecalc.options import make_options

    try:
        o = make_options([word])
    except ValueError as e:
        assert len(str(e)) < 2000
    else:
        boot(dumpfmt_profile(), MODELS[-1], o)


def dumpfmt_profile():
    from xstatecalc.profile import resolve

    return resolve("sapphire-rapids")


@FAST
@given(st.text(max_size=200))
def test_yaml_quote_round_trip(text):
    import yaml

    from xstatecalc.yamltext import quote

    back = yaml.safe_load("v: " + quote(text))["v"]
    assert back == "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


@FAST
@given(st.text(max_size=40) | st.integers(-2, 1 << 70))
def test_strict_integers(value):
    from xstatecalc.numbers import parse_int

    try:
        v = parse_int(value, what="n")
    except ValueError:
        pass
    else:
        assert 0 <= v < 1 << 64


@FAST
@given(st.lists(st.sampled_from(["[    0.000000] Linux version 6.6.9 (a@b) #1", "\x1b[1mx86/fpu: Supporting XSAVE "
                                 "feature 0x001: 'x87 floating point registers'\x1b[0m", "-- Boot 0123 --",
                                 "x86/fpu: Enabled xstate features 0x7, context size is 832 bytes, using 'compacted' "
                                 "format.", "x86/fpu: xstate_offset[2]:  576, xstate_sizes[2]:  256", "noise"]),
                max_size=30))
def test_pasted_boot_logs(lines):
    from xstatecalc import dmesg as D

    found = D.boots("\n".join(lines))
    assert [b.index for b in found] == list(range(1, len(found) + 1))
    assert all(b.lines for b in found)


# ---------------------------------------------------------------- core files, XSAVE images, formulas

class _Bytes:
    """inputs.BinarySource's interface over bytes."""

    def __init__(self, data):
        self.data, self.size = data, len(data)

    def read(self, offset, size):
        if offset < 0 or size < 0 or offset + size > self.size:
            raise InputError("past the end")
        return self.data[offset:offset + size]


_REAL_CORE = (DATA / "cores" / "epyc-6.18-avx512.core").read_bytes()


@FAST
@given(st.binary(max_size=4096), st.booleans())
def test_random_bytes_as_core_or_image(data, raw):
    from xstatecalc.profile import all_builtin
    from xstatecalc.xsaveimage import candidates, read_image

    try:
        image = read_image(_Bytes(data), "fuzz", raw=raw or None)
    except InputError:
        return
    candidates(image, all_builtin())


@FAST
@given(st.lists(st.tuples(st.integers(0, len(_REAL_CORE) - 1), st.integers(0, 255)), max_size=12),
       st.integers(0, len(_REAL_CORE)))
def test_mutated_real_core(edits, cut):
    from xstatecalc.profile import all_builtin
    from xstatecalc.xsaveimage import candidates, read_image

    data = bytearray(_REAL_CORE[:cut])
    for at, value in edits:
        if at < len(data):
            data[at] = value
    try:
        image = read_image(_Bytes(bytes(data)), "fuzz")
    except InputError:
        return
    candidates(image, all_builtin())


@FAST
@given(st.text(alphabet="0123456789+-*(), maxAT_SIGZEKBXPGnoruli", max_size=60))
def test_formula_parser_never_crashes(text):
    from xstatecalc.formula import Formula, FormulaError

    try:
        f = Formula(text)
    except FormulaError:
        return
    f.evaluate({name: 7 for name in f.names})


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=20)


@FAST
@given(_JSON)
def test_json_writer_is_byte_for_byte_json_dumps(obj):
    # render writes small outputs without importing json (start-up); it must be what json.dumps writes.
    import json

    from xstatecalc.render import _json

    assert _json(obj) == json.dumps(obj, indent=2) + "\n"


# ---------------------------------------------------------------- which: numbers and signal frames


@FAST
@given(st.text(max_size=40), st.booleans())
def test_which_takes_any_text(run, text, as_frame):
    res = run("which", *(["--frame", text] if as_frame else [text]), "--cpu", "spr", "--kernel", "6.8",
              "--format", "json")
    assert res.exit_code in (0, 1, 2) and "Traceback" not in res.stderr
    if res.exit_code == 2:
        assert len(res.stderr.strip().splitlines()) == 1


_U32 = st.integers(0, (1 << 32) - 1)


@FAST
@given(st.fixed_dictionaries({}, optional={"magic1": st.sampled_from([0x46505853, 0]) | _U32,
                                           "extended_size": _U32, "xstate_size": _U32,
                                           "xfeatures": st.integers(0, (1 << 64) - 1), "magic2": _U32}))
def test_any_frame_fields(fields):
    from xstatecalc.options import Options
    from xstatecalc.profile import resolve
    from xstatecalc.which import default_kernels, explain_frame, make_space

    space = make_space([resolve("spr"), resolve("zen4")], default_kernels(), [], Options())
    answer = explain_frame(space, fields)
    assert answer.consistent == all(c.ok for c in answer.checks)
    # A frame some kernel writes follows every rule that does not depend on the copy (magic2 is judged alone).
    if answer.producers and "magic2" not in fields:
        assert answer.consistent, answer.checks
