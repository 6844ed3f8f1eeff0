"""One embedded AWS environment: backends started, endpoints exported, template resources created."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

from eventrelay.aws import reset_clients
from eventrelay.settings import Settings
from eventrelay_cli.local.backends import (
    LOCAL_CREDENTIALS,
    DynamoDBLocal,
    MotoServer,
    find_dynamodb_local_jar,
)
from eventrelay_cli.local.template_resources import (
    CreatedResources,
    create_stack_resources,
    evaluate_conditions,
    load_template,
    resolve_intrinsics,
)
from eventrelay_cli.local.token_issuer import LOCAL_AUDIENCE, LOCAL_ISSUER

if TYPE_CHECKING:
    from eventrelay_cli.local.lambda_runtime import FunctionSpec

LOCAL_REGION = "us-east-1"
# The local stack is its own token issuer (token_issuer.py), as a deployer who brings an issuer:
# the template's Cognito user pool is then not needed (its Conditions pick these parameters).
LOCAL_ADMIN_ISSUER_PARAMETERS = {"AdminTokenIssuer": LOCAL_ISSUER, "AdminTokenAudience": LOCAL_AUDIENCE}
LOCAL_ACCOUNT_ID = "123456789012"  # moto's account: the ARNs it reports carry it


@dataclass
class LocalAws:
    """Start with `start()`, stop with `stop()`; `settings` then point every handler at it.

    use_dynamodb_local: None picks DynamoDB Local when its jar is installed, else moto for tables.
    """

    template: Path
    stack_name: str = "eventrelay-local"
    use_dynamodb_local: bool | None = None
    outbound_allow: str = ""
    # DynamoDB Local keeps its tables here (on disk, surviving a restart); None keeps them in memory.
    dynamodb_path: Path | None = None
    # Template parameters the local stack sets (the others keep their Default).
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    # Where the admin function fetches the local issuer's keys (the stack's gateway serves them).
    admin_jwks_url: str = ""
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
        return {**self.endpoints(), **self.settings.as_environ()}

    def endpoints(self) -> dict[str, str]:
        """What a function needs to reach this environment instead of AWS: endpoints, credentials."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
        }

    def references(self) -> dict[str, str]:
        """What Ref / GetAtt / ${...} give in this environment: parameters, pseudo parameters, resources."""
        template = load_template(self.template)
        parameters = {
            name: str(declared.get("Default", ""))
            for name, declared in (template.get("Parameters") or {}).items()
        }
        references = {
            **parameters,
            "OutboundAllow": self.outbound_allow,
            **LOCAL_ADMIN_ISSUER_PARAMETERS,
            "AdminJwksUrl": self.admin_jwks_url,
            **self.parameter_overrides,
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        for logical_id, table in self.resources.tables.items():
            references[logical_id] = table
            references[f"{logical_id}.Arn"] = (
                f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:table/{table}"
            )
        for logical_id, bucket in self.resources.buckets.items():
            references[logical_id] = bucket
            references[f"{logical_id}.Arn"] = f"arn:aws:s3:::{bucket}"
        for logical_id, url in self.resources.queue_urls.items():
            references[logical_id] = url  # Ref of a queue is its URL
            references[f"{logical_id}.QueueUrl"] = url
            references[f"{logical_id}.QueueName"] = url.rsplit("/", 1)[-1]
            references[f"{logical_id}.Arn"] = self.resources.queue_arns[logical_id]
        return references

    def function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The environment the template gives `spec` here: its variables resolved, this AWS's endpoints.

        X-Ray is off (there is no daemon to send segments to); Lambda's own variables are added by
        `LocalFunction.from_spec`. Nothing of this process's environment is passed on.
        """
        references = self.references()
        variables = resolve_intrinsics(
            dict(spec.environment),
            references,
            f"{spec.logical_id}.Environment.Variables",
            evaluate_conditions(load_template(self.template), references),
        )
        return {
            **{name: str(value) for name, value in variables.items()},
            "POWERTOOLS_TRACE_DISABLED": "true",
            **self.endpoints(),
        }

    def start(self) -> LocalAws:
        self.moto = MotoServer()
        self.moto.start()
        jar = find_dynamodb_local_jar(self.template.parent)
        if self.use_dynamodb_local or (self.use_dynamodb_local is None and jar is not None):
            if jar is None:
                raise RuntimeError("DynamoDB Local requested but not installed (make install-dynamodb-local)")
            self.dynamodb_local = DynamoDBLocal(jar, self.dynamodb_path)
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
            session.client("s3", endpoint_url=self.moto.url),
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
            datasets_bucket=self.resources.buckets.get("DatasetsBucket", ""),
            dataset_runs_queue_url=self.resources.queue_urls.get("DatasetRunsQueue", ""),
            dataset_deliveries_queue_url=self.resources.queue_urls.get("DatasetDeliveriesQueue", ""),
            admin_token_issuer=LOCAL_ISSUER,
            admin_token_audiences=LOCAL_AUDIENCE,
            # As the template says: without a JWKS URL, the issuer's well-known one.
            admin_jwks_url=self.admin_jwks_url or f"{LOCAL_ISSUER}/.well-known/jwks.json",
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
