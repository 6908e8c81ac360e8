"""`vcpu` held against a real QEMU: a tiny guest (tests/native/xsguest.S) prints CPUID leaf 0xD under TCG.

Skips, with the reason, when qemu-system-x86_64, GNU as/ld with i386 support or QEMU's qboot firmware is
missing, or when the installed QEMU is a release xstatecalc does not model. Each boot takes about 0.1 s.
"""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from xstatecalc.vcpu import leaf_0xd, resolve_vcpu

NATIVE = Path(__file__).parent / "native"
LINE = re.compile(r"^(boot|xcr0) 0x([0-9a-f]+)\.([0-9a-f]+) eax=(\w{8}) ebx=(\w{8}) ecx=(\w{8}) edx=(\w{8})$")
MODELS = ["max", "qemu64", "Haswell-v1", "Skylake-Server-v1", "EPYC-Milan-v1", "Skylake-Server,+xsaves"]


@pytest.fixture(scope="module")
def qemu():
    exe = shutil.which("qemu-system-x86_64")
    if exe is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"version (\d+)\.(\d+)", out)
    if not m:
        pytest.skip(f"cannot read QEMU's version from {out[:80]!r}")
    from xstatecalc.vmm.qemu import RELEASES

    release = f"{m.group(1)}.{m.group(2)}"
    if release not in {r.release for r in RELEASES}:
        pytest.skip(f"QEMU {release} is installed; xstatecalc models {', '.join(r.release for r in RELEASES)}")
    return exe, release


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    for tool in ("as", "ld"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (GNU binutils) is not installed")
    out = tmp_path_factory.mktemp("xsguest")
    obj, elf = out / "xsguest.o", out / "xsguest.elf"
    for argv in (["as", "--32", "-o", str(obj), str(NATIVE / "xsguest.S")],
                 ["ld", "-m", "elf_i386", "-n", "-T", str(NATIVE / "xsguest.ld"), "-o", str(elf), str(obj)]):
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode:
            pytest.skip(f"{argv[0]} cannot build a 32-bit guest here: {p.stderr[-200:]}")
    return elf


def boot(exe, elf, cpu):
    argv = [exe, "-M", "microvm", "-bios", "qboot.rom", "-accel", "tcg", "-cpu", cpu, "-m", "16", "-nodefaults",
            "-no-user-config", "-nographic", "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", str(elf)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 1 or "done" not in p.stdout.split():
        if re.search(r"qboot\.rom|firmware|romfile|microvm", p.stderr):
            pytest.skip(f"QEMU cannot boot the guest here: {p.stderr.strip()[-200:]}")
        pytest.fail(f"{shlex.join(argv)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    regs = {}
    for line in p.stdout.splitlines():
        m = LINE.match(line.strip())
        if m and m.group(2) == "d":
            phase, _leaf, sub, *r = m.groups()
            sub = int(sub, 16)
            if phase == "boot" or sub in (0, 1):  # sub-leaves 0 and 1 again after XSETBV: those count
                regs[sub] = [int(x, 16) for x in r]
    return {n: r for n, r in regs.items() if any(r)}


@pytest.mark.parametrize("cpu", MODELS)
def test_qemu_under_tcg_gives_the_modelled_leaf(qemu, guest, cpu):
    exe, release = qemu
    want = {n: list(r) for n, r in leaf_0xd(resolve_vcpu(f"qemu-{release}:{cpu}@tcg")).items()}
    assert boot(exe, guest, cpu) == want
