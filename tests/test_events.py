from datetime import timedelta

import pytest

from eventbook import pagination
from eventbook.extensions import db
from eventbook.models import Booking, Event, utcnow

EVENT_FIELDS = {
    "id",
    "title",
    "description",
    "location",
    "event_date",
    "total_slots",
    "image_url",
    "organizer_id",
    "created_at",
    "booking_count",
    "available_slots",
    "status",
    "booking_opens_at",
    "booking_closes_at",
    "cancellation_deadline",
    "ends_at",
    "cancelled_at",
    "cancellation_reason",
    "held_slots",
    "waitlist_count",
}


def new_event(**overrides):
    return {
        "title": "Tech Conference 2027",
        "description": "Talks and workshops.",
        "location": "Convention Center",
        "event_date": (utcnow() + timedelta(days=30)).isoformat(),
        "total_slots": 100,
        "image_url": "https://picsum.photos/seed/conference/800/600",
        **overrides,
    }


def test_list_orders_by_date_then_id_and_counts_matches(client, make_event):
    now = utcnow()
    later = make_event(title="later", event_date=now + timedelta(days=9))
    first = make_event(title="first", event_date=now + timedelta(days=1))
    tie = make_event(title="tie", event_date=now + timedelta(days=9))
    response = client.get("/events")
    assert response.status_code == 200
    assert [e["id"] for e in response.get_json()] == [first.id, later.id, tie.id]
    assert response.headers["X-Total-Count"] == "3"
    assert set(response.get_json()[0]) == EVENT_FIELDS


def test_list_pages_with_skip_and_limit(client, make_event):
    now = utcnow()
    ids = [make_event(event_date=now + timedelta(days=d)).id for d in range(1, 6)]
    response = client.get("/events?skip=1&limit=2")
    assert [e["id"] for e in response.get_json()] == ids[1:3]
    assert response.headers["X-Total-Count"] == "5"


@pytest.mark.parametrize("deferred_join_from", [0, 10**9], ids=["by ids first", "directly"])
def test_both_ways_of_reading_a_page_give_the_same_pages(
    client, make_event, monkeypatch, deferred_join_from
):
    monkeypatch.setattr(pagination, "DEFERRED_JOIN_FROM", deferred_join_from)
    now = utcnow()
    # Ties on event_date are ordered by id; a draft is never listed.
    events = [make_event(event_date=now + timedelta(days=d // 2)) for d in range(2, 13)]
    make_event(status="draft")
    expected = [e.id for e in sorted(events, key=lambda e: (e.event_date, e.id))]
    for skip in range(0, 13, 3):
        response = client.get(f"/events?skip={skip}&limit=3")
        assert [e["id"] for e in response.get_json()] == expected[skip : skip + 3]
        assert response.headers["X-Total-Count"] == "11"
    response = client.get("/events?skip=2&limit=4&upcoming=true&q=e")
    assert [e["id"] for e in response.get_json()] == expected[2:6]


def test_a_page_past_the_end_is_empty_and_still_counts_the_matches(client, make_event):
    for days in range(1, 4):
        make_event(event_date=utcnow() + timedelta(days=days))
    response = client.get("/events?skip=3&limit=2")
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "3"
    response = client.get("/events?skip=0&q=nothing-matches")
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(
    "query, field",
    [
        ("skip=-1", "skip"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("skip=99999999999999999999", "skip"),
        ("upcoming=maybe", "upcoming"),
    ],
)
def test_list_rejects_bad_paging(client, query, field):
    response = client.get(f"/events?{query}")
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_list_filters_upcoming_events(client, make_event):
    make_event(title="past", event_date=utcnow() - timedelta(days=1))
    upcoming = make_event(title="upcoming")
    response = client.get("/events?upcoming=true")
    assert [e["id"] for e in response.get_json()] == [upcoming.id]
    assert response.headers["X-Total-Count"] == "1"


def test_list_searches_title_and_location_in_any_case(client, make_event):
    by_title = make_event(title="Jazz Evening", location="Club")
    by_location = make_event(title="Concert", location="The JAZZ Cellar")
    make_event(title="Marathon", location="Park")
    response = client.get("/events?q=jazz")
    assert sorted(e["id"] for e in response.get_json()) == sorted([by_title.id, by_location.id])


def test_search_treats_wildcards_literally(client, make_event):
    make_event(title="100% fun")
    make_event(title="1000 fun")
    response = client.get("/events?q=0%25")
    assert [e["title"] for e in response.get_json()] == ["100% fun"]


def test_get_returns_the_event_with_its_counts(client, make_event):
    event = make_event(total_slots=5, booked_count=0)
    response = client.get(f"/events/{event.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["booking_count"] == 0 and body["available_slots"] == 5
    assert body["event_date"].endswith("+00:00")


@pytest.mark.parametrize(
    "path", ["/events/999", "/events/0", "/events/99999999999999999999", "/events/abc"]
)
def test_get_unknown_event_is_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] is True


def test_get_missing_event_says_so(client):
    assert client.get("/events/999").get_json() == {
        "error": True,
        "message": "Event not found",
        "status_code": 404,
    }


def test_top_booked_orders_by_bookings_then_id_over_all_events(client, make_event):
    quiet = make_event(title="quiet")
    busy = make_event(title="busy", booked_count=3)
    tied_a = make_event(title="tied a", booked_count=2)
    tied_b = make_event(title="tied b", booked_count=2)
    response = client.get("/events/top-booked?limit=5")
    assert [e["id"] for e in response.get_json()] == [busy.id, tied_a.id, tied_b.id, quiet.id]
    assert response.get_json()[0]["booking_count"] == 3


def test_top_booked_defaults_to_three_and_can_skip_past_events(client, make_event):
    make_event(title="past hit", booked_count=9, event_date=utcnow() - timedelta(days=1))
    for n in range(4):
        make_event(title=f"e{n}", booked_count=n)
    assert len(client.get("/events/top-booked").get_json()) == 3
    upcoming = client.get("/events/top-booked?upcoming=true").get_json()
    assert [e["title"] for e in upcoming] == ["e3", "e2", "e1"]


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "limit=x"])
def test_top_booked_rejects_bad_limits(client, query):
    assert client.get(f"/events/top-booked?{query}").status_code == 400


def test_create_makes_the_caller_the_organizer(client, make_user, auth_headers):
    user = make_user()
    response = client.post("/events", json=new_event(), headers=auth_headers(user))
    assert response.status_code == 201
    body = response.get_json()
    assert body["organizer_id"] == user.id
    assert body["booking_count"] == 0 and body["available_slots"] == 100
    assert client.get(f"/events/{body['id']}").status_code == 200


def test_create_needs_a_login(client):
    response = client.post("/events", json=new_event())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_create_reads_a_date_without_offset_as_utc(client, make_user, auth_headers):
    date = (utcnow() + timedelta(days=3)).replace(microsecond=0, tzinfo=None)
    response = client.post(
        "/events", json=new_event(event_date=date.isoformat()), headers=auth_headers(make_user())
    )
    assert response.get_json()["event_date"] == date.isoformat() + "+00:00"


def test_create_converts_offsets_to_utc(client, make_user, auth_headers):
    response = client.post(
        "/events",
        json=new_event(event_date="2999-01-01T12:00:00+02:00"),
        headers=auth_headers(make_user()),
    )
    assert response.get_json()["event_date"] == "2999-01-01T10:00:00+00:00"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"event_date": "2001-01-01T00:00:00Z"}, "event_date"),
        ({"event_date": "tomorrow"}, "event_date"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"location": "l" * 256}, "location"),
        ({"description": "d" * 5001}, "description"),
        ({"total_slots": 0}, "total_slots"),
        ({"total_slots": 1_000_001}, "total_slots"),
        ({"total_slots": "10"}, "total_slots"),
        ({"total_slots": True}, "total_slots"),
        ({"total_slots": 2.5}, "total_slots"),
        ({"image_url": "ftp://example.com/a.png"}, "image_url"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"image_url": "https://example.com/" + "a" * 500}, "image_url"),
        ({"booked_count": 5}, "booked_count"),
        ({"organizer_id": 1}, "organizer_id"),
        ({"id": 1}, "id"),
    ],
)
def test_create_rejects_invalid_input(client, make_user, auth_headers, overrides, field):
    response = client.post(
        "/events", json=new_event(**overrides), headers=auth_headers(make_user())
    )
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_create_accepts_an_event_without_optional_fields(client, make_user, auth_headers):
    body = new_event()
    del body["description"], body["image_url"]
    response = client.post("/events", json=body, headers=auth_headers(make_user()))
    assert response.status_code == 201
    assert response.get_json()["image_url"] is None


def test_patch_changes_only_the_given_fields(client, make_user, auth_headers, make_event):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id, title="Old", location="Hall A")
    response = client.patch(
        f"/events/{event.id}",
        json={"title": "New", "description": None},
        headers=auth_headers(organizer),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["location"], body["description"]) == ("New", "Hall A", None)


def test_patch_by_someone_else_is_403(client, make_user, auth_headers, make_event):
    event = make_event(organizer_id=make_user().id)
    response = client.patch(
        f"/events/{event.id}", json={"title": "Mine"}, headers=auth_headers(make_user())
    )
    assert response.status_code == 403
    assert client.get(f"/events/{event.id}").get_json()["title"] == "Test event"


def test_seeded_events_without_organizer_cannot_be_changed(
    client, make_user, auth_headers, make_event
):
    event = make_event(organizer_id=None)
    headers = auth_headers(make_user())
    assert (
        client.patch(f"/events/{event.id}", json={"title": "x"}, headers=headers).status_code == 403
    )
    assert client.delete(f"/events/{event.id}", headers=headers).status_code == 403


def test_patch_missing_event_is_404(client, make_user, auth_headers):
    response = client.patch("/events/999", json={"title": "x"}, headers=auth_headers(make_user()))
    assert response.status_code == 404


def test_patch_cannot_drop_slots_below_bookings(client, make_user, auth_headers, make_event):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id, total_slots=10, booked_count=4)
    headers = auth_headers(organizer)
    response = client.patch(f"/events/{event.id}", json={"total_slots": 3}, headers=headers)
    assert response.status_code == 400
    assert (
        response.get_json()["message"]
        == "total_slots cannot be lower than the number of bookings and holds (4)"
    )
    assert (
        client.patch(f"/events/{event.id}", json={"total_slots": 4}, headers=headers).status_code
        == 200
    )


@pytest.mark.parametrize(
    "body", [{"booked_count": 0}, {"organizer_id": 2}, {"event_date": "2001-01-01T00:00:00Z"}]
)
def test_patch_rejects_invalid_input(client, make_user, auth_headers, make_event, body):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id)
    response = client.patch(f"/events/{event.id}", json=body, headers=auth_headers(organizer))
    assert response.status_code == 400


def test_delete_removes_an_event_that_never_had_a_booking(
    app, client, make_user, auth_headers, make_event
):
    organizer = make_user()
    event = make_event(organizer_id=organizer.id)
    response = client.delete(f"/events/{event.id}", headers=auth_headers(organizer))
    assert response.status_code == 204
    assert client.get(f"/events/{event.id}").status_code == 404
    with app.app_context():
        assert db.session.get(Event, event.id) is None


def test_delete_of_an_event_with_bookings_is_409_and_keeps_them(
    app, client, make_user, auth_headers, make_event
):
    organizer, attendee = make_user(), make_user()
    event = make_event(organizer_id=organizer.id)
    booked = client.post("/bookings", json={"event_id": event.id}, headers=auth_headers(attendee))
    client.delete(f"/bookings/{booked.get_json()['id']}", headers=auth_headers(attendee))
    response = client.delete(f"/events/{event.id}", headers=auth_headers(organizer))
    assert response.status_code == 409
    assert response.get_json()["message"] == "Event has bookings; cancel it instead"
    with app.app_context():
        assert db.session.query(Booking).count() == 1


def test_delete_by_someone_else_is_403(client, make_user, auth_headers, make_event):
    event = make_event(organizer_id=make_user().id)
    assert (
        client.delete(f"/events/{event.id}", headers=auth_headers(make_user())).status_code == 403
    )
    assert client.get(f"/events/{event.id}").status_code == 200
