"""The ticket drop: one event, many users racing for its slots, against PostgreSQL's own limit.

Every user holds a slot (`POST /bookings {"event_id", "hold": true}`); a
holder confirms it (`POST /bookings/{id}/confirm`); a user refused with 400
"Event is fully booked" joins the waitlist (`POST /events/{id}/waitlist`).
Each user's second request depends on the answer to the first (the booking
id, or the refusal), so the load comes from a small driver of threads, one
keep-alive connection each, rather than wrk: wrk's Lua hooks see responses
per thread, not per connection, and cannot carry a user's state from one
request to the next.

The baseline is `pgbench` running the same booking transaction (the
conditional UPDATE of the event's counters, the INSERT of the booking,
COMMIT) on a copy of the event, at the same concurrency: the hot-row limit
of the database itself.
"""

import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from urllib.parse import urlsplit

from bench.dataset import (
    POOL_FIRST_USER,
    POOL_USERS,
    connect,
    delete_events_titled,
    libpq_url,
)

ROOT = Path(__file__).resolve().parent.parent
DROP_TITLE = "Ticket drop (benchmark)"
BASELINE_TITLE = "Ticket drop baseline (pgbench)"
FULLY_BOOKED = "Event is fully booked"
KINDS = ("hold", "confirm", "waitlist")
# The only answers a ticket drop may give: (kind, status key) -> how many.
SUCCESS = {"hold": "201", "confirm": "200", "waitlist": "201"}
REFUSED = f"400 {FULLY_BOOKED}"
REQUEST_TIMEOUT_S = 60


@dataclass(frozen=True)
class Outcome:
    """One request of the drop: its kind, `status_key` and when it started and ended (s)."""

    kind: str
    status_key: str
    started: float
    finished: float


def status_key(status, body):
    """Return how an answer is counted: "201", or "400 <message>" for an error body.

    A transport failure (no answer) has status 0 and `body` the exception's name.
    """
    if status == 0:
        return f"error {body}"
    if 200 <= status < 300:
        return str(status)
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{status} {message}" if message else str(status)


def drop_user_ids(count):
    """Return the ids of the `count` users of the drop: pool users, who hold no bookings."""
    if count > POOL_USERS:
        raise ValueError(f"at most {POOL_USERS} users")
    return list(range(POOL_FIRST_USER, POOL_FIRST_USER + count))


def remove_events(url):
    """Delete the drop's events with their bookings, waitlist entries and changes."""
    return delete_events_titled(url, (DROP_TITLE, BASELINE_TITLE))


def create_events(url, slots, baseline_slots):
    """Create the drop's event and pgbench's copy of it; return their ids."""
    remove_events(url)
    ids = []
    with connect(url) as connection, connection.cursor() as cursor:
        for title, total in ((DROP_TITLE, slots), (BASELINE_TITLE, baseline_slots)):
            cursor.execute(
                """
                INSERT INTO events (title, description, location, event_date, total_slots,
                                    status, created_at)
                VALUES (%s, 'One hot event, every user at once.', 'Berlin, main hall',
                        now() + interval '400 days', %s, 'published', now())
                RETURNING id
                """,
                (title, total),
            )
            ids.append(cursor.fetchone()[0])
    return tuple(ids)


class Driver:
    """Plays every user's flow over `connections` threads, each with one keep-alive connection."""

    def __init__(self, url, event_id, tokens, connections):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.event_id = event_id
        self.tokens = tokens
        self.connections = connections
        self.outcomes = []
        self.lock = threading.Lock()
        self.next_user = 0

    def _take_user(self):
        with self.lock:
            if self.next_user >= len(self.tokens):
                return None
            self.next_user += 1
            return self.tokens[self.next_user - 1]

    def _send(self, holder, token, kind, path, body):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            if holder[0] is None:
                holder[0] = HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            holder[0].request("POST", path, json.dumps(body) if body else "", headers)
            response = holder[0].getresponse()
            status, text = response.status, response.read().decode()
        except (OSError, HTTPException) as exc:
            holder[0].close()
            holder[0] = None
            status, text = 0, type(exc).__name__
        outcome = Outcome(kind, status_key(status, text), started, time.perf_counter())
        with self.lock:
            self.outcomes.append(outcome)
        return outcome, text

    def _play(self, start):
        holder = [None]
        start.wait()
        while (token := self._take_user()) is not None:
            body = {"event_id": self.event_id, "hold": True}
            hold, text = self._send(holder, token, "hold", "/bookings", body)
            if hold.status_key == SUCCESS["hold"]:
                booking_id = json.loads(text)["id"]
                self._send(holder, token, "confirm", f"/bookings/{booking_id}/confirm", None)
            elif hold.status_key == REFUSED:
                self._send(holder, token, "waitlist", f"/events/{self.event_id}/waitlist", None)
        if holder[0] is not None:
            holder[0].close()

    def run(self):
        """Play every user once; return the outcomes, in the order they finished."""
        start = threading.Barrier(self.connections)
        threads = [
            threading.Thread(target=self._play, args=(start,), daemon=True)
            for _ in range(self.connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(self.outcomes, key=lambda outcome: outcome.finished)


def percentile(values, share):
    """Return the nearest-rank percentile (`share` in 0-100) of `values`, or None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


def expected_counts(slots, users):
    """Return the exact answers a drop of `slots` among `users` must give, by kind and status."""
    return {
        "hold": {SUCCESS["hold"]: slots, REFUSED: users - slots},
        "confirm": {SUCCESS["confirm"]: slots},
        "waitlist": {SUCCESS["waitlist"]: users - slots},
    }


def summarize(outcomes, slots, users):
    """Return the drop's figures from its outcomes.

    `sold_out_s` runs from the first request sent to the `slots`-th confirm
    answered 200 (None if fewer were); `bookings_per_s` is `slots` over it.
    `errors` counts the answers beyond `expected_counts` (and those missing).
    """
    first = min((outcome.started for outcome in outcomes), default=None)
    confirmed = [o.finished for o in outcomes if o.kind == "confirm" and o.status_key == "200"]
    sold_out = confirmed[slots - 1] - first if len(confirmed) >= slots else None
    kinds = {}
    for kind in KINDS:
        mine = [outcome for outcome in outcomes if outcome.kind == kind]
        latencies = [1000 * (outcome.finished - outcome.started) for outcome in mine]
        statuses = {}
        for outcome in mine:
            statuses[outcome.status_key] = statuses.get(outcome.status_key, 0) + 1
        kinds[kind] = {
            "requests": len(mine),
            "p50_ms": rounded(percentile(latencies, 50)),
            "p99_ms": rounded(percentile(latencies, 99)),
            "statuses": dict(sorted(statuses.items())),
        }
    expected = expected_counts(slots, users)
    errors = 0
    for kind in KINDS:
        got = kinds[kind]["statuses"]
        for key in set(got) | set(expected[kind]):
            errors += abs(got.get(key, 0) - expected[kind].get(key, 0))
    return {
        "slots": slots,
        "users": users,
        "requests": len(outcomes),
        "duration_s": rounded(max(o.finished for o in outcomes) - first) if outcomes else None,
        "sold_out_s": rounded(sold_out),
        "bookings_per_s": rounded(slots / sold_out) if sold_out else None,
        "kinds": kinds,
        "errors": errors,
    }


def rounded(value, digits=3):
    return None if value is None else round(value, digits)


def integrity_check(url, secret_key):
    """Run `flask integrity check` on the database; return whether it was clean, and its output."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret_key, "LOG_LEVEL": "WARNING"}
    flask = Path(sys.executable).parent / "flask"
    completed = subprocess.run(
        [str(flask), "integrity", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    output = (completed.stdout + completed.stderr).strip()
    return {"clean": completed.returncode == 0, "output": output[-2000:]}


def pgbench_path():
    """Return the pgbench executable: on PATH, else the newest in /usr/lib/postgresql."""
    found = shutil.which("pgbench") or sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    if isinstance(found, list):
        found = found[-1] if found else None
    if found is None:
        raise RuntimeError("pgbench not found (Debian: apt-get install postgresql-contrib)")
    return found


PGBENCH_SCRIPT = """\
-- The booking transaction of a hold, as eventbook's slots module sends it:
-- the conditional UPDATE of the event's counters, the INSERT of the
-- booking if a slot was taken, COMMIT. Client c's n-th transaction books
-- user :first_user + c + (n - 1) * :clients, so no two share a user.
\\set n :n + 1
BEGIN;
WITH taken AS (
    UPDATE events
    SET held_count = held_count + 1,
        next_hold_expiry = CASE
            WHEN next_hold_expiry IS NULL
                 OR next_hold_expiry > now() + :ttl * interval '1 second'
            THEN now() + :ttl * interval '1 second'
            ELSE next_hold_expiry END
    WHERE id = :event AND status = 'published' AND event_date > now()
      AND (booking_opens_at IS NULL OR booking_opens_at <= now())
      AND (booking_closes_at IS NULL OR booking_closes_at > now())
      AND booked_count + held_count + waiting_count < total_slots
      AND (next_hold_expiry IS NULL OR next_hold_expiry > now())
    RETURNING id
)
SELECT count(*) AS taken FROM taken \\gset
\\if :taken
INSERT INTO bookings (user_id, event_id, status, expires_at, created_at)
VALUES (:first_user + :client_id + (:n - 1) * :clients, :event, 'held',
        now() + :ttl * interval '1 second', now())
ON CONFLICT (user_id, event_id) WHERE status IN ('held', 'confirmed') DO NOTHING
RETURNING id;
\\endif
COMMIT;
"""

TPS_LINE = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.MULTILINE)
FAILED_LINE = re.compile(r"^number of failed transactions: (\d+)", re.MULTILINE)
PROCESSED_LINE = re.compile(r"^number of transactions actually processed: (\d+)", re.MULTILINE)


def parse_pgbench_output(stdout):
    """Return pgbench's transactions per second, processed and failed transactions."""
    tps, processed = TPS_LINE.search(stdout), PROCESSED_LINE.search(stdout)
    if not tps or not processed:
        raise ValueError("pgbench printed no result:\n" + stdout)
    failed = FAILED_LINE.search(stdout)
    return {
        "tps": float(tps.group(1)),
        "transactions": int(processed.group(1)),
        "failed": int(failed.group(1)) if failed else 0,
    }


def pgbench_latencies_ms(lines):
    """Return the latencies (ms) of pgbench's per-transaction log lines.

    Each line is `client transaction latency_us script epoch_s epoch_us`.
    """
    return [int(line.split()[2]) / 1000 for line in lines if line.strip()]


def baseline_slots(slots, clients):
    """Return the copy's slots: `slots` rounded up to a whole number of transactions per client."""
    return clients * math.ceil(slots / clients)


def run_pgbench(url, event_id, slots, clients, ttl_seconds, work_dir):
    """Book all `slots` of the copy event with pgbench at `clients` clients; return the figures."""
    per_client = slots // clients
    script = work_dir / "ticket_drop.sql"
    script.write_text(PGBENCH_SCRIPT)
    for old in work_dir.glob("pgbench_log*"):
        old.unlink()
    variables = {
        "n": 0,
        "event": event_id,
        "first_user": POOL_FIRST_USER,
        "clients": clients,
        "ttl": ttl_seconds,
    }
    command = [pgbench_path(), "--no-vacuum", f"--client={clients}", "--jobs=2"]
    command += [f"--transactions={per_client}", f"--file={script}", "--log"]
    command += [f"--log-prefix={work_dir / 'pgbench_log'}"]
    command += [f"--define={name}={value}" for name, value in variables.items()]
    command.append(libpq_url(url))
    completed = subprocess.run(command, capture_output=True, text=True, cwd=work_dir)
    if completed.returncode != 0:
        raise RuntimeError(f"pgbench failed ({completed.returncode}): {completed.stderr}")
    result = parse_pgbench_output(completed.stdout)
    lines = []
    for log in work_dir.glob("pgbench_log*"):
        lines.extend(log.read_text().splitlines())
    latencies = pgbench_latencies_ms(lines)
    with connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT held_count, (SELECT count(DISTINCT user_id) FROM bookings WHERE event_id = %s)"
            " FROM events WHERE id = %s",
            (event_id, event_id),
        )
        held, booked_users = cursor.fetchone()
    return {
        **result,
        "clients": clients,
        "held": held,
        "booked_users": booked_users,
        "p50_ms": rounded(percentile(latencies, 50)),
        "p99_ms": rounded(percentile(latencies, 99)),
        "version": subprocess.run(
            [pgbench_path(), "--version"], capture_output=True, text=True
        ).stdout.strip(),
    }


def run(url, database_url, secret_key, tokens, slots, connections, ttl_seconds, work_dir, progress):
    """Run the baseline and then the drop; return everything the report needs."""
    users = len(tokens)
    drop_event, copy_event = create_events(database_url, slots, baseline_slots(slots, connections))
    try:
        progress(f"pgbench: the booking transaction, {connections} clients, event {copy_event}")
        pgbench = run_pgbench(
            database_url,
            copy_event,
            baseline_slots(slots, connections),
            connections,
            ttl_seconds,
            work_dir,
        )
        progress(f"  pgbench {pgbench['tps']:.1f} bookings/s")
        progress(f"ticket drop: {users:,} users, {slots:,} slots, {connections} connections")
        outcomes = Driver(url, drop_event, tokens, connections).run()
        drop = summarize(outcomes, slots, users)
        progress("flask integrity check")
        drop["integrity"] = integrity_check(database_url, secret_key)
    finally:
        remove_events(database_url)
    drop["connections"] = connections
    drop["pgbench"] = pgbench
    drop["ratio_to_pgbench"] = (
        rounded(drop["bookings_per_s"] / pgbench["tps"])
        if drop["bookings_per_s"] and pgbench["tps"]
        else None
    )
    progress(
        f"  sold out in {drop['sold_out_s']} s, {drop['bookings_per_s']} bookings/s "
        f"({drop['ratio_to_pgbench']} x pgbench), {drop['errors']} errors, integrity "
        f"{'clean' if drop['integrity']['clean'] else 'NOT clean'}"
    )
    return drop
