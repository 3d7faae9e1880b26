"""directory's commands: import an extract, generate a synthetic one."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from servicekit import db

from directory import imports
from directory.extract import ExtractError, generate
from directory.imports import jobs


def init_app(app):
    """Register the directory's commands on app.cli."""
    app.cli.add_command(import_command)
    app.cli.add_command(generate_command)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(sorted(imports.FORMATS)), default=None)
@with_appcontext
def import_command(path: Path, kind: str | None):
    """Import a national extract (or its zip) now, printing progress and the counts."""
    try:
        kind = kind or jobs.detect_kind(path)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc
    batch = current_app.config.get("IMPORT_BATCH_SIZE", 2000)
    with db.sessions() as session:
        run = jobs.queue(session, kind, path.name, str(path.resolve()), "cli")
        session.commit()
        try:
            changes = imports.run_import(session, run, batch, on_batch=_print_progress)
        except imports.ImportFailed as exc:
            raise click.ClickException(f"import {run.id} failed: {exc}") from exc
        click.echo(_summary(run))
        for name, count in sorted(changes.items()):
            if count:
                click.echo(f"  {name}: {count}")


def _print_progress(run) -> None:
    share = 100 * run.bytes_read / run.bytes_total if run.bytes_total else 100
    click.echo(f"{share:5.1f} %  {run.lines} lines read, {run.rejected} rejected", err=True)


def _summary(run) -> str:
    return (
        f"import {run.id} {run.status}: {run.lines} lines, {run.imported} imported, "
        f"{run.rejected} rejected, {run.warned} with warnings; {run.created} created, "
        f"{run.updated} updated, {run.deactivated} deactivated"
    )


@click.command("generate-extract")
@click.option("--rows", type=click.IntRange(min=1), required=True)
@click.option("--seed", type=int, default=0)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--mssante", type=click.Path(dir_okay=False, path_type=Path), default=None)
def generate_command(rows: int, seed: int, out: Path | None, mssante: Path | None):
    """Write a realistic synthetic personne-activité extract and its MSSanté file."""
    out = out or Path("PS_LibreAcces_Personne_activite.txt")
    summary = generate(out, rows, seed=seed, mssante_path=mssante)
    click.echo(
        f"{summary.path}: {summary.lines} lines, {summary.professionals} professionals, "
        f"{summary.organisations} organisations"
    )
    click.echo(f"{summary.mssante_path}: {summary.mailboxes} mailboxes")
