"""Commands for operators, run with `flask <command>`."""

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

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


def register_commands(app):
    app.cli.add_command(seed_command)
