"""Flask-Limiter with a fallback that also covers a storage that stalls.

Flask-Limiter switches a process to in-memory counters when its storage
fails, but a request that was already waiting on the storage when another
thread of the same process made that switch gets the error raised (a 500).
Here such a request is limited again, on the in-memory counters.
"""

from flask_limiter import Limiter, RateLimitExceeded
from redis.backoff import NoBackoff
from redis.retry import Retry


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


class FallbackLimiter(Limiter):
    """A `Limiter` that limits a request on the fallback whenever storage fails."""

    def init_app(self, app):
        # Each application counts under its own RATELIMIT_KEY_PREFIX, from a
        # healthy start (Flask-Limiter keeps the first application's prefix).
        self._key_prefix = None
        self._storage_dead = False
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
