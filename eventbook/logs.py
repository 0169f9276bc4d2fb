"""Logging to stderr, each line tagged with the id of the request it belongs to."""

import logging

from flask import g, has_request_context

FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app):
    root = logging.getLogger()
    if not any(getattr(handler, "eventbook", False) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.eventbook = True
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    logging.getLogger("eventbook").setLevel(app.config["LOG_LEVEL"])
