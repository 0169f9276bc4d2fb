"""The benchmark's pure functions: wrk output, medians, targets, the kept analysis."""

import json
from pathlib import Path

import pytest

from bench import report
from bench.run import endpoints, error_count, parse_wrk_output, refuse_exhausted
from bench.tokens import POOL_USER_IDS, booking_pairs, distinct_pairs

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:8099/bookings
  8970 requests in 3.01s, 2.55MB read
BENCH_RESULT {"requests": 900, "duration_s": 3.0, "errors": {"connect": 1, "read": 0, \
"write": 0, "status": 5, "timeout": 2, "unexpected": 7, "exhausted": 0}, "latency_ms": \
{"p50": 3.1, "p90": 4.8, "p99": 8.5, "max": 23.7, "mean": 2.8}, "statuses": \
{"201": 893, "400": 7}}
"""


def run(endpoint, rps, connections=8, errors=0, phase="main", scale=1000):
    return {
        "endpoint": endpoint,
        "connections": connections,
        "phase": phase,
        "scale": scale,
        "rps": rps,
        "latency_ms": {"p50": 1.0, "p99": 2.0},
        "error_count": errors,
    }


def results(runs, connections=(8,), scales=(1000,)):
    return {
        "options": {
            "connections": list(connections),
            "scales": list(scales),
            "scale_connections": [8],
        },
        "dataset": {"main_scale": scales[-1]},
        "endpoints": {key: key for key in ("select1", *report.RATIO_TARGETS, "login")},
        "runs": runs,
    }


def test_the_result_line_is_found_among_wrk_output():
    assert parse_wrk_output(WRK_OUTPUT)["latency_ms"]["p99"] == 8.5


def test_the_result_line_keeps_the_answers_by_status():
    assert parse_wrk_output(WRK_OUTPUT)["statuses"] == {"201": 893, "400": 7}


def test_answers_by_status_are_summed_over_the_runs_of_each_connection_count():
    booked = [
        {**run("book", 10, connections=8), "statuses": {"201": 90, "400": 2}},
        {**run("book", 10, connections=8), "statuses": {"201": 95}},
        {**run("book", 10, connections=32), "statuses": {"201": 7}},
        run("select1", 20, connections=8),
    ]
    summary = results(booked, connections=(8, 32))
    assert report.status_counts(summary, 8) == "`book` 201: 185, 400: 2"
    assert report.status_counts(summary, 32) == "`book` 201: 7"
    assert report.status_counts(results([run("select1", 20)]), 8) == ""


def test_wrk_output_without_a_result_line_is_refused():
    with pytest.raises(ValueError):
        parse_wrk_output("Running 3s test\n")


def test_errors_are_socket_errors_plus_statuses_or_every_unexpected_status_when_booking():
    result = parse_wrk_output(WRK_OUTPUT)
    assert error_count(result) == 1 + 2 + 5
    assert error_count(result, counts_failures=True) == 1 + 2 + 7


def test_figures_are_medians_of_the_repetitions():
    runs = [run("select1", rps) for rps in (100, 300, 200)]
    assert report.summarize(runs)[("select1", 8, 1000)]["rps"] == 200


def test_a_ratio_target_passes_at_its_threshold_and_fails_below():
    runs = [run("select1", 1000), run("event_by_id", 700), run("events_list", 699)]
    runs += [run("events_deep", 500), run("book", 299)]
    verdicts = {name: verdict for name, _, verdict in report.evaluate_targets(results(runs))}
    assert verdicts["event_by_id ≥ 0.70 x SELECT 1 at 8 connections"] is True
    assert verdicts["events_list ≥ 0.70 x SELECT 1 at 8 connections"] is False
    assert verdicts["events_deep ≥ 0.50 x SELECT 1 at 8 connections"] is True
    assert verdicts["book ≥ 0.30 x SELECT 1 at 8 connections, no errors"] is False


def test_booking_fails_its_target_with_any_error():
    runs = [run("select1", 1000), run("book", 900, errors=1)]
    rows = report.evaluate_targets(results(runs))
    assert [verdict for name, _, verdict in rows if name.startswith("book ")] == [False]


@pytest.mark.parametrize("endpoint", ["hold", "confirm"])
def test_a_hold_and_a_confirm_must_reach_a_quarter_of_select1_without_errors(endpoint):
    def verdict(rps, errors=0):
        runs = [run("select1", 1000), run(endpoint, rps, errors=errors)]
        rows = report.evaluate_targets(results(runs))
        (found,) = [row for row in rows if row[0].startswith(f"{endpoint} ≥ 0.25 x SELECT 1")]
        return found[2]

    assert verdict(250) is True
    assert verdict(249) is False
    assert verdict(900, errors=1) is False


def test_the_lifecycle_rows_are_in_the_endpoint_table():
    runs = [run("select1", 1000)] + [
        run(key, rps) for key, rps in (("hold", 300), ("confirm", 250), ("attendees_csv", 40))
    ]
    summary = results(runs)
    summary["endpoints"].update(
        hold='POST /bookings {"hold": true}',
        confirm="POST /bookings/{id}/confirm",
        attendees_csv="GET /events/{id}/attendees (CSV)",
    )
    table = report.endpoint_table(summary, 8)
    assert '| `POST /bookings {"hold": true}` | 300 | 0.30 | 1.0 | 2.0 | 0 (0) |' in table
    assert "| `POST /bookings/{id}/confirm` | 250 | 0.25 | 1.0 | 2.0 | 0 (0) |" in table
    assert "| `GET /events/{id}/attendees (CSV)` | 40 | 0.04 | 1.0 | 2.0 | 0 (0) |" in table


def older_results(*missing):
    """The committed results, as if measured before the endpoints `missing` existed."""
    older = json.loads(report.RESULTS.read_text())
    for key in missing:
        older["endpoints"].pop(key, None)
    older["runs"] = [run for run in older["runs"] if run["endpoint"] not in missing]
    return older


def test_results_without_some_endpoints_are_published_without_their_rows():
    older = older_results("events_cursor", "hold", "confirm", "events_deep")
    document = report.render(older)
    assert "after=" not in document
    assert "POST /bookings/{id}/confirm ≥" not in document
    targets = [name for name, _, _ in report.evaluate_targets(older)]
    assert targets and not [name for name in targets if "skip=9980" in name]


def test_a_run_that_used_up_its_prepared_requests_is_refused():
    (endpoint,) = [e for e in endpoints(Path("/tmp"), "token") if e.key == "confirm"]
    result = parse_wrk_output(WRK_OUTPUT)
    refuse_exhausted(endpoint, result)
    result["errors"]["exhausted"] = 1
    with pytest.raises(RuntimeError, match="used up its prepared requests"):
        refuse_exhausted(endpoint, result)


def test_scaling_target_allows_ten_percent_of_the_share_of_select1():
    # The machine slows by a fifth between the scales: SELECT 1 with it.
    runs = [
        run("select1", 2000, phase="scaling", scale=1000),
        run("select1", 1600, phase="scaling", scale=1_000_000),
        run("top_booked", 1000, phase="scaling", scale=1000),
        run("top_booked", 724, phase="scaling", scale=1_000_000),  # 0.50 -> 0.4525
        run("events_list", 1000, phase="scaling", scale=1000),
        run("events_list", 704, phase="scaling", scale=1_000_000),  # 0.50 -> 0.44
        run("events_deep", 500, phase="scaling", scale=1000),
        run("events_deep", 400, phase="scaling", scale=1_000_000),  # unchanged share
    ]
    data = results(runs, scales=(1000, 1_000_000))
    rows = report.scaling_targets(data)
    verdicts = {name.split(":")[0]: verdict for name, _, verdict in rows}
    assert verdicts == {"events_list": False, "events_deep": True, "top_booked": True}
    table = report.scaling_table(data, 8)
    assert "| `select1` | 2,000 | 1,600 | 80% |" in table
    assert "| `events_deep` | 500 (0.25) | 400 (0.25) | 100% |" in table


def test_scaling_without_the_yardstick_is_not_measured():
    runs = [
        run("top_booked", 1000, phase="scaling", scale=1000),
        run("top_booked", 1000, phase="scaling", scale=1_000_000),
    ]
    rows = report.scaling_targets(results(runs, scales=(1000, 1_000_000)))
    assert {measured for _, measured, _ in rows} == {"not measured"}


def test_the_analysis_between_the_markers_is_kept():
    text = f"# Old\n{report.ANALYSIS_START}\nWhy it is slow.\n{report.ANALYSIS_END}\n"
    assert report.preserved_analysis(text) == "Why it is slow."
    assert report.preserved_analysis("# No markers\n") == report.DEFAULT_ANALYSIS


def test_booking_pairs_are_distinct():
    pairs = booking_pairs(50_000)
    assert len(set(pairs)) == len(pairs)


def test_hold_pairs_are_never_booking_pairs():
    holds = booking_pairs(50_000, start=50_000)
    assert len(set(holds)) == len(holds)
    assert set(holds).isdisjoint(booking_pairs(50_000))


def test_pairs_beyond_every_user_with_every_event_are_refused():
    assert len(set(distinct_pairs(6, POOL_USER_IDS[:2], [7, 8, 9]))) == 6
    with pytest.raises(ValueError):
        distinct_pairs(5, POOL_USER_IDS[:2], [7, 8, 9], start=2)


def test_scenarios_that_expect_one_status_count_their_own_failures():
    chosen = {endpoint.key: endpoint for endpoint in endpoints(Path("/tmp"), "token")}
    for key in ("events_list_304", "event_by_id_304", "my_bookings_304", "booking_by_id_304"):
        assert chosen[key].expect == 304 and chosen[key].counts_failures, key
    expected = {"book": 201, "hold": 201, "confirm": 200, "waitlist_join": 201}
    expected["attendees_csv"] = 200
    for key, status in expected.items():
        assert chosen[key].expect == status and chosen[key].counts_failures, key
    assert not chosen["events_list"].counts_failures


def test_every_post_row_is_reset_before_each_run():
    chosen = {endpoint.key: endpoint for endpoint in endpoints(Path("/tmp"), "token")}
    posts = {key for key, endpoint in chosen.items() if endpoint.script == "post_prepared.lua"}
    assert posts == {"book", "hold", "confirm", "waitlist_join"}
    assert all(chosen[key].reset is not None for key in posts)
