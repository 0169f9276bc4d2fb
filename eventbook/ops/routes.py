import logging

import flask
from flask import current_app
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from swagger_ui_bundle import swagger_ui_path

from eventbook.api import Blueprint
from eventbook.errors import DomainError
from eventbook.extensions import db, limiter
from eventbook.schemas import Schema

log = logging.getLogger(__name__)

blp = Blueprint(
    "ops", __name__, uses_database=False, description="Service information and health checks."
)

# Swagger UI's files come from an installed package and ReDoc's bundle
# from this one (static/redoc), so /docs and /redoc work offline.
docs_assets = flask.Blueprint(
    "docs_assets", __name__, static_folder=swagger_ui_path, static_url_path="/docs/assets"
)
redoc_assets = flask.Blueprint(
    "redoc_assets", __name__, static_folder="static/redoc", static_url_path="/redoc/assets"
)


@docs_assets.get("/docs/")
@docs_assets.get("/redoc/")
def documentation_with_a_slash():
    """Send /docs/ and /redoc/ to the pages, which live without the slash."""
    return flask.redirect(flask.request.path.rstrip("/"), code=301)


class NotReady(DomainError):
    status_code = 503
    message = "Not ready: database unavailable"


class ServiceSchema(Schema):
    name = fields.String(metadata={"example": "eventbook"})
    version = fields.String(metadata={"example": "1.0.0"})
    docs = fields.String(metadata={"example": "/docs"})
    redoc = fields.String(metadata={"example": "/redoc"})
    openapi = fields.String(metadata={"example": "/openapi.json"})


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"example": {"database": "ok", "rate_limit_storage": "ok"}},
    )


@blp.route("/")
class Service(MethodView):
    @blp.response(200, ServiceSchema)
    @blp.doc(operationId="describeService")
    def get(self):
        """Describe the service and where its documentation is."""
        return {
            "name": current_app.config["API_TITLE"],
            "version": current_app.config["API_VERSION"],
            "docs": "/docs",
            "redoc": "/redoc",
            "openapi": "/openapi.json",
        }


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.doc(operationId="checkLiveness")
    def get(self):
        """Answer while the process is alive."""
        return {"status": "ok"}


def _database_check():
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError as error:
        log.warning("Readiness: database unavailable: %s", error.__class__.__name__)
        db.session.rollback()
        return "unavailable"


def _rate_limit_storage_check():
    if current_app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        return None
    try:
        return "ok" if limiter.storage.check() else "unavailable"
    except Exception as error:  # any storage client failure means "not ready"
        log.warning("Readiness: rate limit storage unavailable: %s", error)
        return "unavailable"


@blp.route("/health/ready")
class Readiness(MethodView):
    @blp.response(200, HealthSchema)
    @blp.documents(NotReady)
    @blp.doc(operationId="checkReadiness")
    def get(self):
        """Answer 200 when the database (and Redis, if configured) answer, else 503.

        Point a load balancer's health check here.
        """
        checks = {"database": _database_check()}
        storage = _rate_limit_storage_check()
        if storage is not None:
            checks["rate_limit_storage"] = storage
        failing = [name for name, state in checks.items() if state != "ok"]
        if failing:
            raise NotReady(f"Not ready: {', '.join(failing)} unavailable")
        return {"status": "ok", "checks": checks}
