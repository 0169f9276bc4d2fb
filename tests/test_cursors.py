"""Keyset cursors for GET /events: `after`, `X-Next-Cursor` and `Link`."""

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventbook.cursors import decode_cursor, encode_cursor
from eventbook.extensions import db
from eventbook.models import Event, utcnow
from eventbook.schemas import MAX_ID

INVALID_CURSOR = {
    "error": True,
    "message": "Validation failed",
    "status_code": 400,
    "errors": {"after": ["Not a valid cursor: pass back the X-Next-Cursor of a previous page."]},
}


def next_link(response):
    """Return the URL of the Link header's rel="next", or None."""
    link = response.headers.get("Link")
    if link is None:
        return None
    url, relation = link.split(";", 1)
    assert relation.strip() == 'rel="next"'
    assert url.startswith("<") and url.endswith(">")
    return url[1:-1]


def follow(client, url):
    """Page through a list by its Link headers; return the ids in the order seen."""
    ids = []
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        ids += [event["id"] for event in response.get_json()]
        url = next_link(response)
        assert ("X-Next-Cursor" in response.headers) == (url is not None)
    return ids


@pytest.fixture
def events(make_event):
    """Seven events, three of them at the same moment (ties broken by id)."""
    now = utcnow()
    days = [5, 1, 3, 3, 3, 9, 2]
    made = [
        make_event(title=f"Show {n}", event_date=now + timedelta(days=d))
        for n, d in enumerate(days)
    ]
    return [event.id for event in sorted(made, key=lambda event: (event.event_date, event.id))]


@pytest.mark.parametrize("limit", [1, 2, 3, 6, 7, 100])
def test_cursors_walk_the_list_in_order_once(client, events, limit):
    assert follow(client, f"/events?limit={limit}") == events


def test_the_cursor_continues_where_skip_would(client, events):
    first = client.get("/events?limit=3")
    cursor = first.headers["X-Next-Cursor"]
    by_cursor = client.get(f"/events?limit=3&after={cursor}")
    by_skip = client.get("/events?limit=3&skip=3")
    assert by_cursor.get_json() == by_skip.get_json()
    assert by_cursor.headers["X-Total-Count"] == by_skip.headers["X-Total-Count"] == "7"
    assert next_link(first) == f"/events?limit=3&after={cursor}"


def test_the_last_page_has_no_next(client, events):
    response = client.get("/events?limit=7")
    assert len(response.get_json()) == 7
    assert "X-Next-Cursor" not in response.headers and "Link" not in response.headers
    after_last = encode_cursor((utcnow() + timedelta(days=99), 1))
    empty = client.get(f"/events?after={after_last}")
    assert empty.get_json() == [] and "Link" not in empty.headers
    assert empty.headers["X-Total-Count"] == "7"


def test_the_link_keeps_the_filters_and_drops_skip(client, events, make_event):
    make_event(title="Other", location="Elsewhere", event_date=utcnow() + timedelta(days=4))
    response = client.get("/events?q=show&upcoming=true&skip=1&limit=2")
    query = parse_qsl(urlsplit(next_link(response)).query)
    assert query == [
        ("q", "show"),
        ("upcoming", "true"),
        ("limit", "2"),
        ("after", response.headers["X-Next-Cursor"]),
    ]
    assert follow(client, "/events?q=show&upcoming=true&limit=2") == events


def test_filters_apply_to_cursor_pages(client, events, make_event):
    make_event(title="Past show", event_date=utcnow() - timedelta(days=1))
    make_event(title="Other", event_date=utcnow() + timedelta(days=4))
    assert follow(client, "/events?upcoming=true&q=SHOW&limit=2") == events


def test_after_with_skip_is_a_400(client, events):
    cursor = client.get("/events?limit=1").headers["X-Next-Cursor"]
    for skip in (0, 2):
        response = client.get(f"/events?skip={skip}&after={cursor}")
        assert response.status_code == 400
        assert response.get_json()["errors"] == {"after": ["Give either skip or after, not both."]}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "x",
        "AAbDk6edqAAAAAAq=",  # padded
        "AAbDk6edqAAAAAA",  # one character short
        "AAbDk6edqAAAAAAqA",  # one character long
        "AAbDk6edqAAAAA+q",  # base64, not base64url
        "AAbDk6edqAAAAAAA",  # id 0
        "AAbDk6edq_____w",  # negative id, short
        "AAbDk6edq_____w_",  # negative id
        "AAbDk6edqIAAAAAA",  # id past the largest
        "f_________AAAAAq",  # a moment past the year 9999
        "gAAAAAAAAAAAAAAq",  # a moment before the year 1
        " AAbDk6edqAAAAAAq",
        "AAbDk6edqAAAAAAq\n",
        "\uff21AbDk6edqAAAAAAq",  # a full-width A
    ],
)
def test_a_malformed_cursor_is_a_400_in_the_error_body(client, cursor):
    response = client.get("/events", query_string={"after": cursor})
    assert response.status_code == 400
    assert response.get_json() == INVALID_CURSOR


moments = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
).map(lambda moment: moment.replace(tzinfo=UTC))


@given(moment=moments, row_id=st.integers(1, MAX_ID))
def test_every_key_survives_its_cursor(moment, row_id):
    cursor = encode_cursor((moment, row_id))
    assert len(cursor) == 16
    assert decode_cursor(cursor) == (moment, row_id)


@given(
    cursor=st.text(max_size=24)
    | st.text(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=14, max_size=18
    )
)
def test_a_cursor_is_either_refused_or_has_one_spelling(cursor):
    try:
        key = decode_cursor(cursor)
    except ValueError:
        return
    assert encode_cursor(key) == cursor


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cursor=st.text(max_size=20))
def test_no_cursor_is_a_server_error(client, cursor):
    response = client.get("/events", query_string={"after": cursor})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.get_json() == INVALID_CURSOR


# Paging while events are added: the reason cursors exist.

PAGE = 5
MOST_INSERTS = 400


def page_through_while_inserting(app, client, paging):
    """Page through the list while another thread adds events before and among its rows.

    The inserter adds an event every few milliseconds, alternately before
    every existing event and among them. Before each page the pager waits
    until at least one more event has been added since its previous page, so
    that every page is read after a change. Returns the ids of the events
    that existed before paging started, in order, and the ids the pager saw.
    """
    now = utcnow()
    with app.app_context():
        first = [
            Event(
                title=f"Old {n}",
                location="Hall",
                event_date=now + timedelta(days=10 + n % 7, minutes=n),
                total_slots=5,
            )
            for n in range(40)
        ]
        db.session.add_all(first)
        db.session.commit()
        existing = [event.id for event in sorted(first, key=lambda e: (e.event_date, e.id))]

    added = threading.Condition()
    state = {"added": 0, "done": False}
    stop = threading.Event()

    def insert():
        with app.app_context():
            for n in range(1, MOST_INSERTS + 1):
                if stop.is_set():
                    break
                days = 1 if n % 2 else 10 + n % 7
                event_date = now + timedelta(days=days, seconds=n)
                db.session.add(
                    Event(title=f"New {n}", location="Hall", event_date=event_date, total_slots=5)
                )
                db.session.commit()
                with added:
                    state["added"] += 1
                    added.notify_all()
                stop.wait(0.003)
            db.session.remove()
        with added:
            state["done"] = True
            added.notify_all()

    inserter = threading.Thread(target=insert)
    inserter.start()
    seen = []
    try:
        skip, url = 0, f"/events?limit={PAGE}"
        while url is not None and len(seen) < 2000:
            with added:
                added.wait_for(
                    lambda target=state["added"] + 1: state["added"] >= target or state["done"],
                    timeout=30,
                )
            response = client.get(url)
            assert response.status_code == 200
            page = [event["id"] for event in response.get_json()]
            seen += page
            if paging == "cursor":
                url = next_link(response)
            else:
                skip += PAGE
                url = f"/events?limit={PAGE}&skip={skip}" if page else None
    finally:
        stop.set()
        inserter.join(timeout=30)
    return existing, seen


def test_cursor_pages_neither_skip_nor_repeat_while_events_are_added(app, client):
    existing, seen = page_through_while_inserting(app, client, "cursor")
    assert len(seen) == len(set(seen)), "an event was shown twice"
    assert [event_id for event_id in seen if event_id in set(existing)] == existing
    assert set(seen) - set(existing), "no event added meanwhile was seen: nothing raced"


def test_control_run_skip_pages_repeat_events_while_events_are_added(app, client):
    """The same harness catches what offset paging does: it is able to fail."""
    _, seen = page_through_while_inserting(app, client, "skip")
    assert len(seen) != len(set(seen)), "offset paging showed no event twice"
