"""`flask seed`: the demo data, exactly once, however many seeders run."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from eventbook.extensions import db
from eventbook.integrity import find_discrepancies
from eventbook.models import Booking, Event, User, utcnow
from tests.conftest import TEST_SETTINGS, build_schema
from tests.live import ROOT


def totals(app):
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        consistent = find_discrepancies() == []
        return count(User), count(Event), count(Booking), consistent


def test_seed_fills_an_empty_database_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert "Seeded demo data" in first.output
    second = runner.invoke(args=["seed"])
    assert "nothing seeded" in second.output
    assert totals(app) == (6, 11, 13, True)


def test_seeded_data_matches_the_original(app, client):
    app.test_cli_runner().invoke(args=["seed"])
    top = client.get("/events/top-booked").get_json()
    tech = top[0]["title"]
    assert tech == f"Tech Conference {tech[-4:]}" and tech[-4:] == top[0]["event_date"][:4]
    assert [(e["title"], e["booking_count"]) for e in top[1:]] == [
        ("Rock Concert: Electric Nights", 2),
        ("Startup Pitch Competition", 2),
    ]
    events = client.get("/events?limit=100").get_json()
    counts = {e["title"]: e["booking_count"] for e in events if e["organizer_id"] is None}
    assert counts == {
        tech: 3,
        "Rock Concert: Electric Nights": 2,
        "Startup Pitch Competition": 2,
        "Food & Wine Festival": 1,
        "Art Gallery Opening": 0,
        "Marathon Training Workshop": 1,
        "Jazz Evening with Live Orchestra": 0,
        "Digital Marketing Masterclass": 0,
    }
    # The demo organiser's published class; its draft and cancelled event are not listed.
    assert len(events) == 9
    assert all(
        e["event_date"] > utcnow().isoformat() and e["image_url"].startswith("https://")
        for e in events
    )
    login = client.post("/auth/login", json={"email": "user1@test.com", "password": "password123"})
    assert login.status_code == 200


def test_seed_leaves_a_database_with_data_alone(app, make_user):
    make_user()
    result = app.test_cli_runner().invoke(args=["seed"])
    assert "nothing seeded" in result.output
    assert totals(app)[:3] == (1, 0, 0)


@pytest.mark.postgresql
def test_four_concurrent_seeders_seed_once(fresh_postgresql_database):
    app = build_schema(fresh_postgresql_database)
    env = {
        **os.environ,
        "DATABASE_URL": fresh_postgresql_database,
        "SECRET_KEY": TEST_SETTINGS["SECRET_KEY"],
        "BCRYPT_ROUNDS": "4",
    }
    seeders = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "seed"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [seeder.communicate(timeout=60)[0] for seeder in seeders]
    assert [seeder.returncode for seeder in seeders] == [0, 0, 0, 0], outputs
    assert sum("Seeded demo data" in output for output in outputs) == 1, outputs
    assert totals(app) == (6, 11, 13, True)
    with app.app_context():
        db.engine.dispose()
