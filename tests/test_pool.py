"""pool and batch import: fleets of hosts, judged together.

Sizes and offsets come from the CPUs' own CPUID (tests/data/cpuid_regs.yaml, copied from their InstLatx64
dumps), the kernel and glibc rules cited next to each assertion, and a measurement on the development machine.
"""

import json

import pytest
import yaml

from tests.conftest import DATA
from tests.dumpfmt import cpuid_r, registers

REGS = yaml.safe_load((DATA / "cpuid_regs.yaml").read_text())


def pool_json(run, *args, code=None):
    res = run("pool", *args, "--no-qemu", "--format", "json")
    assert res.exit_code in ((0, 1) if code is None else (code,)), res.stderr + res.stdout
    return json.loads(res.stdout)


def failing(data, consumer):
    return [(f["from"], f["to"], f["reason"]) for f in data["consumers"][consumer]["failing"]]


def leaf_0xd(cpu, sub):
    return [int(x, 16) for x in REGS[cpu]["leaf_0xd"][sub].split()]


def test_a_mixed_intel_amd_pool(run):
    d = pool_json(run, "sapphire-rapids", "genoa", code=1)
    # Genoa's CPUID(0xD,0).EAX is 0x2e7: x87, SSE, AVX, the three AVX-512 areas and PKRU; Sapphire Rapids adds
    # AMX (bits 17, 18) to those. Linux enables all of them on both.
    assert leaf_0xd("genoa", 0)[0] == 0x2E7
    assert d["common"]["xcr0"] == "0x2e7"
    # The largest user buffer is Sapphire Rapids' CPUID(0xD,0).ECX: every user component, AMX included.
    assert d["max"]["user.max.size"] == {"size": leaf_0xd("sapphire-rapids", 0)[2], "kinds": ["sapphire-rapids@7.3"]}
    assert leaf_0xd("sapphire-rapids", 0)[2] == 11008
    # The AMD member is what keeps AMX out of the pool.
    assert d["holding_back"][0]["kind"] == "genoa@7.3"
    assert {"xtile_cfg", "xtile_data"} <= set(d["holding_back"][0]["gains"])
    # Standard offsets: opmask at 1088 on Intel (after MPX's 960..1087), 832 on AMD (CPUID(0xD,5).EBX).
    assert leaf_0xd("sapphire-rapids", 5)[1] == 1088 and leaf_0xd("genoa", 5)[1] == 832
    raw = failing(d, "raw")
    assert len(raw) == 2  # one group per direction, not one line per component
    for src, dst, why in raw:
        assert "offsets differ for opmask, zmm_hi256, hi16_zmm, pkru" in why
        assert "has no MPX area" in why
    assert any(src == ["sapphire-rapids@7.3"] and "the destination lacks xtile_cfg, xtile_data" in why
               for src, _, why in raw)


def test_an_amx_pool_with_one_member_without_amx(run):
    d = pool_json(run, "sapphire-rapids", "emerald-rapids", "ice-lake-sp", "--kernel", "6.8", code=1)
    assert d["hosts"] == {"count": 3, "names": ["sapphire-rapids", "emerald-rapids", "ice-lake-sp"]}
    assert d["common"]["xcr0"] == "0x2e7"
    assert d["holding_back"][0]["kind"] == "ice-lake-sp@6.8"
    kvm = failing(d, "kvm")
    # Both AMX hosts fail towards the one without, in one group per reason; nothing fails towards the AMX hosts.
    assert all(dst == ["ice-lake-sp@6.8"] and src == ["sapphire-rapids@6.8", "emerald-rapids@6.8"]
               for src, dst, _ in kvm)
    reasons = [why for _, _, why in kvm]
    assert "KVM live migration: the destination lacks xtile_cfg, xtile_data" in reasons
    # KVM_GET_XSAVE2 of an AMX guest is CPUID(0xD,0).ECX = 11008 bytes; without AMX, KVM_CAP_XSAVE2 reports
    # sizeof(struct kvm_xsave) = 4096 (kvm_vm_ioctl_check_extension, arch/x86/kvm/x86.c).
    assert "KVM_SET_XSAVE size: blob of 11008 bytes > 4096 on the destination" in reasons
    # The two AMX machines alone share everything: exit 0.
    ok = pool_json(run, "sapphire-rapids", "emerald-rapids", "--kernel", "6.8", code=0)
    assert ok["ok"] and all(c["ok"] for c in ok["consumers"].values())


def test_a_5_15_to_6_2_kernel_pair_and_the_fix_in_6_6(run):
    # Proxmox: qemu64 guests spin after moving from an Ubuntu 5.15 host to 6.2. Ubuntu's 5.15 (from 5.15.0-30)
    # carries the 5.16 fpstate code whose KVM_GET_XSAVE puts the host's PKRU into the blob; 6.2's KVM_SET_XSAVE
    # accepts only the guest's CPUID 0xD features and x87/SSE (ad856280ddea); 8647c52e9504 (6.6) relaxes that.
    d = pool_json(run, "sapphire-rapids@5.15.0-91-generic", "sapphire-rapids@6.2", "--for", "kvm", code=1)
    kvm = failing(d, "kvm")
    forward = [why for src, dst, why in kvm
               if src == ["sapphire-rapids@5.15.0-91-generic"] and dst == ["sapphire-rapids@6.2"]]
    assert len(forward) == 1
    assert "a guest without XSAVE (qemu64)" in forward[0] and "ad856280ddea" in forward[0]
    # Backwards, 5.15's KVM has no AMX for guests (KVM's AMX support is 5.17), though the CPU has it.
    assert any("KVM on Linux 5.15.0-91-generic does not offer xtile_cfg, xtile_data on the destination" in why
               for _, dst, why in kvm if dst == ["sapphire-rapids@5.15.0-91-generic"])
    fixed = pool_json(run, "sapphire-rapids@5.15.0-91-generic", "sapphire-rapids@6.6", "--for", "kvm", code=1)
    assert not [why for src, _, why in failing(fixed, "kvm")
                if src == ["sapphire-rapids@5.15.0-91-generic"] and "accepts the blob" in why]


def test_the_ld_so_save_area_hazard(run):
    # criu #3120: ld.so sizes its lazy-binding save area once, at start-up (update_active() in
    # sysdeps/x86/cpu-features.c): ALIGN_UP(compacted size of STATE_SAVE_MASK {1,2,3,5,6,7} + 64, 64).
    # Zen 3: 512 + 64 + AVX 256 = 832 -> 896, what `ld.so --list-diagnostics` prints on the development machine
    # (x86.cpu_features.xsave_state_size=0x380). Skylake-SP adds BNDREGS 64, opmask 64, ZMM_Hi256 512 and
    # Hi16_ZMM 1024 (CPUID(0xD,3/5/6/7).EAX): 2496 -> 2560.
    sizes = [leaf_0xd("skylake-sp", n)[0] for n in (2, 3, 5, 6, 7)]
    assert sizes == [256, 64, 64, 512, 1024]
    d = pool_json(run, "zen3", "skylake-sp", "--libc", "glibc-2.36", "--for", "criu", code=1)
    hazard = [(src, dst, why) for src, dst, why in failing(d, "criu") if why.startswith("ld.so")]
    assert len(hazard) == 1
    src, dst, why = hazard[0]
    assert (src, dst) == (["zen3@7.3 glibc 2.36"], ["skylake-sp@7.3 glibc 2.36"])
    assert "lazy-binding save area 2560 > 896 bytes" in why


def test_inventories_count_hosts_and_compute_each_kind_once(run, tmp_path):
    dump = tmp_path / "c7i.txt"
    dump.write_text(cpuid_r([registers(REGS["sapphire-rapids"])]))
    (tmp_path / "fleet.csv").write_text("name,profile,dump,kernel,count\n"
                                        "c7i,,c7i.txt,6.8,400\n"
                                        "m7a,genoa,,6.8,250\n"
                                        "old,skylake-sp,,6.1,3\n")
    d = pool_json(run, tmp_path / "fleet.csv", code=1)
    assert d["hosts"]["count"] == 653
    assert [(k["count"], k["kernel"]) for k in d["kinds"]] == [(400, "6.8"), (250, "6.8"), (3, "6.1")]
    (tmp_path / "fleet.yaml").write_text("hosts:\n  - {name: a, profile: genoa, count: 2}\n"
                                         "  - {name: b, profile: genoa}\n")
    y = pool_json(run, tmp_path / "fleet.yaml", code=0)
    assert y["hosts"]["count"] == 3 and len(y["kinds"]) == 1 and y["kinds"][0]["members"] == ["a", "b"]


@pytest.mark.parametrize("text, why", [
    ("name,profile,count\na,genoa,0\n", "count must be a whole number"),
    ("name,profile,colour\na,genoa,red\n", "unknown column 'colour'"),
    ("name,profile,dump\na,genoa,x.txt\n", "exactly one of 'profile'"),
    ("name,profile\na,genoa,extra\n", "3 cells for 2 columns"),
])
def test_a_bad_inventory_names_the_line(run, tmp_path, text, why):
    f = tmp_path / "fleet.csv"
    f.write_text(text)
    res = run("pool", f)
    assert res.exit_code == 2 and why in res.stderr and "fleet.csv:2" in res.stderr


def _fleet(tmp_path, cpus):
    d = tmp_path / "dumps"
    d.mkdir()
    for i, cpu in enumerate(cpus):
        (d / f"host{i}.txt").write_text(cpuid_r([registers(REGS[cpu])]))
    return d


def test_batch_import_writes_one_profile_per_distinct_cpu(run, tmp_path):
    # Alder Lake with and without AVX-512 (early BIOSes) share a brand string but not a CPUID: never one name.
    d = _fleet(tmp_path, ["sapphire-rapids", "genoa", "sapphire-rapids", "alder-lake", "alder-lake-avx512"])
    assert REGS["alder-lake"]["brand"] == REGS["alder-lake-avx512"]["brand"]
    out = tmp_path / "profiles"
    res = run("import", d, "-o", out, "--format", "json")
    assert res.exit_code == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["duplicate_of"] for r in rows] == [None, None, str(d / "host0.txt"), None, None]
    renamed = [r for r in rows if r["renamed_from"]]
    assert len(renamed) == 1 and renamed[0]["name"] == renamed[0]["renamed_from"] + "-2"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{r['name']}.yaml" for r in rows if r["written"])
    assert len(list(out.iterdir())) == 4
    # The profiles give the hardware's numbers: the second Alder Lake has AVX-512 (CPUID(0xD,0).EAX 0x2e7).
    avx512 = yaml.safe_load((out / f"{renamed[0]['name']}.yaml").read_text())
    assert avx512["xcr0_supported"] == leaf_0xd("alder-lake-avx512", 0)[0]
    # Again without --force: nothing is written, and the refusal says how many files are in the way.
    again = run("import", d, "-o", out)
    assert again.exit_code == 2 and "(and 3 more)" in again.stderr


def test_batch_import_reports_a_bad_dump_and_goes_on(run, tmp_path):
    d = _fleet(tmp_path, ["zen3"])
    (d / "broken.txt").write_text("this is not a CPUID dump\n")
    res = run("import", d, "-o", tmp_path / "out", "--format", "csv")
    assert res.exit_code == 2
    lines = res.stdout.splitlines()
    assert lines[0] == "file,name,written,duplicate_of,renamed_from,error"
    assert "not a CPUID dump" in lines[1] and lines[2].startswith(str(d / "host0.txt"))
    assert (tmp_path / "out").is_dir() and len(list((tmp_path / "out").iterdir())) == 1


def test_a_pool_of_dump_files_names_different_cpus_apart(run, tmp_path):
    d = _fleet(tmp_path, ["alder-lake", "alder-lake-avx512", "alder-lake"])
    res = run("pool", d, "--no-qemu", "--format", "json")
    data = json.loads(res.stdout)
    assert len(data["kinds"]) == 2
    assert data["kinds"][1]["cpu"] == data["kinds"][0]["cpu"] + "-2"
    assert data["renamed"] and "a different CPU also named" in res.stderr


def test_all_and_a_missing_file(run):
    from xstatecalc.profile import builtin_names

    d = pool_json(run, "all", code=1)
    assert d["hosts"]["count"] == len(builtin_names()) == len(d["kinds"])
    res = run("pool", "fleet-that-is-not-there.csv")
    assert res.exit_code == 2 and "fleet-that-is-not-there.csv: no such file or directory" in res.stderr
