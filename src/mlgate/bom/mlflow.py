"""MLflow models in the BOM: the ``MLmodel`` file of a model folder and ``pkg:mlflow`` purls.

An MLflow model folder holds an ``MLmodel`` YAML file: ``flavors`` (the frameworks that can
load the model, with their versions), ``run_id``, ``model_uuid``, ``utc_time_created``,
``mlflow_version`` and a ``signature`` whose ``inputs``/``outputs`` are JSON strings (column or
tensor specs). It is read as hostile input like a model card: at most ``MAX_MLMODEL_BYTES``,
``yaml.safe_load`` only with an alias-bomb bound, never through a symlink; a bad file is an
explicit ``status='invalid'`` with a reason, never a crash and never an empty "ok".

The registered model's name and version are not in ``MLmodel`` (they belong to the registry),
so ``pkg:mlflow/<name>@<version>?repository_url=...`` is made only from what the user passes
(``--mlflow-model``, ``--mlflow-version``, ``--mlflow-uri``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlgate.core.artifacts import open_nofollow
from mlgate.core.errors import UsageError

MLMODEL_NAME = "MLmodel"
MAX_MLMODEL_BYTES = 1 << 20
MAX_SIGNATURE_ITEMS = 200
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!_-]{0,63}")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,200}")

# MLflow flavor -> PyPI distribution of the framework it needs
FLAVOR_PACKAGES: dict[str, str] = {
    "sklearn": "scikit-learn",
    "pytorch": "torch",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "transformers": "transformers",
    "sentence_transformers": "sentence-transformers",
    "onnx": "onnx",
    "spark": "pyspark",
    "statsmodels": "statsmodels",
    "prophet": "prophet",
    "spacy": "spacy",
    "h2o": "h2o",
    "paddle": "paddlepaddle",
    "fastai": "fastai",
    "pmdarima": "pmdarima",
    "diviner": "diviner",
    "langchain": "langchain",
    "openai": "openai",
}
# the version key a flavor records, where it is not "<flavor>_version"
_VERSION_KEYS: dict[str, str] = {
    "xgboost": "xgb_version",
    "lightgbm": "lgb_version",
    "tensorflow": "tf_version",
}


@dataclass(frozen=True)
class MlflowModel:
    """What mlgate uses from an ``MLmodel`` file. ``status`` is ``ok``, ``missing`` or
    ``invalid`` (``error`` says why)."""

    status: str = "missing"
    error: str = ""
    flavors: tuple[str, ...] = ()
    frameworks: tuple[tuple[str, str | None], ...] = ()  # (PyPI name, exact version or None)
    run_id: str = ""
    model_uuid: str = ""
    utc_time_created: str = ""
    mlflow_version: str = ""
    python_version: str = ""
    inputs: tuple[str, ...] = ()  # one modelParameters input format per column / tensor
    outputs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class MlflowRef:
    """A model version of an MLflow model registry (from the command line)."""

    name: str
    version: str
    repository_url: str = ""


def load_mlmodel(folder: Path) -> MlflowModel:
    """The ``MLmodel`` of a model folder; never raises for a bad file (``status='invalid'``)."""
    path = folder / MLMODEL_NAME
    if not folder.is_dir() or not (path.is_file() or path.is_symlink()):
        return MlflowModel()
    if path.is_symlink():
        return MlflowModel(status="invalid", error="MLmodel is a symlink (not followed)")
    try:
        fd = open_nofollow(path)
        with open(fd, "rb", buffering=0, closefd=True) as f:
            data = f.read(MAX_MLMODEL_BYTES + 1)
    except OSError as exc:
        return MlflowModel(status="invalid", error=f"cannot read MLmodel: {exc}")
    if len(data) > MAX_MLMODEL_BYTES:
        return MlflowModel(status="invalid", error=f"MLmodel is larger than {MAX_MLMODEL_BYTES} bytes")
    try:
        return parse_mlmodel(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return MlflowModel(status="invalid", error=f"MLmodel is not UTF-8: {exc}")
    except ValueError as exc:
        return MlflowModel(status="invalid", error=f"MLmodel: {exc}")


def parse_mlmodel(text: str) -> MlflowModel:
    """Parse ``MLmodel`` text. Raises ValueError (CardError) when it is not a YAML mapping."""
    from mlgate.bom.modelcard import CardError, safe_yaml

    try:
        data = safe_yaml(text)
    except CardError as exc:
        raise ValueError(str(exc).replace("front matter", "MLmodel")) from exc
    if not isinstance(data, dict):
        raise ValueError("MLmodel must be a YAML mapping")
    flavors_raw = data.get("flavors")
    flavors: dict[str, Any] = flavors_raw if isinstance(flavors_raw, dict) else {}
    names: list[str] = []
    frameworks: list[tuple[str, str | None]] = []
    for flavor in list(flavors)[:50]:
        if not isinstance(flavor, str) or not _TEXT.fullmatch(flavor):
            continue
        names.append(flavor)
        pkg = FLAVOR_PACKAGES.get(flavor)
        if pkg is None:
            continue
        spec = flavors[flavor] if isinstance(flavors[flavor], dict) else {}
        key = _VERSION_KEYS.get(flavor, f"{flavor}_version")
        version = _version(spec.get(key))
        if version is None:  # any single "*_version" other than python's
            others = [v for k, v in spec.items() if isinstance(k, str) and k.endswith("_version")
                      and k not in ("python_version", "mlflow_version")]
            version = _version(others[0]) if len(others) == 1 else None
        frameworks.append((pkg, version))
    mlflow_version = _version(data.get("mlflow_version")) or ""
    if mlflow_version or "python_function" in flavors:
        frameworks.append(("mlflow", mlflow_version or None))
    pyfunc = flavors.get("python_function")
    python_version = _version(pyfunc.get("python_version")) if isinstance(pyfunc, dict) else None
    sig_raw = data.get("signature")
    signature: dict[str, Any] = sig_raw if isinstance(sig_raw, dict) else {}
    return MlflowModel(
        status="ok",
        flavors=tuple(names),
        frameworks=tuple(sorted(set(frameworks))),
        run_id=_ident(data.get("run_id")),
        model_uuid=_ident(data.get("model_uuid")),
        utc_time_created=_text(data.get("utc_time_created")),
        mlflow_version=mlflow_version,
        python_version=python_version or "",
        inputs=_signature(signature.get("inputs")),
        outputs=_signature(signature.get("outputs")),
    )


def _version(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _VERSION.fullmatch(value.strip()):
        return value.strip()
    return None


def _ident(value: Any) -> str:
    return value if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value) else ""


def _text(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        s = str(value).strip()
        return s if _TEXT.fullmatch(s) else ""
    return ""


def _signature(value: Any) -> tuple[str, ...]:
    """Formats of a signature's inputs or outputs (a JSON string in MLmodel, or a list)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return ("unparsable signature",)
    if not isinstance(value, list):
        return ()
    out: list[str] = []
    for spec in value[:MAX_SIGNATURE_ITEMS]:
        if not isinstance(spec, dict):
            continue
        kind = _text(spec.get("type"))
        name = _text(spec.get("name"))
        if kind == "tensor" and isinstance(spec.get("tensor-spec"), dict):
            ts = spec["tensor-spec"]
            dtype = _text(ts.get("dtype")) or "unknown dtype"
            shape = ts.get("shape")
            dims = (", ".join(str(d) for d in shape[:16] if isinstance(d, int))
                    if isinstance(shape, list) else "")
            fmt = f"tensor {dtype} [{dims}]"
        else:
            fmt = kind or "unknown type"
        out.append(f"{name}: {fmt}" if name else fmt)
    if len(value) > MAX_SIGNATURE_ITEMS:
        out.append(f"... {len(value) - MAX_SIGNATURE_ITEMS} more")
    return tuple(out)


def clean_repository_url(url: str) -> str:
    """The registry URL for a purl qualifier, without credentials, query or fragment (a
    tracking URI may carry ``user:token@``; that must never reach a BOM)."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"MLflow registry URL (scheme {parts.scheme[:20]!r}) is not an http(s) URL",
                         hint="pass --mlflow-uri https://mlflow.example.com")
    try:
        port = parts.port
    except ValueError:  # never echo the URL: it may carry user:token@
        raise UsageError(f"MLflow registry URL for host {parts.hostname!r} has an invalid port",
                         hint="pass --mlflow-uri https://mlflow.example.com") from None
    host = parts.hostname + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def mlflow_purl(ref: MlflowRef, model: MlflowModel | None = None) -> str:
    """``pkg:mlflow/<name>@<version>?repository_url=...`` (+ ``model_uuid`` and ``run_id``
    qualifiers when the MLmodel file gives them)."""
    from packageurl import PackageURL

    name = ref.name.strip()
    version = ref.version.strip()
    if not name or not _TEXT.fullmatch(name):
        raise UsageError(f"bad MLflow model name {ref.name!r}")
    if not version or not _TEXT.fullmatch(version):
        raise UsageError("an MLflow registry model needs its version",
                         hint="pass --mlflow-version N (the registry's model version)")
    qualifiers: dict[str, str] = {}
    if ref.repository_url:
        qualifiers["repository_url"] = clean_repository_url(ref.repository_url)
    if model is not None and model.model_uuid:
        qualifiers["model_uuid"] = model.model_uuid
    if model is not None and model.run_id:
        qualifiers["run_id"] = model.run_id
    return str(PackageURL(type="mlflow", name=name, version=version, qualifiers=qualifiers))
