"""`flask --app wsgi academy ...`: commands for operators and scripts. Each commits once."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from academy.auth import services as auth_services
from academy.auth.models import ROLES
from academy.core import jobs
from academy.core.errors import DomainError
from academy.extensions import db
from academy.organisations import services as organisation_services

academy_cli = AppGroup("academy", help="Academy administration commands.")


def _commit() -> None:
    """Commit, then run the jobs the change queued (its emails) when there is no Redis worker
    to take them."""
    db.session.commit()
    jobs.run_ready()


def _fail(error: DomainError) -> None:
    db.session.rollback()
    where = f" ({error.field})" if error.field else ""
    raise click.ClickException(f"{error.message}{where}")


@academy_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--password", help="At least 12 characters. Without one, an invitation is emailed.")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), help="Grant this role now.")
@click.option(
    "--organisation",
    "ods_code",
    help="ODS code of the employing organisation "
    "(and, for a sponsor, the organisation the role covers).",
)
def create_user(email, password, name, role, ods_code):
    """Create an account, optionally with a role."""
    organisation = None
    if ods_code:
        organisation = organisation_services.organisation_by_ods(ods_code)
        if organisation is None:
            raise click.ClickException(f"No organisation has ODS code {ods_code.upper()}")
    try:
        user = auth_services.create_user(
            actor=None,
            email=email,
            name=name,
            password=password,
            organisation_id=organisation.id if organisation else None,
        )
        if role:
            auth_services.grant_role(
                user,
                role,
                actor=user,
                organisation_id=organisation.id if role == "sponsor" and organisation else None,
            )
    except DomainError as error:
        _fail(error)
    _commit()
    click.echo(f"Created {user.email}" + (f" with the {role} role" if role else ""))


@academy_cli.command("mfa-reset")
@click.argument("email")
def mfa_reset(email):
    """Clear a person's two-factor authentication so they set it up again at next sign-in.

    For when no admin can sign in to do it from the user page: after SECRET_KEY is rotated every
    stored authenticator key is unreadable, admins' included. Audited, with no person as actor."""
    from academy.auth import mfa

    user = auth_services.user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account has the email address {email}")
    try:
        mfa.reset(user, actor=None)
        # As from the user page: whoever holds the lost device may hold a signed-in browser too.
        auth_services.sign_out_everywhere(user, actor=None)
    except DomainError as error:
        _fail(error)
    _commit()
    click.echo(f"Two-factor authentication of {user.email} has been reset")


@academy_cli.command("demo")
@click.option("--force", is_flag=True, help="Allow loading demo data in production.")
def demo(force):
    """Load realistic demo data (idempotent) and print the demo sign-ins."""
    from academy import demo as demo_data

    if current_app.config["ACADEMY_ENV"] == "production" and not force:
        raise click.ClickException("Refusing to load demo data in production (use --force).")
    summary = demo_data.load()
    _commit()
    click.echo(
        f"Demo data ready: {summary['organisations']} organisations, {summary['users']} users, "
        f"{summary['programmes']} programme, {summary['cohorts']} cohorts, "
        f"{summary['credentials']} credentials."
    )
    click.echo(
        f"Sign in at {current_app.config['ACADEMY_BASE_URL']}/sign-in with any of these "
        f"(password: {demo_data.DEMO_PASSWORD}):"
    )
    for line in demo_data.sign_ins():
        click.echo(f"  {line}")
    if summary.get("award_url"):
        click.echo(f"A credential anyone can verify: {summary['award_url']}")


@academy_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs queued now, then stop.")
def worker(burst):
    """Run background jobs from Redis (emails, and their retries once due) until stopped.
    Needs REDIS_URL: without Redis, jobs run in the web process after each request."""
    from redis.exceptions import RedisError

    from academy.notifications import worker as academy_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set, so there is no queue to work: without Redis, jobs run in "
            "the web process after each request. Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) "
            "for the web app and the worker alike."
        )
    try:
        jobs.redis_connection().ping()
    except RedisError as error:
        raise click.ClickException(f"Cannot reach Redis at REDIS_URL: {error}") from error
    click.echo(f"Working queue {jobs.QUEUE_NAME!r}" + (" until it is empty." if burst else "."))
    academy_worker.run(current_app._get_current_object(), burst=burst)


keys_cli = AppGroup("keys", help="The keys that sign the academy's credentials.")
academy_cli.add_command(keys_cli)


def _signing_public_key() -> str | None:
    """The public key that signs now, if any, without making one (signing_key() would, on a
    laptop)."""
    from academy.credentials import keys

    if current_app.config.get("ACADEMY_SIGNING_KEY") or keys.read_key_file():
        return keys.signing_key().public_key_multibase
    return None


@keys_cli.command("generate")
@click.option("--if-missing", is_flag=True, help="Do nothing if there is a signing key already.")
def generate_key(if_missing):
    """Add a new signing key to the key file: it signs from now on, and the older keys stay
    published so the credentials they signed still verify."""
    from academy.credentials import keys

    try:
        if if_missing and _signing_public_key() is not None:
            click.echo("There is a signing key already: nothing to do.")
            return
        public = keys.generate_key()
    except keys.SigningKeyMissing as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"New signing key {public}")
    click.echo(f"Written to {current_app.config['ACADEMY_KEY_FILE']} (readable by its owner only)")
    if current_app.config.get("ACADEMY_SIGNING_KEY"):
        click.echo(
            "ACADEMY_SIGNING_KEY is set, so that key still signs: unset it to sign with this one."
        )


@keys_cli.command("list")
def list_keys():
    """The issuer's public keys, oldest first, and which one signs."""
    from academy.credentials import keys

    try:
        signing = _signing_public_key()
        known = keys.known_public_keys()
    except keys.SigningKeyMissing as error:
        raise click.ClickException(str(error)) from error
    if not known:
        click.echo("No signing keys yet: run `flask academy keys generate`.")
    for public in known:
        marker = "signs" if public == signing else "verifies only"
        click.echo(f"{public}  {marker}  {keys.verification_method_id(public)}")


reports_cli = AppGroup("reports", help="Reports for sponsors.")
academy_cli.add_command(reports_cli)


@reports_cli.command("send-summaries")
@click.option("--dry-run", is_flag=True, help="Say what is due; send and record nothing.")
@click.option(
    "--frequency",
    type=click.Choice(["weekly", "monthly"]),
    help="Only summaries of this frequency (default: every summary due).",
)
def send_summaries(dry_run, frequency):
    """Email each sponsor the summaries due: weekly ones once an ISO week, monthly ones once a
    month, as each chose. Safe to run as often as a scheduler likes: what was sent in this period
    is not sent again. A summary that fails is logged and left for the next run."""
    from academy.reporting import scheduled

    outcomes = scheduled.send_summaries(frequency=frequency, dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        _commit()
    for outcome in outcomes:
        click.echo(outcome.describe())
    sent = sum(o.result == "sent" for o in outcomes)
    failed = sum(o.result == "failed" for o in outcomes)
    if dry_run:
        click.echo(f"Dry run: {len(outcomes)} summaries due, none sent.")
    else:
        click.echo(f"{sent} summaries sent, {failed} failed.")
    if failed:
        raise click.ClickException(f"{failed} summaries failed; see the log.")


@academy_cli.command("run-scheduled")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send and record nothing.")
def run_scheduled(dry_run):
    """The scheduled work, for cron or a scheduler container: queue again the emails due a
    retry, then send the deadline reminders, feedback-overdue alerts and admin digest,
    credential expiry reminders and sponsors' summaries that are due. Safe to run as often as
    a scheduler likes: each email goes once. A step that fails is logged and rolled back
    without stopping the others, and the command then exits with an error."""
    from academy.notifications import scheduled

    results = scheduled.run_scheduled(dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        _commit()
    for result in results:
        click.echo(result.describe(dry_run=dry_run))
        for line in [*result.lines, *(result.messages if dry_run else [])]:
            click.echo(f"  {line}")
    failed = [result.label for result in results if result.failed]
    if failed:
        raise click.ClickException(f"Failed: {', '.join(failed)}; see the log.")


audit_cli = AppGroup("audit", help="The audit log.")
academy_cli.add_command(audit_cli)


@audit_cli.command("verify")
def verify_audit():
    """Recompute the audit log's hash chain: exit 0 if intact, 1 naming the first broken event."""
    from academy.audit.chain import verify_chain

    status = verify_chain()
    db.session.rollback()
    if not status.intact:
        raise click.ClickException(status.describe())
    click.echo(status.describe())


retention_cli = AppGroup("retention", help="Deleting what the privacy notice says is not kept.")
academy_cli.add_command(retention_cli)


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
def run_retention(dry_run):
    """Apply the retention periods (RETENTION_* settings): delete submission and feedback files
    of cohorts that ended long enough ago (keeping marks, results and receipts), old sent and
    failed emails and stale failed sign-in counters, and list long-unused accounts for review.
    Files are deleted after the commit, and only when nothing else uses them. Safe to repeat."""
    from academy.privacy import retention

    report = retention.run(dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    else:
        _commit()
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was deleted.")


storage_cli = AppGroup("storage", help="Uploaded files in storage.")
academy_cli.add_command(storage_cli)


@storage_cli.command("check")
@click.option(
    "--clean",
    is_flag=True,
    help="Delete blobs no row points at (older than the grace period). Never deletes rows.",
)
@click.option(
    "--grace-hours",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="Leave unreferenced blobs younger than this: their rows may be committing.",
)
def check_storage(clean, grace_hours):
    """List orphans both ways: stored blobs that no row names, and rows whose file is missing
    from storage. Exits 1 when a row's file is missing (lost data: restore it from a backup)."""
    from datetime import timedelta

    from academy.core import storage_check

    report = storage_check.check(clean=clean, grace=timedelta(hours=grace_hours))
    db.session.commit()
    for line in report.lines():
        click.echo(line)
    if report.missing:
        raise SystemExit(1)


@academy_cli.command("backup")
@click.argument("directory", type=click.Path(file_okay=False))
def backup_command(directory):
    """Back up the database (pg_dump, or SQLite's online backup) and every stored file into
    DIRECTORY (new or empty), with a manifest of row counts and SHA-256s. Safe while the app
    runs. Exits 1 when a file the rows need was missing or damaged in storage."""
    from academy.core import backup

    try:
        report = backup.backup(directory)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    finally:
        db.session.rollback()
    for line in report.lines():
        click.echo(line)
    if report.missing or report.damaged:
        raise click.ClickException(
            "The backup is incomplete: files listed above are missing or damaged in storage "
            "(see `flask academy storage check`)."
        )


@academy_cli.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore_command(directory, force):
    """Restore a backup made by `flask academy backup` into DATABASE_URL and storage, after
    checking every file against its manifest. Refuses a database that holds data unless
    --force. Stop the app and workers first."""
    from academy.audit import services as audit
    from academy.core import backup

    try:
        report = backup.restore(directory, force=force)
    except backup.BackupError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    if report.schema_current:
        # An older schema may not have the audit table as this code writes it: `db upgrade` first.
        audit.record(
            "database.restored",
            object_type="database",
            after={"backup_created_at": report.manifest["created_at"], "forced": force},
        )
    _commit()
    for line in report.lines():
        click.echo(line)


@academy_cli.command("generate")
@click.option("--organisations", type=click.IntRange(min=1), default=220, show_default=True)
@click.option("--learners", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--cohorts", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--submissions", type=click.IntRange(min=0), default=500_000, show_default=True)
@click.option("--tutors", type=click.IntRange(min=1), help="Default: one for every two cohorts.")
@click.option(
    "--credentials",
    type=click.IntRange(min=0),
    default=2_000,
    show_default=True,
    help="How many passes get a signed credential (about 50 a second are signed).",
)
@click.option("--seed", type=click.IntRange(0, 99_999), default=1, show_default=True)
def generate_scale_data(organisations, learners, cohorts, submissions, tutors, credentials, seed):
    """Fill the database with scale data for benchmarks (idempotent per seed; never in
    production). Every account's password and the staff's authenticator secret are printed."""
    import time

    from sqlalchemy import text as sa_text

    from academy.scale import generate

    if current_app.config["ACADEMY_ENV"] == "production":
        raise click.ClickException("Refusing to generate scale data in production.")
    scale = generate.Scale(
        organisations=organisations,
        learners=learners,
        cohorts=cohorts,
        submissions=submissions,
        tutors=tutors,
        credentials=credentials,
        seed=seed,
    )
    started = time.perf_counter()
    click.echo(f"Generating scale data for seed {seed}:")
    summary = generate.generate(scale, echo=click.echo)
    if not summary.created:
        db.session.rollback()
        click.echo(f"Scale data for seed {seed} is there already: nothing written.")
        return
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa_text("ANALYZE"))  # fresh statistics for the planner
        db.session.commit()
    for table, count in sorted(summary.counts.items()):
        click.echo(f"  {table:<26} {count:>10,}")
    click.echo(f"Done in {time.perf_counter() - started:.1f}s.")
    click.echo(f"Password for every account: {generate.PASSWORD}")
    click.echo(f"Authenticator secret of the admin and tutors: {summary.handles['totp_secret']}")
    for name in ("admin", "tutor", "learner", "medium_trust_sponsor", "large_trust_sponsor"):
        click.echo(f"  {name}: {summary.handles.get(name)}")
