"""The ticket drop's pure functions: answers by status, figures, pgbench's output, report."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import report
from bench.ticketdrop import (
    REFUSED,
    Outcome,
    baseline_slots,
    expected_counts,
    parse_pgbench_output,
    percentile,
    pgbench_latencies_ms,
    status_key,
    summarize,
)

PGBENCH_OUTPUT = """\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: /tmp/ticket_drop.sql
number of clients: 32
number of transactions per client: 7
number of transactions actually processed: 224/224
number of failed transactions: 0 (0.000%)
latency average = 139.418 ms
initial connection time = 40.311 ms
tps = 229.532185 (without initial connection time)
"""
FULL = json.dumps({"error": True, "message": "Event is fully booked", "status_code": 400})


def drop_outcomes(slots, users, extra=()):
    """A drop that went as it should: holders confirm, the others wait; one request per 10 ms."""
    outcomes, clock = [], 0.0
    for user in range(users):
        kinds = ("hold", "201"), ("confirm", "200")
        if user >= slots:
            kinds = ("hold", REFUSED), ("waitlist", "201")
        for kind, key in kinds:
            outcomes.append(Outcome(kind, key, clock, clock + 0.005))
            clock += 0.01
    return sorted([*outcomes, *extra], key=lambda outcome: outcome.finished)


def test_answers_are_counted_by_status_and_the_error_message():
    assert status_key(201, '{"id": 1}') == "201"
    assert status_key(400, FULL) == REFUSED
    assert status_key(502, "<html>Bad gateway</html>") == "502"
    assert status_key(0, "ConnectionResetError") == "error ConnectionResetError"


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7], 99) == 7
    assert percentile([], 50) is None


@given(st.lists(st.floats(0, 1e4), min_size=1), st.floats(0, 100))
def test_a_percentile_is_one_of_the_values_and_splits_them(values, share):
    found = percentile(values, share)
    assert found in values
    assert sum(value <= found for value in values) >= share / 100 * len(values)


def test_a_drop_with_exactly_the_expected_answers_has_no_errors():
    figures = summarize(drop_outcomes(10, 40), slots=10, users=40)
    assert figures["errors"] == 0
    assert {kind: stats["statuses"] for kind, stats in figures["kinds"].items()} == (
        expected_counts(10, 40)
    )
    # The 10th confirm (user 9's) is the 20th request: it starts at 0.19 s, ends 5 ms later.
    assert figures["sold_out_s"] == pytest.approx(0.195)
    assert figures["bookings_per_s"] == pytest.approx(10 / 0.195, rel=1e-3)
    assert figures["kinds"]["hold"]["p50_ms"] == pytest.approx(5)


def test_every_unexpected_or_missing_answer_is_an_error():
    extra = [Outcome("hold", "500", 0, 0.1), Outcome("waitlist", "error TimeoutError", 0, 0.1)]
    figures = summarize(drop_outcomes(10, 40, extra), slots=10, users=40)
    assert figures["errors"] == 2
    short = [o for o in drop_outcomes(10, 40) if not (o.kind == "confirm" and o.started < 0.02)]
    figures = summarize(short, slots=10, users=40)
    assert figures["errors"] == 1
    assert figures["sold_out_s"] is None and figures["bookings_per_s"] is None


def test_pgbench_output_gives_its_rate_and_transactions():
    assert parse_pgbench_output(PGBENCH_OUTPUT) == {
        "tps": 229.532185,
        "transactions": 224,
        "failed": 0,
    }
    with pytest.raises(ValueError):
        parse_pgbench_output("connection to server failed\n")


def test_pgbench_log_lines_give_latencies_in_milliseconds():
    lines = ["0 1 75898 0 1764000000 123", "1 1 503291 0 1764000000 456", ""]
    assert pgbench_latencies_ms(lines) == [75.898, 503.291]


def test_the_copy_has_a_whole_number_of_transactions_per_client():
    assert baseline_slots(1000, 32) == 1024
    assert baseline_slots(1000, 8) == 1000


def drop_results(errors=0, clean=True, ratio=0.5):
    figures = summarize(drop_outcomes(10, 40), slots=10, users=40)
    figures.update(
        errors=errors,
        connections=32,
        ratio_to_pgbench=ratio,
        integrity={"clean": clean, "output": "All booking counters match their bookings."},
        pgbench={
            "tps": 200.0,
            "transactions": 224,
            "failed": 0,
            "clients": 32,
            "held": 224,
            "booked_users": 224,
            "p50_ms": 70.0,
            "p99_ms": 500.0,
            "version": "pgbench (PostgreSQL) 15.20",
        },
    )
    return {"ticket_drop": figures}


@pytest.mark.parametrize(
    ("errors", "clean", "ratio", "verdicts"),
    [
        (0, True, 0.5, [True, True]),
        (0, True, 0.49, [True, False]),
        (1, True, 0.9, [False, True]),
        (0, False, 0.9, [False, True]),
        (0, True, None, [True, None]),
    ],
)
def test_the_drop_passes_only_exact_clean_and_at_half_of_pgbench(errors, clean, ratio, verdicts):
    rows = report.ticket_drop_targets(drop_results(errors, clean, ratio))
    assert [verdict for _, _, verdict in rows] == verdicts


def test_the_drop_section_shows_every_request_kind_with_its_answers():
    section = report.ticket_drop_section(drop_results())
    assert "| `POST /bookings/{id}/confirm` | 10 |" in section
    assert "`201`: 10, `400 Event is fully booked`: 30" in section
    assert "| Ratio to pgbench | 0.50 | 1.00 |" in section
    assert report.ticket_drop_targets({}) == []
    assert "Not run" in report.ticket_drop_section({})
