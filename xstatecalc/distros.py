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

# Debian: ABI -> the upstream point releases its uploads carried. 6.1: every upload's version from the changelog
# of linux 6.1.192-3 (bookworm-security; 'Bump ABI to N' / 'Set ABI to N' up to 38: ABI 0 is the experimental
# uploads to 6.1.2, ABI 1 is 6.1.4-1; from 6.1.148-1 Debian generates the ABI, 38 plus one per upload, so a -2 or
# -3 revision gets an ABI of its own; 47-57 cross-checked with the archive's linux-image-6.1.0-N-amd64 packages).
# 5.10: the first upload of each ABI from linux-source-5.10 5.10.262-1, the last unknown (None: up to the next
# ABI's). From 6.12 Debian names the point release in the ABI itself (6.12.41+deb13-amd64): no table needed.
_DEBIAN_ABI = {
    (6, 1): (
        (0, 1, 2), (1, 4, 4), (2, 7, 7), (3, 8, 8), (4, 11, 11), (5, 12, 12), (6, 15, 15), (7, 20, 20), (8, 25, 25),
        (9, 27, 27), (10, 37, 38), (11, 38, 38), (12, 52, 52), (13, 55, 55), (14, 64, 64), (15, 66, 66),
        (16, 67, 67), (17, 69, 69), (18, 76, 76), (19, 82, 82), (20, 85, 85), (21, 90, 90), (22, 94, 94),
        (23, 98, 99), (24, 106, 106), (25, 106, 106), (26, 112, 112), (27, 115, 115), (28, 119, 119), (29, 123, 123),
        (30, 124, 124), (31, 128, 128), (32, 129, 129), (33, 133, 133), (34, 135, 135), (35, 137, 137),
        (36, 139, 139), (37, 140, 140), (38, 147, 147), (39, 148, 148), (40, 153, 153), (41, 158, 158),
        (42, 159, 159), (43, 162, 162), (44, 164, 164), (45, 170, 170), (46, 170, 170), (47, 170, 170),
        (48, 172, 172), (49, 174, 174), (50, 176, 176), (51, 177, 177), (52, 180, 180), (53, 187, 187),
        (54, 190, 190), (55, 192, 192), (56, 192, 192), (57, 192, 192)),
    (5, 10): tuple((a, v, None) for a, v in (
        (0, 1), (2, 9), (3, 12), (4, 19), (5, 24), (6, 28), (7, 38), (8, 46), (9, 70), (10, 84), (11, 92),
        (12, 103), (13, 106), (14, 113), (15, 120), (16, 127), (17, 136), (18, 140), (19, 148), (20, 158),
        (21, 162), (22, 178), (23, 179), (24, 179), (25, 191), (26, 197), (27, 205), (28, 209), (29, 216),
        (30, 218), (31, 221), (32, 223), (33, 226), (34, 234), (35, 237), (36, 244))),
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
    hit = _lookup([(a, (v, last)) for a, v, last in table], kv.abi) if table else None
    if hit is None:
        return DistroModel(branch, (), (
            f"Debian {kv.text}: which upstream point release ABI {kv.abi} carries is not tabulated here; modelled as "
            f"upstream {branch[0]}.{branch[1]} without stable backports; 'uname -v' names the exact version "
            "(e.g. 'Debian 6.1.76-1'), which --kernel accepts",), "Debian kernel, upstream point release unknown")
    first, last_known = hit[1]
    release = branch + (first,)
    name = ".".join(map(str, release))
    newest = table[-1][0]
    if kv.abi > newest:
        warn = (f"Debian {kv.text}: ABI {kv.abi} is newer than the newest ABI tabulated here ({newest}), so it "
                f"carries {name} or a later point release; modelled as {name}. 'uname -v' names the exact version "
                "(e.g. 'Debian 6.1.76-1'), which --kernel accepts")
        return DistroModel(release, (), (warn,), f"Debian ABI {kv.abi}")
    if last_known == first:
        return DistroModel(release, (), (), f"Debian ABI {kv.abi} carries upstream {name} (Debian changelog)")
    upper = last_known if last_known is not None else next((max(v - 1, first) for a, v, _ in table if a > hit[0]), None)
    if upper == first:
        return DistroModel(release, (), (), f"Debian ABI {kv.abi} carries upstream {name} (Debian changelog)")
    span = f" to {branch[0]}.{branch[1]}.{upper}" if upper is not None else " or later"
    warn = (f"Debian {kv.text}: ABI {kv.abi} covers upstream {name}{span}; modelled as {name}. 'uname -v' names "
            "the exact version (e.g. 'Debian 6.1.76-1'), which --kernel accepts")
    return DistroModel(release, (), (warn,), f"Debian ABI {kv.abi}")
