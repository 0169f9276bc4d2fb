"""The load: wrk against each endpoint, in turn, repeated."""

import json
import os
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import dataset, lifecycle
from bench.conditional import after_row, chain, first_booking, revalidating, revalidating_each
from bench.tokens import BOOKINGS, HOLDS

WRK_DIR = Path(__file__).resolve().parent / "wrk"
WRK_THREADS = 2
# bcrypt makes a login take a large fraction of a second on purpose; at 32
# connections the queue is seconds long, which is not a failure.
WRK_TIMEOUT = "10s"
RESULT_PREFIX = "BENCH_RESULT "


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    script: str = "get.lua"
    env: dict = field(default_factory=dict)
    # The one status that counts as an answer (the script counts the others).
    expect: int | None = None
    # Called with the endpoint and the server's URL before every run; returns
    # the endpoint to run (a current ETag, a cursor, an id found on the server).
    prepare: Callable | None = None
    # Called with the database URL before every run: puts back what the
    # previous run's requests used up (bookings taken back, holds held again),
    # so that every request of the run is fresh.
    reset: Callable | None = None

    @property
    def counts_failures(self):
        """True when the script itself counts the failures (`unexpected`)."""
        return self.expect is not None


# Events whose 304 is measured, each with its own ETag.
REVALIDATED_EVENTS = 1_000
DEEP_SKIP = 9_980
NOT_MODIFIED = {"expect": 304, "prepare": revalidating}


def prepared_post(key, label, requests, path, expect, reset, body=None):
    """An endpoint POSTing requests prepared beforehand, each once (post_prepared.lua).

    :param requests: the file of prepared requests (an id and a token a line).
    :param path: the URL path; `{id}` takes each request's id, as in `body`.
    """
    env = {"BENCH_REQUESTS": requests, "BENCH_PATH": path}
    if body is not None:
        env["BENCH_BODY"] = body
    prefix = "/" + path.split("/")[1]
    return Endpoint(key, label, prefix, "post_prepared.lua", env=env, expect=expect, reset=reset)


def endpoints(work_dir, token):
    """Return every endpoint the benchmark measures, in the order they are run.

    `… (304)` sends the answer's current ETag in If-None-Match: the cost of a
    client revalidating what it holds. The POST rows send prepared requests,
    each once (bench/wrk/post_prepared.lua); `bench.lifecycle` prepares the
    confirms, the waitlist joins and the attendee list.
    """
    login = {"email": dataset.BENCH_EMAIL, "password": dataset.BENCH_PASSWORD}
    mine = {"BENCH_TOKEN": token}
    return [
        Endpoint("health", "GET /health", "/health"),
        Endpoint("select1", "GET /bench/select1", "/bench/select1"),
        Endpoint("events_list", "GET /events?limit=20", "/events?limit=20"),
        Endpoint(
            "events_list_304", "GET /events?limit=20 (304)", "/events?limit=20", **NOT_MODIFIED
        ),
        Endpoint(
            "events_deep",
            f"GET /events?skip={DEEP_SKIP}&limit=20",
            f"/events?skip={DEEP_SKIP}&limit=20",
        ),
        Endpoint(
            "events_cursor",
            f"GET /events?limit=20&after= (event {DEEP_SKIP})",
            "/events?limit=20&after=",
            prepare=after_row(DEEP_SKIP),
        ),
        Endpoint(
            "event_by_id", "GET /events/{id}", "/events/1", env={"BENCH_PATHS": work_dir / "paths"}
        ),
        Endpoint(
            "event_by_id_304",
            "GET /events/{id} (304)",
            "/events/1",
            expect=304,
            prepare=revalidating_each(work_dir / "paths", work_dir / "tagged", REVALIDATED_EVENTS),
        ),
        Endpoint("top_booked", "GET /events/top-booked", "/events/top-booked"),
        Endpoint(
            "top_booked_304", "GET /events/top-booked (304)", "/events/top-booked", **NOT_MODIFIED
        ),
        Endpoint("my_bookings", "GET /bookings/my", "/bookings/my", env=mine),
        Endpoint(
            "my_bookings_304", "GET /bookings/my (304)", "/bookings/my", env=mine, **NOT_MODIFIED
        ),
        Endpoint(
            "booking_by_id",
            "GET /bookings/{id}",
            "/bookings/{id}",
            env=mine,
            prepare=first_booking,
        ),
        Endpoint(
            "booking_by_id_304",
            "GET /bookings/{id} (304)",
            "/bookings/{id}",
            env=mine,
            expect=304,
            prepare=chain(first_booking, revalidating),
        ),
        prepared_post(
            "book",
            "POST /bookings",
            work_dir / BOOKINGS,
            "/bookings",
            body='{"event_id": {id}}',
            expect=201,
            reset=dataset.reset_pool_bookings,
        ),
        prepared_post(
            "hold",
            'POST /bookings {"hold": true}',
            work_dir / HOLDS,
            "/bookings",
            body='{"event_id": {id}, "hold": true}',
            expect=201,
            reset=dataset.reset_pool_bookings,
        ),
        prepared_post(
            "confirm",
            "POST /bookings/{id}/confirm",
            work_dir / lifecycle.CONFIRMS,
            "/bookings/{id}/confirm",
            expect=200,
            reset=lifecycle.hold_again,
        ),
        prepared_post(
            "waitlist_join",
            "POST /events/{id}/waitlist",
            work_dir / lifecycle.WAITLIST,
            "/events/{id}/waitlist",
            expect=201,
            reset=lifecycle.empty_waitlists,
        ),
        Endpoint(
            "attendees_csv",
            "GET /events/{id}/attendees (CSV)",
            "/events/1/attendees",
            env={
                "BENCH_PATHS": work_dir / lifecycle.ATTENDEE_PATHS,
                "BENCH_ACCEPT": "text/csv",
                **mine,
            },
            expect=200,
        ),
        Endpoint(
            "login",
            "POST /auth/login",
            "/auth/login",
            "post_json.lua",
            {"BENCH_BODY": json.dumps(login)},
        ),
    ]


SCALING_ENDPOINTS = ("select1", "events_list", "events_deep", "top_booked")


def write_event_paths(path):
    """Write every event's path, shuffled (the same order every time)."""
    ids = list(range(1, dataset.EVENTS + 1))
    random.Random(7).shuffle(ids)
    path.write_text("".join(f"/events/{event_id}\n" for event_id in ids))


def booking_requests_needed(duration):
    """Return how many fresh requests each POST row prepares: enough for one run of
    `duration` seconds at 4,000 requests per second, since every run starts from a reset."""
    return max(20_000, int(duration * 4_000))


def parse_wrk_output(stdout):
    """Return the result line the scripts' done() prints, as a dict."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise ValueError("wrk printed no result line:\n" + stdout)


def error_count(result, counts_failures=False):
    """Return the failed requests of a wrk result: socket errors and unexpected statuses.

    wrk counts statuses of 400 and above; a script that expects one status
    (201 of a booking, 304 of a revalidation) counts every other itself (a
    200 where a 304 was expected is a failure there too).
    """
    errors = result["errors"]
    sockets = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    return sockets + (errors["unexpected"] if counts_failures else errors["status"])


def refuse_exhausted(endpoint, result):
    """Raise `RuntimeError` if the run used up its prepared requests and sent some again.

    A request sent again is not fresh (a second hold of the same pair, a
    confirm of a booking already confirmed, which answers 200 all the same):
    the run measured something else, so it fails instead of being reported.
    """
    if result["errors"].get("exhausted"):
        raise RuntimeError(
            f"{endpoint.label}: the run used up its prepared requests after "
            f"{result['requests']:,} requests ({result['errors']['exhausted']} times over); "
            "prepare more (bench.run.booking_requests_needed) or run it shorter"
        )


def wrk(url, endpoint, connections, duration):
    """Run wrk once; return its result with requests per second and the error count."""
    env = {**os.environ, "BENCH_WRK_DIR": str(WRK_DIR), "BENCH_WRK_THREADS": str(WRK_THREADS)}
    env.update({name: str(value) for name, value in endpoint.env.items()})
    if endpoint.expect is not None:
        env["BENCH_EXPECT"] = str(endpoint.expect)
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        WRK_TIMEOUT,
        "-s",
        str(WRK_DIR / endpoint.script),
        url + endpoint.path,
    ]
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration + 60
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr}")
    result = parse_wrk_output(completed.stdout)
    refuse_exhausted(endpoint, result)
    result["rps"] = round(result["requests"] / result["duration_s"], 1)
    result["error_count"] = error_count(result, endpoint.counts_failures)
    return result


class Runner:
    """Runs wrk and records every measurement."""

    def __init__(self, url, database_url, duration, warmup):
        self.url = url
        self.database_url = database_url
        self.duration = duration
        self.warmup = warmup
        self.runs = []

    def measure(self, endpoint, connections, duration):
        # Reset before the run, not after: requests still queued in gunicorn
        # when wrk stops are answered after it exits, and their bookings
        # would outlive a reset made then and collide with the next run.
        if endpoint.reset is not None:
            endpoint.reset(self.database_url)
        if endpoint.prepare is not None:
            endpoint = endpoint.prepare(endpoint, self.url)
        return wrk(self.url, endpoint, connections, duration)

    def warm_up(self, chosen):
        for endpoint in chosen:
            if self.warmup > 0:
                self.measure(endpoint, 8, self.warmup)

    def round_robin(self, chosen, connections, repeat, **labels):
        """Measure every endpoint at every connection count, `repeat` times, alternating."""
        total = len(chosen) * len(connections) * repeat
        done = 0
        for repetition in range(1, repeat + 1):
            for count in connections:
                for endpoint in chosen:
                    result = self.measure(endpoint, count, self.duration)
                    done += 1
                    self.runs.append(
                        {
                            "endpoint": endpoint.key,
                            "connections": count,
                            "repetition": repetition,
                            **labels,
                            **result,
                        }
                    )
                    latency = result["latency_ms"]
                    print(
                        f"  [{done}/{total}] {endpoint.label:32} c={count:<3} "
                        f"{result['rps']:9.1f} req/s  p50 {latency['p50']:7.2f} ms  "
                        f"p99 {latency['p99']:7.2f} ms  errors {result['error_count']}",
                        flush=True,
                    )
