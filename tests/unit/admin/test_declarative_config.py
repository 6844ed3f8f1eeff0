"""The `eventrelay apply` file: secrets only by reference, every problem located, none echoed."""

from __future__ import annotations

import pytest

from eventrelay.connectors import urls
from eventrelay.connectors.models import AuthType
from eventrelay.registrations import RegistrationKind
from eventrelay.rules import parse_rule_draft
from eventrelay_cli.declarative import ConfigError, load_config
from tests.support.paths import REPO_ROOT

SECRET = "hunter2-CANARY-literal"
WEBHOOK = f"https://hooks.slack.com/services/T0AAAA/B0BBBB/{SECRET}"


def problems_of(text: str, environ: dict[str, str] | None = None, **options: object) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config(text, environ or {}, **options)  # type: ignore[arg-type]
    assert SECRET not in str(refused.value)
    return refused.value.problems


@pytest.mark.parametrize(
    ("auth", "location"),
    [
        (f"{{type: basic, username: u, password: {SECRET}}}", "auth.password"),
        ("{type: basic, username: u, password: 12345}", "auth.password"),
        (f"{{type: token, headers: {{X-Api-Key: {SECRET}}}}}", "auth.headers.X-Api-Key"),
        (
            f"{{type: oauth2, tokenUrl: 'https://t.example/token', clientId: c, clientSecret: {SECRET}}}",
            "auth.clientSecret",
        ),
    ],
)
def test_a_secret_written_in_the_file_is_refused_where_it_is(auth: str, location: str) -> None:
    text = f"tenant: acme\nconnectors:\n  - name: api\n    baseUrl: https://api.example\n    auth: {auth}\n"
    assert problems_of(text) == [
        f"connectors[0] (api).{location}: a secret is never written in the file: reference an "
        "environment variable, e.g. {env: MY_SECRET}"
    ]


@pytest.mark.parametrize(
    ("urls_yaml", "location"),
    [
        (f"baseUrl: {WEBHOOK}", "baseUrl"),
        (f"baseUrl: https://hooks.slack.com\n    testUrl: {WEBHOOK}", "testUrl"),
        (f"baseUrl: 'https://hooks.example/?token={SECRET}'", "baseUrl"),
    ],
)
def test_a_webhook_url_written_in_the_file_is_refused_for_auth_none(urls_yaml: str, location: str) -> None:
    # Given a URL-based connector whose URL (path or query) is written in the file
    text = f"tenant: acme\nconnectors:\n  - name: hook\n    {urls_yaml}\n"
    # Then it is refused where it is, like a literal password, and the URL is not repeated
    assert problems_of(text) == [
        f"connectors[0] (hook).{location}: a secret is never written in the file, and the URL of a "
        "connector with auth type none (a webhook URL) is one: reference an environment variable, e.g. "
        "{env: SLACK_WEBHOOK_URL}"
    ]


def test_urls_without_a_secret_part_or_of_other_auth_types_may_be_literal() -> None:
    text = f"""
tenant: acme
connectors:
  - {{name: plain, baseUrl: 'https://hooks.example/', testUrl: health}}
  - name: api
    baseUrl: {WEBHOOK}
    auth: {{type: basic, username: u, password: {{env: PW}}}}
"""
    plain, api = load_config(text, {"PW": "pw"}).connectors
    assert (plain.spec.base_url, plain.spec.test_url, plain.spec.secret_urls()) == (
        "https://hooks.example/",
        "health",
        None,
    )
    assert api.spec.base_url == WEBHOOK  # with basic auth the URL is not the credential


def test_urls_resolve_from_the_environment_and_are_held_only_in_memory() -> None:
    text = """
tenant: acme
connectors:
  - name: hook
    baseUrl: {env: HOOK_URL}
    testUrl: {env: HOOK_TEST_URL}
  - name: api
    baseUrl: {env: API_URL}
    auth: {type: token, headers: {X-Key: {env: KEY}}}
"""
    test_url = WEBHOOK + "/ping"
    environ = {
        "HOOK_URL": WEBHOOK,
        "HOOK_TEST_URL": test_url,
        "API_URL": "https://api.example/v1",
        "KEY": "k",
    }
    config = load_config(text, environ)
    hook, api = config.connectors
    # The spec shows, dumps and compares the redacted form; the real URLs are held for the store
    assert (hook.spec.base_url, hook.spec.test_url) == (
        urls.redacted_url(WEBHOOK),
        urls.redacted_url(test_url),
    )
    held = hook.spec.secret_urls()
    assert held is not None
    assert held.base_url is not None
    assert held.test_url is not None
    assert (held.base_url.get_secret_value(), held.test_url.get_secret_value()) == (WEBHOOK, test_url)
    assert api.spec.base_url == "https://api.example/v1"
    assert SECRET not in repr(config) + hook.spec.model_dump_json()


def test_unset_empty_or_invalid_url_variables_and_redacted_forms_are_refused() -> None:
    text = f"""
tenant: acme
connectors:
  - {{name: unset, baseUrl: {{env: UNSET_URL}}}}
  - {{name: empty, baseUrl: 'https://hooks.example', testUrl: {{env: EMPTY_URL}}}}
  - {{name: invalid, baseUrl: {{env: BAD_URL}}}}
  - {{name: copied, baseUrl: '{urls.redacted_url(WEBHOOK)}'}}
"""
    problems = problems_of(text, {"EMPTY_URL": "", "BAD_URL": f"ftp://x/{SECRET}"})
    assert problems == [
        "connectors[0] (unset).baseUrl: environment variable UNSET_URL is not set",
        "connectors[1] (empty).testUrl: environment variable EMPTY_URL is empty",
        "connectors[2] (invalid).baseUrl: must be an absolute http(s) URL",
        "connectors[3] (copied).baseUrl: a redacted URL ([REDACTED:...]) is what eventrelay shows, not a "
        "URL: give the URL itself (for auth type none as {env: VARIABLE})",
    ]
    # A malformed reference is one problem at its own location (not one per kind of value)
    assert problems_of("tenant: acme\nconnectors:\n  - {name: typo, baseUrl: {env: 1X}}\n") == [
        "connectors[0] (typo).baseUrl.env: String should match pattern '^[A-Za-z_][A-Za-z0-9_]{0,127}$'"
    ]


def test_secrets_resolve_from_the_environment_and_identifiers_may_be_literal() -> None:
    text = """
tenant: acme
connectors:
  - name: basic
    baseUrl: https://a.example
    auth: {type: basic, username: {env: USER_VAR}, password: {env: PASSWORD_VAR}}
  - name: oauth
    baseUrl: https://b.example
    auth: {type: oauth2, tokenUrl: 'https://b.example/token', clientId: literal-id, clientSecret: {env: CS}}
"""
    config = load_config(text, {"USER_VAR": "bot", "PASSWORD_VAR": "pw", "CS": "cs"})
    basic, oauth = config.connectors
    assert basic.credentials is not None
    assert oauth.credentials is not None
    assert (basic.credentials.username, basic.credentials.password.get_secret_value()) == ("bot", "pw")  # type: ignore[union-attr]
    assert oauth.credentials.client_id == "literal-id"
    assert oauth.spec.auth_type is AuthType.OAUTH2
    assert "pw" not in repr(config)


def test_missing_and_empty_variables_and_other_problems_are_all_reported_at_once() -> None:
    text = """
connectors:
  - name: api
    baseUrl: https://api.example
    auth: {type: basic, username: u, password: {env: MISSING_PW}}
  - name: api
    baseUrl: not-a-url
    auth: {type: token, headers: {Authorization: {env: EMPTY}}}
events:
  - {name: Order, version: v01, kind: json_schema}
  - {name: Asset, version: v01, kind: system_asset, schema: {type: object}}
  - {name: Bad, version: v01, schema: {type: 12}}
actions:
  - {connector: api, name: broken, method: POST, payload: '{"a": "{{x"}'}
  - {connector: api, name: retries, method: GET, maxRetries: 9}
"""
    problems = problems_of(text, {"EMPTY": ""})
    assert problems[0] == "tenant: missing (write `tenant: <id>` in the file or pass --tenant)"
    assert "events[0] (Order/v01).schema: kind json_schema needs a schema" in problems
    assert (
        "events[1] (Asset/v01).schema: only kind json_schema takes a schema (kind is system_asset)"
        in problems
    )
    assert any(p.startswith("events[2] (Bad/v01).schema: invalid JSON Schema") for p in problems)
    assert "connectors[0] (api).auth.password: environment variable MISSING_PW is not set" in problems
    assert "connectors[1] (api).auth.headers.Authorization: environment variable EMPTY is empty" in problems
    assert "connectors[1] (api).baseUrl: must be an absolute http(s) URL" in problems
    assert any(p.startswith("actions[0] (broken).payload:") and "line 1, column" in p for p in problems)
    assert "actions[1] (retries).maxRetries: max retries must be between 0 and 5, got 9" in problems
    assert "connectors: 'api' is declared 2 times" in problems


def test_unknown_keys_bad_yaml_and_rules_without_rule_support() -> None:
    assert problems_of("tenant: acme\nconectors: []\n") == ["conectors: Extra inputs are not permitted"]
    # A YAML error gives the position, never the text of the file (which may hold a mistake's secret)
    (problem,) = problems_of(f"tenant: acme\npassword: [{SECRET}\n", source="c.yaml")
    assert problem.startswith("c.yaml: invalid YAML at line 3")
    assert problems_of("- a list\n") == [
        "config: expected a mapping with tenant, events, connectors, actions, rules"
    ]
    rules = "tenant: acme\nrules:\n  - {name: r, eventName: E, eventVersion: v01, action: a}\n"
    assert problems_of(rules) == ["rules: this version of eventrelay cannot apply rules"]
    assert problems_of(rules.replace("v01", "1"), parse_rule=parse_rule_draft)[0].startswith(
        "rules[0] (r).eventVersion"
    )


def test_the_tenant_option_overrides_the_file_and_kinds_default_sensibly() -> None:
    text = (
        "tenant: acme\nevents:\n  - {name: A, version: v01}\n"
        "  - {name: B, version: v02, schema: {type: object}}\n"
    )
    config = load_config(text, {}, tenant_id="other")
    assert config.tenant_id == "other"
    assert [(e.tenant_id, e.kind) for e in config.events] == [
        ("other", RegistrationKind.OPEN),
        ("other", RegistrationKind.JSON_SCHEMA),
    ]


def test_the_example_file_is_valid() -> None:
    text = (REPO_ROOT / "examples" / "config.yaml").read_text(encoding="utf-8")
    environ = {
        "JIRA_API_TOKEN": "a",
        "SLACK_BOT_TOKEN": "Bearer b",
        "ZENDESK_CLIENT_SECRET": "c",
        "GITHUB_CLIENT_SECRET": "d",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/e",
    }
    config = load_config(text, environ, parse_rule=parse_rule_draft)
    assert config.tenant_id == "acme"
    assert [c.spec.auth_type.value for c in config.connectors] == [
        "basic",
        "token",
        "oauth2",
        "oauth2",
        "none",
    ]
    webhook = config.connectors[-1]
    assert webhook.spec.base_url == urls.redacted_url(environ["SLACK_WEBHOOK_URL"])
    assert [a.name for a in config.actions] == ["create-issue", "notify-channel", "close-ticket"]
    assert [r.name for r in config.rules] == ["ticket-to-jira", "big-orders-to-slack"]
