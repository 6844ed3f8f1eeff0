"""URL-based connectors: the URL is the credential, so only its redacted form is stored and shown.

A call joins a relative URL to the real URL it loaded; the redactor shows what was sent as the same
relative URL joined to the redacted form, exactly as rendering would have joined it."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from eventrelay.actions import compile_action, parse_draft, render
from eventrelay.admin.views import connector_spec, spec_changes
from eventrelay.connectors import urls
from eventrelay.connectors.models import (
    AuthType,
    Connector,
    ConnectorHealth,
    ConnectorSpec,
    Credentials,
    LoadedConnector,
)
from eventrelay.connectors.redaction import REDACTED, Redactor, scrub_http_library_logs
from eventrelay.outbound.request import UrlNotJoinable, join_url

SLACK = "https://hooks.slack.com/services/T0CANARY1/B0CANARY2/CANARYtokenXYZ0123456789"
REDACTED_FORM = re.compile(r"^https://hooks\.slack\.com/\[REDACTED:[0-9a-f]{12}\]$")


def none_spec(base_url: str = SLACK, **fields: object) -> ConnectorSpec:
    return ConnectorSpec.model_validate({"name": "slack", "base_url": base_url, **fields})


def stored(spec: ConnectorSpec) -> Connector:
    return Connector(
        **spec.model_dump(),
        tenant_id="acme",
        health=ConnectorHealth(state="AUTHORIZED", changed_at="2026-01-01T00:00:00Z"),
        created_at="c",
        updated_at="u",
    )


def loaded(real: str, **fields: object) -> LoadedConnector:
    """A URL-based connector as a call loads it: its configuration shows the redacted form."""
    spec = none_spec(real, **fields)
    held = spec.secret_urls()
    return LoadedConnector(stored(spec), held if held is not None else Credentials())


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (SLACK, "/services/T0CANARY1/B0CANARY2/CANARYtokenXYZ0123456789"),
        ("https://hooks.zapier.com/hooks/catch/123/abc/", "/hooks/catch/123/abc/"),
        ("https://h.example:8443/x?token=1", "/x?token=1"),
        ("https://h.example?token=1", "?token=1"),
        ("HTTPS://H.example/Path", "/Path"),
        ("https://h.example", ""),
        ("https://h.example/", ""),
    ],
)
def test_the_secret_part_is_everything_after_the_host(url: str, secret: str) -> None:
    assert urls.secret_part(url) == secret
    assert urls.has_secret(url) is bool(secret)


def test_the_redacted_form_keeps_scheme_host_and_port_and_a_fingerprint() -> None:
    redacted = urls.redacted_url(SLACK)
    assert REDACTED_FORM.match(redacted)
    assert urls.is_redacted(redacted)
    assert urls.redacted_url(redacted) == redacted  # redacting twice changes nothing
    assert urls.redacted_url("http://127.0.0.1:8080/hook/1").startswith("http://127.0.0.1:8080/[REDACTED:")
    # Another URL (one character) gets another fingerprint; the same URL always the same one
    assert urls.redacted_url(SLACK[:-1] + "X") != redacted
    assert urls.redacted_url(SLACK) == redacted
    # Nothing secret: kept as it is
    assert urls.redacted_url("https://hooks.example") == "https://hooks.example"
    assert not urls.is_redacted("https://hooks.example/[REDACTED]")


@settings(max_examples=300)
@given(
    real_path=st.text(alphabet="abcXYZ019-_.~%/", min_size=1, max_size=30),
    relative=st.text(alphabet="abc019-_./?#=&", max_size=20),
)
def test_a_url_joined_to_the_real_url_is_shown_joined_to_the_redacted_form(
    real_path: str, relative: str
) -> None:
    real = "https://api.example/" + real_path.lstrip("/")
    assume(urls.has_secret(real))
    # `/` and ``, `/?x` and `?x` joined to a URL ending in `/` are the same URL: shown as one of them
    assume(not (real.endswith("/") and relative.lstrip("/")[:1] in ("", "?", "#") and relative[:1] == "/"))
    expected = join_url(urls.redacted_url(real), relative)
    # A piece of the secret that the relative URL happens to repeat is redacted as a secret
    assume(not any(value in expected for value in urls.secret_values(real)))
    hook = loaded(real)
    plain = ConnectorSpec(name="a", base_url=real, auth_type=AuthType.BASIC)  # a URL kept as it is
    # When a call resolves the relative URL on the connector it loaded
    sent = hook.resolve_url(relative)
    # Then it is what the real URL joins to, and the redactor shows it on the redacted form
    assert sent == plain.resolve_url(relative)
    assert Redactor.for_credentials(hook.credentials).text(sent) == expected
    assert hook.connector.resolve_url(relative) == expected  # what the configuration shows


@pytest.mark.parametrize("url", ["", "chat/{{channel}}", "/x?y={{y}}", "?thread={{y}}", "#frag"])
def test_an_action_rendered_without_a_base_reaches_the_real_url_and_is_shown_on_the_redacted_one(
    url: str,
) -> None:
    draft = {
        "connector": "slack",
        "name": "notify",
        "method": "POST",
        "url": url,
        "payload": {"type": "plain", "text": '{"text": "hi"}'},
    }
    action = compile_action("t-1", parse_draft(draft))
    values = {"channel": "ops/alerts", "y": "1 2"}
    real = "https://hooks.example/services/T1/B2/tok3n"
    hook = loaded(real)
    sent = hook.resolve_url(render(action, values).url)
    assert sent == render(action, values, real).url
    assert (
        Redactor.for_credentials(hook.credentials).text(sent)
        == render(action, values, urls.redacted_url(real)).url
    )


def test_a_real_url_with_a_query_is_used_as_it_is_and_refuses_appending() -> None:
    real = "https://hooks.example/catch?token=s3cr3t123"
    hook = loaded(real)
    assert hook.base_url == real
    assert hook.resolve_url("") == real
    with pytest.raises(UrlNotJoinable):
        hook.resolve_url("/more")
    with pytest.raises(UrlNotJoinable):
        hook.resolve_url("?more=1")
    assert hook.resolve_url("https://other.example/x") == "https://other.example/x"
    assert Redactor.for_credentials(hook.credentials).text(real) == urls.redacted_url(real)


def test_a_none_spec_shows_stores_and_dumps_only_the_redacted_url() -> None:
    spec = none_spec(test_url=SLACK + "/ping")
    assert REDACTED_FORM.match(spec.base_url)
    assert REDACTED_FORM.match(spec.test_url)
    for shown in (repr(spec), str(spec), spec.model_dump_json(), json.dumps(spec.model_dump(mode="json"))):
        assert "CANARY" not in shown
    held = spec.secret_urls()
    assert held is not None
    assert held.base_url is not None
    assert held.test_url is not None
    assert (held.base_url.get_secret_value(), held.test_url.get_secret_value()) == (SLACK, SLACK + "/ping")
    assert "CANARY" not in repr(held)
    # It resolves on what it shows; only a connector loaded for a call has the real URLs
    assert spec.resolve_url("extra") == spec.base_url + "/extra"
    hook = loaded(SLACK, test_url=SLACK + "/ping")
    assert (hook.resolve_url("extra"), hook.resolve_url(hook.test_url)) == (SLACK + "/extra", SLACK + "/ping")
    assert "CANARY" not in repr(hook)


def test_other_auth_types_and_urls_without_secret_part_are_kept_as_given() -> None:
    basic = ConnectorSpec(name="crm", base_url="https://crm.example/api", auth_type=AuthType.BASIC)
    assert (basic.base_url, basic.secret_urls()) == ("https://crm.example/api", None)
    bare = none_spec("https://hooks.example", test_url="health")
    assert (bare.base_url, bare.test_url, bare.secret_urls()) == ("https://hooks.example", "health", None)
    relative_test = none_spec(test_url="health")
    assert relative_test.test_url == "health"  # appended to the secret base; alone it is not secret


def test_a_spec_rebuilt_from_a_view_keeps_the_redacted_form_and_holds_no_secret() -> None:
    spec = none_spec()
    rebuilt = connector_spec(stored(spec))
    assert rebuilt.base_url == spec.base_url
    assert rebuilt.secret_urls() is None
    # What `apply` compares: the same URL is no change; another URL is a baseUrl change
    assert spec_changes(rebuilt, none_spec()) == []
    assert spec_changes(rebuilt, none_spec(SLACK + "0")) == ["baseUrl"]


def test_validation_errors_do_not_echo_the_url() -> None:
    with pytest.raises(ValidationError) as refused:
        none_spec(SLACK + "\r\n")
    assert "CANARY" not in str(refused.value)
    with pytest.raises(ValidationError) as refused_credentials:
        Credentials(base_url="ftp://files.example/CANARY-path")
    assert "CANARY" not in str(refused_credentials.value)


def test_the_redactor_hides_the_secret_part_its_encodings_and_its_token_like_pieces() -> None:
    redactor = Redactor.for_credentials(Credentials(base_url=SLACK))
    secret = urls.secret_part(SLACK)
    cases = {
        f"Cannot POST {secret}/x": f"Cannot POST {REDACTED}/x",
        f"url={quote(secret, safe='')}": f"url={REDACTED}",
        f"GET {SLACK}": f"GET {urls.redacted_url(SLACK)}",
        f"GET {SLACK}/x?y=1 HTTP/1.1": f"GET {urls.redacted_url(SLACK)}/x?y=1 HTTP/1.1",
        "invalid token CANARYtokenXYZ0123456789": f"invalid token {REDACTED}",
        "team T0CANARY1 channel B0CANARY2": f"team {REDACTED} channel {REDACTED}",
    }
    for text, expected in cases.items():
        assert redactor.text(text) == expected
    # Words of the path that are not token-like stay readable
    assert redactor.text("services are up") == "services are up"


def test_a_query_secret_is_redacted_as_a_value_too() -> None:
    credentials = Credentials(base_url="https://hooks.example/catch?key=Zx81kq9Lw2&v=1")
    redactor = Redactor.for_credentials(credentials)
    assert redactor.text("key Zx81kq9Lw2 rejected, v=1") == f"key {REDACTED} rejected, v=1"


def test_url_credentials_round_trip_through_the_secret_document() -> None:
    credentials = Credentials(base_url=SLACK, test_url=SLACK + "/ping")
    document = json.loads(credentials.to_secret_json())
    assert document == {"baseUrl": SLACK, "testUrl": SLACK + "/ping"}
    assert Credentials.from_secret_json(credentials.to_secret_json()) == credentials
    assert Credentials().to_secret_dict() == {}


def test_request_lines_logged_by_urllib3_are_scrubbed_of_url_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the secrets of a URL a caller loaded, and urllib3 logging at DEBUG
    caplog.set_level(logging.DEBUG, logger="urllib3")
    scrub_http_library_logs(urls.secret_values(SLACK))
    # When urllib3 logs a request line for it (its own format) and a retry note
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "hooks.slack.com",
        443,
        "POST",
        urls.secret_part(SLACK),
        "HTTP/1.1",
        404,
        0,
    )
    logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s')", urls.secret_part(SLACK))
    # Then neither record carries the URL's secret part
    assert len(caplog.records) == 2
    assert "CANARY" not in caplog.text
    assert f'"POST {REDACTED} HTTP/1.1" 404' in caplog.text
