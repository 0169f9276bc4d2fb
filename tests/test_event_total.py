"""The number of events, kept by triggers, equals the events however they change."""

import threading
from datetime import timedelta

import flask_migrate
import pytest
from sqlalchemy import delete, func, insert, select, text, update

from eventbook import create_app
from eventbook.extensions import db
from eventbook.models import Event, EventTotal, utcnow
from tests.conftest import BACKENDS, TEST_SETTINGS


def kept_and_actual(app):
    with app.app_context():
        return (
            db.session.scalar(select(EventTotal.events)),
            db.session.scalar(select(func.count()).select_from(Event)),
        )


def event_row(n=0):
    return {
        "title": f"Event {n}",
        "location": "Hall",
        "event_date": utcnow() + timedelta(days=1 + n),
        "total_slots": 10,
        "booked_count": 0,
        "created_at": utcnow(),
    }


def test_every_way_of_adding_and_removing_events_is_counted(
    app, client, make_user, auth_headers, make_event
):
    assert kept_and_actual(app) == (0, 0)
    headers = auth_headers(make_user())
    payload = {k: v for k, v in event_row().items() if k not in ("booked_count", "created_at")}
    payload["event_date"] = payload["event_date"].isoformat()
    event_id = client.post("/events", headers=headers, json=payload).get_json()["id"]
    make_event()
    with app.app_context():
        db.session.execute(insert(Event), [event_row(n) for n in range(50)])  # bulk
        db.session.commit()
    assert kept_and_actual(app) == (52, 52)
    assert client.get("/events?limit=1").headers["X-Total-Count"] == "52"

    assert client.delete(f"/events/{event_id}", headers=headers).status_code == 204
    with app.app_context():
        db.session.execute(delete(Event).where(Event.title.in_(["Event 1", "Event 2"])))
        db.session.commit()
    assert kept_and_actual(app) == (49, 49)
    assert client.get("/events").headers["X-Total-Count"] == "49"


def test_a_rolled_back_insert_is_not_counted(app, make_event):
    make_event()
    with app.app_context():
        db.session.execute(insert(Event), [event_row(n) for n in range(3)])
        db.session.rollback()
    assert kept_and_actual(app) == (1, 1)


def test_filtered_lists_count_their_matches(client, make_event):
    make_event(title="Jazz night")
    make_event(title="Rock night")
    make_event(title="Past jazz", event_date=utcnow() - timedelta(days=1))
    assert client.get("/events?q=jazz").headers["X-Total-Count"] == "2"
    assert client.get("/events?upcoming=true").headers["X-Total-Count"] == "2"
    assert client.get("/events").headers["X-Total-Count"] == "3"


def test_the_unfiltered_list_reads_the_kept_total_and_counts_nothing(app, client, make_event):
    make_event()
    with app.app_context():
        db.session.execute(update(EventTotal).values(events=7))
        db.session.commit()
    assert client.get("/events").headers["X-Total-Count"] == "7"
    assert client.get("/events?q=Event").headers["X-Total-Count"] == "1"


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_creations_and_a_truncation_are_counted(app):
    def create_events():
        with app.app_context():
            for n in range(20):
                db.session.execute(insert(Event), [event_row(n)])
                db.session.commit()

    threads = [threading.Thread(target=create_events) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kept_and_actual(app) == (160, 160)
    with app.app_context():
        db.session.execute(text("TRUNCATE events CASCADE"))
        db.session.commit()
    assert kept_and_actual(app) == (0, 0)


def test_integrity_check_reports_and_repairs_a_wrong_total(app, make_event):
    make_event()
    with app.app_context():
        db.session.execute(update(EventTotal).values(events=7))
        db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["integrity", "check"])
    assert result.exit_code == 1
    assert "number of events: counter mismatch: kept=7, events=1" in result.output
    assert runner.invoke(args=["integrity", "check", "--repair"]).exit_code == 0
    assert kept_and_actual(app) == (1, 1)
    assert runner.invoke(args=["integrity", "check"]).exit_code == 0


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("fresh_postgresql_database")


def test_the_migration_counts_the_events_already_there(empty_database_url):
    app = create_app({**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        flask_migrate.upgrade(revision="63512a81023c")
        db.session.execute(
            text(
                "INSERT INTO events (title, location, event_date, total_slots, booked_count, "
                "created_at) VALUES ('a', 'b', :date, 5, 0, :date), ('c', 'd', :date, 5, 0, :date)"
            ),
            {"date": utcnow() + timedelta(days=1)},
        )
        db.session.commit()
        flask_migrate.upgrade()
        assert kept_and_actual(app) == (2, 2)
        db.session.execute(insert(Event), [event_row()])
        db.session.commit()
        assert kept_and_actual(app) == (3, 3)
        db.session.remove()
        db.engine.dispose()
