"""Create the resources that template.yaml declares (tables, queues) on an emulated AWS endpoint.

moto's CloudFormation cannot deploy a SAM template, so the local stack and the tests read the
Properties of each resource from template.yaml and create it with boto3: they cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


class TemplateError(ValueError):
    """template.yaml cannot be decoded, or names something the local stack cannot resolve."""


def _plain(value: Any) -> Any:
    # cfn-lint's nodes are dict/list/str subclasses that carry line marks: keep plain data only.
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


@cache
def _decode(text: str) -> dict[str, Any]:
    # cfn-lint's decoder is the one `make validate` trusts: short-form intrinsics (!Ref, !GetAtt,
    # !Sub, ...) become their long form ({"Fn::GetAtt": [logical_id, attribute]}), duplicate keys
    # and YAML aliases are refused. Imported here: it takes seconds and only the stack needs it.
    from cfnlint.decode import decode_str

    template, problems = decode_str(text)
    if problems or not isinstance(template, dict):
        details = "; ".join(str(problem) for problem in problems or []) or "not a mapping"
        raise TemplateError(details)
    decoded: dict[str, Any] = _plain(template)
    return decoded


def load_template(path: Path) -> dict[str, Any]:
    """template.yaml as plain data, intrinsics in long form (each distinct text decoded once)."""
    try:
        decoded = _decode(path.read_text(encoding="utf-8"))
    except TemplateError as exc:
        raise TemplateError(f"{path}: {exc}") from None
    copy: dict[str, Any] = json.loads(json.dumps(decoded))  # callers may change what they get
    return copy


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def resolve_intrinsics(
    value: Any,
    references: Mapping[str, str],
    where: str = "template",
    conditions: Mapping[str, bool] | None = None,
) -> Any:
    """Replace Ref, Fn::GetAtt, Fn::Sub, Fn::Join and Fn::If with what they give here.

    references: "LogicalId" or "AWS::Region" → what Ref gives; "LogicalId.Attribute" → what
    GetAtt gives. conditions: the template's Conditions, evaluated (`evaluate_conditions`); only
    the branch an Fn::If takes is resolved, so the other may name what does not exist here (a
    Cognito user pool the local stack replaces with its own issuer). Anything else (an unknown
    name or condition) is a TemplateError naming `where`.
    """
    known = conditions or {}
    if isinstance(value, list):
        return [resolve_intrinsics(item, references, where, known) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Fn::If":
            return resolve_intrinsics(_taken_branch(argument, known, where), references, where, known)
        if function in _INTRINSICS:
            return _INTRINSICS[function](argument, references, where)
        if function.startswith("Fn::") or function == "Condition":
            raise TemplateError(f"{where}: {function} is not supported by the local stack")
    return {key: resolve_intrinsics(item, references, f"{where}.{key}", known) for key, item in value.items()}


def _taken_branch(argument: Any, conditions: Mapping[str, bool], where: str) -> Any:
    name, if_true, if_false = argument
    if name not in conditions:
        raise TemplateError(f"{where}: condition {name!r} is unknown")
    return if_true if conditions[name] else if_false


def evaluate_conditions(template: Mapping[str, Any], references: Mapping[str, str]) -> dict[str, bool]:
    """The template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) as booleans."""
    declared: Mapping[str, Any] = template.get("Conditions") or {}
    evaluated: dict[str, bool] = {}

    def condition(name: str, seen: tuple[str, ...]) -> bool:
        if name in seen or name not in declared:
            raise TemplateError(f"Conditions.{name}: unknown or circular condition")
        if name not in evaluated:
            evaluated[name] = truth(declared[name], (*seen, name))
        return evaluated[name]

    def truth(value: Any, seen: tuple[str, ...]) -> bool:
        where = f"Conditions.{seen[-1]}"
        if not (isinstance(value, dict) and len(value) == 1):
            raise TemplateError(f"{where}: not a condition function")
        [(function, argument)] = value.items()
        if function == "Fn::Equals":
            left, right = (str(resolve_intrinsics(side, references, where)) for side in argument)
            return left == right
        if function == "Fn::Not":
            return not truth(argument[0], seen)
        if function == "Fn::And":
            return all(truth(item, seen) for item in argument)
        if function == "Fn::Or":
            return any(truth(item, seen) for item in argument)
        if function == "Condition":
            return condition(str(argument), seen)
        raise TemplateError(f"{where}: {function} is not supported by the local stack")

    for name in declared:
        condition(name, ())
    return evaluated


def _ref(argument: Any, references: Mapping[str, str], where: str) -> str:
    return _reference(str(argument), references, where)


def _get_att(argument: Any, references: Mapping[str, str], where: str) -> str:
    name = ".".join(argument) if isinstance(argument, list) else str(argument)
    return _reference(name, references, where)


def _sub(argument: Any, references: Mapping[str, str], where: str) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    scope = dict(references)
    for name, value in variables.items():
        scope[name] = str(resolve_intrinsics(value, references, where))
    return _SUB_VARIABLE.sub(lambda match: _reference(match.group(1), scope, where), text)


def _join(argument: Any, references: Mapping[str, str], where: str) -> str:
    separator, items = argument
    return str(separator).join(str(item) for item in resolve_intrinsics(items, references, where))


_INTRINSICS: dict[str, Callable[[Any, Mapping[str, str], str], str]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
}


def _reference(name: str, references: Mapping[str, str], where: str) -> str:
    if name not in references:
        raise TemplateError(f"{where}: cannot resolve {name!r} locally")
    return references[name]


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
    buckets: dict[str, str] = field(default_factory=dict)


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


def create_buckets(template: dict[str, Any], prefix: str, s3: Any, created: CreatedResources) -> None:
    """The template's buckets on moto's S3 (lowercase names; versioned as the template says).

    Their notifications are not configured here: moto does not send them, the local stack's
    `S3NotificationPoller` does (see notifications.py)."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        name = f"{prefix}-{logical_id}".lower()
        s3.create_bucket(Bucket=name)
        versioning = resource.get("Properties", {}).get("VersioningConfiguration", {})
        if versioning.get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        created.buckets[logical_id] = name


def create_stack_resources(
    template_path: Path, prefix: str, dynamodb: DynamoDBClient, sqs: SQSClient, s3: Any = None
) -> CreatedResources:
    template = load_template(template_path)
    created = CreatedResources()
    create_tables(template, prefix, dynamodb, created)
    create_queues(template, prefix, sqs, created)
    if s3 is not None:
        create_buckets(template, prefix, s3, created)
    return created
