from flask.views import MethodView
from flask_jwt_extended import current_user

from eventbook.api import Blueprint
from eventbook.events import operations
from eventbook.events.schemas import (
    EVENT_CREATE_EXAMPLE,
    EVENT_UPDATE_EXAMPLE,
    EventCreateSchema,
    EventListArgs,
    EventSchema,
    EventUpdateSchema,
    TopBookedArgs,
)
from eventbook.extensions import db
from eventbook.schemas import TOTAL_COUNT_HEADER
from eventbook.throttling import limit_event_creation

blp = Blueprint(
    "events", __name__, url_prefix="/events", description="Events and their free slots."
)


@blp.route("")
class Events(MethodView):
    @blp.arguments(EventListArgs, location="query")
    @blp.response(200, EventSchema(many=True), headers=TOTAL_COUNT_HEADER)
    @blp.doc(operationId="listEvents")
    def get(self, args):
        """List events by date.

        Ordered by `event_date`, then `id`. Filter with `upcoming=true` and
        `q` (title or location, any case); page with `skip` and `limit`. The
        `X-Total-Count` header gives the number of matches.
        """
        events, total = operations.list_events(**args)
        return events, {"X-Total-Count": str(total)}

    @blp.login_required
    @limit_event_creation
    @blp.arguments(EventCreateSchema, example=EVENT_CREATE_EXAMPLE)
    @blp.response(201, EventSchema)
    @blp.documents(413, 415, 429)
    @blp.doc(operationId="createEvent")
    def post(self, data):
        """Create an event organised by the caller.

        `event_date` must be in the future; only the organiser can later
        change or delete the event. Every request counts against the per-user
        limit (`EVENT_CREATE_RATE_LIMIT`, 50 per hour by default).
        """
        event = operations.create_event(current_user.id, **data)
        db.session.commit()
        return event


@blp.route("/top-booked")
class TopBookedEvents(MethodView):
    @blp.arguments(TopBookedArgs, location="query")
    @blp.response(200, EventSchema(many=True))
    @blp.doc(operationId="listTopBookedEvents")
    def get(self, args):
        """List the most booked events, most bookings first (ties by id).

        Events without bookings fill the list when fewer have any.
        """
        return operations.top_booked(**args)


@blp.route("/<id:event_id>")
class EventById(MethodView):
    @blp.response(200, EventSchema)
    @blp.documents(operations.EventNotFound)
    @blp.doc(operationId="getEvent")
    def get(self, event_id):
        """Return one event."""
        return operations.get_event(event_id)

    @blp.login_required
    @blp.arguments(EventUpdateSchema, example=EVENT_UPDATE_EXAMPLE)
    @blp.response(200, EventSchema)
    @blp.documents(
        operations.SlotsBelowBookings,
        operations.NotOrganizer,
        operations.EventNotFound,
        413,
        415,
    )
    @blp.doc(operationId="updateEvent")
    def patch(self, data, event_id):
        """Change an event you organise; absent fields stay as they are.

        `total_slots` cannot drop below the number of bookings.
        """
        event = operations.get_own_event(event_id, current_user.id)
        operations.update_event(event, data)
        db.session.commit()
        return event

    @blp.login_required
    @blp.response(204)
    @blp.documents(operations.NotOrganizer, operations.EventNotFound)
    @blp.doc(operationId="deleteEvent")
    def delete(self, event_id):
        """Delete an event you organise, with its bookings."""
        operations.delete_event(operations.get_own_event(event_id, current_user.id))
        db.session.commit()
