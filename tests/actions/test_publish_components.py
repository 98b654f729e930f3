"""scripts/publish-gitlab-components.py lays out the catalog project GitLab reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.actions._tools import ROOT, tool

SCRIPT = ROOT / "scripts" / "publish-gitlab-components.py"
STEPS = ("scan", "bom", "license", "maturity", "decide", "publish", "release", "bench", "check")
DIGEST = "sha256:" + "ab" * 32


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_templates_at_the_root_with_every_step_and_the_image_pinned(tmp_path: Path) -> None:
    dest = tmp_path / "components"
    proc = _run("--version", "0.2.0", "--digest", DIGEST, "--dest", str(dest))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (dest / "templates").iterdir()) == sorted(f"{s}.yml" for s in STEPS)
    assert (dest / "README.md").read_text("utf-8") == \
        (ROOT / "gitlab-components" / "README.md").read_text("utf-8")
    for step in STEPS:
        text = (dest / "templates" / f"{step}.yml").read_text("utf-8")
        spec, jobs = yaml.safe_load_all(text)
        inputs = spec["spec"]["inputs"]
        if step == "bench":  # runs in the user's image and installs mlgate there
            assert inputs["install"]["default"] == "mlgate==0.2.0"
        else:
            assert inputs["image"]["default"] == f"ghcr.io/mlgate-dev/mlgate:0.2.0@{DIGEST}", step
        assert f"mlgate-{step}" in jobs
        # nothing but the image pin changed
        src = (ROOT / "gitlab-components" / "templates" / f"{step}.yml").read_text("utf-8")
        assert len(text.splitlines()) == len(src.splitlines())
    listed = set(proc.stdout.split())
    assert {f"templates/{s}.yml" for s in STEPS} <= listed and ".gitlab-ci.yml" in listed


def test_release_pipeline_validates_against_the_gitlab_ci_schema(tmp_path: Path) -> None:
    dest = tmp_path / "c"
    assert _run("--version", "1.0.0", "--dest", str(dest)).returncode == 0
    pipeline = yaml.safe_load((dest / ".gitlab-ci.yml").read_text("utf-8"))
    assert pipeline["release"]["release"]["tag_name"] == "$CI_COMMIT_TAG"
    assert "ghcr.io/mlgate-dev/mlgate:1.0.0" in pipeline["release"]["release"]["description"]
    proc = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
                           str(dest / ".gitlab-ci.yml")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_refuses_a_non_semver_version_a_bad_digest_and_a_non_empty_folder(tmp_path: Path) -> None:
    assert _run("--version", "v1.0", "--dest", str(tmp_path / "a")).returncode == 2
    assert _run("--version", "1.0.0", "--digest", "sha256:xyz", "--dest", str(tmp_path / "b")).returncode == 2
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep").write_text("x")
    proc = _run("--version", "1.0.0", "--dest", str(tmp_path / "c"))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
