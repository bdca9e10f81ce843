"""The backend fixtures themselves: Redis isolation and CI's no-skip rule."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
def test_redis_prefix_is_unique_and_usable(redis_url, redis_prefix):
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{redis_prefix}:probe", "1")
        assert client.get(f"{redis_prefix}:probe") == b"1"
        assert redis_prefix.startswith("fptest-")
    finally:
        client.close()


def _run_backend_test(tmp_path, env_overrides):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.fixtures_backends"]\n')
    (tmp_path / "test_probe.py").write_text(
        textwrap.dedent(
            """
            def test_postgres(postgres_admin_url):
                pass

            def test_redis(redis_url):
                pass
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_overrides}
    for name in ("FLEETPROMPT_TEST_DATABASE_URL", "FLEETPROMPT_TEST_REDIS_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )


def test_missing_backend_is_skipped_outside_ci(tmp_path):
    result = _run_backend_test(tmp_path, {"CI": "false"})
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout
    assert "need FLEETPROMPT_TEST_DATABASE_URL" in result.stdout


def test_missing_backend_fails_on_ci(tmp_path):
    result = _run_backend_test(tmp_path, {"CI": "true"})
    assert result.returncode != 0
    assert "2 error" in result.stdout
    assert "CI=true, so a skipped backend test is a failure" in result.stdout
