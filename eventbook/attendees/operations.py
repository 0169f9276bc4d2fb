"""The organiser's reads of an event's bookings, and check-in at the door.

Statuses are read as of now (`Booking.current_status`): a hold past its
expiry is `expired` whether or not a transaction has processed it yet.
"""

from sqlalchemy import func, select, update
from sqlalchemy.orm import contains_eager, joinedload

from eventbook.bookings.operations import BookingNotFound
from eventbook.errors import DomainError
from eventbook.events.operations import EventNotFound
from eventbook.extensions import db
from eventbook.models import LIVE_BOOKING_STATUSES, Booking, Event, User, WaitlistEntry, utcnow

# Rows fetched per round trip while the CSV export streams.
EXPORT_BATCH = 1000


class NotEventOrganizer(DomainError):
    status_code = 403
    message = "Only the organizer of this event can see or check in its attendees"


class NotCheckedInStatus(DomainError):
    message = "Only confirmed bookings can be checked in"


class AlreadyCheckedIn(DomainError):
    status_code = 409
    message = "Already checked in"


def get_organised_event(event_id, user_id):
    """Return an event for a read by its organiser.

    :raises EventNotFound: no such event, or a draft of someone else.
    :raises NotEventOrganizer: `user_id` does not organise it.
    """
    event = db.session.get(Event, event_id)
    if event is None or (event.status == "draft" and event.organizer_id != user_id):
        raise EventNotFound()
    if event.organizer_id != user_id:
        raise NotEventOrganizer()
    return event


def _attendee_filters(event_id, statuses):
    return (Booking.event_id == event_id, Booking.current_status.in_(statuses))


def list_attendees(event_id, skip, limit, statuses=LIVE_BOOKING_STATUSES):
    """Return a page of an event's bookings in `statuses`, each with its user, and their number.

    Ordered by `created_at`, then `id`.
    """
    filters = _attendee_filters(event_id, statuses)
    total = select(func.count()).select_from(Booking).where(*filters).scalar_subquery()
    rows = db.session.execute(
        select(Booking, total)
        .join(Booking.user)
        .options(contains_eager(Booking.user))
        .where(*filters)
        .order_by(Booking.created_at, Booking.id)
        .offset(skip)
        .limit(limit)
    ).all()
    if not rows:  # past the last page: nothing carried the number
        return [], db.session.scalar(select(total))
    return [row[0] for row in rows], rows[0][1]


ATTENDEE_COLUMNS = (
    "booking_id",
    "status",
    "created_at",
    "confirmed_at",
    "cancelled_at",
    "checked_in_at",
    "user_id",
    "user_name",
    "user_email",
)


def stream_attendees(event_id, statuses=LIVE_BOOKING_STATUSES):
    """Yield every booking of an event in `statuses` as a tuple of `ATTENDEE_COLUMNS`.

    The rows come from a server-side cursor, `EXPORT_BATCH` at a time, so
    the memory used does not grow with the number of attendees.
    """
    result = db.session.execute(
        select(
            Booking.id,
            Booking.current_status,
            Booking.created_at,
            Booking.confirmed_at,
            Booking.cancelled_at,
            Booking.checked_in_at,
            User.id,
            User.name,
            User.email,
        )
        .join(Booking.user)
        .where(*_attendee_filters(event_id, statuses))
        .order_by(Booking.created_at, Booking.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    try:
        yield from result
    finally:
        result.close()


def event_stats(event):
    """Return an event's numbers as of now.

    :returns: `{total_slots, confirmed, held, available, cancelled,
        event_cancelled, expired, checked_in, waiting, offered}`: bookings
        by status (`held` counts waitlist offers too, `confirmed` counts
        checked-in bookings), the slots a newcomer can take now (0 whenever
        nobody can book) and the waitlist's entries waiting or offered a
        live hold.
    """
    counts = dict.fromkeys(("confirmed", "held", "cancelled", "event_cancelled", "expired"), 0)
    checked_in = 0
    status = Booking.current_status
    for name, number, arrived in db.session.execute(
        select(status, func.count(), func.count(Booking.checked_in_at))
        .where(Booking.event_id == event.id)
        .group_by(status)
    ):
        counts[name] = number
        if name == "confirmed":
            checked_in = arrived
    waiting, offered = db.session.execute(
        select(
            func.count().filter(WaitlistEntry.status == "waiting"),
            func.count().filter(WaitlistEntry.status == "offered", Booking.is_live_hold),
        )
        .select_from(WaitlistEntry)
        .outerjoin(Booking, WaitlistEntry.booking_id == Booking.id)
        .where(WaitlistEntry.event_id == event.id)
    ).one()
    available = 0
    if event.booking_state() == "open":
        taken = counts["confirmed"] + counts["held"] + waiting
        available = max(0, event.total_slots - taken)
    return {
        "total_slots": event.total_slots,
        **counts,
        "available": available,
        "checked_in": checked_in,
        "waiting": waiting,
        "offered": offered,
    }


def _booking_with_event(booking_id):
    return db.session.scalar(
        select(Booking)
        .options(joinedload(Booking.event))
        .where(Booking.id == booking_id)
        .execution_options(populate_existing=True)
    )


def check_in(user_id, booking_id, now=None):
    """Check the attendee of a confirmed booking in, once, for the event's organiser.

    One conditional UPDATE marks the booking: of concurrent check-ins,
    exactly one succeeds.

    :returns: the booking, with its event.
    :raises BookingNotFound: no such booking, or neither the caller's nor
        one of an event the caller organises.
    :raises NotEventOrganizer: the caller owns the booking but does not
        organise its event.
    :raises NotCheckedInStatus: the booking is not confirmed.
    :raises AlreadyCheckedIn:
    """
    booking = _booking_with_event(booking_id)
    if booking is None:
        raise BookingNotFound()
    if booking.event.organizer_id != user_id:
        raise NotEventOrganizer() if booking.user_id == user_id else BookingNotFound()
    checked = db.session.execute(
        update(Booking)
        .where(
            Booking.id == booking_id,
            Booking.status == "confirmed",
            Booking.checked_in_at.is_(None),
        )
        .values(checked_in_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    booking = _booking_with_event(booking_id)
    if checked != 1:
        if booking.current_status != "confirmed":
            raise NotCheckedInStatus()
        raise AlreadyCheckedIn()
    return booking
