"""The change log (outbox) and the change feed, GET /changes."""

import base64
import json
import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from eventbook.extensions import db
from eventbook.models import utcnow
from eventbook.webhooks import changes
from eventbook.webhooks.changes import CHANGE_TYPES, record_change
from eventbook.webhooks.models import Change

EVENT = {
    "title": "Meetup",
    "location": "Hall",
    "event_date": (utcnow() + timedelta(days=3)).isoformat(),
    "total_slots": 5,
}


def read_all(client, headers, cursor=None, limit=100):
    """Follow next_cursor until an empty page; return the changes and the last cursor."""
    found = []
    while True:
        query = {"limit": limit, **({"after": cursor} if cursor else {})}
        response = client.get("/changes", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        cursor = body["next_cursor"]
        if not body["changes"]:
            return found, cursor
        found += body["changes"]


@pytest.fixture
def organizer(make_user, auth_headers):
    user = make_user()
    return user, auth_headers(user)


def test_every_operation_records_its_change_with_the_api_representation(
    client, organizer, make_user, auth_headers
):
    _, headers = organizer
    created = client.post("/events", json=EVENT, headers=headers).get_json()
    updated = client.patch(f"/events/{created['id']}", json={"total_slots": 6}, headers=headers)
    attendee = auth_headers(make_user())
    booking = client.post("/bookings", json={"event_id": created["id"]}, headers=attendee)
    cancelled = client.delete(f"/bookings/{booking.get_json()['id']}", headers=attendee)
    assert cancelled.status_code == 204

    changes, _ = read_all(client, headers)
    assert [change["type"] for change in changes] == [
        "event.created",
        "event.updated",
        "booking.confirmed",
        "booking.cancelled",
    ]
    assert changes[0]["data"] == created
    assert changes[1]["data"] == updated.get_json()
    assert changes[2]["data"] == booking.get_json()
    assert changes[3]["data"]["id"] == booking.get_json()["id"]
    assert changes[3]["data"]["event"]["booking_count"] == 0
    assert set(changes[0]) == {"id", "type", "created_at", "data"}


def test_a_refused_operation_records_nothing(app, client, organizer, make_user, auth_headers):
    _, headers = organizer
    event = client.post("/events", json={**EVENT, "total_slots": 1}, headers=headers).get_json()
    client.post("/bookings", json={"event_id": event["id"]}, headers=auth_headers(make_user()))
    refused = client.post(
        "/bookings", json={"event_id": event["id"]}, headers=auth_headers(make_user())
    )
    assert refused.status_code == 400
    changes, _ = read_all(client, headers)
    assert [change["type"] for change in changes] == ["event.created", "booking.confirmed"]


def test_a_change_exists_only_if_its_transaction_commits(app, make_user, make_event):
    event = make_event(organizer_id=make_user().id)
    with app.app_context():
        record_change("event.updated", event.id, {"id": event.id})
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Change)) == 0
        record_change("event.updated", event.id, {"id": event.id})
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Change)) == 1


def test_many_changes_at_once_keep_their_order_across_batches(
    app, make_user, make_event, monkeypatch
):
    monkeypatch.setattr(changes, "RECORD_BATCH", 3)
    event = make_event(organizer_id=make_user().id)
    items = [{"n": n} for n in range(8)]
    with app.app_context():
        ids = changes.record_changes("booking.event_cancelled", event.id, items)
        db.session.commit()
        stored = db.session.execute(select(Change.id, Change.data).order_by(Change.id)).all()
    assert ids == sorted(ids) and len(set(ids)) == 8
    assert [(row.id, row.data) for row in stored] == list(zip(ids, items, strict=True))


def test_an_unknown_change_type_is_refused(app, make_event):
    event = make_event()
    with app.app_context(), pytest.raises(ValueError):
        record_change("booking.teleported", event.id, {})


def test_every_change_type_can_be_recorded(app, client, organizer, make_event):
    user, headers = organizer
    event = make_event(organizer_id=user.id)
    with app.app_context():
        for change_type in CHANGE_TYPES:
            record_change(change_type, event.id, {"id": event.id})
        db.session.commit()
    changes, _ = read_all(client, headers)
    assert [change["type"] for change in changes] == list(CHANGE_TYPES)


def test_the_feed_shows_only_the_callers_events(client, organizer, make_user, auth_headers):
    _, headers = organizer
    other = auth_headers(make_user())
    client.post("/events", json=EVENT, headers=headers)
    client.post("/events", json={**EVENT, "title": "Theirs"}, headers=other)
    changes, _ = read_all(client, headers)
    assert [change["data"]["title"] for change in changes] == ["Meetup"]


def test_the_feed_needs_a_token(client):
    assert client.get("/changes").status_code == 401


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_pages_follow_the_cursor_without_gaps_or_repeats(client, organizer, limit):
    _, headers = organizer
    for n in range(7):
        client.post("/events", json={**EVENT, "title": f"E{n}"}, headers=headers)
    changes, _ = read_all(client, headers, limit=limit)
    assert [change["data"]["title"] for change in changes] == [f"E{n}" for n in range(7)]


def test_an_empty_page_continues_from_the_same_place(client, organizer):
    _, headers = organizer
    client.post("/events", json={**EVENT, "title": "First"}, headers=headers)
    seen, cursor = read_all(client, headers)
    empty = client.get("/changes", query_string={"after": cursor}, headers=headers).get_json()
    assert empty["changes"] == [] and empty["next_cursor"]
    client.post("/events", json={**EVENT, "title": "Second"}, headers=headers)
    later, _ = read_all(client, headers, cursor=empty["next_cursor"])
    assert [change["data"]["title"] for change in seen + later] == ["First", "Second"]


def _encoded(value):
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        _encoded([1]),
        _encoded({"i": -1}),
        _encoded({"i": "1"}),
        _encoded({"i": 2**64}),
        _encoded({"i": 1, "x": 2}),
        _encoded({"i": 0, "p": "5:3:"}),
        _encoded({"i": 0, "p": "3:9:10"}),
        _encoded({"i": 0, "t": "3:9:5,4"}),
        _encoded({"i": 0, "t": "0:0:"}),
        _encoded({"i": 0, "t": "a:b:"}),
        _encoded({"i": 0, "t": "3:99999999999999999999:"}),
    ],
)
def test_a_bad_cursor_is_a_400(client, organizer, cursor):
    _, headers = organizer
    response = client.get("/changes", query_string={"after": cursor}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["status_code"] == 400


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cursor=st.one_of(
        st.text(min_size=1, max_size=60),
        st.recursive(
            st.none() | st.integers() | st.text(max_size=30),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.sampled_from(["i", "p", "t", "x"]), inner, max_size=3)
            ),
            max_leaves=6,
        ).map(_encoded),
    )
)
def test_any_cursor_is_read_or_refused_never_a_crash(client, organizer, cursor):
    _, headers = organizer
    response = client.get("/changes", query_string={"after": cursor}, headers=headers)
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_limit_is_bounded(client, organizer, limit):
    _, headers = organizer
    assert client.get(f"/changes?limit={limit}", headers=headers).status_code == 400


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_change_committed_out_of_id_order_is_seen_once(app, client, organizer, make_event):
    """A transaction that took a lower id but commits later is not skipped.

    The control: a reader that kept only the last id it saw would miss it.
    """
    user, headers = organizer
    event = make_event(organizer_id=user.id)
    recorded, release, early = threading.Event(), threading.Event(), {}

    def slow_transaction():
        with app.app_context():
            early["id"] = record_change("event.updated", event.id, {"n": "early"})
            recorded.set()
            release.wait(10)
            db.session.commit()

    slow = threading.Thread(target=slow_transaction)
    slow.start()
    try:
        assert recorded.wait(10)
        with app.app_context():
            late_id = record_change("event.updated", event.id, {"n": "late"})
            db.session.commit()
        assert early["id"] < late_id
        first, cursor = read_all(client, headers)
        assert [change["data"] for change in first] == [{"n": "late"}]
    finally:
        release.set()
        slow.join(10)
    rest, _ = read_all(client, headers, cursor=cursor)
    assert [change["data"] for change in rest] == [{"n": "early"}]

    with app.app_context():  # the control
        naive = db.session.scalars(select(Change.data).where(Change.id > late_id)).all()
    assert naive == []
