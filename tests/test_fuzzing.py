"""Property-based fuzzing of every operation against the generated OpenAPI document.

Schemathesis reads /openapi.json and, per operation and database, sends the
documented examples, its coverage cases (boundaries, missing and wrong-typed
values, unsupported methods) and MAX_EXAMPLES generated cases each of valid
and invalid data, derandomized so every run sends the same requests. Every
built-in check runs except the response-time one: no 5xx, every status and
header documented, bodies match their schemas, invalid input refused, valid
input not refused, missing tokens refused.
"""

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from eventbook import create_app
from eventbook.bookings.operations import book_event
from eventbook.extensions import db
from tests.conftest import TEST_SETTINGS

MAX_EXAMPLES = 25

CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            # Schema-valid input can still break a rule a JSON schema cannot
            # express (an event in the past, a second booking of an event, a
            # wrong current password); the API answers those with 400. An
            # If-None-Match that matches (`*` does) is answered 304.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "304", "400", "401", "403", "404", "409", "429"]
            },
        },
    }
)

# The document comes from an application of its own (creating one writes
# nothing); each test sends its requests to the `app` fixture's instance.
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json",
    create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"}),
    config=CONFIG,
)


@pytest.fixture
def callers(app, make_user, make_event):
    """Alternately the organiser of event 1 (who booked event 2) and a stranger to both.

    The organiser has the login example's credentials. Alternating makes the
    cases meet both the owner's answers and everyone else's (403, 404).
    """
    organiser, stranger = make_user(email="user1@test.com"), make_user()
    make_event(organizer_id=organiser.id)
    booked = make_event()
    with app.app_context():
        book_event(organiser.id, booked.id)
        db.session.commit()
    return itertools.cycle([organiser, stranger])


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    # The app and its database live for all the cases of an operation.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_conforms_to_the_document(case, app, callers, tokens_for):
    # A case that sends a bearer token gets a real one, from a login of its
    # own, so a logout or password change revokes nothing the next case uses.
    # Cases without the header check the missing-token answers.
    if "Authorization" in (case.headers or {}):
        case.headers["Authorization"] = f"Bearer {tokens_for(next(callers))['access_token']}"
    case.call_and_validate(app=app)
