"""Peak memory of a gunicorn worker streaming an event's attendee list as CSV.

    python -m bench.export_memory postgresql://postgres@127.0.0.1:5432/postgres 1000 100000

For each number of attendees: a throwaway PostgreSQL database (on the
server named by the admin URL) gets one event with that many confirmed
bookings; one gunicorn worker serves it; the organiser downloads
GET /events/{id}/attendees with `Accept: text/csv`. The worker's resident
memory is read from /proc before the download (after a warm-up request) and
its peak (VmHWM) after it. With the export streamed from a server-side
cursor, the peak does not grow with the number of attendees.
"""

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import bcrypt
import psycopg2

from tests.live import call, flask, gunicorn
from tests.services import _libpq_dsn, throwaway_database

PASSWORD = "organiser-password"


def load(database_url, attendees):
    """Load an organiser (user 1), `attendees` users and one event they all booked."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    with psycopg2.connect(_libpq_dsn(database_url)) as connection, connection.cursor() as cur:
        cur.execute(
            "INSERT INTO users (name, email, password_hash, created_at)"
            " VALUES ('Organiser', 'organiser@example.com', %s, now())",
            (password_hash,),
        )
        cur.execute(
            "INSERT INTO users (name, email, password_hash, created_at)"
            " SELECT 'Attendee ' || g, 'attendee' || g || '@example.com', 'x', now()"
            " FROM generate_series(1, %s) AS g",
            (attendees,),
        )
        cur.execute(
            "INSERT INTO events (title, location, event_date, total_slots, booked_count,"
            " organizer_id, created_at)"
            " VALUES ('Export', 'Hall', now() + interval '30 days', %s, %s, 1, now())"
            " RETURNING id",
            (attendees, attendees),
        )
        event_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO bookings (user_id, event_id, status, created_at, confirmed_at)"
            " SELECT id, %s, 'confirmed', now() - id * interval '1 second',"
            " now() - id * interval '1 second' FROM users WHERE id > 1",
            (event_id,),
        )
        cur.execute("ANALYZE")
    return event_id


def worker_pid(master_pid):
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(children[0])


def memory_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def download(url, headers):
    """Read the response in pieces, as a client on a slow line would; return (bytes, lines)."""
    request = urllib.request.Request(url, headers=headers)
    size = lines = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        while chunk := response.read(64 * 1024):
            size += len(chunk)
            lines += chunk.count(b"\n")
    return size, lines


def measure(admin_url, attendees):
    with throwaway_database(admin_url) as database_url:
        flask(database_url, "db", "upgrade")
        event_id = load(database_url, attendees)
        pid_file = Path(tempfile.mkdtemp()) / "gunicorn.pid"
        with gunicorn(
            database_url,
            workers=1,
            RATELIMIT_STORAGE_URI="memory://",
            GUNICORN_CMD_ARGS=f"--pid {pid_file}",
        ) as url:
            status, tokens, _ = call(
                "POST",
                f"{url}/auth/login",
                {"email": "organiser@example.com", "password": PASSWORD},
            )
            assert status == 200, tokens
            headers = {
                "Authorization": f"Bearer {tokens['access_token']}",
                "Accept": "text/csv",
            }
            # Warm up: the code paths of the export, on a page of the JSON list.
            call(
                "GET",
                f"{url}/events/{event_id}/attendees?limit=100",
                headers=headers | {"Accept": "application/json"},
            )
            pid = worker_pid(int(pid_file.read_text()))
            before = memory_kib(pid, "VmRSS")
            started = time.monotonic()
            size, lines = download(f"{url}/events/{event_id}/attendees", headers)
            elapsed = time.monotonic() - started
            peak = memory_kib(pid, "VmHWM")
    return {
        "attendees": attendees,
        "csv_lines": lines,
        "csv_mib": round(size / 2**20, 1),
        "seconds": round(elapsed, 1),
        "rss_before_mib": round(before / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("admin_url", help="a PostgreSQL server's admin URL")
    parser.add_argument("attendees", nargs="+", type=int)
    args = parser.parse_args(argv)
    for attendees in args.attendees:
        print(measure(args.admin_url, attendees), flush=True)


if __name__ == "__main__":
    sys.exit(main())
