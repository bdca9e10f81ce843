"""Resolver test helpers: a deterministic hypothesis profile and an in-memory source."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests must give the same answer on every run and every machine, in CI or not.
settings.register_profile(
    "resolver",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("resolver")
