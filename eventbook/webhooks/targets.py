"""Webhook targets: which URLs may be called, and calling them safely.

A target must be an http or https URL whose host resolves only to public
(globally routable) addresses, unless `WEBHOOK_ALLOW_PRIVATE_TARGETS` is on.
The check is made when a subscription is saved and again on every
connection: the name is resolved, every address is checked, and the
connection goes to a checked address, so a DNS answer that changed since
(DNS rebinding) cannot reach a private service. Redirects are never
followed. The address classes are IANA's special-purpose registries
(RFC 6890), as Python's `ipaddress` encodes them.
"""

import contextlib
import http.client
import ipaddress
import socket
import threading
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
# Answers longer than this are cut; only the status matters.
MAX_RESPONSE_BYTES = 64 * 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(Exception):
    """The target's address is not public, or the URL cannot be called."""


def is_public_address(address):
    """Return whether an IP address (text or `ipaddress` object) is globally routable.

    Loopback, private (RFC 1918, unique local), link-local, unspecified,
    shared (RFC 6598), documentation, reserved and multicast addresses are
    not; nor are IPv6 addresses that embed one of those IPv4 addresses
    (IPv4-mapped, 6to4, Teredo, NAT64).
    """
    ip = ipaddress.ip_address(address.split("%")[0] if isinstance(address, str) else address)
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo or (None, None))[1]
        if ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
        if ip.is_site_local:
            return False
    return ip.is_global and not ip.is_multicast


def check_url_syntax(url):
    """Return the parts of a webhook URL.

    :raises ValueError: not an absolute http or https URL with a host, or
        it carries credentials, whitespace or control characters.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"Must be at most {MAX_URL_LENGTH} characters.")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise ValueError("Must not contain spaces or control characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("Must be an http or https URL.")
    if not parts.hostname:
        raise ValueError("Must name a host.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("Must not carry a user name or password.")
    try:
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        raise ValueError("Must have a valid port.") from None
    return parts


def _port(parts):
    return parts.port or (443 if parts.scheme == "https" else 80)


def _resolve(host, port):
    """Return the (family, sockaddr) pairs of `host`; raise `socket.gaierror` if none."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [(family, sockaddr) for family, _, _, _, sockaddr in found]


def check_target(url, allow_private):
    """Check a URL when a subscription is saved.

    A host that does not resolve now is accepted: it is checked again on
    every connection.

    :raises ValueError: the URL is malformed (see `check_url_syntax`).
    :raises TargetRefused: the host resolves to an address that is not public.
    """
    parts = check_url_syntax(url)
    if allow_private:
        return
    try:
        addresses = _resolve(parts.hostname, _port(parts))
    except (socket.gaierror, UnicodeError):
        return
    _refuse_private(parts.hostname, addresses)


def _refuse_private(host, addresses):
    for _, sockaddr in addresses:
        if not is_public_address(sockaddr[0]):
            raise TargetRefused(
                f"{host} resolves to {sockaddr[0]}, a private, loopback or link-local "
                "address; webhooks go to public addresses only"
            )


def _checked_connector(allow_private):
    """Return a replacement for `socket.create_connection` that checks every address."""

    def connect(address, timeout, source_address=None, **kwargs):
        host, port = address
        try:
            addresses = _resolve(host, port)
        except (socket.gaierror, UnicodeError) as error:
            raise TargetRefused(f"{host} does not resolve: {error}") from None
        if not allow_private:
            _refuse_private(host, addresses)
        last_error = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(sockaddr)  # the address checked, not a new lookup
                return sock
            except OSError as error:
                sock.close()
                last_error = error
        raise last_error

    return connect


def post(url, body, headers, *, allow_private, timeout):
    """POST `body` to `url` without following redirects; return the status code.

    The whole exchange, connection included, is cut after `timeout` seconds.

    :raises TargetRefused: the host resolves to an address that is not public.
    :raises OSError: the connection failed or timed out.
    :raises http.client.HTTPException: the answer was not HTTP.
    """
    parts = check_url_syntax(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, _port(parts), timeout=timeout)
    connection._create_connection = _checked_connector(allow_private)
    # A server that answers a byte at a time would otherwise hold the worker.
    cut = threading.Event()
    watchdog = threading.Timer(timeout, _cut, args=(connection, cut))
    watchdog.start()
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    except (OSError, http.client.HTTPException):
        if cut.is_set():
            raise TimeoutError(f"timed out: no complete answer within {timeout} s") from None
        raise
    finally:
        watchdog.cancel()
        connection.close()


def _cut(connection, cut):
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
