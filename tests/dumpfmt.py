"""Test helper: write the registers of tests/data/cpuid_regs.yaml in each dump format xstatecalc imports.

The layouts follow each tool's documented output; the values are the real CPUs' registers.
"""

VENDOR_REGS = {  # leaf 0 EBX, EDX, ECX spell the vendor
    "GenuineIntel": (0x756E6547, 0x49656E69, 0x6C65746E),
    "AuthenticAMD": (0x68747541, 0x69746E65, 0x444D4163),
    "HygonGenuine": (0x6F677948, 0x6E65476E, 0x656E6975),
}
LEAF1_EDX = 0x03000001  # FPU | FXSR | SSE: not in the dumps, present on every x86-64 CPU


def _brand_regs(brand):
    raw = brand.encode("latin-1")[:47].ljust(48, b"\0")
    words = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 48, 4)]
    return {0x80000002 + i: tuple(words[4 * i:4 * i + 4]) for i in range(3)}


def registers(cpu):
    """{(leaf, subleaf): (eax, ebx, ecx, edx)} for one CPU of cpuid_regs.yaml."""
    b, d, c = VENDOR_REGS[cpu["vendor"]]
    out = {(0, 0): (0xD if not cpu["leaf7_0"] else 0x20, b, c, d),
           (1, 0): (int(cpu["leaf1_eax"], 16), 0, int(cpu["leaf1_ecx"], 16), LEAF1_EDX)}
    if cpu["leaf7_0"]:
        out[(7, 0)] = tuple(int(x, 16) for x in cpu["leaf7_0"])
    if cpu["leaf7_1"]:
        out[(7, 1)] = tuple(int(x, 16) for x in cpu["leaf7_1"])
    for sub, text in cpu["leaf_0xd"].items():
        out[(0xD, int(sub))] = tuple(int(x, 16) for x in text.split())
    out[(0x80000000, 0)] = (0x80000008, 0, 0, 0)
    for leaf, regs in _brand_regs(cpu["brand"]).items():
        out[(leaf, 0)] = regs
    return dict(sorted(out.items()))


def cpuid_r(regs_by_cpu):
    lines = []
    for n, regs in enumerate(regs_by_cpu):
        lines.append(f"CPU {n}:")
        for (leaf, sub), (a, b, c, d) in regs.items():
            lines.append(f"   0x{leaf:08x} 0x{sub:02x}: eax=0x{a:08x} ebx=0x{b:08x} ecx=0x{c:08x} edx=0x{d:08x}")
    return "\n".join(lines) + "\n"


def aida64(regs_by_cpu):
    lines = []
    for n, regs in enumerate(regs_by_cpu):
        lines += [f"------[ CPUID Registers / Logical CPU #{n} ]------", "",
                  f"allcpu: Package 0 / Core {n} / Thread 0: Valid", ""]
        multi = {leaf for (leaf, sub) in regs if sub}
        for (leaf, sub), (a, b, c, d) in regs.items():
            sl = f" [SL {sub:02X}]" if leaf in multi or leaf in (4, 7, 0xB, 0xD) else ""
            lines.append(f"CPUID {leaf:08X}: {a:08X}-{b:08X}-{c:08X}-{d:08X}{sl}")
        lines.append("")
    return "\n".join(lines)


def kernel(regs_by_cpu):
    regs = regs_by_cpu[0]
    lines = ["[    0.000000] XSAVE consistency problem: size 880 != kernel_size 840",
             "[    0.000000] WARNING: CPU: 0 PID: 0 at arch/x86/kernel/fpu/xstate.c:638 paranoid_xstate_size_valid"]
    for sub in range(0, 30):
        a, b, c, d = regs.get((0xD, sub), (0, 0, 0, 0))
        lines.append(f"[    0.000000] CPUID[0d, {sub:02x}]: eax={a:08x} ebx={b:08x} ecx={c:08x} edx={d:08x}")
    return "\n".join(lines) + "\n"


def sde(regs_by_cpu):
    lines = ["# cpuid.def written for a test", "# input => output", "#  eax      ecx   =>  eax      ebx      ecx      edx"]
    for (leaf, sub), (a, b, c, d) in regs_by_cpu[0].items():
        lines.append(f"{leaf:08x} {sub:08x} => {a:08x} {b:08x} {c:08x} {d:08x}")
    return "\n".join(lines) + "\n"


WRITERS = {"cpuid-r": cpuid_r, "aida64": aida64, "kernel": kernel, "sde": sde}
