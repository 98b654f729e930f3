"""Build a CycloneDX 1.6 ML-BOM of a model folder, as JSON or XML.

cyclonedx-python-lib builds everything it knows (metadata, components, hashes, licenses, purls,
external references, properties, dependencies). The library has no ``modelCard`` (for
``machine-learning-model``) and no ``data`` field (for ``data`` components): mlgate computes
those once (``_ml_fields``) and ``mlgate.bom.mlfields`` writes them into the library's JSON or
XML in one place. The whole document is then validated with the library's validators (JSON:
the official 1.6 JSON schema; XML: the official 1.6 XSD). An invalid document is never written
(ToolError).

Determinism: files are sorted by path, the timestamp comes from ``SOURCE_DATE_EPOCH`` when set,
and the serial number is a UUID derived from the document's content (the XML carries the serial
number of the JSON of the same inputs), so the same model with the same ``SOURCE_DATE_EPOCH``
gives byte-identical BOMs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.bom.mlfields import MlFields, add_to_json, add_to_xml
from mlgate.bom.mlflow import MlflowModel, MlflowRef, load_mlmodel, mlflow_purl
from mlgate.bom.modelcard import ModelCard, load_model_card
from mlgate.core.artifacts import read_head, require_model_path, sha256_file, sniff, walk
from mlgate.core.errors import ToolError, UsageError
from mlgate.core.findings import FileRecord

SPEC_VERSION = "1.6"
MAX_CONFIG_BYTES = 1 << 20
MAX_REQUIREMENTS_BYTES = 1 << 20
MAX_PYPROJECT_BYTES = 1 << 20
JSON_FORMATS = ("cyclonedx-json", "json")
XML_FORMATS = ("cyclonedx-xml", "xml")

# pipeline_tag -> (input format, output format) for modelParameters.inputs/outputs
_IO: dict[str, tuple[str, str]] = {
    "text-classification": ("text", "label"),
    "token-classification": ("text", "labels per token"),
    "text-generation": ("text", "text"),
    "text2text-generation": ("text", "text"),
    "translation": ("text", "text"),
    "summarization": ("text", "text"),
    "fill-mask": ("text", "text"),
    "question-answering": ("text", "text"),
    "feature-extraction": ("text", "embedding vector"),
    "sentence-similarity": ("text", "similarity score"),
    "image-classification": ("image", "label"),
    "object-detection": ("image", "bounding boxes"),
    "image-segmentation": ("image", "segmentation mask"),
    "text-to-image": ("text", "image"),
    "image-to-text": ("image", "text"),
    "automatic-speech-recognition": ("audio", "text"),
    "text-to-speech": ("text", "audio"),
    "audio-classification": ("audio", "label"),
    "zero-shot-classification": ("text", "label"),
}

# CI variables -> BOM property names (GitHub Actions and GitLab CI)
_CI_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("GITHUB_SHA", "mlgate:ci:commit"),
    ("CI_COMMIT_SHA", "mlgate:ci:commit"),
    ("GITHUB_REF", "mlgate:ci:ref"),
    ("CI_COMMIT_REF_NAME", "mlgate:ci:ref"),
    ("GITHUB_RUN_ID", "mlgate:ci:run-id"),
    ("CI_PIPELINE_ID", "mlgate:ci:run-id"),
    ("GITHUB_WORKFLOW", "mlgate:ci:workflow"),
    ("CI_JOB_NAME", "mlgate:ci:job"),
)


@dataclass(frozen=True)
class Provenance:
    """Where the BOM was built: from GitHub Actions or GitLab CI variables, if any."""

    platform: str
    properties: tuple[tuple[str, str], ...]
    repository_url: str
    run_url: str


def provenance_from_env(environ: Mapping[str, str]) -> Provenance:
    props: dict[str, str] = {}
    for var, name in _CI_PROPERTIES:
        value = environ.get(var, "").strip()
        if value and name not in props:
            props[name] = value
    repo_url = run_url = ""
    platform = "local"
    if environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITHUB_REPOSITORY"):
        platform = "github"
        server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo = environ.get("GITHUB_REPOSITORY", "")
        if repo:
            repo_url = f"{server}/{repo}"
            if environ.get("GITHUB_RUN_ID"):
                run_url = f"{repo_url}/actions/runs/{environ['GITHUB_RUN_ID']}"
    elif environ.get("GITLAB_CI") or environ.get("CI_PROJECT_URL"):
        platform = "gitlab"
        repo_url = environ.get("CI_PROJECT_URL", "")
        run_url = environ.get("CI_PIPELINE_URL", "") or environ.get("CI_JOB_URL", "")
    props["mlgate:ci:platform"] = platform
    return Provenance(platform, tuple(sorted(props.items())), repo_url, run_url)


@dataclass(frozen=True)
class Requirement:
    name: str
    specifier: str
    version: str | None  # exact version when pinned with ==


_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;#]*)")


def read_requirements(folder: Path) -> list[Requirement]:
    """Requirements from ``requirements*.txt`` (no includes, options or URLs are followed)."""
    return read_requirement_files(folder)[0]


def read_requirement_files(folder: Path) -> tuple[list[Requirement], dict[str, str]]:
    """Requirements from ``requirements*.txt`` and, per file that could not be used, why
    (``skipped: not UTF-8``, ``skipped: larger than N bytes``, ...): a file the BOM could not
    read is said so, never an empty list that looks like "no dependencies"."""
    if not folder.is_dir():
        return [], {}
    out: dict[str, Requirement] = {}
    problems: dict[str, str] = {}
    for path in sorted(folder.glob("requirements*.txt")):
        if path.is_symlink():
            problems[path.name] = "skipped: symlink (not followed)"
            continue
        if not path.is_file():
            problems[path.name] = "skipped: not a regular file"
            continue
        try:
            data = read_head(path, MAX_REQUIREMENTS_BYTES + 1)
        except OSError as exc:
            problems[path.name] = f"skipped: cannot read ({exc.strerror or exc})"
            continue
        if len(data) > MAX_REQUIREMENTS_BYTES:
            problems[path.name] = f"skipped: larger than {MAX_REQUIREMENTS_BYTES} bytes"
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            problems[path.name] = "skipped: not UTF-8"
            continue
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "-")) or "://" in line:
                continue
            req = parse_requirement(line)
            if req is not None:
                out.setdefault(req.name, req)
    return [out[k] for k in sorted(out)], problems


def parse_requirement(text: str) -> Requirement | None:
    """One PEP 508 requirement (``name[extras] spec ; marker``), or None. A direct reference
    (``name @ URL``) keeps no URL: it may carry credentials (``https://token@host``)."""
    m = _REQ.match(text)
    if not m:
        return None
    name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
    spec = m.group(3).strip()
    if spec.startswith("@"):
        return Requirement(name, "(direct reference)", None)
    pinned = re.fullmatch(r"===?\s*([A-Za-z0-9.+!_-]+)", spec)
    return Requirement(name, spec[:200], pinned.group(1) if pinned else None)


def _toml_loads() -> Callable[[str], Any] | None:
    """``tomllib.loads`` (Python 3.11+), else ``tomli.loads`` if installed, else None."""
    loads: Callable[[str], Any]
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]

        loads = tomllib.loads
    except ImportError:  # Python 3.10
        try:
            import tomli  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return None
        loads = tomli.loads
    return loads


@dataclass(frozen=True)
class PyprojectDeps:
    """``[project] dependencies`` of ``pyproject.toml``. ``status``: ``missing``, ``ok``,
    ``invalid`` or ``skipped`` (``note`` says why; never an empty "ok" for an unread file)."""

    status: str
    requirements: tuple[Requirement, ...] = ()
    note: str = ""


def read_pyproject(folder: Path) -> PyprojectDeps:
    path = folder / "pyproject.toml"
    if not folder.is_dir() or not (path.is_file() or path.is_symlink()):
        return PyprojectDeps("missing")
    if path.is_symlink():
        return PyprojectDeps("invalid", note="pyproject.toml is a symlink (not followed)")
    loads = _toml_loads()
    if loads is None:
        return PyprojectDeps("skipped", note="reading pyproject.toml needs Python 3.11+ "
                             "(tomllib) or the tomli package")
    try:  # never more than the cap into memory (a hostile folder may hold a huge file)
        data = read_head(path, MAX_PYPROJECT_BYTES + 1)
    except OSError as exc:
        return PyprojectDeps("invalid", note=f"cannot read pyproject.toml: {exc.strerror}")
    if len(data) > MAX_PYPROJECT_BYTES:
        return PyprojectDeps("invalid", note=f"pyproject.toml is larger than "
                             f"{MAX_PYPROJECT_BYTES} bytes")
    try:
        doc = loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # TOMLDecodeError is one
        return PyprojectDeps("invalid", note=f"pyproject.toml is not valid TOML: {exc}"[:300])
    project = doc.get("project") if isinstance(doc, dict) else None
    deps = project.get("dependencies") if isinstance(project, dict) else None
    if deps is None:
        return PyprojectDeps("ok", note="no [project] dependencies")
    if not isinstance(deps, list):
        return PyprojectDeps("invalid", note="[project] dependencies is not a list")
    out: dict[str, Requirement] = {}
    for item in deps[:1000]:
        req = parse_requirement(item) if isinstance(item, str) else None
        if req is not None:
            out.setdefault(req.name, req)
    return PyprojectDeps("ok", tuple(out[k] for k in sorted(out)))


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` as a dict (empty when absent or unreadable: the BOM says less)."""
    return read_config_status(folder)[0]


def read_config_status(folder: Path) -> tuple[dict[str, Any], str | None]:
    """``config.json`` as a dict, and why it could not be used (None when it was read or
    is absent)."""
    path = folder / "config.json"
    if not folder.is_dir() or not (path.is_file() or path.is_symlink()):
        return {}, None
    if path.is_symlink():
        return {}, "skipped: config.json is a symlink (not followed)"
    try:
        data = read_head(path, MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        return {}, f"skipped: cannot read config.json ({exc.strerror or exc})"
    if len(data) > MAX_CONFIG_BYTES:
        return {}, f"skipped: config.json is larger than {MAX_CONFIG_BYTES} bytes"
    try:
        value = json.loads(data)
    except RecursionError:
        return {}, "invalid: config.json is nested too deeply"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return {}, f"invalid: config.json is not valid JSON: {exc}"[:300]
    if not isinstance(value, dict):
        return {}, "invalid: config.json is not a JSON object"
    return value, None


def usable_cores() -> int:
    """CPUs this process may run on (a CI container's affinity mask, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def hash_folder(path: Path, *, workers: int | None = None) -> list[FileRecord]:
    """A FileRecord with sha256 for every entry of ``path``, sorted by path.

    Files are hashed in parallel threads (file reads and ``hashlib`` updates on 1 MiB buffers
    release the GIL, so every core of a CI runner works), largest file first so that one big
    shard started last does not leave the other cores idle. One file's SHA-256 is inherently
    sequential: a folder that is a single huge file hashes at one core's speed."""
    arts = walk(path)
    n = workers or max(1, min(8, usable_cores()))

    def one(art: Any) -> FileRecord:
        if not art.readable:
            return FileRecord(art.rel, art.size, None, "unknown", error=f"{art.kind.value}: "
                              f"{art.detail}")
        try:
            digest, size = sha256_file(art.real)
            fmt = sniff(read_head(art.real), art.rel, size).value
        except OSError as exc:
            return FileRecord(art.rel, art.size, None, "unknown", error=str(exc))
        return FileRecord(art.rel, size, digest, fmt)

    if n == 1 or len(arts) < 2:
        return [one(a) for a in arts]
    order = sorted(range(len(arts)), key=lambda i: -arts[i].size)
    with ThreadPoolExecutor(max_workers=n) as pool:
        done = dict(zip(order, pool.map(one, [arts[i] for i in order]), strict=True))
    return [done[i] for i in range(len(arts))]


def hf_purl(repo_id: str, revision: str | None) -> str:
    from packageurl import PackageURL

    if "/" not in repo_id:
        raise UsageError(f"Hub model id {repo_id!r} has no namespace",
                         hint="write it as org/name (pkg:huggingface needs the namespace)")
    ns, name = repo_id.split("/", 1)
    return str(PackageURL(type="huggingface", namespace=ns, name=name,
                          version=revision.lower() if revision else None))


def build_bom(
    path: Path,
    *,
    file_records: Sequence[FileRecord] | None = None,
    version: str | None = None,
    hf_repo: str | None = None,
    revision: str | None = None,
    environ: Mapping[str, str] | None = None,
    include_env: bool = False,
    mlflow: MlflowRef | None = None,
    fmt: str = "cyclonedx-json",
) -> str:
    """CycloneDX 1.6 of the model at ``path`` as JSON (``fmt`` ``cyclonedx-json``/``json``)
    or XML (``cyclonedx-xml``), validated against the official schema (ToolError if not)."""
    fmt = fmt.lower()
    if fmt not in JSON_FORMATS + XML_FORMATS:
        raise UsageError(f"unknown BOM format {fmt!r}",
                         hint="use cyclonedx-json (alias json) or cyclonedx-xml")
    bom, fields = _assemble(path, file_records=file_records, version=version, hf_repo=hf_repo,
                            revision=revision, environ=environ, include_env=include_env,
                            mlflow=mlflow, warm="json" if fmt in JSON_FORMATS else "xml")
    doc = _json_doc(bom, fields)
    if fmt in JSON_FORMATS:
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        validate_bom_json(text)
        return text
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion

    raw = make_outputter(bom, OutputFormat.XML, SchemaVersion.V1_6).output_as_string()
    text = add_to_xml(raw, fields, serial_number=doc["serialNumber"], first_ref="model")
    validate_bom_xml(text)
    return text


def validate_bom_json(text: str) -> None:
    """Raise ToolError unless ``text`` is valid CycloneDX 1.6 JSON (the library's strict
    validator, which carries the official 1.6 JSON schema)."""
    from cyclonedx.exception import MissingOptionalDependencyException

    try:
        error = _validator("json").validate_str(text)
    except MissingOptionalDependencyException as exc:
        raise ToolError("cannot validate the BOM: jsonschema is not installed",
                        hint="pip install 'cyclonedx-python-lib[validation]'") from exc
    if error is not None:
        raise ToolError(f"the generated BOM is not valid CycloneDX 1.6: {error}",
                        hint="this is a bug in mlgate; please report it with --debug output")


def validate_bom_xml(text: str) -> None:
    """Raise ToolError unless ``text`` is valid CycloneDX 1.6 XML (the library's validator
    with the official 1.6 XSD; it needs lxml)."""
    from cyclonedx.exception import MissingOptionalDependencyException

    try:
        error = _validator("xml").validate_str(text)
    except MissingOptionalDependencyException as exc:
        raise ToolError("cannot validate the XML BOM: lxml is not installed",
                        hint="pip install 'cyclonedx-python-lib[validation]' "
                        "(or use --format cyclonedx-json)") from exc
    if error is not None:
        raise ToolError(f"the generated XML BOM is not valid CycloneDX 1.6: {error}",
                        hint="this is a bug in mlgate; please report it with --debug output")


@functools.lru_cache(maxsize=2)
def _validator(kind: str) -> Any:
    """One library validator per process (compiling the 1.6 schema takes ~0.1 s)."""
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator
    from cyclonedx.validation.json import JsonStrictValidator

    if kind == "json":
        return JsonStrictValidator(SchemaVersion.V1_6)
    return make_schemabased_validator(OutputFormat.XML, SchemaVersion.V1_6)


def _warm_validator(kind: str) -> None:
    """Compile the schema now (while files are being hashed), not after."""
    from cyclonedx.exception import MissingOptionalDependencyException

    probe = "{}" if kind == "json" else '<bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>'
    with contextlib.suppress(MissingOptionalDependencyException):  # validation says so later
        _validator(kind).validate_str(probe)


def _timestamp(environ: Mapping[str, str]) -> datetime:
    sde = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if sde:
        try:
            return datetime.fromtimestamp(int(sde), tz=timezone.utc)
        except (ValueError, OverflowError, OSError) as exc:
            raise UsageError(f"SOURCE_DATE_EPOCH={sde!r} is not a Unix timestamp") from exc
    return datetime.now(timezone.utc).replace(microsecond=0)


def build_bom_dict(
    path: Path,
    *,
    file_records: Sequence[FileRecord] | None = None,
    version: str | None = None,
    hf_repo: str | None = None,
    revision: str | None = None,
    environ: Mapping[str, str] | None = None,
    include_env: bool = False,
    mlflow: MlflowRef | None = None,
) -> dict[str, Any]:
    """The BOM as a JSON object (not validated; ``build_bom`` validates)."""
    bom, fields = _assemble(path, file_records=file_records, version=version, hf_repo=hf_repo,
                            revision=revision, environ=environ, include_env=include_env,
                            mlflow=mlflow)
    return _json_doc(bom, fields)


def _json_doc(bom: Any, fields: MlFields) -> dict[str, Any]:
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion

    outputter = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6)
    doc: dict[str, Any] = json.loads(outputter.output_as_string())
    add_to_json(doc, fields)
    # serial number: derived from the content (timestamp included), so a rebuild of the same
    # model at the same SOURCE_DATE_EPOCH is byte-identical
    doc.pop("serialNumber", None)
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode("utf-8")).digest()
    doc["serialNumber"] = f"urn:uuid:{uuid.UUID(bytes=digest[:16], version=5)}"
    # conventional order: header, metadata, the model first, then files, data, libraries
    doc["components"] = sorted(doc.get("components", []),
                               key=lambda c: (c.get("bom-ref") != "model",))
    order = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata",
             "components", "dependencies")
    out = {k: doc[k] for k in order if k in doc}
    out.update({k: v for k, v in doc.items() if k not in out})
    return out


def _assemble(
    path: Path,
    *,
    file_records: Sequence[FileRecord] | None,
    version: str | None,
    hf_repo: str | None,
    revision: str | None,
    environ: Mapping[str, str] | None,
    include_env: bool,
    mlflow: MlflowRef | None,
    warm: str | None = None,
) -> tuple[Any, MlFields]:
    """The library's Bom object and the ML fields it cannot hold.

    The arguments are checked first; then the files are hashed in the background while the
    main thread imports the library, reads the card and compiles the ``warm`` validator
    (``json``/``xml``): that fixed cost hides behind the hashing of a large model."""
    env = os.environ if environ is None else environ
    require_model_path(path)
    if hf_repo and mlflow:
        raise UsageError("a model comes either from the Hub or from an MLflow registry",
                         hint="pass --hf-repo or --mlflow-model, not both")
    if hf_repo:
        hf_purl(hf_repo, revision)  # UsageError before any byte is read
    if mlflow:
        mlflow_purl(mlflow)
    timestamp = _timestamp(env)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlgate-hash") as bg:
        pending = bg.submit(hash_folder, path) if file_records is None else None
        fields_and_bom = _assemble_rest(path, env, pending, file_records, version, hf_repo,
                                        revision, include_env, mlflow, timestamp, warm)
    return fields_and_bom


def _assemble_rest(
    path: Path,
    env: Mapping[str, str],
    pending: Future[list[FileRecord]] | None,
    file_records: Sequence[FileRecord] | None,
    version: str | None,
    hf_repo: str | None,
    revision: str | None,
    include_env: bool,
    mlflow: MlflowRef | None,
    timestamp: datetime,
    warm: str | None,
) -> tuple[Any, MlFields]:
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.model import (
        ExternalReference,
        ExternalReferenceType,
        HashAlgorithm,
        HashType,
        Property,
        XsUri,
    )
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from packageurl import PackageURL

    folder = path if path.is_dir() else path.parent
    card = load_model_card(folder)
    config, config_status = read_config_status(folder)
    requirements, requirement_problems = read_requirement_files(folder)
    mlmodel = load_mlmodel(folder)
    pyproject = read_pyproject(folder)
    prov = provenance_from_env(env)
    lf = LicenseFactory()
    if warm:
        _warm_validator(warm)
    hashed = pending.result() if pending is not None else file_records or []
    records = sorted(hashed, key=lambda r: r.path)

    def licenses(exprs: Sequence[str]) -> list[Any]:
        """One license entry: several card licenses all apply (joined with AND)."""
        from mlgate.license.spdx import normalize_card_license

        parts = [normalize_card_license(raw, card.license_name) for raw in exprs]
        parts = [p for p in parts if p]
        if not parts:
            return []
        expr = parts[0] if len(parts) == 1 else " AND ".join(
            f"({p})" if " " in p else p for p in parts)
        link = card.license_link
        url = XsUri(link) if link.startswith(("https://", "http://")) and " " not in link else None
        if expr.startswith("LicenseRef-") and " " not in expr:
            # not in SPDX: a named license with the card's license_link as its URL
            return [lf.make_with_name(expr, url=url)]
        return [lf.make_from_string(expr)]

    if mlflow:
        name = mlflow.name.strip()
        version = version or mlflow.version.strip()
        purl = PackageURL.from_string(mlflow_purl(mlflow, mlmodel))
    else:
        name = hf_repo or card.model_name or (path.name if path.is_dir() else path.stem)
        if hf_repo:
            purl = PackageURL.from_string(hf_purl(hf_repo, revision))
        else:
            purl = PackageURL(type="generic", version=version,
                              name=re.sub(r"[^A-Za-z0-9._-]", "-", name) or "model")
    ext_refs = []
    if hf_repo:
        ext_refs.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION,
                                          url=XsUri(f"https://huggingface.co/{hf_repo}")))
    if prov.repository_url:
        ext_refs.append(ExternalReference(type=ExternalReferenceType.VCS,
                                          url=XsUri(prov.repository_url)))
    if prov.run_url:
        ext_refs.append(ExternalReference(type=ExternalReferenceType.BUILD_SYSTEM,
                                          url=XsUri(prov.run_url)))
    model_props = [Property(name="mlgate:modelcard:status", value=card.status)]
    if card.error:
        model_props.append(Property(name="mlgate:modelcard:error", value=card.error))
    for base in card.base_models:
        model_props.append(Property(name="mlgate:base-model", value=base))
    if card.library_name:
        model_props.append(Property(name="mlgate:library-name", value=card.library_name))
    model_props += [Property(name=k, value=v) for k, v in _mlflow_properties(mlmodel)]
    if pyproject.status != "missing":
        status = pyproject.status + (f": {pyproject.note}" if pyproject.note else "")
        model_props.append(Property(name="mlgate:pyproject:status", value=status))
    for req_file, problem in sorted(requirement_problems.items()):
        model_props.append(Property(name=f"mlgate:requirements:{req_file}:status", value=problem))
    if config_status:
        model_props.append(Property(name="mlgate:config:status", value=config_status))
    model_licenses = list(card.licenses)
    if model_licenses and card.license_name and model_licenses == ["other"]:
        model_licenses = [card.license_name]
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=name,
        version=version or revision,
        bom_ref="model",
        purl=purl,
        description=card.description or None,
        licenses=licenses(model_licenses),
        external_references=ext_refs,
        properties=model_props,
        tags=list(card.tags[:50]),
    )
    components = [model]
    depends: list[Any] = []
    for rec in records:
        props = [Property(name="mlgate:size", value=str(rec.size)),
                 Property(name="mlgate:format", value=rec.format)]
        if rec.error:
            props.append(Property(name="mlgate:error", value=rec.error))
        comp = Component(
            type=ComponentType.FILE,
            name=rec.path,
            bom_ref=f"file:{rec.path}",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=rec.sha256)] if rec.sha256 else [],
            properties=props,
        )
        components.append(comp)
        depends.append(comp)
    data: dict[str, list[dict[str, Any]]] = {}
    for ds in card.datasets:
        ref = f"dataset:{ds}"
        comp = Component(
            type=ComponentType.DATA,
            name=ds,
            bom_ref=ref,
            external_references=[ExternalReference(
                type=ExternalReferenceType.DISTRIBUTION,
                url=XsUri(f"https://huggingface.co/datasets/{ds}"))] if "/" in ds else [],
        )
        data[ref] = [{"type": "dataset", "name": ds}]
        components.append(comp)
        depends.append(comp)
    libs = _libraries(requirements, card, config, mlmodel, pyproject, include_env)
    for lib_name, lib_version, spec, lic in libs:
        props = [Property(name="mlgate:requirement", value=spec)] if spec else []
        comp = Component(
            type=ComponentType.LIBRARY,
            name=lib_name,
            version=lib_version,
            bom_ref=f"pypi:{lib_name}",
            purl=PackageURL(type="pypi", name=lib_name, version=lib_version),
            licenses=[lf.make_from_string(lic)] if lic else [],
            properties=props,
        )
        components.append(comp)
        depends.append(comp)

    tool = Component(type=ComponentType.APPLICATION, name="mlgate", version=__version__,
                     bom_ref="tool:mlgate")
    metadata = BomMetaData(
        tools=ToolRepository(components=[tool]),
        timestamp=timestamp,
        properties=[Property(name=k, value=v) for k, v in prov.properties],
    )
    bom = Bom(components=components, metadata=metadata, serial_number=uuid.UUID(int=0))
    bom.register_dependency(model, depends)
    return bom, MlFields("model", _model_card(card, config, mlmodel), data)


def _mlflow_properties(mlmodel: MlflowModel) -> list[tuple[str, str]]:
    if mlmodel.status == "missing":
        return []
    out = [("mlgate:mlflow:status", mlmodel.status)]
    if mlmodel.error:
        out.append(("mlgate:mlflow:error", mlmodel.error))
    for key, value in (("flavors", ",".join(mlmodel.flavors)), ("run-id", mlmodel.run_id),
                       ("model-uuid", mlmodel.model_uuid),
                       ("utc-time-created", mlmodel.utc_time_created),
                       ("mlflow-version", mlmodel.mlflow_version),
                       ("python-version", mlmodel.python_version)):
        if value:
            out.append((f"mlgate:mlflow:{key}", value))
    return out


def _libraries(requirements: Sequence[Requirement], card: ModelCard, config: Mapping[str, Any],
               mlmodel: MlflowModel, pyproject: PyprojectDeps, include_env: bool,
               ) -> list[tuple[str, str | None, str, str | None]]:
    """(name, exact version or None, requirement text, license expression or None)."""
    found: dict[str, tuple[str, str | None, str, str | None]] = {}
    for req in [*requirements, *pyproject.requirements]:
        if req.name not in found:
            found[req.name] = (req.name, req.version, req.specifier, None)
    for pkg, pkg_version in mlmodel.frameworks:  # the versions the model was saved with
        prev = found.get(pkg)
        if prev is None or (prev[1] is None and pkg_version):
            found[pkg] = (pkg, pkg_version or (prev[1] if prev else None),
                          prev[2] if prev else (f"=={pkg_version}" if pkg_version else ""), None)
    lib = re.sub(r"[-_.]+", "-", card.library_name).lower() if card.library_name else ""
    tv = config.get("transformers_version")
    if isinstance(tv, str) and re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", tv):
        prev = found.get("transformers")
        found["transformers"] = ("transformers", tv, prev[2] if prev else f"=={tv}", None)
    if lib and lib not in found:
        found[lib] = (lib, None, "", None)
    if include_env:
        from importlib import metadata as md

        from mlgate.license.deps import installed_license

        for name in list(found):
            try:
                dist = md.distribution(name)
            except md.PackageNotFoundError:
                continue
            _, _, spec, _ = found[name]
            found[name] = (name, dist.version, spec, installed_license(name).expression)
    return [found[k] for k in sorted(found)]


def _model_card(card: ModelCard, config: Mapping[str, Any],
                mlmodel: MlflowModel) -> dict[str, Any]:
    """``modelCard`` in its JSON shape, keys in the order of the 1.6 XSD sequence."""
    params: dict[str, Any] = {}
    if card.pipeline_tag:
        params["task"] = card.pipeline_tag
    family = config.get("model_type")
    if isinstance(family, str) and family:
        params["architectureFamily"] = family[:200]
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        params["modelArchitecture"] = archs[0][:200]
    if card.datasets:
        params["datasets"] = [{"ref": f"dataset:{d}"} for d in card.datasets]
    io = _IO.get(card.pipeline_tag)
    if mlmodel.inputs:  # the saved signature is more exact than a guess from the task
        params["inputs"] = [{"format": f} for f in mlmodel.inputs]
    elif io:
        params["inputs"] = [{"format": io[0]}]
    if mlmodel.outputs:
        params["outputs"] = [{"format": f} for f in mlmodel.outputs]
    elif io:
        params["outputs"] = [{"format": io[1]}]
    out: dict[str, Any] = {}
    if params:
        out["modelParameters"] = params
    if card.metrics:
        metrics = []
        for m in card.metrics:
            entry = {"type": m.type, "value": m.value}
            slice_ = " ".join(x for x in (m.dataset or m.dataset_type, m.split) if x)
            if slice_:
                entry["slice"] = slice_
            metrics.append(entry)
        out["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    if card.limitations:
        out["considerations"] = {"technicalLimitations": [card.limitations]}
    return out
