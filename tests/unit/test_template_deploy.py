"""template.yaml as an AWS practitioner would ship it: data survives updates and deletes, every log
has a retention, every queue and function is watched by an alarm that notifies someone, and the
dashboard shows those alarms. Read through cfn-lint's decoder, as the local stack reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventrelay.delivery import metrics as delivery_metrics
from eventrelay_cli.local.template_resources import load_template
from tests.support.paths import TEMPLATE

# Resource types that hold data CloudFormation would delete with the resource.
STATEFUL_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
    "AWS::Cognito::UserPool",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
}
# Stateful resources whose loss is harmless, each with its reason in template.yaml.
THROWAWAY = {"LimitsTable"}  # fixed-window counters that expire within their window


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def resources_of(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] in types}


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in resources_of(template, "AWS::CloudWatch::Alarm").items()}


def alarm_dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in alarm.get("Dimensions", [])}


def alarms_on(template: dict[str, Any], metric: str, dimension: str, value: Any) -> list[str]:
    return [
        name
        for name, alarm in alarms(template).items()
        if alarm["MetricName"] == metric and alarm_dimensions(alarm).get(dimension) == value
    ]


def test_every_stateful_resource_states_what_happens_to_its_data(template: dict[str, Any]) -> None:
    stateful = resources_of(template, *STATEFUL_TYPES)
    assert {"ConfigTable", "DeliveriesTable", "EventsQueue", "EventsDeadLetterQueue"} <= set(stateful)
    for name, resource in stateful.items():
        expected = "Delete" if name in THROWAWAY else "Retain"
        assert resource.get("DeletionPolicy") in {expected, "Snapshot"}, name
        assert resource.get("UpdateReplacePolicy") in {expected, "Snapshot"}, name


def test_tables_that_hold_data_can_be_restored_to_a_point_in_time(template: dict[str, Any]) -> None:
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        if name in THROWAWAY:
            continue
        recovery = table["Properties"].get("PointInTimeRecoverySpecification", {})
        assert recovery.get("PointInTimeRecoveryEnabled") is True, name


def test_every_log_group_keeps_logs_for_the_configured_days(template: dict[str, Any]) -> None:
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_every_function_logs_to_a_log_group_of_the_stack(template: dict[str, Any]) -> None:
    # Without LoggingConfig, Lambda creates /aws/lambda/<name> itself, with no retention.
    groups = resources_of(template, "AWS::Logs::LogGroup")
    functions = resources_of(template, "AWS::Serverless::Function")
    assert functions
    for name, function in functions.items():
        destination = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
        assert destination.get("Ref") in groups, name


def test_the_api_writes_json_access_logs_to_a_log_group_of_the_stack(template: dict[str, Any]) -> None:
    settings = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"]["Fn::GetAtt"][0] in resources_of(template, "AWS::Logs::LogGroup")
    line = json.loads(settings["Format"])  # API Gateway fills in the $context variables
    assert line["requestId"] == "$context.requestId"
    assert line["status"] == "$context.status"
    assert line["routeKey"] == "$context.routeKey"
    assert line["responseLatencyMs"] == "$context.responseLatency"
    assert line["integrationError"] == "$context.integrationErrorMessage"


def test_the_stage_bursts_at_least_its_steady_rate(template: dict[str, Any]) -> None:
    route = template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert route["ThrottlingBurstLimit"] >= route["ThrottlingRateLimit"]


def test_every_dead_letter_queue_has_an_alarm_on_its_depth(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    dead_letter_queues = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in queues.values()
        if "RedrivePolicy" in queue["Properties"]
    }
    assert dead_letter_queues == {
        "EventsDeadLetterQueue",
        "JobsDeadLetterQueue",
        "DatasetRunsDeadLetterQueue",
        "DatasetDeliveriesDeadLetterQueue",
    }
    for queue in dead_letter_queues:
        watching = alarms_on(
            template, "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]}
        )
        assert watching, queue
        assert all(alarms(template)[name]["Threshold"] == 0 for name in watching)


def test_every_queue_has_an_alarm_on_its_oldest_message(template: dict[str, Any]) -> None:
    for queue in resources_of(template, "AWS::SQS::Queue"):
        assert alarms_on(
            template, "ApproximateAgeOfOldestMessage", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]}
        ), queue


def test_every_function_has_error_and_throttle_alarms(template: dict[str, Any]) -> None:
    for function in resources_of(template, "AWS::Serverless::Function"):
        for metric in ("Errors", "Throttles"):
            assert alarms_on(template, metric, "FunctionName", {"Ref": function}), (function, metric)


def test_the_api_has_a_5xx_alarm(template: dict[str, Any]) -> None:
    assert alarms_on(template, "5xx", "ApiId", {"Ref": "HttpApi"})


def test_failed_deliveries_alarm_reads_the_metric_the_runner_emits(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    [name] = [
        name for name, alarm in alarms(template).items() if alarm["MetricName"] == delivery_metrics.FAILED
    ]
    alarm = alarms(template)[name]
    # The namespace and service the functions are given are the ones the alarm reads.
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm_dimensions(alarm) == {"service": variables["POWERTOOLS_SERVICE_NAME"]}


def test_metrics_namespace_and_service_are_the_stacks_own(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert "${AWS::StackName}" in variables["POWERTOOLS_METRICS_NAMESPACE"]["Fn::Sub"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}


def test_every_alarm_notifies_the_alarm_topic_and_is_on_the_dashboard(template: dict[str, Any]) -> None:
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    every_alarm = alarms(template)
    assert len(every_alarm) >= 10
    for name, alarm in every_alarm.items():
        assert {"Ref": "AlarmTopic"} in alarm["AlarmActions"], name
        assert f"${{{name}.Arn}}" in body, name


def test_functions_publish_a_live_alias_and_carry_tags(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["AutoPublishAlias"] == "live"
    assert function_globals["DeploymentPreference"]["Type"] == {"Ref": "DeploymentType"}
    assert function_globals["Tags"]["application"] == "eventrelay"
    assert function_globals["PropagateTags"] is True


# -- issue 12, cost: what each invocation is billed for -----------------------------------------


def test_every_function_logs_json_with_platform_lines_at_warn_and_its_level_a_parameter(
    template: dict[str, Any],
) -> None:
    functions = resources_of(template, "AWS::Serverless::Function")
    assert functions
    for name, function in functions.items():
        logging_config = function["Properties"]["LoggingConfig"]
        assert logging_config["LogFormat"] == "JSON", name
        # START, END and REPORT are INFO platform lines: at WARN none is written per invocation.
        assert logging_config["SystemLogLevel"] == "WARN", name
        assert logging_config["ApplicationLogLevel"] == {
            "Fn::FindInMap": ["ApplicationLogLevels", {"Ref": "LogLevel"}, "Lambda"]
        }, name
    # Every level the parameter allows maps to one Lambda accepts.
    lambda_levels = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
    levels = template["Mappings"]["ApplicationLogLevels"]
    assert set(levels) == set(template["Parameters"]["LogLevel"]["AllowedValues"])
    assert {level["Lambda"] for level in levels.values()} <= lambda_levels


def test_xray_sampling_is_a_parameter_and_zero_turns_tracing_off(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["TracingSamplingRate"]
    assert (parameter["MinValue"], parameter["MaxValue"]) == (0, 1)
    rule = template["Resources"]["TracingSamplingRule"]
    assert rule["Type"] == "AWS::XRay::SamplingRule"
    assert rule["Properties"]["SamplingRule"]["FixedRate"] == {"Ref": "TracingSamplingRate"}
    assert template["Conditions"]["TracingOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "TracingSamplingRate"}, 0]}]
    }
    function_globals = template["Globals"]["Function"]
    assert function_globals["Tracing"] == {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
    variables = function_globals["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TracingOn", "false", "true"]}


def test_the_secret_cache_period_is_a_parameter_within_the_settings_bounds(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["SecretCacheSeconds"]
    assert (parameter["MinValue"], parameter["MaxValue"]) == (0, 3600)  # Settings' bounds
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EVENTRELAY_SECRET_CACHE_SECONDS"] == {"Ref": "SecretCacheSeconds"}


def test_the_dashboard_counts_publishes_with_api_gateway_metrics_not_a_metric_line_per_call(
    template: dict[str, Any],
) -> None:
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    assert "EventsPublished" not in body
    assert '"AWS/ApiGateway", "Count"' in body
