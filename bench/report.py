"""The figures of docs/benchmarks.md, from the raw results (`bench.publish` writes it)."""

import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "benchmarks.png"
RESULTS = ROOT / "bench" / "results" / "latest.json"
BASELINE = "select1"
ANALYSIS_START = "<!-- analysis -->"
ANALYSIS_END = "<!-- /analysis -->"
DEFAULT_ANALYSIS = (
    "*Not written yet: what limits each endpoint, with a profile, goes here. "
    "The text between the markers survives regeneration.*"
)
# Throughput an endpoint must reach, as a share of GET /bench/select1's.
RATIO_TARGETS = {
    # Every GET, the authenticated ones included.
    "event_by_id": 0.7,
    "top_booked": 0.7,
    "events_list": 0.7,
    "events_cursor": 0.7,
    "my_bookings": 0.7,
    "booking_by_id": 0.7,
    "events_deep": 0.5,
    # Revalidation: anonymous, then authenticated (the token check is a
    # round trip of its own).
    "events_list_304": 0.9,
    "event_by_id_304": 0.9,
    "top_booked_304": 0.9,
    "my_bookings_304": 0.7,
    "booking_by_id_304": 0.7,
    "book": 0.3,
    "hold": 0.25,
    "confirm": 0.25,
}
# Targets that also ask for no errors in any run: each request changes data.
ERROR_FREE_TARGETS = ("book", "hold", "confirm")
# Endpoints whose throughput must not depend on the number of bookings.
SCALE_INDEPENDENT = ("events_list", "events_deep", "top_booked")
SCALE_TOLERANCE = 0.10
ERROR_FREE_CONNECTIONS = 32
# The ticket drop's bookings per second, as a share of pgbench's.
TICKET_DROP_TARGET = 0.5
DROP_KIND_LABELS = {
    "hold": 'POST /bookings {"hold": true}',
    "confirm": "POST /bookings/{id}/confirm",
    "waitlist": "POST /events/{id}/waitlist",
}


def median(values):
    return statistics.median(values) if values else None


def summarize(runs, **match):
    """Return the medians of the runs matching `match`, by (endpoint, connections, scale)."""
    groups = {}
    for run in runs:
        if all(run.get(name) == value for name, value in match.items()):
            key = (run["endpoint"], run["connections"], run["scale"])
            groups.setdefault(key, []).append(run)
    return {
        key: {
            "rps": median([run["rps"] for run in group]),
            "p50_ms": median([run["latency_ms"]["p50"] for run in group]),
            "p99_ms": median([run["latency_ms"]["p99"] for run in group]),
            "errors": median([run["error_count"] for run in group]),
            "errors_total": sum(run["error_count"] for run in group),
            "runs": len(group),
        }
        for key, group in groups.items()
    }


def ratio(summary, endpoint, connections, scale):
    """Return the endpoint's median throughput over the baseline's, at the same load."""
    measured = summary.get((endpoint, connections, scale))
    baseline = summary.get((BASELINE, connections, scale))
    if not measured or not baseline or not baseline["rps"]:
        return None
    return measured["rps"] / baseline["rps"]


def evaluate_targets(results):
    """Return the targets as rows: (target, measured, verdict); verdict True, False or None.

    A target of an endpoint the results do not have (results of an older
    benchmark) is left out.
    """
    main = summarize(results["runs"], phase="main")
    scale = results["dataset"]["main_scale"]
    labels = results["endpoints"]
    rows = []
    for connections in results["options"]["connections"]:
        for endpoint, target in RATIO_TARGETS.items():
            if endpoint not in labels:
                continue
            measured = ratio(main, endpoint, connections, scale)
            name = f"{labels[endpoint]} ≥ {target:.2f} x SELECT 1 at {connections} connections"
            if measured is None:
                rows.append((name, "not measured", None))
                continue
            verdict = measured >= target
            shown = share(measured)
            if endpoint in ERROR_FREE_TARGETS:
                errors = main[(endpoint, connections, scale)]["errors_total"]
                name += ", no errors"
                shown += f", {errors} errors"
                verdict = verdict and errors == 0
            rows.append((name, shown, verdict))
    rows.extend(scaling_targets(results))
    if ERROR_FREE_CONNECTIONS in results["options"]["connections"]:
        failing = [
            f"{labels.get(endpoint, endpoint)}: {stats['errors_total']}"
            for (endpoint, connections, _), stats in sorted(main.items())
            if connections == ERROR_FREE_CONNECTIONS and stats["errors_total"]
        ]
        rows.append(
            (
                f"No errors at {ERROR_FREE_CONNECTIONS} connections (every endpoint, every run)",
                "; ".join(failing) or "0 errors",
                not failing,
            )
        )
    rows.append(("POST /auth/login: reported only (bcrypt cost 12 by design)", "-", None))
    rows.extend(ticket_drop_targets(results))
    return rows


def ticket_drop_targets(results):
    """Return the ticket drop's targets as rows: exact answers and a clean check, the ratio."""
    drop = results.get("ticket_drop")
    if drop is None:
        return []
    exact = (
        f"Ticket drop: exactly {drop['slots']:,} holds 201 and confirms 200, every other "
        f"user 400 then waitlist 201; `flask integrity check` clean"
    )
    clean = "clean" if drop["integrity"]["clean"] else "**not clean**"
    ratio_name = (
        f"Ticket drop: bookings/s ≥ {TICKET_DROP_TARGET:.2f} x pgbench's "
        f"at {drop['connections']} connections"
    )
    measured = drop["ratio_to_pgbench"]
    return [
        (
            exact,
            f"{drop['errors']} errors, {clean}",
            drop["errors"] == 0 and drop["integrity"]["clean"],
        ),
        (
            ratio_name,
            share(measured) if measured is not None else "not measured",
            None if measured is None else measured >= TICKET_DROP_TARGET,
        ),
    ]


def statuses_text(statuses):
    """Format answers by status: `201`: 1,000, `400 Event is fully booked`: 4,000."""
    return ", ".join(f"`{key}`: {count:,}" for key, count in statuses.items()) or "-"


def ticket_drop_section(results):
    """Return the ticket drop's figures as Markdown, or a line saying it was not run."""
    drop = results.get("ticket_drop")
    if drop is None:
        return "*Not run this time (`--no-ticket-drop`).*"
    pgbench = drop["pgbench"]
    lines = [
        "| | eventbook | pgbench |",
        "|---|---:|---:|",
        f"| Bookings per second | {number(drop['bookings_per_s'], 1)} | "
        f"{number(pgbench['tps'], 1)} |",
        f"| Ratio to pgbench | {share(drop['ratio_to_pgbench'])} | 1.00 |",
        f"| Time to sell out {drop['slots']:,} slots, s | {number(drop['sold_out_s'], 2)} | "
        f"{number(pgbench['transactions'] / pgbench['tps'], 2) if pgbench['tps'] else '-'} |",
        f"| Whole run, s | {number(drop['duration_s'], 2)} | - |",
        f"| Booking transaction p50 / p99 ms | - | {number(pgbench['p50_ms'], 1)} / "
        f"{number(pgbench['p99_ms'], 1)} |",
        "",
        "| Request | requests | p50 ms | p99 ms | answers by status |",
        "|---|---:|---:|---:|---|",
    ]
    for kind, label in DROP_KIND_LABELS.items():
        stats = drop["kinds"][kind]
        lines.append(
            f"| `{label}` | {stats['requests']:,} | {number(stats['p50_ms'], 1)} | "
            f"{number(stats['p99_ms'], 1)} | {statuses_text(stats['statuses'])} |"
        )
    check = "clean" if drop["integrity"]["clean"] else "**not clean**"
    said = drop["integrity"]["output"].splitlines()[-1:] or [""]
    lines += [
        "",
        f"{drop['users']:,} users, {drop['slots']:,} slots, {drop['connections']} connections; "
        f"{drop['errors']} answers beyond the expected ones. `flask integrity check` afterwards: "
        f"{check} ({said[0].rstrip('.')}).",
        f"pgbench: {pgbench['version']}, {pgbench['clients']} clients, "
        f"{pgbench['transactions']:,} transactions, {pgbench['failed']} failed, "
        f"{pgbench['held']:,} slots held by {pgbench['booked_users']:,} distinct users.",
    ]
    return "\n".join(lines)


def scaling_ratios(results, connections):
    """Return {(endpoint, scale): share of SELECT 1 at that scale} of the scaling runs.

    Each scale's runs are set against the yardstick measured in the same
    phase: the machine's own drift over a long run (seen: SELECT 1 itself
    24 % slower at the last scale than at the first) is not the data's doing.
    """
    scaling = summarize(results["runs"], phase="scaling")
    shares = {}
    for scale in results["options"]["scales"]:
        for endpoint in results["endpoints"]:
            value = ratio(scaling, endpoint, connections, scale)
            if value is not None:
                shares[(endpoint, scale)] = value
    return shares


def scaling_targets(results):
    scales = results["options"]["scales"]
    labels = results["endpoints"]
    rows = []
    if len(scales) < 2:
        return rows
    low, high = scales[0], scales[-1]
    for connections in results["options"]["scale_connections"]:
        shares = scaling_ratios(results, connections)
        for endpoint in SCALE_INDEPENDENT:
            if endpoint not in labels:
                continue
            name = (
                f"{labels[endpoint]}: share of SELECT 1 at {high:,} within {SCALE_TOLERANCE:.0%} "
                f"of that at {low:,} bookings ({connections} connections)"
            )
            before = shares.get((endpoint, low))
            after = shares.get((endpoint, high))
            if not before or not after:
                rows.append((name, "not measured", None))
                continue
            change = after / before
            rows.append((name, f"{change:.0%}", abs(change - 1) <= SCALE_TOLERANCE))
    return rows


def verdict_text(verdict):
    return {True: "pass", False: "**fail**", None: "-"}[verdict]


def number(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"


def share(value):
    """Format a ratio to the baseline; small ones keep a significant digit."""
    return number(value, 2 if value is None or value >= 0.01 else 3)


def endpoint_table(results, connections):
    main = summarize(results["runs"], phase="main")
    scale = results["dataset"]["main_scale"]
    lines = [
        "| Endpoint | req/s | ratio to SELECT 1 | p50 ms | p99 ms | errors, median (all runs) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for endpoint, label in results["endpoints"].items():
        stats = main.get((endpoint, connections, scale))
        if not stats:
            continue
        lines.append(
            f"| `{label}` | {number(stats['rps'])} | "
            f"{share(ratio(main, endpoint, connections, scale))} | "
            f"{number(stats['p50_ms'], 1)} | {number(stats['p99_ms'], 1)} | "
            f"{number(stats['errors'])} ({stats['errors_total']}) |"
        )
    return "\n".join(lines)


def status_counts(results, connections):
    """Return "201: n, 400: m" for the main runs at `connections` that counted statuses."""
    sums = {}
    for run in results["runs"]:
        if run.get("phase") == "main" and run["connections"] == connections:
            for status, count in run.get("statuses", {}).items():
                key = (run["endpoint"], int(status))
                sums[key] = sums.get(key, 0) + count
    labels = results["endpoints"]
    by_endpoint = {}
    for (endpoint, status), count in sorted(sums.items()):
        by_endpoint.setdefault(endpoint, []).append(f"{status}: {count:,}")
    return "; ".join(f"`{labels.get(e, e)}` {', '.join(parts)}" for e, parts in by_endpoint.items())


def scaling_table(results, connections):
    scaling = summarize(results["runs"], phase="scaling")
    shares = scaling_ratios(results, connections)
    scales = results["options"]["scales"]
    header = " | ".join(f"{scale:,}" for scale in scales)
    lines = [
        f"| Endpoint | {header} | {scales[-1]:,} / {scales[0]:,} |",
        "|---|" + "---:|" * (len(scales) + 1),
    ]
    for endpoint, label in results["endpoints"].items():
        row = [scaling.get((endpoint, connections, scale)) for scale in scales]
        if not any(row):
            continue
        ratios = [shares.get((endpoint, scale)) for scale in scales]
        cells = " | ".join(
            number(stats and stats["rps"])
            + ("" if endpoint == BASELINE or share_ is None else f" ({share_:.2f})")
            for stats, share_ in zip(row, ratios, strict=True)
        )
        if endpoint == BASELINE:
            change = (
                f"{row[-1]['rps'] / row[0]['rps']:.0%}"
                if row[0] and row[-1] and row[0]["rps"]
                else "-"
            )
        else:
            change = f"{ratios[-1] / ratios[0]:.0%}" if ratios[0] and ratios[-1] else "-"
        lines.append(f"| `{label}` | {cells} | {change} |")
    return "\n".join(lines)


def targets_table(results):
    lines = ["| Target | Measured | Verdict |", "|---|---|---|"]
    for name, measured, verdict in evaluate_targets(results):
        lines.append(f"| {name} | {measured} | {verdict_text(verdict)} |")
    return "\n".join(lines)


def preserved_analysis(text):
    """Return the text between the analysis markers of an existing document."""
    start, end = text.find(ANALYSIS_START), text.find(ANALYSIS_END)
    if start == -1 or end < start:
        return DEFAULT_ANALYSIS
    return text[start + len(ANALYSIS_START) : end].strip("\n") or DEFAULT_ANALYSIS


def render(results, analysis=DEFAULT_ANALYSIS):
    """Return docs/benchmarks.md for `results`."""
    from bench.document import DOCUMENT

    machine, gunicorn, data = results["machine"], results["gunicorn"], results["dataset"]
    options = results["options"]
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    tables = "\n\n".join(
        f"### {connections} connections\n\n{endpoint_table(results, connections)}"
        + (f"\n\nAnswers by status, all runs: {counted}." if counted else "")
        for connections in options["connections"]
        for counted in [status_counts(results, connections)]
    )
    scaling = "\n\n".join(
        f"### {connections} connections\n\n{scaling_table(results, connections)}"
        for connections in options["scale_connections"]
    )
    sizes = data["tables_at_main_scale"]
    return DOCUMENT.format(
        started=results["started_at"],
        finished=results["finished_at"],
        cpu=machine["cpu"],
        cores=machine["cores"],
        usable=machine["usable_cores"],
        memory=machine["memory_gib"],
        kernel=machine["kernel"],
        python=machine["python"],
        postgresql=machine["postgresql"],
        wrk=machine["wrk"],
        packages=packages,
        workers=gunicorn["workers"],
        threads=gunicorn["threads"],
        worker_class=gunicorn["worker_class"],
        preload=gunicorn["preload_app"],
        keepalive=gunicorn["keepalive"],
        timeout=gunicorn["timeout"],
        users=data["users"],
        events=data["events"],
        pool=data["pool_users"],
        mine=data["bench_user_bookings"],
        main_scale=data["main_scale"],
        scales=", ".join(f"{scale:,}" for scale in options["scales"]),
        size_users=sizes["users"]["size"],
        size_events=sizes["events"]["size"],
        size_bookings=sizes["bookings"]["size"],
        duration=options["duration_s"],
        repeat=f"{options['repeat']} run{'s' if options['repeat'] > 1 else ''}",
        warmup=options["warmup_s"],
        connections=" and ".join(str(count) for count in options["connections"]),
        tables=tables,
        scaling=scaling,
        ticket_drop=ticket_drop_section(results),
        targets=targets_table(results),
        analysis_start=ANALYSIS_START,
        analysis=analysis,
        analysis_end=ANALYSIS_END,
    )
