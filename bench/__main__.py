"""Run the benchmark: `python -m bench --help` (or `make bench`)."""

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import dataset, lifecycle, machine, publish, server, ticketdrop
from bench.run import (
    SCALING_ENDPOINTS,
    Runner,
    booking_requests_needed,
    endpoints,
    write_event_paths,
)
from bench.tokens import mint_access_tokens, pool_tokens, write_booking_requests

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/eventbook_bench"


def integers(text):
    return [int(item) for item in text.split(",") if item.strip()]


def parse_args(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Load the benchmark data, serve the API with gunicorn and measure it with wrk.",
    )
    parser.add_argument(
        "--duration", type=int, default=int(env("BENCH_DURATION", 10)), help="seconds per run"
    )
    parser.add_argument(
        "--connections",
        type=integers,
        default=env("BENCH_CONNECTIONS", "8,32"),
        help="connection counts of the endpoint table (default 8,32)",
    )
    parser.add_argument(
        "--repeat", type=int, default=int(env("BENCH_REPEAT", 3)), help="runs per measurement"
    )
    parser.add_argument(
        "--workers", type=int, default=int(env("BENCH_WORKERS", 2)), help="gunicorn workers"
    )
    parser.add_argument(
        "--threads", type=int, default=int(env("BENCH_THREADS", 4)), help="threads per worker"
    )
    parser.add_argument(
        "--scales",
        type=integers,
        default=env("BENCH_SCALES", "1000,100000,1000000"),
        help="numbers of bookings of the scaling runs; the largest backs the endpoint table",
    )
    parser.add_argument(
        "--scale-connections",
        type=integers,
        default=env("BENCH_SCALE_CONNECTIONS", "8"),
        help="connection counts of the scaling runs (default 8)",
    )
    parser.add_argument(
        "--warmup", type=int, default=int(env("BENCH_WARMUP", 2)), help="warm-up seconds"
    )
    parser.add_argument(
        "--database-url",
        default=env("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="a PostgreSQL database of its own; created if missing",
    )
    parser.add_argument(
        "--ticket-drop",
        action=argparse.BooleanOptionalAction,
        default=env("BENCH_TICKET_DROP", "1") != "0",
        help="run the ticket drop and its pgbench baseline (default on; BENCH_TICKET_DROP=0: off)",
    )
    parser.add_argument(
        "--only-ticket-drop",
        action="store_true",
        help="run the ticket drop alone: no scaling or endpoint runs (loads the smallest scale)",
    )
    parser.add_argument(
        "--drop-slots", type=int, default=int(env("BENCH_DROP_SLOTS", 1000)), help="its slots"
    )
    parser.add_argument(
        "--drop-users",
        type=int,
        default=int(env("BENCH_DROP_USERS", 5000)),
        help="users racing for them, one hold each",
    )
    parser.add_argument(
        "--drop-connections",
        type=int,
        default=int(env("BENCH_DROP_CONNECTIONS", 32)),
        help="concurrent users of the ticket drop, and pgbench's clients",
    )
    parser.add_argument("--port", type=int, default=int(env("BENCH_PORT", 8099)))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument(
        "--no-report", action="store_true", help="leave docs/benchmarks.md and the chart alone"
    )
    args = parser.parse_args(argv)
    for name in ("connections", "scales", "scale_connections"):
        if isinstance(getattr(args, name), str):
            setattr(args, name, integers(getattr(args, name)))
    args.scales = sorted(set(args.scales))
    if args.only_ticket_drop:
        args.ticket_drop = True
    if args.ticket_drop and not 0 < args.drop_slots <= args.drop_users <= dataset.POOL_USERS:
        parser.error(f"need 0 < --drop-slots <= --drop-users <= {dataset.POOL_USERS}")
    return args


def stop_on_sigterm(signum, frame):
    # Unwind like Ctrl-C does, so that gunicorn is stopped on the way out.
    sys.exit(128 + signum)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    started = datetime.now(UTC)
    progress = dataset.Progress("bench")
    secret_key = secrets.token_urlsafe(48)

    from eventbook import create_app

    dataset.ensure_database(args.database_url, progress)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database_url,
            "SECRET_KEY": secret_key,
            "RATELIMIT_ENABLED": False,
        }
    )
    dataset.migrate(app, progress)
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    # A drop or endpoint runs interrupted earlier leave events behind: gone before the
    # load checks.
    ticketdrop.remove_events(database_url)
    lifecycle.remove_events(database_url)
    if args.only_ticket_drop:
        args.scales = args.scales[:1]
    load_times = {}
    load_times[args.scales[0]] = dataset.prepare(app, args.scales[0], progress)

    work_dir = HERE / ".data"
    work_dir.mkdir(exist_ok=True)
    write_event_paths(work_dir / "paths")
    requests = booking_requests_needed(args.duration)
    if args.only_ticket_drop:
        token = None
    else:
        progress(f"minting access tokens; {requests:,} requests for each POST row")
        tokens = pool_tokens(app)
        token = tokens[dataset.BENCH_USER_ID]
        bookings, holds = write_booking_requests(work_dir, tokens, requests)
    everything = endpoints(work_dir, token)
    scaling = [endpoint for endpoint in everything if endpoint.key in SCALING_ENDPOINTS]
    if args.ticket_drop:
        progress(f"minting access tokens for the ticket drop's {args.drop_users:,} users")
        drop_tokens = mint_access_tokens(
            app, ticketdrop.drop_user_ids(args.drop_users), keep_earlier=True
        )

    env = server.server_environment(
        args.database_url, secret_key, "127.0.0.1", args.port, args.workers, args.threads
    )
    gunicorn = server.settings(env)
    log_path = HERE / "results" / "server.log"
    progress(f"starting gunicorn ({gunicorn['workers']} workers x {gunicorn['threads']} threads)")
    drop = None
    with server.running(env, log_path) as url:
        runner = Runner(url, database_url, args.duration, args.warmup)
        main_scale = args.scales[-1]
        if not args.only_ticket_drop:
            for scale in args.scales:
                if scale not in load_times:
                    load_times[scale] = dataset.prepare(app, scale, progress)
                progress(f"scaling runs at {scale:,} bookings")
                runner.warm_up(scaling)
                runner.round_robin(
                    scaling, args.scale_connections, args.repeat, phase="scaling", scale=scale
                )
            dataset.check_room(database_url, bookings)
            dataset.check_room(database_url, holds)
            progress("preparing the holds to confirm, the full events, the attendee list")
            lifecycle.create(database_url, tokens, work_dir, requests)
            try:
                progress(f"endpoint runs at {main_scale:,} bookings")
                runner.warm_up(everything)
                runner.round_robin(
                    everything, args.connections, args.repeat, phase="main", scale=main_scale
                )
            finally:
                lifecycle.remove_events(database_url)
                dataset.reset_pool_bookings(database_url)
        if args.ticket_drop:
            drop = ticketdrop.run(
                url,
                database_url,
                secret_key,
                drop_tokens,
                args.drop_slots,
                args.drop_connections,
                app.config["HOLD_TTL_SECONDS"],
                work_dir,
                progress,
            )
    progress("gunicorn stopped")

    results = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": {
            "duration_s": args.duration,
            "connections": args.connections,
            "repeat": args.repeat,
            "scales": args.scales,
            "scale_connections": args.scale_connections,
            "warmup_s": args.warmup,
            "wrk_threads": 2,
        },
        "machine": machine.describe(database_url),
        "gunicorn": gunicorn,
        "dataset": {
            "users": dataset.USERS,
            "events": dataset.EVENTS,
            "pool_users": dataset.POOL_USERS,
            "bench_user_bookings": dataset.BENCH_USER_BOOKINGS,
            "main_scale": main_scale,
            "tables_at_main_scale": dataset.sizes(database_url),
            "load_seconds": {str(scale): times for scale, times in load_times.items()},
        },
        "endpoints": {endpoint.key: endpoint.label for endpoint in everything},
        "runs": runner.runs,
    }
    if drop is not None:
        results["ticket_drop"] = drop
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    progress(f"results written to {args.output}")
    if not args.no_report:
        for path in publish.write(results):
            progress(f"wrote {path}")
    progress(f"done in {time.perf_counter() - progress.started:.0f} s")


if __name__ == "__main__":
    main()
