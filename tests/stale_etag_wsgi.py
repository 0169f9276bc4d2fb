"""The application with ETags remembered in process memory, for a control run.

Each process keeps the tag of every URL it answered and forgets them only
when it serves a write itself: a booking made through another process or
host leaves the old tag in place, and a client holding it keeps getting 304
for an answer that has changed. The cross-instance ETag test serves this
module to prove it would catch such a cache. The product never imports it.
"""

import importlib

from flask import Response, request

from eventbook import create_app
from eventbook.conditional import answer_conditionally

# The module: the package's attribute `api` is the flask-smorest Api object.
blueprints = importlib.import_module("eventbook.api")

_remembered = {}


def remembered_answer(response, per_caller=False):
    key = (request.full_path, request.headers.get("Authorization"))
    tag = _remembered.get(key)
    if tag is not None and request.if_none_match.contains_weak(tag):
        unchanged = Response(status=304)
        unchanged.set_etag(tag)
        return unchanged
    response = answer_conditionally(response, per_caller)
    _remembered[key] = response.get_etag()[0]
    return response


def forget_on_write(response):
    if request.method not in ("GET", "HEAD"):
        _remembered.clear()
    return response


blueprints.answer_conditionally = remembered_answer
app = create_app()
app.after_request(forget_on_write)
