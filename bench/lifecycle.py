"""The data of the booking lifecycle's rows: confirming holds, joining waitlists, the CSV export.

Each row's requests are prepared before the endpoint runs and put back
before every run, so that every request is fresh and every run starts from
the same data:

- `confirm`: `CONFIRM_EVENTS` events whose slots are all held, one hold per
  prepared request, each by a pool user (distinct (user, event) pairs);
  `hold_again` makes them all live holds again before every run, expiring
  `HOLD_LIFETIME` later.
- `waitlist_join`: `WAITLIST_EVENTS` events with their `WAITLIST_SLOTS`
  slots confirmed, so full; pool users, who hold no booking of them, join
  (distinct pairs); `empty_waitlists` takes the entries back before every run.
- `attendees_csv`: one event with `ATTENDEES` confirmed bookings, organised by
  the bench user.

The slots of the full events and the attendees are booked by users 2, 3, …
(neither the bench user nor the pool). The events are dated after every
other event, so the list pages the other rows read stay the same. They are
created once the largest number of bookings is loaded (loading bookings
empties the table) and removed when the endpoint runs end. Every change
here recounts the events it touches, so `flask integrity check` finds the
counters equal to the rows throughout.
"""

from collections import Counter
from datetime import timedelta

from bench.dataset import (
    BENCH_USER_ID,
    POOL_FIRST_USER,
    connect,
    delete_events_titled,
    lock_events,
    recount_events,
    vacuum,
)
from bench.tokens import POOL_USER_IDS, distinct_pairs, write_requests

CONFIRM_TITLE = "Confirm (benchmark)"
WAITLIST_TITLE = "Waitlist (benchmark)"
ATTENDEES_TITLE = "Attendees (benchmark)"
TITLES = (CONFIRM_TITLE, WAITLIST_TITLE, ATTENDEES_TITLE)
CONFIRM_EVENTS = 200
WAITLIST_EVENTS = 200
WAITLIST_SLOTS = 20
ATTENDEES = 1_000
FIRST_ATTENDEE = BENCH_USER_ID + 1
# Longer than any run; the holds are made live again before each one.
HOLD_LIFETIME = timedelta(hours=12)
# The request files, in the work directory.
CONFIRMS = "confirms"
WAITLIST = "waitlist"
ATTENDEE_PATHS = "attendees"


def remove_events(url):
    """Delete the lifecycle rows' events with their bookings, waitlist entries and changes."""
    return delete_events_titled(url, TITLES)


def _insert_events(cursor, title, count, slots):
    """Insert `count` published events of `slots` slots after every other event; return ids."""
    cursor.execute(
        """
        INSERT INTO events (title, description, location, event_date, total_slots,
                            organizer_id, status, created_at)
        SELECT %(title)s, 'An event of the booking lifecycle benchmark.',
               'Berlin, hall ' || (1 + i %% 20),
               now() + interval '800 days' + i * interval '1 hour', %(slots)s, %(organizer)s,
               'published', now()
        FROM generate_series(1, %(count)s) AS i
        RETURNING id
        """,
        {"title": title, "slots": slots, "organizer": BENCH_USER_ID, "count": count},
    )
    return sorted(row[0] for row in cursor.fetchall())


def _confirm_slots(cursor, event_ids, count):
    """Book `count` slots of each event, confirmed, by users `FIRST_ATTENDEE` on."""
    cursor.execute(
        """
        INSERT INTO bookings (user_id, event_id, status, created_at, confirmed_at)
        SELECT %(first)s + k, e, 'confirmed', now() - k * interval '1 minute',
               now() - k * interval '1 minute'
        FROM unnest(%(events)s::int[]) AS e, generate_series(0, %(count)s - 1) AS k
        """,
        {"first": FIRST_ATTENDEE, "events": event_ids, "count": count},
    )


def _hold(cursor, pairs):
    """Insert a live hold per (user id, event id) pair; return (user id, booking id) pairs."""
    users, events = zip(*pairs, strict=True)
    cursor.execute(
        """
        INSERT INTO bookings (user_id, event_id, status, created_at, expires_at)
        SELECT u, e, 'held', now(), now() + %s
        FROM unnest(%s::int[], %s::int[]) AS pairs (u, e)
        RETURNING user_id, id
        """,
        (HOLD_LIFETIME, list(users), list(events)),
    )
    return sorted(cursor.fetchall(), key=lambda row: row[1])


def create(url, tokens, work_dir, count):
    """Create the lifecycle rows' events and write `count` requests each for confirm and join.

    :param tokens: access tokens of the pool users and the bench user, by user id.
    :returns: the events' ids by title.
    """
    if max(WAITLIST_SLOTS, ATTENDEES) >= POOL_FIRST_USER - FIRST_ATTENDEE:
        raise ValueError("the full events' and the attendees' users must precede the pool")
    remove_events(url)
    # Holds by event number; each event has exactly as many slots as its most held.
    holds = distinct_pairs(count, POOL_USER_IDS, range(CONFIRM_EVENTS))
    slots = max(Counter(number for _, number in holds).values())
    with connect(url) as connection, connection.cursor() as cursor:
        confirm = _insert_events(cursor, CONFIRM_TITLE, CONFIRM_EVENTS, slots)
        waitlist = _insert_events(cursor, WAITLIST_TITLE, WAITLIST_EVENTS, WAITLIST_SLOTS)
        attendees = _insert_events(cursor, ATTENDEES_TITLE, 1, ATTENDEES)
        _confirm_slots(cursor, waitlist, WAITLIST_SLOTS)
        _confirm_slots(cursor, attendees, ATTENDEES)
        holds = _hold(cursor, [(user_id, confirm[number]) for user_id, number in holds])
        recount_events(cursor, confirm + waitlist + attendees)
    vacuum(url, ("events", "bookings"))
    write_requests(work_dir / CONFIRMS, tokens, holds)
    write_requests(work_dir / WAITLIST, tokens, distinct_pairs(count, POOL_USER_IDS, waitlist))
    (work_dir / ATTENDEE_PATHS).write_text(f"/events/{attendees[0]}/attendees\n")
    return {CONFIRM_TITLE: confirm, WAITLIST_TITLE: waitlist, ATTENDEES_TITLE: attendees}


def _lock_titled(cursor, title):
    cursor.execute("SELECT id FROM events WHERE title = %s", (title,))
    return lock_events(cursor, [row[0] for row in cursor.fetchall()])


def hold_again(url):
    """Make every booking of the confirm row's events a live hold again, expiring later.

    Return the number of holds.
    """
    with connect(url) as connection, connection.cursor() as cursor:
        events = _lock_titled(cursor, CONFIRM_TITLE)
        cursor.execute(
            """
            UPDATE bookings
            SET status = 'held', expires_at = now() + %s, confirmed_at = NULL,
                cancelled_at = NULL, checked_in_at = NULL
            WHERE event_id = ANY(%s)
            """,
            (HOLD_LIFETIME, events),
        )
        holds = cursor.rowcount
        recount_events(cursor, events)
    vacuum(url, ("events", "bookings"))
    return holds


def empty_waitlists(url):
    """Take back every entry of the waitlist row's events; return how many there were."""
    with connect(url) as connection, connection.cursor() as cursor:
        events = _lock_titled(cursor, WAITLIST_TITLE)
        cursor.execute("DELETE FROM waitlist_entries WHERE event_id = ANY(%s)", (events,))
        entries = cursor.rowcount
        cursor.execute(
            "UPDATE events SET waiting_count = 0 WHERE id = ANY(%s) AND waiting_count <> 0",
            (events,),
        )
    if entries:
        vacuum(url, ("events", "waitlist_entries"))
    return entries
