"""The booking lifecycle's benchmark rows, on a real benchmark dataset in PostgreSQL.

Each prepared request must be answered as the row expects (a fresh hold, a
confirm of a live hold, a join of a full event, the attendee list as CSV),
the resets must make the requests fresh again, and the counters must equal
the rows throughout (`flask integrity check`'s findings).
"""

import shutil
from dataclasses import replace
from datetime import timedelta

import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import func, select

from bench import dataset, lifecycle, server
from bench.run import Runner, endpoints
from bench.tokens import (
    BOOKINGS,
    HOLDS,
    POOL_USER_IDS,
    booking_pairs,
    mint_access_tokens,
    write_booking_requests,
)
from eventbook import create_app
from eventbook.extensions import db
from eventbook.integrity import find_discrepancies
from eventbook.models import Booking, Event, WaitlistEntry, utcnow
from tests import services
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.postgresql

# Prepared requests per row: more than 1 s of wrk at 2 connections sends here.
COUNT = 3_000
# Requests sent through the test client, of each row.
SAMPLE = 60
LIFECYCLE_ROWS = ("hold", "confirm", "waitlist_join", "attendees_csv")


@pytest.fixture(scope="module")
def bench_app(postgresql_server):
    """The application on a throwaway database holding the benchmark's data (1,000 bookings)."""
    with services.throwaway_database(postgresql_server) as url:
        app = create_app(
            {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False}
        )
        progress = dataset.Progress("test")
        dataset.migrate(app, progress)
        dataset.prepare(app, 1000, progress)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def tokens(bench_app):
    """Access tokens of the bench user and of the pool users the prepared requests use."""
    user_ids = [dataset.BENCH_USER_ID, *POOL_USER_IDS[: 2 * COUNT]]
    return dict(zip(user_ids, mint_access_tokens(bench_app, user_ids), strict=True))


@pytest.fixture
def work_dir(bench_app, tokens, tmp_path):
    """The request files of a freshly prepared benchmark, as `python -m bench` writes them."""
    url = bench_app.config["SQLALCHEMY_DATABASE_URI"]
    dataset.reset_pool_bookings(url)
    write_booking_requests(tmp_path, tokens, COUNT)
    lifecycle.create(url, tokens, tmp_path, COUNT)
    return tmp_path


@pytest.fixture
def client(bench_app):
    return bench_app.test_client()


def database_url(app):
    return app.config["SQLALCHEMY_DATABASE_URI"]


def read(path):
    """Return the (token, id) of each line of a request file."""
    return [(token, int(item)) for token, item in (line.split() for line in lines(path))]


def lines(path):
    return path.read_text().splitlines(keepends=True)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def problems(app):
    """Return what `flask integrity check` would report."""
    with app.app_context():
        found = [str(problem) for problem in find_discrepancies()]
        db.session.remove()
    return found


def titled(app, title):
    with app.app_context():
        ids = db.session.scalars(select(Event.id).where(Event.title == title)).all()
        db.session.remove()
    return ids


def statuses(app, event_ids):
    """Return the bookings of the events by status."""
    with app.app_context():
        rows = db.session.execute(
            select(Booking.status, func.count())
            .where(Booking.event_id.in_(event_ids))
            .group_by(Booking.status)
        ).all()
        db.session.remove()
    return dict(rows)


def test_the_prepared_data_keeps_every_counter_equal_to_its_rows(bench_app, work_dir):
    assert problems(bench_app) == []


def test_every_confirm_is_a_live_hold_of_its_tokens_user(bench_app, work_dir):
    requests = read(work_dir / lifecycle.CONFIRMS)
    assert len({booking_id for _, booking_id in requests}) == len(requests) == COUNT
    with bench_app.app_context():
        bookings = {
            booking.id: booking
            for booking in db.session.scalars(
                select(Booking).where(Booking.id.in_([booking for _, booking in requests]))
            )
        }
        for token, booking_id in requests:
            booking = bookings[booking_id]
            assert decode_token(token)["sub"] == str(booking.user_id)
            assert booking.status == "held"
            assert booking.expires_at > utcnow() + timedelta(hours=1)
        db.session.remove()


def test_confirming_the_prepared_holds_confirms_each_once(bench_app, client, work_dir):
    for token, booking_id in read(work_dir / lifecycle.CONFIRMS)[:SAMPLE]:
        response = client.post(f"/bookings/{booking_id}/confirm", headers=bearer(token))
        assert response.status_code == 200, response.json
        assert response.json["status"] == "confirmed"
    events = titled(bench_app, lifecycle.CONFIRM_TITLE)
    assert statuses(bench_app, events) == {"confirmed": SAMPLE, "held": COUNT - SAMPLE}
    assert problems(bench_app) == []


def test_holding_again_makes_every_confirm_fresh(bench_app, client, work_dir):
    requests = read(work_dir / lifecycle.CONFIRMS)[:SAMPLE]
    for token, booking_id in requests:
        client.post(f"/bookings/{booking_id}/confirm", headers=bearer(token))

    assert lifecycle.hold_again(database_url(bench_app)) == COUNT

    events = titled(bench_app, lifecycle.CONFIRM_TITLE)
    assert statuses(bench_app, events) == {"held": COUNT}
    assert problems(bench_app) == []
    token, booking_id = requests[0]
    response = client.post(f"/bookings/{booking_id}/confirm", headers=bearer(token))
    assert response.json["status"] == "confirmed"
    assert statuses(bench_app, events) == {"confirmed": 1, "held": COUNT - 1}


def test_the_waitlist_joins_are_distinct_users_without_a_booking_of_full_events(
    bench_app, client, work_dir
):
    requests = read(work_dir / lifecycle.WAITLIST)
    with bench_app.app_context():
        pairs = {(int(decode_token(token)["sub"]), event_id) for token, event_id in requests}
        booked = db.session.execute(
            select(Booking.user_id, Booking.event_id).where(
                Booking.event_id.in_({event_id for _, event_id in pairs}),
                Booking.status.in_(("held", "confirmed")),
            )
        ).all()
        db.session.remove()
    assert len(pairs) == len(requests) == COUNT
    assert not pairs & set(booked)
    for event_id in titled(bench_app, lifecycle.WAITLIST_TITLE):
        event = client.get(f"/events/{event_id}").json
        assert event["available_slots"] == 0
        assert event["booking_count"] == event["total_slots"] == lifecycle.WAITLIST_SLOTS


def test_joining_the_waitlists_then_emptying_them_makes_every_join_fresh(
    bench_app, client, work_dir
):
    requests = read(work_dir / lifecycle.WAITLIST)[:SAMPLE]
    for token, event_id in requests:
        response = client.post(f"/events/{event_id}/waitlist", headers=bearer(token))
        assert response.status_code == 201, response.json
        assert response.json["status"] == "waiting"
    assert problems(bench_app) == []

    assert lifecycle.empty_waitlists(database_url(bench_app)) == SAMPLE

    assert problems(bench_app) == []
    with bench_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0
        db.session.remove()
    token, event_id = requests[0]
    response = client.post(f"/events/{event_id}/waitlist", headers=bearer(token))
    assert response.status_code == 201, response.json


def test_holds_take_pairs_the_bookings_left_free_and_the_reset_recounts_them(
    bench_app, client, work_dir
):
    # A hold's pair is no booking's, and the events have room for both.
    for name, hold, status in ((BOOKINGS, False, "confirmed"), (HOLDS, True, "held")):
        for token, event_id in read(work_dir / name)[:SAMPLE]:
            response = client.post(
                "/bookings", json={"event_id": event_id, "hold": hold}, headers=bearer(token)
            )
            assert response.status_code == 201, response.json
            assert response.json["status"] == status
    assert problems(bench_app) == []

    assert dataset.reset_pool_bookings(database_url(bench_app)) == 2 * SAMPLE

    assert problems(bench_app) == []
    with bench_app.app_context():
        pool = range(dataset.POOL_FIRST_EVENT, dataset.EVENTS + 1)
        held, expiring = db.session.execute(
            select(func.sum(Event.held_count), func.count(Event.next_hold_expiry)).where(
                Event.id.in_(pool)
            )
        ).one()
        db.session.remove()
    assert (held, expiring) == (0, 0)


def test_the_pool_events_have_room_for_every_prepared_booking_and_hold(bench_app):
    url = database_url(bench_app)
    dataset.check_room(url, booking_pairs(COUNT))
    with pytest.raises(RuntimeError, match="lack room"):
        dataset.check_room(url, [(user, dataset.EVENTS) for user in POOL_USER_IDS])


def test_the_attendee_list_is_served_to_its_organiser_as_csv(bench_app, client, tokens, work_dir):
    (path,) = (work_dir / lifecycle.ATTENDEE_PATHS).read_text().split()
    headers = {**bearer(tokens[dataset.BENCH_USER_ID]), "Accept": "text/csv"}
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert len(response.text.splitlines()) == 1 + lifecycle.ATTENDEES


def test_removing_the_events_leaves_the_loaded_data(bench_app, work_dir):
    url = database_url(bench_app)
    events = lifecycle.CONFIRM_EVENTS + lifecycle.WAITLIST_EVENTS + 1
    assert lifecycle.remove_events(url) == events
    dataset.check(url)
    assert problems(bench_app) == []


needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


@pytest.fixture
def served(bench_app, tmp_path):
    """The benchmark's gunicorn serving the dataset; yields a runner of 1 s runs."""
    url = database_url(bench_app)
    env = server.server_environment(
        url, bench_app.config["SECRET_KEY"], "127.0.0.1", services.free_port(), 1, 2
    )
    with server.running(env, tmp_path / "server.log") as served_url:
        yield Runner(served_url, url, duration=1, warmup=0)


@pytest.mark.live
@needs_wrk
def test_wrk_runs_of_the_lifecycle_rows_get_only_the_answer_they_expect(
    bench_app, tokens, work_dir, served
):
    chosen = {e.key: e for e in endpoints(work_dir, tokens[dataset.BENCH_USER_ID])}
    for key in LIFECYCLE_ROWS:
        result = served.measure(chosen[key], 2, 1)
        assert result["requests"] > 0, key
        assert result["error_count"] == 0, (key, result)
        assert result["statuses"] == {str(chosen[key].expect): result["requests"]}, key
    assert problems(bench_app) == []


@pytest.mark.live
@needs_wrk
def test_a_run_that_uses_up_its_prepared_requests_fails(bench_app, tokens, work_dir, served):
    chosen = {e.key: e for e in endpoints(work_dir, tokens[dataset.BENCH_USER_ID])}
    few = work_dir / "few"
    few.write_text("".join(lines(work_dir / lifecycle.CONFIRMS)[:4]))
    confirm = chosen["confirm"]
    confirm = replace(confirm, env={**confirm.env, "BENCH_REQUESTS": few})
    with pytest.raises(RuntimeError, match="used up its prepared requests"):
        served.measure(confirm, 2, 1)


@pytest.mark.live
@needs_wrk
def test_an_attendee_list_answered_in_another_media_type_is_an_error(
    bench_app, tokens, work_dir, served
):
    chosen = {e.key: e for e in endpoints(work_dir, tokens[dataset.BENCH_USER_ID])}
    csv = chosen["attendees_csv"]
    html = replace(csv, env={**csv.env, "BENCH_ACCEPT": "text/html"})
    result = served.measure(html, 2, 1)
    assert result["statuses"] == {"200": result["requests"]}
    assert result["error_count"] == result["requests"] > 0
