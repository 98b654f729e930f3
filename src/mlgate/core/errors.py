"""The error hierarchy: each error carries one user-facing message, a hint and an exit code.

Exit codes (see docs/index.md):
  0 pass, 1 policy says reject/hold (findings), 2 usage error, 3 tool error.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    TOOL = 3


class MlgateError(Exception):
    """Base class: shown to the user as ``error: <message>`` plus an optional hint."""

    exit_code: ExitCode = ExitCode.TOOL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(MlgateError):
    """The user asked for something that cannot be done as asked (bad option, missing file)."""

    exit_code = ExitCode.USAGE


class PolicyError(UsageError):
    """The policy file is not valid YAML, has a field of the wrong type, or names no preset."""


class InputError(UsageError):
    """An input file (report, lockfile, results) is malformed or of the wrong kind."""


class ToolError(MlgateError):
    """mlgate itself could not finish: an API failed after retries, a disk write failed..."""

    exit_code = ExitCode.TOOL


class NetworkError(ToolError):
    """A remote API could not be reached or kept failing after retries."""
