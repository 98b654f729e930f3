"""Rules of the per-format handlers (MLG-SCAN-100..199): safetensors, Keras, ONNX, GGUF,
TensorFlow SavedModel, JSON configs (Hugging Face ``auto_map``, tokenizer configs), Python code
shipped with a model, and the modelscan second-opinion engine.

Ranges: 100-109 safetensors, 110-119 Keras, 120-129 ONNX, 130-139 GGUF, 140-149 SavedModel,
150-159 JSON configs, 160-169 Python code, 190-199 modelscan.
"""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

_CONVERT = "Re-export the weights as safetensors with a trusted tool and scan again."

# --- safetensors (100-109) --------------------------------------------------------------------
ST_HEADER_LENGTH = Rule(
    "MLG-SCAN-100", Severity.HIGH,
    "safetensors header length is out of bounds",
    "The 8-byte little-endian header length of a safetensors file is larger than the file, "
    "larger than the 100 MB the reference loader accepts, or the file is shorter than 8 bytes. "
    "Loaders disagree on such files; some crashed or over-allocated on them.",
    "Do not use the file. " + _CONVERT,
)
ST_HEADER_JSON = Rule(
    "MLG-SCAN-101", Severity.HIGH,
    "safetensors header is not valid JSON",
    "The header of a safetensors file is not a UTF-8 JSON object (or uses NaN/Infinity, deep "
    "nesting or other constructs the reference loader rejects). The file is not what it claims "
    "to be; it may be a polyglot built to fool one parser.",
    "Do not use the file. " + _CONVERT,
)
ST_DUPLICATE_KEY = Rule(
    "MLG-SCAN-102", Severity.HIGH,
    "safetensors header repeats a key",
    "A JSON key appears twice in the header. Parsers differ on which value wins, so two tools "
    "can see two different models in one file (a parser-differential trick).",
    "Do not use the file. " + _CONVERT,
)
ST_BAD_TENSOR = Rule(
    "MLG-SCAN-103", Severity.HIGH,
    "safetensors tensor entry is invalid",
    "A tensor entry has an unknown dtype, a shape that is not a list of non-negative integers, "
    "data_offsets that are not two ordered integers inside the data section, or a byte length "
    "that does not match dtype x shape.",
    "Do not use the file. " + _CONVERT,
)
ST_LAYOUT = Rule(
    "MLG-SCAN-104", Severity.HIGH,
    "safetensors data section has overlaps, gaps or trailing bytes",
    "Tensors must cover the data section exactly, back to back: overlapping tensors, holes "
    "between them or bytes after the last one are rejected by the reference loader and are "
    "places to hide a second payload (for example a pickle appended to the file).",
    "Do not use the file. " + _CONVERT,
)
ST_METADATA = Rule(
    "MLG-SCAN-105", Severity.MEDIUM,
    "safetensors __metadata__ is not a string-to-string map",
    "The optional __metadata__ entry must map strings to strings; anything else is rejected "
    "by the reference loader.",
    "Rewrite the metadata as plain strings, or re-export the file.",
)

# --- Keras (110-119) --------------------------------------------------------------------------
KERAS_LAMBDA = Rule(
    "MLG-SCAN-110", Severity.CRITICAL,
    "Keras Lambda layer carries Python bytecode",
    "A Keras Lambda layer stores its function as marshalled Python bytecode (base64) in the "
    "model config. Loading the model with safe_mode off (or with Keras 2 / tf.keras) runs it.",
    "Do not load the model. Replace the Lambda layer with a built-in or a reviewed, "
    "registered custom layer, and save the weights as safetensors.",
)
KERAS_MODULE = Rule(
    "MLG-SCAN-111", Severity.HIGH,
    "Keras config imports a module outside Keras",
    "A Keras config object names a 'module' outside the keras namespace (or a function by "
    "module path). The loader imports that module, which runs its code; configs have been used "
    "this way to reach arbitrary functions (CVE-2025-1550).",
    "Review the module named; only load models whose config refers to keras.* objects or "
    "custom objects you provide yourself.",
)
KERAS_CUSTOM = Rule(
    "MLG-SCAN-112", Severity.MEDIUM,
    "Keras config needs a custom object",
    "A layer, loss or metric is a registered custom object ('registered_name' or an unknown "
    "class). Loading it runs whatever code is registered under that name.",
    "Make sure the custom object comes from reviewed code you control.",
)
KERAS_UNSAFE_CALL = Rule(
    "MLG-SCAN-113", Severity.CRITICAL,
    "Keras config calls a dangerous Keras function",
    "The config refers to a Keras function that switches off safe mode or touches files or "
    "the network (enable_unsafe_deserialization, get_file, ...), a known way to bypass "
    "safe_mode (CVE-2025-8747, CVE-2025-9906).",
    "Do not load the model.",
)
KERAS_MALFORMED = Rule(
    "MLG-SCAN-114", Severity.HIGH,
    "Keras file could not be read",
    "The HDF5 file or its model config could not be parsed, so it could not be checked.",
    "Re-save the model with a current Keras, or convert the weights to safetensors.",
)
H5_EXTERNAL = Rule(
    "MLG-SCAN-115", Severity.MEDIUM,
    "HDF5 file links to data outside itself",
    "The HDF5 file has external links, external dataset storage or virtual datasets that make "
    "readers open other files (possibly outside the model folder).",
    "Rewrite the file with all data inside it.",
)

# --- ONNX (120-129) ---------------------------------------------------------------------------
ONNX_EXTERNAL_PATH = Rule(
    "MLG-SCAN-120", Severity.HIGH,
    "ONNX external data path escapes the model folder",
    "A tensor stores its data in an external file whose path is absolute or climbs out of the "
    "model folder ('..'). Loading the model reads that file (arbitrary file read, "
    "CVE-2022-25882 / CVE-2024-27318 style path traversal).",
    "Keep external data files next to the model with plain relative names.",
)
ONNX_CUSTOM_DOMAIN = Rule(
    "MLG-SCAN-121", Severity.MEDIUM,
    "ONNX model uses a custom operator domain",
    "The graph uses operators from a domain outside the standard ones; running it needs a "
    "native custom-op library, which is code outside the model file.",
    "Review and pin the custom operator library, or export with standard operators.",
)
ONNX_CODE_OP = Rule(
    "MLG-SCAN-122", Severity.HIGH,
    "ONNX operator runs Python code",
    "The graph uses an operator that calls back into Python (PythonOp / PyOp and similar) "
    "when the model runs.",
    "Do not run the model; export it without Python operators.",
)
ONNX_MALFORMED = Rule(
    "MLG-SCAN-123", Severity.HIGH,
    "ONNX file could not be parsed",
    "The file is not a valid ONNX protobuf (or is larger than the in-memory parse limit), so "
    "it could not be checked.",
    "Re-export the model, or raise the limit if the file is genuine and large.",
)
ONNX_EXTERNAL_MISSING = Rule(
    "MLG-SCAN-124", Severity.LOW,
    "ONNX external data file is missing",
    "A tensor refers to an external data file that is not in the model folder.",
    "Ship the external data files with the model.",
)

# --- GGUF (130-139) ---------------------------------------------------------------------------
GGUF_MALFORMED = Rule(
    "MLG-SCAN-130", Severity.HIGH,
    "GGUF file is malformed",
    "The GGUF header, metadata or tensor table is truncated or inconsistent (bad magic, "
    "unsupported version, unknown value type, tensor data outside the file).",
    "Do not use the file; convert the model again with a current llama.cpp.",
)
GGUF_ABSURD = Rule(
    "MLG-SCAN-131", Severity.HIGH,
    "GGUF header claims impossible sizes",
    "A tensor count, metadata count, string length, array length or dimension count is larger "
    "than the file could hold. Such values caused heap overflows in GGUF parsers "
    "(the 2024 llama.cpp / ggml GGUF parser advisories).",
    "Do not load the file with any GGUF reader.",
)
GGUF_TEMPLATE = Rule(
    "MLG-SCAN-132", Severity.CRITICAL,
    "chat template contains a template-injection pattern",
    "The Jinja2 chat template reaches Python internals (dunder attributes such as __class__, "
    "__globals__, __builtins__, __subclasses__, escaped underscores, attr() tricks) or names "
    "os/popen/import. Renderers without a sandbox run such a template as code "
    "(CVE-2024-34359).",
    "Do not use the model with this template; replace the template with a reviewed one.",
)
GGUF_LONG_VALUE = Rule(
    "MLG-SCAN-133", Severity.MEDIUM,
    "GGUF metadata value is unreasonably long",
    "A metadata string or array is far larger than any real model needs; it was not read.",
    "Check where the file comes from.",
)
GGUF_DUPLICATE = Rule(
    "MLG-SCAN-134", Severity.HIGH,
    "GGUF file repeats a metadata key or tensor name",
    "Two metadata entries or two tensors share a name; readers differ on which one wins.",
    "Do not use the file; convert the model again.",
)

# --- TensorFlow SavedModel / GraphDef (140-149) -----------------------------------------------
TF_CODE_OP = Rule(
    "MLG-SCAN-140", Severity.CRITICAL,
    "TensorFlow graph runs Python code",
    "The graph contains an op that calls a Python function when the graph runs (PyFunc, "
    "EagerPyFunc, PyFuncStateless).",
    "Do not run the graph; re-export it without py_function ops.",
)
TF_FILE_OP = Rule(
    "MLG-SCAN-141", Severity.HIGH,
    "TensorFlow graph reads or writes files",
    "The graph contains an op that reads, writes, lists or deletes files (ReadFile, WriteFile, "
    "MatchingFiles, Save/Restore outside checkpoints, ...): a serving process that runs it can "
    "leak or overwrite files.",
    "Review why the graph touches files; re-export inference graphs without such ops.",
)
TF_MALFORMED = Rule(
    "MLG-SCAN-142", Severity.HIGH,
    "TensorFlow protobuf could not be parsed",
    "The .pb file is not a well-formed SavedModel or GraphDef protobuf, so it could not be "
    "checked.",
    "Re-export the model.",
)
TF_NETWORK_OP = Rule(
    "MLG-SCAN-143", Severity.HIGH,
    "TensorFlow graph talks to the network or the system",
    "The graph contains an op that opens network connections or reaches the host "
    "(distributed/RPC ops, DebugIdentity with URLs, ...).",
    "Review why an inference graph needs this; re-export without it.",
)

# --- JSON configs (150-159) -------------------------------------------------------------------
CFG_AUTO_MAP = Rule(
    "MLG-SCAN-150", Severity.MEDIUM,
    "config loads custom code (auto_map)",
    "A Hugging Face config's auto_map points at Python classes shipped with the model (or in "
    "another repository). They run when the model is loaded with trust_remote_code=True.",
    "Review the named Python files line by line, pin the revision, or use a model that needs "
    "no remote code.",
)
CFG_REMOTE_REPO = Rule(
    "MLG-SCAN-151", Severity.HIGH,
    "config loads custom code from another repository",
    "An auto_map entry has the form 'owner/repo--module.Class': the code is fetched from "
    "another repository at load time and is not part of what was scanned.",
    "Copy the reviewed code into the model folder, or avoid trust_remote_code.",
)
CFG_CUSTOM_PIPELINE = Rule(
    "MLG-SCAN-152", Severity.MEDIUM,
    "config declares a custom pipeline",
    "The config declares custom pipelines (custom_pipelines / custom_pipeline / a diffusers "
    "model_index.json entry outside the known libraries) whose code runs with the model.",
    "Review the pipeline code shipped with the model.",
)
CFG_MALFORMED = Rule(
    "MLG-SCAN-153", Severity.MEDIUM,
    "JSON config could not be parsed",
    "The file looks like JSON but is not valid JSON (or is larger than the config size limit), "
    "so it could not be checked.",
    "Fix or remove the file.",
)
CFG_DUPLICATE = Rule(
    "MLG-SCAN-154", Severity.LOW,
    "JSON config repeats a key",
    "A key appears twice in one JSON object; tools differ on which value wins.",
    "Remove the duplicate key.",
)
CFG_TOKENIZER_CLASS = Rule(
    "MLG-SCAN-155", Severity.MEDIUM,
    "tokenizer config names a custom tokenizer class",
    "tokenizer_config.json maps AutoTokenizer to classes shipped with the model; they run "
    "with trust_remote_code=True.",
    "Review the named Python files, or use a standard tokenizer.",
)

# --- Python code shipped with a model (160-169) -----------------------------------------------
PY_CODE = Rule(
    "MLG-SCAN-160", Severity.MEDIUM,
    "model ships Python code",
    "The model folder contains Python code, which transformers and similar loaders import "
    "when trust_remote_code=True. It runs with the user's rights.",
    "Review the file, pin the model revision, or use a model that needs no remote code.",
)
PY_DANGEROUS = Rule(
    "MLG-SCAN-161", Severity.HIGH,
    "model code reaches the OS, the network or dynamic code",
    "Python code shipped with the model calls functions that run commands, evaluate code, "
    "or open network connections (os.system, subprocess, eval/exec, socket, requests, "
    "urllib...). The finding lists the calls and imports.",
    "Review every listed call before running the model with trust_remote_code=True.",
)
PY_MALFORMED = Rule(
    "MLG-SCAN-162", Severity.MEDIUM,
    "model code could not be parsed",
    "A Python file in the model folder is not valid Python (or not UTF-8), so it could not be "
    "checked.",
    "Review the file by hand.",
)

# --- modelscan second opinion (190-199) -------------------------------------------------------
MS_ISSUE = Rule(
    "MLG-SCAN-190", Severity.HIGH,
    "modelscan reported an unsafe operator",
    "ProtectAI modelscan, run as a second engine, reported an unsafe operator in this file; "
    "the severity is modelscan's.",
    "Do not load the file; see modelscan's description of the operator.",
)
MS_ERROR = Rule(
    "MLG-SCAN-191", Severity.MEDIUM,
    "modelscan could not scan a file",
    "modelscan raised an error or skipped a model file it should have read, so the second "
    "opinion is missing for it.",
    "Check the file; the builtin engine's findings still apply.",
)
MS_SKIPPED = Rule(
    "MLG-SCAN-192", Severity.INFO,
    "modelscan does not support this file",
    "modelscan skipped the file because it has no scanner for its type; only the builtin "
    "engine checked it.",
    "Nothing to do; informational.",
)

RULES: list[Rule] = [
    ST_HEADER_LENGTH, ST_HEADER_JSON, ST_DUPLICATE_KEY, ST_BAD_TENSOR, ST_LAYOUT, ST_METADATA,
    KERAS_LAMBDA, KERAS_MODULE, KERAS_CUSTOM, KERAS_UNSAFE_CALL, KERAS_MALFORMED, H5_EXTERNAL,
    ONNX_EXTERNAL_PATH, ONNX_CUSTOM_DOMAIN, ONNX_CODE_OP, ONNX_MALFORMED, ONNX_EXTERNAL_MISSING,
    GGUF_MALFORMED, GGUF_ABSURD, GGUF_TEMPLATE, GGUF_LONG_VALUE, GGUF_DUPLICATE,
    TF_CODE_OP, TF_FILE_OP, TF_MALFORMED, TF_NETWORK_OP,
    CFG_AUTO_MAP, CFG_REMOTE_REPO, CFG_CUSTOM_PIPELINE, CFG_MALFORMED, CFG_DUPLICATE,
    CFG_TOKENIZER_CLASS,
    PY_CODE, PY_DANGEROUS, PY_MALFORMED,
    MS_ISSUE, MS_ERROR, MS_SKIPPED,
]
"""Rules of the per-format handlers (MLG-SCAN-100..199)."""
