"""An invocation past its timeout is killed, as Lambda kills it: nothing it would do next happens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from eventrelay.aws import sqs_client
from eventrelay_cli.local.environment import LocalAws, unique_name
from eventrelay_cli.local.http_gateway import HttpGateway
from eventrelay_cli.local.lambda_runtime import InvocationError, LocalFunction
from tests.support.local_functions import SLOW_SENDER_HANDLER, write_function
from tests.support.waiting import process_is_gone, wait_until

# Long enough for a first invocation on a busy machine, short enough to wait for.
TIMEOUT_SECONDS = 3


@pytest.fixture
def queue_url(local_aws: LocalAws) -> Iterator[str]:
    sqs = sqs_client(local_aws.settings.region)
    url = sqs.create_queue(QueueName=unique_name("local-timeout"))["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def messages_in(local_aws: LocalAws, url: str) -> int:
    attributes = sqs_client(local_aws.settings.region).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@pytest.fixture
def slow_sender(tmp_path: Path, local_aws: LocalAws) -> Iterator[LocalFunction]:
    """A function with a 3 s timeout whose handler works, then sends an SQS message and marks it finished."""
    folder = write_function(tmp_path, "slow_sender", SLOW_SENDER_HANDLER)
    function = LocalFunction.from_code(
        "SlowSenderFunction",
        folder,
        environment=local_aws.endpoints(),
        timeout_seconds=TIMEOUT_SECONDS,
        region=local_aws.settings.region,
    )
    yield function
    function.close()


def started_pids(markers: Path) -> list[int]:
    return [int(path.name.removeprefix("started-")) for path in markers.glob("started-*")]


def test_an_invocation_past_its_timeout_is_killed_before_its_send(
    tmp_path: Path, local_aws: LocalAws, queue_url: str, slow_sender: LocalFunction
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    event = {"markers": str(markers), "queueUrl": queue_url, "body": "late"}
    # Given a warm instance (the cold start is not part of the invocation's time)
    slow_sender.invoke({**event, "workSeconds": 0, "body": "warm-up"})
    assert messages_in(local_aws, queue_url) == 1
    (markers / "finished").unlink()
    for path in markers.glob("started-*"):
        path.unlink()
    # When an invocation works longer than the function's timeout
    with pytest.raises(InvocationError) as caught:
        slow_sender.invoke({**event, "workSeconds": 60})
    # Then the caller gets Lambda's timeout error
    assert caught.value.error_type == "Sandbox.Timedout"
    assert caught.value.error_message == f"Task timed out after {TIMEOUT_SECONDS}.00 seconds"
    # And the instance's process is gone: it can do nothing more
    [pid] = started_pids(markers)
    wait_until(lambda: process_is_gone(pid), timeout=5, what="the timed-out worker's death")
    assert slow_sender.instance_count == 0
    # So what it would have done after its work never happened
    assert not (markers / "finished").exists()
    assert messages_in(local_aws, queue_url) == 1  # only the warm-up's message


def test_a_new_instance_serves_after_a_timeout_and_its_effects_are_observable(
    tmp_path: Path, local_aws: LocalAws, queue_url: str, slow_sender: LocalFunction
) -> None:
    # The control: the very effects the killed invocation never had do show when there is time.
    markers = tmp_path / "markers"
    markers.mkdir()
    event = {"markers": str(markers), "queueUrl": queue_url, "body": "in-time"}
    with pytest.raises(InvocationError):
        slow_sender.invoke({**event, "workSeconds": 60})
    [killed] = started_pids(markers)
    result = slow_sender.invoke({**event, "workSeconds": 0})
    assert result["body"] != str(killed)
    assert (markers / "finished").read_text() == result["body"]
    assert messages_in(local_aws, queue_url) == 1
    assert slow_sender.cold_starts == 2


def test_the_gateway_answers_a_timed_out_invocation_as_api_gateway_does(
    tmp_path: Path, local_aws: LocalAws, queue_url: str, slow_sender: LocalFunction
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    gateway = HttpGateway()
    gateway.add_route("POST /slow", slow_sender)
    with gateway:
        response = requests.post(
            f"{gateway.url}/slow",
            data=json.dumps({"markers": str(markers), "queueUrl": queue_url, "body": "x", "workSeconds": 60}),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    # A failed Lambda integration: 500 with API Gateway's own body (see http_gateway's docstring)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert response.headers["apigw-requestid"]
    [pid] = started_pids(markers)
    wait_until(lambda: process_is_gone(pid), timeout=5, what="the timed-out worker's death")
    assert not (markers / "finished").exists()
    assert messages_in(local_aws, queue_url) == 0
