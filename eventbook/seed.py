"""Demo data: five users, the eight events of the original, nine bookings, and an
organiser's events showing the rest: a draft, a cancelled event, a full event
with a waitlist, cancelled bookings and a check-in."""

from datetime import timedelta

from sqlalchemy import exists, select, text

from eventbook.extensions import db
from eventbook.models import Booking, Event, User, WaitlistEntry, utcnow

DEMO_PASSWORD = "password123"

DEMO_USERS = [
    ("John Doe", "user1@test.com"),
    ("Jane Smith", "user2@test.com"),
    ("Bob Johnson", "user3@test.com"),
    ("Alice Williams", "user4@test.com"),
    ("Charlie Brown", "user5@test.com"),
]

# title, description, location, days from now, total slots, image seed,
# and the demo users (by position in DEMO_USERS) who booked it.
DEMO_EVENTS = [
    (
        "Tech Conference {year}",
        "Annual technology conference with talks on AI, cloud and the web.",
        "Convention Center, San Francisco",
        30,
        500,
        "conference",
        [0, 1, 2],
    ),
    (
        "Rock Concert: Electric Nights",
        "A night of live rock with three headline bands.",
        "Madison Square Garden, New York",
        45,
        1000,
        "concert",
        [3, 4],
    ),
    (
        "Startup Pitch Competition",
        "Early-stage founders pitch to a panel of investors.",
        "Innovation Hub, Austin",
        20,
        150,
        "startup",
        [0, 3],
    ),
    (
        "Food & Wine Festival",
        "Tastings from regional chefs and winemakers.",
        "Waterfront Park, Seattle",
        60,
        800,
        "food",
        [1],
    ),
    (
        "Art Gallery Opening",
        "Opening night of a contemporary art exhibition.",
        "Modern Art Museum, Chicago",
        15,
        200,
        "gallery",
        [],
    ),
    (
        "Marathon Training Workshop",
        "Pacing, nutrition and recovery for your first marathon.",
        "City Sports Complex, Boston",
        25,
        75,
        "running",
        [2],
    ),
    (
        "Jazz Evening with Live Orchestra",
        "Jazz standards played by a twenty-piece orchestra.",
        "Blue Note Jazz Club, New Orleans",
        35,
        120,
        "jazz",
        [],
    ),
    (
        "Digital Marketing Masterclass",
        "Hands-on sessions on search, social and analytics.",
        "Business Center, Los Angeles",
        40,
        100,
        "marketing",
        [],
    ),
]

DEMO_ORGANIZER = ("Olivia Organiser", "organizer@test.com")

# Any constant works; it only has to be the same for every seeding process.
SEED_LOCK_KEY = 7_314_420_001


def database_is_empty():
    return not db.session.scalar(select(exists().select_from(User))) and not db.session.scalar(
        select(exists().select_from(Event))
    )


def seed_demo_data(now=None):
    """Fill an empty database with the demo data; return False if it was not empty.

    Concurrent seeders on PostgreSQL wait for each other on an advisory lock.
    Elsewhere the unique emails make all but one fail; the caller rolls back.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEED_LOCK_KEY})
    if not database_is_empty():
        return False
    now = now or utcnow()
    users = []
    for name, email in [*DEMO_USERS, DEMO_ORGANIZER]:
        user = User(name=name, email=email)
        user.set_password(DEMO_PASSWORD)
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    for title, description, location, days, slots, image, bookers in DEMO_EVENTS:
        event_date = (now + timedelta(days=days)).replace(
            hour=18, minute=0, second=0, microsecond=0
        )
        event = Event(
            title=title.format(year=event_date.year),
            description=description,
            location=location,
            event_date=event_date,
            total_slots=slots,
            booked_count=len(bookers),
            image_url=f"https://picsum.photos/seed/{image}/800/600",
        )
        db.session.add(event)
        db.session.flush()
        db.session.add_all(
            Booking(user_id=users[i].id, event_id=event.id, confirmed_at=now) for i in bookers
        )
    _seed_organizer_events(users[:5], users[5], now)
    db.session.flush()
    return True


def _organizer_event(organizer, title, days, slots, now, **fields):
    event = Event(
        title=title,
        description=f"A demo event of {organizer.name}.",
        location="Community Hall, Portland",
        event_date=(now + timedelta(days=days)).replace(hour=19, minute=0, second=0, microsecond=0),
        total_slots=slots,
        organizer_id=organizer.id,
        image_url="https://picsum.photos/seed/community/800/600",
        **fields,
    )
    db.session.add(event)
    db.session.flush()
    return event


def _seed_organizer_events(attendees, organizer, now):
    """A draft, a cancelled event, and a full class with a waitlist and a check-in."""
    _organizer_event(organizer, "Pottery Weekend (draft)", 50, 12, now, status="draft")
    cancelled = _organizer_event(
        organizer,
        "Open-Air Cinema Night",
        10,
        40,
        now,
        status="cancelled",
        cancelled_at=now,
        cancellation_reason="The park is closed for repairs.",
    )
    db.session.add(
        Booking(
            user_id=attendees[4].id,
            event_id=cancelled.id,
            status="event_cancelled",
            confirmed_at=now - timedelta(days=2),
            cancelled_at=now,
        )
    )
    full = _organizer_event(
        organizer,
        "Sourdough Baking Class",
        12,
        2,
        now,
        booked_count=2,
        waiting_count=2,
        cancellation_deadline=now + timedelta(days=10),
    )
    db.session.add_all(
        [
            Booking(
                user_id=attendees[0].id,
                event_id=full.id,
                confirmed_at=now,
                checked_in_at=now,
            ),
            Booking(user_id=attendees[1].id, event_id=full.id, confirmed_at=now),
            Booking(
                user_id=attendees[2].id,
                event_id=full.id,
                status="cancelled",
                confirmed_at=now - timedelta(days=1),
                cancelled_at=now - timedelta(hours=12),
            ),
        ]
    )
    db.session.add_all(
        WaitlistEntry(
            user_id=attendees[i].id, event_id=full.id, created_at=now + timedelta(seconds=i)
        )
        for i in (3, 4)
    )
