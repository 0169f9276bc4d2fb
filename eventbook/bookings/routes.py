from flask.views import MethodView
from flask_jwt_extended import current_user

from eventbook.api import Blueprint
from eventbook.bookings import idempotency, operations
from eventbook.bookings.schemas import (
    BOOKING_CREATE_EXAMPLE,
    BookingCreateSchema,
    BookingListArgs,
    BookingSchema,
    IdempotencyHeaders,
)
from eventbook.events.operations import EventCancelled, EventNotFound
from eventbook.extensions import db
from eventbook.schemas import TOTAL_COUNT_HEADER
from eventbook.throttling import limit_bookings

blp = Blueprint("bookings", __name__, url_prefix="/bookings", description="Your bookings.")

# Built once: a schema's construction costs more than a dump.
BOOKING = BookingSchema()


@blp.route("")
class Bookings(MethodView):
    @blp.login_required
    @limit_bookings
    @blp.arguments(IdempotencyHeaders, location="headers")
    @blp.arguments(BookingCreateSchema, example=BOOKING_CREATE_EXAMPLE)
    @blp.response(201, BookingSchema)
    @blp.documents(
        EventCancelled,
        operations.AlreadyBooked,
        operations.EventPast,
        operations.BookingClosed,
        operations.BookingNotOpen,
        operations.EventFull,
        idempotency.KeyReused,
        EventNotFound,
        idempotency.RequestInFlight,
        413,
        415,
        429,
    )
    @blp.doc(operationId="bookEvent")
    def post(self, headers, data):
        """Book a slot of an event, or hold one through checkout.

        With `"hold": true` the booking is `held` until its `expires_at`
        (HOLD_TTL_SECONDS) and must be confirmed with POST
        /bookings/{id}/confirm; otherwise it is `confirmed` at once. A draft
        is unknown (404) to everyone but its organiser.

        Every request counts against the per-user limit (`BOOKING_RATE_LIMIT`,
        5 per minute by default). With an `Idempotency-Key`, a retry of the
        same request within 24 hours gets the first response back (marked
        `Idempotent-Replayed: true`) instead of booking again; the same key
        with another body is a 400, and a retry while the first request is
        still running is a 409 with `Retry-After`.
        """
        return idempotency.run_once(
            current_user.id,
            headers.get("key"),
            data,
            lambda: operations.book_event(current_user.id, **data),
            201,
            BOOKING,
        )


@blp.route("/my")
class MyBookings(MethodView):
    @blp.login_required
    @blp.arguments(BookingListArgs, location="query")
    @blp.etag(per_caller=True)
    @blp.response(200, BookingSchema(many=True), headers=TOTAL_COUNT_HEADER)
    @blp.doc(operationId="listMyBookings")
    def get(self, args):
        """List your bookings, newest first, each with its event.

        `status` filters (default `held,confirmed`; `all` for every status).
        Page with `skip` and `limit`; the `X-Total-Count` header gives the
        number of matches.
        """
        args["statuses"] = args.pop("status")
        bookings, total = operations.list_bookings(current_user.id, **args)
        return bookings, {"X-Total-Count": str(total)}


@blp.route("/<id:booking_id>")
class BookingById(MethodView):
    @blp.login_required
    @blp.etag(per_caller=True)
    @blp.response(200, BookingSchema)
    @blp.documents(operations.BookingNotFound)
    @blp.doc(operationId="getBooking")
    def get(self, booking_id):
        """Return one of your bookings.

        Another user's booking is answered like a missing one (404).
        """
        return operations.get_booking(current_user.id, booking_id)

    @blp.login_required
    @blp.response(204)
    @blp.documents(
        operations.EventPast, operations.CancellationDeadlinePassed, operations.BookingNotFound
    )
    @blp.doc(operationId="cancelBooking")
    def delete(self, booking_id):
        """Cancel one of your bookings, or release a hold; its slot is offered on.

        The booking is kept with status `cancelled`. A confirmed booking can
        be cancelled until the event's cancellation deadline, a hold until
        the event starts; cancelling a booking that is no longer live
        changes nothing.
        """
        operations.cancel_booking(current_user.id, booking_id)
        db.session.commit()


@blp.route("/<id:booking_id>/confirm")
class ConfirmBooking(MethodView):
    @blp.login_required
    @blp.response(200, BookingSchema)
    @blp.documents(
        operations.HoldExpired,
        operations.BookingCancelled,
        EventCancelled,
        operations.EventPast,
        operations.BookingNotFound,
    )
    @blp.doc(operationId="confirmBooking")
    def post(self, booking_id):
        """Confirm a held booking (a hold, or an offer from the waitlist).

        Confirming a confirmed booking changes nothing. A hold may be
        confirmed until the event starts, even after booking has closed.
        """
        booking = operations.confirm_booking(current_user.id, booking_id)
        db.session.commit()
        return booking
