"""A client for publishers: the safe way to publish is the easy way.

`Publisher.publish` sends one event with an `Idempotency-Key` (a fresh uuid4 per call unless the
caller gives one), and retries what may succeed later — 1009 and other 5xx answers, 429, connection
errors and timeouts — with capped exponential backoff and full jitter, never sooner than the
answer's `Retry-After`, within a bounded time budget. Reusing the key makes a retry safe: the API
answers a repeated key with the first answer, so an event is accepted at most once.

Only `requests` and the standard library are imported, so publishers can vendor this one module.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_RETRY_BUDGET_SECONDS = 30.0
FIRST_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0
# A 1009 message may say when to come back ("retry in 2 seconds"); honoured like Retry-After.
_RETRY_IN_MESSAGE = re.compile(r"retry (?:in|after) (\d+(?:\.\d+)?) ?s", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the Events API: status, JSON body (or {"raw": text}) and headers."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error_code(self) -> str | None:
        return _field(self.body, "errorCode")

    @property
    def message(self) -> str | None:
        return _field(self.body, "message")

    @property
    def request_id(self) -> str | None:
        return _field(self.body, "requestId")

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)


def _field(body: Any, name: str) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    return None if value is None else str(value)


@dataclass(frozen=True)
class Published:
    """An accepted event: keep `event_id` for reference."""

    event_id: str
    idempotency_key: str
    attempts: int
    answer: Answer


@dataclass(frozen=True)
class BulkAccepted:
    """A bulk call the API accepted (202); follow it with `Publisher.job(job_id)`."""

    job_id: str
    attempts: int
    answer: Answer


class PublishError(Exception):
    """Base of the publisher client's errors."""


class PublishRejected(PublishError):
    """The API refused the request (4xx): retrying the same request will not help."""

    def __init__(self, answer: Answer, idempotency_key: str | None = None) -> None:
        self.answer = answer
        self.idempotency_key = idempotency_key
        self.status = answer.status
        self.error_code = answer.error_code
        self.message = answer.message
        self.request_id = answer.request_id
        super().__init__(
            f"HTTP {answer.status} {self.error_code}: {self.message} (requestId {self.request_id})"
        )


class PublishUnavailable(PublishError):
    """Not accepted within the retry budget (or, for bulk, an ambiguous outcome that is not resent):
    the request may or may not have been accepted. Retry a publish later with the same
    `idempotency_key` and body to be sure it is accepted once."""

    def __init__(
        self,
        attempts: int,
        last_answer: Answer | None,
        last_error: str | None,
        idempotency_key: str | None = None,
    ) -> None:
        self.attempts = attempts
        self.idempotency_key = idempotency_key
        self.last_answer = last_answer
        self.last_error = last_error  # the exception's class name for a network error, never its text
        last = f"HTTP {last_answer.status} {last_answer.error_code}" if last_answer else last_error
        super().__init__(
            f"the Events API did not accept the request after {attempts} attempt(s); last: {last}"
        )


@dataclass
class Publisher:
    """Publishes to one tenant of an eventrelay Events API (`api_url` without the `/v1/...` path)."""

    api_url: str
    tenant_id: str
    shared_secret: str = field(repr=False)
    session: requests.Session | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    random_fraction: Callable[[], float] = random.random

    def publish(
        self,
        event_name: str,
        event_version: str,
        payload: Mapping[str, Any] | bytes,
        *,
        idempotency_key: str | None = None,
    ) -> Published:
        """Publish one event (a JSON object, or its already-encoded bytes sent as they are)."""
        key = idempotency_key or str(uuid.uuid4())
        headers = {"eventName": event_name, "eventVersion": event_version}
        answer, attempts = self._call("POST", "/v1/eventManager/event", _encoded(payload), headers, key)
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        event_id = data.get("eventId") if isinstance(data, dict) else None
        if not isinstance(event_id, str):
            raise PublishError(f"HTTP {answer.status} without an eventId")
        return Published(event_id, key, attempts, answer)

    def bulk(self, events: Iterable[Mapping[str, Any]]) -> BulkAccepted:
        """Submit events ({"eventName", "eventVersion", "payload"} each) as one asynchronous job.

        Retried only on 429 and a 1009 saying nothing was accepted; after a network error, another
        5xx or a 1009 saying it may have been accepted, PublishUnavailable says the job may exist."""
        body = json.dumps({"events": list(events)}).encode("utf-8")
        # The bulk API takes no Idempotency-Key, so resending after an ambiguous outcome could make two jobs.
        answer, attempts = self._call("POST", "/v1/eventManager/events/bulk", body, {}, repeatable=False)
        job_id = answer.body.get("jobId") if isinstance(answer.body, dict) else None
        if not isinstance(job_id, str):
            raise PublishError(f"HTTP {answer.status} without a jobId")
        return BulkAccepted(job_id, attempts, answer)

    def job(self, job_id: str) -> Answer:
        """A bulk job's status, counts and item errors (an unknown job raises PublishRejected, 404)."""
        return self._call("GET", f"/v1/eventManager/jobs/{job_id}", None, {})[0]

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | None,
        extra_headers: Mapping[str, str],
        idempotency_key: str | None = None,
        *,
        repeatable: bool = True,
    ) -> tuple[Answer, int]:
        """Send until accepted, refused or out of budget. `repeatable`: sending twice is harmless
        (a keyed publish, a read), so ambiguous outcomes (network errors, any 5xx) are retried too."""
        headers = {"tenantId": self.tenant_id, "sharedSecret": self.shared_secret, **extra_headers}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if body is not None:
            headers["Content-Type"] = "application/json"
        url = self.api_url.rstrip("/") + path
        deadline = self.clock() + self.retry_budget_seconds
        attempts = 0
        while True:
            attempts += 1
            answer: Answer | None = None
            error: str | None = None
            try:
                answer = self._send(method, url, body, headers)
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = exc.__class__.__name__  # its text may quote the request; keep secrets out
                if not repeatable:
                    raise PublishUnavailable(attempts, None, error) from None
            if answer is not None and answer.status < 300:
                return answer, attempts
            if answer is not None and answer.status < 500 and answer.status != 429:
                raise PublishRejected(answer, idempotency_key)
            if answer is not None and not (repeatable or _surely_not_accepted(answer)):
                raise PublishUnavailable(attempts, answer, None)
            wait = max(self._backoff(attempts), _asked_wait(answer) if answer else 0.0)
            if self.clock() + wait > deadline:
                raise PublishUnavailable(attempts, answer, error, idempotency_key)
            self.sleep(wait)

    def _send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Answer:
        sender = self.session or requests
        response = sender.request(method, url, data=body, headers=dict(headers), timeout=self.timeout)
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = {"raw": response.text}
        return Answer(response.status_code, parsed, dict(response.headers.items()))

    def _backoff(self, attempts: int) -> float:
        """Full jitter over a capped exponential: spreads publishers that failed together."""
        ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** (attempts - 1))
        return ceiling * self.random_fraction()


def _encoded(payload: Mapping[str, Any] | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")


def _surely_not_accepted(answer: Answer) -> bool:
    # A 1009 whose message says the request "may have been accepted" (the queue did not answer) is not.
    ambiguous = "may have been accepted" in (answer.message or "").lower()
    return answer.status == 429 or (answer.error_code == "1009" and not ambiguous)


def _asked_wait(answer: Answer) -> float:
    """The wait the answer asks for: `Retry-After` (seconds or an HTTP date), or a 1009 message's."""
    retry_after = answer.header("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                when = None  # neither form: fall back to the backoff
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    if answer.error_code == "1009" and answer.message:
        found = _RETRY_IN_MESSAGE.search(answer.message)
        if found:
            return float(found.group(1))
    return 0.0
