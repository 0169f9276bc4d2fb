from flask import Response, request, stream_with_context
from flask.views import MethodView
from flask_jwt_extended import current_user

from eventbook.api import Blueprint
from eventbook.attendees import operations
from eventbook.attendees.export import csv_chunks
from eventbook.attendees.schemas import AttendeeSchema, StatsSchema
from eventbook.bookings import idempotency
from eventbook.bookings.operations import BookingNotFound
from eventbook.bookings.schemas import BookingListArgs, BookingSchema, IdempotencyHeaders
from eventbook.events.operations import EventNotFound
from eventbook.schemas import TOTAL_COUNT_HEADER

blp = Blueprint(
    "attendees",
    __name__,
    description="The organiser's side: who booked, the numbers, check-in at the door.",
)

# Built once: a schema's construction costs more than a dump.
BOOKING = BookingSchema()

CSV_MEDIA_TYPE = "text/csv"
CSV_EXAMPLE = (
    "booking_id,status,created_at,confirmed_at,cancelled_at,checked_in_at,"
    "user_id,user_name,user_email\r\n"
    "10,confirmed,2026-11-24T09:35:00.123456+00:00,2026-11-24T09:35:00.123456+00:00,,,"
    "6,Ada Lovelace,ada@example.com\r\n"
)


def wants_csv():
    best = request.accept_mimetypes.best_match(("application/json", CSV_MEDIA_TYPE))
    return best == CSV_MEDIA_TYPE


@blp.route("/events/<id:event_id>/attendees")
class EventAttendees(MethodView):
    @blp.login_required
    @blp.arguments(BookingListArgs, location="query")
    @blp.response(200, AttendeeSchema(many=True), headers=TOTAL_COUNT_HEADER)
    @blp.doc(
        responses={
            200: {
                "content": {
                    CSV_MEDIA_TYPE: {
                        "schema": {"type": "string"},
                        "example": CSV_EXAMPLE,
                    }
                }
            }
        }
    )
    @blp.documents(operations.NotEventOrganizer, EventNotFound)
    @blp.doc(operationId="listEventAttendees")
    def get(self, args, event_id):
        """List the bookings of an event you organise, each with its user, oldest first.

        Ordered by `created_at`, then `id`. `status` filters as in GET
        /bookings/my (default `held,confirmed`; `all` for every status);
        page with `skip` and `limit`, the `X-Total-Count` header giving the
        number of matches. With `Accept: text/csv`, the whole filtered list
        (no paging) streams as CSV with a header row, the user flattened
        into `user_id`, `user_name` and `user_email`; a cell that begins
        with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with
        `'` (OWASP, CSV Injection).
        """
        event = operations.get_organised_event(event_id, current_user.id)
        if wants_csv():
            rows = operations.stream_attendees(event.id, args["status"])
            return Response(
                stream_with_context(csv_chunks(rows)),
                mimetype=CSV_MEDIA_TYPE,
                headers={"Content-Disposition": f'attachment; filename="event-{event.id}.csv"'},
            )
        attendees, total = operations.list_attendees(
            event.id, args["skip"], args["limit"], args["status"]
        )
        return attendees, {"X-Total-Count": str(total)}


@blp.route("/events/<id:event_id>/stats")
class EventStats(MethodView):
    @blp.login_required
    @blp.response(200, StatsSchema)
    @blp.documents(operations.NotEventOrganizer, EventNotFound)
    @blp.doc(operationId="getEventStats")
    def get(self, event_id):
        """Return the numbers of an event you organise, as of now.

        Bookings by status (`held` counts waitlist offers, `confirmed`
        counts checked-in bookings; a hold past its expiry is `expired`),
        the slots a newcomer can take now, and the waitlist.
        """
        return operations.event_stats(operations.get_organised_event(event_id, current_user.id))


@blp.route("/bookings/<id:booking_id>/check-in")
class CheckIn(MethodView):
    @blp.login_required
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.response(200, BookingSchema)
    @blp.documents(
        operations.NotCheckedInStatus,
        idempotency.KeyReused,
        operations.NotEventOrganizer,
        BookingNotFound,
        operations.AlreadyCheckedIn,
        idempotency.RequestInFlight,
    )
    @blp.doc(operationId="checkInBooking")
    def post(self, headers, booking_id):
        """Check the attendee of a confirmed booking of your event in, once.

        The booking stays `confirmed`, with `checked_in_at` set. The
        booking's owner, when not the organiser, gets a 403; anyone else a
        404. With an `Idempotency-Key`, a retry of the same request gets the
        first answer back (marked `Idempotent-Replayed: true`); the same key
        on another request is a 400.
        """
        return idempotency.run_once(
            current_user.id,
            headers.get("key"),
            {"path": request.path},
            lambda: operations.check_in(current_user.id, booking_id),
            200,
            BOOKING,
        )
