"""The life of a KVM guest's fpstate, and of an AMX process: step by step.

Follows the reference model §5 and §7: arch/x86/kernel/fpu/xstate.c
(xstate_request_perm, fpstate_realloc, __xfd_enable_feature), core.c
(fpu_alloc_guest_fpstate, fpu_enable_guest_xfd_features) and KVM's
x86.c/cpuid.c (KVM_CAP_XSAVE2, kvm_get_filtered_xcr0, xstate_required_size).
Per-version differences are facts of :class:`~xstatecalc.kernels.KernelModel`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from . import components as C
from . import layout as L
from .fpu import FPSTATE_HDR, KVM_XSAVE_SIZE, Boot

EINVAL, EOPNOTSUPP, EBUSY, ENOSPC, EPERM = "-EINVAL", "-EOPNOTSUPP", "-EBUSY", "-ENOSPC", "-EPERM"
SIGILL, SIGSEGV = "SIGILL", "SIGSEGV"
ENOMEM = "-ENOMEM"
FAILURES = (EINVAL, EOPNOTSUPP, EBUSY, ENOSPC, EPERM, ENOMEM, SIGILL, SIGSEGV)  # a step with one of these: exit 1

# KVM_SUPPORTED_XCR0 before AMX (arch/x86/kvm/x86.c): x87, SSE, AVX, MPX, AVX-512, PKRU.
KVM_SUPPORTED_XCR0 = C.mask_of(C.FP, C.SSE, C.YMM, C.BNDREGS, C.BNDCSR, C.OPMASK, C.ZMM_HI256, C.HI16_ZMM,
                               C.PKRU)
FPU_GUEST_PERM_LOCKED = 1 << 63


def kvm_supported_xcr0(b: Boot) -> int:
    """kvm_caps.supported_xcr0: host XCR0 & KVM_SUPPORTED_XCR0 (SVM never exposes MPX)."""
    m = b.xcr0 & (KVM_SUPPORTED_XCR0 | b.kernel.kvm_supported_xcr0_extra)
    if b.profile.vendor in ("amd", "hygon"):
        m &= ~C.MASK_MPX
    return m


def kvm_supported_xss(b: Boot) -> int:
    """kvm_caps.supported_xss: host IA32_XSS & KVM_SUPPORTED_XSS; zero without XSAVES, and CET only
    as a pair and only with SHSTK or IBT to virtualise (kvm_setup_xss_caps(), 6.18+)."""
    if "XSAVES" not in b.flags:
        return 0
    xss = b.xss & b.kernel.kvm_supported_xss
    cet = C.mask_of(C.CET_USER, C.CET_KERNEL)
    if xss & cet and (xss & cet != cet or not {"SHSTK", "IBT"} & b.flags):
        xss &= ~cet
    return xss


def kvm_std_size(b: Boot, xcr0: int) -> int:
    """KVM's xstate_required_size(xcr0, false): the largest standard end."""
    return L.standard_size(b.profile, xcr0 & ~b.profile.xss_supported, "offset")


def kvm_compacted_size(b: Boot, mask: int) -> int:
    """KVM's xstate_required_size(mask, true): compacted, with 64-byte alignment only from 5.17 (5.15.174)."""
    return L.compacted_size(b.profile, mask, aligned=b.kernel.kvm_xsave_aligned)


def kvm_reports_compacted(b: Boot) -> bool:
    """KVM fills CPUID(0xD,1).EBX when its own 0xD.1 EAX has XSAVEC or XSAVES (kernel-audit A6)."""
    return bool({"XSAVEC", "XSAVES"} & b.flags) and b.xsave


class GuestFlowError(ValueError):
    """An --enable word that names no dynamic feature (the CLI turns it into exit 2)."""


@dataclass
class Step:
    """One event in the flow: what was called, what it returned, the state after it."""

    nr: int
    event: str
    call: str
    function: str
    result: str | int | None
    state: dict
    returns: dict = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """An error return or a fatal signal: the command exits 1."""
        return isinstance(self.result, str) and self.result in FAILURES

    def record(self) -> dict:
        """The JSON object of this step (documented in README, 'guest --format json')."""
        return {"step": self.nr, "event": self.event, "call": self.call, "function": self.function,
                "result": self.result, "returns": self.returns, "changed": self.changed,
                "notes": self.notes, "state": self.state}


def _hex(v: int | None) -> str | None:
    return None if v is None else f"{v:#x}"


def dynamic_request(b: Boot, words) -> list[int]:
    """Component numbers to request from --enable words ('amx', 'xtile_data', '18').

    Raises GuestFlowError for a word with no dynamic component, saying what that
    component is instead: on from boot, not enabled here, or never enabled by Linux.
    """
    from .kernels import newest

    dyn = newest().user_dynamic | b.kernel.user_dynamic
    out: list[int] = []
    for word in words:
        try:
            m = C.parse_features([word])
        except ValueError as e:
            from .options import features_of_flag

            m = features_of_flag(word)  # a CPU flag name, as --disable takes it
            if not m:
                raise GuestFlowError(str(e)) from None
        if not m & dyn:
            raise GuestFlowError(f"{word!r}: " + "; ".join(_not_dynamic(b, n) for n in C.bits(m))
                                 + f". Only dynamic features need a permission: {', '.join(C.names(dyn))} ('amx').")
        out += [n for n in C.bits(m & dyn) if n not in out]
    return out


def _not_dynamic(b: Boot, n: int) -> str:
    """Why component *n* cannot be requested, in this kernel's terms."""
    k = b.kernel
    name = f"component {n} ({C.key(n)})"
    if n not in C.CATALOGUE:
        return f"{name} is not a state component Linux knows (XCR0 bit 63 is reserved)" if n == 63 else \
            f"{name} is not a state component Linux knows"
    if b.xsave and b.kernel_default.features >> n & 1:
        return f"{name} is in the default feature set: on from boot for every process and guest, no permission"
    if b.xsave and b.kernel_max.features >> n & 1:
        return f"{name} is enabled for KVM guests only (guest_default_cfg), without a request"
    if not (k.user_supported | k.supervisor_supported) >> n & 1 or k.supervisor_unsupported >> n & 1:
        return f"{name} is never enabled by Linux {k.model}"
    why = b.dropped.get(n) or b.disabled_reason or "the CPU does not enumerate it"
    return f"{name} is not enabled on this CPU and kernel ({why})"


class _Flow:
    """Shared state of the host-process and guest flows."""

    def __init__(self, b: Boot):
        self.b, self.k, self.p = b, b.kernel, b.profile
        self.steps: list[Step] = []
        self.prev: dict = {}
        self.state: dict = {}

    # size helpers, with the kernel's own rules (xstate_calculate_size)
    def ksize(self, mask: int) -> int:
        return L.size(self.p, mask, self.b.compacted, self.k.std_size_order)

    def usize(self, mask: int) -> int:
        return L.size(self.p, mask & self.k.user_supported, False, self.k.std_size_order)

    def add(self, event, call, function, result, returns=None, notes=None) -> Step:
        st = Step(len(self.steps) + 1, event, call, function, result, copy.deepcopy(self.state),
                  returns or {}, _diff(self.prev, self.state), notes or [])
        self.prev = copy.deepcopy(self.state)
        self.steps.append(st)
        return st

    def boot_step(self):
        b = self.b
        cfg: dict = {}
        for w, v in (("kernel", "max"), ("kernel", "default"), ("user", "max"), ("user", "default"),
                     ("guest", "default")):
            c = b.config(w, v)
            cfg.setdefault(w, {})[v] = {"features": _hex(c.features), "size": c.size, "format": c.format}
        self.state["configs"] = cfg
        notes = [] if b.xsave else [f"XSAVE is off ({b.disabled_reason}): every buffer is the legacy image"]
        self.add("boot", "fpu__init_system_xstate()", "fpu__init_system_xstate / init_xstate_size", 0,
                 notes=notes)

    def perm_record(self, features: int, size: int, user_size: int, guest: bool = False) -> dict:
        """struct fpu_state_perm: __state_perm, __state_size, __user_state_size (+ the guest lock bit)."""
        rec = {"features": _hex(features & ~FPU_GUEST_PERM_LOCKED), "size": size, "user_size": user_size}
        if guest:
            rec["locked"] = bool(features & FPU_GUEST_PERM_LOCKED)
        return rec

    def request(self, guest: bool, idx: int):
        """xstate_request_perm(idx, guest): (result, new perm tuple or None, why).

        The host path's validate_sigaltstack() step is ProcessFlow's, which knows the stack size.
        """
        k, b = self.k, self.b
        if not k.xcomp_prctl or (guest and k.guest_perm == "none"):
            return EINVAL, None, "no such arch_prctl option in this kernel"
        if not b.options.x86_64:
            return EOPNOTSUPP, None, "32-bit kernels have no dynamic features"
        if idx >= _xfeature_max(k):
            return EINVAL, None, f"{idx} >= XFEATURE_MAX"
        requested = C.bit(idx) if C.bit(idx) & k.user_dynamic else 0  # xstate_prctl_req[]
        if not requested:
            return EOPNOTSUPP, None, "xstate_prctl_req[] has no entry for this component"
        if b.user_max.features & requested != requested or not b.xsave:
            return EOPNOTSUPP, None, "not in fpu_user_cfg.max_features (the CPU or kernel lacks it)"
        perm = self.perm_guest if guest else self.perm_host
        if perm[0] & requested == requested:
            return 0, None, "already permitted"
        if guest and perm[0] & FPU_GUEST_PERM_LOCKED:
            return EBUSY, None, "guest permissions are locked once a vCPU exists"
        mask = (perm[0] & ~FPU_GUEST_PERM_LOCKED) | requested
        if not guest and k.host_perm_adds_supervisor:
            mask |= b.kernel_max.features & ~k.user_supported & ~k.guest_supervisor
        ksize, usize = self.ksize(mask), self.usize(mask)
        stored = {"requested": requested, "user_mask": mask & k.user_supported, "full": mask}[k.perm_store]
        return 0, (stored | (perm[0] & FPU_GUEST_PERM_LOCKED), ksize, usize), None


def _xfeature_max(k) -> int:
    return max(k.xfeature_names) + 1


def _diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key, val in new.items():
        name = f"{prefix}{key}"
        if isinstance(val, dict):
            out += _diff(old.get(key) if isinstance(old.get(key), dict) else {}, val, name + ".")
        elif old.get(key) != val:
            out.append(name)
    return out


class GuestFlow(_Flow):
    """A VMM process creating one vCPU (reference §5, worked numbers in §5.6)."""

    def __init__(self, b: Boot, enable: list[int]):
        super().__init__(b)
        self.enable = enable

    def supported_xcr0(self) -> int:
        return kvm_supported_xcr0(self.b)

    def supported_xss(self) -> int:
        return kvm_supported_xss(self.b)

    def filtered_xcr0(self) -> int:
        perm = self.perm_guest[0] if self.k.guest_perm != "none" else self.b.user_max.features
        m = self.supported_xcr0()
        if self.k.kvm_filter_xtilecfg:
            if m & C.bit(C.XTILE_DATA):
                m &= perm
            if not m & C.bit(C.XTILE_DATA):
                m &= ~C.bit(C.XTILE_CFG)
        elif self.k.guest_perm != "none":
            m &= perm
        return m

    def kvm_std(self, xcr0: int) -> int:
        return kvm_std_size(self.b, xcr0)

    def kvm_cmp(self, mask: int) -> int:
        return kvm_compacted_size(self.b, mask)

    def kvm_returns(self) -> dict:
        """What the VMM reads back: arch_prctl, KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2), KVM_GET_SUPPORTED_CPUID."""
        x = self.filtered_xcr0()
        xss = self.supported_xss()
        cpuid = {"leaf_0xd_0": {"eax": _hex(x & 0xFFFFFFFF), "ebx": self.kvm_std(x), "ecx": self.kvm_std(x)}}
        if kvm_reports_compacted(self.b):
            cpuid["leaf_0xd_1"] = {"ebx": self.kvm_cmp(x | xss), "ecx": _hex(xss)}
        if self.k.guest_perm == "none":
            return {"arch_get_xcomp_guest_perm": EINVAL, "kvm_cap_xsave2": None, "kvm_get_supported_cpuid": cpuid}
        return {"arch_get_xcomp_guest_perm": _hex(self.perm_guest[0] & self.k.user_supported),
                "kvm_cap_xsave2": max(KVM_XSAVE_SIZE, self.kvm_std(x)), "kvm_get_supported_cpuid": cpuid}

    def run(self) -> list[Step]:
        b, k = self.b, self.k
        self.boot_step()
        # 2. fpstate_reset() at exec: perm and guest_perm of the VMM process.
        kd, ud, gd = b.kernel_default, b.user_default, b.guest_default
        self.perm_host = (kd.features, kd.size, ud.size)
        if k.guest_perm == "guest_default":
            self.perm_guest = (gd.features, gd.size, ud.size)
        else:
            self.perm_guest = self.perm_host
        self.state["perm"] = self.perm_record(*self.perm_host)
        if k.guest_perm != "none":
            self.state["guest_perm"] = self.perm_record(*self.perm_guest, guest=True)
        supp = _hex(b.user_max.features | C.MASK_FPSSE) if k.xcomp_prctl else EINVAL
        notes = []
        if k.guest_perm == "none":
            notes.append(f"Linux {k.model} has no guest permissions: KVM guests cannot use dynamic features "
                         "(guest AMX arrived in 5.17)")
        elif k.guest_perm == "perm":
            notes.append("guest_perm starts as a copy of perm ('Same defaults for guests'); 6.17 gives it "
                         "guest_default_cfg")
        self.add("VMM process starts", "exec()", "fpstate_reset / fpu_init_fpstate_user", 0,
                 returns={"arch_get_xcomp_supp": supp, **self.kvm_returns()}, notes=notes)
        # 3. the VMM asks for the dynamic features.
        for idx in self.enable:
            res, new, why = self.request(True, idx)
            if new:
                self.perm_guest = new
                self.state["guest_perm"] = self.perm_record(*new, guest=True)
            notes = [why] if why else []
            if new and k.perm_store == "requested":
                notes.append("5.16/5.17 bug: __state_perm keeps only the request (063452fd94d1: fixed in 5.18, "
                             "5.16.20, 5.17.2)")
            self.add(f"request {C.key(idx)} for guests", f"arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM, {idx})",
                     "xstate_request_perm(guest=true)", res, returns=self.kvm_returns(), notes=notes)
        # 4. KVM_CREATE_VCPU: fpu_alloc_guest_fpstate().
        self.create_vcpu()
        # 5. KVM_SET_CPUID2 advertising the permitted dynamic features.
        self.set_cpuid()
        # 6. what the guest sees.
        self.guest_cpuid()
        return self.steps

    def create_vcpu(self):
        b, k = self.b, self.k
        if not k.fpu_cfg:
            self.state["fpstate"] = {"allocated": None, "size": b.kernel_max.size, "user_size": b.user_max.size,
                                     "xfeatures": _hex(b.kernel_max.features),
                                     "user_xfeatures": _hex(b.user_max.features), "xfd": "0x0"}
            self.add("create the vCPU", "ioctl(KVM_CREATE_VCPU)", "kvm_arch_vcpu_create", 0,
                     returns={"kvm_get_xsave": KVM_XSAVE_SIZE},
                     notes=[f"Linux {k.model}: the guest FPU is a struct fpu from x86_fpu_cache holding the full "
                            "max-size buffer (fpu_kernel_xstate_size); no dynamic features, no uabi_size; "
                            "KVM_GET_XSAVE returns the 4096-byte struct kvm_xsave"])
            return
        sizes = {"user_default": b.user_default.size, "kernel_default": b.kernel_default.size,
                 "guest_default": b.guest_default.size}
        feats = {"user_default": b.user_default.features, "kernel_default": b.kernel_default.features,
                 "guest_default": b.guest_default.features}
        state_cfg = b.guest_default if k.guest_alloc == "guest_default" else b.kernel_default
        alloc = sizes[k.guest_alloc] + FPSTATE_HDR
        self.state["fpstate"] = {"allocated": alloc, "size": state_cfg.size, "user_size": b.user_default.size,
                                 "xfeatures": _hex(state_cfg.features),
                                 "user_xfeatures": _hex(b.user_default.features), "xfd": "0x0"}
        uabi = None
        if k.guest_perm != "none":
            uabi = b.user_default.size if k.uabi_init == "user_default" else max(KVM_XSAVE_SIZE,
                                                                                  b.user_default.size)
        self.state["gfpu"] = {"xfeatures": _hex(feats[k.gfpu_xfeatures]), "uabi_size": uabi}
        notes = [f"vzalloc({sizes[k.guest_alloc]} + {FPSTATE_HDR}): {k.guest_alloc.replace('_', ' ')} size "
                 "plus the 64-byte struct fpstate header"]
        if alloc - FPSTATE_HDR < state_cfg.size:
            notes.append(f"under-allocation: fpstate->size {state_cfg.size} > {alloc - FPSTATE_HDR} bytes of "
                         "buffer (fixed by 1937e18cc3cf: 6.15, 6.1.134, 6.6.87, 6.12.23, 6.13.11, 6.14.2)")
        returns = {"kvm_get_xsave": KVM_XSAVE_SIZE}
        if k.guest_perm != "none":
            self.perm_guest = (self.perm_guest[0] | FPU_GUEST_PERM_LOCKED,) + self.perm_guest[1:]
            self.state["guest_perm"] = self.perm_record(*self.perm_guest, guest=True)
            notes.append("guest_perm is now locked: a request for a feature not yet permitted gets -EBUSY")
            # What a request made only now would get (nothing changes): the lock at work.
            later = {}
            for idx in self.enable or list(C.bits(k.user_dynamic)):
                res, _, why = self.request(True, idx)
                if why != "already permitted":
                    later[C.key(idx)] = res
            if later:
                returns["arch_req_xcomp_guest_perm_now"] = later
        self.add("create the vCPU", "ioctl(KVM_CREATE_VCPU)", "fpu_alloc_guest_fpstate", 0, returns=returns,
                 notes=notes)

    def set_cpuid(self):
        k = self.k
        want = C.mask_of(*self.enable) & self.filtered_xcr0() if self.enable else 0
        if k.guest_perm == "none" or not want:
            self.add("set the guest CPUID", "ioctl(KVM_SET_CPUID2)", "kvm_check_cpuid", 0,
                     notes=["CPUID 0xD.0 advertises no dynamic feature: the guest fpstate keeps its size"])
            return
        gf = self.state["gfpu"]
        x = want & ~int(gf["xfeatures"], 16)
        if not x:
            self.add("set the guest CPUID", "ioctl(KVM_SET_CPUID2)", "fpu_enable_guest_xfd_features", 0,
                     notes=["the dynamic features are already in the guest fpstate"])
            return
        perm = self.perm_guest
        if perm[0] & x != x:
            self.add("set the guest CPUID", "ioctl(KVM_SET_CPUID2)", "__xfd_enable_feature", EPERM,
                     notes=["guest_perm lacks the feature: KVM_SET_CPUID2 fails"])
            return
        fs = self.state["fpstate"]
        self.state["fpstate"] = {"allocated": perm[1] + FPSTATE_HDR, "size": perm[1], "user_size": perm[2],
                                 "xfeatures": _hex(int(fs["xfeatures"], 16) | x),
                                 "user_xfeatures": _hex(int(fs["user_xfeatures"], 16) | x),
                                 "xfd": _hex(int(fs["xfd"], 16) & ~x)}
        self.state["gfpu"] = {"xfeatures": _hex(int(gf["xfeatures"], 16) | x), "uabi_size": perm[2]}
        self.add("set the guest CPUID", f"ioctl(KVM_SET_CPUID2) with 0xD.0 EAX including {_hex(x)}",
                 "fpu_enable_guest_xfd_features -> fpstate_realloc", 0,
                 returns={"kvm_get_xsave": EINVAL if perm[2] > KVM_XSAVE_SIZE else KVM_XSAVE_SIZE,
                          "kvm_get_xsave2": perm[2]},
                 notes=[f"vzalloc({perm[1]} + {FPSTATE_HDR}) from guest_perm.__state_size; uabi_size = "
                        "guest_perm.__user_state_size" + ("; KVM_GET_XSAVE now fails (uabi_size > 4096): use "
                                                          "KVM_GET_XSAVE2" if perm[2] > KVM_XSAVE_SIZE else "")])

    def guest_cpuid(self):
        b, k = self.b, self.k
        xcr0 = self.filtered_xcr0() if k.guest_perm != "none" else self.supported_xcr0()
        if not int(self.state["gfpu"]["xfeatures"] if "gfpu" in self.state else "0x0", 16) & k.user_dynamic:
            xcr0 &= ~k.user_dynamic  # not advertised, so the guest cannot enable it
            if k.kvm_filter_xtilecfg:
                xcr0 &= ~C.bit(C.XTILE_CFG)
        xss = self.supported_xss()
        cpuid = {"xcr0": _hex(xcr0), "xss": _hex(xss), "leaf_0xd_0_ebx": self.kvm_std(xcr0)}
        notes = ["the guest OS enables everything advertised: XCR0 as above"]
        if kvm_reports_compacted(b):
            cpuid["leaf_0xd_1_ebx"] = self.kvm_cmp(xcr0 | (xss if k.kvm_xss_in_cpuid else 0))
            notes.append("0xD.1 EBX = compacted size of XCR0" + (" | IA32_XSS (6.18+)" if k.kvm_xss_in_cpuid
                                                                 else " (guest IA32_XSS not counted before 6.18)")
                         + ("" if k.kvm_xsave_aligned else "; KVM ignores 64-byte alignment here before 5.17"))
        if not xcr0 & C.bit(C.FP):
            notes.append("XCR0 without x87 is architecturally invalid: KVM filtered it with the broken guest_perm "
                         "of the 5.16/5.17 permission bug")
        self.state["guest_cpuid"] = cpuid
        self.add("the guest runs", "guest CPUID(0xD)", "kvm_update_cpuid_runtime / xstate_required_size", None,
                 notes=notes)


class ProcessFlow(_Flow):
    """An ordinary process asking for dynamic features (AMX): ARCH_REQ_XCOMP_PERM, then first use;
    with a sigaltstack of a given size, what the kernel makes of it at every step."""

    def __init__(self, b: Boot, enable: list[int], sigaltstack: int | None, strict: bool = False):
        super().__init__(b)
        self.enable, self.sigaltstack, self.strict = enable, sigaltstack, strict

    def run(self) -> list[Step]:
        from .sigframe import judge, signal_stack

        b, k = self.b, self.k
        ss = signal_stack(b, strict=self.strict)
        self.boot_step()
        kd, ud = b.kernel_default, b.user_default
        self.perm_host = (kd.features, kd.size, ud.size)
        self.state["perm"] = self.perm_record(*self.perm_host)
        self.state["fpstate"] = {"allocated": None, "size": kd.size, "user_size": ud.size,
                                 "xfeatures": _hex(kd.features), "user_xfeatures": _hex(ud.features),
                                 "xfd": _hex(b.user_max.features & k.user_dynamic if b.xsave else 0)}
        self.state["signal"] = {"at_minsigstksz": ss.at_minsigstksz, "frame": _delivered(ss, False),
                                "frame_bound": ss.frame_default}
        notes = ["the default buffer is inline in struct fpu (task_struct): no vzalloc"]
        if not ss.dynamic:
            notes.append("this CPU and kernel have no dynamic features: every process gets the full frame, "
                         f"{ss.frame_permitted} bytes, from the start")
        self.add("process starts", "exec()", "fpstate_reset", 0,
                 returns={"arch_get_xcomp_supp": _hex(b.user_max.features | C.MASK_FPSSE) if k.xcomp_prctl
                          else EINVAL,
                          "arch_get_xcomp_perm": _hex(self.perm_host[0] & k.user_supported) if k.xcomp_prctl
                          else EINVAL, "at_minsigstksz": ss.at_minsigstksz}, notes=notes)
        if self.sigaltstack is not None:
            v = judge(ss, self.sigaltstack, permitted=False)
            self.state["sigaltstack"] = self.sigaltstack
            res = ENOMEM if v.verdict == "refused-by-sigaltstack" else 0
            self.add(f"install a {self.sigaltstack}-byte alternate stack", f"sigaltstack(ss_size={self.sigaltstack})",
                     "do_sigaltstack / sigaltstack_size_valid", res,
                     notes=[v.why] if res else [f"accepted: {v.why}" if v.fits else f"accepted, but {v.why}"])
        granted = 0
        for idx in self.enable:
            res, new, why = self.request(False, idx)
            notes = [why] if why else []
            if new and self.sigaltstack and ss.perm_min is not None:
                need = ss.frame_permitted - b.user_max.size + new[2]
                if self.sigaltstack < need:
                    res, new = ENOSPC, None
                    notes.append(f"validate_sigaltstack(): an alternate signal stack of {self.sigaltstack} bytes "
                                 f"is smaller than the {need}-byte frame AMX needs")
                else:
                    notes.append(f"validate_sigaltstack(): the {self.sigaltstack}-byte stack is at least {need}")
            elif new and ss.perm_min is not None:
                notes.append(f"validate_sigaltstack(): every thread's sigaltstack must be 0 (none) or >= "
                             f"{ss.perm_min} bytes")
            if new:
                self.perm_host = new
                self.state["perm"] = self.perm_record(*new)
                granted |= C.bit(idx)
            self.add(f"request {C.key(idx)}", f"arch_prctl(ARCH_REQ_XCOMP_PERM, {idx})",
                     "xstate_request_perm(guest=false)", res,
                     returns={"arch_get_xcomp_perm": _hex(self.perm_host[0] & k.user_supported)}
                     if k.xcomp_prctl else {}, notes=notes)
        for idx in self.enable:
            x = C.bit(idx)
            if not granted & x:
                if "XFD" in b.flags and b.user_max.features & x:
                    self.add(f"first {C.key(idx)} instruction", "AMX instruction -> #NM", "handle_xfd_event",
                             SIGILL, notes=["no permission: XFD traps the first use and the #NM handler sends "
                                            "SIGILL"])
                else:
                    self.add(f"first {C.key(idx)} instruction", "AMX instruction", "-", SIGILL,
                             notes=["the kernel never enabled the feature (not in XCR0): the instruction raises "
                                    "#UD, the process gets SIGILL"])
                continue
            fs = self.state["fpstate"]
            ksz, usz = self.perm_host[1], self.perm_host[2]
            self.state["fpstate"] = {"allocated": ksz + FPSTATE_HDR, "size": ksz, "user_size": usz,
                                     "xfeatures": _hex(int(fs["xfeatures"], 16) | x),
                                     "user_xfeatures": _hex(int(fs["user_xfeatures"], 16) | x),
                                     "xfd": _hex(int(fs["xfd"], 16) & ~x)}
            self.state["signal"] = {"at_minsigstksz": ss.at_minsigstksz,
                                    "frame": _delivered(ss, True, b, usz),
                                    "frame_bound": ss.frame_permitted - b.user_max.size + usz}
            self.add(f"first {C.key(idx)} instruction", "AMX instruction -> #NM",
                     "xfd_enable_feature -> fpstate_realloc", 0,
                     notes=[f"vzalloc({ksz} + {FPSTATE_HDR}) from perm.__state_size",
                            "AT_MINSIGSTKSZ does not change: it was computed from fpu_user_cfg.max_size at boot"])
        if self.sigaltstack is not None:
            sig = self.state["signal"]
            frame, bound = sig["frame"], sig["frame_bound"]
            delivered = self.sigaltstack > frame  # __on_sig_stack(): sp must stay above ss_sp
            result = 0 if delivered else SIGSEGV
            margin = self.sigaltstack - bound
            sig["margin"] = margin
            if delivered and margin >= 0:
                what = f"{self.sigaltstack} bytes hold the {frame}-byte frame and the {bound}-byte bound: margin {margin:+d}"
            elif delivered:
                what = (f"delivered: {self.sigaltstack} bytes hold the {frame}-byte frame, but are {-margin} below "
                        f"the documented {bound} (an ia32 frame or a stack top not aligned to 64 bytes may not fit)")
            else:
                what = f"{self.sigaltstack} bytes do not hold the {frame}-byte frame: the kernel sends SIGSEGV"
            self.add("a signal arrives on the alternate stack", f"signal delivery ({frame}-byte frame)",
                     "get_sigframe", result, notes=[what])
        return self.steps


def _delivered(ss, permitted: bool, b: Boot | None = None, user_size: int | None = None) -> int:
    """The frame get_sigframe() really takes (sigframe.delivered_frame), or the bound on a 32-bit kernel."""
    from .sigframe import delivered_frame

    if b is not None and user_size is not None:
        real = delivered_frame(b, user_size)
        return real if real is not None else ss.frame_permitted - b.user_max.size + user_size
    real = ss.delivered_permitted if permitted else ss.delivered_default
    return real if real is not None else (ss.frame_permitted if permitted else ss.frame_default)


def guest_flow(b: Boot, enable: list[int]) -> list[Step]:
    """The KVM guest fpstate lifecycle for this boot, enabling *enable* (component numbers)."""
    return GuestFlow(b, enable).run()


def process_flow(b: Boot, enable: list[int], sigaltstack: int | None = None, strict: bool = False) -> list[Step]:
    """An ordinary process requesting dynamic features (and its signal stack)."""
    return ProcessFlow(b, enable, sigaltstack, strict).run()


def verdict(steps) -> str:
    """The line that ends a flow, passing or not: the alternate stack's fate when there is one, else the
    first failing step, else where the guest's (or process's) fpstate ended up."""
    last = steps[-1] if steps else None
    bad = [st for st in steps if st.failed]
    if last is not None and "sigaltstack" in last.state and "margin" in last.state.get("signal", {}):
        size, sig = last.state["sigaltstack"], last.state["signal"]
        at = sig["at_minsigstksz"] if sig["at_minsigstksz"] is not None else sig["frame_bound"]
        if bad:
            st = bad[0]
            return (f"FAILS: the {size}-byte alternate stack: step {st.nr} ({st.event}) gets {st.result}; "
                    f"the signal frame is {sig['frame']} bytes, AT_MINSIGSTKSZ {cell_or_dash(sig['at_minsigstksz'])}.")
        if sig["margin"] < 0:
            return (f"WORKS, BELOW THE MINIMUM: the {size}-byte alternate stack holds the {sig['frame']}-byte signal "
                    f"frame, {-sig['margin']} bytes short of the documented {at} (AT_MINSIGSTKSZ).")
        return (f"OK: the {size}-byte alternate stack holds the {sig['frame']}-byte signal frame and AT_MINSIGSTKSZ "
                f"{at}, margin {sig['margin']:+d}.")
    if bad:
        st = bad[0]
        why = f": {st.notes[0]}" if st.notes else ""
        return f"FAILS: step {st.nr} ({st.event}) gets {st.result}{why} (exit 1)."
    fs, gfpu = (last.state.get("fpstate", {}), last.state.get("gfpu")) if last is not None else ({}, None)
    if gfpu is not None:
        return (f"OK: every step succeeds; the guest fpstate is {fs.get('size')} bytes ({fs.get('allocated')} "
                f"allocated), uabi_size {gfpu.get('uabi_size')} (KVM_GET_XSAVE2).")
    return f"OK: every step succeeds; the fpstate is {fs.get('size')} bytes (user_size {fs.get('user_size')})."


def cell_or_dash(v) -> str:
    return "-" if v is None else str(v)


def failed(steps) -> list:
    """The steps whose result is an error or a fatal signal (the command exits 1)."""
    return [st for st in steps if st.failed]
