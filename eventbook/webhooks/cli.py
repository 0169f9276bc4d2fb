"""Commands of the webhook machinery: the delivery worker, and pruning the change log."""

import signal
import threading
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from eventbook.extensions import db
from eventbook.models import utcnow
from eventbook.webhooks.changes import prune_changes
from eventbook.webhooks.delivery import deliver_due, run_worker


@click.command("deliver-webhooks")
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Deliveries in flight at once in this process.",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="How often an idle thread looks for due deliveries.",
)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@with_appcontext
def deliver_webhooks_command(threads, poll_seconds, once):
    """Send webhook deliveries until stopped (SIGTERM or Ctrl-C).

    Run as many of these processes, on as many hosts, as you like: each
    delivery is claimed by one at a time. On SIGTERM the deliveries in
    flight finish (at most 10 s) before the process exits.
    """
    if once:
        click.echo(f"Made {deliver_due()} delivery attempts.")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    db.engine.dispose(close=False)  # threads open their own connections
    click.echo(f"Delivering webhooks with {threads} threads; stop with Ctrl-C.")
    run_worker(current_app._get_current_object(), threads, poll_seconds, stop)
    click.echo("Delivery worker stopped.")


@click.command("prune-changes")
@click.option(
    "--keep-days",
    type=click.IntRange(1),
    default=7,
    show_default=True,
    help="Keep changes and delivery attempts more recent than this.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@with_appcontext
def prune_changes_command(keep_days, dry_run):
    """Delete changes older than --keep-days, with their delivery attempts.

    Changes still waiting for a delivery are kept. Safe while workers
    deliver. Run it daily: the change feed reaches back --keep-days.
    """
    count = prune_changes(utcnow() - timedelta(days=keep_days), dry_run=dry_run)
    if dry_run:
        click.echo(f"{count} changes would be deleted.")
    else:
        db.session.commit()
        click.echo(f"Deleted {count} changes older than {keep_days} days.")
