"""The deployed entry point: functions/oauth_callback/app.py with an API Gateway HTTP API 2.0 event."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import urlencode

import pytest

from eventrelay.aws import secretsmanager_client
from eventrelay.connectors.models import HealthState
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.api import http_event
from tests.support.http_servers import Reply
from tests.support.oauth import authorization_code_connector, consent
from tests.support.oauth_server import AuthorizationServer
from tests.support.paths import REPO_ROOT


@dataclass
class LambdaContextStub:
    function_name: str = "OAuthCallbackFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:OAuthCallbackFunction"
    aws_request_id: str = "req-oauth-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000  # the function's AWS calls end by this invocation's deadline


@pytest.fixture(scope="module")
def callback_function() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "oauth_callback_app", REPO_ROOT / "functions/oauth_callback/app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(module: ModuleType, query: dict[str, str]) -> dict[str, object]:
    event = http_event("GET", "/oauth/callback", {"user-agent": "Mozilla/5.0"}, None)
    event["rawQueryString"] = urlencode(query)
    event["queryStringParameters"] = query
    response: dict[str, object] = module.lambda_handler(event, LambdaContextStub())
    return response


def test_the_callback_function_completes_an_authorization(
    callback_function: ModuleType,
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connector = authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    answer = consent(connectors.authorizer.start(tenant_id, "helpdesk").url)
    response = invoke(callback_function, answer)
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert isinstance(headers, dict)
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    secret = json.loads(
        secretsmanager_client(settings.region).get_secret_value(SecretId=connector.secret_id or "")[
            "SecretString"
        ]
    )
    assert secret["refreshToken"] in oauth_server.refresh_tokens
    assert connectors.store.get(tenant_id, "helpdesk").health.state is HealthState.AUTHORIZED
    # The code and the tokens never reach the logs
    output = capsys.readouterr().out
    assert answer["code"] not in output
    for token in oauth_server.issued_tokens():
        assert token not in output


def test_the_callback_function_refuses_an_unknown_state(
    callback_function: ModuleType, oauth_server: AuthorizationServer
) -> None:
    response = invoke(callback_function, {"code": "abc", "state": "never-issued"})
    assert response["statusCode"] == 400
    assert "invalid, already used or expired" in str(response["body"])
    assert oauth_server.token_requests == []


def test_the_callback_function_answers_400_to_a_token_answer_nested_5000_levels_deep(
    callback_function: ModuleType,
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
) -> None:
    # Issue 8 item 4: this answer raised RecursionError and the callback answered 500.
    connector = authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    answer = consent(connectors.authorizer.start(tenant_id, "helpdesk").url)
    oauth_server.token_reply = Reply(
        status=200, headers={"Content-Type": "application/json"}, body=b'{"a":' * 5000 + b"1" + b"}" * 5000
    )
    response = invoke(callback_function, answer)
    assert response["statusCode"] == 400
    assert "answer is unusable: the answer is JSON nested deeper than 32 levels" in str(response["body"])
    stored = connectors.store.get(tenant_id, "helpdesk")
    assert stored.health.state is HealthState.DEAUTHORIZED
    secret = json.loads(
        secretsmanager_client(settings.region).get_secret_value(SecretId=connector.secret_id or "")[
            "SecretString"
        ]
    )
    assert "refreshToken" not in secret
    assert "accessToken" not in secret
