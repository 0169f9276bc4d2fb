"""What the conditional and cursor scenarios ask of the running server before each run.

A 304 scenario sends the ETag the server gives right now: answers change
between runs (the booking runs change events' counts), and a stale tag would
measure full answers instead. The cursor scenario starts where the deep
offset page starts, so that the two read the same rows.
"""

import json
import urllib.request
from dataclasses import replace


def _get(url, token=None):
    """GET `url`; return the decoded body and the headers."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), response.headers


def revalidating(endpoint, url):
    """Return `endpoint` sending If-None-Match with the current ETag of its path."""
    _, headers = _get(url + endpoint.path, endpoint.env.get("BENCH_TOKEN"))
    return replace(endpoint, env={**endpoint.env, "BENCH_IF_NONE_MATCH": headers["ETag"]})


def revalidating_each(paths, tagged, count):
    """Return a preparation writing the first `count` of `paths` with their current ETags."""

    def prepare(endpoint, url):
        chosen = paths.read_text().split()[:count]
        lines = [f"{path} {_get(url + path)[1]['ETag']}\n" for path in chosen]
        tagged.write_text("".join(lines))
        return replace(endpoint, env={**endpoint.env, "BENCH_PATHS": tagged})

    return prepare


def after_row(skip):
    """Return a preparation ending the endpoint's path with the cursor after `skip` events.

    The path ends with `after=`; the cursor is the `X-Next-Cursor` of a page of
    the unfiltered event list that ends with its event number `skip`.
    """

    def prepare(endpoint, url):
        _, headers = _get(f"{url}/events?skip={skip - 1}&limit=1")
        return replace(endpoint, path=endpoint.path + headers["X-Next-Cursor"])

    return prepare


def first_booking(endpoint, url):
    """Return `endpoint` with `{id}` in its path replaced by the caller's newest booking."""
    bookings, _ = _get(url + "/bookings/my?limit=1", endpoint.env["BENCH_TOKEN"])
    return replace(endpoint, path=endpoint.path.replace("{id}", str(bookings[0]["id"])))


def chain(*preparations):
    """Return a preparation applying `preparations` in turn."""

    def prepare(endpoint, url):
        for preparation in preparations:
            endpoint = preparation(endpoint, url)
        return endpoint

    return prepare
