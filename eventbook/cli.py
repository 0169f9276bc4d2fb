"""Commands for operators, run with `flask <command>`; `flask --help` lists them."""

import sys
import time
from datetime import timedelta

import click
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from eventbook import integrity
from eventbook.auth import operations as accounts
from eventbook.auth import tokens
from eventbook.auth.schemas import RegisterSchema
from eventbook.bookings import idempotency
from eventbook.events import operations as events
from eventbook.extensions import db
from eventbook.models import User, utcnow
from eventbook.seed import seed_demo_data
from eventbook.webhooks.cli import deliver_webhooks_command, prune_changes_command


@click.command("seed")
@with_appcontext
def seed_command():
    """Fill an empty database with the demo data.

    Five users (password 'password123'), eight events and nine bookings; a
    database that holds any user or event is left untouched.
    """
    try:
        seeded = seed_demo_data()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        seeded = False
    if seeded:
        click.echo(
            "Seeded demo data: 5 users and an organiser (password 'password123'), "
            "11 events, 13 bookings and a waitlist."
        )
    else:
        click.echo("The database is not empty; nothing seeded.")


def _validation_message(error):
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.messages.items())


@click.command("create-user")
@click.option("--name", prompt=True, help="The user's name (1-100 characters).")
@click.option("--email", prompt=True, help="The email address to log in with.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of asking.",
)
@with_appcontext
def create_user_command(name, email, password_stdin):
    """Create a user; the password is asked for twice.

    Scripts pass --name and --email and pipe the password with --password-stdin.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = RegisterSchema().load({"name": name, "email": email, "password": password})
        user = accounts.register_user(**data)
    except ValidationError as error:
        raise click.ClickException(_validation_message(error)) from None
    except accounts.EmailTaken as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created user {user.id}: {user.name} <{user.email}>")


@click.command("list-events")
@click.option("--all", "include_past", is_flag=True, help="Include events that have started.")
@click.option("--by-fill", is_flag=True, help="Fullest first, instead of by date.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@with_appcontext
def list_events_command(include_past, by_fill, limit):
    """List upcoming events and how full they are."""
    found, total, _ = events.list_events(
        skip=0, limit=limit, upcoming=not include_past, by_fill=by_fill
    )
    click.echo(f"{'ID':>6}  {'DATE (UTC)':16}  {'BOOKED':>7}  {'SLOTS':>7}  {'FILL':>6}  TITLE")
    for event in found:
        fill = 100 * event.booked_count / event.total_slots
        click.echo(
            f"{event.id:>6}  {event.event_date:%Y-%m-%d %H:%M}  {event.booked_count:>7}  "
            f"{event.total_slots:>7}  {fill:>5.1f}%  {event.title}"
        )
    click.echo(f"{len(found)} of {total} events shown.")


@click.command("prune-tokens")
@click.option(
    "--keep-days",
    type=click.IntRange(0),
    default=7,
    show_default=True,
    help="Keep logins that ended more recently than this, for investigations.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@with_appcontext
def prune_tokens_command(keep_days, dry_run):
    """Delete logins that ended long ago.

    Run it daily: every login adds a row. Tokens of deleted logins stay refused.
    """
    count = tokens.prune_families(utcnow() - timedelta(days=keep_days), dry_run=dry_run)
    if dry_run:
        click.echo(f"{count} logins would be deleted.")
    else:
        db.session.commit()
        click.echo(f"Deleted {count} logins that ended more than {keep_days} days ago.")


@click.command("prune-idempotency-keys")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@with_appcontext
def prune_idempotency_keys_command(dry_run):
    """Delete Idempotency-Keys older than 24 hours.

    Run it daily: every booking made with a key adds a row.
    """
    count = idempotency.prune_expired(dry_run=dry_run)
    if dry_run:
        click.echo(f"{count} idempotency keys would be deleted.")
    else:
        db.session.commit()
        click.echo(f"Deleted {count} idempotency keys older than 24 hours.")


@click.command("revoke-logins")
@click.argument("email")
@with_appcontext
def revoke_logins_command(email):
    """Log a user out everywhere: revoke all tokens."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user has the email {email!r}.")
    tokens.revoke_user_tokens(user.id)
    db.session.commit()
    click.echo(f"Revoked every login of user {user.id} <{user.email}>; they must log in again.")


integrity_group = AppGroup("integrity", help="Check that the counters match the rows.")


@integrity_group.command("check")
@click.option("--repair", is_flag=True, help="Set every counter to its number of bookings.")
def integrity_check_command(repair):
    """Compare each event's counter with its bookings, and the kept number of
    events with the events; exit 1 on any difference."""
    if repair:
        found = integrity.repair_counters()
        db.session.commit()
    else:
        found = integrity.find_discrepancies()
    for discrepancy in found:
        click.echo(str(discrepancy))
    if not found:
        click.echo("All booking counters match their bookings.")
        return
    oversold = [d for d in found if d.oversold]
    if repair:
        click.echo(f"Repaired {len(integrity.repaired(found))} counter(s).")
    if oversold or not repair:
        raise click.exceptions.Exit(1)


@click.command("sweep")
@click.option("--loop", is_flag=True, help="Sweep every WAITLIST_SWEEP_SECONDS until stopped.")
@with_appcontext
def sweep_command(loop):
    """Expire run-out holds, pass expired offers on and close waitlists of closed events.

    Every gunicorn worker already does this on a schedule; this runs it by hand.
    """
    from flask import current_app

    from eventbook.sweeper import sweep_once

    app = current_app._get_current_object()
    while True:
        settled = sweep_once(app)
        click.echo(f"Settled {settled if settled is not None else 'no'} event(s).")
        if not loop:
            return
        time.sleep(app.config["WAITLIST_SWEEP_SECONDS"])


def register_commands(app):
    for command in (
        seed_command,
        create_user_command,
        list_events_command,
        prune_tokens_command,
        prune_idempotency_keys_command,
        revoke_logins_command,
        integrity_group,
        sweep_command,
        deliver_webhooks_command,
        prune_changes_command,
    ):
        app.cli.add_command(command)
