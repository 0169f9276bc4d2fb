"""Demo data: five users, the eight events of the original, nine bookings."""

from datetime import timedelta

from sqlalchemy import exists, select, text

from eventbook.extensions import db
from eventbook.models import Booking, Event, User, utcnow

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
        "Tech Conference 2024",
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
    for name, email in DEMO_USERS:
        user = User(name=name, email=email)
        user.set_password(DEMO_PASSWORD)
        users.append(user)
    db.session.add_all(users)
    db.session.flush()
    for title, description, location, days, slots, image, bookers in DEMO_EVENTS:
        event = Event(
            title=title,
            description=description,
            location=location,
            event_date=(now + timedelta(days=days)).replace(
                hour=18, minute=0, second=0, microsecond=0
            ),
            total_slots=slots,
            booked_count=len(bookers),
            image_url=f"https://picsum.photos/seed/{image}/800/600",
        )
        db.session.add(event)
        db.session.flush()
        db.session.add_all(Booking(user_id=users[i].id, event_id=event.id) for i in bookers)
    db.session.flush()
    return True
