"""`--cpu host` and `xstatecalc host`: this machine, against its running kernel."""

import json

import pytest

from xstatecalc import host as H
from xstatecalc import importers as I

from .conftest import DATA

on_x86_linux = pytest.mark.skipif(not H.is_x86_64_linux(), reason="needs an x86-64 Linux host")


def test_dev_machine_dump_reproduces_its_boot_log(run, tmp_path):
    # A real development VM (AMD EPYC, Linux 6.18.44): CPUID read from /dev/cpu/0/cpuid, boot log from dmesg.
    prof = tmp_path / "dev.yaml"
    assert run("import", DATA / "dumps" / "dev-epyc-vm.cpuid-r.txt", "-o", prof).exit_code == 0
    res = run("dmesg", "--cpu", prof, "--check", DATA / "dmesg" / "30-dev-epyc-vm-6.18.log", "--format", "json")
    out = json.loads(res.stdout)
    assert res.exit_code == 0 and (out["kernel"], out["model"]) == ("6.18.44-fc-v595", "6.18")
    assert len(out["matching"]) == 10


def _cpuid_or_skip():
    try:
        return H.read_cpuid()
    except I.ImportFormatError:
        raise
    except Exception as e:  # e.g. W^X policy forbids the code page and no /dev/cpu/0/cpuid
        pytest.skip(f"this machine's CPUID is not readable here: {e}")


@on_x86_linux
def test_host_command_agrees_with_the_running_kernel(run):
    _cpuid_or_skip()
    res = run("host", "--format", "json")
    rows = {r["quantity"]: r for r in json.loads(res.stdout)["rows"]}
    assert rows["XCR0"]["status"] == "match", rows["XCR0"]
    assert rows["AT_MINSIGSTKSZ"]["status"] in ("match", "unavailable"), rows["AT_MINSIGSTKSZ"]
    assert res.exit_code == 0, res.stdout


@on_x86_linux
def test_cpuid_instruction_and_devfile_agree():
    try:
        native = H._cpuid_native()
    except OSError as e:
        pytest.skip(f"cannot map an executable page here: {e}")
    assert native(0xD, 0)[0] & 3 == 3  # x87 and SSE in XCR0-supported on every x86-64 CPU
    try:
        dev = H._cpuid_devfile()
    except OSError:
        pytest.skip("/dev/cpu/0/cpuid not readable here")
    # leaf 0xD sub-leaf 0/1 EAX/ECX do not depend on which CPU answers
    assert native(0xD, 0)[0] == dev(0xD, 0)[0] and native(0xD, 1)[2] == dev(0xD, 1)[2]


@on_x86_linux
def test_host_profile_loads():
    prof = H.host_profile(_cpuid_or_skip())
    assert prof.name not in ("host", "") and prof.xcr0_supported & 3 == 3  # named after its brand string


def test_host_elsewhere_is_a_clear_error(run, monkeypatch):
    monkeypatch.setattr(H, "is_x86_64_linux", lambda: False)
    from xstatecalc import profile

    profile._LOADED.pop("host", None)
    res = run("sizes", "--cpu", "host")
    assert res.exit_code == 2 and "only available on x86-64" in res.stderr


def test_kernel_dump_format_from_a_real_warning():
    # The TDX guest's own dump (openvmm#708), as the kernel printed it; the excerpt stops at 0x0a.
    text = (DATA / "dumps" / "tdx-kernel-dump.txt").read_text()
    d = I.parse(text, "tdx.txt")
    assert d.format == "kernel" and d.cpus["0"][(0xD, 0)] == (0x600E7, 0x2B00, 0x2B00, 0)
    with pytest.raises(I.ImportFormatError, match=r"sub-leaf 0xb missing \(component 11, cet_u.*cut at sub-leaf 0xa"):
        I.to_profile(d)




def _native(tmp_path, source: str):
    """One of our C programs in tests/native/, compiled for this machine (skips without CPUID or a compiler)."""
    import shutil
    import subprocess

    _cpuid_or_skip()
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / source.removesuffix(".c")
    src = __import__("pathlib").Path(__file__).parent / "native" / source
    subprocess.run([cc, "-O2", "-o", str(exe), str(src)], check=True, capture_output=True)
    return exe


@on_x86_linux
def test_the_delivered_signal_frame_on_this_machine(run, tmp_path):
    # get_sigframe() on the running kernel, held against the model: a stack one byte larger than the frame the
    # model computes for this CPU and kernel (a process that never asked for AMX) receives the signal; a stack of
    # exactly that size gets SIGSEGV. The probe is our own C program (tests/native/sigframe_probe.c).
    import subprocess

    probe = _native(tmp_path, "sigframe_probe.c")
    (data,) = json.loads(run("sigstack", "--cpu", "host", "--size", "65536", "-f", "json").stdout)
    frame = data["frame"]["default"]
    outcome = {n: subprocess.run([str(probe), str(n)]).returncode for n in (frame, frame + 1)}
    assert outcome == {frame: -11, frame + 1: 42}, (frame, outcome)  # -11: killed by SIGSEGV


@on_x86_linux
def test_a_real_signal_frame_explained(run, tmp_path):
    # A signal frame's fpstate as the running kernel wrote it (tests/native/fpstate_dump.c): `core` reads it as a
    # frame, finds its software bytes consistent, and its xstate_size is the model's user size for a process that
    # never asked for a dynamic feature (fpstate->user_size = fpu_user_cfg.default_size).
    import subprocess

    image = tmp_path / "fpstate.bin"
    subprocess.run([str(_native(tmp_path, "fpstate_dump.c")), str(image)], check=True)
    out = json.loads(run("core", image, "--cpu", "host", "-f", "json").stdout)
    (sizes,) = json.loads(run("sizes", "--cpu", "host", "-f", "json").stdout)
    assert out["input"] == "signal-frame" and out["frame"]["consistent"], out["frame"]["checks"]
    assert out["frame"]["fields"]["xstate_size"] == sizes["configs"]["user"]["default"]["size"]
    assert out["frame"]["fields"]["extended_size"] == image.stat().st_size
    fields = ",".join(f"{k}={v}" for k, v in out["frame"]["fields"].items() if k != "magic2")
    frame = json.loads(run("which", "--frame", fields, "--cpu", "host", "-f", "json").stdout)
    assert frame["ok"] and frame["producers"], frame


@on_x86_linux
def test_sigstack_for_this_host_uses_its_own_c_library(run):
    _cpuid_or_skip()
    found = H.running_libc()
    if found is None:
        pytest.skip("neither glibc nor musl")
    (data,) = json.loads(run("sigstack", "--cpu", "host", "--size", "65536", "-f", "json").stdout)
    assert data["libc"]["name"] == found[0] and data["libc"]["version"] == found[1]


def test_running_options_read_the_config_and_the_command_line(monkeypatch, tmp_path):
    config = ("CONFIG_X86_64=y\nCONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS=y\n"
              "# CONFIG_X86_USER_SHADOW_STACK is not set\nCONFIG_IA32_EMULATION=y\n")
    monkeypatch.setattr(H, "_config_text", lambda release: (config, "/proc/config.gz"))
    real_open = open

    def fake_open(path, *a, **k):
        if path == "/proc/cmdline":
            import io
            return io.BytesIO(b"console=ttyS0 noxsaves clearcpuid=not_a_flag -- nopku\n")
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", fake_open)
    options, notes = H.running_options("6.18.0")
    # USER_SHADOW_STACK not set, INTEL_IOMMU_SVM absent (no INTEL_IOMMU): both off; 'nopku' after '--' is init's.
    assert (options.user_shstk, options.iommu_svm, options.pkeys) == (False, False, True)
    assert options.cmdline == ("noxsaves",)
    assert any("clearcpuid=not_a_flag" in n for n in notes)
