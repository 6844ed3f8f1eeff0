"""Root of the admin API's function: the admin service behind the routes, and the token verifier."""

from __future__ import annotations

from functools import cache

from eventrelay.admin_api.edge import AdminApi
from eventrelay.admin_api.routes import all_routes
from eventrelay.admin_auth import JwksUrlKeys, TokenVerifier
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.settings import Settings, SettingsError, get_settings


def token_verifier(settings: Settings) -> TokenVerifier:
    audiences = [name.strip() for name in settings.admin_token_audiences.split(",") if name.strip()]
    if not (settings.admin_token_issuer and settings.admin_jwks_url and audiences):
        raise SettingsError(
            "the admin API needs EVENTRELAY_ADMIN_TOKEN_ISSUER, EVENTRELAY_ADMIN_JWKS_URL and "
            "EVENTRELAY_ADMIN_TOKEN_AUDIENCES"
        )
    return TokenVerifier(
        issuer=settings.admin_token_issuer, audiences=audiences, keys=JwksUrlKeys(settings.admin_jwks_url)
    )


def build_admin_api(settings: Settings, clients: AwsClients) -> AdminApi:
    verifier = token_verifier(settings)
    return AdminApi(build_admin_service(settings, clients), verifier.verify_header, all_routes())


@cache
def admin_api_root() -> AdminApi:
    """One per function instance, built on its first request."""
    settings = get_settings()
    return build_admin_api(settings, AwsClients.for_settings(settings))
