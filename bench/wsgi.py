"""The production application for the benchmark, with one extra route.

`GET /bench/select1` runs `SELECT 1` through the application's `db.session`:
the cost of a request that reaches the database and does nothing there, the
yardstick the other endpoints are measured against. It exists only here,
never in the production URL map. The rate limiter is off so that the load
generator is not throttled.
"""

from sqlalchemy import text

from eventbook import create_app
from eventbook.extensions import db

app = create_app({"RATELIMIT_ENABLED": False})


@app.get("/bench/select1")
def select1():
    return {"select1": db.session.execute(text("SELECT 1")).scalar()}
