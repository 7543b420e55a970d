"""`flask --app app <command>`: the command-line contract of SPEC.md."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask_migrate import upgrade


def register_commands(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db():
        """Create or upgrade the schema and import the shipped questionnaires."""
        upgrade()
        from surveys.services import ensure_default_questionnaires
        ensure_default_questionnaires()
        click.echo("database ready")

    @app.cli.command("rotate-data-keys")
    def rotate_data_keys():
        """Seal every stored secret anew under the first of HUIFANG_DATA_KEYS (core/sealing.py)."""
        from core.accounts import audit
        from core.db import db
        from core.sealing import reseal_all
        count = reseal_all(db.session, db.metadata)
        audit("rotate_data_keys", "database", secrets=count)
        db.session.commit()
        click.echo(f"{count} secret(s) sealed under the first data key; the others can now leave HUIFANG_DATA_KEYS")

    @app.cli.command("seed-demo")
    @click.option("--customers", default=400, show_default=True)
    @click.option("--months", default=6, show_default=True)
    def seed_demo(customers: int, months: int):
        """Fill the database with a living demo: tickets, responses, tasks, pending invitations."""
        from core.db import unsynced_sqlite
        from demo import seed
        with unsynced_sqlite():  # generated data: no fsync per commit while it is written
            summary = seed(customers=customers, months=months)
        for line in summary:
            click.echo(line)

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", default="")
    @click.option("--role", type=click.Choice(["admin", "agent", "manager"]), required=True)
    @click.option("--phone", default=None, help="E.164; Twilio rings it for click-to-call")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    def create_user_cmd(email: str, name: str, role: str, phone: str | None, password: str):
        """Create a staff account."""
        from flask_babel import force_locale

        from core.accounts import create_user
        from core.passwords import password_problem
        name = name or email.split("@")[0]
        problems = []
        for locale in ("zh_CN", "en"):  # the operator reads the reason in both languages
            with force_locale(locale):
                problems.append(password_problem(password, email, name))
        if problems[0]:
            raise click.ClickException("\n".join(problems))
        try:
            user = create_user(email, name, role, password, phone=phone)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"created {user.role} {user.email}")

    @app.cli.command("import-questionnaire")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_questionnaire_cmd(path: str):
        """Import a questionnaire YAML; a changed definition becomes a new version."""
        from surveys.definition import DefinitionError
        from surveys.services import import_questionnaire_file
        try:
            version, created = import_questionnaire_file(path)
        except DefinitionError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        state = "new version" if created else "unchanged, still version"
        click.echo(f"{version.questionnaire.key}: {state} {version.number}")

    def _import_csv(kind: str, path: str) -> None:
        """Streams the file through the importer chunk by chunk: bad rows are printed as they
        are found, a summary always ends the run, a progress bar shows on a terminal."""
        from core.csvimport import CsvFile, EncodingError, ImportReport
        if kind == "responses":
            from surveys.importer import import_responses_csv as importer
        else:
            from tickets.importer import import_tickets_csv as importer
        report = ImportReport(on_error=lambda line, msg: click.echo(f"line {line}: {msg}", err=True))
        with open(path, "rb") as fh:
            try:
                lines = CsvFile(fh)
            except EncodingError as exc:
                raise click.ClickException(f"{path}: {exc}") from exc
            read_as = "" if lines.encoding in ("utf-8", "utf-8-sig") else f" (read as {lines.encoding})"
            try:
                with contextlib.ExitStack() as stack:
                    progress = None
                    if sys.stdout.isatty():
                        bar = stack.enter_context(click.progressbar(
                            length=os.fstat(fh.fileno()).st_size, label=f"import-{kind}"))
                        progress = lambda: bar.update(lines.position - bar.pos)  # noqa: E731
                    importer(lines, report, progress)
            finally:  # even when interrupted: what landed is said
                click.echo(f"imported {report.imported} {kind}, skipped {report.skipped} bad row(s){read_as}")
        if report.skipped and not report.imported:
            sys.exit(1)

    @app.cli.command("import-responses")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_responses_cmd(path: str):
        """Import answered questionnaires from CSV (SPEC "CSV for import-responses")."""
        _import_csv("responses", path)

    @app.cli.command("import-tickets")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    def import_tickets_cmd(path: str):
        """Import handled tickets from CSV and schedule what follows each."""
        _import_csv("tickets", path)

    @app.cli.command("scheduler")
    @click.option("--once", is_flag=True, help="Run every job once and exit (for cron or tests).")
    def scheduler_cmd(once: bool):
        """Run the one scheduler process (invitations, reminders, escalations, reports)."""
        from jobs import run_forever, run_once
        if once:
            for name, count in run_once().items():
                click.echo(f"{name}: {count}")
        else:
            run_forever(current_app._get_current_object())

    @app.cli.command("worker")
    @click.option("--batch", default=50, show_default=True, help="Rows claimed at a time.")
    @click.option("--idle", default=1.0, show_default=True, help="Seconds to wait when nothing is due.")
    def worker_cmd(batch: int, idle: float):
        """Run a delivery worker (any number, anywhere): sends due invitations and messages."""
        from jobs import run_worker
        run_worker(current_app._get_current_object(), batch, idle)

    @app.cli.command("report")
    @click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--period", type=click.Choice(["week", "month", "quarter"]), default="month")
    @click.option("--format", "fmt", type=click.Choice(["pdf", "json"]), default="pdf")
    @click.option("--locale", type=click.Choice(["zh-CN", "en"]), default="zh-CN")
    @click.option("--out", required=True, type=click.Path(dir_okay=False))
    def report_cmd(date_from, date_to, period, fmt, locale, out):
        """Write a satisfaction report for the dates (inclusive) as PDF or JSON."""
        from core.db import db
        from reports.figures import compute_report
        from reports.scope import Scope
        from reports.stored_themes import ensure_scope
        start, end = date_from.date(), date_to.date()
        if end < start:
            raise click.ClickException("--to is before --from")
        ensure_scope(Scope(start, end))  # a command may wait: the report's own themes, not the nearest
        db.session.commit()
        figures = compute_report(start, end, period, locale=locale)  # the suggestions are written in it
        if fmt == "json":
            Path(out).write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
        else:
            from reports.pdf import render_pdf
            Path(out).write_bytes(render_pdf(figures, locale))
        click.echo(f"wrote {out} ({figures['responses']} responses)")

    @app.cli.command("backup")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="FILE, or FILE.gz to compress")
    def backup_cmd(out: str):
        """Write every table to one portable file (JSON lines), restorable on SQLite or PostgreSQL."""
        from core.dump import open_dump, write_backup
        with open_dump(out, "w") as fh:
            counts = write_backup(fh)
        click.echo(f"wrote {out}: {sum(counts.values())} rows in {len(counts)} tables")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--yes", is_flag=True, help="Do not ask before replacing every row.")
    def restore_cmd(path: str, yes: bool):
        """Replace the database's contents with a backup (run init-db on an empty database first)."""
        from core.accounts import audit
        from core.db import db
        from core.dump import RestoreError, open_dump, restore_backup
        if not yes:
            click.confirm("This replaces every row of the database with the backup's. Continue?", abort=True)
        try:
            with open_dump(path, "r") as fh:
                counts = restore_backup(fh)
        except (RestoreError, ValueError, KeyError) as exc:
            db.session.rollback()
            raise click.ClickException(f"{path}: {exc}; the database is unchanged") from exc
        audit("restore_backup", "database", rows=sum(counts.values()))
        db.session.commit()
        click.echo(f"restored {sum(counts.values())} rows in {len(counts)} tables from {path}")

    def _customer(reference: str):
        from admin.privacy import find_customer
        customer = find_customer(reference)
        if customer is None:
            raise click.ClickException(f"no customer with ID or phone {reference}")
        return customer

    @app.cli.command("customer-export")
    @click.option("--customer", "reference", required=True, help="the operator's customer ID, or the phone number")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="ZIP file to write")
    def customer_export_cmd(reference: str, out: str):
        """Write everything held about one customer to a ZIP of JSON files (PIPL art. 45)."""
        from admin.privacy import export_customer
        Path(out).write_bytes(export_customer(_customer(reference)))
        click.echo(f"wrote {out}")

    @app.cli.command("customer-erase")
    @click.option("--customer", "reference", required=True, help="the operator's customer ID, or the phone number")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def customer_erase_cmd(reference: str, yes: bool):
        """Erase one customer's personal data (PIPL art. 47); their answers stay as anonymous figures."""
        from admin.privacy import erase_customer
        customer = _customer(reference)
        if not yes:
            click.confirm(f"Erase customer {customer.external_id} and everything that leads to them?", abort=True)
        counts = erase_customer(customer)
        click.echo("erased: " + ", ".join(f"{name} {n}" for name, n in counts.items()))

    @app.cli.command("verify-audit")
    @click.option("--seal", "seals", multiple=True, metavar="ID:HASH",
                  help="a seal printed earlier (or from a report e-mail): the log must still hold that row unchanged")
    def verify_audit_cmd(seals: tuple[str, ...]):
        """Check the audit log's hash chain; report the first row edited or removed."""
        from sqlalchemy import func, select

        from core.accounts import AuditEvent, audit_seal, first_broken_audit_link, seal_mismatch
        from core.db import db
        broken = first_broken_audit_link()
        problems = [f"row {broken[0]}: {broken[1]}"] if broken else []
        try:
            problems += [problem for seal in seals if (problem := seal_mismatch(seal))]
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--seal") from None
        if problems:
            click.echo("audit log BROKEN at " + "; ".join(problems), err=True)
            sys.exit(1)
        count = db.session.scalar(select(func.count()).select_from(AuditEvent))
        click.echo(f"audit log intact: {count} row(s), every hash and link matches"
                   + (f", and {len(seals)} seal(s)" if seals else ""))
        click.echo(f"seal now: {audit_seal()} (keep it elsewhere; --seal checks it later)")

    @app.cli.command("anonymise")
    def anonymise_cmd():
        """Apply the retention setting: strip personal data from old responses."""
        from admin.retention import anonymise_old_responses
        click.echo(f"anonymised {anonymise_old_responses()} response(s)")


    @app.cli.command("compute-themes")
    @click.option("--all", "everything", is_flag=True, help="recompute even scopes whose comments did not change")
    def compute_themes_cmd(everything: bool):
        """Discover the comment themes now (the scheduler does it every ten minutes)."""
        from reports.stored_themes import refresh_themes
        click.echo(f"themes computed for {refresh_themes(force=everything)} scope(s)")

    @app.cli.command("rebuild-rollups")
    def rebuild_rollups_cmd():
        """Recompute the reports' per-day sums from the stored responses and invitations."""
        from core.db import db
        from reports.rollups import rebuild
        rebuild()
        db.session.commit()
        click.echo("rollups rebuilt")
