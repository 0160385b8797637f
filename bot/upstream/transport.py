"""HTTP to the upstream over a shared ``httpx.AsyncClient``, for any dialect.

Owns the API key (sent only in the ``Authorization`` header; never in an exception, a log
line or a ``repr``), the timeouts, the retry loop with capped, jittered exponential
backoff (a 429's Retry-After replaces the backoff), and the streamed download with a byte
cap. Whether an attempt may be repeated is decided by ``bot.upstream.failures`` (the
money rule); this module only follows that decision.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import httpx

from bot.core.errors import ContentTooLarge, RateLimited, UpstreamUnavailable
from bot.core.request_budget import RateSignal
from bot.upstream.failures import MAX_ERROR_BODY, Failure, FailureMapper, Operation
from bot.upstream.parsing import EmbeddedError
from bot.upstream.rate_headers import rate_signal
from bot.upstream.values import Download, ProbeAnswer

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Told what every answer said about the rate limit (the poller's request budget).
AnswerWatcher = Callable[[RateSignal], None]
#: Awaited before a refused (429) request is sent again, after its Retry-After: waits
#: for the request budget's next slot, so re-sends stay within the budget too.
Pacer = Callable[[], Awaitable[None]]
#: How much of a detection answer's body is kept as text.
MAX_PROBE_TEXT = 4096

#: Turns a decoded 2xx JSON answer into a value: (body, headers, secret to redact).
#: Raises ``ValueError`` (``MalformedAnswer``, ``EmbeddedError``) when it cannot.
AnswerParser = Callable[[object, Mapping[str, str], str], T]


@dataclass(frozen=True, kw_only=True, slots=True)
class RetrySettings:
    """How long to wait for the upstream and how often to try again.

    ``max_retries`` is the number of re-sends after the first attempt. Every network step
    must progress within ``json_timeout``; one whole download attempt must finish within
    ``download_timeout``.
    """

    json_timeout: float = 30.0
    download_timeout: float = 300.0
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0


class _AttemptFailed(Exception):
    """Carries a ``Failure`` out of a download attempt."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class Transport:
    """Sends requests to ``base_url`` with the key, retrying per ``bot.upstream.failures``.

    Waits go through ``sleep`` so tests need not really wait.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        settings: RetrySettings,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._failures = FailureMapper(api_key)
        self._json_timeout = httpx.Timeout(settings.json_timeout)
        self._download_timeout = settings.download_timeout
        self._max_retries = max(0, settings.max_retries)
        self._backoff_base = settings.backoff_base
        self._backoff_cap = settings.backoff_cap
        self._sleep = sleep
        self._random = random.Random()
        #: Called with every answer's rate signal (``watch``); an error in it is logged.
        self._watchers: list[AnswerWatcher] = []
        self._pacer: Pacer | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def watch(self, watcher: AnswerWatcher, pacer: Pacer | None = None) -> None:
        """Tell ``watcher`` what each answer says about the rate limit (429s, headers);
        ``pacer`` is awaited before a 429-refused request is re-sent."""
        self._watchers.append(watcher)
        if pacer is not None:
            self._pacer = pacer

    def _observe(self, response: httpx.Response) -> None:
        if not self._watchers:
            return
        signal = rate_signal(response.status_code, response.headers)
        for watcher in self._watchers:
            try:
                watcher(signal)
            except Exception:
                log.exception("a rate-limit watcher failed")

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": accept}

    async def request(
        self, op: Operation, method: str, path: str, parse: AnswerParser[T], **body: Any
    ) -> T:
        """Send one logical request whose 2xx answer is JSON, retrying per the policy."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    method,
                    self.base_url + path,
                    headers=self._headers(),
                    timeout=self._json_timeout,
                    **body,
                )
            except httpx.HTTPError as exc:
                failure = self._failures.transport(op, exc)
            else:
                self._observe(response)
                if response.is_success:
                    try:
                        return parse(response.json(), response.headers, self._api_key)
                    except EmbeddedError as exc:
                        failure = self._failures.embedded(op, exc.info, str(exc))
                    except ValueError as exc:  # not JSON, or MalformedAnswer
                        failure = self._failures.malformed(op, exc)
                else:
                    content = response.content
                    failure = self._failures.status(
                        op, response.status_code, response.headers, content
                    )
            await self._pause_or_raise(op, attempt, failure)

    async def probe(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None
    ) -> ProbeAnswer:
        """One attempt, for detection: any HTTP answer is returned as it came.

        Never retried and never used for anything that costs money. A network failure
        raises ``UpstreamUnavailable`` with its cause in ``detail``.
        """
        try:
            response = await self._http.request(
                method,
                self.base_url + path,
                params=params,
                headers=self._headers(),
                timeout=self._json_timeout,
            )
        except httpx.HTTPError as exc:
            failure = self._failures.transport(Operation.RETRIEVE, exc)
            failure.error.detail = failure.reason or None
            raise failure.error from exc
        text = response.content[:MAX_PROBE_TEXT].decode("utf-8", "replace")
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        try:
            body: object | None = json.loads(response.content)
        except ValueError:
            body = None
        return ProbeAnswer(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            json=body,
            text=text,
        )

    async def download_url(
        self, url: str, *, with_key: bool, max_bytes: int, dest: Path | None
    ) -> Download:
        """Like ``download``, for an absolute URL an answer gave (a result link).

        The key is sent only when ``with_key`` and the URL is on the API's own origin.
        """
        send_key = with_key and _origin(url) == _origin(self.base_url)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(self._download_timeout):
                    return await self._download_once(url, {}, max_bytes, dest, send_key)
            except _AttemptFailed as failed:
                failure = failed.failure
            except TimeoutError:
                failure = Failure(
                    UpstreamUnavailable("The video download took too long."),
                    retry=True,
                    reason=f"no complete download within {self._download_timeout:g}s",
                )
            await self._pause_or_raise(Operation.CONTENT, attempt, failure)

    async def download(
        self, path: str, *, params: Mapping[str, str], max_bytes: int, dest: Path | None
    ) -> Download:
        """Stream ``path`` into memory, or into ``dest`` (via ``dest.part``).

        Redirects are followed (httpx drops the Authorization header when one leaves the
        API's origin). More than ``max_bytes`` raises ``ContentTooLarge`` without reading
        the rest. A broken transfer is retried from the start.
        """
        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(self._download_timeout):
                    return await self._download_once(url, params, max_bytes, dest)
            except _AttemptFailed as failed:
                failure = failed.failure
            except TimeoutError:
                failure = Failure(
                    UpstreamUnavailable("The video download took too long."),
                    retry=True,
                    reason=f"no complete download within {self._download_timeout:g}s",
                )
            await self._pause_or_raise(Operation.CONTENT, attempt, failure)

    async def _pause_or_raise(self, op: Operation, attempt: int, failure: Failure) -> None:
        """Log the failed attempt; sleep before the next one or raise the mapped error."""
        if not failure.retry or attempt > self._max_retries:
            failure.error.detail = failure.reason or None
            log.warning(
                "upstream %s failed (attempt %d, giving up): %s",
                op,
                attempt,
                failure.reason or type(failure.error).__name__,
            )
            raise failure.error
        delay = failure.delay if failure.delay is not None else self._backoff(attempt)
        log.warning(
            "upstream %s failed (attempt %d of %d): %s; retrying in %.2fs",
            op,
            attempt,
            self._max_retries + 1,
            failure.reason or type(failure.error).__name__,
            delay,
        )
        await self._sleep(delay)
        if self._pacer is not None and isinstance(failure.error, RateLimited):
            await self._pacer()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: 50..100 % of min(cap, base * 2**(attempt-1))."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        return ceiling * self._random.uniform(0.5, 1.0)

    async def _download_once(
        self,
        url: str,
        params: Mapping[str, str],
        max_bytes: int,
        dest: Path | None,
        send_key: bool = True,
    ) -> Download:
        """One download attempt; failures come out as ``_AttemptFailed``."""
        headers = self._headers(accept="*/*") if send_key else {"Accept": "*/*"}
        try:
            async with self._http.stream(
                "GET",
                url,
                # None, not {}: an empty mapping would drop a result URL's own query
                # string (a signed CDN link's signature).
                params=params or None,
                headers=headers,
                timeout=self._json_timeout,
                follow_redirects=True,
            ) as response:
                content_type = await self._check_content_answer(response, max_bytes)
                return await _receive(response, content_type, max_bytes, dest)
        except httpx.HTTPError as exc:
            raise _AttemptFailed(self._failures.transport(Operation.CONTENT, exc)) from exc

    async def _check_content_answer(self, response: httpx.Response, max_bytes: int) -> str | None:
        """The answer's media type once it is known to be a file that fits, else raise."""
        self._observe(response)
        if not response.is_success:
            content = await _read_capped(response, MAX_ERROR_BODY)
            raise _AttemptFailed(
                self._failures.status(
                    Operation.CONTENT, response.status_code, response.headers, content
                )
            )
        content_type = _media_type(response.headers.get("content-type"))
        if content_type in ("application/json", "text/html"):
            raise _AttemptFailed(
                Failure(
                    UpstreamUnavailable("The video service sent no video file."),
                    retry=True,
                    reason=f"content answered with {content_type}",
                )
            )
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise ContentTooLarge(max_bytes)
        return content_type


async def _receive(
    response: httpx.Response, content_type: str | None, max_bytes: int, dest: Path | None
) -> Download:
    """Read the body under the byte cap, to memory or to ``dest`` via ``dest.part``."""
    if dest is None:
        buffer = bytearray()
        async for chunk in _capped_chunks(response, max_bytes):
            buffer += chunk
        return Download(size=len(buffer), content_type=content_type, data=bytes(buffer))
    part = dest.with_name(dest.name + ".part")
    size = 0
    handle: IO[bytes] = await asyncio.to_thread(part.open, "wb")
    try:
        async for chunk in _capped_chunks(response, max_bytes):
            await asyncio.to_thread(handle.write, chunk)
            size += len(chunk)
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(os.replace, part, dest)
    except BaseException:
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(part.unlink, True)
        raise
    return Download(size=size, content_type=content_type, path=dest)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


async def _capped_chunks(response: httpx.Response, max_bytes: int) -> AsyncIterator[bytes]:
    """The decoded body in chunks; ``ContentTooLarge`` as soon as it passes ``max_bytes``."""
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise ContentTooLarge(max_bytes)
        yield chunk


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a (small, error) body."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])
