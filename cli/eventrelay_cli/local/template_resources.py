"""Create the resources that template.yaml declares (tables, queues) on an emulated AWS endpoint.

moto's CloudFormation cannot deploy a SAM template, so the local stack and the tests read the
Properties of each resource from template.yaml and create it with boto3: they cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form intrinsics (!Ref, !GetAtt, !Sub) as dicts."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return loaded


def find_template(start: Path | None = None) -> Path:
    """template.yaml in the given folder or the nearest parent (the repository root)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "template.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("template.yaml not found in this folder or any parent")


@dataclass
class CreatedResources:
    """Physical names of what was created, by logical id."""

    tables: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)


def _table_arguments(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    return arguments


def create_tables(
    template: dict[str, Any], prefix: str, dynamodb: DynamoDBClient, created: CreatedResources
) -> None:
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        name = f"{prefix}-{logical_id}"
        properties = resource["Properties"]
        if name not in existing:
            dynamodb.create_table(**_table_arguments(name, properties))
            dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
            ttl = properties.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )
        created.tables[logical_id] = name


def _resolve(value: Any, created: CreatedResources) -> Any:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "Arn" and logical_id in created.queue_arns:
            return created.queue_arns[logical_id]
        raise ValueError(f"cannot resolve {value!r} locally")
    return value


def create_queues(template: dict[str, Any], prefix: str, sqs: SQSClient, created: CreatedResources) -> None:
    queues = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    # Dead-letter queues first: a redrive policy names its target by ARN.
    ordered = sorted(queues, key=lambda lid: "RedrivePolicy" in queues[lid].get("Properties", {}))
    for logical_id in ordered:
        properties = queues[logical_id].get("Properties", {})
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
        ):
            if key in properties:
                attributes[key] = str(properties[key])
        if "RedrivePolicy" in properties:
            policy = properties["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": _resolve(policy["deadLetterTargetArn"], created),
                    "maxReceiveCount": int(policy["maxReceiveCount"]),
                }
            )
        url = sqs.create_queue(QueueName=f"{prefix}-{logical_id}", Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created.queue_urls[logical_id] = url
        created.queue_arns[logical_id] = arn


def create_stack_resources(
    template_path: Path, prefix: str, dynamodb: DynamoDBClient, sqs: SQSClient
) -> CreatedResources:
    template = load_template(template_path)
    created = CreatedResources()
    create_tables(template, prefix, dynamodb, created)
    create_queues(template, prefix, sqs, created)
    return created
