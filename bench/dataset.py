"""The benchmark's PostgreSQL database: schema from the migrations, data loaded in SQL.

Users and events are loaded once and reused; the bookings table is reloaded
whenever another scale is asked for. A small `bench_meta` table (bench
database only) records what is loaded.

User ids are fixed: user 1 is the bench user (exactly 50 bookings); users
from `POOL_FIRST_USER` on never have bookings in the loaded data, so that the
POST /bookings benchmarks (a booking, a hold) can book the pool events with
them, and `reset_pool_bookings` takes back whatever they booked there.
"""

import time
from collections import Counter
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import bcrypt
import psycopg2

USERS = 100_000
EVENTS = 10_000
POOL_USERS = 20_000
POOL_FIRST_USER = USERS - POOL_USERS + 1
BENCH_USER_ID = 1
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password-123"
BENCH_USER_BOOKINGS = 50
BCRYPT_ROUNDS = 12
# Events the POST /bookings benchmarks book and hold: the long tail of the power
# law (few bookings), always in the future, with room for the benchmark's bookings.
POOL_FIRST_EVENT = 9_001
POST_HEADROOM = 2_000
# Bump when the generated users or events change, so that they are reloaded.
BASE_VERSION = "1"
PROTECTED_DATABASES = {"postgres", "test", "template0", "template1"}

EVENT_WORDS = (
    "Tech Conference",
    "Rock Concert",
    "Startup Pitch",
    "Food & Wine",
    "City Marathon",
    "Jazz Night",
    "Flask Meetup",
    "Art Fair",
    "Film Festival",
    "Chess Open",
)
CITIES = ("Berlin", "Lisbon", "Paris", "Oslo", "Vienna", "Prague", "Madrid", "Dublin")


class Progress:
    """Print each step with the seconds elapsed since the start."""

    def __init__(self, prefix="dataset"):
        self.prefix = prefix
        self.started = time.perf_counter()

    def __call__(self, message):
        elapsed = time.perf_counter() - self.started
        print(f"[{self.prefix} {elapsed:7.1f}s] {message}", flush=True)


def libpq_url(url):
    """Return `url` in the form libpq understands (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+')[0]}://{rest}"


def database_name(url):
    return urlsplit(url).path.lstrip("/")


def check_bench_database(url):
    """Refuse a database that is not clearly a benchmark one."""
    name = database_name(url)
    if not name or name in PROTECTED_DATABASES:
        raise SystemExit(
            f"refusing to use database {name!r} for the benchmark; give a dedicated one"
        )


@contextmanager
def connect(url, autocommit=False):
    connection = psycopg2.connect(libpq_url(url), application_name="eventbook-bench")
    connection.autocommit = autocommit
    try:
        yield connection
        if not autocommit:
            connection.commit()
    except BaseException:
        if not autocommit:
            connection.rollback()
        raise
    finally:
        connection.close()


def ensure_database(url, progress):
    """Create the benchmark database on its server if it does not exist."""
    check_bench_database(url)
    name = database_name(url)
    maintenance = urlunsplit(urlsplit(libpq_url(url))._replace(path="/postgres"))
    with connect(maintenance, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cursor.fetchone() is None:
            progress(f"creating database {name}")
            cursor.execute(f'CREATE DATABASE "{name}"')


def migrate(app, progress):
    """Bring the schema up to date with the project's migrations."""
    from flask_migrate import upgrade

    progress("applying the migrations (flask db upgrade)")
    with app.app_context():
        upgrade()
    with connect(app.config["SQLALCHEMY_DATABASE_URI"]) as connection:
        connection.cursor().execute(
            "CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)"
        )


def _meta(cursor, key):
    cursor.execute("SELECT value FROM bench_meta WHERE key = %s", (key,))
    row = cursor.fetchone()
    return row[0] if row else None


def _set_meta(cursor, key, value):
    cursor.execute(
        "INSERT INTO bench_meta (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, str(value)),
    )


def _base_is_loaded(cursor):
    if _meta(cursor, "base") != BASE_VERSION:
        return False
    # The POST benchmark needs its events in the future; reload once they are not.
    cursor.execute(
        "SELECT count(*) = %s, min(event_date) > now() + interval '30 days' "
        "FROM events WHERE id >= %s",
        (EVENTS - POOL_FIRST_EVENT + 1, POOL_FIRST_EVENT),
    )
    complete, future = cursor.fetchone()
    return bool(complete and future)


def _expected_bookings_sql():
    # Bookings pick the event index k = floor(EVENTS * random()^3), so event k
    # expects N * ((k+1)^(1/3) - k^(1/3)) / EVENTS^(1/3) of N bookings.
    return "1000000 * (power(i, 1.0 / 3) - power(i - 1, 1.0 / 3)) / power(%(events)s, 1.0 / 3)"


def load_base(cursor, progress):
    """Load the users and events (and drop any bookings)."""
    progress(f"hashing the bench password once (bcrypt, cost {BCRYPT_ROUNDS})")
    password_hash = bcrypt.hashpw(BENCH_PASSWORD.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()
    progress("emptying the tables")
    cursor.execute(
        "TRUNCATE waitlist_entries, bookings, idempotency_keys, token_families, events, users, "
        "changes, bench_meta RESTART IDENTITY CASCADE"
    )
    cursor.execute("SELECT setseed(0.42)")
    progress(f"inserting {USERS:,} users")
    cursor.execute(
        """
        INSERT INTO users (id, name, email, password_hash, created_at)
        SELECT i,
               CASE WHEN i = %(bench)s THEN 'Bench User' ELSE 'User ' || i END,
               CASE WHEN i = %(bench)s THEN %(email)s ELSE 'user' || i || '@bench.example.com' END,
               %(hash)s,
               now() - interval '3 years' + i * interval '15 minutes'
        FROM generate_series(1, %(users)s) AS i
        """,
        {"bench": BENCH_USER_ID, "email": BENCH_EMAIL, "hash": password_hash, "users": USERS},
    )
    progress(f"inserting {EVENTS:,} events")
    # Event i is the (i-1)th of the power law: low ids get the most bookings.
    # One in ten events outside the POST pool has taken place; the rest are
    # spread over the next two years. total_slots leaves room for 1.5 times the
    # expected bookings at 1M, plus the POST benchmark's.
    cursor.execute(
        f"""
        INSERT INTO events (id, title, description, location, event_date, total_slots,
                            booked_count, image_url, organizer_id, created_at)
        SELECT i,
               (%(words)s::text[])[1 + i %% 10] || ' #' || i,
               repeat('An event generated for the benchmark. ', 1 + i %% 6),
               (%(cities)s::text[])[1 + i %% 8] || ', hall ' || (1 + i %% 20),
               CASE WHEN i < %(pool_event)s AND i %% 10 = 3
                    THEN now() - random() * interval '365 days'
                    WHEN i >= %(pool_event)s
                    THEN now() + interval '365 days' + random() * interval '365 days'
                    ELSE now() + interval '1 day' + random() * interval '730 days'
               END,
               LEAST(1000000, GREATEST(50 + floor(random() * 4950)::int,
                     ceil(1.5 * {_expected_bookings_sql()})::int + %(headroom)s)),
               0,
               'https://picsum.photos/seed/bench' || i || '/800/600',
               CASE WHEN i %% 4 = 0 THEN 1 + (i * 7919) %% %(users)s END,
               now() - interval '2 years' + random() * interval '700 days'
        FROM generate_series(1, %(events)s) AS i
        """,
        {
            "words": list(EVENT_WORDS),
            "cities": list(CITIES),
            "pool_event": POOL_FIRST_EVENT,
            "events": EVENTS,
            "users": USERS,
            "headroom": POST_HEADROOM,
        },
    )
    for table in ("users", "events"):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
    _set_meta(cursor, "base", BASE_VERSION)


def load_bookings(cursor, bookings, progress):
    """Replace every booking by `bookings` ones and recompute the counters."""
    progress("emptying bookings")
    cursor.execute("TRUNCATE waitlist_entries, bookings, idempotency_keys RESTART IDENTITY")
    _set_meta(cursor, "bookings", "loading")
    cursor.execute("SELECT setseed(0.17)")
    others = bookings - BENCH_USER_BOOKINGS
    progress(f"inserting {others:,} bookings (power law over events)")
    # Candidates are drawn with some surplus; duplicates of (user, event) are
    # dropped and the rest topped up, so the count is exact.
    inserted = 0
    while inserted < others:
        wanted = others - inserted
        cursor.execute(
            """
            INSERT INTO bookings (user_id, event_id, created_at)
            SELECT user_id, event_id, created_at FROM (
                SELECT DISTINCT ON (user_id, event_id) user_id, event_id, created_at
                FROM (
                    SELECT 2 + floor(random() * (%(pool_user)s - 2))::int AS user_id,
                           1 + floor(%(events)s * power(random(), 3))::int AS event_id,
                           now() - random() * interval '700 days' AS created_at
                    FROM generate_series(1, %(draws)s)
                ) AS draws
                WHERE NOT EXISTS (
                    SELECT 1 FROM bookings AS b
                    WHERE b.user_id = draws.user_id AND b.event_id = draws.event_id
                )
            ) AS candidates
            LIMIT %(wanted)s
            """,
            {
                "pool_user": POOL_FIRST_USER,
                "events": EVENTS,
                "draws": int(wanted * 1.1) + 100,
                "wanted": wanted,
            },
        )
        inserted += cursor.rowcount
        progress(f"  {inserted:,} of {others:,} inserted")
    progress(f"inserting the bench user's {BENCH_USER_BOOKINGS} bookings")
    cursor.execute(
        """
        INSERT INTO bookings (user_id, event_id, created_at)
        SELECT %(user)s, 1 + (k * 197) %% %(pool_event)s, now() - k * interval '5 days'
        FROM generate_series(1, %(count)s) AS k
        """,
        {"user": BENCH_USER_ID, "pool_event": POOL_FIRST_EVENT - 1, "count": BENCH_USER_BOOKINGS},
    )
    progress("recomputing the booking counters")
    recompute_counters(cursor)
    _set_meta(cursor, "bookings", bookings)


def recompute_counters(cursor):
    cursor.execute(
        """
        UPDATE events SET booked_count = counted.n
        FROM (
            SELECT e.id, count(b.id) AS n
            FROM events AS e LEFT JOIN bookings AS b ON b.event_id = e.id
            GROUP BY e.id
        ) AS counted
        WHERE events.id = counted.id AND events.booked_count <> counted.n
        """
    )


def recount_events(cursor, event_ids):
    """Set the events' `booked_count`, `held_count` and `next_hold_expiry` from their bookings.

    `next_hold_expiry` becomes the earliest expiry of their held bookings
    (None without any), as the application keeps it. Return how many changed.
    """
    cursor.execute(
        """
        UPDATE events
        SET booked_count = counted.confirmed, held_count = counted.held,
            next_hold_expiry = counted.next_expiry
        FROM (
            SELECT e.id,
                   count(b.id) FILTER (WHERE b.status = 'confirmed') AS confirmed,
                   count(b.id) FILTER (WHERE b.status = 'held') AS held,
                   min(b.expires_at) FILTER (WHERE b.status = 'held') AS next_expiry
            FROM events AS e LEFT JOIN bookings AS b ON b.event_id = e.id
            WHERE e.id = ANY(%s)
            GROUP BY e.id
        ) AS counted
        WHERE events.id = counted.id
          AND (events.booked_count, events.held_count, events.next_hold_expiry)
              IS DISTINCT FROM (counted.confirmed, counted.held, counted.next_expiry)
        """,
        (list(event_ids),),
    )
    return cursor.rowcount


def lock_events(cursor, event_ids):
    """Lock the events' rows in order of id until the transaction ends.

    Every booking request locks its event before it touches a booking, so a
    reset that locks the events first waits for a request still running
    from the previous run instead of deadlocking with it.
    """
    cursor.execute(
        "SELECT id FROM events WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (list(event_ids),)
    )
    return [row[0] for row in cursor.fetchall()]


def reset_pool_bookings(url):
    """Delete the pool users' bookings of the pool events (the POST rows') and recount them.

    Held bookings count as held and confirmed ones as booked, so whatever
    the rows left behind, the counters equal the bookings afterwards.
    Return the number of bookings deleted.
    """
    pool_events = range(POOL_FIRST_EVENT, EVENTS + 1)
    with connect(url) as connection, connection.cursor() as cursor:
        lock_events(cursor, pool_events)
        cursor.execute(
            "DELETE FROM bookings WHERE user_id >= %s AND event_id BETWEEN %s AND %s",
            (POOL_FIRST_USER, POOL_FIRST_EVENT, EVENTS),
        )
        deleted = cursor.rowcount
        if deleted:
            recount_events(cursor, pool_events)
    if deleted:
        vacuum(url, ("events", "bookings"))
    return deleted


def check_room(url, pairs):
    """Raise `RuntimeError` unless each event of `pairs` (user id, event id) has a slot per pair."""
    wanted = Counter(event_id for _, event_id in pairs)
    with connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, total_slots - booked_count - held_count - waiting_count FROM events "
            "WHERE id = ANY(%s)",
            (list(wanted),),
        )
        free = dict(cursor.fetchall())
    short = sorted(event_id for event_id, count in wanted.items() if free.get(event_id, 0) < count)
    if short:
        raise RuntimeError(
            f"{len(short)} events lack room for the prepared bookings, e.g. event {short[0]}: "
            f"{free.get(short[0], 0)} free slots for {wanted[short[0]]} bookings"
        )


def vacuum(url, tables):
    with connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


def delete_events_titled(url, titles):
    """Delete the events of these titles with their bookings, waitlist entries and
    changes (the benchmark's own events); return how many events went."""
    with connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM events WHERE title = ANY(%s)", (list(titles),))
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return 0
        for table in ("changes", "waitlist_entries", "bookings", "events"):
            column = "id" if table == "events" else "event_id"
            cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", (ids,))
    vacuum(url, ("events", "bookings", "waitlist_entries"))
    return len(ids)


def prepare(app, bookings, progress=None):
    """Make the benchmark database hold the base data and exactly `bookings` bookings.

    Return the seconds spent loading, by step (empty when nothing was loaded).
    """
    progress = progress or Progress()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    timings = {}
    with connect(url) as connection, connection.cursor() as cursor:
        if not _base_is_loaded(cursor):
            started = time.perf_counter()
            load_base(cursor, progress)
            connection.commit()
            timings["users_and_events_s"] = round(time.perf_counter() - started, 1)
        loaded = _meta(cursor, "bookings")
    if loaded != str(bookings):
        started = time.perf_counter()
        with connect(url) as connection, connection.cursor() as cursor:
            load_bookings(cursor, bookings, progress)
        progress("VACUUM ANALYZE")
        vacuum(url, ("users", "events", "bookings"))
        timings["bookings_s"] = round(time.perf_counter() - started, 1)
        progress(f"{bookings:,} bookings loaded in {timings['bookings_s']} s")
    else:
        progress(f"{bookings:,} bookings already loaded")
        reset_pool_bookings(url)
    check(url)
    return timings


def check(url):
    """Raise `RuntimeError` if the loaded data breaks what the benchmark relies on."""
    with connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM bookings WHERE user_id = %(bench)s),
              (SELECT count(*) FROM bookings WHERE user_id >= %(pool)s),
              (SELECT count(*) FROM events AS e
               WHERE booked_count <> (SELECT count(*) FROM bookings WHERE event_id = e.id))
            """,
            {"bench": BENCH_USER_ID, "pool": POOL_FIRST_USER},
        )
        mine, pool, wrong = cursor.fetchone()
    if (mine, pool, wrong) != (BENCH_USER_BOOKINGS, 0, 0):
        raise RuntimeError(
            f"benchmark data inconsistent: bench user has {mine} bookings, pool users {pool}, "
            f"{wrong} events with a wrong counter"
        )


def sizes(url):
    """Return the row counts and on-disk sizes of the benchmark tables."""
    with connect(url) as connection, connection.cursor() as cursor:
        result = {}
        for table in ("users", "events", "bookings"):
            cursor.execute(
                f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}"
            )
            rows, size = cursor.fetchone()
            result[table] = {"rows": rows, "size": size}
        return result
