from flask import Response
from flask.views import MethodView
from flask_jwt_extended import current_user

from eventbook.api import Blueprint
from eventbook.bookings import operations as bookings
from eventbook.calendar import ics
from eventbook.events import operations as events
from eventbook.events.routes import caller_id

blp = Blueprint(
    "calendar", __name__, description="Calendar files (iCalendar) for events and bookings."
)

CALENDAR_RESPONSE = {
    "content_type": ics.MEDIA_TYPE,
    "description": "An iCalendar file (RFC 5545) holding one VEVENT.",
    "example": (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//eventbook//eventbook//EN\r\n"
        "BEGIN:VEVENT\r\nUID:event-1@eventbook\r\nDTSTART:20300501T180000Z\r\n"
        "SUMMARY:Flask meetup\r\nLOCATION:Room 42\r\nSTATUS:CONFIRMED\r\nSEQUENCE:0\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ),
}


def calendar_response(body, name):
    return Response(
        body,
        mimetype=ics.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.ics"'},
    )


@blp.route("/events/<id:event_id>/calendar.ics")
class EventCalendar(MethodView):
    @blp.response(200, {"type": "string"}, **CALENDAR_RESPONSE)
    @blp.documents(events.EventNotFound, 401)
    @blp.doc(operationId="getEventCalendar", security=[{}, {"bearerAuth": []}])
    def get(self, event_id):
        """Return an event as an iCalendar file; a draft only to its organiser.

        `STATUS` is `CANCELLED` once the event is cancelled, else `CONFIRMED`.
        """
        event = events.get_event(event_id, caller_id())
        return calendar_response(ics.event_calendar(event), f"event-{event.id}")


@blp.route("/bookings/<id:booking_id>/calendar.ics")
class BookingCalendar(MethodView):
    @blp.login_required
    @blp.response(200, {"type": "string"}, **CALENDAR_RESPONSE)
    @blp.documents(bookings.BookingNotFound)
    @blp.doc(operationId="getBookingCalendar")
    def get(self, booking_id):
        """Return one of your bookings as an iCalendar file.

        `STATUS` is `CONFIRMED`, `TENTATIVE` for a hold, `CANCELLED` for a
        booking cancelled, expired or cancelled with its event. Another
        user's booking is answered like a missing one (404).
        """
        booking = bookings.get_booking(current_user.id, booking_id)
        return calendar_response(ics.booking_calendar(booking), f"booking-{booking.id}")
