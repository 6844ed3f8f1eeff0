"""Connectors: per-tenant external APIs, their credentials (Secrets Manager) and authentication.

Modules: `models` (spec, credentials, health, `LoadedConnector`: a connector with its secrets, as a
call uses it), `store` (config table + secrets), `auth` (applying
auth to a request), `oauth2` (token endpoint), `authorization` (authorization-code flow),
`caller` (perform a call through a connector; test connection), `health`, `redaction`,
`urls` (URL-based connectors: the URL is the credential, stored and shown redacted),
`http_api` (the `GET /oauth/callback` route); services are built in `eventrelay.roots.connectors`.
"""
