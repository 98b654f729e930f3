"""Check requests and responses against GitHub's published OpenAPI description.

The description comes from npm ``@octokit/openapi`` (installed by .ci/setup.d/github-openapi.sh).
OpenAPI 3.0 schemas are JSON Schema draft 4 plus ``nullable``; ``nullable: true`` is turned into
``anyOf [schema, null]`` and every ``#/components`` reference is made absolute, so any
sub-schema validates on its own."""

from __future__ import annotations

import json
import os
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SPEC_URI = "urn:github-openapi"
_HTTP = ("get", "post", "patch", "put", "delete")


def data_file(env: str, name: str) -> Path:
    for candidate in (os.environ.get(env), str(Path(sys.prefix) / "share" / "octokit" / name)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    if os.environ.get("CI"):
        pytest.fail(f"{name} missing: .ci/setup.d/github-openapi.sh did not install it")
    pytest.skip(f"{name} not installed here; run `. .ci/setup.d/github-openapi.sh`")


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k != "nullable"}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        out["$ref"] = SPEC_URI + ref
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    def __init__(self, path: Path) -> None:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        raw = json.loads(path.read_text(encoding="utf-8"))
        self.paths: dict[str, Any] = raw["paths"]
        self.converted = _convert({"components": raw["components"]})
        self.registry = Registry().with_resource(
            SPEC_URI, Resource.from_contents(self.converted, default_specification=DRAFT4)
        )
        self._routes = [
            (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)) + "$"), p) for p in self.paths
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        matches = [tmpl for rx, tmpl in self._routes if rx.match(path) and method.lower() in self.paths[tmpl]]
        assert matches, f"{method} {path} is not an operation of GitHub's REST API"
        # the most specific template (fewest parameters) wins
        tmpl = min(matches, key=lambda t: t.count("{"))
        return tmpl, self.paths[tmpl][method.lower()]

    def validate(self, schema: dict[str, Any], instance: Any, what: str) -> None:
        import jsonschema

        validator = jsonschema.Draft4Validator(_convert(schema), registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, f"{what}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5]
        )

    def check_request(self, method: str, path: str, body: Any) -> None:
        tmpl, op = self.operation(method, path)
        rb = op.get("requestBody")
        if rb is None or body is None or not isinstance(body, (dict, list)):
            return
        schema = rb["content"].get("application/json", {}).get("schema")
        if schema is not None:
            self.validate(schema, body, f"request {method} {tmpl}")

    def check_response(self, method: str, path: str, status: int, body: Any) -> None:
        tmpl, op = self.operation(method, path)
        responses = op["responses"]
        if str(status) not in responses and status >= 400:
            # errors an operation does not list (e.g. 403 for a token without the checks
            # permission) still come as GitHub's basic-error body
            self.validate({"$ref": "#/components/schemas/basic-error"}, body, f"error {status} of {tmpl}")
            return
        assert str(status) in responses, f"{method} {tmpl} does not document status {status}"
        resp = responses[str(status)]
        if "$ref" in resp:
            resp = self.converted_response(resp["$ref"])
        schema = (resp.get("content") or {}).get("application/json", {}).get("schema")
        if schema is not None and body is not None:
            self.validate(schema, body, f"response {status} of {method} {tmpl}")

    def converted_response(self, ref: str) -> dict[str, Any]:
        name = ref.rsplit("/", 1)[1]
        node: dict[str, Any] = self.converted["components"]["responses"][name]
        return node


@cache
def load_spec(path: str) -> Spec:
    return Spec(Path(path))
