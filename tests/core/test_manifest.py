"""The manifest model and validation, driven by case files under manifests/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fleetprompt_cli.core.manifest import ManifestError, load_manifest
from fleetprompt_cli.errors import ExitCode

CASES = Path(__file__).parent / "manifests"
INVALID = sorted((CASES / "invalid").glob("*.toml"))


def _expectations(path: Path) -> list[tuple[str, str]]:
    result = []
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            field, _, text = line.removeprefix("# expect:").partition("|")
            result.append((field.strip(), text.strip()))
    return result


def test_valid_manifest_loads_and_canonicalizes():
    manifest, root = load_manifest(CASES / "valid")
    assert root == CASES / "valid"
    assert manifest.slug == "field-service"
    assert str(manifest.version) == "1.0"
    assert manifest.canonical_version == "1"
    assert manifest.dependencies == {"core-skills": ">=1.2,<2"}
    assert manifest.package.long_description == "# Field Service\n"
    assert manifest.package.pricing.describe() == "Free tier available"
    assert [a["name"] for a in manifest.includes()["agents"]] == ["Dispatcher", "QA Inspector"]
    assert manifest.to_data()["migrations"][0]["from"] == "<1.0"


def test_manifest_file_path_works_as_well_as_folder():
    manifest, _ = load_manifest(CASES / "valid" / "fleetprompt.toml")
    assert manifest.slug == "field-service"


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_manifest_reports_every_problem(case: Path, tmp_path: Path):
    package = tmp_path / "pkg"
    shutil.copytree(CASES / "valid", package)
    (package / "fleetprompt.toml").write_text(case.read_text())
    with pytest.raises(ManifestError) as caught:
        load_manifest(package)
    error = caught.value
    assert error.exit_code == ExitCode.INVALID
    found = [(p.field or "(file)", p.message) for p in error.problems]
    for field, text in _expectations(case):
        assert any(f == field and text in m for f, m in found), (field, text, found)
    assert all(p.file.endswith("fleetprompt.toml") for p in error.problems)
    assert str(package / "fleetprompt.toml") in str(error)


def test_missing_manifest_is_reported_with_path(tmp_path: Path):
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path)
