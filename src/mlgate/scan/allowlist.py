"""Which pickle globals are safe to import, and why the others are not.

The pickle analysis is **allowlist**-based: a global (``module.name`` imported by GLOBAL,
INST or STACK_GLOBAL) passes only when it is on the reviewed list below, or on the user's
extension in ``mlgate.yml`` (``scan.allow_globals``). Everything else is a finding. A second
table, ``DANGEROUS``, does not decide whether a global passes (the allowlist does); it only
explains *why* a global is critical (process/shell, code evaluation, import machinery, file and
network I/O, attribute getters, nested deserializers, debuggers...). Entries of that table can
never be allowed by configuration: a ``scan.allow_globals`` entry naming one (or a wildcard
covering one) is ignored for it, and the finding says so.

Review notes for the built-in list (docs/scan-pickle.md has the long form):
- every entry is a class or function that builds plain data (containers, tensors, arrays,
  dtypes) from its arguments; none imports, evaluates, opens, or calls back into a loader;
- functions that take a callable argument (``copyreg._reconstructor``,
  ``torch._tensor._rebuild_from_type_v2``) are safe because that callable must itself come
  from the pickle, i.e. through a global that is checked on its own;
- ``torch.storage._load_from_bytes`` is deliberately absent: it calls ``torch.load`` on bytes
  taken from the pickle (a nested, unrestricted unpickler);
- scikit-learn classes are absent: the package also has functions that read files and fetch
  URLs, so no ``sklearn.*`` wildcard can be reviewed; list the exact estimator classes your
  model uses in ``scan.allow_globals``.

Matching is exact on ``(module, name)`` after the Python 2 name mapping the real unpickler
applies (``__builtin__`` -> ``builtins``, ``copy_reg`` -> ``copyreg``...). A dotted name such as
``("torch", "_utils._rebuild_tensor_v2")`` (protocol 4 attribute paths) is *not* the same entry
and is reported; the dangerous table, on the other hand, matches on the whole dotted path and on
whitespace-stripped names, so the critical classification cannot be dodged by splitting a path
differently or by padding it.
"""

from __future__ import annotations

import _compat_pickle
from collections.abc import Iterable
from dataclasses import dataclass, field

# --- the reviewed allowlist (data) ----------------------------------------------------------

_TORCH_STORAGES = (
    "BFloat16Storage", "BoolStorage", "ByteStorage", "CharStorage", "ComplexDoubleStorage",
    "ComplexFloatStorage", "DoubleStorage", "FloatStorage", "HalfStorage", "IntStorage",
    "LongStorage", "QInt32Storage", "QInt8Storage", "QUInt2x4Storage", "QUInt4x2Storage",
    "QUInt8Storage", "ShortStorage",
)
_TORCH_TENSOR_TYPES = (
    "BFloat16Tensor", "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor",
    "HalfTensor", "IntTensor", "LongTensor", "ShortTensor",
)
_TORCH_DTYPES = (
    "bfloat16", "bits16", "bits1x8", "bits2x4", "bits4x2", "bits8", "bool", "complex128",
    "complex32", "complex64", "float16", "float32", "float64", "float4_e2m1fn_x2",
    "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
    "half", "double", "float", "int", "long", "short", "cfloat", "cdouble",
    "int1", "int2", "int3", "int4", "int5", "int6", "int7", "int8", "int16", "int32", "int64",
    "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "uint8", "uint16", "uint32",
    "uint64", "qint8", "qint32", "quint8", "quint2x4", "quint4x2",
    # memory formats, layouts and quantization schemes are plain enum-like values
    "contiguous_format", "channels_last", "channels_last_3d", "preserve_format",
    "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "jagged",
    "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
    "per_channel_symmetric", "per_channel_affine_float_qparams",
)
_TORCH_REBUILD = (
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
    "_rebuild_nested_tensor", "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_meta_tensor_no_storage",
    "_rebuild_wrapper_subclass",
)
_NUMPY_SCALARS = (
    "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "longdouble", "complex64", "complex128", "clongdouble",
    "str_", "bytes_", "void", "datetime64", "timedelta64", "intc", "uintc", "longlong",
    "ulonglong", "half", "single", "double",
)
_BIT_GENERATORS = (
    ("numpy.random._mt19937", "MT19937"), ("numpy.random._pcg64", "PCG64"),
    ("numpy.random._pcg64", "PCG64DXSM"), ("numpy.random._philox", "Philox"),
    ("numpy.random._sfc64", "SFC64"),
)


def _builtin_entries() -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    # builtins: constructors of plain data only
    for name in ("set", "frozenset", "bytearray", "bytes", "complex", "slice", "range", "list",
                 "dict", "tuple", "int", "float", "bool", "str", "object"):
        out.add(("builtins", name))
    out |= {
        ("collections", "OrderedDict"), ("collections", "Counter"),
        ("collections", "defaultdict"), ("collections", "deque"),
        # protocol 2 pickles of bytes: _codecs.encode(text, 'latin1'); codec names cannot
        # reach modules outside the 'encodings' package
        ("_codecs", "encode"), ("codecs", "encode"),
        # default object reconstruction; the class argument is a global checked on its own
        ("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__"),
        ("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"),
        ("datetime", "timedelta"), ("datetime", "timezone"),
        ("decimal", "Decimal"), ("fractions", "Fraction"), ("uuid", "UUID"),
    }
    # torch (the weights_only loader's own list, reviewed, without _load_from_bytes)
    for name in _TORCH_STORAGES:
        out.add(("torch", name))
        out.add(("torch.cuda", name))
    for name in _TORCH_TENSOR_TYPES:
        out.add(("torch", name))
        out.add(("torch.cuda", name))
        out.add(("torch.sparse", name))
        out.add(("torch.cuda.sparse", name))
    for name in _TORCH_DTYPES:
        out.add(("torch", name))
    for name in _TORCH_REBUILD:
        out.add(("torch._utils", name))
    out |= {
        ("torch", "Size"), ("torch", "Tensor"), ("torch", "device"), ("torch", "dtype"),
        ("torch", "UntypedStorage"), ("torch", "TypedStorage"),
        ("torch.storage", "UntypedStorage"), ("torch.storage", "TypedStorage"),
        ("torch.nn.parameter", "Parameter"), ("torch.nn.parameter", "Buffer"),
        ("torch._tensor", "_rebuild_from_type_v2"), ("torch._tensor", "_rebuild_from_type"),
        ("torch.serialization", "_get_layout"),
    }
    # numpy (1.x 'numpy.core' and 2.x 'numpy._core' paths)
    for core in ("numpy.core", "numpy._core"):
        out |= {
            (f"{core}.multiarray", "_reconstruct"), (f"{core}.multiarray", "scalar"),
            (f"{core}.numeric", "_frombuffer"),
        }
    out |= {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "matrix"),
        ("numpy.matrixlib.defmatrix", "matrix"),
        ("numpy.ma.core", "_mareconstruct"), ("numpy.ma.core", "MaskedArray"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random.mtrand", "RandomState"), ("numpy.random._generator", "Generator"),
        # joblib's wrapper around numpy arrays written inline after the pickle opcode
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    }
    out |= set(_BIT_GENERATORS)
    for name in _NUMPY_SCALARS:
        out.add(("numpy", name))
    return frozenset(out)


BUILTIN_ALLOWLIST: frozenset[tuple[str, str]] = _builtin_entries()
"""(module, name) pairs that pass without configuration."""

BUILTIN_ALLOW_MODULES: frozenset[str] = frozenset({"numpy.dtypes"})
"""Modules all of whose globals pass (numpy.dtypes holds only DType classes)."""


# --- the dangerous classification (data) ----------------------------------------------------

# (dotted prefix, category). A global is dangerous when its full dotted path equals a prefix
# or starts with prefix + ".". Longest prefix wins.
_DANGEROUS_PREFIXES: tuple[tuple[str, str], ...] = (
    # processes and shells
    *((m, "runs processes or shell commands") for m in (
        "os", "posix", "nt", "subprocess", "_posixsubprocess", "pty", "commands", "popen2",
        "multiprocessing", "concurrent.futures", "asyncio.subprocess", "_winapi", "msvcrt",
        "platform.popen", "signal",
    )),
    # code evaluation and code objects
    *((m, "evaluates or compiles code") for m in (
        "builtins.eval", "builtins.exec", "builtins.compile", "builtins.execfile",
        "code", "codeop", "types.CodeType", "types.FunctionType", "types.LambdaType",
        "types.MethodType", "numpy.testing._private.utils.runstring", "numpy.testing.runstring",
        "torch.jit", "torch.package", "torch._dynamo", "torch.compile", "torch.fx",
        "torch.utils.cpp_extension", "ast", "dis", "marshal",
    )),
    # import machinery
    *((m, "import machinery (loads arbitrary modules)") for m in (
        "builtins.__import__", "importlib", "imp", "pkgutil", "zipimport", "runpy",
        "builtins.__loader__", "sys", "site",
    )),
    # attribute/method getters that reach any function
    *((m, "attribute or method getter: reaches any function") for m in (
        "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.vars",
        "builtins.globals", "builtins.locals", "builtins.dir", "builtins.type",
        "operator.attrgetter", "operator.methodcaller", "operator.getitem",
        "_operator.attrgetter", "_operator.methodcaller", "_operator.getitem",
        "inspect", "gc",
    )),
    # call wrappers
    *((m, "wraps or chains calls to other callables") for m in (
        "functools.partial", "functools.reduce", "_functools.partial", "_functools.reduce",
        "functools.partialmethod", "itertools", "builtins.map", "builtins.filter",
        "builtins.apply", "copyreg._reconstructor_ex", "operator.call", "_operator.call",
        "contextlib", "threading", "_thread", "atexit", "weakref.finalize",
    )),
    # file I/O
    *((m, "reads or writes files") for m in (
        "builtins.open", "io", "_io", "shutil", "pathlib", "tempfile", "glob", "fileinput",
        "linecache", "zipfile", "tarfile", "mmap", "codecs.open", "_pyio", "posixpath",
        "ntpath", "genericpath", "numpy.fromfile", "numpy.memmap", "numpy.savetxt",
        "numpy.loadtxt", "numpy.genfromtxt", "numpy.save", "numpy.savez", "numpy.tofile",
    )),
    # network
    *((m, "network access") for m in (
        "socket", "_socket", "ssl", "http", "urllib", "urllib2", "urllib3", "requests",
        "httplib", "ftplib", "smtplib", "poplib", "imaplib", "telnetlib", "xmlrpc",
        "webbrowser", "asyncio", "socketserver", "torch.hub", "huggingface_hub",
    )),
    # nested deserializers (a second, unrestricted loader)
    *((m, "nested deserializer: loads another pickle or model without checks") for m in (
        "pickle", "_pickle", "cPickle", "dill", "cloudpickle", "shelve", "jsonpickle",
        "joblib.load", "joblib.numpy_pickle.load", "joblib.numpy_pickle_compat",
        "torch.load", "torch.serialization", "torch.storage._load_from_bytes",
        "torch._C._load_for_lite_interpreter", "torch._weights_only_unpickler",
        "numpy.load", "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.lib.format",
        "yaml", "keras", "tensorflow", "tf_keras", "_pickle.loads", "pandas.read_pickle",
        "pandas.io.pickle",
    )),
    # debuggers, profilers, test runners (run code strings)
    *((m, "debugger/profiler/test runner: runs code strings") for m in (
        "pdb", "bdb", "cProfile", "profile", "trace", "timeit", "doctest", "unittest",
        "pydoc", "idlelib", "pstats", "tracemalloc", "faulthandler",
    )),
    # native code and package installation
    *((m, "native code or memory access") for m in ("ctypes", "_ctypes", "cffi")),
    *((m, "installs or builds packages") for m in (
        "pip", "setuptools", "distutils", "ensurepip", "venv",
    )),
)
# These are lookups that the prefixes above would catch too broadly or not at all.
_SAFE_OVERRIDES: frozenset[str] = frozenset({
    "torch.serialization._get_layout",
})

_DANGEROUS: dict[str, str] = dict(_DANGEROUS_PREFIXES)


def dangerous_reason(module: str, name: str) -> str | None:
    """Why ``module.name`` is known-dangerous, or None when it is not in the table.

    Matches the whole dotted path (module and name joined), with the Python 2 name mapping
    applied and surrounding whitespace removed, on every dotted prefix."""
    mod, nm = canonical(module.strip(), name.strip())
    full = f"{mod}.{nm}" if nm else mod
    if full in _SAFE_OVERRIDES:
        return None
    parts = full.split(".")
    for i in range(len(parts), 0, -1):
        reason = _DANGEROUS.get(".".join(parts[:i]))
        if reason is not None:
            return reason
    return None


def canonical(module: str, name: str) -> tuple[str, str]:
    """The names the Python 3 unpickler imports for a (protocol < 3) Python 2 global."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    if module in _compat_pickle.IMPORT_MAPPING:
        return _compat_pickle.IMPORT_MAPPING[module], name
    return module, name


# --- verdicts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """The allowlist's answer for one global.

    allowed:   True when the global passes
    dangerous: the reason from the dangerous table, or None
    source:    'builtin' / 'policy' when allowed; '' otherwise
    note:      extra text for the finding (e.g. a policy entry that was ignored)
    """

    allowed: bool
    dangerous: str | None = None
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Allowlist:
    """The built-in allowlist plus the user's extension (``scan.allow_globals``)."""

    exact: frozenset[tuple[str, str]] = BUILTIN_ALLOWLIST
    modules: frozenset[str] = BUILTIN_ALLOW_MODULES
    user_exact: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    user_modules: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_policy(cls, entries: Iterable[str]) -> Allowlist:
        """``entries``: 'module.name' (the last dot splits module from name) or 'module.*'
        (every global of that module and its submodules)."""
        user_exact: set[tuple[str, str]] = set()
        user_modules: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if entry.endswith(".*"):
                if entry[:-2]:
                    user_modules.add(entry[:-2])
            elif "." in entry:
                mod, _, nm = entry.rpartition(".")
                user_exact.add((mod, nm))
        return cls(user_exact=frozenset(user_exact), user_modules=frozenset(user_modules))

    def check(self, module: str, name: str) -> Verdict:
        mod, nm = canonical(module, name)
        danger = dangerous_reason(module, name)
        if danger is None and ((mod, nm) in self.exact or mod in self.modules):
            return Verdict(True, source="builtin")
        user = (mod, nm) in self.user_exact or any(
            mod == m or mod.startswith(m + ".") for m in self.user_modules
        )
        if danger is not None:
            note = (" It is listed in scan.allow_globals, but known-dangerous globals cannot "
                    "be allowed by configuration." if user else "")
            return Verdict(False, dangerous=danger, note=note)
        if user:
            return Verdict(True, source="policy")
        return Verdict(False)


DEFAULT_ALLOWLIST = Allowlist()
