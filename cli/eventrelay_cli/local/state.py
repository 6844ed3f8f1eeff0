"""The local stack's state directory: what survives a restart, and who owns it while a stack runs.

`<state dir>/.eventrelay/` holds
- `local.json`: the running stack's endpoints for the CLI (written at start, removed at stop);
- `lock`: held (flock) by the running stack, with its pid: a second stack on the same folder
  stops before touching anything;
- `dynamodb/`: DynamoDB Local's tables on disk;
- `secrets.json` (0600): every Secrets Manager secret of the stack, saved at stop, restored at start;
- `queues.json` (0600): the messages waiting in each queue at stop, sent again at start;
- `token-key.json` (0600): the local token issuer's private key (see token_issuer.py), so that
  `eventrelay token` signs tokens the running stack accepts.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

STATE_FOLDER = ".eventrelay"
TOKEN_KEY_FILE = "token-key.json"  # noqa: S105 - a file name, not a secret
# Long enough that a message received to be saved is not handed out again while the rest is read.
_SAVE_VISIBILITY_SECONDS = 300


class StateInUse(Exception):
    def __init__(self, folder: Path, owner_pid: str) -> None:
        super().__init__(f"{folder} is used by a running local stack (pid {owner_pid or 'unknown'})")
        self.folder = folder
        self.owner_pid = owner_pid


def _write_private(path: Path, document: Any) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(document, stream)
    temporary.replace(path)


class StateDirectory:
    """`acquire()` first (StateInUse when another stack holds it); every other method needs it held."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / STATE_FOLDER
        self._lock: IO[str] | None = None

    @property
    def endpoints_file(self) -> Path:
        return self.folder / "local.json"

    @property
    def dynamodb_path(self) -> Path:
        return self.folder / "dynamodb"

    @property
    def secrets_file(self) -> Path:
        return self.folder / "secrets.json"

    @property
    def queues_file(self) -> Path:
        return self.folder / "queues.json"

    @property
    def token_key_file(self) -> Path:
        return self.folder / TOKEN_KEY_FILE

    def write_token_key(self, document: Mapping[str, Any]) -> None:
        self._require_held()
        _write_private(self.token_key_file, document)

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = (self.folder / "lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip()
            lock.close()
            raise StateInUse(self.folder, owner) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock

    @property
    def held(self) -> bool:
        return self._lock is not None

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # closing the descriptor releases the flock

    def wipe(self) -> None:
        """Forget every saved table, secret and message (`eventrelay local --fresh`)."""
        self._require_held()
        shutil.rmtree(self.dynamodb_path, ignore_errors=True)
        self.secrets_file.unlink(missing_ok=True)
        self.queues_file.unlink(missing_ok=True)

    def write_endpoints(self, document: Mapping[str, Any]) -> None:
        self._require_held()
        _write_private(self.endpoints_file, document)

    def remove_endpoints(self) -> None:
        self._require_held()
        self.endpoints_file.unlink(missing_ok=True)

    def save_secrets(self, client: SecretsManagerClient, prefix: str) -> int:
        """Every secret named `prefix...` with its current value; returns how many."""
        self._require_held()
        saved: list[dict[str, str]] = []
        for page in client.get_paginator("list_secrets").paginate():
            for listed in page.get("SecretList", []):
                name = listed.get("Name", "")
                if not name.startswith(prefix):
                    continue
                value = client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
                saved.append(
                    {
                        "name": name,
                        "description": listed.get("Description", ""),
                        "value": value["SecretString"],
                    }
                )
        _write_private(self.secrets_file, saved)
        return len(saved)

    def restore_secrets(self, client: SecretsManagerClient) -> int:
        self._require_held()
        if not self.secrets_file.is_file():
            return 0
        saved: list[dict[str, str]] = json.loads(self.secrets_file.read_text(encoding="utf-8"))
        for secret in saved:
            client.create_secret(
                Name=secret["name"], Description=secret["description"], SecretString=secret["value"]
            )
        return len(saved)

    def save_queues(self, sqs: SQSClient, queue_urls: Mapping[str, str]) -> dict[str, int]:
        """Receive every visible message of each queue (by logical id) and save it; counts saved."""
        self._require_held()
        saved: dict[str, list[dict[str, Any]]] = {}
        for logical_id, url in queue_urls.items():
            messages: list[dict[str, Any]] = []
            while True:
                received = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=_SAVE_VISIBILITY_SECONDS,
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not received:
                    break
                messages.extend(
                    {"body": message["Body"], "attributes": _saved_attributes(message)}
                    for message in received
                )
            saved[logical_id] = messages
        _write_private(self.queues_file, saved)
        return {logical_id: len(messages) for logical_id, messages in saved.items()}

    def restore_queues(self, sqs: SQSClient, queue_urls: Mapping[str, str]) -> int:
        """Send the saved messages again (each queue by logical id), then forget them; how many."""
        self._require_held()
        if not self.queues_file.is_file():
            return 0
        saved: dict[str, list[dict[str, Any]]] = json.loads(self.queues_file.read_text(encoding="utf-8"))
        restored = 0
        for logical_id, messages in saved.items():
            url = queue_urls.get(logical_id)
            if url is None:
                continue  # the template no longer has this queue
            for message in messages:
                attributes = _sendable_attributes(message["attributes"])
                if attributes:
                    sqs.send_message(QueueUrl=url, MessageBody=message["body"], MessageAttributes=attributes)
                else:
                    sqs.send_message(QueueUrl=url, MessageBody=message["body"])
                restored += 1
        # Sent again: keeping the file would send them a second time after the next crash.
        self.queues_file.unlink()
        return restored

    def _require_held(self) -> None:
        if self._lock is None:
            raise RuntimeError("the state directory is not held by this stack")


def _saved_attributes(message: Any) -> dict[str, dict[str, str]]:
    attributes: dict[str, dict[str, str]] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        saved = {"DataType": value["DataType"]}
        if "StringValue" in value:
            saved["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            saved["BinaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        attributes[name] = saved
    return attributes


def _sendable_attributes(saved: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, value in saved.items():
        sendable: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            sendable["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            sendable["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        attributes[name] = sendable
    return attributes
