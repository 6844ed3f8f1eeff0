"""What admins see of a URL-based connector's secret URLs: that they are set, never what they are."""

from __future__ import annotations

from eventrelay.admin import credentials_view
from eventrelay.connectors.models import AuthType, ConnectorSpec, Credentials

CANARY = "CANARY-view-0123456789"
WEBHOOK = f"https://hooks.slack.com/services/T0AAAA/B0BBBB/{CANARY}"


def test_a_webhook_connectors_secret_urls_are_shown_as_set() -> None:
    # Given a URL-based connector whose base URL and absolute test URL are secret
    spec = ConnectorSpec(name="hook", base_url=WEBHOOK, test_url=WEBHOOK + "/ping")
    held = spec.secret_urls()
    assert held is not None
    # Then its credentials view says both are set, and holds neither
    view = credentials_view(held)
    assert view == {"baseUrl": "set", "testUrl": "set"}
    assert CANARY not in repr(view)
    # And only the secret one is set when the test URL is relative (appended to the secret base)
    relative = ConnectorSpec(name="hook", base_url=WEBHOOK, test_url="ping").secret_urls()
    assert relative is not None
    assert credentials_view(relative) == {"baseUrl": "set"}


def test_urls_that_are_not_secret_are_not_credentials() -> None:
    plain = ConnectorSpec(name="hook", base_url="https://hooks.example/")
    assert plain.secret_urls() is None
    assert credentials_view(Credentials()) == {}
    basic = ConnectorSpec(name="api", base_url=WEBHOOK, auth_type=AuthType.BASIC)
    assert basic.secret_urls() is None
    assert credentials_view(Credentials(username="svc", password="pw")) == {
        "username": "svc",
        "password": "set",
    }
