"""Detection rate of mlgate and its peers on the attack corpus (tests/scan/corpus.py).

Builds the corpus in a temporary folder, then runs on every case:

- mlgate      ``scan_paths([path], policy=commercial-safe)`` in process; blocked = a finding at or
              above the policy's fail-on severity (what ``mlgate scan`` exits 1 on)
- modelscan   its Python API (``ModelScan().scan(path)``) in one child process
- picklescan  its CLI, ``picklescan --path PATH`` (exit 1 dangerous, 2 scan error)
- fickling    its CLI, ``fickling --check-safety FILE`` (every file of a model folder)

Peers only ever read the files; nothing is loaded. A payload, if anything ever ran one, would
create a marker file: the script checks it never appears. Prints a markdown report: per tool the
detection rate on malicious cases, the false-positive rate on benign ones, and a per-technique
matrix. Usage: ``python benchmarks/detection_rate.py [--keep DIR]``.

Outcomes per case: ``detected`` (the tool reported the file as dangerous), ``error`` (the tool
failed or refused the file: a non-zero exit that a CI job would also stop on, but no verdict),
``missed`` (the tool passed the file).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "src") not in sys.path:
    sys.path.insert(1, str(ROOT / "src"))

from tests.scan.corpus import Case, build_corpus  # noqa: E402

DETECTED, ERROR, MISSED = "detected", "error", "missed"
SYMBOL = {DETECTED: "FLAG", ERROR: "err", MISSED: "pass"}
TOOLS = ("mlgate", "modelscan", "picklescan", "fickling")
PEER_TIMEOUT = 120

_MODELSCAN_CHILD = """
import json, sys
from modelscan.modelscan import ModelScan
out = {}
for path in sys.argv[1:]:
    try:
        r = ModelScan().scan(path)
        out[path] = {"issues": len(r.get("issues", [])), "errors": len(r.get("errors", [])),
                     "skipped": [s.get("category") for s in
                                 r.get("summary", {}).get("skipped", {}).get("skipped_files", [])]}
    except Exception as exc:
        out[path] = {"exception": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def run_mlgate(paths: Sequence[Path]) -> dict[Path, str]:
    from mlgate.core.findings import Severity
    from mlgate.core.policy import load_policy
    from mlgate.scan.engine import scan_paths

    policy = load_policy("commercial-safe")
    floor = Severity.parse(policy.scan.fail_on)
    out: dict[Path, str] = {}
    for path in paths:
        try:
            report = scan_paths([path], policy=policy)
        except Exception:
            out[path] = ERROR
            continue
        out[path] = DETECTED if report.at_or_above(floor) else MISSED
    return out


def run_modelscan(paths: Sequence[Path]) -> dict[Path, str]:
    proc = subprocess.run([sys.executable, "-c", _MODELSCAN_CHILD, *map(str, paths)],
                          capture_output=True, text=True, timeout=PEER_TIMEOUT * 4, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1:] or "modelscan failed")
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    out: dict[Path, str] = {}
    for path in paths:
        r = raw.get(str(path), {"exception": "no result"})
        if r.get("issues"):
            out[path] = DETECTED
        elif r.get("errors") or "exception" in r:
            out[path] = ERROR  # the modelscan CLI exits 2 on scan errors
        else:
            out[path] = MISSED  # clean, or skipped as unsupported / bad zip (exit 0)
    return out


def _cli_status(cmd: list[str], detected_rc: int) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=PEER_TIMEOUT, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return ERROR
    if proc.returncode == 0:
        return MISSED
    return DETECTED if proc.returncode == detected_rc else ERROR


def run_picklescan(paths: Sequence[Path]) -> dict[Path, str]:
    exe = shutil.which("picklescan")
    if exe is None:
        raise RuntimeError("picklescan is not installed")
    return {p: _cli_status([exe, "--path", str(p)], 1) for p in paths}


def run_fickling(paths: Sequence[Path]) -> dict[Path, str]:
    exe = shutil.which("fickling")
    if exe is None:
        raise RuntimeError("fickling is not installed")
    out: dict[Path, str] = {}
    rank = {MISSED: 0, ERROR: 1, DETECTED: 2}
    for path in paths:
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        statuses = [_cli_status([exe, "--check-safety", str(f)], 1) for f in files] or [MISSED]
        out[path] = max(statuses, key=lambda s: rank[s])
    return out


RUNNERS = {"mlgate": run_mlgate, "modelscan": run_modelscan, "picklescan": run_picklescan,
           "fickling": run_fickling}
DISTS = {"mlgate": "mlgate", "modelscan": "modelscan", "picklescan": "picklescan",
         "fickling": "fickling"}


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f} % ({n}/{d})" if d else "n/a"


def render(cases: Sequence[Case], results: dict[str, dict[str, str] | str],
           versions: dict[str, str | None], seconds: dict[str, float]) -> str:
    mal = [c for c in cases if c.malicious]
    ben = [c for c in cases if not c.malicious]
    lines = ["## Detection rate on the mlgate attack corpus", "",
             f"{len(mal)} malicious cases, {len(ben)} benign files "
             f"(Python {sys.version.split()[0]}, {sys.platform}).", "",
             "| tool | version | detected (malicious) | detected or error (malicious) | "
             "false positives (benign) | any non-zero exit (benign) | seconds |",
             "|---|---|---|---|---|---|---|"]
    for tool in TOOLS:
        res = results[tool]
        ver = versions.get(tool) or "not installed"
        if isinstance(res, str):
            lines.append(f"| {tool} | {ver} | not run: {res} | | | | |")
            continue
        det = sum(res[c.name] == DETECTED for c in mal)
        blk = sum(res[c.name] != MISSED for c in mal)
        fp = sum(res[c.name] == DETECTED for c in ben)
        fpb = sum(res[c.name] != MISSED for c in ben)
        lines.append(f"| {tool} | {ver} | {pct(det, len(mal))} | {pct(blk, len(mal))} | "
                     f"{pct(fp, len(ben))} | {pct(fpb, len(ben))} | {seconds[tool]:.1f} |")
    lines += ["", f"Legend: {SYMBOL[DETECTED]} the tool reported the file as dangerous, "
              f"{SYMBOL[ERROR]} tool error or refusal (non-zero exit, no verdict), "
              f"{SYMBOL[MISSED]} the tool passed the file. Seconds: wall time for the whole "
              "corpus (mlgate in process; peers as child processes).", "",
              "| case | format | malicious | " + " | ".join(TOOLS) + " | technique source |",
              "|---|---|---|" + "---|" * len(TOOLS) + "---|"]
    for c in cases:
        cells = []
        for tool in TOOLS:
            res = results[tool]
            cells.append("—" if isinstance(res, str) else SYMBOL[res[c.name]])
        lines.append(f"| {c.name} | {c.format} | {'yes' if c.malicious else 'no'} | "
                     + " | ".join(cells) + f" | {c.source} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the corpus in this folder and keep it")
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    args = parser.parse_args(argv)
    tmp = None
    if args.keep is not None:
        base: Path = args.keep
        base.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="mlgate-corpus-")
        base = Path(tmp.name)
    try:
        marker = base / "PWNED_MARKER"
        root = base / "files"
        cases = build_corpus(root, marker)
        paths = [root / c.path for c in cases]
        results: dict[str, dict[str, str] | str] = {}
        seconds: dict[str, float] = {}
        versions = {t: version_of(DISTS[t]) for t in TOOLS}
        for tool in TOOLS:
            start = time.monotonic()
            try:
                by_path = RUNNERS[tool](paths)
                results[tool] = {c.name: by_path[root / c.path] for c in cases}
            except Exception as exc:
                results[tool] = f"{type(exc).__name__}: {exc}"
            seconds[tool] = time.monotonic() - start
            print(f"{tool}: done in {seconds[tool]:.1f} s", file=sys.stderr)
        print(render(cases, results, versions, seconds))
        if args.json is not None:
            args.json.write_text(json.dumps({"versions": versions, "results": results},
                                            indent=2), encoding="utf-8")
        if marker.exists():
            print("ERROR: the marker file appeared: a payload ran", file=sys.stderr)
            return 1
        print("Marker file never appeared: no tool executed a payload.")
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
