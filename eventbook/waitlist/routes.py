from flask.views import MethodView
from flask_jwt_extended import current_user

from eventbook.api import Blueprint
from eventbook.bookings import operations as bookings
from eventbook.events.operations import EventCancelled, EventNotFound
from eventbook.extensions import db
from eventbook.throttling import limit_bookings
from eventbook.waitlist import operations
from eventbook.waitlist.schemas import WaitlistEntrySchema

blp = Blueprint(
    "waitlist", __name__, description="Waiting for a slot of a full event, and the offers."
)


@blp.route("/events/<id:event_id>/waitlist")
class EventWaitlist(MethodView):
    @blp.login_required
    @limit_bookings
    @blp.response(201, WaitlistEntrySchema)
    @blp.documents(
        EventCancelled,
        bookings.AlreadyBooked,
        operations.AlreadyWaiting,
        bookings.EventPast,
        bookings.BookingClosed,
        bookings.BookingNotOpen,
        operations.EventHasFreeSlots,
        EventNotFound,
        429,
    )
    @blp.doc(operationId="joinWaitlist")
    def post(self, event_id):
        """Join the waitlist of a full event.

        When a slot frees, the first person waiting is offered it: a held
        booking, listed in GET /waitlist/my, to confirm before it expires
        (WAITLIST_OFFER_TTL_SECONDS). Counts against the booking limit.
        """
        entry = operations.join_waitlist(current_user.id, event_id)
        db.session.commit()
        return entry


@blp.route("/waitlist/my")
class MyWaitlist(MethodView):
    @blp.login_required
    @blp.response(200, WaitlistEntrySchema(many=True))
    @blp.doc(operationId="listMyWaitlistEntries")
    def get(self):
        """List your waitlist entries that are waiting or offered a slot."""
        return operations.my_entries(current_user.id)


@blp.route("/waitlist/<id:entry_id>")
class WaitlistEntryById(MethodView):
    @blp.login_required
    @blp.response(204)
    @blp.documents(operations.EntryNotFound)
    @blp.doc(operationId="leaveWaitlist")
    def delete(self, entry_id):
        """Leave a waitlist; an open offer is released and passes to the next person."""
        operations.leave_waitlist(current_user.id, entry_id)
        db.session.commit()
