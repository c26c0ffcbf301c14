"""Shared pytest configuration: deterministic hypothesis runs; the fast engine's tiers."""

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from arspec.reference.vm import native

settings.register_profile(
    "arspec",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("arspec")


@pytest.fixture(params=["python", "native"])
def tier(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Each tier of the fast engine in turn: ``False`` the Python tier, ``True`` the native
    tier (skipped where the extension is not built; ``tests/test_native.py`` fails on that
    under ``CI=true``)."""
    if request.param == "native" and not native.available():
        pytest.skip("the native extension is not built")
    yield request.param == "native"
