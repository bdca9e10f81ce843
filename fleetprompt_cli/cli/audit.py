"""fleetprompt audit [SLUG...] [--tenant T] [--format text|json|sarif] [--output FILE] [--drift]"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fleetprompt_cli.cli.context import get_app
from fleetprompt_cli.cli.options import TenantOption
from fleetprompt_cli.errors import ExitCode

if TYPE_CHECKING:
    from fleetprompt_cli.actions.audit import AuditReport
    from fleetprompt_cli.cli.context import App

__all__ = ["register"]


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def audit(
    ctx: typer.Context,
    slugs: list[str] = typer.Argument(None, help="Installed packages to audit (default: all)."),
    tenant: str = TenantOption,
    format_: Format = typer.Option(
        Format.text, "--format", "-f", help="Output format: text, json (envelope) or sarif."
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Write the report to FILE instead of stdout.", dir_okay=False
    ),
    drift: bool = typer.Option(
        False, "--drift", help="Also compare stored content with the archive it came from."
    ),
    json_output: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Scan installed prompts, skills and workflows for hidden Unicode (and drift).

    Exits 14 (FINDINGS) when a finding of error severity exists, 0 otherwise.
    """
    from fleetprompt_cli import __version__
    from fleetprompt_cli.actions.audit import audit_installed
    from fleetprompt_cli.cli.context import json_document
    from fleetprompt_cli.core.audit import to_sarif

    if json_output:
        format_ = Format.json
    app = get_app(ctx, json_output=format_ is Format.json and output is None)
    settings = app.settings.with_overrides(tenant=tenant)
    from fleetprompt_cli.actions.state import StateSource

    source = StateSource(app.settings.database_url, lambda: app.store)
    report = audit_installed(settings, source, settings.tenant, slugs or [], drift=drift)
    code = ExitCode.FINDINGS if report.errors else ExitCode.SUCCESS
    document: str | None = None
    if format_ is Format.sarif:
        document = json_document(to_sarif(report.findings, tool_version=__version__))
    elif format_ is Format.json:
        if output is None:
            app.emit_json("audit", report.to_json())
            raise typer.Exit(int(code))
        from fleetprompt_cli.cli.context import JSON_SCHEMA

        document = json_document({"schema": JSON_SCHEMA, "kind": "audit", **report.to_json()})
    if document is not None:
        if output is None:
            typer.echo(document)
        else:
            _write(output, document + "\n")
            app.note(f"Wrote {output} ({_summary(report.errors, report.warnings)}).")
        raise typer.Exit(int(code))
    _render(app, report, output)
    raise typer.Exit(int(code))


def _summary(errors: int, warnings: int) -> str:
    return f"{errors} error(s), {warnings} warning(s)"


def _write(path: Path, text: str) -> None:
    """Write the whole report or nothing (a temporary file, then a rename)."""
    from fleetprompt_cli.errors import InvalidInput

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(f"--output {path}: cannot write ({exc.strerror})") from None


def _render(app: App, report: AuditReport, output: Path | None) -> None:
    lines = []
    for finding in report.findings:
        lines.append(f"{finding.where()}: {finding.severity} {finding.code}: {finding.message}")
    for why in report.unchecked:
        lines.append(f"not checked: {why}")
    checked = ", ".join(p["slug"] for p in report.packages) or "nothing installed"
    lines.append(
        f"Audited {len(report.packages)} package(s) in tenant {report.tenant}"
        f"{' with drift' if report.drift else ''}: {_summary(report.errors, report.warnings)}."
    )
    if output is not None:
        _write(output, "\n".join(lines) + "\n")
        app.note(f"Wrote {output} ({_summary(report.errors, report.warnings)}).")
        return
    for line in lines[:-1]:
        app.out.print(line, markup=False, highlight=False)
    app.note(lines[-1] if report.packages else f"{lines[-1]} ({checked})")


def register(app: typer.Typer) -> None:
    app.command()(audit)
