"""The load: wrk against each endpoint, in turn, repeated."""

import json
import os
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench import dataset

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
    # POST /bookings: its bookings are taken back after every run.
    books: bool = False


def endpoints(work_dir, token):
    """Return every endpoint the benchmark measures, in the order they are run."""
    login = {"email": dataset.BENCH_EMAIL, "password": dataset.BENCH_PASSWORD}
    return [
        Endpoint("health", "GET /health", "/health"),
        Endpoint("select1", "GET /bench/select1", "/bench/select1"),
        Endpoint("events_list", "GET /events?limit=20", "/events?limit=20"),
        Endpoint("events_deep", "GET /events?skip=9980&limit=20", "/events?skip=9980&limit=20"),
        Endpoint(
            "event_by_id", "GET /events/{id}", "/events/1", env={"BENCH_PATHS": work_dir / "paths"}
        ),
        Endpoint("top_booked", "GET /events/top-booked", "/events/top-booked"),
        Endpoint("my_bookings", "GET /bookings/my", "/bookings/my", env={"BENCH_TOKEN": token}),
        Endpoint(
            "book",
            "POST /bookings",
            "/bookings",
            "post_bookings.lua",
            env={"BENCH_REQUESTS": work_dir / "bookings"},
            books=True,
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
    """Return how many distinct booking requests one run of `duration` seconds may use."""
    return max(20_000, int(duration * 4_000))


def parse_wrk_output(stdout):
    """Return the result line the scripts' done() prints, as a dict."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise ValueError("wrk printed no result line:\n" + stdout)


def error_count(result, books=False):
    """Return the failed requests of a wrk result: socket errors and unexpected statuses.

    wrk counts statuses of 400 and above; the booking script counts every
    status but 201 itself (a 2xx or 3xx other than 201 is a failure there too).
    """
    errors = result["errors"]
    sockets = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    return sockets + (errors["unexpected"] if books else errors["status"])


def wrk(url, endpoint, connections, duration):
    """Run wrk once; return its result with requests per second and the error count."""
    env = {**os.environ, "BENCH_WRK_DIR": str(WRK_DIR), "BENCH_WRK_THREADS": str(WRK_THREADS)}
    env.update({name: str(value) for name, value in endpoint.env.items()})
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
    result["rps"] = round(result["requests"] / result["duration_s"], 1)
    result["error_count"] = error_count(result, endpoint.books)
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
        if endpoint.books:
            dataset.reset_pool_bookings(self.database_url)
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
