"""What a distribution's kernel release string says about the upstream code inside it.

Data only, each table with its evidence. Ubuntu and Debian publish which upstream
stable release every upload carries (the changelog of the linux-source package), so
their ABI numbers map to an upstream point release; Ubuntu's own backports that move a
number are listed with the ABI that first carried them. Vendors whose sources are not
read here (RHEL, SUSE, Oracle UEK, Amazon) get a plain warning instead of a claim.
"""

from __future__ import annotations

from .records import record



@record
class DistroModel:
    release: tuple[int, ...]  # the upstream release the model uses
    facts: tuple  # ((abi, name in kernels.DISTRO_FACTS, evidence), ...) distribution backports
    warnings: tuple[str, ...]  # said on stderr
    note: str  # for JSON/explain: how the string was read


# Ubuntu: ABI -> the newest upstream stable point release that ABI carries ("<Series> update: vX.Y.Z
# upstream stable release" entries), read from the changelog in linux-source-5.15.0 5.15.0-204.214 and
# linux-source-5.4.0 5.4.0-216.236 (archive.ubuntu.com). Pairs are (abi, patch level); an ABI between two
# pairs carries the earlier one's release.
_UBUNTU_UPSTREAM = {
    (5, 15): (
        (10, 1), (11, 2), (12, 4), (13, 5), (14, 7), (15, 12), (19, 17), (20, 19), (23, 27), (24, 30), (34, 35),
        (41, 39), (47, 46), (48, 53), (49, 60), (53, 64), (57, 74), (59, 78), (65, 85), (68, 87), (70, 92),
        (72, 98), (74, 99), (75, 102), (79, 111), (81, 116), (85, 122), (88, 126), (90, 131), (93, 136),
        (100, 143), (102, 148), (103, 149), (111, 153), (115, 158), (118, 160), (120, 163), (122, 164), (125, 167),
        (127, 168), (132, 173), (135, 178), (140, 179), (142, 180), (144, 184), (152, 185), (154, 189), (163, 193),
        (170, 196), (172, 198), (176, 199), (184, 200), (186, 209), (198, 216), (202, 222), (203, 223), (204, 224)),
    (5, 4): (
        (8, 2), (9, 3), (10, 8), (13, 16), (14, 18), (15, 21), (18, 24), (19, 27), (22, 29), (24, 30), (30, 34),
        (34, 41), (40, 44), (43, 55), (48, 60), (49, 65), (55, 73), (59, 78), (65, 79), (66, 86), (67, 94),
        (71, 101), (73, 106), (74, 114), (75, 119), (78, 124), (81, 128), (82, 133), (87, 140), (89, 143),
        (90, 148), (91, 151), (92, 157), (97, 162), (100, 166), (105, 174), (107, 176), (108, 178), (110, 181),
        (114, 189), (122, 191), (123, 195), (126, 203), (127, 210), (132, 212), (136, 218), (138, 224), (143, 229),
        (147, 231), (149, 233), (151, 235), (152, 236), (156, 241), (158, 246), (164, 248), (166, 252), (168, 257),
        (171, 259), (173, 265), (175, 268), (181, 269), (186, 271), (189, 275), (192, 278), (195, 280), (200, 284),
        (206, 286), (210, 290), (216, 291)),
}

# Ubuntu's own backports that move a number, by the first ABI that carried them.
_UBUNTU_FACTS = {
    (5, 15): (
        (30, "fpu_rework", "'Intel: enable x86 AMX (LP: #1967750)' in 5.15.0-30.31: the 5.16 fpu_kernel_cfg/"
                           "fpu_user_cfg rework and AMX for processes (no KVM guest permissions); read in "
                           "linux-source-5.15.0 5.15.0-204.214"),
        (81, "fpu_init_after_identify", "'x86/fpu: Move FPU initialization into arch_cpu_finalize_init()' in "
                                        "5.15.0-81.90 (a security update ahead of upstream 5.15.125)"),
        (125, "erratum_1386_microcode", "the erratum-1386 microcode check (fix_erratum_1386()) in 5.15.0-125.135; "
                                        "upstream 6.10"),
    ),
    (5, 4): (
        (158, "fpu_init_after_identify", "'x86/fpu: Move FPU initialization into arch_cpu_finalize_init()' in "
                                         "5.4.0-158.175 (a security update ahead of upstream 5.4.252)"),
    ),
}

# Series whose changelog in the package does not reach back to the backports: what the newest source shows.
_UBUNTU_SERIES_NOTES = {
    (6, 8): "Ubuntu's 6.8.0 kernels carry later stable fixes on top of 6.8.12: linux-source-6.8.0 6.8.0-151.151 "
            "has the guest-buffer fixes (1937e18cc3cf, 'Fix inconsistencies in guest FPU xfeatures') and the "
            "erratum-1386 microcode check, but its changelog does not say which ABI first carried them",
}

# Debian: ABI -> the first upload (upstream patch level) that carried it, from the 'Bump ABI to N' entries of
# the changelog in linux-source-6.1 6.1.192-2 and linux-source-5.10 5.10.262-1 (deb.debian.org).
_DEBIAN_ABI = {
    (6, 1): (
        (0, 1), (2, 7), (3, 8), (4, 11), (5, 12), (6, 15), (7, 20), (8, 25), (9, 27), (10, 37), (11, 38), (12, 52),
        (13, 55), (14, 64), (15, 66), (16, 67), (17, 69), (18, 76), (19, 82), (20, 85), (21, 90), (22, 94),
        (23, 98), (24, 106), (25, 106), (26, 112), (27, 115), (28, 119), (29, 123), (30, 124), (31, 128),
        (32, 129), (33, 133), (34, 135), (35, 137), (36, 139), (37, 140), (38, 147)),
    (5, 10): (
        (0, 1), (2, 9), (3, 12), (4, 19), (5, 24), (6, 28), (7, 38), (8, 46), (9, 70), (10, 84), (11, 92),
        (12, 103), (13, 106), (14, 113), (15, 120), (16, 127), (17, 136), (18, 140), (19, 148), (20, 158),
        (21, 162), (22, 178), (23, 179), (24, 179), (25, 191), (26, 197), (27, 205), (28, 209), (29, 216),
        (30, 218), (31, 221), (32, 223), (33, 226), (34, 234), (35, 237), (36, 244)),
}

_VENDOR_WARNINGS = {
    "rhel": "RHEL-family kernels backport xstate changes (AMX for KVM guests is reported working on RHEL kernels "
            "numbered 4.18 and 5.14): the upstream {base} model may differ from this kernel; its sources are not "
            "read here",
    "oracle-uek": "Oracle UEK kernels carry Oracle's backports: the upstream {base} model may differ from this "
                  "kernel; its sources are not read here",
    "suse": "SUSE kernels backport xstate changes: the upstream {base} model may differ from this kernel; its "
            "sources are not read here",
    "amazon": "Amazon Linux kernels follow upstream stable {base} with Amazon's own patches, which are not read "
              "here: numbers may differ where Amazon backported xstate changes",
}


def _lookup(pairs, abi: int):
    """The entry of (abi, value) pairs in force at *abi* (the last one at or below it), or None."""
    found = None
    for a, v in pairs:
        if a > abi:
            break
        found = (a, v)
    return found


def resolve(kv) -> DistroModel:
    """The upstream release and distribution facts behind a parsed :class:`~xstatecalc.versions.KernelVersion`."""
    branch = kv.release[:2]
    base = ".".join(map(str, kv.release))
    if kv.distro == "ubuntu" and kv.abi is not None:
        return _ubuntu(kv, branch)
    if kv.distro == "debian" and kv.abi is not None:
        return _debian(kv, branch)
    if kv.distro in _VENDOR_WARNINGS:
        return DistroModel(kv.release, (), (_VENDOR_WARNINGS[kv.distro].format(base=base),),
                           f"{kv.distro} kernel, modelled as upstream {base}")
    return DistroModel(kv.release, (), (), "")


def _ubuntu(kv, branch) -> DistroModel:
    abi = kv.abi
    if abi >= 1000:
        return DistroModel(branch, (), (f"Ubuntu {kv.text}: ABI {abi} is a cloud or OEM kernel's own numbering; "
                                        f"modelled as upstream {branch[0]}.{branch[1]} without stable backports",),
                           "Ubuntu derivative kernel")
    facts = tuple(f for f in _UBUNTU_FACTS.get(branch, ()) if f[0] <= abi)
    table = _UBUNTU_UPSTREAM.get(branch)
    hit = _lookup(table, abi) if table else None
    if hit is None:
        note = _UBUNTU_SERIES_NOTES.get(branch, "")
        return DistroModel(branch, facts, (
            f"Ubuntu {kv.text}: which upstream stable release ABI {abi} carries is not tabulated here; modelled as "
            f"upstream {branch[0]}.{branch[1]} without stable backports" + (f". {note}" if note else ""),),
            "Ubuntu kernel, upstream point release unknown")
    release = branch + (hit[1],)
    return DistroModel(release, facts, (), f"Ubuntu ABI {abi} carries upstream {'.'.join(map(str, release))} "
                                           "(Ubuntu changelog)")


def _debian(kv, branch) -> DistroModel:
    table = _DEBIAN_ABI.get(branch)
    hit = _lookup(table, kv.abi) if table else None
    if hit is None:
        return DistroModel(branch, (), (
            f"Debian {kv.text}: which upstream point release ABI {kv.abi} carries is not tabulated here; modelled as "
            f"upstream {branch[0]}.{branch[1]} without stable backports; 'uname -v' names the exact version "
            "(e.g. 'Debian 6.1.76-1'), which --kernel accepts",), "Debian kernel, upstream point release unknown")
    release = branch + (hit[1],)
    later = [v for a, v in table if a > kv.abi]
    upper = f" to {branch[0]}.{branch[1]}.{later[0] - 1}" if later else " and later"
    last = table[-1][0]
    warn = (f"Debian {kv.text}: ABI {kv.abi} covers upstream {'.'.join(map(str, release))}{upper}; modelled as "
            f"{'.'.join(map(str, release))}. 'uname -v' names the exact version (e.g. 'Debian 6.1.76-1'), which "
            "--kernel accepts")
    if kv.abi > last:
        warn = (f"Debian {kv.text}: ABI {kv.abi} is newer than the newest ABI tabulated here ({last}); modelled as "
                f"{'.'.join(map(str, release))} or later is unknown; give 'uname -v' (e.g. 'Debian 6.1.76-1') instead")
    return DistroModel(release, (), (warn,), f"Debian ABI {kv.abi}")
