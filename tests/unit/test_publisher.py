"""The publisher client against a real HTTP server on 127.0.0.1 with scripted answers.

Time is an injected clock that the injected sleep advances, so no test waits for real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from eventrelay.publisher import Publisher, PublishRejected, PublishUnavailable
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply

SECRET = "s3cret-value-never-shown"
EVENT_ID = "8f0e6a3e-0000-4000-8000-000000000001"


def accepted() -> Reply:
    body = {"result": True, "data": {"eventId": EVENT_ID}, "message": "Successfully received event"}
    return Reply(200, body=json.dumps(body).encode())


def failure(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {
        "result": False,
        "errorCode": code,
        "message": message,
        "messages": [message],
        "requestId": "req-1",
    }
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


class FakeTime:
    """A clock the sleep advances: records every requested wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Script:
    """Answers requests in order; the last answer repeats."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def __call__(self, _request: RecordedRequest) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


def publisher_for(server: RecordingServer, fake_time: FakeTime, budget: float = 30.0) -> Publisher:
    return Publisher(
        server.url("/").rstrip("/"),
        "acme",
        SECRET,
        timeout=5,
        retry_budget_seconds=budget,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        random_fraction=lambda: 1.0,
    )


def test_a_1009_then_200_gives_one_event_id_with_the_same_key_on_both_tries(
    server: RecordingServer, fake_time: FakeTime
) -> None:
    server.responder = Script(failure(503, "1009", "Temporarily unable to accept the event"), accepted())

    published = publisher_for(server, fake_time).publish("Won", "v01", {"id": 1})

    assert (published.event_id, published.attempts) == (EVENT_ID, 2)
    keys = [request.header("Idempotency-Key") for request in server.requests]
    assert keys == [published.idempotency_key] * 2
    assert len(published.idempotency_key) == 36  # a uuid4, made once for the call
    first = server.requests[0]
    assert (first.method, first.path) == ("POST", "/v1/eventManager/event")
    assert (first.header("tenantId"), first.header("sharedSecret")) == ("acme", SECRET)
    assert (first.header("eventName"), first.header("eventVersion")) == ("Won", "v01")
    assert json.loads(first.body) == {"id": 1}
    assert fake_time.waits == [pytest.approx(0.2)]  # the first backoff step


def test_each_publish_call_gets_its_own_key_unless_one_is_given(
    server: RecordingServer, fake_time: FakeTime
) -> None:
    server.responder = Script(accepted())
    publisher = publisher_for(server, fake_time)

    publisher.publish("Won", "v01", {"id": 1})
    publisher.publish("Won", "v01", {"id": 1})
    publisher.publish("Won", "v01", {"id": 1}, idempotency_key="order-42")

    keys = [request.header("Idempotency-Key") for request in server.requests]
    assert keys[0] != keys[1]
    assert keys[2] == "order-42"


def test_a_429_waits_as_long_as_retry_after_says(server: RecordingServer, fake_time: FakeTime) -> None:
    server.responder = Script(failure(429, "1006", "rate limit exceeded", {"Retry-After": "7"}), accepted())

    published = publisher_for(server, fake_time).publish("Won", "v01", {"id": 1})

    assert published.event_id == EVENT_ID
    assert fake_time.waits == [7.0]


def test_a_1009_message_saying_when_to_retry_is_honoured(
    server: RecordingServer, fake_time: FakeTime
) -> None:
    server.responder = Script(failure(503, "1009", "Busy; retry in 3 seconds"), accepted())

    publisher_for(server, fake_time).publish("Won", "v01", {"id": 1})

    assert fake_time.waits == [3.0]


def test_backoff_grows_and_is_capped(server: RecordingServer, fake_time: FakeTime) -> None:
    server.responder = Script(failure(503, "1009", "unavailable"))

    with pytest.raises(PublishUnavailable):
        publisher_for(server, fake_time, budget=20).publish("Won", "v01", {"id": 1})

    assert fake_time.waits[:6] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0])
    assert max(fake_time.waits) == pytest.approx(5.0)


def test_the_budget_running_out_raises_publish_unavailable_with_the_last_answer(
    server: RecordingServer, fake_time: FakeTime
) -> None:
    server.responder = Script(failure(429, "1006", "rate limit exceeded", {"Retry-After": "4"}))

    with pytest.raises(PublishUnavailable) as raised:
        publisher_for(server, fake_time, budget=10).publish("Won", "v01", {"id": 1})

    # Two waits of 4 s fit in 10 s; a third would not, so the client stops instead of sleeping.
    assert fake_time.waits == [4.0, 4.0]
    assert raised.value.attempts == len(server.requests) == 3
    assert raised.value.last_answer is not None
    assert raised.value.last_answer.error_code == "1006"
    assert raised.value.idempotency_key == server.requests[0].header("Idempotency-Key")
    assert SECRET not in str(raised.value)


def test_a_400_is_rejected_at_once_with_its_code(server: RecordingServer, fake_time: FakeTime) -> None:
    server.responder = Script(failure(400, "1004", "payload fails validation: id is required"))

    with pytest.raises(PublishRejected) as raised:
        publisher_for(server, fake_time).publish("Won", "v01", {})

    assert (raised.value.status, raised.value.error_code, raised.value.request_id) == (400, "1004", "req-1")
    assert raised.value.message == "payload fails validation: id is required"
    assert len(server.requests) == 1
    assert fake_time.waits == []


def test_network_errors_are_retried_then_reported_without_the_secret(fake_time: FakeTime) -> None:
    with RecordingServer() as gone:
        url = gone.url("/").rstrip("/")  # a port nothing listens on once closed
    publisher = Publisher(
        url, "acme", SECRET, retry_budget_seconds=1, sleep=fake_time.sleep, clock=fake_time.clock
    )

    with pytest.raises(PublishUnavailable) as raised:
        publisher.publish("Won", "v01", {"id": 1})

    assert raised.value.attempts > 1
    assert raised.value.last_error == "ConnectionError"
    assert SECRET not in str(raised.value)


def test_bulk_and_job(server: RecordingServer, fake_time: FakeTime) -> None:
    job = {"jobId": "job-1", "status": "SUCCESS", "totalCount": 1, "successCount": 1, "failureCount": 0}
    server.responder = lambda request: (
        Reply(202, body=b'{"jobId": "job-1"}')
        if request.method == "POST"
        else Reply(200, body=json.dumps(job).encode())
    )
    publisher = publisher_for(server, fake_time)

    submitted = publisher.bulk([{"eventName": "Won", "eventVersion": "v01", "payload": {"id": 1}}])
    status = publisher.job(submitted.job_id)

    assert submitted.job_id == "job-1"
    assert status.body["status"] == "SUCCESS"
    assert [r.path for r in server.requests] == [
        "/v1/eventManager/events/bulk",
        "/v1/eventManager/jobs/job-1",
    ]
    assert json.loads(server.requests[0].body)["events"][0]["payload"] == {"id": 1}


def test_an_unknown_job_is_rejected_as_not_found(server: RecordingServer, fake_time: FakeTime) -> None:
    server.responder = Script(failure(404, "1011", "not found"))

    with pytest.raises(PublishRejected) as raised:
        publisher_for(server, fake_time).job("nope")

    assert (raised.value.status, raised.value.error_code) == (404, "1011")


def test_bulk_retries_only_answers_that_say_nothing_was_accepted(
    server: RecordingServer, fake_time: FakeTime
) -> None:
    # The bulk API takes no Idempotency-Key: resending after an ambiguous outcome could make two jobs.
    server.responder = Script(
        failure(503, "1009", "Temporarily unable to accept the request"),
        failure(429, "1006", "rate limit exceeded", {"Retry-After": "2"}),
        failure(503, "1009", "The jobs queue did not answer, so the bulk request may have been accepted"),
    )

    with pytest.raises(PublishUnavailable) as raised:
        publisher_for(server, fake_time).bulk([{"eventName": "Won", "eventVersion": "v01", "payload": {}}])

    assert len(server.requests) == 3
    assert fake_time.waits == [pytest.approx(0.2), 2.0]
    assert raised.value.last_answer is not None
    assert "may have been accepted" in (raised.value.last_answer.message or "")


def test_bulk_is_not_resent_after_a_network_error(fake_time: FakeTime) -> None:
    with RecordingServer() as gone:
        url = gone.url("/").rstrip("/")
    publisher = Publisher(url, "acme", SECRET, sleep=fake_time.sleep, clock=fake_time.clock)

    with pytest.raises(PublishUnavailable) as raised:
        publisher.bulk([{"eventName": "Won", "eventVersion": "v01", "payload": {}}])

    assert (raised.value.attempts, raised.value.last_error, fake_time.waits) == (1, "ConnectionError", [])
