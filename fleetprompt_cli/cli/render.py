"""Rich renderings shared by commands: tables and the package detail page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from fleetprompt_cli.actions.search import PackageDetail, PackageSummary
from fleetprompt_cli.cli.formats import config_value
from fleetprompt_cli.core.pricing import describe_pricing

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["badges", "format_count", "package_detail", "package_table"]


def format_count(count: int) -> str:
    """1234 -> 1.2K, as the marketplace shows install counts."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 1000:
        return f"{count / 1000:.1f}K"
    return str(count)


def badges(verified: bool, featured: bool) -> str:
    marks = []
    if verified:
        marks.append("✓ verified")
    if featured:
        marks.append("★ featured")
    return "  ".join(marks)


def package_table(
    packages: Sequence[PackageSummary], width: int, title: str | None = None
) -> Group:
    """The search/featured listing: one line of facts, one of description.

    Rich tables cannot span a cell over columns, and at 80 columns a
    description column would get a dozen characters; so each package gets a
    line of aligned facts and its description below, cut to the width.
    """
    rows = []
    for package in packages:
        name = Text(package.slug, style="bold")
        if package.verified:
            name.append(" ✓", style="green")
        if package.featured:
            name.append(" ★", style="yellow")
        rows.append(
            (
                name,
                Text(package.version, style="cyan"),
                Text(package.pricing_text),
                Text(package.min_tier),
                Text(format_count(package.installs)),
            )
        )
    headers = ("Package", "Version", "Pricing", "Tier", "Installs")
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    lines: list[Text] = []
    if title:
        lines.append(Text(title, style="bold"))

    def line(cells: Sequence[Text], style: str = "") -> Text:
        out = Text(style=style)
        for i, (cell, size) in enumerate(zip(cells, widths, strict=True)):
            cell = cell.copy()
            if i == len(widths) - 1:
                cell.pad_left(size - len(cell))
            else:
                cell.pad_right(size - len(cell) + 2)
            out.append_text(cell)
        out.truncate(width, overflow="ellipsis")
        return out

    lines.append(line([Text(h) for h in headers], style="bold"))
    for package, row in zip(packages, rows, strict=True):
        lines.append(line(row))
        description = Text("  " + package.description, style="dim")
        description.truncate(width, overflow="ellipsis")
        lines.append(description)
    return Group(*lines)


def _kv_table(rows: list[tuple[str, Any]]) -> Table:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        if value not in (None, "", [], {}):
            table.add_row(key, value if isinstance(value, Text) else str(value))
    return table


def _installed_text(installed: dict[str, Any] | None) -> str:
    if installed is None:
        return ""
    return f"{installed['version'] or '-'} ({installed['status']}) in tenant {installed['tenant']}"


def package_detail(detail: PackageDetail) -> Group:
    """The detail page of one package version."""
    data = detail.to_json()
    heading = Text(f"{data['name']}", style="bold")
    heading.append(f"  {data['slug']} {data['version']}", style="cyan")
    if data["yanked"]:
        heading.append("  (yanked)", style="red")
    marks = badges(data["verified"], data["featured"])
    parts: list[Any] = [heading]
    if marks:
        parts.append(Text(marks, style="green"))
    parts.append(Text(data["description"]))
    parts.append(Text())
    if data["long_description"]:
        from rich.markdown import Markdown  # 50 ms of imports: only the detail page needs it

        # No hyperlinks: a link's text could name another site than its target;
        # without them rich prints "text (url)".
        parts.append(Markdown(data["long_description"].strip(), hyperlinks=False))
        parts.append(Text())
    rating = (
        f"{data['rating_avg']:.1f}/5 ({data['rating_count']} reviews)"
        if data["rating_count"]
        else "no reviews yet"
    )
    parts.append(
        _kv_table(
            [
                ("Author", data["author"]),
                ("Homepage", data["author_url"]),
                ("Repository", data["repository_url"]),
                ("Docs", data["documentation_url"]),
                ("License", data["license"]),
                ("Category", (data["category"] or "").replace("_", " ")),
                ("Pricing", detail.pricing_text),
                ("Minimum tier", data["min_tier"]),
                ("Platform", data["compatibility"]["platform"] or "any"),
                ("Installs", format_count(data["install_count"])),
                ("Rating", rating),
                ("Installed", _installed_text(data["installed"])),
                ("Checksum", f"sha256:{data['sha256']}"),
                ("Index", data["index"]),
            ]
        )
    )
    deps = data["dependencies"]
    parts.append(Text())
    parts.append(Text("Dependencies", style="bold underline"))
    if deps:
        for slug, spec in deps.items():
            parts.append(Text(f"  {slug} {spec or '(any version)'}"))
    else:
        parts.append(Text("  none"))
    parts.append(Text())
    parts.append(Text("What it installs", style="bold underline"))
    includes = data["includes"]
    for kind in ("agents", "workflows", "skills", "tools"):
        items = includes.get(kind, [])
        if not items:
            continue
        parts.append(Text(f"  {kind.capitalize()} ({len(items)})", style="bold"))
        for item in items:
            line = Text(f"    {item['name']}")
            if item.get("description"):
                line.append(f" — {item['description']}", style="dim")
            parts.append(line)
    if data["config"]:
        parts.append(Text())
        parts.append(Text("Configuration", style="bold underline"))
        for key, spec in data["config"].items():
            line = Text(f"  {key} ({spec.get('type')})")
            if spec.get("required"):
                line.append(" required", style="red")
            if "default" in spec:
                line.append(f" default={config_value(spec['default'])}")
            if spec.get("choices"):
                line.append(f" choices={'|'.join(map(str, spec['choices']))}")
            parts.append(line)
    if detail.reviews:
        parts.append(Text())
        parts.append(Text("Reviews", style="bold underline"))
        parts.append(
            review_lines(data["slug"], data["rating_avg"], data["rating_count"], detail.reviews)
        )
    parts.append(Text())
    parts.append(Text("Versions", style="bold underline"))
    versions = Text("  ")
    for i, item in enumerate(reversed(data["versions"])):
        if i:
            versions.append(", ")
        style = "bold" if item["version"] == data["version"] else ""
        versions.append(item["version"], style=style)
        if item["yanked"]:
            versions.append(" (yanked)", style="red")
    parts.append(versions)
    return Group(*parts)


def plan_table(steps: Sequence[Any]) -> Table:
    """A plan: package, version, action and why, dependencies first."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("Package", style="bold", no_wrap=True)
    table.add_column("Version", style="cyan", no_wrap=True)
    table.add_column("Action", no_wrap=True)
    table.add_column("Why", overflow="fold")
    styles = {"install": "green", "upgrade": "yellow", "downgrade": "magenta", "keep": "dim"}
    for step in steps:
        item = step.item
        version = str(item.version)
        if item.previous is not None and item.previous != item.version:
            version = f"{item.previous} → {item.version}"
        if step.entry.yanked:
            version += " (yanked)"
        table.add_row(
            item.slug, version, Text(item.action, style=styles.get(item.action, "")), item.reason
        )
    return table


def preview_table(preview: Any) -> Group:
    """ "What will be installed": each package with its action, why, and what it adds.

    Titled by the directive's kind: "Install plan", or "Upgrade plan" for upgrade.
    """
    title = f"{preview.kind.capitalize()} plan for tenant {preview.tenant} ({preview.tier} tier)"
    parts: list[Any] = [Text(title, style="bold")]
    styles = {"install": "green", "upgrade": "yellow", "downgrade": "magenta", "keep": "dim"}
    for step in preview.steps:
        item, entry = step.step.item, step.step.entry
        if item.action == "keep":
            continue
        version = str(item.version)
        if item.previous is not None and item.previous != item.version:
            version = f"{item.previous} → {item.version}"
        line = Text("  ")
        line.append(item.slug, style="bold")
        line.append(f" {version} ", style="cyan")
        line.append(item.action, style=styles.get(item.action, ""))
        line.append(f"  {describe_pricing(entry.data.get('pricing'))}", style="dim")
        parts.append(line)
        details = [Text(f"why: {item.reason}", style="dim")]
        includes = entry.data.get("includes", {})
        for kind in ("agents", "workflows", "skills", "tools"):
            names = [i["name"] for i in includes.get(kind, [])]
            if names:
                details.append(Text(f"{kind}: {', '.join(names)}"))
        if step.config_changes:
            shown = ", ".join(f"{k}={config_value(v[1])}" for k, v in step.config_changes.items())
            details.append(Text(f"config: {shown}"))
        # A hanging indent, so wrapped lines stay under their package.
        parts.append(Padding(Group(*details), (0, 0, 0, 4)))
    return Group(*parts)


def review_lines(
    slug: str,
    average: float | None,
    count: int,
    reviews: Sequence[Any],
    *,
    histogram: dict[int, int] | None = None,
) -> Group:
    """A package's rating (with a 5-to-1 star histogram if given) and its reviews."""
    heading = (
        f"{slug}: {average:.1f}/5 from {count} review{'s' if count != 1 else ''}"
        if count
        else f"{slug}: no reviews yet"
    )
    parts: list[Any] = [Text(heading, style="bold")]
    if histogram and count:
        bar_width = 20
        for stars in range(5, 0, -1):
            n = histogram.get(stars, 0)
            line = Text(f"  {stars} ★ ")
            filled = round(bar_width * n / count)
            line.append("█" * filled, style="yellow")
            line.append("·" * (bar_width - filled), style="dim")
            line.append(f" {n}")
            parts.append(line)
    for review in reviews:
        line = Text(f"  #{review.id} ")
        line.append("★" * review.rating + "☆" * (5 - review.rating), style="yellow")
        line.append(f" {review.title or ''}", style="bold")
        who = f"{review.actor} on {review.version}" if review.version else review.actor
        line.append(f"  — {who}, {review.updated_at[:10]}", style="dim")
        if review.helpful_count:
            line.append(f", {review.helpful_count} found it helpful", style="dim")
        parts.append(line)
        if review.content:
            parts.append(Padding(Text(review.content), (0, 0, 0, 4)))
    return Group(*parts)
