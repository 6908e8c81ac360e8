"""QEMU's x86 CPU models and how each release builds a guest's CPUID leaf 0xD, as data.

Read for this project (November 2026) in target/i386/cpu.c (builtin_x86_defs, x86_ext_save_areas,
x86_cpu_enable_xsave_components, cpu_x86_cpuid case 0xD), kvm/kvm.c and kvm/kvm-cpu.c of each release:
6.2, 7.2 and 10.2 in their own trees; 8.2, 9.2, 10.0 and 10.1 reconstructed from the nearest trees and the
dated merges between them; 11.0 and 11.1 from the 11.0 pull request mails and Debian's 11.1.3 binary (models
over QMP). Each :class:`QemuRelease` names its evidence and status; the logic that uses these facts is in
:mod:`xstatecalc.vcpu`.

Models are listed once: their base definitions never change between releases (checked across every
release read); only versions are added. Versions are cumulative: ``Name-vN`` is the base plus the props of v1
to vN in order (x86_cpu_apply_version_props()), and an unversioned ``-cpu Name`` is v1 on every pc/q35
machine type of these releases (``pcmc->default_cpu_version = 1``). Only XSAVE-relevant features are kept.
"""

from __future__ import annotations

from .. import components as C
from ..records import record

M = C.mask_of

# QEMU feature name -> the Linux X86_FEATURE flag (profile flag) it is. avx10 has no component of its own
# (it enables opmask/ZMM like avx512f, 9.2+) and is not a profile flag.
FEATURE_FLAGS = {"xsave": "XSAVE", "avx": "AVX", "mpx": "MPX", "avx512f": "AVX512F", "pku": "PKU",
                 "amx-tile": "AMX_TILE", "cet-ss": "SHSTK", "cet-ibt": "IBT", "arch-lbr": "ARCH_LBR",
                 "apxf": "APX", "xsaveopt": "XSAVEOPT", "xsavec": "XSAVEC", "xgetbv1": "XGETBV1",
                 "xsaves": "XSAVES", "xfd": "XFD", "avx10": None}
SUBLEAF1_FEATURES = ("xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd")  # CPUID(0xD,1).EAX bits 0-4

# Each component's size in QEMU's x86_ext_save_areas (the architectural sizes; cpu.h QEMU_BUILD_BUG_ON).
SAVE_AREA_SIZES = {C.YMM: 256, C.BNDREGS: 64, C.BNDCSR: 64, C.OPMASK: 64, C.ZMM_HI256: 512, C.HI16_ZMM: 1024,
                   C.PKRU: 8, C.CET_USER: 16, C.CET_KERNEL: 24, C.LBR: 808, C.XTILE_CFG: 64, C.XTILE_DATA: 8192,
                   C.APX: 128}

# QEMU's fixed standard offsets, used under TCG (tcg/tcg-cpu.c): the Intel layout, MPX slots included.
TCG_OFFSETS = {C.YMM: 576, C.BNDREGS: 960, C.BNDCSR: 1024, C.OPMASK: 1088, C.ZMM_HI256: 1152, C.HI16_ZMM: 1664,
               C.PKRU: 2688}

_BASE_AREAS = {C.FP: ("xsave",), C.SSE: ("xsave",), C.YMM: ("avx",), C.BNDREGS: ("mpx",), C.BNDCSR: ("mpx",), C.OPMASK: ("avx512f",),
               C.ZMM_HI256: ("avx512f",), C.HI16_ZMM: ("avx512f",), C.PKRU: ("pku",)}
_AMX_AREAS = {**_BASE_AREAS, C.LBR: ("arch-lbr",), C.XTILE_CFG: ("amx-tile",), C.XTILE_DATA: ("amx-tile",)}
_AVX10_AREAS = {**_AMX_AREAS, C.OPMASK: ("avx512f", "avx10"), C.ZMM_HI256: ("avx512f", "avx10"),
                C.HI16_ZMM: ("avx512f", "avx10")}
_CET_AREAS = {**_AVX10_AREAS, C.CET_USER: ("cet-ss", "cet-ibt"), C.CET_KERNEL: ("cet-ss", "cet-ibt"),
              C.APX: ("apxf",)}
_TCG_FEATURES = frozenset({"xsave", "avx", "mpx", "pku", "xsaveopt", "xgetbv1"})


@record
class QemuRelease:
    """One QEMU release: how it turns a model's features into the guest's leaf 0xD."""

    release: str
    tag: str  # the tree (or binary) read
    status: str  # source | reconstructed | inferred
    evidence: str
    save_areas: dict  # component -> QEMU features, any of which enables it (x86_ext_save_areas)
    xcr0_mask: int | None  # CPUID_XSTATE_XCR0_MASK; None: one component word, no XCR0/XSS split (6.2)
    xss_mask: int
    subleaf1: str  # "zero": [FEAT_XSAVE, 0, 0, 0] (6.2); "table": EBX = xsave_area_size(XCR0|XSS, true), XSS in ECX/EDX
    subleaves: str  # "in-mask-no-ecx" (6.2) | "in-mask" (7.2-10.2) | "every-sized" (11.x)
    init_zeroes: str  # sizes zeroed at init for components the accelerator lacks: "" | "xcr0" | "xcr0|xss"
    supervisor_needs_xsaves: bool  # XSS components only for models with xsaves (11.x)
    mpx_apx_exclusive: bool  # a model with mpx and apxf loses both (11.x)
    requests_guest_perm: bool  # ARCH_REQ_XCOMP_GUEST_PERM for AMX (7.0+)
    tcg_features: frozenset
    tcg_xcr0: int | None  # TCG's XCR0 word filter; None: not filtered (the model's bits survive)
    tcg_described: tuple  # sub-leaves QEMU describes under TCG with "every-sized" (observed, 11.1.3)
    facts: dict  # the rule -> where it was read


def _r(release, tag, status, evidence, areas, xcr0_mask, xss_mask, *, subleaf1="table", subleaves="in-mask",
       init_zeroes="", cet=False, perm=True, tcg=_TCG_FEATURES, tcg_xcr0=None, facts=()) -> QemuRelease:
    return QemuRelease(release, tag, status, evidence, areas, xcr0_mask, xss_mask, subleaf1, subleaves, init_zeroes,
                       cet, cet, perm, tcg, tcg_xcr0, tuple(TCG_OFFSETS) if subleaves == "every-sized" else (),
                       dict(facts))


_COMMON = (("subleaf0_ebx", "EBX = ECX under KVM (the CentOS 6 workaround); KVM rewrites EBX at run time from the "
                            "guest's XCR0"),
           ("xsave_area_size", "the compacted size ignores the 64-byte alignment bit (KVM rewrites 0xD.1 EBX when "
                               "the guest has XSAVES or XSAVEC)"),
           ("enable_before_filter", "x86_cpu_enable_xsave_components() runs in x86_cpu_expand_features(), after "
                                    "+feat/-feat and before x86_cpu_filter_features(): the mask is never re-derived"),
           ("filter", "features the accelerator lacks are dropped with a warning (check=on); only enforce=on fails"),
           ("eax0_subleaves", "sub-leaves whose EAX is 0 are not handed to KVM: the guest reads 0"))

RELEASES = (
    _r("6.2", "v6.2.0 (wulmx/qemu-6.2 import)", "source",
       "target/i386/cpu.c x86_ext_save_areas :1372, xsave_area_size :1406, case 0xD :5462-5493, enable :5995-6017; "
       "kvm/kvm-cpu.c kvm_cpu_xsave_init :84-110; kvm/kvm.c :1730",
       _BASE_AREAS, None, 0, subleaf1="zero", subleaves="in-mask-no-ecx",
       perm=False, tcg=_TCG_FEATURES - {"avx"},
       facts=_COMMON + (("component_word", "one FEAT_XSAVE_COMP word (no XCR0/XSS split), offsets from "
                                           "KVM_GET_SUPPORTED_CPUID(0xD,i).EBX; sub-leaves >= 2 carry ECX 0"),)),
    _r("7.2", "v7.2.0 (Debian 1:7.2+dfsg orig)", "source",
       "cpu.c xsave_area_size :1470-1485, case 0xD :5500-5540, enable :6107-6138 (called :6236, filter :6458); "
       "kvm-cpu.c :84-116 (host_cpuid for components whose feature KVM supports); kvm.c :5625-5657 "
       "(kvm_request_xsave_components, since 7.0: 19db68ca68)",
       _AMX_AREAS, 0x602FF, 0x8000, facts=_COMMON),
    _r("8.2", "v8.2.0 reconstructed from 8.2.2 (yikesoftware/qemu-8.2.2-cet, its CET hack removed)", "reconstructed",
       "cpu.c enable :6920-6951 (called :7049, filter :7282), case 0xD :6292-6346; kvm-cpu.c :85-117; "
       "kvm.c :5618-5650; line numbers agree with the reference's 8.2.0",
       _AMX_AREAS, 0x602FF, 0x8000, facts=_COMMON),
    _r("9.2", "v9.2.0 reconstructed from 9.2.4 (zhouyuming/qemu-9.2.4) and the 9.2.1-9.2.4 stable round-ups",
       "reconstructed",
       "cpu.c x86_cpu_post_initfn :8147-8170 zeroes sizes of components the accelerator lacks (TCG: 0x21F), "
       "cpuid_has_xsave_feature :7174-7189 (avx10 enables 5-7); kvm-cpu.c :125-153 (host_cpuid for every sized "
       "component)",
       _AVX10_AREAS, 0x602FF, 0x8000, init_zeroes="xcr0", tcg_xcr0=0x21F, facts=_COMMON),
    _r("10.0", "v10.0.0 reconstructed from Debian 1:10.0.13+ds (10.0.2 cross-checked), without 10.0.1's YongFeng-v2",
       "reconstructed", "cpu.c x86_cpu_post_initfn :8520-8543, enable :7718-7751, filter :7962; kvm-cpu.c :135-163",
       _AVX10_AREAS, 0x602FF, 0x8000, init_zeroes="xcr0", tcg_xcr0=0x21F, facts=_COMMON),
    _r("10.1", "v10.1.0 reconstructed from 10.0.13 and 10.2.0 with the dated 10.1 merges (PULLs of 2025-05-30, "
               "2025-07-14, 2025-07-17)", "reconstructed",
       "x86_cpu_init_xsave() from x86_cpu_initfn as in 10.2 (PULL 2025-07-17); models: EPYC-v5, EPYC-Rome-v5, "
       "EPYC-Milan-v3, EPYC-Genoa-v2, EPYC-Turin, SapphireRapids-v4, GraniteRapids-v3, SierraForest-v3",
       _AVX10_AREAS, 0x602FF, 0x8000, init_zeroes="xcr0", tcg_xcr0=0x21F, facts=_COMMON),
    _r("10.2", "v10.2.0 (pderwin/qemu-10.2.0 import) and Debian 1:10.2.2+ds orig", "source",
       "cpu.c xsave_area_size :2066-2081, case 0xD :8111-8166, enable :8859-8892 via cpuid_has_xsave_feature "
       ":8600-8615, x86_cpu_init_xsave :9675-9695; kvm-cpu.c :136-164; kvm.c KVM_X86_XCOMP_GUEST_SUPP :519-543, "
       "kvm_request_xsave_components :6469-6500",
       _AVX10_AREAS, 0x602FF, 0x8000, init_zeroes="xcr0", tcg_xcr0=0x21F, facts=_COMMON),
    _r("11.0", "v11.0.0 (no tree read): 10.2 plus '[PULL 000/153]' of 2025-12-27", "reconstructed",
       "e46dcef1d0 CET_U/CET_S XSS components (cet-ss or cet-ibt); 95a945c61d x86_cpu_init_xsave tests XCR0|XSS; "
       "d88caf0954 sub-leaves >= 2 for every sized component, unmasked ECX; PULL 079 supervisor components need "
       "xsaves; PULL 095 APX (apxf) as component 19, a model with mpx and apxf loses both; 5cb89cad7f CET versions",
       _CET_AREAS, 0xE02FF, 0x9800, subleaves="every-sized", init_zeroes="xcr0|xss", cet=True, tcg_xcr0=0x21F,
       facts=_COMMON),
    _r("11.1", "Debian qemu-system-x86 1:11.1.3+ds-1 binary (models over QMP); code as 11.0", "reconstructed",
       "query-cpu-definitions and query-cpu-model-expansion of every versioned model on the 11.1.3 binary; the "
       "leaf 0xD code is 11.0's (no 11.1 source reachable); TCG sub-leaves observed with that binary",
       _CET_AREAS, 0xE02FF, 0x9800, subleaves="every-sized", init_zeroes="xcr0|xss", cet=True, tcg_xcr0=0x21F,
       facts=_COMMON),
)


@record
class Version:
    first: str  # the first release modelled that has it
    last: str | None  # the last one (None: still there)
    set: dict  # XSAVE-relevant props: feature -> "on" | "off" (or a value)
    alias: str | None
    status: str  # "" or "inferred" (the version's existence in its first release is inferred)


@record
class Model:
    name: str
    vendor: str
    features: frozenset  # the base definition, XSAVE-relevant features only
    first: str
    last: str | None
    versions: dict  # number -> Version
    extra: dict


def _v(first, last=None, set=None, alias=None, status=""):  # noqa: A002 - the QEMU word
    return Version(first, last, dict(set or {}), alias, status)


def _m(name, vendor, features, first, last, versions, **extra):
    return name, Model(name, vendor, frozenset(features.split()), first, last, versions, extra)


MODELS = dict([
    _m('486', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('athlon', 'amd', '', '6.2', None, {1: _v('6.2')}),
    _m('Broadwell', 'intel', 'xsave avx xsaveopt', '6.2', None, {1: _v('6.2'), 2: _v('6.2', alias='Broadwell-noTSX'),
       3: _v('6.2', alias='Broadwell-IBRS'), 4: _v('6.2', alias='Broadwell-noTSX-IBRS')}),
    _m('Cascadelake-Server', 'intel', 'xsave avx avx512f pku xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'),
       2: _v('6.2'), 3: _v('6.2', alias='Cascadelake-Server-noTSX'), 4: _v('6.2'), 5: _v('6.2', set={'xsaves': 'on'}),
       6: _v('11.1'), 7: _v('11.1')}),
    _m('ClearwaterForest', 'intel', 'xsave avx pku xsaveopt xsavec xgetbv1 xsaves', '10.0', None, {1: _v('10.0'),
       2: _v('11.0', set={'cet-ss': 'on', 'cet-ibt': 'on'}), 3: _v('11.0', status='inferred'), 4: _v('11.1')}),
    _m('Conroe', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('Cooperlake', 'intel', 'xsave avx avx512f pku xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'), 2: _v('6.2',
       set={'xsaves': 'on'})}),
    _m('core2duo', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('coreduo', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('Denverton', 'intel', 'xsave mpx xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'), 2: _v('6.2',
       set={'mpx': 'off'}), 3: _v('6.2', set={'xsaves': 'on'})}),
    _m('Dhyana', 'hygon', 'xsave avx xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'), 2: _v('6.2',
       set={'xsaves': 'on'})}),
    _m('DiamondRapids', 'intel',
       'xsave avx avx512f pku cet-ss cet-ibt amx-tile avx10 apxf xsaveopt xsavec xgetbv1 xsaves xfd', '11.0', None,
       {1: _v('11.0'), 2: _v('11.1')}, avx10_version=2),
    _m('EPYC', 'amd', 'xsave avx xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'), 2: _v('6.2', alias='EPYC-IBPB'),
       3: _v('6.2', set={'xsaves': 'on'}), 4: _v('8.2'), 5: _v('10.1')}),
    _m('EPYC-Genoa', 'amd', 'xsave avx avx512f pku xsaveopt xsavec xgetbv1 xsaves', '8.2', None, {1: _v('8.2'),
       2: _v('10.1'), 3: _v('11.1')}),
    _m('EPYC-Milan', 'amd', 'xsave avx pku xsaveopt xsavec xgetbv1 xsaves', '6.2', None, {1: _v('6.2'), 2: _v('8.2'),
       3: _v('10.1'), 4: _v('11.1')}),
    _m('EPYC-Rome', 'amd', 'xsave avx xsaveopt xsavec xgetbv1 xsaves', '6.2', None, {1: _v('6.2'), 2: _v('6.2'),
       3: _v('8.2'), 4: _v('8.2', set={'xsaves': 'off'}), 5: _v('10.1')}),
    _m('EPYC-Turin', 'amd', 'xsave avx avx512f pku xsaveopt xsavec xgetbv1 xsaves', '10.1', None, {1: _v('10.1'),
       2: _v('11.1')}),
    _m('GraniteRapids', 'intel', 'xsave avx avx512f pku amx-tile xsaveopt xsavec xgetbv1 xsaves xfd', '8.2', None,
       {1: _v('8.2'), 2: _v('9.2', set={'avx10': 'on', 'avx10-version': '1'}), 3: _v('10.1'), 4: _v('11.0',
       set={'cet-ss': 'on', 'cet-ibt': 'on'}), 5: _v('11.0', status='inferred'), 6: _v('11.1'), 7: _v('11.1')}),
    _m('Haswell', 'intel', 'xsave avx xsaveopt', '6.2', None, {1: _v('6.2'), 2: _v('6.2', alias='Haswell-noTSX'),
       3: _v('6.2', alias='Haswell-IBRS'), 4: _v('6.2', alias='Haswell-noTSX-IBRS')}),
    _m('Icelake-Client', 'intel', 'xsave avx pku xsaveopt xsavec xgetbv1', '6.2', '6.2', {1: _v('6.2', last='6.2'),
       2: _v('6.2', last='6.2', alias='Icelake-Client-noTSX'), 3: _v('6.2', last='6.2', set={'xsaves': 'on'})}),
    _m('Icelake-Server', 'intel', 'xsave avx avx512f pku xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'),
       2: _v('6.2', alias='Icelake-Server-noTSX'), 3: _v('6.2'), 4: _v('6.2'), 5: _v('6.2', set={'xsaves': 'on'}),
       6: _v('7.2'), 7: _v('9.2'), 8: _v('11.1'), 9: _v('11.1')}),
    _m('IvyBridge', 'intel', 'xsave avx xsaveopt', '6.2', None, {1: _v('6.2'), 2: _v('6.2', alias='IvyBridge-IBRS')}),
    _m('KnightsMill', 'intel', 'xsave avx avx512f xsaveopt', '6.2', None, {1: _v('6.2')}),
    _m('kvm32', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('kvm64', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('n270', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('Nehalem', 'intel', '', '6.2', None, {1: _v('6.2'), 2: _v('6.2', alias='Nehalem-IBRS')}),
    _m('Opteron_G1', 'amd', '', '6.2', None, {1: _v('6.2')}),
    _m('Opteron_G2', 'amd', '', '6.2', None, {1: _v('6.2')}),
    _m('Opteron_G3', 'amd', '', '6.2', None, {1: _v('6.2')}),
    _m('Opteron_G4', 'amd', 'xsave avx', '6.2', None, {1: _v('6.2')}),
    _m('Opteron_G5', 'amd', 'xsave avx', '6.2', None, {1: _v('6.2')}),
    _m('Penryn', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('pentium', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('pentium2', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('pentium3', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('phenom', 'amd', '', '6.2', None, {1: _v('6.2')}),
    _m('qemu32', 'intel', '', '6.2', None, {1: _v('6.2')}),
    _m('qemu64', 'amd', '', '6.2', None, {1: _v('6.2')}),
    _m('SandyBridge', 'intel', 'xsave avx xsaveopt', '6.2', None, {1: _v('6.2'), 2: _v('6.2',
       alias='SandyBridge-IBRS')}),
    _m('SapphireRapids', 'intel', 'xsave avx avx512f pku amx-tile xsaveopt xsavec xgetbv1 xsaves xfd', '8.2', None,
       {1: _v('8.2'), 2: _v('8.2'), 3: _v('9.2'), 4: _v('10.1'), 5: _v('11.0', set={'cet-ss': 'on', 'cet-ibt': 'on'}),
       6: _v('11.0', status='inferred'), 7: _v('11.1'), 8: _v('11.1')}),
    _m('SierraForest', 'intel', 'xsave avx pku xsaveopt xsavec xgetbv1 xsaves', '9.2', None, {1: _v('9.2'),
       2: _v('10.0'), 3: _v('10.1'), 4: _v('11.0', set={'cet-ss': 'on', 'cet-ibt': 'on'}), 5: _v('11.0',
       status='inferred'), 6: _v('11.1')}),
    _m('Skylake-Client', 'intel', 'xsave avx xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'), 2: _v('6.2',
       alias='Skylake-Client-IBRS'), 3: _v('6.2', alias='Skylake-Client-noTSX-IBRS'), 4: _v('6.2',
       set={'xsaves': 'on'})}),
    _m('Skylake-Server', 'intel', 'xsave avx avx512f pku xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'),
       2: _v('6.2', alias='Skylake-Server-IBRS'), 3: _v('6.2', alias='Skylake-Server-noTSX-IBRS'), 4: _v('6.2'),
       5: _v('6.2', set={'xsaves': 'on'}), 6: _v('11.1')}),
    _m('Snowridge', 'intel', 'xsave mpx xsaveopt xsavec xgetbv1', '6.2', None, {1: _v('6.2'), 2: _v('6.2',
       set={'mpx': 'off'}), 3: _v('6.2', set={'xsaves': 'on'}), 4: _v('6.2')}),
    _m('Westmere', 'intel', '', '6.2', None, {1: _v('6.2'), 2: _v('6.2', alias='Westmere-IBRS')}),
    _m('YongFeng', 'zhaoxin', 'xsave avx pku xsaveopt', '10.0', None, {1: _v('10.0'), 2: _v('10.1'), 3: _v('10.1')}),
])
