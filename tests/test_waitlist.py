"""The waitlist (SPEC 7): join a full event, see your place, get the freed slot as an
offer in the transaction that freed it, first come first served."""

import time

import pytest

from eventbook.bookings.slots import sweep
from eventbook.extensions import db
from eventbook.integrity import find_discrepancies
from eventbook.models import WaitlistEntry
from tests.conftest import SHORT_TTL

# No hold or offer runs out by itself while a test runs, however busy the
# machine; a test about expiry shortens the TTL for itself (`short_ttl`).
LONG_TTL = 600
OFFER_TTL = SHORT_TTL


@pytest.fixture
def settings(settings):
    return {**settings, "HOLD_TTL_SECONDS": LONG_TTL, "WAITLIST_OFFER_TTL_SECONDS": LONG_TTL}


def post(client, path, headers, **body):
    return client.post(path, json=body, headers=headers)


def join(client, headers, event_id):
    return post(client, f"/events/{event_id}/waitlist", headers)


def my_entries(client, headers):
    return client.get("/waitlist/my", headers=headers).get_json()


def assert_consistent(app):
    with app.app_context():
        assert find_discrepancies() == []


@pytest.fixture
def full_event(client, make_user, make_event, auth_headers):
    """An event of one slot, booked; return the event and the booker's headers."""
    organizer = make_user()
    event = make_event(total_slots=1, organizer_id=organizer.id)
    booker = auth_headers(make_user())
    booking = post(client, "/bookings", booker, event_id=event.id).get_json()
    return event, booker, booking, auth_headers(organizer)


def test_joining_a_full_event_gives_a_place_in_line(client, make_user, auth_headers, full_event):
    event, *_ = full_event
    first, second = auth_headers(make_user()), auth_headers(make_user())
    response = join(client, first, event.id)
    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in ("event_id", "status", "position", "offer")} == {
        "event_id": event.id,
        "status": "waiting",
        "position": 1,
        "offer": None,
    }
    assert join(client, second, event.id).get_json()["position"] == 2
    assert client.get(f"/events/{event.id}").get_json()["waitlist_count"] == 2
    again = join(client, first, event.id)
    assert again.get_json()["message"] == "You are already on the waitlist"


def test_joining_is_refused_while_slots_are_free(client, make_user, auth_headers, make_event):
    event = make_event(total_slots=2)
    response = join(client, auth_headers(make_user()), event.id)
    assert (response.status_code, response.get_json()["message"]) == (
        400,
        "Event has free slots; book one instead",
    )


def test_a_booker_cannot_join_the_waitlist(client, full_event):
    event, booker, *_ = full_event
    assert join(client, booker, event.id).get_json()["message"] == (
        "You have already booked this event"
    )


def test_a_cancelled_slot_is_offered_to_the_first_waiting_at_once(
    app, client, make_user, auth_headers, full_event
):
    event, booker, booking, _ = full_event
    first, second, walk_in = (auth_headers(make_user()) for _ in range(3))
    join(client, first, event.id)
    join(client, second, event.id)
    assert client.delete(f"/bookings/{booking['id']}", headers=booker).status_code == 204
    # In the same transaction: nobody else can take the slot.
    refused = post(client, "/bookings", walk_in, event_id=event.id)
    assert refused.get_json()["message"] == "Event is fully booked"
    (offered,) = my_entries(client, first)
    assert offered["status"] == "offered" and offered["position"] is None
    assert offered["offer"]["status"] == "held"
    assert my_entries(client, second)[0]["position"] == 1
    confirmed = post(client, f"/bookings/{offered['offer']['id']}/confirm", first)
    assert confirmed.status_code == 200
    assert my_entries(client, first) == []  # accepted
    shown = client.get(f"/events/{event.id}").get_json()
    assert (shown["booking_count"], shown["held_slots"], shown["waitlist_count"]) == (1, 0, 1)
    assert_consistent(app)


def test_an_expired_offer_passes_to_the_next_person_by_itself(
    app, client, make_user, auth_headers, full_event, short_ttl
):
    event, booker, booking, _ = full_event
    first, second = auth_headers(make_user()), auth_headers(make_user())
    join(client, first, event.id)
    join(client, second, event.id)
    client.delete(f"/bookings/{booking['id']}", headers=booker)
    time.sleep(OFFER_TTL + 0.2)
    with app.app_context():
        assert sweep() == 1
    assert my_entries(client, first) == []
    (offered,) = my_entries(client, second)
    assert offered["status"] == "offered"
    with app.app_context():
        statuses = [e.status for e in db.session.query(WaitlistEntry).order_by(WaitlistEntry.id)]
    assert statuses == ["expired", "offered"]
    assert_consistent(app)


def test_leaving_with_an_open_offer_passes_it_on(app, client, make_user, auth_headers, full_event):
    event, booker, booking, _ = full_event
    first, second = auth_headers(make_user()), auth_headers(make_user())
    entry = join(client, first, event.id).get_json()
    join(client, second, event.id)
    client.delete(f"/bookings/{booking['id']}", headers=booker)
    assert client.delete(f"/waitlist/{entry['id']}", headers=first).status_code == 204
    assert my_entries(client, second)[0]["status"] == "offered"
    assert (
        client.delete(f"/waitlist/{entry['id']}", headers=auth_headers(make_user())).status_code
        == 404
    )
    assert_consistent(app)


def test_releasing_an_offer_by_its_booking_marks_the_entry_left(
    app, client, make_user, auth_headers, full_event
):
    event, booker, booking, _ = full_event
    first = auth_headers(make_user())
    join(client, first, event.id)
    client.delete(f"/bookings/{booking['id']}", headers=booker)
    offer = my_entries(client, first)[0]["offer"]
    assert client.delete(f"/bookings/{offer['id']}", headers=first).status_code == 204
    with app.app_context():
        assert db.session.query(WaitlistEntry).one().status == "left"
    assert client.get(f"/events/{event.id}").get_json()["available_slots"] == 1
    assert_consistent(app)


def test_raising_capacity_offers_the_new_slots_to_the_first_in_line(
    app, client, make_user, auth_headers, full_event
):
    event, _, _, organizer = full_event
    waiting = [auth_headers(make_user()) for _ in range(4)]
    for headers in waiting:
        join(client, headers, event.id)
    response = client.patch(f"/events/{event.id}", json={"total_slots": 3}, headers=organizer)
    assert response.status_code == 200
    assert response.get_json()["waitlist_count"] == 2
    assert response.get_json()["held_slots"] == 2
    statuses = [my_entries(client, headers)[0]["status"] for headers in waiting]
    assert statuses == ["offered", "offered", "waiting", "waiting"]
    assert_consistent(app)


def test_cancelling_the_event_closes_the_waitlist(app, client, make_user, auth_headers, full_event):
    event, _, _, organizer = full_event
    headers = auth_headers(make_user())
    join(client, headers, event.id)
    post(client, f"/events/{event.id}/cancel", organizer)
    assert my_entries(client, headers) == []
    with app.app_context():
        assert db.session.query(WaitlistEntry).one().status == "closed"


def test_joining_counts_against_the_booking_limit(app, client, make_user, auth_headers, make_event):
    app.config["BOOKING_RATE_LIMIT"] = "2 per minute"
    headers = auth_headers(make_user())
    event = make_event(total_slots=1)
    assert post(client, "/bookings", headers, event_id=event.id).status_code == 201
    assert join(client, headers, event.id).status_code == 400
    assert join(client, headers, event.id).status_code == 429
