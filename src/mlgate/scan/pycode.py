"""Python files in a model folder: code that runs under ``trust_remote_code=True``.

The source is parsed with :func:`ast.parse` (never compiled to bytecode, never imported or
run). Every Python file is a medium finding naming it for review; one whose imports or calls
reach process execution, dynamic code, the network or low-level native access is high, and the
finding lists those imports and calls with their line numbers.
"""

from __future__ import annotations

import ast
from typing import BinaryIO

from mlgate.core.findings import Finding
from mlgate.scan import rules_formats as R
from mlgate.scan.base import ScanContext

MAX_SOURCE = 16 * 1024 * 1024

DANGEROUS_MODULES = frozenset({
    "subprocess", "socket", "requests", "urllib.request", "urllib2", "urllib3", "http.client",
    "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib", "paramiko", "pty", "ctypes", "cffi",
    "runpy", "webbrowser", "marshal", "dill", "cloudpickle", "asyncio.subprocess", "commands",
})
"""Modules whose import alone is listed (their use reaches the OS, network or code loading)."""

DANGEROUS_CALLS = frozenset({
    "eval", "exec", "compile", "__import__", "breakpoint",
    "os.system", "os.popen", "os.execv", "os.execve", "os.execl", "os.execlp", "os.execvp",
    "os.spawnl", "os.spawnv", "os.spawnve", "os.fork", "os.remove", "os.unlink", "os.rmdir",
    "os.kill", "os.putenv", "os.startfile",
    "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
    "subprocess.Popen", "subprocess.getoutput", "subprocess.getstatusoutput",
    "socket.socket", "socket.create_connection",
    "requests.get", "requests.post", "requests.put", "requests.request", "requests.Session",
    "urllib.request.urlopen", "urllib.request.urlretrieve", "urlopen", "urlretrieve",
    "httpx.get", "httpx.post", "ctypes.CDLL", "ctypes.cdll.LoadLibrary", "pickle.load",
    "pickle.loads", "marshal.loads", "importlib.import_module", "runpy.run_path",
    "runpy.run_module", "shutil.rmtree", "torch.load", "np.load", "numpy.load", "joblib.load",
})
"""Calls (by dotted name as written, after resolving import aliases) that are listed."""
DANGEROUS_CALL_SUFFIXES = (".system", ".popen", ".Popen", ".urlopen", ".check_output",
                           ".exec_module")


class PythonCodeHandler:
    name = "python"

    def scan(self, stream: BinaryIO, size: int, ctx: ScanContext) -> list[Finding]:
        where = ctx.location()
        if size > MAX_SOURCE:
            return [R.PY_MALFORMED.finding(
                f"Python file of {size} bytes is larger than the {MAX_SOURCE}-byte limit; not "
                "checked", where)]
        raw = stream.read(MAX_SOURCE + 1)
        try:
            tree = ast.parse(raw, filename=ctx.name)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            line = getattr(exc, "lineno", None)
            return [R.PY_MALFORMED.finding(f"not valid Python: {str(exc)[:200]}",
                                           ctx.location(line=line if isinstance(line, int) else None))]
        ctx.check_deadline()
        imports, calls = inspect_tree(tree)
        base = R.PY_CODE.finding(
            f"{ctx.name} is Python code that runs when the model is loaded with "
            "trust_remote_code=True; review it", where)
        if not imports and not calls:
            return [base]
        listed = [f"import {m} (line {n})" for m, n in imports[:20]]
        listed += [f"{c}() (line {n})" for c, n in calls[:30]]
        first = min([n for _, n in imports] + [n for _, n in calls])
        return [base, R.PY_DANGEROUS.finding(
            f"{ctx.name}: " + "; ".join(listed), ctx.location(line=first),
            properties={"imports": sorted({m for m, _ in imports}),
                        "calls": sorted({c for c, _ in calls})})]


def inspect_tree(tree: ast.AST) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Dangerous imports and calls as (name, line), in source order."""
    aliases: dict[str, str] = {}
    imports: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    first = a.name.split(".")[0]
                    aliases[first] = first
                if _dangerous_module(a.name):
                    imports.append((a.name, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            if _dangerous_module(node.module) or any(
                    _dangerous_module(f"{node.module}.{a.name}") for a in node.names):
                names = ", ".join(a.name for a in node.names)
                imports.append((f"{node.module} ({names})", node.lineno))
    calls: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name is None:
            continue
        head, _, rest = name.partition(".")
        resolved = aliases.get(head, head) + (f".{rest}" if rest else "")
        if (resolved in DANGEROUS_CALLS or name in DANGEROUS_CALLS
                or resolved.endswith(DANGEROUS_CALL_SUFFIXES)):
            calls.append((resolved, node.lineno))
    imports.sort(key=lambda x: x[1])
    calls.sort(key=lambda x: x[1])
    return imports, calls


def _dangerous_module(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in DANGEROUS_MODULES for i in range(1, len(parts) + 1))


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
