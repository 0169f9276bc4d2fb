"""Calendar files (SPEC 8): one VEVENT per event or booking, read back with icalendar."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbook.calendar import ics
from eventbook.extensions import db
from eventbook.models import Booking, Event, utcnow

START = datetime(2030, 5, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def organiser(make_user):
    return make_user()


@pytest.fixture
def event(make_event, organiser):
    return make_event(
        organizer_id=organiser.id,
        title="Flask meetup",
        location="Room 42, Main St",
        description="Talks; pizza, and more",
        event_date=START,
        ends_at=START + timedelta(hours=2),
    )


def read_calendar(response):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.data)
    (vevent,) = calendar.walk("VEVENT")
    return vevent


def test_an_event_is_one_vevent(client, event):
    response = client.get(f"/events/{event.id}/calendar.ics")
    vevent = read_calendar(response)
    assert str(vevent["UID"]) == f"event-{event.id}@eventbook"
    assert vevent.decoded("DTSTART") == START
    assert vevent.decoded("DTEND") == START + timedelta(hours=2)
    assert b"DTSTART:20300501T180000Z" in response.data
    assert isinstance(vevent.decoded("DTSTAMP"), datetime)
    assert str(vevent["SUMMARY"]) == "Flask meetup"
    assert str(vevent["LOCATION"]) == "Room 42, Main St"
    assert str(vevent["DESCRIPTION"]) == "Talks; pizza, and more"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert vevent.decoded("SEQUENCE") == 0


def test_an_event_without_end_has_no_dtend(client, make_event):
    vevent = read_calendar(client.get(f"/events/{make_event().id}/calendar.ics"))
    assert "DTEND" not in vevent


def test_the_sequence_grows_when_the_event_changes_and_the_uid_stays(
    client, auth_headers, organiser, event
):
    before = read_calendar(client.get(f"/events/{event.id}/calendar.ics"))
    client.patch(
        f"/events/{event.id}", json={"location": "Hall B"}, headers=auth_headers(organiser)
    )
    after = read_calendar(client.get(f"/events/{event.id}/calendar.ics"))
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
    assert after["UID"] == before["UID"]
    assert str(after["LOCATION"]) == "Hall B"


def test_a_cancelled_event_is_cancelled(client, auth_headers, organiser, event):
    client.post(f"/events/{event.id}/cancel", headers=auth_headers(organiser))
    vevent = read_calendar(client.get(f"/events/{event.id}/calendar.ics"))
    assert str(vevent["STATUS"]) == "CANCELLED"


def test_a_draft_is_404_except_to_its_organiser(client, make_user, auth_headers, make_event):
    organiser = make_user()
    draft = make_event(organizer_id=organiser.id, status="draft")
    path = f"/events/{draft.id}/calendar.ics"
    assert client.get(path).status_code == 404
    assert client.get(path, headers=auth_headers(make_user())).status_code == 404
    assert client.get(path, headers=auth_headers(organiser)).status_code == 200
    assert client.get("/events/999999/calendar.ics").status_code == 404


def book(client, headers, event, hold=False):
    response = client.post("/bookings", json={"event_id": event.id, "hold": hold}, headers=headers)
    assert response.status_code == 201
    return response.get_json()


def booking_calendar(client, booking, headers):
    return read_calendar(client.get(f"/bookings/{booking['id']}/calendar.ics", headers=headers))


def test_a_booking_is_one_vevent_of_its_event(client, make_user, auth_headers, event):
    headers = auth_headers(make_user())
    booking = book(client, headers, event)
    vevent = booking_calendar(client, booking, headers)
    assert str(vevent["UID"]) == f"booking-{booking['id']}@eventbook"
    assert vevent.decoded("DTSTART") == START
    assert str(vevent["SUMMARY"]) == "Flask meetup"
    assert str(vevent["STATUS"]) == "CONFIRMED"


def test_a_hold_is_tentative(client, make_user, auth_headers, event):
    headers = auth_headers(make_user())
    booking = book(client, headers, event, hold=True)
    assert str(booking_calendar(client, booking, headers)["STATUS"]) == "TENTATIVE"


@pytest.mark.parametrize("how", ["cancelled", "expired", "event_cancelled"])
def test_a_booking_no_longer_live_is_cancelled(
    app, client, make_user, auth_headers, organiser, event, how
):
    headers = auth_headers(make_user())
    booking = book(client, headers, event, hold=how == "expired")
    if how == "cancelled":
        client.delete(f"/bookings/{booking['id']}", headers=headers)
    if how == "expired":  # past its expiry, not yet processed
        with app.app_context():
            db.session.get(Booking, booking["id"]).expires_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
    if how == "event_cancelled":
        client.post(f"/events/{event.id}/cancel", headers=auth_headers(organiser))
    vevent = booking_calendar(client, booking, headers)
    assert str(vevent["STATUS"]) == "CANCELLED"


def test_someone_elses_booking_calendar_is_404(client, make_user, auth_headers, event):
    booking = book(client, auth_headers(make_user()), event)
    response = client.get(
        f"/bookings/{booking['id']}/calendar.ics", headers=auth_headers(make_user())
    )
    assert response.status_code == 404
    assert response.get_json()["message"] == "Booking not found"
    assert client.get(f"/bookings/{booking['id']}/calendar.ics").status_code == 401


def test_text_that_needs_escaping_reads_back_unchanged(client, make_event):
    title = "Line one\nline two, with; commas and \\ backslashes: é 🎉 " + "x" * 100
    vevent = read_calendar(client.get(f"/events/{make_event(title=title).id}/calendar.ics"))
    assert str(vevent["SUMMARY"]) == title


@given(
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\n"), min_size=1, max_size=300
    )
)
def test_any_printable_text_reads_back_unchanged(text):
    event = Event(id=1, title=text, location=text, description=text, event_date=START, sequence=3)
    (vevent,) = icalendar.Calendar.from_ical(ics.event_calendar(event)).walk("VEVENT")
    assert [str(vevent[name]) for name in ("SUMMARY", "LOCATION", "DESCRIPTION")] == [text] * 3
    assert vevent.decoded("SEQUENCE") == 3
