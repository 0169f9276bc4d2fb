"""Conditional GETs: every read of events and bookings carries an ETag that
follows its answer, and If-None-Match (RFC 9110 section 13.1.2) gets 304.
"""

import time
from datetime import timedelta

import pytest
from flask import Flask, Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventbook.conditional import answer_conditionally, entity_tag
from eventbook.extensions import db
from eventbook.models import Booking, utcnow

PUBLIC = ("/events/{event}", "/events", "/events?limit=1&q=test", "/events/top-booked")
PRIVATE = ("/bookings/{booking}", "/bookings/my")


@pytest.fixture
def world(app, make_user, make_event, auth_headers):
    """An event, a second one, a user with a booking of the first, and their headers."""
    user = make_user()
    event = make_event(event_date=utcnow() + timedelta(days=1))
    other_event = make_event(event_date=utcnow() + timedelta(days=2))
    with app.app_context():
        booking = Booking(user_id=user.id, event_id=event.id, created_at=utcnow())
        db.session.add(booking)
        db.session.get(type(event), event.id).booked_count = 1
        db.session.commit()
        booking_id = booking.id
    return {
        "event": event.id,
        "other_event": other_event.id,
        "booking": booking_id,
        "headers": auth_headers(user),
        "other_headers": auth_headers(make_user()),
    }


def url_of(template, world):
    return template.format(**world)


def fetch(client, world, template, tag=None):
    headers = dict(world["headers"]) if template in PRIVATE else {}
    if tag is not None:
        headers["If-None-Match"] = tag
    return client.get(url_of(template, world), headers=headers)


@pytest.mark.parametrize("template", PUBLIC + PRIVATE)
def test_a_matching_tag_is_answered_304_without_a_body(client, world, template):
    full = fetch(client, world, template)
    assert full.status_code == 200
    tag = full.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert fetch(client, world, template).headers["ETag"] == tag  # nothing changed

    unchanged = fetch(client, world, template, tag)
    assert unchanged.status_code == 304
    assert unchanged.data == b""
    assert unchanged.headers["ETag"] == tag
    assert "Content-Type" not in unchanged.headers
    assert "X-Total-Count" not in unchanged.headers


@pytest.mark.parametrize("template", PUBLIC + PRIVATE)
def test_anothers_booking_changes_every_tag_and_the_old_one_gets_the_full_answer(
    client, world, template
):
    """Someone else books the event: its counts change wherever it is shown."""
    before = fetch(client, world, template).headers["ETag"]
    booked = client.post(
        "/bookings", json={"event_id": world["event"]}, headers=world["other_headers"]
    )
    assert booked.status_code == 201
    after = fetch(client, world, template, before)
    assert after.status_code == 200
    assert after.headers["ETag"] != before
    assert after.get_json() is not None


@pytest.mark.parametrize(
    "if_none_match",
    ["{tag}", "W/{tag}", '"other", {tag}', 'W/"other",W/{tag}', "*", ' "x" , {tag} '],
)
def test_if_none_match_compares_weakly_and_takes_lists_and_star(client, world, if_none_match):
    tag = fetch(client, world, "/events").headers["ETag"]
    response = fetch(client, world, "/events", if_none_match.format(tag=tag))
    assert response.status_code == 304
    assert response.headers["ETag"] == tag


@pytest.mark.parametrize("if_none_match", ['"other"', 'W/"other"', "", "garbage", '"a", "b"'])
def test_a_tag_that_does_not_match_gets_the_full_answer(client, world, if_none_match):
    response = fetch(client, world, "/events", if_none_match)
    assert response.status_code == 200
    assert response.get_json()


@pytest.mark.parametrize("template", PRIVATE)
def test_answers_for_a_caller_vary_by_token_and_are_private(client, world, template):
    full = fetch(client, world, template)
    unchanged = fetch(client, world, template, full.headers["ETag"])
    for response in (full, unchanged):
        assert "Authorization" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == "private"


def test_another_users_tag_opens_nothing(client, world):
    """A 304 is never an answer to someone who could not read the resource."""
    tag = fetch(client, world, "/bookings/{booking}").headers["ETag"]
    stranger = {**world["other_headers"], "If-None-Match": tag}
    response = client.get(f"/bookings/{world['booking']}", headers=stranger)
    assert response.status_code == 404
    anonymous = client.get(f"/bookings/{world['booking']}", headers={"If-None-Match": tag})
    assert anonymous.status_code == 401


def test_star_on_a_missing_event_is_still_404(client):
    assert client.get("/events/999", headers={"If-None-Match": "*"}).status_code == 404


def test_a_change_of_headers_alone_changes_the_tag(client, world, make_event):
    """The first event is the same, but there are more matches (X-Total-Count)."""
    first = fetch(client, world, "/events?limit=1&q=test")
    make_event(event_date=utcnow() + timedelta(days=30))
    second = fetch(client, world, "/events?limit=1&q=test", first.headers["ETag"])
    assert second.status_code == 200
    assert second.data == first.data
    assert second.headers["X-Total-Count"] != first.headers["X-Total-Count"]
    assert second.headers["ETag"] != first.headers["ETag"]


def test_the_passage_of_time_changes_the_tag(client, world, make_event):
    """An event starting leaves the upcoming list with nobody writing anything."""
    make_event(event_date=utcnow() + timedelta(seconds=1))
    before = fetch(client, world, "/events?upcoming=true")
    assert before.headers["X-Total-Count"] == "3"
    time.sleep(1.1)
    after = fetch(client, world, "/events?upcoming=true", before.headers["ETag"])
    assert after.status_code == 200
    assert after.headers["X-Total-Count"] == "2"


def test_errors_carry_no_tag(client):
    response = client.get("/events?limit=0", headers={"If-None-Match": "*"})
    assert response.status_code == 400
    assert "ETag" not in response.headers


# The tag itself, away from the database: what it covers.

tag_app = Flask(__name__)


def tag_of(body, **headers):
    with tag_app.test_request_context():
        return entity_tag(Response(body, headers=headers))


def test_the_tag_covers_the_body_and_every_header_of_the_answer():
    base = tag_of(b"[1]", **{"X-Total-Count": "1"})
    assert tag_of(b"[1]", **{"X-Total-Count": "1"}) == base
    assert tag_of(b"[2]", **{"X-Total-Count": "1"}) != base
    assert tag_of(b"[1]", **{"X-Total-Count": "2"}) != base
    assert tag_of(b"[1]", **{"X-Total-Count": "1", "Link": '</e?after=x>; rel="next"'}) != base
    assert tag_of(b"[1]", **{"X-Total-Count": "1", "X-Next-Cursor": "x"}) != base


# RFC 9110 etagc: visible ASCII but the double quote.
entity_tags = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'), max_size=12
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    others=st.lists(entity_tags, max_size=3),
    weak=st.lists(st.booleans(), min_size=4, max_size=4),
    include=st.booleans(),
    position=st.integers(0, 3),
)
def test_304_exactly_when_the_list_holds_the_tag(others, weak, include, position):
    response = Response(b'{"a": 1}', mimetype="application/json")
    tag = entity_tag_outside_request(response)
    tags = [f'"{other}"' for other in others if other != tag]
    if include:
        tags.insert(min(position, len(tags)), f'"{tag}"')
    tags = [("W/" if w else "") + t for w, t in zip(weak + [False] * len(tags), tags, strict=False)]
    header = ", ".join(tags)
    with tag_app.test_request_context(headers={"If-None-Match": header}):
        answered = answer_conditionally(response)
    assert answered.status_code == (304 if include else 200)
    assert answered.headers["ETag"] == f'"{tag}"'


def entity_tag_outside_request(response):
    with tag_app.test_request_context():
        return entity_tag(response)
