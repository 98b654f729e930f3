"""Read a Hugging Face model card (``README.md`` YAML front matter) without trusting it.

The card is hostile input like any other file: it is read up to ``MAX_CARD_BYTES``, parsed with
``yaml.safe_load`` only, and a YAML "billion laughs" (aliases that expand exponentially) is
refused by counting nodes through aliases before anything walks the data. A card that is
missing or cannot be read is an explicit state (``status`` + ``error``), never an empty card
that looks fine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlgate.core.artifacts import open_nofollow

MAX_CARD_BYTES = 1 << 20  # 1 MiB: real cards are a few KB
MAX_YAML_NODES = 20_000  # nodes visited with aliases expanded
MAX_TEXT = 4_000  # characters kept of free text (description, limitations)
MAX_ITEMS = 200  # items kept of any list (tags, datasets, metrics)

CARD_NAMES = ("README.md", "readme.md", "README.MD", "Readme.md")


@dataclass(frozen=True)
class Metric:
    """One result of ``model-index``: metric type/name/value on a task and dataset."""

    type: str
    value: str
    name: str = ""
    task: str = ""
    dataset: str = ""
    dataset_type: str = ""
    split: str = ""


@dataclass(frozen=True)
class ModelCard:
    """The fields mlgate uses from a card. ``status`` is ``ok``, ``missing`` or ``invalid``
    (then ``error`` says why); with ``ok`` and no front matter every field is empty."""

    status: str = "missing"
    error: str = ""
    path: str = ""
    licenses: tuple[str, ...] = ()
    license_name: str = ""
    license_link: str = ""
    datasets: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()
    pipeline_tag: str = ""
    library_name: str = ""
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    model_name: str = ""
    metrics: tuple[Metric, ...] = ()
    description: str = ""
    limitations: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class CardError(ValueError):
    """The card could not be parsed (the message says why)."""


def find_card(folder: Path) -> Path | None:
    if folder.is_file():
        return folder if folder.name.lower() == "readme.md" else None
    for name in CARD_NAMES:
        p = folder / name
        if p.is_file() and not p.is_symlink():
            return p
    return None


def load_model_card(folder: Path) -> ModelCard:
    """The card of a model folder; never raises for a bad card (``status='invalid'``)."""
    path = find_card(folder)
    if path is None:
        return ModelCard(status="missing", error="no README.md model card")
    try:
        fd = open_nofollow(path)
        with open(fd, "rb", buffering=0, closefd=True) as f:
            data = f.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        return ModelCard(status="invalid", error=f"cannot read {path.name}: {exc}", path=path.name)
    if len(data) > MAX_CARD_BYTES:
        return ModelCard(
            status="invalid",
            error=f"{path.name} is larger than {MAX_CARD_BYTES} bytes",
            path=path.name,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ModelCard(status="invalid", error=f"{path.name} is not UTF-8: {exc}", path=path.name)
    try:
        card = parse_model_card(text)
    except CardError as exc:
        return ModelCard(status="invalid", error=f"{path.name}: {exc}", path=path.name)
    return _replace_path(card, path.name)


def _replace_path(card: ModelCard, path: str) -> ModelCard:
    from dataclasses import replace

    return replace(card, path=path)


_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.S | re.M)


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(front matter YAML or None, body)."""
    if len(text) > MAX_CARD_BYTES:
        raise CardError(f"card is larger than {MAX_CARD_BYTES} characters")
    m = _FRONT.match(text)
    if not m:
        if text.startswith("---"):
            raise CardError("front matter starts with '---' but is never closed")
        return None, text
    return m.group(1), text[m.end():]


def safe_yaml(text: str, *, max_nodes: int = MAX_YAML_NODES) -> Any:
    """``yaml.safe_load`` with a bound on the expanded size (alias bombs are refused)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError as exc:  # the composer recurses once per nesting level
        raise CardError("front matter is nested too deeply") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CardError(f"front matter is not valid YAML{where}: "
                        f"{getattr(exc, 'problem', None) or exc}") from exc
    if node is None:
        return None
    count = 0
    stack: list[yaml.Node] = [node]
    while stack:
        current = stack.pop()
        count += 1
        if count > max_nodes:
            raise CardError(
                f"front matter expands to more than {max_nodes} YAML nodes (alias bomb?)"
            )
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                stack.append(k)
                stack.append(v)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise CardError(f"front matter is not valid YAML: {exc}") from exc


def parse_model_card(text: str) -> ModelCard:
    """Parse card text (front matter + Markdown). Raises CardError when malformed."""
    front, body = split_front_matter(text)
    data: Any = safe_yaml(front) if front is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CardError("front matter must be a YAML mapping")
    model_name, metrics = _model_index(data.get("model-index"))
    return ModelCard(
        status="ok",
        licenses=_strs(data.get("license")),
        license_name=_str(data.get("license_name")),
        license_link=_str(data.get("license_link")),
        datasets=_strs(data.get("datasets")),
        base_models=_strs(data.get("base_model")),
        pipeline_tag=_str(data.get("pipeline_tag")),
        library_name=_str(data.get("library_name")),
        tags=_strs(data.get("tags")),
        languages=_strs(data.get("language")),
        model_name=model_name,
        metrics=metrics,
        description=_description(body),
        limitations=_section(body, ("limitation", "bias", "risks", "out-of-scope")),
        raw=data,
    )


def _str(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)[:MAX_TEXT].strip()
    return ""


def _strs(value: Any) -> tuple[str, ...]:
    items = [_str(v) for v in value[:MAX_ITEMS]] if isinstance(value, list) else [_str(value)]
    return tuple(i for i in items if i)


def _model_index(value: Any) -> tuple[str, tuple[Metric, ...]]:
    if not isinstance(value, list):
        return "", ()
    name = ""
    out: list[Metric] = []
    for entry in value[:MAX_ITEMS]:
        if not isinstance(entry, dict):
            continue
        name = name or _str(entry.get("name"))
        results = entry.get("results")
        if not isinstance(results, list):
            continue
        for res in results[:MAX_ITEMS]:
            if not isinstance(res, dict):
                continue
            task: dict[str, Any] = res["task"] if isinstance(res.get("task"), dict) else {}
            ds: dict[str, Any] = res["dataset"] if isinstance(res.get("dataset"), dict) else {}
            metrics = res.get("metrics")
            if not isinstance(metrics, list):
                continue
            for m in metrics[:MAX_ITEMS]:
                if not isinstance(m, dict) or not _str(m.get("type")):
                    continue
                out.append(Metric(
                    type=_str(m.get("type")),
                    value=_str(m.get("value")),
                    name=_str(m.get("name")),
                    task=_str(task.get("type")),
                    dataset=_str(ds.get("name")),
                    dataset_type=_str(ds.get("type")),
                    split=_str(ds.get("split")),
                ))
                if len(out) >= MAX_ITEMS:
                    return name, tuple(out)
    return name, tuple(out)


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]


def _description(body: str) -> str:
    """The first paragraph of prose (not a heading, table, list or code)."""
    for para in _paragraphs(body)[:50]:
        if para.startswith(("#", "|", "```", "<", "-", "*", "!")):
            continue
        return " ".join(para.split())[:MAX_TEXT]
    return ""


def _section(body: str, keywords: tuple[str, ...]) -> str:
    """Text of the first Markdown section whose heading contains one of ``keywords``."""
    lines = body.splitlines()
    for i, line in enumerate(lines[:5000]):
        if line.startswith("#") and any(k in line.lower() for k in keywords):
            level = len(line) - len(line.lstrip("#"))
            chunk: list[str] = []
            for nxt in lines[i + 1:]:
                if nxt.startswith("#") and len(nxt) - len(nxt.lstrip("#")) <= level:
                    break
                chunk.append(nxt)
            return " ".join(" ".join(chunk).split())[:MAX_TEXT]
    return ""
