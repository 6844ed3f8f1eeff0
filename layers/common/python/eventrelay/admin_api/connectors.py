"""A tenant's connectors: create, list, show, change, delete, test connection, authorize.

Paths (under `/v1/admin`) and bodies, camelCase as in the views:

- `GET  /tenants/{tenantId}/connectors`: the connectors (no `credentials` in a list row).
- `POST /tenants/{tenantId}/connectors` → 201, the connector: `name` (required), `baseUrl`
  (required unless `credentials.baseUrl`), `authType` (`none` default, `basic`, `token`,
  `oauth2`), `headers` {name: value}, `description`, `testUrl`, `oauth2`, `rateLimit`,
  `credentials`.
- `GET|PATCH|DELETE /tenants/{tenantId}/connectors/{name}`: PATCH takes the create body without
  `name`, plus `removeHeaders` [names]; only what is given changes (`headers` are added or
  replaced by name; credentials merge as the service decides: same auth type, the stored ones
  with the given ones, token headers by name; another auth type, only the given ones). Its answer
  says `changed`. DELETE `?force=true` deletes even while actions use the connector (else 1012).
- `POST /tenants/{tenantId}/connectors/{name}/test`: body `{"bodyLimit": n}` (optional, default
  2048 characters of the response body) → `url`, `ok`, `health`, `outcome`, `status`, `headers`,
  `body`, `bodyTruncated`, `durationMs`, `error`, `retryAfterSeconds` (secrets redacted). A
  failed test is still a 200 answer: `ok` says how the call went.
- `POST /tenants/{tenantId}/connectors/{name}/authorize` (no body) → `url` (the provider's consent
  page to open) and `expiresAt`.

`rateLimit` is the connector's outbound rate limit, enforced across every runner: an object of
`perSecond` and/or `perMinute` (whole numbers of calls, at least 1; at most 1,000 per second and
60,000 per minute), or null for none (the default). A delivery over the limit waits on the queue
until a window has room; it is not failed and uses no attempt. A PATCH changes the values given
(a value null removes that one) and `"rateLimit": null` removes the limit; a view always has
`rateLimit` (null when calls are not paced).

`oauth2` is an object: `grant` (`client_credentials`, `authorization_code`, …), `tokenUrl`,
`scope`, `clientAuth`, `tokenContentType`, `authorizationUrl`, `redirectUrl` (a PATCH changes the
given ones). `credentials` is an object of write-only values: `username`, `password`,
`tokenHeaders` {name: value}, `clientId`, `clientSecret`, and `baseUrl`/`testUrl`: the URL given
as a secret (a URL-based connector, auth type `none`, e.g. a Slack webhook, is authenticated by
its URL), in place of the plain `baseUrl`/`testUrl`. Credentials are never in an answer: a view's
`credentials` says which are `set` (and the non-secret `username`, `clientId`).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from eventrelay.admin import ConnectorChanges, CredentialChanges, connector_spec_from
from eventrelay.admin_api.inputs import Fields, InvalidRequest
from eventrelay.admin_api.routing import AdminCall, Reply, RouteTable
from eventrelay.clock import iso_utc
from eventrelay.connectors.models import AuthType

routes = RouteTable()

DEFAULT_TEST_BODY_CHARS = 2048

# The body's `oauth2` names and the service's (`ConnectorChanges.oauth2`).
OAUTH2_FIELDS = {
    "grant": "grant",
    "tokenUrl": "token_url",
    "scope": "scope",
    "clientAuth": "client_auth",
    "tokenContentType": "token_content_type",
    "authorizationUrl": "authorization_url",
    "redirectUrl": "redirect_url",
}
CREDENTIAL_FIELDS = frozenset(
    {"username", "password", "tokenHeaders", "clientId", "clientSecret", "baseUrl", "testUrl"}
)
RATE_LIMIT_FIELDS = {"perSecond": "per_second", "perMinute": "per_minute"}
DEFINITION_FIELDS = frozenset(
    {"baseUrl", "authType", "headers", "description", "testUrl", "oauth2", "rateLimit", "credentials"}
)


def _auth_type(body: Fields) -> AuthType | None:
    name = body.text("authType")
    if name is None:
        return None
    try:
        return AuthType(name)
    except ValueError:
        choices = ", ".join(kind.value for kind in AuthType)
        raise InvalidRequest([f"authType: must be one of {choices}"]) from None


def _url(body: Fields, credentials: Fields | None, name: str) -> str | None:
    """A URL given plainly (`baseUrl`) or as a secret (`credentials.baseUrl`), not both."""
    plain = body.text(name)
    secret = credentials.text(name) if credentials is not None else None
    if plain is not None and secret is not None:
        raise InvalidRequest([f"{name}: give it either plainly or in credentials, not both"])
    return plain if plain is not None else secret


def _oauth2_changes(body: Fields) -> dict[str, str]:
    oauth2 = body.nested("oauth2")
    if oauth2 is None:
        return {}
    oauth2.refuse_unknown(OAUTH2_FIELDS)
    given = {service: oauth2.text(name) for name, service in OAUTH2_FIELDS.items()}
    return {service: value for service, value in given.items() if value is not None}


def _rate_limit_changes(body: Fields) -> tuple[dict[str, int | None], bool]:
    """The rate limit values to change, and whether the whole limit is removed (`rateLimit: null`)."""
    if "rateLimit" not in body.given():
        return {}, False
    limits = body.nested("rateLimit")
    if limits is None:
        return {}, True
    limits.refuse_unknown(RATE_LIMIT_FIELDS)
    return {
        service: limits.integer(name) for name, service in RATE_LIMIT_FIELDS.items() if name in limits.given()
    }, False


def _credential_changes(credentials: Fields | None) -> CredentialChanges:
    if credentials is None:
        return CredentialChanges()
    credentials.refuse_unknown(CREDENTIAL_FIELDS)
    password = credentials.text("password")
    client_secret = credentials.text("clientSecret")
    token_headers = credentials.string_map("tokenHeaders") or {}
    return CredentialChanges(
        username=credentials.text("username"),
        password=SecretStr(password) if password is not None else None,
        token_headers={name: SecretStr(value) for name, value in token_headers.items()},
        client_id=credentials.text("clientId"),
        client_secret=SecretStr(client_secret) if client_secret is not None else None,
    )


def connector_changes(body: Fields, *, update: bool) -> ConnectorChanges:
    """The changes a create (`update` False) or PATCH body asks for; InvalidRequest names the field."""
    credentials = body.nested("credentials")
    rate_limit, remove_rate_limit = _rate_limit_changes(body)
    return ConnectorChanges(
        base_url=_url(body, credentials, "baseUrl"),
        auth_type=_auth_type(body),
        description=body.text("description"),
        test_url=_url(body, credentials, "testUrl"),
        headers=body.string_map("headers") or {},
        remove_headers=(body.strings("removeHeaders") or []) if update else (),
        oauth2=_oauth2_changes(body),
        rate_limit=rate_limit,
        remove_rate_limit=remove_rate_limit,
        credentials=_credential_changes(credentials),
    )


@routes.get("/tenants/{tenantId}/connectors")
def list_connectors(call: AdminCall) -> Reply:
    """A tenant's connectors and their health."""
    return Reply([view.to_dict() for view in call.service.connectors.list(call.tenant_id)])


@routes.post("/tenants/{tenantId}/connectors")
def create_connector(call: AdminCall) -> Reply:
    """Create a connector (its credentials are write-only)."""
    body = Fields(call.body())
    body.refuse_unknown(DEFINITION_FIELDS | {"name"})
    name = body.required_text("name")
    changes = connector_changes(body, update=False)
    spec = connector_spec_from(name, changes)
    created = call.service.connectors.create(call.tenant_id, spec, changes.credentials)
    return Reply(created.to_dict(), 201, "Connector created")


@routes.get("/tenants/{tenantId}/connectors/{name}")
def show_connector(call: AdminCall) -> Reply:
    """One connector: which credentials are set, never their values."""
    return Reply(call.service.connectors.show(call.tenant_id, call.parameter("name")).to_dict())


@routes.patch("/tenants/{tenantId}/connectors/{name}")
def update_connector(call: AdminCall) -> Reply:
    """Change a connector; what is not given keeps its value."""
    body = Fields(call.body())
    body.refuse_unknown(DEFINITION_FIELDS | {"removeHeaders"})
    changes = connector_changes(body, update=True)
    updated = call.service.connectors.update(call.tenant_id, call.parameter("name"), changes)
    return Reply(updated.to_dict(), 200, "Connector updated" if updated.changed else "Connector unchanged")


@routes.delete("/tenants/{tenantId}/connectors/{name}")
def delete_connector(call: AdminCall) -> Reply:
    """Delete a connector and its credentials (`?force=true`: even while actions use it)."""
    name = call.parameter("name")
    call.service.connectors.delete(call.tenant_id, name, force=call.query_flag("force"))
    return Reply({"deleted": True, "name": name}, 200, "Connector deleted")


@routes.post("/tenants/{tenantId}/connectors/{name}/test")
def test_connection(call: AdminCall) -> Reply:
    """Test connection: GET the connector's test URL with its auth (the answer is redacted)."""
    body = Fields(call.body())
    body.refuse_unknown({"bodyLimit"})
    body_limit = body.integer("bodyLimit")
    if body_limit is not None and body_limit < 0:
        raise InvalidRequest(["bodyLimit: must be 0 or more"])
    result = call.service.connectors.test_connection(call.tenant_id, call.parameter("name"))
    view: dict[str, Any] = result.to_dict(DEFAULT_TEST_BODY_CHARS if body_limit is None else body_limit)
    return Reply(view, 200, "Connection test passed" if result.ok else "Connection test failed")


@routes.post("/tenants/{tenantId}/connectors/{name}/authorize")
def authorize(call: AdminCall) -> Reply:
    """The provider URL to open for the OAuth 2.0 authorization-code grant."""
    Fields(call.body()).refuse_unknown(())
    started = call.service.connectors.authorize_url(call.tenant_id, call.parameter("name"))
    return Reply(
        {"url": started.url, "expiresAt": iso_utc(started.expires_at)}, 200, "Open the URL to grant access"
    )
