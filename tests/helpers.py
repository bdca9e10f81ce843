"""Builders for tests: package folders, indexes (folder and git), CLI runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import tomli_w
from typer.testing import CliRunner

from fleetprompt_cli.cli import app

__all__ = ["git", "git_index", "publish_all", "run_cli", "write_package"]


def write_package(
    root: Path,
    slug: str,
    version: str,
    *,
    deps: dict[str, str] | None = None,
    skills: list[str] | tuple[str, ...] = (),
    agents: dict[str, list[str]] | None = None,
    package: dict[str, Any] | None = None,
    **tables: Any,
) -> Path:
    """Write ``root/slug/version/fleetprompt.toml`` (plus prompt files) and return its folder."""
    folder = root / slug / version
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    meta = {
        "slug": slug,
        "name": slug.replace("-", " ").title(),
        "version": version,
        "description": f"The {slug} package",
        "category": "operations",
        "author": "Test Author",
        **(package or {}),
    }
    data: dict[str, Any] = {"schema_version": 1, "package": meta}
    if deps:
        data["dependencies"] = deps
    if skills:
        data["skills"] = [{"name": s, "description": f"skill {s}"} for s in skills]
    if agents:
        data["agents"] = []
        for name, agent_skills in agents.items():
            prompt = f"prompts/{name.lower().replace(' ', '-')}.md"
            (folder / prompt).write_text(f"You are {name}.\n")
            data["agents"].append(
                {
                    "name": name,
                    "description": f"agent {name}",
                    "prompt_file": prompt,
                    "skills": agent_skills,
                }
            )
    data.update(tables)
    (folder / "fleetprompt.toml").write_text(tomli_w.dumps(data))
    return folder


def run_cli(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    """Run the CLI in-process; returns typer's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()
    return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)


def publish_all(index: Path, *folders: Path) -> None:
    result = run_cli("publish", *map(str, folders), "--index", str(index))
    assert result.exit_code == 0, result.stderr


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def git_index(path: Path) -> Path:
    """An empty git repository that publish will commit into."""
    path.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    git("config", "user.name", "Index Bot", cwd=path)
    git("config", "user.email", "bot@example.com", cwd=path)
    return path


def load_json(text: str) -> dict[str, Any]:
    return json.loads(text)
