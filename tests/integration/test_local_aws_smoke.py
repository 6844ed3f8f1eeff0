from __future__ import annotations

import boto3

from eventrelay_cli.local.environment import LocalAws


def test_template_resources_exist_on_the_emulated_endpoints(local_aws: LocalAws) -> None:
    # Given the embedded AWS created from template.yaml
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    # Then the limits table has TTL on expiresAt and the events queue redrives to its DLQ
    ttl = dynamodb.describe_time_to_live(TableName=local_aws.settings.limits_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
    attributes = sqs.get_queue_attributes(
        QueueUrl=local_aws.settings.events_queue_url, AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
    )["Attributes"]
    assert local_aws.resources.queue_arns["EventsDeadLetterQueue"] in attributes["RedrivePolicy"]
    assert attributes["VisibilityTimeout"] == "180"


def test_each_function_gets_the_settings_the_stack_itself_uses(local_aws: LocalAws) -> None:
    # The template's Environment, resolved against this environment, must say what the local
    # stack's own Settings say: the handlers and the admin side read the same tables and queues.
    from eventrelay_cli.local.lambda_runtime import read_function_specs
    from tests.conftest import TEMPLATE

    expected = local_aws.settings.as_environ()
    for spec in read_function_specs(TEMPLATE).values():
        environment = local_aws.function_environment(spec)
        shared = {name for name in environment if name in expected and name.startswith("EVENTRELAY_")}
        assert shared >= {
            "EVENTRELAY_CONFIG_TABLE",
            "EVENTRELAY_EVENTS_QUEUE_URL",
            "EVENTRELAY_SECRET_PREFIX",
        }
        assert {name: environment[name] for name in shared} == {name: expected[name] for name in shared}
        assert environment["AWS_ENDPOINT_URL"] == local_aws.moto.url
        assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == local_aws.dynamodb_url
        assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"
