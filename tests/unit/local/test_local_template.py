"""template.yaml through cfn-lint's decoder, and the references the local stack resolves in it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from eventrelay_cli.local.template_resources import (
    TemplateError,
    evaluate_conditions,
    load_template,
    resolve_intrinsics,
)
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


def test_conditions_pick_the_branch_and_only_that_branch_is_resolved() -> None:
    # Given the project template's admin identity: Cognito unless the deployer brings an issuer
    template = load_template(TEMPLATE)
    variables = template["Resources"]["AdminApiFunction"]["Properties"]["Environment"]["Variables"]
    defaults = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    own_issuer = {
        **defaults,
        "AdminTokenIssuer": "https://issuer.example",
        "AdminTokenAudience": "aud-1",
        "AdminJwksUrl": "",
        "ConsoleAuthorizeUrl": "https://issuer.example/authorize",
        "ConsoleTokenUrl": "https://issuer.example/token",
        "ConsoleClientId": "console-client",
    }
    no_issuer = {**defaults, "AdminTokenIssuer": "", "AdminTokenAudience": "", "AdminJwksUrl": ""}
    # When the deployer brings one, the user pool's branch (unresolvable here) is never touched
    conditions = evaluate_conditions(template, own_issuer)
    assert conditions["CreateUserPool"] is False
    assert resolve_intrinsics(variables, own_issuer, "Admin", conditions) == {
        "EVENTRELAY_ADMIN_TOKEN_ISSUER": "https://issuer.example",
        "EVENTRELAY_ADMIN_TOKEN_AUDIENCES": "aud-1",
        "EVENTRELAY_ADMIN_JWKS_URL": "https://issuer.example/.well-known/jwks.json",
        # The console signs in with the deployer's issuer too.
        "EVENTRELAY_CONSOLE_AUTHORIZE_URL": "https://issuer.example/authorize",
        "EVENTRELAY_CONSOLE_TOKEN_URL": "https://issuer.example/token",
        "EVENTRELAY_CONSOLE_CLIENT_ID": "console-client",
        "EVENTRELAY_CONSOLE_SCOPES": "openid email profile",
    }
    # And a given JWKS URL wins over the issuer's well-known one
    with_jwks = {**own_issuer, "AdminJwksUrl": "http://127.0.0.1:9/keys"}
    resolved = resolve_intrinsics(variables, with_jwks, "Admin", evaluate_conditions(template, with_jwks))
    assert resolved["EVENTRELAY_ADMIN_JWKS_URL"] == "http://127.0.0.1:9/keys"
    # But without one, the user pool's branch is taken, and the local stack cannot resolve it
    conditions = evaluate_conditions(template, no_issuer)
    assert conditions["CreateUserPool"] is True
    with pytest.raises(TemplateError, match=r"AdminUserPool"):
        resolve_intrinsics(variables, no_issuer, "Admin", conditions)
