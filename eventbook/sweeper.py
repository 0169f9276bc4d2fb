"""The sweeper: what happens with the passage of time, done within `WAITLIST_SWEEP_SECONDS`.

Nobody acts when a hold runs out, so every gunicorn worker runs `sweep()`
on a schedule (APScheduler, in a thread of the worker): expired holds
free their slots, expired offers pass to the next person waiting, and the
waitlists of events whose booking has closed are closed. Any number of
workers on any number of hosts may sweep at once; each event is settled by
one of them at a time. `flask sweep` does the same once, or in a loop, for
deployments that prefer a process of its own.
"""

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from eventbook.bookings.slots import sweep
from eventbook.extensions import db

log = logging.getLogger(__name__)


def sweep_once(app):
    """Settle every due event; return how many, or None if the database failed."""
    with app.app_context():
        try:
            return sweep()
        except SQLAlchemyError as error:
            # The database is away or busy: the next run tries again.
            log.warning("Sweep failed: %s", error)
            db.session.rollback()
            return None
        finally:
            db.session.remove()


def start_sweeper(app):
    """Run `sweep_once` every `WAITLIST_SWEEP_SECONDS` in a background thread; return
    the scheduler (call `shutdown()` on it to stop)."""
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(
        sweep_once,
        "interval",
        args=[app],
        seconds=max(1, app.config["WAITLIST_SWEEP_SECONDS"]),
        max_instances=1,
        coalesce=True,
        id="sweep",
    )
    scheduler.start()
    return scheduler
