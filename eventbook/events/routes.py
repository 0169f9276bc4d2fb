from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt_identity, verify_jwt_in_request

from eventbook.api import Blueprint
from eventbook.cursors import PAGE_HEADERS, page_headers
from eventbook.events import operations
from eventbook.events.schemas import (
    EVENT_CREATE_EXAMPLE,
    EVENT_UPDATE_EXAMPLE,
    EventCancelSchema,
    EventCreateSchema,
    EventListArgs,
    EventSchema,
    EventUpdateSchema,
    TopBookedArgs,
)
from eventbook.extensions import db
from eventbook.schemas import TOTAL_COUNT_HEADER
from eventbook.throttling import limit_event_creation


def caller_id(required=False):
    """Return the id of the user whose access token the request carries, or None.

    A token is optional on public reads, but an invalid one is still a 401.
    Tokens are read from the Authorization header only (`JWT_TOKEN_LOCATION`),
    so a request without one is anonymous at once: Flask-JWT-Extended's
    optional check finds the same by raising and catching an error (117 k
    instructions per request, measured with callgrind; GET /events/{id}
    takes 2.8 M in all).
    """
    if not required and "Authorization" not in request.headers:
        return None
    verify_jwt_in_request(optional=not required)
    identity = get_jwt_identity()
    return int(identity) if identity is not None else None


blp = Blueprint(
    "events", __name__, url_prefix="/events", description="Events and their free slots."
)


@blp.route("")
class Events(MethodView):
    @blp.arguments(EventListArgs, location="query")
    # With mine=true the answer depends on the token.
    @blp.etag(per_caller=True)
    @blp.response(200, EventSchema(many=True), headers={**TOTAL_COUNT_HEADER, **PAGE_HEADERS})
    @blp.documents(401)
    @blp.doc(operationId="listEvents", security=[{}, {"bearerAuth": []}])
    def get(self, args):
        """List published events by date, or with `mine=true` your own in every status.

        Ordered by `event_date`, then `id`. Filter with `upcoming=true` and
        `q` (title or location, any case); page with `limit` and either
        `skip` or `after`, the cursor in the `X-Next-Cursor` (and `Link`)
        header of the previous page. The `X-Total-Count` header gives the
        number of matches. `mine=true` needs an access token.
        """
        mine = args.pop("mine")
        user_id = caller_id(required=mine)
        if mine:
            args["organizer_id"] = user_id
        page = operations.list_events(**args)
        return page.items, page_headers(page)

    @blp.login_required
    @limit_event_creation
    @blp.arguments(EventCreateSchema, example=EVENT_CREATE_EXAMPLE)
    @blp.response(201, EventSchema)
    @blp.documents(operations.InvalidSchedule, 413, 415, 429)
    @blp.doc(operationId="createEvent")
    def post(self, data):
        """Create an event organised by the caller, published or as a draft.

        `event_date` must be in the future; booking windows and the
        cancellation deadline, when given, not after it. Only the organiser
        can later change, publish, cancel or delete the event. Every request
        counts against the per-user limit (`EVENT_CREATE_RATE_LIMIT`, 50 per
        hour by default).
        """
        event = operations.create_event(current_user.id, **data)
        db.session.commit()
        return event


@blp.route("/top-booked")
class TopBookedEvents(MethodView):
    @blp.arguments(TopBookedArgs, location="query")
    @blp.etag
    @blp.response(200, EventSchema(many=True))
    @blp.documents(401)
    @blp.doc(operationId="listTopBookedEvents", security=[{}, {"bearerAuth": []}])
    def get(self, args):
        """List the most booked published events, most bookings first (ties by id).

        Events without bookings fill the list when fewer have any. A token is
        not needed, but an invalid one is refused (401).
        """
        caller_id()
        return operations.top_booked(**args)


@blp.route("/<id:event_id>")
class EventById(MethodView):
    # A draft is shown to its organiser only: the answer depends on the token.
    @blp.etag(per_caller=True)
    @blp.response(200, EventSchema)
    @blp.documents(operations.EventNotFound, 401)
    @blp.doc(operationId="getEvent", security=[{}, {"bearerAuth": []}])
    def get(self, event_id):
        """Return one event; a draft only to its organiser (with their access token)."""
        return operations.get_event(event_id, caller_id())

    @blp.login_required
    @blp.arguments(EventUpdateSchema(partial=True), example=EVENT_UPDATE_EXAMPLE)
    @blp.response(200, EventSchema)
    @blp.documents(
        operations.SlotsBelowBookings,
        operations.EventCancelled,
        operations.InvalidSchedule,
        operations.NotOrganizer,
        operations.EventNotFound,
        413,
        415,
    )
    @blp.doc(operationId="updateEvent")
    def patch(self, data, event_id):
        """Change an event you organise; absent fields stay as they are.

        `total_slots` cannot drop below the confirmed bookings and live
        holds; raising it offers the new slots to the waitlist at once.
        `status` is changed by publish and cancel, not here.
        """
        event = operations.get_own_event(event_id, current_user.id)
        event = operations.update_event(event, data)
        db.session.commit()
        return event

    @blp.login_required
    @blp.response(204)
    @blp.documents(operations.EventHasBookings, operations.NotOrganizer, operations.EventNotFound)
    @blp.doc(operationId="deleteEvent")
    def delete(self, event_id):
        """Delete an event you organise that never had a booking or a waitlist entry.

        An event with bookings is cancelled instead (POST /events/{id}/cancel).
        """
        operations.delete_event(operations.get_own_event(event_id, current_user.id))
        db.session.commit()


@blp.route("/<id:event_id>/publish")
class PublishEvent(MethodView):
    @blp.login_required
    @blp.response(200, EventSchema)
    @blp.documents(operations.EventCancelled, operations.NotOrganizer, operations.EventNotFound)
    @blp.doc(operationId="publishEvent")
    def post(self, event_id):
        """Publish a draft you organise: it is listed and can be booked."""
        event = operations.publish_event(operations.get_own_event(event_id, current_user.id))
        db.session.commit()
        return event


@blp.route("/<id:event_id>/cancel")
class CancelEvent(MethodView):
    @blp.login_required
    @blp.arguments(
        EventCancelSchema, required=False, example={"reason": "The venue is closed for repairs."}
    )
    @blp.response(200, EventSchema)
    @blp.documents(
        operations.EventCancelled,
        operations.EventStarted,
        operations.NotOrganizer,
        operations.EventNotFound,
        413,
        415,
    )
    @blp.doc(operationId="cancelEvent")
    def post(self, data, event_id):
        """Cancel an event you organise.

        Every live booking becomes `event_cancelled` and the waitlist is
        closed; the event stays readable by id but leaves the lists.
        """
        event = operations.get_own_event(event_id, current_user.id)
        event = operations.cancel_event(event, (data or {}).get("reason"))
        db.session.commit()
        return event
