"""Generate a large index (default 10,000 packages x 5 versions), seeded.

Writes index lines directly (with placeholder checksums and no archives):
search and `index update` read only the lines.  Usage:
    .venv/bin/python bench/gen_index.py OUT_DIR [--packages N] [--versions V] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleetprompt_cli.core.index import INDEX_SCHEMA, package_path
from fleetprompt_cli.core.vocab import CATEGORIES, PRICING_MODELS, TIERS

_WORD_TEXT = (
    "support ticket chat email crm lead sales invoice expense audit payroll hiring "
    "onboarding review incident deploy metrics report dashboard campaign seo content "
    "social schedule dispatch route inventory parts quality compliance contract "
    "legal translate summarize classify extract search knowledge forecast budget "
    "billing refund churn survey "
)
WORDS = _WORD_TEXT.split()


def _pricing(rng: random.Random) -> dict:
    model = rng.choice(PRICING_MODELS)
    if model == "paid":
        return {"model": model, "price": rng.choice([19, 49, 99, 149])}
    if model == "revenue_share":
        return {"model": model, "percentage": rng.choice([5, 10, 15])}
    if model == "freemium":
        return {"model": model, "tiers": [{"name": "Free", "limit": 100, "price": 0}]}
    return {"model": model}


def generate(out: Path, packages: int, versions: int, seed: int) -> list[str]:
    """Write the index; return the slugs."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"schema": INDEX_SCHEMA}))
    slugs = [f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}" for i in range(packages)]
    for i, slug in enumerate(slugs):
        words = rng.sample(WORDS, 6)
        lines = []
        for v in range(versions):
            deps = {d: ">=1.0" for d in rng.sample(slugs[:i], min(i, rng.randint(0, 3)))}
            entry = {
                "schema": INDEX_SCHEMA,
                "slug": slug,
                "name": " ".join(w.title() for w in words[:2]) + f" {i}",
                "version": f"1.{v}.0",
                "description": f"{' '.join(words)} automation for teams",
                "category": rng.choice(CATEGORIES),
                "keywords": words[2:5],
                "author": "Bench",
                "license": "MIT",
                "pricing": _pricing(rng),
                "min_tier": rng.choice(TIERS),
                "platform": ">=2.0,<3",
                "deps": deps,
                "includes": {
                    "agents": [{"name": f"{words[0].title()} Agent", "description": ""}],
                    "workflows": [],
                    "skills": [{"name": f"{words[1]}-skill", "description": ""}],
                    "tools": [],
                },
                "sha256": f"{i:064x}",
                "archive": f"archives/{slug}/{slug}-1.{v}.0.tar.gz",
                "yanked": False,
                "published_at": "2026-11-01T00:00:00Z",
            }
            lines.append(json.dumps(entry, sort_keys=True, separators=(",", ":")))
        path = out / "packages" / package_path(slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return slugs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.out, args.packages, args.versions, args.seed)


if __name__ == "__main__":
    main()
