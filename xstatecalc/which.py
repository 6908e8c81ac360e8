"""`which`: from a number someone observed back to what produces it.

Bug reports start from a number ("MINSIGSTKSZ is 39616", "extended_size 1092, expected 896"), not
from a CPU. This module computes every quantity the tool knows — the kernel's configurations, CPUID's
sizes, the signal frame, the C library's sysconf values and macros, ld.so's save areas, KVM's values,
core notes, each runtime's stack — for every CPU, kernel model and C library asked for, and finds
where a number occurs. Several numbers narrow each other to the places where all occur. A number that
occurs nowhere gets the nearest values (an off-by-8 is a finding: PKRU) and, where a C library or
kernel formula can be run backwards, what it would take to produce it.

Kernel rows that share a model are booted once (a model is the facts of its release rows), C library
values once per AT_MINSIGSTKSZ and CPUID(0xD,0).EBX; nothing is computed at import time.
"""

from __future__ import annotations

import functools

from . import components as C
from . import layout as L
from .records import record

# ------------------------------------------------------------------ the quantities

SIZE, MASK, OFFSET = "size", "mask", "offset"

# key: (name, the kernel or library function behind it, kind, what it is). Keys are the value names of `sizes`
# and `limit` where those exist (kernel.max.size, abi.sigframe_min, kvm.cap_xsave2), dotted alike otherwise.
QUANTITIES = {
    "kernel.max.size": ("context size", "fpu_kernel_cfg.max_size", SIZE,
                        "the kernel's largest XSAVE buffer: dmesg 'context size is N bytes'"),
    "kernel.default.size": ("kernel default size", "fpu_kernel_cfg.default_size", SIZE,
                            "the kernel's buffer without dynamic features"),
    "user.max.size": ("user size", "fpu_user_cfg.max_size", SIZE,
                      "the standard-format size with every permitted feature: a frame's xstate_size with AMX in use"),
    "user.default.size": ("frame xstate_size", "fpu_user_cfg.default_size", SIZE,
                          "the standard-format size without dynamic features: a 64-bit or ia32 signal frame's "
                          "_fpx_sw_bytes.xstate_size"),
    "guest.default.size": ("guest default size", "guest_default_cfg.size", SIZE,
                           "a guest's buffer until it uses a dynamic feature (6.17+)"),
    "xcr0": ("XCR0", "fpu_user_cfg.max_features", MASK, "the user features enabled (xfeatures_mask_uabi())"),
    "xss": ("IA32_XSS", "xfeatures_mask_supervisor()", MASK, "the supervisor features enabled"),
    "kernel.max.features": ("dmesg 'Enabled xstate features'", "fpu_kernel_cfg.max_features", MASK,
                            "every feature the kernel saves"),
    "kernel.default.features": ("kernel default features", "fpu_kernel_cfg.default_features", MASK,
                                "the kernel's features without dynamic ones"),
    "user.default.features": ("frame xfeatures", "fpu_user_cfg.default_features", MASK,
                              "a signal frame's _fpx_sw_bytes.xfeatures without AMX in use"),
    "guest.default.features": ("guest default features", "guest_default_cfg.features", MASK,
                               "a guest's features until it uses a dynamic one (6.17+)"),
    "kernel.consistency.size": ("'XSAVE consistency problem: size N'", "xstate_calculate_size()", SIZE,
                                "what the kernel computed from CPUID(0xD,i) in its consistency check"),
    "kernel.consistency.kernel_size": ("'... != kernel_size N'", "init_xstate_size()", SIZE,
                                       "what CPUID(0xD,0 or 1).EBX reported, when the kernel computed otherwise"),
    "cpuid.0xd.0.eax": ("CPUID(0xD,0).EDX:EAX", "the CPU", MASK, "the XCR0 bits the CPU supports"),
    "cpuid.0xd.0.ebx": ("CPUID(0xD,0).EBX", "the CPU, for the kernel's XCR0", SIZE,
                        "the standard size for the XCR0 the kernel set (init_xstate_size() reads it)"),
    "cpuid.0xd.0.ecx": ("CPUID(0xD,0).ECX", "the CPU", SIZE, "the standard size for every XCR0 bit it supports"),
    "cpuid.0xd.1.ebx": ("CPUID(0xD,1).EBX", "the CPU, for the kernel's XCR0 | IA32_XSS", SIZE,
                        "the compacted size for the features the kernel set"),
    "cpuid.0xd.1.ecx": ("CPUID(0xD,1).EDX:ECX", "the CPU", MASK, "the IA32_XSS bits the CPU supports"),
    "abi.sigframe_min": ("AT_MINSIGSTKSZ", "get_sigframe_size()", SIZE,
                         "the largest signal frame, in the auxiliary vector (5.14+); dmesg 'signal: max sigframe "
                         "size'"),
    "abi.sigframe_min_no_ia32_emulation": ("AT_MINSIGSTKSZ without IA32 emulation", "get_sigframe_size()", SIZE,
                                           "AT_MINSIGSTKSZ of a kernel built with CONFIG_IA32_EMULATION=n"),
    "abi.sigframe_min_ia32_emulation": ("AT_MINSIGSTKSZ with IA32 emulation", "get_sigframe_size()", SIZE,
                                        "AT_MINSIGSTKSZ of a kernel built with CONFIG_IA32_EMULATION=y"),
    "abi.regset_xstate": ("NT_X86_XSTATE size", "xstateregs_get()", SIZE,
                          "the core note and PTRACE_GETREGSET buffer: fpu_user_cfg.max_size"),
    "core.xsave_layout_note": ("NT_X86_XSAVE_LAYOUT size", "dump_xsave_layout_desc()", SIZE,
                               "the core note describing the layout (6.12+): 16 bytes a feature"),
    "signal.frame.default": ("signal frame on an alternate stack", "get_sigframe()", SIZE,
                             "bytes a 64-bit process's signal takes below a 64-byte aligned stack top, no AMX"),
    "signal.frame.permitted": ("signal frame on an alternate stack, AMX in use", "get_sigframe()", SIZE,
                               "the same once AMX is permitted and used"),
    "signal.frame_bound.default": ("frame bound without AMX", "get_sigframe_size()", SIZE,
                                   "the bound of a process that never uses a dynamic feature"),
    "signal.below_sp.default": ("signal frame below SP", "get_sigframe()", SIZE,
                                "bytes a signal takes below the interrupted SP off an alternate stack: red zone and "
                                "frame, the worst alignment, no AMX"),
    "signal.below_sp.permitted": ("signal frame below SP, AMX in use", "get_sigframe()", SIZE,
                                  "the same with AMX in use"),
    "signal.sigaltstack_check": ("sigaltstack() minimum once AMX is permitted", "sigaltstack_size_valid()", SIZE,
                                 "ss_size must be more than this"),
    "frame.extended_size.default": ("extended_size, 64-bit frame", "save_sw_bytes()", SIZE,
                                    "_fpx_sw_bytes.extended_size: fpstate->user_size + FP_XSTATE_MAGIC2_SIZE (4)"),
    "frame.extended_size.permitted": ("extended_size, 64-bit frame, AMX in use", "save_sw_bytes()", SIZE,
                                      "the same once AMX is permitted and used"),
    "frame.extended_size.ia32": ("extended_size, ia32 frame", "save_sw_bytes()", SIZE,
                                 "_fpx_sw_bytes.extended_size of a 32-bit process: + sizeof(struct fregs_state) "
                                 "112"),
    "kvm.cap_xsave2": ("KVM_CAP_XSAVE2", "kvm_vm_ioctl_check_extension()", SIZE,
                       "the KVM_GET_XSAVE2 buffer with every dynamic feature permitted: max(4096, "
                       "xstate_required_size())"),
    "kvm.cpuid.0xd.0.ebx": ("guest CPUID(0xD,0).EBX, AMX permitted", "KVM_GET_SUPPORTED_CPUID", SIZE,
                            "xstate_required_size(kvm_get_filtered_xcr0(), false) after ARCH_REQ_XCOMP_GUEST_PERM"),
    "kvm.cpuid.0xd.0.ebx_default": ("guest CPUID(0xD,0).EBX before ARCH_REQ_XCOMP_GUEST_PERM",
                                    "KVM_GET_SUPPORTED_CPUID", SIZE,
                                    "xstate_required_size(kvm_get_filtered_xcr0(), false) before any permission"),
    "kvm.cpuid.0xd.1.ebx": ("guest CPUID(0xD,1).EBX", "kvm_update_cpuid_runtime()", SIZE,
                            "xstate_required_size(xcr0 | xss, true) for a guest enabling every feature KVM offers"),
    "libc.sc_minsigstksz": ("sysconf(_SC_MINSIGSTKSZ)", "", SIZE,
                            "glibc 2.34+: GLRO(dl_minsigstacksize), AT_MINSIGSTKSZ or CPUID(0xD,0).EBX + 516; "
                            "musl 1.2.4+: from AT_MINSIGSTKSZ"),
    "libc.sc_sigstksz": ("sysconf(_SC_SIGSTKSZ), also SIGSTKSZ and MINSIGSTKSZ under _GNU_SOURCE (glibc 2.34+)", "",
                         SIZE, "glibc: sysconf_sigstksz(), max(8192, 4 * sysconf(_SC_MINSIGSTKSZ)), what every C++ "
                         "program built on glibc 2.34+ headers sees as SIGSTKSZ and MINSIGSTKSZ; musl: "
                         "sysconf(_SC_MINSIGSTKSZ) + 6144"),
    "libc.pthread_stack_min": ("PTHREAD_STACK_MIN under _GNU_SOURCE", "sysconf(_SC_THREAD_STACK_MIN)", SIZE,
                               "glibc 2.34+: max(16384, sysconf(_SC_MINSIGSTKSZ))"),
    "libc.minsigstksz": ("MINSIGSTKSZ constant", "bits/sigstack.h", SIZE, "the macro without _GNU_SOURCE"),
    "libc.sigstksz": ("SIGSTKSZ constant", "bits/sigstack.h", SIZE, "the macro without _GNU_SOURCE"),
    "libc.ld_so.lazy_binding": ("ld.so lazy-binding save area", "xsave_state_size", SIZE,
                                "stack _dl_runtime_resolve_xsave(c) takes to save vector state"),
    "libc.ld_so.tlsdesc": ("ld.so TLS descriptor save area", "_dl_tlsdesc_dynamic_xsave(c)", SIZE,
                           "stack a dynamic TLS descriptor call takes to save vector state"),
    "libc.ld_so.full": ("ld.so full save area", "xsave_state_full_size", SIZE, "ld.so's standard-format save area"),
    "frame.sw_bytes": ("a signal frame's struct _fpx_sw_bytes", "save_sw_bytes()", "frame",
                       "what the kernel writes at fpstate + 464; fx_sw_reserved before 5.16"),
}
_KIND_WORDS = {"altstack": "alternate signal stack", "below-sp": "room kept below the stack pointer",
               "buffer": "state buffer"}


@functools.lru_cache(maxsize=None)
def quantity(key: str) -> tuple[str, str, str, str]:
    """(name, function, kind, what it is) of a quantity key, the generated ones (layout.*, runtime.*) included."""
    if key in QUANTITIES:
        return QUANTITIES[key]
    if key.startswith("layout."):
        name = key.rsplit(".", 1)[1]
        nr = C.parse_feature(name).bit_length() - 1
        if key.startswith("layout.compacted."):
            return (f"compacted offset of {name}", f"dmesg xstate_offset[{nr}]", OFFSET,
                    f"where {name} sits in the kernel's compacted buffer")
        return (f"offset of {name}", f"CPUID(0xD,{nr}).EBX", OFFSET,
                f"where {name} sits in the standard format: signal frames, ptrace and core notes, and dmesg's "
                f"xstate_offset[{nr}] on a standard-format kernel")
    if key.startswith("runtime."):
        rt = _runtime_by_key()[key]
        return (f"{key[len('runtime.'):]} {_KIND_WORDS.get(rt.kind, rt.kind)}", rt.title, SIZE,
                f"{rt.versions}: {rt.source}")
    raise KeyError(key)


@functools.lru_cache(maxsize=1)
def _runtime_by_key() -> dict:
    from .userspace import rules

    return {_runtime_key(rt): rt for rt in rules().runtimes}


def _runtime_key(rt) -> str:
    return f"runtime.{rt.name}" + (f" {rt.era}" if rt.era else "")


# ------------------------------------------------------------------ one CPU on one kernel

_FRAME_KEYS = {"64-bit": "frame.extended_size.default", "permitted": "frame.extended_size.permitted",
               "ia32": "frame.extended_size.ia32", "i386": "frame.extended_size.ia32"}

def boot_values(b) -> dict[str, int]:
    """Every quantity of one boot that depends on neither the C library nor the runtime, by key."""
    from .guest import (GuestFlow, kvm_compacted_size, kvm_reports_compacted, kvm_std_size, kvm_supported_xcr0,
                        kvm_supported_xss)
    from .report import sigframe_variants
    from .sigframe import signal_stack
    from .swbytes import sw_bytes

    p, k, o = b.profile, b.kernel, b.options
    v: dict[str, int] = {}

    def put(key, value):
        if value:  # 0 and None say nothing: a value that is absent, not a size
            v[key] = value

    put("kernel.max.size", b.kernel_max.size)
    put("kernel.default.size", b.kernel_default.size)
    put("user.max.size", b.user_max.size)
    put("user.default.size", b.user_default.size)
    if k.guest_perm == "guest_default":  # before 6.17 there is no guest_default_cfg: it is kernel.default
        put("guest.default.size", b.guest_default.size)
        put("guest.default.features", b.guest_default.features)
    put("xcr0", b.xcr0)
    put("xss", b.xss)
    put("kernel.max.features", b.kernel_max.features)
    put("kernel.default.features", b.kernel_default.features)
    put("user.default.features", b.user_default.features)
    if b.computed_kernel_size is not None and b.cpuid_kernel_size is not None:
        put("kernel.consistency.size", b.computed_kernel_size)
        put("kernel.consistency.kernel_size", b.cpuid_kernel_size)
    # CPUID as the CPU reports it, for the masks this kernel programs (init_xstate_size() reads these).
    rep = p.reported
    put("cpuid.0xd.0.eax", p.xcr0_supported)
    put("cpuid.0xd.1.ecx", p.xss_supported)
    put("cpuid.0xd.0.ecx", rep.xcr0_max_size if rep.xcr0_max_size is not None else
        L.standard_size(p, p.xcr0_supported & ~p.xss_supported, "offset"))
    if b.xsave:
        put("cpuid.0xd.0.ebx", b.user_max.size)  # init_xstate_size(): CPUID(0xD,0).EBX with XCR0 set
        if {"XSAVEC", "XSAVES"} & set(p.flags):
            put("cpuid.0xd.1.ebx", b.kernel_max.size if b.compacted else
                L.compacted_size(p, b.xcr0 | (b.xss & ~b.independent)))
        offs = L.compacted_offsets(p, b.kernel_max.features) if b.compacted else {}
        for n in C.bits(b.xcr0 & ~C.MASK_FPSSE):
            if n in p.components:
                put(f"layout.{C.key(n)}", p.components[n].offset)
        for n, off in offs.items():
            put(f"layout.compacted.{C.key(n)}", off)
        put("abi.regset_xstate", b.regset_xstate)
        if k.core_layout_note:
            put("core.xsave_layout_note", 16 * len([n for n in C.bits(b.xcr0 & ~C.MASK_FPSSE)
                                                    if n in p.components]))
    if (rep.compacted_size is not None and rep.xcr0 is not None
            and b.computed_kernel_size is not None and b.cpuid_kernel_size == rep.compacted_size):
        put("cpuid.0xd.1.ebx", rep.compacted_size)  # what the dump reported, even when the kernel gave up XSAVE
    # The signal frame (arch/x86/kernel/signal.c, fpu/signal.c).
    ss = signal_stack(b)
    if k.sigframe:
        put("abi.sigframe_min", b.sigframe_min)
        with_ia32, without_ia32 = sigframe_variants(b)
        if o.x86_64:
            if o.ia32_emulation:
                put("abi.sigframe_min_no_ia32_emulation", without_ia32)
            else:
                put("abi.sigframe_min_ia32_emulation", with_ia32)
        put("signal.sigaltstack_check", ss.check_permitted)
    put("signal.frame.default", ss.delivered_default)
    put("signal.below_sp.default", ss.thread_default)
    if ss.dynamic:
        put("signal.frame.permitted", ss.delivered_permitted)
        put("signal.below_sp.permitted", ss.thread_permitted)
        put("signal.frame_bound.default", ss.frame_default)
    for sw in sw_bytes(b):  # what save_sw_bytes() writes, by kind of frame (none before 5.16 without XSAVE)
        key = _FRAME_KEYS.get("permitted" if "AMX" in sw.variant else sw.variant.split(",")[0])
        if key:
            put(key, sw.extended_size)
    # KVM on this host (arch/x86/kvm/x86.c, cpuid.c): before and after ARCH_REQ_XCOMP_GUEST_PERM.
    if b.xsave and o.x86_64:
        flow = GuestFlow(b, list(C.bits(k.user_dynamic & b.user_max.features)))
        kd, ud, gd = b.kernel_default, b.user_default, b.guest_default
        flow.perm_guest = (gd.features, gd.size, ud.size) if k.guest_perm == "guest_default" else \
            (kd.features, kd.size, ud.size)
        put("kvm.cpuid.0xd.0.ebx_default", kvm_std_size(b, flow.filtered_xcr0()))
        for idx in flow.enable:
            _res, new, _why = flow.request(True, idx)
            if new:
                flow.perm_guest = new
        xcr0 = flow.filtered_xcr0() if k.guest_perm != "none" else kvm_supported_xcr0(b)
        put("kvm.cpuid.0xd.0.ebx", kvm_std_size(b, xcr0))
        if k.guest_perm != "none":
            put("kvm.cap_xsave2", max(4096, kvm_std_size(b, xcr0)))
        if kvm_reports_compacted(b):
            put("kvm.cpuid.0xd.1.ebx", kvm_compacted_size(b, xcr0 | (kvm_supported_xss(b) if k.kvm_xss_in_cpuid
                                                                       else 0)))
    return v


def libc_and_runtime_values(b, era, at: int | None, evaluate=None) -> dict[str, int]:
    """The C library era's values on this boot (AT_MINSIGSTKSZ *at*), and every runtime's stack under it, by
    key; ld.so's save areas are :func:`ldso_values`. *evaluate(runtime, values)*: how to evaluate a rule
    (a caching one, when many boots are asked)."""
    from .libc import libc_values, macro_values
    from .sigframe import xstate_sigframe_size
    from .userspace import LibcChoice, rules

    lv = libc_values(b, LibcChoice(era, None), _At(at))
    v: dict[str, int] = {}

    def put(key, value):
        if value:
            v[key] = value

    put("libc.sc_minsigstksz", lv.sc_minsigstksz)
    put("libc.sc_sigstksz", lv.sc_sigstksz)
    put("libc.pthread_stack_min", lv.pthread_stack_min["dynamic"])
    put("libc.minsigstksz", lv.minsigstksz["constant"])
    put("libc.sigstksz", lv.sigstksz["constant"])
    # A buffer's size may be what a signal sent at start-up shows (DynamoRIO 7.1+): the default frame's image.
    xstate = xstate_sigframe_size(b, b.user_default.size)
    macros = {m: {**macro_values(lv, m), "XSTATE_AT_INIT": xstate, "XSTATE": xstate} for m in ("dynamic", "constant")}
    for rt in rules().runtimes:
        if rt.size is not None:
            values = {**macros[rt.macros], **rt.constants}
            put(_runtime_key(rt), evaluate(rt, values) if evaluate else rt.size.evaluate(values))
    return v


@record
class _At:
    """What libc_values() reads of the kernel's signal facts."""

    at_minsigstksz: int | None


def ldso_values(b, era) -> dict[str, int]:
    """glibc's ld.so save areas for this CPU (update_active() in sysdeps/x86/cpu-features.c), by key."""
    from .libc import _ldso

    ldso = _ldso(b, era.rules.get("ldso"))
    if not ldso:
        return {}
    v = {"libc.ld_so.lazy_binding": ldso["lazy_binding"]}
    if ldso["tlsdesc"]:
        v["libc.ld_so.tlsdesc"] = ldso["tlsdesc"]
    if ldso["full"] != ldso["lazy_binding"]:
        v["libc.ld_so.full"] = ldso["full"]
    return v


# ------------------------------------------------------------------ the search space

# Where a value occurs: (quantity key, CPU index into Space.profiles, model index into Space.models, C library
# era index into Space.eras or None when the quantity does not depend on the C library). A plain tuple: a common
# value (32768) occurs tens of thousands of times.
KEY, CPU, MODEL, ERA = range(4)


class Space:
    """Every CPU x kernel row x C library era asked for, computed on first use.

    *kernels*: the kernel rows in order (their labels make the ranges, '5.16-7.3'); rows with the same
    facts share one model and one boot per CPU. *eras*: userspace.LibcEra records."""

    def __init__(self, profiles, kernels, eras, options):
        self.profiles, self.kernels, self.eras, self.options = list(profiles), list(kernels), list(eras), options
        groups: dict = {}
        for i, k in enumerate(self.kernels):
            groups.setdefault(_model_key(k, options), []).append(i)
        self.models = [(self.kernels[rows[0]], tuple(rows)) for rows in groups.values()]
        self._cells = None  # [cpu][model] -> (boot, {value: [keys]}, [(libc key, ld.so key) per era])
        self._libc: dict = {}  # libc or ld.so key -> {value: [keys]}
        self._rules: dict = {}  # (runtime, the values its rule reads) -> size
        self._index = None  # quantity key -> its values

    @property
    def cells(self):
        if self._cells is None:
            self._compute()
        return self._cells

    def _compute(self) -> None:
        from .fpu import boot

        cells = []
        for p in self.profiles:
            row = []
            for k, _rows in self.models:
                b = boot(p, k, self.options)
                at = b.sigframe_min
                row.append((b, _invert(boot_values(b)), [self._libc_keys(b, i, at) for i in range(len(self.eras))]))
            cells.append(row)
        self._cells = cells

    def _libc_keys(self, b, era: int, at: int | None) -> tuple:
        """C library values depend on AT_MINSIGSTKSZ (*at*), CPUID(0xD,0).EBX and the default frame; ld.so's
        on the CPU's sizes too: each computed once per distinct key."""
        ebx = b.user_max.size if b.xsave else 0
        key = ("libc", era, at, ebx, b.user_default.size, b.options.x86_64)
        if key not in self._libc:
            self._libc[key] = _invert(libc_and_runtime_values(b, self.eras[era], at, self._evaluate))
        ldso = self.eras[era].rules.get("ldso")
        lkey = ("ld.so", ldso, b.profile.name, ebx, b.options.x86_64) if ldso and b.xsave else None
        if lkey is not None and lkey not in self._libc:
            self._libc[lkey] = _invert(ldso_values(b, self.eras[era]))
        return key, lkey

    def _evaluate(self, rt, values: dict) -> int:
        key = (id(rt),) + tuple(values[n] for n in sorted(rt.size.names))
        if key not in self._rules:
            self._rules[key] = rt.size.evaluate(values)
        return self._rules[key]

    def hits(self, value: int) -> list[tuple]:
        """Every place *value* occurs: (key, cpu, model, era) tuples."""
        out = []
        libc = self._libc
        for ci, row in enumerate(self.cells):
            for mi, (_b, inv, libc_keys) in enumerate(row):
                for key in inv.get(value, ()):
                    out.append((key, ci, mi, None))
                for ei, (lk, dk) in enumerate(libc_keys):
                    for key in libc[lk].get(value, ()):
                        out.append((key, ci, mi, ei))
                    if dk is not None:
                        for key in libc[dk].get(value, ()):
                            out.append((key, ci, mi, ei))
        return out

    def values_of(self, kinds=(SIZE, OFFSET), keys=None) -> list[int]:
        """The distinct values of the quantities of *kinds* (or of the given *keys*), sorted."""
        if self._index is None:
            index: dict = {}
            for inv in [inv for row in self.cells for _b, inv, _l in row] + list(self._libc.values()):
                for value, ks in inv.items():
                    for k in ks:
                        index.setdefault(k, set()).add(value)
            self._index = index
        out = set()
        for k, vals in self._index.items():
            if (k in keys) if keys is not None else quantity(k)[2] in kinds:
                out |= vals
        return sorted(out)

    def quantity_keys(self) -> list[str]:
        """Every quantity key that has a value somewhere in the space."""
        self.values_of(keys=())
        return list(self._index)

    def boot(self, cpu: int, model: int):
        return self.cells[cpu][model][0]

    def kernel_rows(self, model: int) -> tuple:
        return self.models[model][1]


def _invert(values: dict) -> dict:
    inv: dict = {}
    for key, value in values.items():
        inv.setdefault(value, []).append(key)
    return inv


_ROW_ONLY = ("version", "label", "model", "changes", "notes", "warnings", "distro", "released")
# Facts that change only a message, or steps of the guest and process flows no quantity here reads (the
# vCPU a VMM builds reads KVM's guest flags on its own host kernel); how a boot parameter is spelled
# matters only when one is given.
_NO_NUMBER_HERE = ("xsave_disabled_msg", "consistency_sizes", "guest_alloc", "gfpu_xfeatures",
                   "host_perm_adds_supervisor", "uabi_init", "kvm_get_xsave", "kvm_set_xsave", "core_note_empty_ok",
                   "kvm_guest_flags", "kvm_svm_xsaves", "xfeature_names")
_SPELLING = ("clearcpuid_parse", "nousershstk")


def _model_key(k, options) -> tuple:
    """What decides a kernel row's numbers here: its facts, less those that move none of them (and its version
    when a boot parameter or build option is switched, whose spelling and effect depend on the release)."""
    switched = bool(options.switches())
    skip = _ROW_ONLY + _NO_NUMBER_HERE + (() if switched else _SPELLING)
    facts = tuple((f, repr(getattr(k, f))) for f in k._fields if f not in skip)
    return facts + ((k.version,) if switched else ())


def default_kernels():
    """Every released mainline row, oldest first: the kernels `which` searches without --kernel."""
    from .kernels import _model, mainline

    return [_model(r.version) for r in mainline() if r.released]


def libc_eras(specs=None) -> list:
    """C library eras: every era of glibc and musl, or those named ('glibc', 'musl', 'glibc-2.39', comma lists)."""
    from .userspace import LIBC_NAMES, parse_libc, rules

    libcs = rules().libcs
    if not specs:
        return [era for name in LIBC_NAMES for era in libcs[name]]
    out = []
    for spec in specs:
        for part in str(spec).split(","):
            name = part.strip().lower()
            eras = libcs[name] if name in libcs else [parse_libc(part).era]
            out += [e for e in eras if e not in out]
    return out


_SPACES: dict = {}


def make_space(profiles, kernels, eras, options) -> Space:
    """The space to search. Spaces of built-in CPUs and kernel rows are kept for the process (a test suite,
    or a library caller, asks many times); the oldest is dropped after four."""
    from .profile import builtin_index, resolve

    idx = builtin_index()
    builtin = all(idx.get(p.name) == p.name and p is resolve(p.name) for p in profiles)  # not a file of that name
    if not builtin or any(k.distro or k.warnings for k in kernels):
        return Space(profiles, kernels, eras, options)
    key = (tuple(p.name for p in profiles), tuple((k.label, k.model) for k in kernels), tuple(e.label for e in eras),
           options)
    if key not in _SPACES:
        if len(_SPACES) >= 4:
            del _SPACES[next(iter(_SPACES))]
        _SPACES[key] = Space(profiles, kernels, eras, options)
    return _SPACES[key]


# ------------------------------------------------------------------ grouping hits for people

@record
class Match:
    """One quantity that equals *value*, and where: CPUs, kernel ranges, C library eras (None: any)."""

    value: int
    key: str
    cpus: tuple
    kernels: tuple  # 'a-b' ranges of the kernel rows asked for
    libc: tuple | None
    every_cpu: bool
    every_kernel: bool

    @property
    def name(self) -> str:
        return quantity(self.key)[0]

    @property
    def function(self) -> str:
        return quantity(self.key)[1]

    @property
    def kind(self) -> str:
        return quantity(self.key)[2]

    @property
    def description(self) -> str:
        return quantity(self.key)[3]

    def record(self) -> dict:
        return {"value": self.value, "quantity": self.key, "name": self.name, "function": self.function,
                "description": self.description, "kind": self.kind, "cpus": list(self.cpus),
                "kernels": list(self.kernels), "libc": None if self.libc is None else list(self.libc)}


def ranges(indices, labels) -> tuple:
    """Consecutive indices as 'first-last' of their labels: (3, 4, 5, 9) -> ('5.16-5.18', '6.4')."""
    out, run = [], []
    for i in sorted(indices):
        if run and i != run[-1] + 1:
            out.append(run)
            run = []
        run.append(i)
    if run:
        out.append(run)
    return tuple(labels[r[0]] if len(r) == 1 else f"{labels[r[0]]}-{labels[r[-1]]}" for r in out)


def era_ranges(indices, eras) -> tuple:
    """Consecutive eras of one C library as one range: glibc 2.34-2.39, 2.40-2.41, 2.42+ -> 'glibc 2.34+'."""
    out, run = [], []
    for i in sorted(indices):
        if run and (i != run[-1] + 1 or eras[i].name != eras[run[-1]].name):
            out.append(run)
            run = []
        run.append(i)
    if run:
        out.append(run)
    labels = []
    for r in out:
        first, last = eras[r[0]], eras[r[-1]]
        start = ".".join(map(str, first.first))
        labels.append(f"{first.name} {start}+" if last.last is None else
                      f"{first.name} {start}" + ("" if first.first == last.last else
                                                 f"-{'.'.join(map(str, last.last))}"))
    return tuple(labels)


_ORDER = list(QUANTITIES)


def _key_order(key: str) -> tuple:
    return (_ORDER.index(key) if key in QUANTITIES else len(_ORDER), key)


def group(space: Space, value: int, hits: list[tuple]) -> list[Match]:
    """Hits as matches: per quantity, the CPUs that share the same kernel rows and C library eras."""
    labels = [k.label for k in space.kernels]
    names = [p.name for p in space.profiles]
    by_key: dict = {}
    for key, cpu, model, era in hits:
        per_cpu = by_key.setdefault(key, {}).setdefault(cpu, {})
        per_cpu.setdefault(era, set()).update(space.kernel_rows(model))
    all_eras = frozenset(range(len(space.eras)))
    out = []
    for key in sorted(by_key, key=_key_order):
        blocks: dict = {}
        for cpu, eras in by_key[key].items():
            by_rows: dict = {}
            for era, rows in eras.items():
                by_rows.setdefault(frozenset(rows), set()).add(era)
            for rows, era_set in by_rows.items():
                blocks.setdefault((rows, frozenset(era_set)), []).append(cpu)
        for (rows, era_set), cpus in sorted(blocks.items(), key=lambda kv: (min(kv[1]), min(kv[0][0]))):
            # A value every C library era gives (a runtime's constant) does not depend on the C library.
            libc = None if None in era_set or era_set == all_eras else era_ranges(era_set, space.eras)
            out.append(Match(value, key, tuple(names[c] for c in sorted(cpus)), ranges(rows, labels), libc,
                             len(cpus) == len(names) > 1, len(rows) == len(labels) > 1))
    return out


# ------------------------------------------------------------------ several numbers, and none

def _contexts(space: Space, hits: list[tuple]) -> set:
    """(cpu, model, era) where the hits occur; a quantity independent of the C library occurs under every era."""
    n = max(len(space.eras), 1)
    out = set()
    for _key, cpu, model, era in hits:
        for e in (range(n) if era is None else (era,)):
            out.add((cpu, model, e))
    return out


def _restrict(hits: list[tuple], joint: set, n_eras: int) -> list[tuple]:
    keep = []
    for h in hits:
        eras = range(max(n_eras, 1)) if h[ERA] is None else (h[ERA],)
        if any((h[CPU], h[MODEL], e) in joint for e in eras):
            keep.append(h)
    return keep


# Known differences between two values, so that "off by 8" reads as "PKRU": the kernel's constants, and
# every component size of the CPUs involved (added per match).
DIFFERENCES = {
    4: "FP_XSTATE_MAGIC2_SIZE, the word after a frame's XSAVE image",
    112: "sizeof(struct fregs_state), the fsave header of an ia32 frame",
    116: "FP_XSTATE_MAGIC2_SIZE + struct fregs_state: an ia32 frame against a 64-bit one",
    64: "the XSAVE header, or a 64-byte alignment step",
    128: "the x86-64 red zone below the stack pointer",
}


def explain_difference(space: Space, matches: list[Match], diff: int) -> list[str]:
    """What a difference of *diff* bytes between two values can be: a kernel constant, the size of a
    component of the CPUs the nearer value occurs on, or for glibc's sysconf(_SC_SIGSTKSZ) four times a
    difference in sysconf(_SC_MINSIGSTKSZ)."""
    d = abs(diff)
    out = []
    if any(m.key == "libc.sc_sigstksz" and m.libc and any(x.startswith("glibc") for x in m.libc) for m in matches) \
            and d % 4 == 0:
        out.append(f"4 x {d // 4}: a glibc sysconf(_SC_MINSIGSTKSZ) {d // 4} bytes "
                   f"{'smaller' if diff > 0 else 'larger'} than there")
    if not all(m.key.startswith(("frame.", "user.", "kernel.", "guest.", "cpuid.", "abi.regset", "layout.",
                                 "kvm.")) for m in matches):
        return out + ([DIFFERENCES[d]] if d in DIFFERENCES and d in (112, 116, 128) else [])
    out += [DIFFERENCES[d]] if d in DIFFERENCES else []
    names = {c for m in matches for c in m.cpus}
    comps = {}
    for p in space.profiles:
        if p.name in names:
            for n, c in p.components.items():
                if c.size == d and not c.supervisor:
                    comps.setdefault(n, []).append(p.name)
    out += [f"the size of {C.key(n)} (component {n})" for n in sorted(comps)]
    return out


@record
class Nearest:
    value: int
    nearest: int
    difference: int  # nearest - value
    matches: list
    differences: list  # what the difference can be

    def record(self) -> dict:
        return {"value": self.value, "nearest": self.nearest, "difference": self.difference,
                "differences": list(self.differences), "matches": [m.record() for m in self.matches]}


def _near_keys(key: str) -> bool:
    """Quantities a near miss is measured against: sizes and offsets, not masks, and not the runtimes' stacks
    (their round constants, 32768 and 65536, are near everything and explain nothing)."""
    return quantity(key)[2] in (SIZE, OFFSET) and not key.startswith("runtime.")


def nearest(space: Space, value: int) -> list[Nearest]:
    """The closest size or offset below and above *value* that the kernel, the CPU or a C library gives, and
    where."""
    import bisect

    values = space.values_of(keys={k for k in space.quantity_keys() if _near_keys(k)})
    i = bisect.bisect_left(values, value)
    out = []
    for x in ([values[i - 1]] if i > 0 else []) + ([values[i]] if i < len(values) and values[i] != value else []):
        ms = group(space, x, [h for h in space.hits(x) if _near_keys(h[KEY])])
        out.append(Nearest(value, x, x - value, ms, explain_difference(space, ms, x - value)))
    out.sort(key=lambda n: (abs(n.difference), n.nearest))
    return out


# Formulas that can be run backwards: (outer quantity, inner quantity, C library or None, the rule, the inverse on
# an integer range). With them an unexplained number is read as the last modelled step that could produce it.
def _shift(d):
    return lambda lo, hi: (lo - d, hi - d)


def _div(n):
    return lambda lo, hi: (-(-lo // n), hi // n)


def _round16(pad):  # round_up(x + pad, 16) == v for x in [v - pad - 15, v - pad] when v is a multiple of 16
    return lambda lo, hi: (-(-lo // 16) * 16 - pad - 15, hi // 16 * 16 - pad)


INVERSES = (
    ("libc.sc_sigstksz", "libc.sc_minsigstksz", "glibc", "glibc 2.34+: 4 x sysconf(_SC_MINSIGSTKSZ)", _div(4)),
    ("libc.sc_sigstksz", "libc.sc_minsigstksz", "musl", "musl 1.2.4+: sysconf(_SC_MINSIGSTKSZ) + 6144",
     _shift(6144)),
    ("libc.sc_minsigstksz", "abi.sigframe_min", "glibc", "glibc 2.34+: AT_MINSIGSTKSZ itself", _shift(0)),
    ("libc.sc_minsigstksz", "cpuid.0xd.0.ebx", "glibc",
     "glibc 2.34+ on a kernel without AT_MINSIGSTKSZ (before 5.14): CPUID(0xD,0).EBX + 516", _shift(516)),
    ("libc.sc_minsigstksz", "abi.sigframe_min", "musl", "musl 1.2.6+: AT_MINSIGSTKSZ + 1024", _shift(1024)),
    ("abi.sigframe_min", "user.max.size", None,
     "get_sigframe_size(): round_up(user size + 930, 16) with IA32 emulation", _round16(930)),
    ("abi.sigframe_min", "user.max.size", None,
     "get_sigframe_size(): round_up(user size + 522, 16) without IA32 emulation", _round16(522)),
    ("frame.extended_size.default", "user.default.size", None, "save_sw_bytes(): xstate_size + 4", _shift(4)),
    ("frame.extended_size.ia32", "user.default.size", None, "save_sw_bytes(): xstate_size + 4 + 112 (ia32)",
     _shift(116)),
)
# The finest step each inner quantity moves in: XSAVE sizes are sums of components whose sizes and
# offsets are multiples of 8; AT_MINSIGSTKSZ is rounded to 16.
GRANULE = {"user.max.size": 8, "user.default.size": 8, "cpuid.0xd.0.ebx": 8, "abi.sigframe_min": 16,
           "libc.sc_minsigstksz": 4}


@record
class Step:
    key: str  # the quantity read
    lo: int
    hi: int
    rule: str  # how the previous step's value came from this one ("" for the number itself)


@record
class Reading:
    """A number read backwards through formulas: the steps, and the modelled values of the last step's
    quantity nearest to it (it has none in the range: else the number itself would have matched)."""

    value: int
    steps: list
    nearest: list  # [(value, [Match])]

    def record(self) -> dict:
        return {"value": self.value,
                "steps": [{"quantity": s.key, "name": quantity(s.key)[0], "value": s.lo if s.lo == s.hi else
                           f"{s.lo}-{s.hi}", "rule": s.rule} for s in self.steps],
                "nearest": [{"value": x, "matches": [m.record() for m in ms]} for x, ms in self.nearest]}


def readings(space: Space, value: int, depth: int = 3) -> list[Reading]:
    """What *value* would have to come from, through the C library's and the kernel's formulas run
    backwards, as far as each step stays within a quarter of the values the tool computes for it."""
    import bisect

    cache: dict = {}

    def modelled(key):
        if key not in cache:
            cache[key] = space.values_of(keys={key})
        return cache[key]

    def plausible(key, lo, hi):
        vals = modelled(key)
        g = GRANULE.get(key, 1)
        if not vals or lo > hi or -(-lo // g) * g > hi:
            return False
        return hi >= vals[0] * 3 // 4 and lo <= vals[-1] * 5 // 4

    out = []

    def walk(steps, libc):
        last = steps[-1]
        grew = False
        for outer, inner, lib, rule, inv in INVERSES:
            if outer != last.key or (libc and lib and lib != libc):
                continue
            lo, hi = inv(last.lo, last.hi)
            if not plausible(inner, lo, hi) or len(steps) > depth:
                continue
            grew = True
            walk(steps + [Step(inner, lo, hi, rule)], libc or lib)
        if not grew and len(steps) > 1:
            vals = modelled(last.key)
            i = bisect.bisect_left(vals, last.lo)
            near = ([vals[i - 1]] if i > 0 else []) + ([vals[i]] if i < len(vals) else [])
            near = [x for x in near if not last.lo <= x <= last.hi]
            out.append(Reading(value, steps, [(x, group(space, x, [h for h in space.hits(x) if h[KEY] == last.key]))
                                              for x in near]))

    for outer in sorted({inv[0] for inv in INVERSES}, key=_key_order):
        walk([Step(outer, value, value, "")], None)
    # The same chain reached through several outer quantities reads the same from its second step on.
    seen, unique = set(), []
    for r in out:
        sig = tuple((s.key, s.lo, s.hi, s.rule) for s in r.steps[1:])
        if sig not in seen:
            seen.add(sig)
            unique.append(r)
    return unique


# ------------------------------------------------------------------ the answer

@record
class Answer:
    values: list
    together: bool | None  # several numbers: do they all occur on one CPU x kernel x C library
    matches: list  # [Match], each number's (restricted to where all occur, when they do)
    unmatched: list  # numbers with no exact match anywhere
    nearest: list  # [Nearest]
    readings: list  # [Reading]
    notes: list

    @property
    def ok(self) -> bool:
        return not self.unmatched and self.together is not False


NOT_MODELLED = ("Windows CONTEXT and XSTATE sizes (minidumps, exception dispatch), BSD signal frames and ptrace, "
                "Xen save records and macOS are not modelled")


def which(space: Space, values: list[int], masks=()) -> Answer:
    """Where every number in *values* occurs, and where they occur together. *masks*: numbers written as
    masks (in hex), for which an unmatched one is also read as an XCR0 value."""
    values = list(dict.fromkeys(values))
    hits = {v: space.hits(v) for v in values}
    unmatched = [v for v in values if not hits[v]]
    together = None
    notes = []
    if len(values) > 1:
        joint = None
        for v in values:
            ctx = _contexts(space, hits[v])
            joint = ctx if joint is None else joint & ctx
        together = bool(joint)
        if joint:
            pairs = {(c, row) for c, m, _e in joint for row in space.kernel_rows(m)}
            notes.append(f"{' and '.join(map(str, values))} occur together on {len(pairs)} CPU and kernel "
                         f"pair{'s' if len(pairs) != 1 else ''}; only those are shown")
            hits = {v: _restrict(hits[v], joint, len(space.eras)) for v in values}
        elif not unmatched:
            notes.append(f"{' and '.join(map(str, values))} never occur on one CPU with one kernel and C library: "
                         "each is shown where it occurs alone")
    matches = [m for v in values for m in group(space, v, hits[v])]
    ordered = sorted(values)
    for a, b in zip(ordered, ordered[1:]):
        why = explain_difference(space, [m for m in matches if m.value in (a, b)], b - a)
        if why:
            notes.append(f"{b} - {a} = {b - a}: " + "; or ".join(why))
    near, reads = [], []
    for v in unmatched:
        ns = nearest(space, v)
        near += ns
        # Formulas run backwards only where nothing lies close by: a near miss explains more than a chain.
        if all(abs(n.difference) > max(64, v // 50) for n in ns):
            reads += readings(space, v)
    for v in unmatched:
        bad = C.xsetbv_violations(v) if v < 1 << 63 else []
        if v & 1 or v in masks:
            mask = f"as an XCR0 value {v:#x} is invalid ({'; '.join(bad)})" if bad else \
                f"as a mask {v:#x} is {' '.join(C.names(v))}, which no CPU and kernel searched enables"
            notes.append(f"{v} ({v:#x}): no size or offset the kernel or a C library computes is odd; {mask}"
                         if v & 1 else f"{v} ({v:#x}): {mask}")
    if unmatched:
        notes.append(NOT_MODELLED)
    return Answer(values, together, matches, unmatched, near, reads, notes)


# ------------------------------------------------------------------ explaining a signal frame

FRAME_FIELDS = ("magic1", "extended_size", "xfeatures", "xstate_size", "magic2")


@record
class FrameAnswer:
    """A signal frame's software bytes: the rules they follow, and the CPU, kernel and frame kind (64-bit,
    ia32, AMX in use) that write them."""

    fields: dict
    checks: list  # [sigframe.FrameCheck]
    producers: list  # [(variant, Match)]

    @property
    def consistent(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.consistent and bool(self.producers)

    def record(self) -> dict:
        return {"fields": {k: (f"{v:#x}" if k in ("magic1", "xfeatures", "magic2") else v)
                           for k, v in self.fields.items()},
                "consistent": self.consistent,
                "checks": [c.record() for c in self.checks],
                "producers": [{"variant": variant, "cpus": list(m.cpus), "kernels": list(m.kernels)}
                              for variant, m in self.producers],
                "ok": self.ok}


def explain_frame(space: Space, fields: dict, image_size: int | None = None) -> FrameAnswer:
    """Which CPU x kernel x frame kind writes *fields* (any of FRAME_FIELDS), and whether they agree with
    each other and with the XSAVE layouts of the CPUs searched."""
    from .swbytes import FrameCheck, frame_checks, sw_bytes

    checks = frame_checks(fields, image_size)
    by_variant: dict = {}
    sizes: dict = {}
    xf, xs = fields.get("xfeatures"), fields.get("xstate_size")
    for ci, row in enumerate(space.cells):
        p = space.profiles[ci]
        if xf and xs is not None and xf & ~C.MASK_FPSSE and all(
                n in p.components and not p.components[n].supervisor for n in C.bits(xf & ~C.MASK_FPSSE)):
            sizes.setdefault(L.standard_size(p, xf, "offset"), []).append(p.name)
        for mi, (b, _inv, _l) in enumerate(row):
            for sw in sw_bytes(b):
                have = sw.fields()
                # magic2 is judged by its own rule: a copy that lost it still names the kernel that wrote it
                if all(have[k] == v for k, v in fields.items() if k != "magic2"):
                    by_variant.setdefault(sw.variant, []).append(("frame.sw_bytes", ci, mi, None))
    if xf and xs is not None and xf & ~C.MASK_FPSSE:
        if xs in sizes:
            cpus = sizes[xs]
            checks.append(FrameCheck("xstate_size for xfeatures", True, f"{xs} is the standard size of {xf:#x} on "
                                     + (", ".join(cpus) if len(cpus) <= 4 else f"{len(cpus)} of the CPUs searched")))
        else:
            found = "; ".join(f"{s} on {', '.join(cpus)}" for s, cpus in sorted(sizes.items())) or \
                "no CPU searched has every one of these features"
            checks.append(FrameCheck("xstate_size for xfeatures", False, f"{xs} is no standard size of {xf:#x} on "
                                     f"the CPUs searched ({found}): fpstate->user_size is the standard size of "
                                     "fpstate->user_xfeatures"))
    producers = [(variant, m) for variant, hs in by_variant.items() for m in group(space, 0, hs)]
    return FrameAnswer(fields, checks, producers)
