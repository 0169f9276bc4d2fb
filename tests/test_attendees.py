"""The organiser's side (SPEC 8): the attendee list, its CSV export and the event's numbers."""

import csv
import io
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbook.attendees.export import FORMULA_STARTS, cell
from eventbook.extensions import db
from eventbook.models import Booking, WaitlistEntry, utcnow


@pytest.fixture
def organiser(make_user):
    return make_user(name="Olga Organiser")


@pytest.fixture
def event(make_event, organiser):
    return make_event(organizer_id=organiser.id, total_slots=10)


@pytest.fixture
def add_booking(app):
    """Insert a booking row as it would stand after its lifecycle, with `minutes` of age."""

    def add_booking(user, event, status="confirmed", minutes=0, **fields):
        now = utcnow()
        with app.app_context():
            booking = Booking(
                user_id=user.id,
                event_id=event.id,
                status=status,
                created_at=now - timedelta(minutes=60 - minutes),
                **fields,
            )
            db.session.add(booking)
            db.session.commit()
            return booking.id

    return add_booking


def attendees(client, event, headers, query=""):
    return client.get(f"/events/{event.id}/attendees{query}", headers=headers)


def test_the_organiser_lists_live_bookings_oldest_first_with_their_users(
    client, make_user, auth_headers, organiser, event, add_booking
):
    ada, bob, cy = (make_user(name=name) for name in ("Ada", "Bob", "Cy"))
    second = add_booking(bob, event, minutes=2, confirmed_at=utcnow())
    first = add_booking(ada, event, minutes=1, confirmed_at=utcnow())
    add_booking(cy, event, "cancelled", minutes=3, cancelled_at=utcnow())
    response = attendees(client, event, auth_headers(organiser))
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    body = response.get_json()
    assert [row["booking_id"] for row in body] == [first, second]
    assert set(body[0]) == {
        "booking_id",
        "status",
        "created_at",
        "confirmed_at",
        "cancelled_at",
        "checked_in_at",
        "user",
    }
    assert body[0]["user"] == {"id": ada.id, "name": "Ada", "email": ada.email}
    assert body[0]["status"] == "confirmed"
    assert body[0]["checked_in_at"] is None


def test_ties_on_created_at_are_ordered_by_id(
    app, client, make_user, auth_headers, organiser, event
):
    moment = utcnow() - timedelta(minutes=5)
    with app.app_context():
        rows = [
            Booking(user_id=make_user().id, event_id=event.id, created_at=moment) for _ in range(3)
        ]
        db.session.add_all(rows)
        db.session.commit()
        ids = [row.id for row in rows]
    body = attendees(client, event, auth_headers(organiser)).get_json()
    assert [row["booking_id"] for row in body] == sorted(ids)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", {"held", "confirmed"}),
        ("?status=all", {"held", "confirmed", "cancelled", "expired", "event_cancelled"}),
        ("?status=expired", {"expired"}),
        ("?status=cancelled,held", {"cancelled", "held"}),
    ],
)
def test_the_status_filter_reads_statuses_as_of_now(
    client, make_user, auth_headers, organiser, event, add_booking, query, expected
):
    later, earlier = utcnow() + timedelta(minutes=10), utcnow() - timedelta(seconds=1)
    add_booking(make_user(), event, "confirmed")
    add_booking(make_user(), event, "held", expires_at=later)
    add_booking(make_user(), event, "held", expires_at=earlier)  # expired, not yet processed
    add_booking(make_user(), event, "cancelled")
    add_booking(make_user(), event, "event_cancelled")
    body = attendees(client, event, auth_headers(organiser), query).get_json()
    assert {row["status"] for row in body} == expected


def test_an_unknown_status_is_400(client, auth_headers, organiser, event):
    response = attendees(client, event, auth_headers(organiser), "?status=confirmed,lost")
    assert response.status_code == 400
    assert "status" in response.get_json()["errors"]


def test_pages_with_skip_and_limit(client, make_user, auth_headers, organiser, event, add_booking):
    ids = [add_booking(make_user(), event, minutes=n) for n in range(5)]
    response = attendees(client, event, auth_headers(organiser), "?skip=1&limit=2")
    assert [row["booking_id"] for row in response.get_json()] == ids[1:3]
    assert response.headers["X-Total-Count"] == "5"
    past_the_end = attendees(client, event, auth_headers(organiser), "?skip=10")
    assert past_the_end.get_json() == []
    assert past_the_end.headers["X-Total-Count"] == "5"


@pytest.mark.parametrize("path", ["attendees", "stats"])
def test_only_the_organiser_sees_them(client, make_user, auth_headers, event, path):
    response = client.get(f"/events/{event.id}/{path}", headers=auth_headers(make_user()))
    assert response.status_code == 403
    assert response.get_json()["message"] == (
        "Only the organizer of this event can see or check in its attendees"
    )


@pytest.mark.parametrize("path", ["attendees", "stats"])
def test_an_unknown_event_or_someone_elses_draft_is_404(
    client, make_user, make_event, auth_headers, path
):
    draft = make_event(organizer_id=make_user().id, status="draft")
    for event_id in (draft.id, 999_999):
        response = client.get(f"/events/{event_id}/{path}", headers=auth_headers(make_user()))
        assert response.status_code == 404
        assert response.get_json()["message"] == "Event not found"


@pytest.mark.parametrize("path", ["attendees", "stats"])
def test_they_need_a_token(client, event, path):
    assert client.get(f"/events/{event.id}/{path}").status_code == 401


def csv_rows(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_is_the_whole_filtered_list_with_the_user_flattened(
    client, make_user, auth_headers, organiser, event, add_booking
):
    ada = make_user(name="Ada", email="ada@example.com")
    first = add_booking(ada, event, minutes=1, confirmed_at=utcnow())
    for n in range(2, 30):
        add_booking(make_user(), event, minutes=n)
    add_booking(make_user(), event, "cancelled", minutes=40)
    headers = {**auth_headers(organiser), "Accept": "text/csv"}
    response = attendees(client, event, headers, "?limit=5&skip=3")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.is_streamed
    rows = csv_rows(response)
    assert rows[0] == [
        "booking_id",
        "status",
        "created_at",
        "confirmed_at",
        "cancelled_at",
        "checked_in_at",
        "user_id",
        "user_name",
        "user_email",
    ]
    assert len(rows) == 1 + 29
    assert rows[1][:2] == [str(first), "confirmed"]
    assert rows[1][6:] == [str(ada.id), "Ada", "ada@example.com"]
    assert rows[1][4:6] == ["", ""]
    all_rows = csv_rows(attendees(client, event, headers, "?status=all"))
    assert len(all_rows) == 1 + 30


def test_the_csv_agrees_with_the_json(
    client, make_user, auth_headers, organiser, event, add_booking
):
    for n in range(3):
        add_booking(make_user(), event, minutes=n, confirmed_at=utcnow())
    json_rows = attendees(client, event, auth_headers(organiser)).get_json()
    headers = {**auth_headers(organiser), "Accept": "text/csv"}
    header, *rows = csv_rows(attendees(client, event, headers))
    flat = [
        {
            **{k: v for k, v in row.items() if k != "user"},
            **{f"user_{k}": v for k, v in row["user"].items()},
        }
        for row in json_rows
    ]
    as_text = [
        [("" if item[name] is None else str(item[name])) for name in header] for item in flat
    ]
    assert rows == as_text


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_csv_cell_that_could_run_as_a_formula_is_made_text(
    client, make_user, auth_headers, organiser, event, add_booking, start
):
    name = f'{start}HYPERLINK("http://evil.example","x")'
    add_booking(make_user(name=name), event)
    headers = {**auth_headers(organiser), "Accept": "text/csv"}
    rows = csv_rows(attendees(client, event, headers))
    assert rows[1][7] == "'" + name


@given(st.text())
def test_no_cell_begins_with_a_formula_character(text):
    written = cell(text)
    assert not written.startswith(FORMULA_STARTS)
    assert written in (text, "'" + text)


def test_json_is_the_default_and_preferred(client, auth_headers, organiser, event):
    for accept in (None, "*/*", "application/json, text/csv;q=0.5"):
        headers = {**auth_headers(organiser), **({"Accept": accept} if accept else {})}
        response = attendees(client, event, headers)
        assert response.content_type == "application/json"


def stats(client, event, headers):
    response = client.get(f"/events/{event.id}/stats", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_stats_count_bookings_by_status_as_of_now(
    app, client, make_user, auth_headers, organiser, event, add_booking
):
    later, earlier = utcnow() + timedelta(minutes=10), utcnow() - timedelta(seconds=1)
    add_booking(make_user(), event, "confirmed")
    add_booking(make_user(), event, "confirmed", checked_in_at=utcnow())
    add_booking(make_user(), event, "held", expires_at=later)
    offer = add_booking(make_user(), event, "held", expires_at=later)
    add_booking(make_user(), event, "held", expires_at=earlier)
    add_booking(make_user(), event, "expired", expires_at=earlier)
    add_booking(make_user(), event, "cancelled")
    add_booking(make_user(), event, "event_cancelled")
    with app.app_context():
        offered_to = db.session.get(Booking, offer).user_id
        db.session.add_all(
            [
                WaitlistEntry(
                    user_id=offered_to, event_id=event.id, status="offered", booking_id=offer
                ),
                WaitlistEntry(user_id=make_user().id, event_id=event.id, status="waiting"),
                WaitlistEntry(user_id=make_user().id, event_id=event.id, status="left"),
            ]
        )
        db.session.commit()
    assert stats(client, event, auth_headers(organiser)) == {
        "total_slots": 10,
        "confirmed": 2,
        "held": 2,
        "available": 10 - 2 - 2 - 1,
        "cancelled": 1,
        "event_cancelled": 1,
        "expired": 2,
        "checked_in": 1,
        "waiting": 1,
        "offered": 1,
    }


def test_stats_of_an_event_without_bookings(client, auth_headers, organiser, event):
    assert stats(client, event, auth_headers(organiser)) == {
        "total_slots": 10,
        "confirmed": 0,
        "held": 0,
        "available": 10,
        "cancelled": 0,
        "event_cancelled": 0,
        "expired": 0,
        "checked_in": 0,
        "waiting": 0,
        "offered": 0,
    }


def test_stats_follow_the_api(client, make_user, auth_headers, organiser, event):
    booker = auth_headers(make_user())
    booking = client.post("/bookings", json={"event_id": event.id}, headers=booker).get_json()
    client.post(
        "/bookings", json={"event_id": event.id, "hold": True}, headers=auth_headers(make_user())
    )
    client.post(f"/bookings/{booking['id']}/check-in", headers=auth_headers(organiser))
    numbers = stats(client, event, auth_headers(organiser))
    assert (numbers["confirmed"], numbers["held"], numbers["checked_in"]) == (1, 1, 1)
    assert numbers["available"] == client.get(f"/events/{event.id}").get_json()["available_slots"]
    client.post(f"/events/{event.id}/cancel", headers=auth_headers(organiser))
    numbers = stats(client, event, auth_headers(organiser))
    assert (numbers["confirmed"], numbers["held"], numbers["event_cancelled"]) == (0, 0, 2)
    assert numbers["available"] == 0
