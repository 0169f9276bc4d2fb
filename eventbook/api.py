"""flask-smorest adapted to the error contract: 400 for invalid input, one error body."""

import flask_smorest
from flask import request
from flask_jwt_extended import jwt_required
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType

from eventbook.errors import error_response_for_http_exception
from eventbook.schemas import ErrorSchema


class Parser(FlaskParser):
    """Parse request arguments; invalid input is a 400, a non-JSON body a 415."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        if not is_json_request(req) and req.get_data(cache=True):
            raise UnsupportedMediaType()
        return super()._raw_load_json(req)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        flask_smorest.abort(400, message="The request body is not valid JSON")


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def login_required(self, func):
        """Require a valid access token, and say so in the OpenAPI document."""
        func = jwt_required()(func)
        func = self.doc(security=[{"bearerAuth": []}])(func)
        return self.documents(401)(func)

    def documents(self, *status_codes):
        """Document the error statuses an operation can answer besides its own."""

        def decorator(func):
            for status_code in status_codes:
                func = self.alt_response(status_code, response=_RESPONSE_NAMES[status_code])(func)
            return func

        return decorator


_RESPONSE_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "REQUEST_ENTITY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return error_response_for_http_exception(error, request)
