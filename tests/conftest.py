"""Shared pytest configuration: deterministic hypothesis runs."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "arspec",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("arspec")
