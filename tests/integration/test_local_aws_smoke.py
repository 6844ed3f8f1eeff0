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
