"""The mlgate.yml policy model, its presets and its JSON Schema.

One ``Policy`` composes a section per capability (each section's model lives in its own module
here, owned by that capability). ``load_policy`` reads a file with ``yaml.safe_load`` only and
turns every validation error into a PolicyError (exit 2) that names the line and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlgate.core.errors import PolicyError
from mlgate.core.policy.bench import BenchPolicy
from mlgate.core.policy.license import LicensePolicy
from mlgate.core.policy.maturity import MaturityPolicy
from mlgate.core.policy.scan import ScanPolicy
from mlgate.core.policy.stages import StagePolicy

DEFAULT_POLICY_FILE = "mlgate.yml"
DEFAULT_PRESET = "commercial-safe"


class Policy(BaseModel):
    """The whole of mlgate.yml."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(1, description="Policy file format version.")
    extends: str | None = Field(
        None, description="A preset to start from (permissive, commercial-safe, research)."
    )
    scan: ScanPolicy = Field(default_factory=ScanPolicy)  # type: ignore[arg-type]
    license: LicensePolicy = Field(default_factory=LicensePolicy)  # type: ignore[arg-type]
    maturity: MaturityPolicy = Field(default_factory=MaturityPolicy)  # type: ignore[arg-type]
    bench: BenchPolicy = Field(default_factory=BenchPolicy)  # type: ignore[arg-type]
    stages: dict[str, StagePolicy] = Field(default_factory=dict)
    # provenance of this policy (not part of the file): where it came from
    source: str = Field("", exclude=True)


def presets_dir() -> Path:
    return Path(__file__).parent / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in presets_dir().glob("*.yml"))


def load_policy(spec: str | None, *, cwd: Path | None = None) -> Policy:
    """``spec`` is a file path or a preset name. None: ``mlgate.yml`` in ``cwd`` if present,
    else the ``commercial-safe`` preset."""
    base = cwd or Path.cwd()
    if spec is None:
        default = base / DEFAULT_POLICY_FILE
        if default.is_file():
            return load_policy_file(default)
        return load_preset(DEFAULT_PRESET)
    path = Path(spec)
    if not path.is_absolute():
        path = base / path
    if path.is_file():
        return load_policy_file(path)
    if spec in preset_names():
        return load_preset(spec)
    raise PolicyError(
        f"no policy file or preset named {spec!r}",
        hint=f"presets: {', '.join(preset_names())}; or give a path to an mlgate.yml",
    )


def load_preset(name: str) -> Policy:
    path = presets_dir() / f"{name}.yml"
    if not path.is_file():
        raise PolicyError(f"unknown preset {name!r}", hint=f"presets: {', '.join(preset_names())}")
    return _parse(path.read_text(encoding="utf-8"), f"preset:{name}", allow_extends=False)


def load_policy_file(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
    return _parse(text, str(path), allow_extends=True)


def parse_policy_text(text: str, source: str = "<string>") -> Policy:
    return _parse(text, source, allow_extends=True)


def _parse(text: str, source: str, *, allow_extends: bool) -> Policy:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except RecursionError as exc:  # the composer recurses once per nesting level
        raise PolicyError(f"{source}: the YAML is nested too deeply") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        ctx = getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if ctx is not None and (mark is None or ctx.line != mark.line):
            where += f" (in what starts at line {ctx.line + 1})"
        raise PolicyError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the policy must be a mapping at the top level")
    if allow_extends and isinstance(data.get("extends"), str):
        try:
            base = load_preset(data["extends"]).model_dump(exclude={"source"})
        except PolicyError as exc:
            line = _line_of(node, ("extends",))
            where = f" line {line}," if line else ""
            raise PolicyError(f"{source}:{where} field 'extends': {exc.message}", hint=exc.hint) from exc
        data = _deep_merge(base, data)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        line = _line_of(node, first["loc"])
        where = f" line {line}," if line else ""
        raise PolicyError(
            f"{source}:{where} field '{'.'.join(loc)}': {first['msg']}",
            hint="see docs/policy.md for the fields and their types",
        ) from exc
    policy.source = source
    return policy


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (as deep as it exists)."""
    line: int | None = None
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            nxt = None
            for k, v in current.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    line = k.start_mark.line + 1
                    nxt = v
                    break
            current = nxt
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part < len(current.value):
                current = current.value[part]
                line = current.start_mark.line + 1
            else:
                break
        else:
            break
        if current is None:
            break
    return line


def json_schema() -> str:
    """The JSON Schema of mlgate.yml (published in docs/policy.schema.json)."""
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlgate policy (mlgate.yml)"
    return json.dumps(schema, indent=2) + "\n"
