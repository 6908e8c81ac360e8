"""The output contract: a JSON Schema (draft 2020-12) for every command's JSON and YAML, and its CSV columns.

One builder, shared definitions: a CPU x kernel record, a configuration, a verdict are defined once and every
command that prints one refers to the same definition, so one name means one thing across commands. The schemas
are also written to docs/schemas/ (tools/write_schemas.py); tests/test_schemas.py validates every command's
output against them and fails when docs/schemas/ is stale.

Rules every schema follows: objects are closed (additionalProperties false) except the few maps keyed by data
(component names, value names, kernel facts); masks are hex strings ("0x602e7"); sizes, offsets and counts are
integers; a command that can answer for several CPUs or kernels (sizes, sigstack) prints a list of CPU x kernel
records even for one; every object with "kernel" has "model"; verdicts are booleans named "ok".
"""

from __future__ import annotations

SCHEMA_VERSION = 2
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# ------------------------------------------------------------------ building blocks

STR = {"type": "string"}
INT = {"type": "integer"}
UINT = {"type": "integer", "minimum": 0}
BOOL = {"type": "boolean"}
NULL = {"type": "null"}


def ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def opt(schema: dict) -> dict:
    """The schema, or null (a value that does not apply: no XSAVE, a TCG host, an unread field)."""
    return {"anyOf": [schema, NULL]}


def arr(items: dict) -> dict:
    return {"type": "array", "items": items}


def obj(props: dict, *, optional=(), extra=False, doc: str | None = None) -> dict:
    """A closed object: every property listed, all required but *optional*."""
    out = {"type": "object", "properties": props, "required": [k for k in props if k not in optional],
           "additionalProperties": extra}
    if doc:
        out["description"] = doc
    return out


def enum(*values) -> dict:
    return {"enum": list(values)}


def strings() -> dict:
    return arr(STR)


def pair(item: dict) -> dict:
    """A value on both sides of a comparison."""
    return obj({"src": item, "dst": item})


# ------------------------------------------------------------------ shared definitions

_CONFIG = obj({"features": ref("hex"), "names": strings(), "format": ref("format"), "size": UINT},
              doc="One configuration: fpu_*_cfg's features (mask and names), format and size in bytes.")
_OPTIONS = obj({"CONFIG_X86_64": ref("yn"), "CONFIG_IA32_EMULATION": ref("yn"),
                "CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS": ref("yn"), "CONFIG_X86_USER_SHADOW_STACK": ref("yn"),
                "CONFIG_INTEL_IOMMU_SVM": ref("yn"), "cmdline": STR},
               doc="The kernel build options and boot parameters the numbers assume.")

DEFS: dict = {
    "hex": {"type": "string", "pattern": "^0x[0-9a-f]+$", "description": "A mask (XCR0, IA32_XSS, xfeatures)."},
    "yn": enum("y", "n"),
    "format": enum("standard", "compacted"),
    "config": _CONFIG,
    "configs": obj({"kernel": obj({"max": ref("config"), "default": ref("config")}),
                    "user": obj({"max": ref("config"), "default": ref("config")}),
                    "guest": obj({"max": ref("config"), "default": ref("config")})},
                   doc="fpu_kernel_cfg, fpu_user_cfg and the guest configuration, each max and default."),
    "options": _OPTIONS,
    "switch": obj({"switch": STR, "mechanism": STR, "effect": STR}),
    "dropped": obj({"feature": STR, "nr": UINT, "why": STR},
                   doc="A component the CPU enumerates that this kernel does not enable, and why."),
    "abi": obj({"sigframe_min": opt(UINT), "sigframe_min_ia32_emulation": opt(UINT),
                "sigframe_min_no_ia32_emulation": opt(UINT), "regset_xstate": opt(UINT),
                "xsave_disabled_reason": opt(STR)},
               doc="What user space sees: AT_MINSIGSTKSZ (get_sigframe_size()) and the NT_X86_XSTATE size."),
    "sizes_record": obj({
        "cpu": STR, "kernel": STR, "model": STR, "options": ref("options"), "switches": arr(ref("switch")),
        "xsave": BOOL, "compacted": BOOL, "xcr0": ref("hex"), "xss": ref("hex"), "configs": ref("configs"),
        "abi": ref("abi"), "dropped": arr(ref("dropped")), "problems": strings(),
        "explain": strings()}, optional=("explain",),
        doc="One CPU on one kernel: every configuration Linux keeps (with --explain, how each number is made)."),
    "cpu_kernel": obj({"cpu": STR, "kernel": STR, "model": STR},
                      doc="A CPU and the kernel it runs: the version as named and the model row that answered."),
    "kernel_model": obj({"cpu": STR, "kernel": opt(STR), "model": opt(STR)}),
    "check": obj({"name": STR, "ok": opt(BOOL), "detail": STR},
                 doc="One rule and whether the input follows it (null: the input cannot tell)."),
    "frame": obj({
        "fields": obj({"magic1": ref("hex"), "extended_size": UINT, "xfeatures": ref("hex"), "xstate_size": UINT,
                       "magic2": ref("hex")}, optional=("magic1", "extended_size", "xfeatures", "xstate_size", "magic2"),
                      doc="struct _fpx_sw_bytes as given, and the FP_XSTATE_MAGIC2 word after the image."),
        "consistent": BOOL, "checks": arr(ref("check")),
        "producers": arr(obj({"variant": STR, "cpus": strings(), "kernels": strings()})), "ok": BOOL},
        doc="A signal frame's software bytes: the kernel's rules (save_sw_bytes(), check_xstate_in_sigframe()) "
            "and which CPU, kernel and kind of frame write them."),
    "which_match": obj({"value": UINT, "quantity": STR, "name": STR, "function": STR, "description": STR,
                        "kind": STR, "cpus": strings(), "kernels": strings(), "libc": opt(strings())},
                       doc="A quantity that has this value, where: CPUs, kernel ranges, C library eras."),
    "layout_record": obj({"type": UINT, "name": STR, "size": UINT, "offset": UINT, "flags": UINT},
                         doc="struct x86_xfeat_component: one record of an NT_X86_XSAVE_LAYOUT note."),
    "verdict": obj({"for": enum("kvm", "raw", "rr", "criu"), "name": STR, "ok": BOOL, "gates": BOOL, "rule": STR,
                    "reasons": strings()}),
}


def _closure(schema, defs: dict, seen: set) -> None:
    if isinstance(schema, dict):
        r = schema.get("$ref")
        if r and r.startswith("#/$defs/"):
            name = r.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                _closure(defs[name], defs, seen)
        for v in schema.values():
            _closure(v, defs, seen)
    elif isinstance(schema, list):
        for v in schema:
            _closure(v, defs, seen)


# ------------------------------------------------------------------ per command

def _sizes():
    return arr(ref("sizes_record")), [["cpu", "kernel", "model", "name", "value"]]


def _features():
    comp = obj({"nr": UINT, "name": STR, "kernel_name": STR, "size": UINT, "offset": opt(UINT), "supervisor": BOOL,
                "align64": BOOL, "xfd": BOOL,
                "class": enum("legacy", "user", "dynamic", "supervisor", "guest-only", "independent", "unsupported"),
                "enabled": BOOL, "in_configs": strings(), "why_not": opt(STR)})
    return (obj({"cpu": STR, "kernel": STR, "model": STR, "components": arr(comp)}),
            [["cpu", "kernel", "model", "nr", "name", "kernel_name", "size", "offset", "supervisor", "align64", "xfd",
              "class", "enabled", "in_configs", "why_not"]])


def _layout():
    def row(std, cmp):
        return obj({"nr": opt(UINT), "name": STR, "segment": STR, "size": UINT, "std_offset": std,
                    "compacted_offset": cmp, "align64": BOOL, "supervisor": BOOL, "pad_before": UINT})

    layout = obj({"cpu": STR, "features": ref("hex"), "names": strings(), "standard_size": UINT,
                  "compacted_size": UINT, "standard_layout": arr(row(UINT, opt(UINT))),
                  "compacted_layout": arr(row(opt(UINT), UINT)), "kernel": STR, "model": STR})
    note = obj({"cpu": STR, "kernel": STR, "model": STR, "n_type": UINT, "owner": STR, "written": BOOL,
                "features": ref("hex"), "records": arr(ref("layout_record")),
                "desc_hex": {"type": "string", "pattern": "^([0-9a-f]{32})*$"}},
               doc="layout --emit-note: the NT_X86_XSAVE_LAYOUT note this kernel writes in a core "
                   "(struct x86_xfeat_component records; written false before the kernel writes it).")
    return ({"oneOf": [layout, note]},
            [["cpu", "kernel", "model", "nr", "name", "size", "std_offset", "compacted_offset", "align64",
              "supervisor"], ["cpu", "kernel", "model", "type", "name", "size", "offset", "flags"]])


def _guest():
    config = obj({"features": ref("hex"), "size": UINT, "format": ref("format")})
    state = obj({
        "configs": obj({"kernel": obj({"max": config, "default": config}),
                        "user": obj({"max": config, "default": config}),
                        "guest": obj({"max": config, "default": config}, optional=("max",))}),
        "perm": obj({"features": ref("hex"), "size": UINT, "user_size": UINT}),
        "guest_perm": obj({"features": ref("hex"), "size": UINT, "user_size": UINT, "locked": BOOL}),
        "fpstate": obj({"allocated": opt(UINT), "size": UINT, "user_size": UINT, "xfeatures": ref("hex"),
                        "user_xfeatures": ref("hex"), "xfd": ref("hex")}),
        "gfpu": obj({"xfeatures": ref("hex"), "uabi_size": UINT}),
        "guest_cpuid": obj({"xcr0": ref("hex"), "xss": ref("hex"), "leaf_0xd_0_ebx": UINT, "leaf_0xd_1_ebx": UINT}),
        "signal": obj({"at_minsigstksz": opt(UINT), "frame": UINT, "frame_bound": UINT, "margin": INT},
                      optional=("margin",)),
        "sigaltstack": UINT},
        optional=("perm", "guest_perm", "fpstate", "gfpu", "guest_cpuid", "signal", "sigaltstack"),
        doc="The whole state after the step (struct fpu_state_perm, struct fpstate, struct fpu_guest, ...).")
    result = {"anyOf": [INT, NULL, {"type": "string", "pattern": "^(-E[A-Z]+|SIG[A-Z]+)$"}]}
    step = obj({"step": UINT, "event": STR, "call": STR, "function": STR, "result": result,
                "returns": {"type": "object", "description": "What the step's calls return, by name.",
                            "additionalProperties": {"anyOf": [INT, STR, NULL, {"type": "object"}]}},
                "changed": strings(), "notes": strings(), "state": state})
    return (obj({"cpu": STR, "kernel": STR, "model": STR, "options": ref("options"), "flow": enum("guest", "process"),
                 "steps": arr(step), "verdict": STR, "ok": BOOL}),
            [["cpu", "kernel", "model", "step", "event", "call", "function", "result", "name", "value", "changed"]])


def _dmesg():
    lines = obj({"cpu": STR, "kernel": STR, "model": STR, "options": ref("options"), "lines": strings()},
                doc="dmesg --cpu: the boot lines this kernel prints.")
    comp = obj({"nr": UINT, "name": STR, "kernel_name": opt(STR), "offset": UINT, "size": UINT,
                "align64": opt(BOOL)})
    check = ref("check")
    facts = obj({
        "boot": obj({"index": UINT, "of": UINT, "line": UINT, "banner": opt(STR)}),
        "features": opt(ref("hex")), "names": strings(), "context_size": opt(UINT), "format": opt(ref("format")),
        "sigframe": opt(UINT), "legacy": opt(STR), "problems": strings(), "unreadable": strings(),
        "components": arr(comp),
        "checks": arr(check), "ok": BOOL, "kernel_source": STR, "kernel_models": strings(), "cpus": strings()},
        doc="dmesg --check LOG without --cpu: what the log says, whether it adds up, which models print it.")
    against = obj({
        "boot": obj({"index": UINT, "of": UINT, "line": UINT, "banner": opt(STR)}),
        "cpu": STR, "kernel": STR, "model": STR, "kernel_source": STR, "kernel_models": strings(),
        "options": ref("options"), "ok": BOOL, "matching": strings(), "differing": arr(obj({"expected": STR, "actual": STR})), "unexpected": strings(),
        "missing": strings(), "ignored": strings()},
        doc="dmesg --check LOG --cpu CPU: the log held against the model, line by line.")
    return ({"oneOf": [lines, facts, against]},
            [["cpu", "kernel", "model", "line"], ["nr", "name", "kernel_name", "offset", "size", "align64"],
             ["cpu", "kernel", "model", "status", "expected", "actual"]])


def _check():
    finding = obj({"severity": enum("error", "warning", "info"), "rule": STR, "message": STR,
                   "kernel_line": opt(STR), "consequence": STR})
    return (obj({"cpu": STR, "kernel": STR, "model": STR, "ok": BOOL, "findings": arr(finding)}),
            [["cpu", "kernel", "model", "severity", "rule", "message", "kernel_line", "consequence"]])


def _compare():
    side = obj({"size": UINT, "std_offset": opt(UINT), "compacted_offset": opt(UINT), "align64": BOOL,
                "supervisor": BOOL, "enabled": BOOL})
    comp = obj({"nr": UINT, "name": STR, "src": opt(side), "dst": opt(side), "differs": BOOL})
    value = {"anyOf": [INT, BOOL, STR, NULL, strings()]}
    return (obj({"src": ref("cpu_kernel"), "dst": ref("cpu_kernel"), "for": arr(enum("kvm", "raw", "rr", "criu")),
                 "ok": BOOL, "components": arr(comp),
                 "values": {"type": "object", "description": "Every value name (see verify) on both sides.",
                            "additionalProperties": pair(value)},
                 "verdicts": arr(ref("verdict")),
                 "common": obj({"xcr0": ref("hex"), "names": strings(), "xss": ref("hex"),
                                "standard_size": pair(UINT), "compacted_size": pair(UINT)})}),
            [["src.cpu", "src.kernel", "dst.cpu", "dst.kernel", "for", "name", "ok", "gates", "rule", "reasons"]])


def _verify():
    result = obj({"case": STR, "cpu": STR, "kernel": STR, "model": STR, "name": STR,
                  "expected": {"anyOf": [INT, STR, BOOL, NULL]}, "actual": {"anyOf": [INT, STR, BOOL, NULL]},
                  "ok": BOOL})
    return (obj({"ok": BOOL, "results": arr(result)}),
            [["case", "cpu", "kernel", "model", "name", "expected", "actual", "ok"]])


def _sigstack():
    dyn = obj({"constant": UINT, "dynamic": opt(UINT)})
    ld_so = obj({"register_area": UINT, "full": UINT, "lazy_binding": UINT, "tlsdesc": opt(UINT), "format": STR,
                 "evidence": STR})
    libc = obj({"name": enum("glibc", "musl"), "version": opt(STR), "rules": STR, "sc_minsigstksz": opt(UINT),
                "sc_sigstksz": opt(UINT), "sc_sigstksz_page_multiple": opt(BOOL), "minsigstksz": dyn,
                "sigstksz": dyn, "pthread_stack_min": dyn, "page_size": UINT, "sigaltstack_min": UINT,
                "sigaltstack_check": STR, "ld_so": opt(ld_so), "evidence": STR, "status": STR})
    need = obj({"default": UINT, "permitted": UINT})
    stack = obj({"who": STR, "version": STR, "kind": enum("altstack", "below-sp", "buffer", "none"),
                 "size": opt(UINT), "usable": opt(INT), "need": need, "fits": opt(BOOL), "delivered": opt(BOOL),
                 "margin": opt(INT), "verdict": STR, "why": STR, "consequence": STR, "formula": STR, "source": STR,
                 "status": STR, "reports": strings()})
    rules = obj({"dynamic_features": BOOL,
                 "sigaltstack_check": obj({"default": opt(UINT), "permitted": opt(UINT), "strict_sas_size": BOOL,
                                           "minsigstksz": UINT}),
                 "arch_req_xcomp_perm_min": opt(UINT)})
    frame = obj({"default": UINT, "permitted": UINT})
    record = obj({"cpu": STR, "kernel": STR, "model": STR, "options": ref("options"), "at_minsigstksz": opt(UINT),
                  "frame": frame, "frame_bound": frame, "kernel_rules": rules, "libc": libc, "stacks": arr(stack),
                  "ok": BOOL})
    return (arr(record),
            [["cpu", "kernel", "model", "libc.rules", "at_minsigstksz", "libc.sc_minsigstksz", "libc.sc_sigstksz",
              "who", "version", "kind", "size", "usable", "need.default", "need.permitted", "fits", "delivered",
              "margin", "verdict"]])


def _limit():
    row = obj({"cpu": STR, "kernel": STR, "model": STR, "value": UINT, "over": UINT})
    return (obj({"name": STR, "limit": UINT, "checked": UINT, "ok": BOOL, "exceeding": arr(row)}),
            [["cpu", "kernel", "model", "name", "value", "limit", "over"]])


def _core():
    layout = ref("layout_record")
    comp = obj({"nr": UINT, "name": STR, "offset": UINT, "size": UINT, "holds_state": BOOL})
    sw = obj({"magic1": ref("hex"), "extended_size": UINT, "xfeatures": ref("hex"), "xstate_size": UINT},
             doc="struct _fpx_sw_bytes of a signal frame's fpstate.")
    check = obj({"cpu": STR, "ok": BOOL, "differences": strings()})
    return (obj({"file": STR, "input": enum("core", "ptrace-or-kvm", "signal-frame", "xsave", "raw"), "ok": BOOL,
                 "writer": opt(enum("kernel", "gdb")), "size": UINT, "xcr0": opt(ref("hex")), "xcr0_from": opt(STR),
                 "signal_sw_bytes": opt(sw), "xstate_bv": opt(ref("hex")), "xcomp_bv": opt(ref("hex")),
                 "format": ref("format"), "layout_source": enum("note", "inferred"), "layout": opt(arr(layout)),
                 "components": arr(comp), "candidates": strings(),
                 "layouts": arr(obj({"cpus": strings(), "offsets": {"type": "object",
                                                                    "additionalProperties": UINT}})),
                 "layouts_differ": BOOL, "elf_notes": arr(obj({"owner": STR, "type": STR, "size": UINT})),
                 "elf_note_count": UINT,
                 "problems": strings(), "check": opt(check), "fsave_header": UINT, "frame": ref("frame"),
                 "component": obj({"nr": UINT, "name": STR, "hex": {"type": "string", "pattern": "^[0-9a-f]*$"}})},
                optional=("component", "frame")),
            [["file", "nr", "name", "offset", "size", "holds_state"]])


def _which():
    searched = obj({"cpus": strings(), "kernels": strings(), "libc": strings(), "options": ref("options")},
                   optional=("libc",))
    near = obj({"value": UINT, "nearest": UINT, "difference": INT, "differences": strings(),
                "matches": arr(ref("which_match"))})
    step = obj({"quantity": STR, "name": STR, "value": {"anyOf": [UINT, STR]}, "rule": STR})
    reading = obj({"value": UINT, "steps": arr(step),
                   "nearest": arr(obj({"value": UINT, "matches": arr(ref("which_match"))}))})
    numbers = obj({"values": arr(UINT), "together": opt(BOOL), "ok": BOOL, "matches": arr(ref("which_match")),
                   "unmatched": arr(UINT), "nearest": arr(near), "readings": arr(reading), "notes": strings(),
                   "searched": searched}, doc="which NUMBER...: where each number occurs.")
    frame = obj({**DEFS["frame"]["properties"], "searched": searched},
                doc="which --frame: a signal frame's software bytes explained.")
    return ({"oneOf": [numbers, frame]},
            [["value", "quantity", "name", "function", "cpus", "kernels", "libc"], ["name", "ok", "detail"]])


def _host():
    value = {"anyOf": [INT, STR, NULL]}
    row = obj({"quantity": STR, "expected": value, "actual": value,
               "status": enum("match", "differs", "unavailable"), "how": STR})
    return (obj({"cpu": STR, "description": STR, "kernel": STR, "model": STR, "options": ref("options"),
                 "options_read": strings(), "ok": BOOL, "rows": arr(row)}),
            [["cpu", "kernel", "model", "quantity", "expected", "actual", "status", "how"]])


def _kernels():
    row = obj({"kernel": STR, "model": STR, "branch": opt(STR), "lts": BOOL, "released": BOOL,
               "moves_numbers": BOOL, "status": STR, "summary": STR, "evidence": STR,
               "facts": {"type": "object", "description": "The model's facts by name (xstatecalc/kernels.py).",
                         "additionalProperties": True}})
    return arr(row), [["kernel", "model", "branch", "lts", "released", "moves_numbers", "status", "summary",
                       "evidence"]]


def _cpus():
    row = obj({"name": STR, "aliases": strings(), "vendor": STR, "xcr0_supported": ref("hex"),
               "xss_supported": ref("hex"), "hypothetical": BOOL, "description": STR, "source": STR})
    return arr(row), [["name", "aliases", "vendor", "xcr0_supported", "xss_supported", "hypothetical",
                       "description", "source"]]


def _vcpu():
    regs = {"type": "array", "items": UINT, "minItems": 4, "maxItems": 4}
    return (obj({
        "cpu": STR,
        "vmm": obj({"name": enum("qemu", "firecracker", "libvirt"), "release": STR, "status": STR, "evidence": STR}),
        "cpu_model": obj({"name": STR, "version": opt(UINT), "alias": opt(STR), "modifiers": strings(),
                          "requested": strings()}),
        "spec": STR, "accel": enum("kvm", "tcg"), "host": ref("kernel_model"), "xcr0": ref("hex"),
        "xss": ref("hex"), "flags": strings(),
        "dropped": arr(obj({"feature": STR, "why": STR, "components": strings()})),
        "leaf_0xd": {"type": "object", "description": "CPUID(0xD, n) as the guest reads it: [eax, ebx, ecx, edx].",
                     "propertyNames": {"pattern": "^[0-9]+$"}, "additionalProperties": regs},
        "problems": strings(), "notes": strings(), "ok": BOOL, "guest": ref("sizes_record")}),
        [["cpu", "vmm.name", "vmm.release", "cpu_model.name", "host.cpu", "host.kernel", "subleaf", "eax", "ebx",
          "ecx", "edx"]])


def _pool():
    group = obj({"from": strings(), "to": strings(), "reason": STR})
    consumer = obj({"ok": BOOL, "gates": BOOL, "failing": arr(group)})
    kind = obj({"kind": STR, "cpu": STR, "kernel": STR, "model": STR, "libc": STR, "count": UINT,
                "members": strings(), "xcr0": ref("hex"), "xss": ref("hex")})
    return (obj({
        "hosts": obj({"count": UINT, "names": strings()}),
        "kinds": arr(kind),
        "common": obj({"xcr0": ref("hex"), "xss": ref("hex"), "names": strings()}),
        "max": {"type": "object", "description": "The largest of each value name, and the kinds that have it.",
                "additionalProperties": obj({"size": UINT, "kinds": strings()})},
        "holding_back": arr(obj({"kind": STR, "count": UINT, "gains": strings()})),
        "consumers": obj({"kvm": consumer, "raw": consumer, "rr": consumer, "criu": consumer}),
        "qemu": arr(obj({"release": STR, "cpu_model": opt(STR), "xcr0": ref("hex"), "xss": ref("hex"),
                         "sizes": {"type": "object", "additionalProperties": UINT}})),
        "renamed": strings(), "for": arr(enum("kvm", "raw", "rr", "criu")), "ok": BOOL}),
        [["for", "gates", "from", "to", "reason"]])


def _import():
    row = obj({"file": STR, "name": STR, "duplicate_of": opt(STR), "renamed_from": opt(STR), "findings": strings(),
               "error": opt(STR), "written": opt(STR)})
    return arr(row), [["file", "name", "written", "duplicate_of", "renamed_from", "error"]]


BUILDERS = {
    "sizes": (_sizes, "Every configuration's features, format and size: one record per CPU and kernel."),
    "features": (_features, "One row per XSAVE component of one CPU on one kernel."),
    "layout": (_layout, "Offsets, sizes and padding of a mask in both formats."),
    "guest": (_guest, "The KVM guest (or process) fpstate flow, step by step, and its verdict."),
    "vcpu": (_vcpu, "A VMM's CPU model on a host: the guest's leaf 0xD and its kernel's sizes."),
    "check": (_check, "A leaf 0xD judged as the kernel and the SDM judge it."),
    "compare": (_compare, "Can state move from SRC to DST: components, values and verdicts."),
    "verify": (_verify, "An expectations file held against the model."),
    "dmesg": (_dmesg, "Boot lines: printed for a CPU, read from a log, or a log held against a CPU."),
    "pool": (_pool, "A fleet: what it shares, what holds it back, the failing pairs per consumer."),
    "sigstack": (_sigstack, "Signal stacks: the kernel's frame, the C library's values, every stack's verdict."),
    "which": (_which, "From a number back to the cause: every quantity equal to it, or a signal frame explained."),
    "limit": (_limit, "CPU x kernel pairs whose value exceeds a size a program hard-codes."),
    "import": (_import, "A batch import: one record per dump (a single dump prints its profile as YAML)."),
    "host": (_host, "This machine: the model held against what the running kernel reports."),
    "core": (_core, "An XSAVE image (ELF core, raw blob, signal frame): what it holds, which layouts fit."),
    "kernels": (_kernels, "The kernel models and their facts."),
    "cpus": (_cpus, "The built-in CPU profiles."),
}


def schema(command: str) -> dict:
    """The JSON Schema of `xstatecalc COMMAND --format json` (and yaml), with its CSV columns."""
    build, what = BUILDERS[command]
    body, csv_columns = build()
    used: set = set()
    _closure(body, DEFS, used)
    return {
        "$schema": DIALECT,
        "$id": f"urn:xstatecalc:schema:{SCHEMA_VERSION}:{command}",
        "title": f"xstatecalc {command} --format json",
        "description": what,
        "schema_version": SCHEMA_VERSION,
        "x-csv-columns": csv_columns,
        **body,
        "$defs": {name: DEFS[name] for name in sorted(used)},
    }


def commands() -> list[str]:
    return list(BUILDERS)
