"""Property tests: random and mutated bytes never make the pickle analysis raise, and every run
ends with findings or a clean, complete result."""

from __future__ import annotations

import io
import pickle

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.scan.allowlist import Allowlist
from mlgate.scan.pickle import analyze_pickle
from tests.scan.conftest import call_global, make_ctx

_SEEDS = [
    pickle.dumps({"a": [1, 2.5, "x", b"y", (None, True)], "b": {1, 2}}, protocol=p) for p in range(6)
] + [call_global("os", "system", "id")]


def _check(data: bytes) -> None:
    a = analyze_pickle(io.BytesIO(data), len(data), allow=Allowlist(), ctx=make_ctx())
    assert a.findings or a.complete
    assert a.end_offset <= len(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_never_raise(data: bytes) -> None:
    _check(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                          max_size=8))
def test_mutated_pickles_never_raise(seed: bytes, flips: list[tuple[int, int]]) -> None:
    data = bytearray(seed)
    for pos, val in flips:
        data[pos % len(data)] = val
    _check(bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(_SEEDS), st.integers(0, 200))
def test_truncated_pickles_fail_closed(seed: bytes, cut: int) -> None:
    data = seed[: max(1, len(seed) - 1 - cut)]
    a = analyze_pickle(io.BytesIO(data), len(data), allow=Allowlist(), ctx=make_ctx())
    assert a.findings, "a truncated pickle must never pass clean"
