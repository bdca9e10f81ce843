"""Resolver test helpers: a deterministic hypothesis profile and an in-memory source."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests must give the same answer on every run and every machine, in CI or not.
# The resolver's tests apply this profile themselves (``@settings(RESOLVER)``) rather
# than loading it, so that it does not change other packages' hypothesis tests.
settings.register_profile(
    "resolver",
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
