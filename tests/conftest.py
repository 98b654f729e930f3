"""Shared fixtures. Hostile and benign model files are built in code by the tests that use
them (see tests/scan/); nothing here loads a model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_MODEL = REPO / "fixtures" / "example-model"


@pytest.fixture
def example_model(tmp_path: Path) -> Path:
    """A private copy of fixtures/example-model that a test may modify."""
    dst = tmp_path / "example-model"
    shutil.copytree(EXAMPLE_MODEL, dst)
    return dst


@pytest.fixture(autouse=True)
def _no_ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from a clean CI environment: a test that needs GitHub or GitLab variables
    sets them itself (CI itself may run the suite inside GitHub Actions or GitLab CI)."""
    import os

    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB_", "CI_", "RUNNER_", "INPUT_")) or name in (
            "CI", "GITLAB_CI", "GITHUB_ACTIONS", "HF_TOKEN", "HF_ENDPOINT", "MLGATE_GITLAB_TOKEN"
        ):
            monkeypatch.delenv(name, raising=False)
