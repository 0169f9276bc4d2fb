"""ETags across instances: a booking made through one gunicorn instance changes
the tags another instance gives, at once, with nothing shared but the database.
"""

from datetime import timedelta

import pytest

from eventbook import create_app
from eventbook.auth.tokens import issue_tokens
from eventbook.extensions import db
from eventbook.models import Event, User, utcnow
from tests.cluster import instances
from tests.conftest import TEST_SETTINGS
from tests.live import call

pytestmark = [pytest.mark.postgresql, pytest.mark.live, pytest.mark.cluster]


@pytest.fixture
def database(fresh_postgresql_database):
    """A fresh PostgreSQL database with an event and a logged-in user; yields its URL."""
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": fresh_postgresql_database})
    with app.app_context():
        db.create_all()
        event = Event(
            title="Polled", location="Hall", event_date=utcnow() + timedelta(days=3), total_slots=9
        )
        user = User(name="Poller", email="poller@example.com", password_hash="-")
        db.session.add_all([event, user])
        db.session.flush()
        token = issue_tokens(user)["access_token"]
        db.session.commit()
        setup = {"event": event.id, "headers": {"Authorization": f"Bearer {token}"}}
    yield fresh_postgresql_database, setup
    with app.app_context():
        db.engine.dispose()


def revalidate_after_booking_elsewhere(writer, reader, setup):
    """GET each answer from `reader`, book through `writer`, revalidate on `reader`.

    :returns: {path: (status of the revalidation, old tag, new tag)}.
    """
    paths = {
        f"/events/{setup['event']}": {},
        "/events": {},
        "/events/top-booked": {},
        "/bookings/my": setup["headers"],
    }
    tags = {}
    for path, headers in paths.items():
        status, _, response_headers = call("GET", reader.url + path, headers=headers)
        assert status == 200
        tags[path] = response_headers["ETag"]
        # The reader knows the tag: it is answered 304 before the booking.
        status, body, _ = call(
            "GET", reader.url + path, headers={**headers, "If-None-Match": tags[path]}
        )
        assert (status, body) == (304, None)
    status, _, _ = call(
        "POST", writer.url + "/bookings", {"event_id": setup["event"]}, setup["headers"]
    )
    assert status == 201
    outcome = {}
    for path, headers in paths.items():
        status, _, response_headers = call(
            "GET", reader.url + path, headers={**headers, "If-None-Match": tags[path]}
        )
        outcome[path] = (status, tags[path], response_headers["ETag"])
    return outcome


def test_a_booking_through_one_instance_changes_the_tags_of_another(database):
    url, setup = database
    with instances(url, count=2, workers=1, threads=2) as (writer, reader):
        outcome = revalidate_after_booking_elsewhere(writer, reader, setup)
        for path, (status, old, new) in outcome.items():
            assert status == 200, f"{path}: a stale 304 after a booking elsewhere"
            assert new != old, path
            # And the new tag is current on either instance.
            headers = setup["headers"] if path.startswith("/bookings") else {}
            for instance in (writer, reader):
                status, _, _ = call(
                    "GET", instance.url + path, headers={**headers, "If-None-Match": new}
                )
                assert status == 304, f"{path} on {instance.url}"


def test_control_run_tags_remembered_in_process_go_stale(database):
    """A per-process tag cache answers 304 for changed answers: the check catches it."""
    url, setup = database
    options = {"count": 2, "workers": 1, "threads": 2, "app": "tests.stale_etag_wsgi:app"}
    with instances(url, **options) as (writer, reader):
        outcome = revalidate_after_booking_elsewhere(writer, reader, setup)
    assert all(status == 304 for status, _, _ in outcome.values()), outcome
