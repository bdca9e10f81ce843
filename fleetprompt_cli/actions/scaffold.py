"""``fleetprompt new`` (a package folder to start from) and ``fleetprompt pack``.

``new`` writes a commented ``fleetprompt.toml``, a README and a sample agent
prompt into a staging folder, validates it with the same validator as
``validate`` and ``publish``, and only then moves it into place: a package
folder that would not validate is never left behind.  ``pack`` validates a
package and builds the same reproducible archive ``publish`` would.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fleetprompt_cli import PLATFORM_VERSION
from fleetprompt_cli.core.archive import build_archive
from fleetprompt_cli.core.manifest import ManifestError, load_manifest
from fleetprompt_cli.core.names import canonical_slug, is_valid_slug
from fleetprompt_cli.core.vocab import CATEGORIES, LIMITS
from fleetprompt_cli.errors import AlreadyExists, FleetPromptError, UsageError

__all__ = ["Packed", "Scaffold", "new_package", "pack"]

DEFAULT_CATEGORY = "operations"


@dataclass(frozen=True)
class Scaffold:
    slug: str
    version: str
    folder: Path
    files: tuple[str, ...]


@dataclass(frozen=True)
class Packed:
    slug: str
    version: str
    path: Path
    sha256: str
    size: int
    files: int


def _toml_string(value: str) -> str:
    """``value`` as a TOML basic string (escaped by tomli-w, never hand-quoted)."""
    import tomli_w

    return tomli_w.dumps({"x": value}).split("=", 1)[1].strip()


def _category_comment() -> str:
    import textwrap

    words = "one of: " + ", ".join(CATEGORIES)
    return "\n".join(textwrap.wrap(words, 76, initial_indent="# ", subsequent_indent="#   "))


def _manifest_text(slug: str, category: str, author: str) -> str:
    major = int(PLATFORM_VERSION.split(".")[0])
    name = slug.replace("-", " ").title()
    return f"""\
# fleetprompt.toml: the manifest of the package {slug}.
# The format is documented in manifests/README.md; check it with
#   fleetprompt validate .
# and publish it with
#   fleetprompt publish . --index DIR|URL
schema_version = 1

[package]
slug = {_toml_string(slug)}                  # the name users install; never changes
name = {_toml_string(name)}                  # display name, at most 100 characters
version = "0.1.0"                # PEP 440; a published version is immutable
description = "What {name} does, in one line"
readme = "README.md"             # shown by 'fleetprompt show'
{_category_comment()}
category = {_toml_string(category)}
keywords = []                    # at most 20 search words
author = {_toml_string(author)}
license = "MIT"
min_tier = "free"                # free, pro or enterprise

[package.pricing]
model = "free"                   # free, freemium, paid or revenue_share

[compatibility]
platform = ">={major}.0,<{major + 1}"      # platform versions this package runs on

# [dependencies]                 # other packages, with PEP 440 specifiers
# core-skills = ">=1.2,<2"

[[agents]]
name = "Assistant"
description = "A first agent: edit its prompt in prompts/assistant.md"
prompt_file = "prompts/assistant.md"
# its own skills, or "DEP:SKILL" of a dependency
skills = []

# [[skills]]
# name = "lookup"
# description = "What the skill does"
# entrypoint = "skills/lookup.md"

# [config]                       # what an installation may set
# region = {{ type = "string", default = "eu", description = "Data region" }}
"""


def _readme_text(slug: str) -> str:
    name = slug.replace("-", " ").title()
    return f"""\
# {name}

What {name} does, for whom, and how to configure it.

## Agents

- **Assistant** (`prompts/assistant.md`): a first agent to edit.

## Publishing

    fleetprompt validate .
    fleetprompt pack .
    fleetprompt publish . --index DIR|URL
"""


_PROMPT = """\
You are Assistant, an agent of this package.

Describe here what the agent does, which skills it uses and how it should
answer. Keep instructions concrete: inputs, steps, and the form of the output.
"""


def new_package(
    slug: str, *, category: str | None, path: Path | None, author: str, cwd: Path
) -> Scaffold:
    """Create a package folder (``path``, or ``cwd/SLUG``) that validates as created."""
    if not is_valid_slug(slug) or len(slug) > LIMITS.slug:
        raise UsageError(
            f"invalid package name {slug[:80]!r}: use letters, digits and single dashes, "
            f"at most {LIMITS.slug} characters, e.g. 'field-service'"
        )
    slug = canonical_slug(slug)
    category = DEFAULT_CATEGORY if category is None else category
    if category not in CATEGORIES:
        raise UsageError(f"unknown category {category[:80]!r}: use one of {', '.join(CATEGORIES)}")
    folder = (cwd / (path if path is not None else Path(slug))).absolute()
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise AlreadyExists(f"{folder} exists and is not a folder: choose another --path")
    if folder.is_dir() and any(folder.iterdir()):
        raise AlreadyExists(f"{folder} exists and is not empty: choose another --path")
    files = {
        "fleetprompt.toml": _manifest_text(slug, category, author),
        "README.md": _readme_text(slug),
        "prompts/assistant.md": _PROMPT,
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            manifest, _ = load_manifest(staging)
        except ManifestError as error:
            # Only an unusual author name can do this (the rest is ours).
            raise UsageError(
                f"the new package would not validate: {error} "
                "(set FLEETPROMPT_ACTOR to a plain name)"
            ) from None
        os.chmod(staging, 0o755)
        if folder.is_dir():
            folder.rmdir()  # Empty (checked above); rename needs it gone.
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Scaffold(manifest.slug, str(manifest.version), folder, tuple(files))


def pack(path: Path, *, out: Path | None) -> Packed:
    """Validate the package at ``path`` and write its reproducible archive into ``out``.

    ``out`` defaults to ``dist/`` beside the package folder; it must not be
    inside the package (the archive would be packed into the next one).
    """
    manifest, root = load_manifest(path)
    root = root.resolve()
    folder = (out if out is not None else root.parent / "dist").absolute()
    if folder.resolve().is_relative_to(root):
        raise UsageError(
            f"--out {folder} is inside the package folder {root}: the archive would be "
            "packed into the next one; choose a folder outside it"
        )
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is not a folder")
    dest = folder / f"{manifest.slug}-{manifest.version}.tar.gz"
    try:
        info = build_archive(root, dest)
    except OSError as error:
        raise FleetPromptError(f"cannot write {dest}: {error.strerror}") from None
    return Packed(
        manifest.slug, str(manifest.version), dest, info.sha256, info.size, len(info.files)
    )
