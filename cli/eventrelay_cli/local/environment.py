"""One embedded AWS environment: backends started, endpoints exported, template resources created."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from eventrelay.aws import reset_clients
from eventrelay.settings import Settings
from eventrelay_cli.local.backends import (
    LOCAL_CREDENTIALS,
    DynamoDBLocal,
    MotoServer,
    find_dynamodb_local_jar,
)
from eventrelay_cli.local.template_resources import CreatedResources, create_stack_resources

LOCAL_REGION = "us-east-1"


@dataclass
class LocalAws:
    """Start with `start()`, stop with `stop()`; `settings` then point every handler at it.

    use_dynamodb_local: None picks DynamoDB Local when its jar is installed, else moto for tables.
    """

    template: Path
    stack_name: str = "eventrelay-local"
    use_dynamodb_local: bool | None = None
    outbound_allow: str = ""
    moto: MotoServer = field(init=False)
    dynamodb_local: DynamoDBLocal | None = field(init=False, default=None)
    resources: CreatedResources = field(init=False)
    settings: Settings = field(init=False)
    _previous_environ: dict[str, str | None] = field(init=False, default_factory=dict)

    @property
    def dynamodb_url(self) -> str:
        return self.dynamodb_local.url if self.dynamodb_local else self.moto.url

    def environ(self) -> dict[str, str]:
        """Variables that point boto3 and eventrelay at this environment."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            **self.settings.as_environ(),
        }

    def start(self) -> LocalAws:
        self.moto = MotoServer()
        self.moto.start()
        jar = find_dynamodb_local_jar(self.template.parent)
        if self.use_dynamodb_local or (self.use_dynamodb_local is None and jar is not None):
            if jar is None:
                raise RuntimeError("DynamoDB Local requested but not installed (make install-dynamodb-local)")
            self.dynamodb_local = DynamoDBLocal(jar)
            self.dynamodb_local.start()
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=LOCAL_REGION,
        )
        self.resources = create_stack_resources(
            self.template,
            self.stack_name,
            session.client("dynamodb", endpoint_url=self.dynamodb_url),
            session.client("sqs", endpoint_url=self.moto.url),
        )
        self.settings = Settings(
            region=LOCAL_REGION,
            config_table=self.resources.tables["ConfigTable"],
            limits_table=self.resources.tables["LimitsTable"],
            deliveries_table=self.resources.tables.get("DeliveriesTable", ""),
            events_queue_url=self.resources.queue_urls["EventsQueue"],
            jobs_queue_url=self.resources.queue_urls["JobsQueue"],
            secret_prefix=f"eventrelay/{self.stack_name}/",
            outbound_allow=self.outbound_allow,
        )
        return self

    def export(self) -> None:
        """Put this environment's variables into os.environ (the in-process handlers read them)."""
        for key, value in self.environ().items():
            self._previous_environ.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        reset_clients()

    def stop(self) -> None:
        for key, value in self._previous_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_clients()
        if self.dynamodb_local is not None:
            self.dynamodb_local.stop()
        self.moto.stop()


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
