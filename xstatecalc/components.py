"""The XSAVE state-component catalogue: numbers, names and the kernel's masks.

Names follow ``enum xfeature`` in arch/x86/include/asm/fpu/types.h; the printed
names are the kernel's ``xfeature_names[]`` (including its two famous typos).
"""

from __future__ import annotations

from .records import record

# Legacy area (FXSAVE image, 512 bytes) plus the 64-byte XSAVE header: the
# first extended component of either format starts here (sizeof(struct xregs_state)).
XSAVE_HDR_END = 576
FXSAVE_SIZE = 512
FSAVE_SIZE = 112  # sizeof(struct fregs_state)

FP, SSE, YMM, BNDREGS, BNDCSR, OPMASK, ZMM_HI256, HI16_ZMM = range(8)
PT, PKRU, PASID, CET_USER, CET_KERNEL = 8, 9, 10, 11, 12
HDC, UINTR, LBR, HWP = 13, 14, 15, 16
XTILE_CFG, XTILE_DATA, APX = 17, 18, 19
LWP = 62


def bit(n: int) -> int:
    return 1 << n


def mask_of(*nums: int) -> int:
    m = 0
    for n in nums:
        m |= 1 << n
    return m


def bits(mask: int):
    """Component numbers set in *mask*, ascending. At most 64 steps: a mask is a u64."""
    if not 0 <= mask < 1 << 64:
        raise ValueError(f"mask {mask:#x} is not a 64-bit XSAVE feature mask" if mask >= 0 else
                         f"mask {mask} is negative; XSAVE feature masks are unsigned 64-bit")
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


MASK_FPSSE = mask_of(FP, SSE)
MASK_MPX = mask_of(BNDREGS, BNDCSR)
MASK_AVX512 = mask_of(OPMASK, ZMM_HI256, HI16_ZMM)
MASK_XTILE = mask_of(XTILE_CFG, XTILE_DATA)


@record
class ComponentInfo:
    """What the kernel knows about one state component number."""

    nr: int
    key: str  # short name used on the command line and in profiles
    enum: str  # the kernel's enum xfeature name
    title: str  # a human description
    # C structure size checked by check_xstate_against_struct(); None = no struct
    struct_size: int | None = None
    supervisor: bool = False  # architecturally an IA32_XSS component


CATALOGUE: dict[int, ComponentInfo] = {
    c.nr: c
    for c in (
        ComponentInfo(FP, "x87", "XFEATURE_FP", "x87 FPU state (legacy area)"),
        ComponentInfo(SSE, "sse", "XFEATURE_SSE", "SSE state: XMM0-15, MXCSR (legacy area)"),
        ComponentInfo(YMM, "avx", "XFEATURE_YMM", "AVX: upper halves of YMM0-15", 256),
        ComponentInfo(BNDREGS, "bndregs", "XFEATURE_BNDREGS", "MPX bound registers", 64),
        ComponentInfo(BNDCSR, "bndcsr", "XFEATURE_BNDCSR", "MPX BNDCFGU/BNDSTATUS", 64),
        ComponentInfo(OPMASK, "opmask", "XFEATURE_OPMASK", "AVX-512 opmask k0-7", 64),
        ComponentInfo(ZMM_HI256, "zmm_hi256", "XFEATURE_ZMM_Hi256", "AVX-512 upper halves of ZMM0-15", 512),
        ComponentInfo(HI16_ZMM, "hi16_zmm", "XFEATURE_Hi16_ZMM", "AVX-512 ZMM16-31", 1024),
        ComponentInfo(PT, "pt", "XFEATURE_PT_UNIMPLEMENTED_SO_FAR", "Processor Trace", None, True),
        ComponentInfo(PKRU, "pkru", "XFEATURE_PKRU", "Protection keys (PKRU)", 8),
        ComponentInfo(PASID, "pasid", "XFEATURE_PASID", "ENQCMD PASID MSR", 8, True),
        ComponentInfo(CET_USER, "cet_u", "XFEATURE_CET_USER", "CET user state (shadow stack)", 16, True),
        ComponentInfo(CET_KERNEL, "cet_s", "XFEATURE_CET_KERNEL", "CET supervisor state", 24, True),
        ComponentInfo(HDC, "hdc", "XFEATURE_RSRVD_COMP_13", "Hardware Duty Cycling", None, True),
        ComponentInfo(UINTR, "uintr", "XFEATURE_RSRVD_COMP_14", "User interrupts", None, True),
        ComponentInfo(LBR, "lbr", "XFEATURE_LBR", "Architectural LBR", None, True),
        ComponentInfo(HWP, "hwp", "XFEATURE_RSRVD_COMP_16", "Hardware P-states", None, True),
        ComponentInfo(XTILE_CFG, "xtile_cfg", "XFEATURE_XTILE_CFG", "AMX tile configuration", 64),
        ComponentInfo(XTILE_DATA, "xtile_data", "XFEATURE_XTILE_DATA", "AMX tile data TMM0-7", 8192),
        ComponentInfo(APX, "apx", "XFEATURE_APX", "APX extended GPRs R16-R31", 128),
        ComponentInfo(LWP, "lwp", "", "AMD Lightweight Profiling (family 15h); never in Linux's enum"),
    )
}

# Friendly names accepted wherever a feature is named (--features, --enable).
GROUP_ALIASES: dict[str, int] = {
    "fp": mask_of(FP),
    "mpx": MASK_MPX,
    "avx512": MASK_AVX512,
    "avx-512": MASK_AVX512,
    "amx": MASK_XTILE,
    "xtile": MASK_XTILE,
    "cet": mask_of(CET_USER, CET_KERNEL),
    "xmm": mask_of(SSE),
    "ymm": mask_of(YMM),
}

_BY_KEY = {c.key: c.nr for c in CATALOGUE.values()}
_BY_KEY.update({c.enum.lower().removeprefix("xfeature_"): c.nr for c in CATALOGUE.values() if c.enum})


def key(nr: int) -> str:
    """Short name of component *nr* ("comp31" for unknown numbers)."""
    c = CATALOGUE.get(nr)
    return c.key if c else f"comp{nr}"


def names(mask: int) -> list[str]:
    return [key(n) for n in bits(mask)]


def xsetbv_violations(mask: int) -> list[str]:
    """XSETBV's #GP conditions for an XCR0 value (SDM vol. 1 13.3)."""
    bad = []
    if not mask & bit(FP):
        bad.append("XCR0[0] (x87) must be 1")
    if mask & bit(YMM) and not mask & bit(SSE):
        bad.append("AVX (bit 2) needs SSE (bit 1)")
    if bool(mask & bit(BNDREGS)) != bool(mask & bit(BNDCSR)):
        bad.append("MPX bits 3 and 4 must be both set or both clear")
    avx512 = mask & MASK_AVX512
    if avx512 and avx512 != MASK_AVX512:
        bad.append("AVX-512 bits 5, 6 and 7 must be all set or all clear")
    if avx512 and not mask & bit(YMM):
        bad.append("AVX-512 needs AVX (bit 2)")
    if bool(mask & bit(XTILE_CFG)) != bool(mask & bit(XTILE_DATA)):
        bad.append("AMX bits 17 and 18 must be both set or both clear")
    return bad


def feature_words() -> list[str]:
    """Every word parse_feature() takes besides numbers: keys, enum names, groups (for shell completion)."""
    return sorted(set(GROUP_ALIASES) | set(_BY_KEY))


def parse_feature(word: str) -> int:
    """Mask for one feature word: a key, an enum name, a group or a number."""
    w = word.strip().lower()
    if w in GROUP_ALIASES:
        return GROUP_ALIASES[w]
    if w in _BY_KEY:
        return bit(_BY_KEY[w])
    from .numbers import looks_numeric, parse_int

    if not looks_numeric(w):
        raise ValueError(f"unknown XSAVE feature {word.strip()[:40]!r}")
    n = parse_int(w, what="XSAVE component number")
    if not 0 <= n < 64:
        raise ValueError(f"XSAVE component number {n} is outside 0..63")
    return bit(n)


def parse_features(words) -> int:
    m = 0
    for word in words:
        for part in str(word).split(","):
            if part.strip():
                m |= parse_feature(part)
    return m

