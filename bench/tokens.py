"""Access tokens and prepared requests for the benchmark, tokens minted with the application's code.

`issue_tokens` writes the token family each access token is checked against,
exactly as a login does, without paying for bcrypt 20,000 times.
"""

from datetime import timedelta

from sqlalchemy import delete, select

from bench.dataset import BENCH_USER_ID, EVENTS, POOL_FIRST_EVENT, POOL_FIRST_USER, USERS
from eventbook.auth.tokens import issue_tokens
from eventbook.extensions import db
from eventbook.models import TokenFamily, User

# Long enough for a whole run; the server only checks the expiry claim.
TOKEN_LIFETIME = timedelta(hours=12)
POOL_USER_IDS = range(POOL_FIRST_USER, USERS + 1)
POOL_EVENT_IDS = range(POOL_FIRST_EVENT, EVENTS + 1)
# The request files of the booking and the hold rows, in the work directory.
BOOKINGS = "bookings"
HOLDS = "holds"


def mint_access_tokens(app, user_ids, keep_earlier=False):
    """Return an access token per user id, in order; earlier logins are dropped unless kept."""
    with app.app_context():
        app.config["JWT_ACCESS_TOKEN_EXPIRES"] = TOKEN_LIFETIME
        if not keep_earlier:
            db.session.execute(delete(TokenFamily))
        users = db.session.scalars(select(User).where(User.id.in_(user_ids)))
        by_id = {user.id: user for user in users}
        tokens = [issue_tokens(by_id[user_id])["access_token"] for user_id in user_ids]
        db.session.commit()
    return tokens


def pool_tokens(app):
    """Return an access token of the bench user and of every pool user, by user id."""
    user_ids = [BENCH_USER_ID, *POOL_USER_IDS]
    return dict(zip(user_ids, mint_access_tokens(app, user_ids), strict=True))


def distinct_pairs(count, user_ids, event_ids, start=0):
    """Return pairs `start` to `start + count - 1` of (user id, event id), all distinct.

    Pair i is user i mod U with event (i mod U + i div U) mod E: a user's
    successive pairs are distinct events while i div U < E, so pairs of
    disjoint ranges of i never repeat one another.
    """
    users, events = len(user_ids), len(event_ids)
    if start + count > users * events:
        raise ValueError(f"at most {users * events} distinct pairs")
    return [
        (user_ids[i % users], event_ids[(i % users + i // users) % events])
        for i in range(start, start + count)
    ]


def booking_pairs(count, start=0):
    """Return `count` distinct (user id, event id) pairs of pool users and pool events."""
    return distinct_pairs(count, POOL_USER_IDS, POOL_EVENT_IDS, start)


def write_requests(path, tokens, pairs):
    """Write a line `<access token> <id>` per (user id, id) pair: the user's request on the id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lines:
        for user_id, item in pairs:
            lines.write(f"{tokens[user_id]} {item}\n")


def write_booking_requests(work_dir, tokens, count):
    """Write `count` booking requests and `count` hold requests; return their pairs.

    Both are pool users' pairs of pool events; the holds take the `count`
    pairs after the bookings', so that no hold repeats a booking's pair.
    """
    bookings, holds = booking_pairs(count), booking_pairs(count, start=count)
    write_requests(work_dir / BOOKINGS, tokens, bookings)
    write_requests(work_dir / HOLDS, tokens, holds)
    return bookings, holds
