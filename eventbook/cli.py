"""Commands for operators, run with `flask <command>`."""

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import IntegrityError

from eventbook import integrity
from eventbook.extensions import db
from eventbook.seed import seed_demo_data


@click.command("seed")
@with_appcontext
def seed_command():
    """Fill an empty database with demo users, events and bookings."""
    try:
        seeded = seed_demo_data()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        seeded = False
    if seeded:
        click.echo("Seeded demo data: 5 users (password 'password123'), 8 events, 9 bookings.")
    else:
        click.echo("The database is not empty; nothing seeded.")


integrity_group = AppGroup("integrity", help="Check that booking counters match the bookings.")


@integrity_group.command("check")
@click.option("--repair", is_flag=True, help="Set every counter to its number of bookings.")
def integrity_check_command(repair):
    """Compare each event's counter with its bookings; exit 1 on any difference."""
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
        click.echo(f"Repaired {len(found) - len(oversold)} counter(s).")
    if oversold or not repair:
        raise click.exceptions.Exit(1)


def register_commands(app):
    app.cli.add_command(seed_command)
    app.cli.add_command(integrity_group)
