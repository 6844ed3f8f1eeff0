"""The local stack's state folder against the embedded AWS: secrets and queued messages saved and
restored exactly, and a folder held by one stack refused to another."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import boto3
import pytest

from eventrelay.settings import Settings
from eventrelay_cli.local.state import StateDirectory, StateInUse


def _held(folder: Path) -> StateDirectory:
    state = StateDirectory(folder)
    state.acquire()
    return state


def test_queued_messages_come_back_with_their_attributes(tmp_path: Path, settings: Settings) -> None:
    sqs = boto3.client("sqs", region_name=settings.region)
    before = sqs.create_queue(QueueName=f"state-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    after = sqs.create_queue(QueueName=f"state-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    sqs.send_message(
        QueueUrl=before,
        MessageBody='{"eventId": "e-1"}',
        MessageAttributes={
            "tenantId": {"DataType": "String", "StringValue": "acme"},
            "digest": {"DataType": "Binary", "BinaryValue": b"\x00\xffraw"},
        },
    )
    sqs.send_message(QueueUrl=before, MessageBody='{"eventId": "e-2"}')
    state = _held(tmp_path)
    # When the queue is saved (the stack stops) and restored into the queue of a new run
    assert state.save_queues(sqs, {"EventsQueue": before}) == {"EventsQueue": 2}
    assert oct(state.queues_file.stat().st_mode & 0o777) == "0o600"
    assert state.restore_queues(sqs, {"EventsQueue": after}) == 2
    # Then the new queue holds the same messages with the same attributes, and the file is gone
    received = sqs.receive_message(
        QueueUrl=after, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
    )["Messages"]
    restored = {
        message["Body"]: {
            name: value.get("StringValue", value.get("BinaryValue"))
            for name, value in message.get("MessageAttributes", {}).items()
        }
        for message in received
    }
    assert restored == {
        '{"eventId": "e-1"}': {"tenantId": "acme", "digest": b"\x00\xffraw"},
        '{"eventId": "e-2"}': {},
    }
    assert not state.queues_file.exists()
    state.release()


def test_secrets_come_back_with_their_current_value(tmp_path: Path, settings: Settings) -> None:
    secrets = boto3.client("secretsmanager", region_name=settings.region)
    prefix = f"eventrelay/state-{uuid.uuid4().hex[:10]}/"
    secrets.create_secret(Name=f"{prefix}tenants/acme", SecretString='{"current": "old"}', Description="d")
    secrets.put_secret_value(SecretId=f"{prefix}tenants/acme", SecretString='{"current": "new"}')
    secrets.create_secret(Name="eventrelay/another-stack/tenants/x", SecretString="{}")
    state = _held(tmp_path)
    assert state.save_secrets(secrets, prefix) == 1
    assert oct(state.secrets_file.stat().st_mode & 0o777) == "0o600"
    # When the secrets are gone (a new run's Secrets Manager is empty) and restored
    secrets.delete_secret(SecretId=f"{prefix}tenants/acme", ForceDeleteWithoutRecovery=True)
    assert state.restore_secrets(secrets) == 1
    # Then the current value is back, and only this stack's secrets were saved
    value = secrets.get_secret_value(SecretId=f"{prefix}tenants/acme", VersionStage="AWSCURRENT")
    assert value["SecretString"] == '{"current": "new"}'
    state.release()


def test_a_folder_held_by_a_stack_is_refused_to_another(tmp_path: Path) -> None:
    first = _held(tmp_path)
    second = StateDirectory(tmp_path)
    with pytest.raises(StateInUse) as refused:
        second.acquire()
    assert refused.value.owner_pid == str(os.getpid())
    with pytest.raises(RuntimeError):
        second.wipe()  # nothing is touched without the lock
    first.release()
    second.acquire()
    assert second.held
    second.release()
