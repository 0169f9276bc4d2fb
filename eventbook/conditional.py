"""Conditional GETs: an ETag computed from the answer itself, and 304 Not Modified.

The tag is a strong hash of the answer as it leaves the view: its body and
the headers the view set (X-Total-Count, X-Next-Cursor, Link, ...). Nothing
is cached between requests, so the tag can never be stale, whichever
instance answers and whatever changed the answer: a write through another
host, or the mere passage of time (a hold expiring, booking opening or
closing, an event starting).

The comparison follows RFC 9110: If-None-Match is compared weakly (section
13.1.2), accepts a list of tags and `*`, and a match is answered 304 with no
body, carrying ETag and the Cache-Control and Vary the 200 would have
carried (section 15.4.5); the view's other headers are left out, since the
client's stored copy has them and the tag vouches that they are unchanged.
"""

import base64
import hashlib

from flask import Response, request

# Headers of the view's answer that the tag does not need to cover.
_NOT_HASHED = frozenset({"Content-Length"})


def entity_tag(response):
    """Return the opaque tag (unquoted) of a response's body and headers.

    A BLAKE2b digest of 128 bits, base64url-encoded: 22 characters.
    """
    digest = hashlib.blake2b(response.get_data(), digest_size=16)
    for name, value in response.headers.items():
        if name not in _NOT_HASHED:
            digest.update(f"\n{name}: {value}".encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def answer_conditionally(response, per_caller=False):
    """Tag a 200 answer to a GET, or replace it with 304 when the client's tag matches.

    :param response: the view's full answer.
    :param per_caller: the answer depends on who asks: it gets
        `Vary: Authorization` and `Cache-Control: private`, so that no shared
        cache hands one caller's answer to another.
    :returns: `response` with its ETag, or a new 304 response without a body.
    """
    if response.status_code != 200:
        return response
    tag = entity_tag(response)
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)
    response.set_etag(tag)
    if per_caller:
        response.vary.add("Authorization")
        response.cache_control.private = True
    return response
