"""flask-smorest adapted to the error contract: 400 for invalid input, one error body."""

from copy import deepcopy
from functools import wraps
from http import HTTPStatus

import flask_smorest
from flask_jwt_extended import jwt_required
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType

from eventbook.conditional import answer_conditionally
from eventbook.errors import VALIDATION_MESSAGE, error_body, error_response_for_http_exception
from eventbook.schemas import ErrorSchema


class Parser(FlaskParser):
    """Parse request arguments; invalid input is a 400, a non-JSON body a 415."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        if not req.get_data(cache=True):
            return missing
        if not is_json_request(req):
            raise UnsupportedMediaType()
        # eventbook.boundary's reader: refused values are a 400 naming the field.
        return req.get_json()


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose operations document each status they can answer.

    :param uses_database: its operations query the database, so any of them
        can answer 503 while the database is unavailable.
    """

    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args, uses_database=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.uses_database = uses_database
        self._prepare_doc_cbks.append(self._prepare_failure_doc)

    def _prepare_failure_doc(self, doc, doc_info, **kwargs):
        responses = doc.setdefault("responses", {})
        responses.setdefault(500, _RESPONSE_NAMES[500])
        if self.uses_database:
            responses.setdefault(503, _RESPONSE_NAMES[503])
        return doc

    def login_required(self, func):
        """Require a valid access token, and say so in the OpenAPI document."""
        func = jwt_required()(func)
        func = self.doc(security=[{"bearerAuth": []}])(func)
        return self.documents(401)(func)

    def etag(self, func=None, *, per_caller=False):
        """Tag a GET's answers with an ETag; answer a matching If-None-Match with 304.

        Place it above `response`, so that it sees the full answer. The OpenAPI
        document gains the ETag header, the If-None-Match parameter and the
        304 response. See `eventbook.conditional` (RFC 9110 section 13).

        :param per_caller: the answer may depend on the caller's token: it
            varies by Authorization, and is private when a token was sent.
        """

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                return answer_conditionally(func(*args, **kwargs), per_caller)

            # flask-smorest documents what its own ETag support would add.
            wrapper._apidoc = deepcopy(getattr(func, "_apidoc", {}))
            wrapper._apidoc["etag"] = True
            if per_caller:
                responses = wrapper._apidoc["response"]["responses"]
                for status_code in wrapper._apidoc["success_status_codes"]:
                    for doc in responses[status_code]:
                        doc["headers"] = {**doc.get("headers", {}), **PER_CALLER_HEADERS}
            return wrapper

        return decorator if func is None else decorator(func)

    def arguments(self, schema, **kwargs):
        """Parse and validate arguments; invalid ones are a 400 listing the fields."""
        if isinstance(schema, type):  # given a class, webargs builds one per request
            schema = schema()
        parse = super().arguments(schema, **kwargs)

        def decorator(func):
            func = self._documents_examples(400, [_INVALID_INPUT])(func)
            if kwargs.get("location", "json") == "json":
                func = self.documents(408)(func)
            return parse(func)

        return decorator

    def documents(self, *errors):
        """Document the errors an operation can answer besides its own response.

        :param errors: status codes, documented with the generic error
            response, and `DomainError` subclasses, documented with their
            message as an example under their status.
        """

        def decorator(func):
            examples = {}
            for error in errors:
                if isinstance(error, int):
                    func = self.alt_response(error, response=_RESPONSE_NAMES[error])(func)
                else:
                    example = (error.__name__, error.message)
                    examples.setdefault(error.status_code, []).append(example)
            for status_code, status_examples in examples.items():
                func = self._documents_examples(status_code, status_examples)(func)
            return func

        return decorator

    def _documents_examples(self, status_code, examples):
        """Document error bodies of one status, each named and with its message."""
        return self.alt_response(
            status_code,
            schema=ErrorSchema,
            description=HTTPStatus(status_code).phrase,
            examples={
                name: {"summary": message, "value": _example_body(status_code, message)}
                for name, message in examples
            },
        )


_INVALID_INPUT = ("ValidationFailed", VALIDATION_MESSAGE)


def _example_body(status_code, message):
    if message == VALIDATION_MESSAGE:
        return error_body(status_code, message, {"field": ["Missing data for required field."]})
    return error_body(status_code, message)


_RESPONSE_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "REQUEST_ENTITY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema
    # No catch-all "default" response: each operation lists its statuses, so
    # a client (and the schema conformance tests) can rely on the list.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error):
        return error_response_for_http_exception(error)

    def _register_etag_headers(self):
        # flask-smorest's components, described as eventbook answers them.
        self.spec.components.parameter("IF_NONE_MATCH", "header", IF_NONE_MATCH, lazy=True)
        self.spec.components.header("ETAG", ETAG, lazy=True)


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "description": "ETags of answers you hold, comma-separated, or `*`. When one matches "
    "the current answer (weak comparison, RFC 9110 section 13.1.2), the answer is "
    "304 Not Modified, without a body.",
    "schema": {"type": "string"},
    "example": '"fj968OM_6GIbONQbqaVqFg"',
}
ETAG = {
    "description": "Tag of this answer, body and headers; it changes whenever the answer "
    "does. Send it back in If-None-Match.",
    "schema": {"type": "string"},
}
PER_CALLER_HEADERS = {
    "Vary": {
        "description": "`Authorization`: the answer depends on the caller.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`private` when the request carried a token: no shared cache may "
        "store the answer.",
        "schema": {"type": "string"},
    },
}
