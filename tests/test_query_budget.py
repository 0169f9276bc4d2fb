"""Every endpoint issues a fixed number of SQL statements, whatever the data.

A listener on the engine counts the statements a request sends. Each
endpoint is called with little data and with much more (a bigger page, more
bookings, more events); the count must be the same, and within the budget.
A query per row (an N+1) or a scan that grows with the data shows up here
long before it shows up in production.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.engine.default import CACHE_MISS, NO_CACHE_KEY

from eventbook.extensions import db
from eventbook.models import Booking, Event, User, utcnow
from tests.conftest import PASSWORD


@contextmanager
def collecting(app, collect):
    """Yield a list of what `collect(statement, context)` returns for each
    statement sent meanwhile, where it returns anything but None."""
    collected = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        found = collect(statement, context)
        if found is not None:
            collected.append(found)

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        yield collected
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)


def counting_statements(app):
    """Yield a list that collects the SQL of every statement sent meanwhile."""
    return collecting(app, lambda statement, context: statement)


@pytest.fixture
def statements_of(app, client):
    """Return the statements one request sends, asserting its status."""

    def statements_of(method, url, status, **kwargs):
        with counting_statements(app) as statements:
            response = client.open(url, method=method, **kwargs)
        assert response.status_code == status, response.get_json()
        return statements

    return statements_of


def add_events(app, count, organizer_id=None):
    """Insert `count` future events in one statement; return their ids."""
    now = utcnow()
    rows = [
        {
            "title": f"Event {n}",
            "location": "Hall",
            "event_date": now + timedelta(days=1 + n % 300, minutes=n),
            "total_slots": 100,
            "booked_count": 0,
            "organizer_id": organizer_id,
            "created_at": now,
        }
        for n in range(count)
    ]
    with app.app_context():
        ids = db.session.scalars(insert(Event).returning(Event.id), rows).all()
        db.session.commit()
        return ids


def add_bookings(app, user_id, event_ids):
    now = utcnow()
    with app.app_context():
        db.session.execute(
            insert(Booking),
            [
                {"user_id": user_id, "event_id": event_id, "created_at": now - timedelta(seconds=n)}
                for n, event_id in enumerate(event_ids)
            ],
        )
        for event_id in event_ids:
            db.session.get(Event, event_id).booked_count += 1
        db.session.commit()


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def headers(user, auth_headers):
    return auth_headers(user)


def test_event_lists_cost_the_same_for_one_row_and_a_hundred(app, statements_of):
    add_events(app, 1)
    small = {
        "list": statements_of("GET", "/events?limit=1", 200),
        "deep page": statements_of("GET", "/events?skip=0&limit=1&upcoming=true&q=event", 200),
        "top booked": statements_of("GET", "/events/top-booked?limit=1", 200),
    }
    add_events(app, 149)
    large = {
        "list": statements_of("GET", "/events?limit=100", 200),
        "deep page": statements_of("GET", "/events?skip=50&limit=100&upcoming=true&q=event", 200),
        "top booked": statements_of("GET", "/events/top-booked?limit=50", 200),
    }
    for name in small:
        assert len(large[name]) == len(small[name]), name
    # The page and the number of matches come back together.
    assert len(large["list"]) == 1
    assert len(large["deep page"]) == 1
    assert len(large["top booked"]) == 1


def test_my_bookings_cost_the_same_for_one_booking_and_fifty(app, user, headers, statements_of):
    event_ids = add_events(app, 50)
    add_bookings(app, user.id, event_ids[:1])
    one = statements_of("GET", "/bookings/my", 200, headers=headers)
    add_bookings(app, user.id, event_ids[1:])
    fifty = statements_of("GET", "/bookings/my?limit=100", 200, headers=headers)
    assert len(fifty) == len(one)
    # The token's login and user; the page with its events and the count.
    assert len(fifty) == 2


def test_reading_one_event_or_booking_is_one_statement_each(app, user, headers, statements_of):
    add_events(app, 100)
    [event_id] = add_events(app, 1)
    add_bookings(app, user.id, [event_id])
    assert len(statements_of("GET", f"/events/{event_id}", 200)) == 1
    with app.app_context():
        booking_id = db.session.query(Booking.id).filter_by(user_id=user.id).scalar()
    # One statement checks the token and loads its user; one reads the booking.
    assert len(statements_of("GET", f"/bookings/{booking_id}", 200, headers=headers)) == 2
    assert len(statements_of("GET", "/auth/me", 200, headers=headers)) == 1


def test_booking_and_cancelling_cost_a_fixed_number_of_statements(
    app, user, headers, statements_of
):
    [event_id] = add_events(app, 1)
    booked = statements_of("POST", "/bookings", 201, json={"event_id": event_id}, headers=headers)
    # Token and user; take the slot; insert the booking; record the change and
    # fan it out to the organiser's subscriptions.
    assert len(booked) <= 5
    with app.app_context():
        booking_id = db.session.query(Booking.id).filter_by(user_id=user.id).scalar()
    cancelled = statements_of("DELETE", f"/bookings/{booking_id}", 204, headers=headers)
    # Token and user; find the booking's event; lock the event; re-read the
    # booking under the lock; cancel it; give the slot back; record the change
    # and its deliveries.
    assert len(cancelled) <= 8

    keyed = {**headers, "Idempotency-Key": "budget-1"}
    first = statements_of("POST", "/bookings", 201, json={"event_id": event_id}, headers=keyed)
    replayed = statements_of("POST", "/bookings", 201, json={"event_id": event_id}, headers=keyed)
    # The key is claimed and settled around the booking; a replay only reads it.
    assert len(first) <= len(booked) + 3
    assert len(replayed) <= 3


def test_event_changes_cost_a_fixed_number_of_statements(app, user, headers, statements_of):
    created = statements_of(
        "POST",
        "/events",
        201,
        headers=headers,
        json={
            "title": "Budget",
            "location": "Hall",
            "event_date": (utcnow() + timedelta(days=3)).isoformat(),
            "total_slots": 10,
        },
    )
    # Token and user; insert the event; record the change and its deliveries.
    assert len(created) <= 4
    [event_id] = add_events(app, 1, organizer_id=user.id)
    patched = statements_of(
        "PATCH", f"/events/{event_id}", 200, headers=headers, json={"title": "Renamed"}
    )
    # Token and user; lock the event; change it; record the change and its deliveries.
    assert len(patched) <= 5
    # Token and user; lock the event; look for any booking or waitlist entry; delete.
    assert len(statements_of("DELETE", f"/events/{event_id}", 204, headers=headers)) <= 4


def test_authentication_costs_a_fixed_number_of_statements(user, statements_of, client):
    credentials = {"email": user.email, "password": PASSWORD}
    # Find the user; start a token family.
    assert len(statements_of("POST", "/auth/login", 200, json=credentials)) <= 2
    refresh_token = client.post("/auth/login", json=credentials).get_json()["refresh_token"]
    # Rotate the family's refresh token in one conditional UPDATE.
    refreshed = statements_of("POST", "/auth/refresh", 200, json={"refresh_token": refresh_token})
    assert len(refreshed) <= 1
    access_token = client.post("/auth/login", json=credentials).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {access_token}"}
    # Token and user; revoke the family.
    assert len(statements_of("POST", "/auth/logout", 204, headers=headers, json={})) <= 2
    new_user = {"name": "New", "email": "new@example.com", "password": PASSWORD}
    # The insert, under a savepoint (losing the race for the email undoes it alone).
    registered = statements_of("POST", "/auth/register", 201, json=new_user)
    assert [s.split()[0] for s in registered] == ["SAVEPOINT", "INSERT", "RELEASE"]


def test_health_checks_cost_at_most_one_statement(statements_of):
    assert statements_of("GET", "/health", 200) == []
    assert len(statements_of("GET", "/health/ready", 200)) <= 1


def test_counts_do_not_depend_on_other_users_data(app, user, headers, make_user, statements_of):
    """Another user's thousand bookings change nothing in what `user` costs."""
    event_ids = add_events(app, 200)
    before = statements_of("GET", "/bookings/my", 200, headers=headers)
    others = [make_user() for _ in range(5)]
    for other in others:
        add_bookings(app, other.id, event_ids)
    with app.app_context():
        assert db.session.query(User).count() == 6
    assert len(statements_of("GET", "/bookings/my", 200, headers=headers)) == len(before)


def test_a_cursor_page_costs_what_the_first_page_costs(app, statements_of, client):
    add_events(app, 150)
    first = statements_of("GET", "/events?limit=20", 200)
    cursor = client.get("/events?limit=20&skip=120").headers["X-Next-Cursor"]
    deep = statements_of("GET", f"/events?limit=20&after={cursor}", 200)
    filtered = statements_of("GET", f"/events?limit=20&after={cursor}&upcoming=true&q=ev", 200)
    # The page, whether another follows, and the number of matches: one statement.
    assert len(first) == len(deep) == len(filtered) == 1


def test_a_304_costs_no_more_than_the_full_answer(app, user, headers, statements_of, client):
    """The answer is computed afresh to compare tags: never more, never a stale shortcut."""
    [event_id] = add_events(app, 1)
    add_bookings(app, user.id, [event_id])
    with app.app_context():
        booking_id = db.session.query(Booking.id).filter_by(user_id=user.id).scalar()
    for url, budget, caller in (
        (f"/events/{event_id}", 1, {}),
        ("/events?limit=20", 1, {}),
        ("/events/top-booked", 1, {}),
        (f"/bookings/{booking_id}", 2, headers),
        ("/bookings/my", 2, headers),
    ):
        tag = client.get(url, headers=caller).headers["ETag"]
        full = statements_of("GET", url, 200, headers=caller)
        unchanged = statements_of("GET", url, 304, headers={**caller, "If-None-Match": tag})
        assert len(unchanged) == len(full) == budget, url


def organiser_world(app, client, make_user, auth_headers, crowd):
    """An organiser's event with `crowd` confirmed attendees and a waitlist of `crowd`.

    Returns the organiser's headers, the event id, a confirmed booking's id
    and a waiting user's headers with their entry's id.
    """
    organiser = make_user()
    [event_id] = add_events(app, 1, organizer_id=organiser.id)
    with app.app_context():
        db.session.get(Event, event_id).total_slots = crowd
        db.session.commit()
    booking_ids = []
    for _ in range(crowd):
        response = client.post(
            "/bookings", json={"event_id": event_id}, headers=auth_headers(make_user())
        )
        assert response.status_code == 201, response.get_json()
        booking_ids.append(response.get_json()["id"])
    waiting = []
    for _ in range(crowd):
        headers = auth_headers(make_user())
        response = client.post(f"/events/{event_id}/waitlist", headers=headers)
        assert response.status_code == 201, response.get_json()
        waiting.append((headers, response.get_json()["id"]))
    return auth_headers(organiser), event_id, booking_ids[0], waiting[-1]


def lifecycle_costs(app, client, make_user, auth_headers, statements_of, crowd):
    """The number of statements of each lifecycle and organiser request, with `crowd` people."""
    organiser, event_id, booking_id, (waiter, entry_id) = organiser_world(
        app, client, make_user, auth_headers, crowd
    )
    [open_event] = add_events(app, 1)
    holder = auth_headers(make_user())
    costs = {}

    def cost(name, method, url, status, **kwargs):
        costs[name] = len(statements_of(method, url, status, **kwargs))
        return costs[name]

    cost(
        "hold",
        "POST",
        "/bookings",
        201,
        json={"event_id": open_event, "hold": True},
        headers=holder,
    )
    with app.app_context():
        hold_id = db.session.query(Booking.id).filter_by(event_id=open_event).scalar()
    cost("confirm", "POST", f"/bookings/{hold_id}/confirm", 200, headers=holder)
    newcomer = auth_headers(make_user())
    cost("join waitlist", "POST", f"/events/{event_id}/waitlist", 201, headers=newcomer)
    cost("my waitlist", "GET", "/waitlist/my", 200, headers=waiter)
    cost("leave waitlist", "DELETE", f"/waitlist/{entry_id}", 204, headers=waiter)
    cost("attendees", "GET", f"/events/{event_id}/attendees?limit=100", 200, headers=organiser)
    csv = {**organiser, "Accept": "text/csv"}
    cost("attendees csv", "GET", f"/events/{event_id}/attendees", 200, headers=csv)
    cost("stats", "GET", f"/events/{event_id}/stats", 200, headers=organiser)
    cost("check-in", "POST", f"/bookings/{booking_id}/check-in", 200, headers=organiser)
    cost("event calendar", "GET", f"/events/{event_id}/calendar.ics", 200)
    cost("changes", "GET", "/changes?limit=100", 200, headers=organiser)
    cost("cancel event", "POST", f"/events/{event_id}/cancel", 200, json={}, headers=organiser)
    return costs


def test_the_lifecycle_and_the_organisers_side_cost_the_same_for_one_person_and_thirty(
    app, client, make_user, auth_headers, statements_of
):
    few = lifecycle_costs(app, client, make_user, auth_headers, statements_of, crowd=1)
    many = lifecycle_costs(app, client, make_user, auth_headers, statements_of, crowd=30)
    # The feed's page may take one more statement to read its snapshot.
    assert many["changes"] - few["changes"] in (0, 1)
    few.pop("changes"), many.pop("changes")
    assert many == few
    over = {name: cost for name, cost in few.items() if cost > LIFECYCLE_BUDGETS[name]}
    assert not over, over


# Statements per request, the token check included. A write records its
# change (and the deliveries of the organiser's subscriptions): two more.
LIFECYCLE_BUDGETS = {
    "hold": 4,
    # Find the booking's event, lock and settle it, re-read the booking,
    # confirm it, close an accepted offer; the changes.
    "confirm": 9,
    # Lock and settle the event, the refusal checks, the entry, the counter.
    "join waitlist": 9,
    "my waitlist": 3,
    "leave waitlist": 8,
    "attendees": 3,
    "attendees csv": 3,
    "stats": 4,
    "check-in": 4,
    "event calendar": 1,
    # Cancel every booking and close every entry in one statement each; the
    # changes of all of them in one more each, whatever their number.
    "cancel event": 12,
}


def compiled_afresh(app):
    """Yield a list that collects the statements SQLAlchemy compiles meanwhile.

    A statement whose compiled form comes from the engine's cache is not
    collected; one that misses it, or that has no cache key at all (so that
    it is compiled on every execution), is. Savepoints are left out: they
    have no key, and their compiled form is one line.
    """

    def afresh(statement, context):
        savepoint = statement.split()[0] in ("SAVEPOINT", "RELEASE", "ROLLBACK")
        missed = context.compiled is not None and context.cache_hit in (CACHE_MISS, NO_CACHE_KEY)
        return (context.cache_hit.name, statement) if missed and not savepoint else None

    return collecting(app, afresh)


def tour(app, client, make_user, auth_headers, statements_of):
    """Send one request of nearly every kind, to new users and events."""
    lifecycle_costs(app, client, make_user, auth_headers, statements_of, crowd=2)
    user = make_user()
    headers = auth_headers(user)
    event_ids = add_events(app, 3, organizer_id=user.id)
    for url in (
        "/events?limit=5",
        "/events?limit=5&skip=300",
        "/events?limit=5&upcoming=true&q=event",
        "/events?limit=5&mine=true",
        "/events/top-booked?limit=5",
        f"/events/{event_ids[0]}",
        "/bookings/my?status=all",
        "/waitlist/my",
        "/auth/me",
    ):
        client.get(url, headers=headers)
    cursor = client.get("/events?limit=1").headers["X-Next-Cursor"]
    client.get(f"/events?limit=1&after={cursor}")
    other = auth_headers(make_user())
    keyed = {**other, "Idempotency-Key": f"tour-{user.id}"}
    for _ in range(2):
        booked = client.post("/bookings", json={"event_id": event_ids[1]}, headers=keyed)
    client.get(f"/bookings/{booked.get_json()['id']}", headers=other)
    client.delete(f"/bookings/{booked.get_json()['id']}", headers=other)
    client.patch(f"/events/{event_ids[2]}", json={"title": "Renamed"}, headers=headers)
    client.delete(f"/events/{event_ids[2]}", headers=headers)
    credentials = {"email": user.email, "password": PASSWORD}
    login = client.post("/auth/login", json=credentials).get_json()
    client.post("/auth/refresh", json={"refresh_token": login["refresh_token"]})
    client.post(
        "/auth/logout", json={}, headers={"Authorization": f"Bearer {login['access_token']}"}
    )
    new_user = {"name": "Newcomer", "email": f"new-{user.id}@example.com", "password": PASSWORD}
    client.post("/auth/register", json=new_user)


def test_every_statement_is_compiled_once(app, client, make_user, auth_headers, statements_of):
    """A request sends statements SQLAlchemy has compiled before, never one built afresh.

    A statement with no cache key (rows written into a multi-row VALUES, a
    value SQLAlchemy cannot key on) is compiled again on every request: a
    cost per request that no statement count shows.
    """
    tour(app, client, make_user, auth_headers, statements_of)
    with compiled_afresh(app) as compiled:
        tour(app, client, make_user, auth_headers, statements_of)
    assert compiled == []
