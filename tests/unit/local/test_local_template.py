"""template.yaml through cfn-lint's decoder, and the references the local stack resolves in it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from eventrelay_cli.local.template_resources import TemplateError, load_template, resolve_intrinsics
from tests.conftest import TEMPLATE


def test_the_project_template_decodes_with_intrinsics_in_long_form() -> None:
    template = load_template(TEMPLATE)
    jobs = template["Resources"]["BulkWorkerFunction"]["Properties"]["Events"]["Jobs"]["Properties"]
    assert jobs["Queue"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EVENTRELAY_CONFIG_TABLE"] == {"Ref": "ConfigTable"}
    assert variables["EVENTRELAY_SECRET_PREFIX"] == {"Fn::Sub": "eventrelay/${AWS::StackName}/"}
    # Plain data, not the decoder's node classes
    assert type(variables) is dict
    assert type(variables["POWERTOOLS_SERVICE_NAME"]) is dict
    assert type(variables["POWERTOOLS_SERVICE_NAME"]["Ref"]) is str


def test_a_template_the_decoder_refuses_is_a_template_error(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text("Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"template\.yaml: .*A"):
        load_template(broken)


def test_a_changed_template_is_read_again(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {A: {Type: One}}\n", encoding="utf-8")
    assert load_template(template)["Resources"]["A"]["Type"] == "One"
    template.write_text(textwrap.dedent("Resources: {A: {Type: Two}}\n"), encoding="utf-8")
    assert load_template(template)["Resources"]["A"]["Type"] == "Two"


def test_references_resolve_as_cloudformation_resolves_them() -> None:
    references = {
        "ConfigTable": "stack-ConfigTable",
        "EventsQueue": "http://sqs/q",
        "EventsQueue.Arn": "arn:aws:sqs:us-east-1:1:q",
        "AWS::StackName": "stack",
        "LogLevel": "INFO",
    }
    value = {
        "Table": {"Ref": "ConfigTable"},
        "Queue": {"Fn::GetAtt": ["EventsQueue", "Arn"]},
        "Short": {"Fn::GetAtt": "EventsQueue.Arn"},
        "Prefix": {"Fn::Sub": "eventrelay/${AWS::StackName}/${Extra}"},
        "Joined": {"Fn::Join": ["-", [{"Ref": "LogLevel"}, "x"]]},
        "Plain": ["a", 1],
    }
    resolved = resolve_intrinsics(
        {**value, "Prefix": {"Fn::Sub": [value["Prefix"]["Fn::Sub"], {"Extra": "e"}]}}, references
    )
    assert resolved == {
        "Table": "stack-ConfigTable",
        "Queue": "arn:aws:sqs:us-east-1:1:q",
        "Short": "arn:aws:sqs:us-east-1:1:q",
        "Prefix": "eventrelay/stack/e",
        "Joined": "INFO-x",
        "Plain": ["a", 1],
    }


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "Nowhere"},
        {"Fn::If": ["C", "a", "b"]},
        {"Fn::Sub": "${Unknown}"},
        {"Fn::GetAtt": ["T", "StreamArn"]},
    ],
)
def test_what_the_local_stack_cannot_resolve_is_named(value: object) -> None:
    with pytest.raises(TemplateError, match=r"Function\.Environment"):
        resolve_intrinsics({"VARIABLE": value}, {"T": "t"}, "Function.Environment")
