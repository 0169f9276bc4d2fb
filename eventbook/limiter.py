"""Flask-Limiter with a fallback that also covers a storage that stalls.

Flask-Limiter switches a process to in-memory counters when its storage
fails, but a request that was already waiting on the storage when another
thread of the same process made that switch gets the error raised (a 500).
Here such a request is limited again, on the in-memory counters.
"""

from flask_limiter import HeaderNames, Limiter, RateLimitExceeded
from redis.backoff import NoBackoff
from redis.retry import Retry

# Flask-Limiter stamps every response of a limited route with its window's
# reset as Retry-After, and where the response already carries one (an
# error's own "try again in 1 s") the later of the two. It writes that under
# this name instead; `_retry_after_on_429_only` turns it into Retry-After on
# a 429 and drops it elsewhere, so an error's own Retry-After stays as chosen.
WINDOW_RESET_HEADER = "X-RateLimit-Retry-After"


def redis_storage_options(timeout_seconds):
    """Return redis-py options that make a stalled Redis fail fast.

    Connecting and every reply wait at most `timeout_seconds`. No retries: a
    rate-limit script that timed out may have run, and running it again would
    count the request twice; the fallback takes over instead.
    """
    return {
        "socket_connect_timeout": timeout_seconds,
        "socket_timeout": timeout_seconds,
        "retry": Retry(NoBackoff(), 0),
    }


def _retry_after_on_429_only(response):
    wait = response.headers.pop(WINDOW_RESET_HEADER, None)
    if response.status_code == 429 and wait is not None:
        response.headers["Retry-After"] = wait
    return response


class FallbackLimiter(Limiter):
    """A `Limiter` that limits a request on the fallback whenever storage fails.

    Its Retry-After appears on 429 answers only (`WINDOW_RESET_HEADER`).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("header_name_mapping", {HeaderNames.RETRY_AFTER: WINDOW_RESET_HEADER})
        super().__init__(**kwargs)

    def init_app(self, app):
        # Each application counts under its own RATELIMIT_KEY_PREFIX, from a
        # healthy start, with its own RATELIMIT_ENABLED and RATELIMIT_HEADERS_ENABLED
        # (Flask-Limiter keeps the first application's values as the next one's defaults).
        self._key_prefix = None
        self._storage_dead = False
        self.enabled = True
        self._headers_enabled = None
        # Registered first, so it runs after Flask-Limiter's own response hook.
        app.after_request(_retry_after_on_429_only)
        super().init_app(app)

    @property
    def storage_failed(self):
        """Whether this process counts on the in-memory fallback now."""
        return bool(self._storage_dead and self._in_memory_fallback_enabled)

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        try:
            super()._check_request_limit(callable_name, in_middleware)
        except RateLimitExceeded:
            raise
        except Exception:
            if not self.storage_failed:
                raise
            # Another thread switched to the fallback while this one waited on
            # the storage: count this request there too.
            self.context.seen_limits.clear()
            super()._check_request_limit(callable_name, in_middleware)
