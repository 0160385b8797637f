"""Name the cause of a failed connection in words an operator can act on.

HTTP libraries wrap the operating system's error in their own types (httpx's
``ConnectError``, aiohttp's ``ClientConnectorDNSError``); the cause that says what to
fix — a DNS lookup that failed, a port that refused, a timeout, a TLS problem — is
somewhere down the exception's ``__cause__``/``__context__`` chain. This module walks
that chain using only the standard library's exception types, so it serves every
client (httpx for the Videos API, aiohttp under discord.py) without importing any.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

#: How deep the exception chain is followed (chains are short; this guards cycles).
MAX_CHAIN = 12


def network_cause(exc: BaseException) -> str | None:
    """A short phrase for why a connection failed, or None if ``exc`` is not one.

    >>> network_cause(ConnectionRefusedError(111, "Connection refused"))
    'connection refused'
    """
    links = list(_chain(exc))
    for link in links:
        phrase = _phrase(link)
        if phrase:
            return phrase
    if any("timeout" in type(link).__name__.lower() for link in links):
        return "timed out"
    for link in links:
        if isinstance(link, OSError) and link.errno is not None:
            return f"network error ({link.strerror or link.errno})"
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _phrase(exc: BaseException) -> str | None:
    """The phrase for one link of the chain, if it is one of the causes named above."""
    if isinstance(exc, socket.gaierror):
        return "DNS lookup failed (no network, or the host name is wrong)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc.strerror or 'handshake'})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return None
