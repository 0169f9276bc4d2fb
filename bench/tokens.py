"""Access tokens for the benchmark, minted with the application's own code.

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


def booking_pairs(count):
    """Return `count` distinct (user id, event id) pairs of pool users and pool events.

    Pair i is pool user i mod P with pool event (i mod P + i div P) mod E: a
    user's successive pairs are distinct events while i div P < E.
    """
    users = USERS - POOL_FIRST_USER + 1
    events = EVENTS - POOL_FIRST_EVENT + 1
    if count > users * events:
        raise ValueError(f"at most {users * events} distinct pairs")
    return [
        (POOL_FIRST_USER + i % users, POOL_FIRST_EVENT + (i % users + i // users) % events)
        for i in range(count)
    ]


def write_tokens(app, path, count):
    """Return an access token of the bench user, and write `count` booking requests to `path`.

    Each line is `<access token> <event id>`, a distinct (user, event) pair
    of the pool.
    """
    pairs = booking_pairs(count)
    user_ids = [BENCH_USER_ID, *sorted({user_id for user_id, _ in pairs})]
    tokens = dict(zip(user_ids, mint_access_tokens(app, user_ids), strict=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lines:
        for user_id, event_id in pairs:
            lines.write(f"{tokens[user_id]} {event_id}\n")
    return tokens[BENCH_USER_ID]
