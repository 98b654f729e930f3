from __future__ import annotations

import subprocess
import sys

import pytest

from mlgate import __version__
from mlgate.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("scan", "bom", "license", "maturity", "bench", "decide", "publish", "check"):
        assert name in out


def test_unknown_command_is_usage_error() -> None:
    assert main(["frobnicate"]) == 2


def test_policy_error_exit_code_and_message(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "mlgate.yml"
    bad.write_text("scan: [\n")
    assert main(["policy", "show", "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_cli_import_stays_light() -> None:
    code = (
        "import sys, mlgate.cli; "
        "heavy = [m for m in ('github', 'gitlab', 'cyclonedx', 'numpy', 'torch', 'requests') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("argv", [
    ["check", "loopa"], ["license", "loopa"], ["bom", "loopa"],
    ["maturity", "--offline", "--model", "loopa"],
])
def test_symlink_loop_path_is_usage_error(
    argv: list[str], tmp_path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    os.symlink("loopb", "loopa")
    os.symlink("loopa", "loopb")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "loopa is a symlink that cannot be resolved (loop or broken)" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loopa", "loopb"]  # nothing written
