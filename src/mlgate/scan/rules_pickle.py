"""Rules of the static pickle analysis and of pickles embedded in other formats
(MLG-SCAN-050..099)."""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

_CONVERT = (
    "Do not load this file. Ask the publisher for a safetensors (or ONNX/GGUF) version of the "
    "weights, or convert a trusted copy in an isolated sandbox with "
    "`safetensors.torch.save_file(state_dict, ...)`; load pickles only with a restricted "
    "loader such as `torch.load(..., weights_only=True)`."
)
_TAGS = ("security", "pickle")

DANGEROUS_GLOBAL = Rule(
    "MLG-SCAN-050", Severity.CRITICAL, "Pickle imports a dangerous callable",
    "The pickle imports a global that is known to run code when the pickle is loaded: a "
    "process or shell call, code evaluation, import machinery, an attribute getter that reaches "
    "any function, file or network I/O, a nested deserializer or a debugger. Loading the file "
    "runs it.",
    _CONVERT, tags=_TAGS,
)
GLOBAL_NOT_ALLOWED = Rule(
    "MLG-SCAN-051", Severity.HIGH, "Pickle imports a global not on the reviewed allowlist",
    "The pickle imports a class or function that is not on mlgate's reviewed allowlist of "
    "tensor/array rebuild helpers and plain data types (nor on scan.allow_globals). Any "
    "callable a pickle imports can run code when the file is loaded; a full nn.Module or a "
    "custom class also ties loading to that code.",
    "Save only the weights (a state_dict) in safetensors. If the global is a class you trust "
    "and review, add its exact 'module.name' to scan.allow_globals in mlgate.yml.",
    tags=_TAGS,
)
UNRESOLVED_GLOBAL = Rule(
    "MLG-SCAN-052", Severity.HIGH, "Pickle imports a global that could not be resolved",
    "A STACK_GLOBAL opcode takes its module and name from values that are not constant strings "
    "(computed on the stack, or taken from an unknown memo slot), so the static analysis cannot "
    "tell what is imported. Benign picklers always write constant names.",
    _CONVERT, tags=_TAGS,
)
EXTENSION_REGISTRY = Rule(
    "MLG-SCAN-053", Severity.HIGH, "Pickle imports through the copyreg extension registry",
    "EXT1/EXT2/EXT4 import a global by a number looked up in the loading process's copyreg "
    "extension registry, so what is imported depends on the loader, not on the file. No "
    "model format uses it.",
    _CONVERT, tags=_TAGS,
)
UNKNOWN_CALLABLE = Rule(
    "MLG-SCAN-054", Severity.HIGH, "Pickle calls a computed callable",
    "REDUCE, NEWOBJ, NEWOBJ_EX or OBJ calls a value that is not an imported global (e.g. the "
    "result of another call, such as getattr(module, 'system')). Benign pickles only call "
    "imported globals.",
    _CONVERT, tags=_TAGS,
)
BROKEN_STREAM = Rule(
    "MLG-SCAN-055", Severity.HIGH, "Pickle stream is malformed or truncated",
    "The opcode stream breaks before its end (truncated, unknown opcode, bad argument, stack "
    "or mark underflow). Everything before the break was analysed and is reported; what a "
    "loader makes of the rest cannot be checked, so the file fails closed.",
    "Re-export the file from a trusted source; do not load a damaged pickle.",
    tags=_TAGS,
)
TRAILING_BYTES = Rule(
    "MLG-SCAN-056", Severity.MEDIUM, "Bytes after the last pickle",
    "The file continues after the last STOP opcode with bytes that are not another pickle. "
    "Loaders ignore them, which makes them a place to hide a second payload (polyglot files).",
    "Re-export the file; a clean export ends at its last pickle.",
    tags=_TAGS,
)
ANALYSIS_LIMIT = Rule(
    "MLG-SCAN-057", Severity.HIGH, "Pickle analysis hit a limit",
    "The pickle exceeds a bound of the static analysis (stack depth, nesting, time), so the "
    "rest of the stream was analysed without tracking values (or not at all). Files written "
    "by Python's pickler stay far inside these bounds.",
    "Re-export the file with a standard pickler, or better as safetensors; raise "
    "scan.max_seconds_per_file if the time limit was hit on a large benign file.",
    tags=_TAGS,
)
HUGE_ARGUMENT = Rule(
    "MLG-SCAN-058", Severity.HIGH, "Pickle opcode declares more bytes than the file holds",
    "An opcode argument (BINBYTES8, BINUNICODE8, FRAME...) declares a length that runs past "
    "the end of the stream: a truncated file, or an attempt to make loaders allocate huge "
    "buffers.",
    "Re-export the file from a trusted source.",
    tags=_TAGS,
)
NUMPY_MALFORMED = Rule(
    "MLG-SCAN-060", Severity.HIGH, "NumPy .npy header is malformed",
    "The .npy magic is followed by a header that is not a valid dictionary of 'descr', "
    "'fortran_order' and 'shape' (or is too large), so the file's contents cannot be checked.",
    "Re-export the array with numpy.save from a trusted source, or convert it to safetensors.",
    tags=("security", "numpy"),
)
NUMPY_OBJECT_ARRAY = Rule(
    "MLG-SCAN-061", Severity.INFO, "NumPy .npy holds an object array (embedded pickle)",
    "The array's dtype contains Python objects, so its payload is a pickle that "
    "numpy.load(allow_pickle=True) would load. mlgate analysed that pickle; its findings are "
    "reported separately.",
    "Store numeric arrays only (no dtype=object), e.g. in safetensors.",
    tags=("security", "numpy"),
)
NUMPY_SIZE_MISMATCH = Rule(
    "MLG-SCAN-062", Severity.MEDIUM, "NumPy .npy size does not match its header",
    "The header's shape and dtype declare a payload of a different size than the file holds: "
    "a truncated file, or extra bytes hidden after the array.",
    "Re-export the array with numpy.save from a trusted source.",
    tags=("security", "numpy"),
)

RULES: list[Rule] = [
    DANGEROUS_GLOBAL, GLOBAL_NOT_ALLOWED, UNRESOLVED_GLOBAL, EXTENSION_REGISTRY,
    UNKNOWN_CALLABLE, BROKEN_STREAM, TRAILING_BYTES, ANALYSIS_LIMIT, HUGE_ARGUMENT,
    NUMPY_MALFORMED, NUMPY_OBJECT_ARRAY, NUMPY_SIZE_MISMATCH,
]
