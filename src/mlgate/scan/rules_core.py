"""Rules of the scan engine, the safe walk, archives and limits (MLG-SCAN-001..049)."""

from __future__ import annotations

from mlgate.core.findings import Severity
from mlgate.core.rules import Rule

_SAFE = "Ship weights as safetensors (no code runs on load) and rebuild the archive with a standard tool."

SYMLINK_OUTSIDE = Rule(
    "MLG-SCAN-001", Severity.HIGH, "Symlink points outside the scanned folder",
    "A symbolic link in the model folder resolves to a file outside it. A loader follows the "
    "link and reads a file nobody reviewed (or a secret such as ~/.ssh/id_rsa); mlgate never "
    "follows it.",
    "Replace the link with the file itself, or remove it.",
    tags=("security", "walk"),
)
SYMLINK_BROKEN = Rule(
    "MLG-SCAN-002", Severity.MEDIUM, "Broken symlink",
    "A symbolic link in the model folder does not resolve (missing target or a loop). Where it "
    "points may change on another machine, so it cannot be reviewed.",
    "Replace the link with the file it should point at, or remove it.",
    tags=("security", "walk"),
)
SPECIAL_FILE = Rule(
    "MLG-SCAN-003", Severity.MEDIUM, "Special file in the model folder",
    "A FIFO, socket or device file (or a link to one) sits among the model files. It is never "
    "opened: reading a FIFO blocks and a device may return anything.",
    "Remove the special file from the model folder.",
    tags=("security", "walk"),
)
UNREADABLE = Rule(
    "MLG-SCAN-004", Severity.MEDIUM, "File could not be read",
    "mlgate could not open or read this file (permissions, I/O error, a file replaced during "
    "the scan). An unread file is not a clean file: the scan fails closed.",
    "Make the file readable by the scanning user and scan again.",
    tags=("security", "fail-closed"),
)
TOO_LARGE = Rule(
    "MLG-SCAN-005", Severity.MEDIUM, "File larger than the scan size limit",
    "The file is larger than `scan.max_file_size` in the policy and was not scanned.",
    "Raise `scan.max_file_size` in mlgate.yml, or shard the scan (`--shard i/n`).",
    tags=("security", "fail-closed", "limits"),
)
TIMEOUT = Rule(
    "MLG-SCAN-006", Severity.MEDIUM, "Scan time limit exceeded",
    "Analysing the file took longer than `scan.max_seconds_per_file`; what was not analysed is "
    "unknown (the scan fails closed). Deliberately slow inputs are a known way to evade scanners.",
    "Raise `scan.max_seconds_per_file`, or convert the file to safetensors.",
    tags=("security", "fail-closed", "limits"),
)
ANALYSIS_FAILED = Rule(
    "MLG-SCAN-007", Severity.MEDIUM, "File could not be analysed",
    "The analyser for this format failed (or is not installed), so the file was not checked. "
    "The scan fails closed rather than passing a file it did not understand.",
    "Report the file to the mlgate maintainers (with --debug output) or convert it to safetensors.",
    tags=("security", "fail-closed"),
)
UNKNOWN_MODEL_FORMAT = Rule(
    "MLG-SCAN-008", Severity.MEDIUM, "Unrecognised format for a model file",
    "The file has a model file extension (.pt, .bin, .onnx, .safetensors...) but its content "
    "matches no format mlgate can analyse. A loader may still accept it (and run code).",
    _SAFE,
    tags=("security", "fail-closed"),
)
EXTENSION_MISMATCH = Rule(
    "MLG-SCAN-009", Severity.HIGH, "File content does not match its extension",
    "The extension promises a data-only format (e.g. .safetensors, .gguf, .onnx) but the content "
    "is a pickle or an archive: a reviewer trusting the name would miss code that runs on load.",
    "Rename the file to its real format or, better, re-export the weights as safetensors.",
    tags=("security",),
)
ARCHIVE_TOO_DEEP = Rule(
    "MLG-SCAN-010", Severity.MEDIUM, "Archive nesting deeper than the limit",
    "An archive inside an archive goes deeper than `scan.max_archive_depth`; the inner content "
    "was not scanned (fail closed). Deep nesting is a known way to hide payloads from scanners.",
    "Flatten the archive, or raise `scan.max_archive_depth` in mlgate.yml.",
    tags=("security", "archive", "fail-closed"),
)
PATH_TRAVERSAL = Rule(
    "MLG-SCAN-011", Severity.HIGH, "Archive member path escapes the extraction folder",
    "A member name is absolute or contains '..' (zip-slip / tar path traversal): extracting the "
    "archive writes outside the target folder, e.g. over a Python file that runs later.",
    "Rebuild the archive with relative member names only.",
    tags=("security", "archive"),
)
DUPLICATE_MEMBER = Rule(
    "MLG-SCAN-012", Severity.HIGH, "Archive has duplicate member names",
    "Two members share a name. Loaders and scanners may pick different copies (the first or "
    "the last), so a scanner can review a benign copy while the loader runs the other. mlgate "
    "scans every copy.",
    "Rebuild the archive so every member name is unique.",
    tags=("security", "archive"),
)
HEADER_MISMATCH = Rule(
    "MLG-SCAN-013", Severity.HIGH, "Zip local header disagrees with the central directory",
    "A zip member's local file header names a different file (or flags) than its central "
    "directory entry. Readers that walk local headers and readers that use the central "
    "directory see different archives; this is a scanner-evasion technique.",
    "Rebuild the archive with a standard zip tool (or torch.save).",
    tags=("security", "archive"),
)
ENCRYPTED_MEMBER = Rule(
    "MLG-SCAN-014", Severity.MEDIUM, "Encrypted archive member",
    "An archive member is encrypted and cannot be scanned (fail closed).",
    "Ship model files unencrypted and protect them in transit and at rest instead.",
    tags=("security", "archive", "fail-closed"),
)
DECOMPRESSION_BOMB = Rule(
    "MLG-SCAN-015", Severity.HIGH, "Decompression bomb",
    "A compressed member or stream expands far beyond a plausible ratio or beyond the total "
    "decompression budget. Decompression stopped at the budget; the rest was not scanned.",
    "Ship the file uncompressed or with a realistic compression ratio.",
    tags=("security", "archive", "limits"),
)
POLYGLOT = Rule(
    "MLG-SCAN-016", Severity.HIGH, "Data before or after an archive (polyglot file)",
    "The file carries bytes before the first zip record or after the end of the central "
    "directory, or it is a valid file of one format with a zip appended. Different readers see "
    "different content; mlgate scans both views.",
    "Rebuild the file so it holds exactly one format.",
    tags=("security", "archive"),
)
UNSUPPORTED_COMPRESSION = Rule(
    "MLG-SCAN-017", Severity.MEDIUM, "Unsupported compression method",
    "An archive member uses a compression method mlgate cannot decompress, so it was not "
    "scanned (fail closed).",
    "Rebuild the archive with stored or deflate compression.",
    tags=("security", "archive", "fail-closed"),
)
CORRUPT_ARCHIVE = Rule(
    "MLG-SCAN-018", Severity.MEDIUM, "Malformed archive",
    "The archive or compressed stream is truncated or malformed. Lenient loaders may still read "
    "part of it; what could not be read was not scanned (fail closed).",
    "Re-create the archive from the original files.",
    tags=("security", "archive", "fail-closed"),
)
ARCHIVE_LINK = Rule(
    "MLG-SCAN-019", Severity.HIGH, "Symlink or hard link member in an archive",
    "A tar member is a symbolic or hard link. Extracting it can make later members (or the "
    "loader) write or read files outside the extraction folder.",
    "Rebuild the archive with regular files only.",
    tags=("security", "archive"),
)
ARCHIVE_SPECIAL = Rule(
    "MLG-SCAN-020", Severity.MEDIUM, "Device or FIFO member in an archive",
    "A tar member is a device node or FIFO; model archives never need one.",
    "Rebuild the archive with regular files only.",
    tags=("security", "archive"),
)
BAD_CRC = Rule(
    "MLG-SCAN-021", Severity.MEDIUM, "Archive member fails its checksum",
    "The CRC-32 stored for a zip member does not match its content. Loaders that skip the check "
    "(PyTorch does) still load it; mlgate scanned the content anyway.",
    "Re-create the archive from the original files.",
    tags=("security", "archive"),
)
HIDDEN_MEMBER = Rule(
    "MLG-SCAN-022", Severity.MEDIUM, "Zip member not listed in the central directory",
    "A local file header in the zip is not referenced by the central directory: tools that read "
    "the archive sequentially see a member the central directory hides.",
    "Rebuild the archive with a standard zip tool.",
    tags=("security", "archive"),
)
SEVENZ_UNAVAILABLE = Rule(
    "MLG-SCAN-023", Severity.MEDIUM, "7z archive could not be opened",
    "The 7z archive could not be read (py7zr missing, unsupported filter or malformed "
    "archive); its members were not scanned (fail closed).",
    "Install py7zr, or ship the files in a zip or tar archive.",
    tags=("security", "archive", "fail-closed"),
)
TOO_MANY_MEMBERS = Rule(
    "MLG-SCAN-024", Severity.MEDIUM, "Archive lists more members than the limit",
    "The zip's end-of-central-directory record declares more members than mlgate opens (a "
    "central directory of millions of entries costs gigabytes of memory to read). The archive "
    "was not opened, so its members were not scanned (fail closed).",
    "Ship the model as fewer files, or split the archive.",
    tags=("security", "archive", "fail-closed"),
)

RULES: list[Rule] = [
    SYMLINK_OUTSIDE, SYMLINK_BROKEN, SPECIAL_FILE, UNREADABLE, TOO_LARGE, TIMEOUT,
    ANALYSIS_FAILED, UNKNOWN_MODEL_FORMAT, EXTENSION_MISMATCH, ARCHIVE_TOO_DEEP, PATH_TRAVERSAL,
    DUPLICATE_MEMBER, HEADER_MISMATCH, ENCRYPTED_MEMBER, DECOMPRESSION_BOMB, POLYGLOT,
    UNSUPPORTED_COMPRESSION, CORRUPT_ARCHIVE, ARCHIVE_LINK, ARCHIVE_SPECIAL, BAD_CRC,
    HIDDEN_MEMBER, SEVENZ_UNAVAILABLE, TOO_MANY_MEMBERS,
]
