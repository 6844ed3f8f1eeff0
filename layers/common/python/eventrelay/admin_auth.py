"""Who may administer what: verify an admin API bearer token (a JWT) and read its roles.

Tokens are verified by PyJWT (signature, `exp`, `nbf`, `iss`), never by hand. The issuer is the
deployer's (Cognito by default) or the local stack's own; its public keys come from its JWKS URL
(fetched by PyJWT's `PyJWKClient`, cached a bounded time) or from a given key set.

Claim format (one claim, a list of strings, Cognito's `cognito:groups` by default):
- `operator`: every tenant, and tenant administration itself;
- `tenant:<tenantId>`: a tenant admin of that tenant (one entry per tenant).
Any other group is ignored. The token's `sub` is who made a change (the audit log's subject).

Audience: an ID token's `aud`, or, for a Cognito access token (which has no `aud`), its
`client_id`, must be one of the configured audiences.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt

from eventrelay.errors import DependencyFailure, Forbidden, Unauthenticated

OPERATOR_GROUP = "operator"
TENANT_GROUP_PREFIX = "tenant:"
GROUPS_CLAIM = "cognito:groups"
# Asymmetric only: an HS256 token "signed" with a public key, or `alg: none`, is refused.
ALLOWED_ALGORITHMS = ("RS256", "ES256")
DEFAULT_LEEWAY_SECONDS = 30
_REQUIRED_CLAIMS = ["exp", "iss", "sub"]


@dataclass(frozen=True)
class Principal:
    """The verified caller: `subject` is the token's `sub`; `tenants` those it administers."""

    subject: str
    is_operator: bool
    tenants: frozenset[str] = field(default_factory=frozenset)

    def can_administer(self, tenant_id: str) -> bool:
        return self.is_operator or tenant_id in self.tenants

    def require_operator(self, operation: str) -> None:
        """Forbidden (1014) unless an operator; for operator-only operations such as tenant creation."""
        if not self.is_operator:
            raise Forbidden(operation)


def principal_from_claims(claims: Mapping[str, Any], groups_claim: str = GROUPS_CLAIM) -> Principal:
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):  # some issuers send a single group as a bare string
        groups = [groups]
    names = [group for group in groups if isinstance(group, str)]
    return Principal(
        subject=str(claims["sub"]),
        is_operator=OPERATOR_GROUP in names,
        tenants=frozenset(
            name.removeprefix(TENANT_GROUP_PREFIX)
            for name in names
            if name.startswith(TENANT_GROUP_PREFIX) and len(name) > len(TENANT_GROUP_PREFIX)
        ),
    )


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; Unauthenticated when absent."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token")
    return token.strip()


class SigningKeys(Protocol):
    """The issuer's public key that signed `token` (chosen by the token's `kid`)."""

    def key_for(self, token: str) -> jwt.PyJWK: ...


class JwksUrlKeys:
    """Keys fetched from the issuer's JWKS URL; the set is cached `lifespan_seconds`, and an
    unknown `kid` refetches it once (PyJWKClient), so a rotated key is picked up."""

    def __init__(
        self,
        url: str,
        *,
        lifespan_seconds: float = 300,
        max_cached_keys: int = 16,
        timeout_seconds: float = 5,
    ) -> None:
        self._client = jwt.PyJWKClient(
            url,
            cache_keys=True,
            max_cached_keys=max_cached_keys,
            cache_jwk_set=True,
            lifespan=lifespan_seconds,
            timeout=timeout_seconds,
        )

    def key_for(self, token: str) -> jwt.PyJWK:
        try:
            return self._client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise DependencyFailure("the token issuer's keys could not be fetched") from exc


class KeySet:
    """Keys given as a JWKS document (e.g. the local stack's own issuer)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = jwt.PyJWKSet.from_dict(dict(jwks))

    def key_for(self, token: str) -> jwt.PyJWK:
        key_id = jwt.get_unverified_header(token).get("kid")
        for key in self._keys.keys:
            if key.key_id is not None and key.key_id == key_id:
                return key
        raise jwt.InvalidTokenError("no key of the issuer has this kid")


# A fixed reason per failure: says what to fix without echoing the token or its claims.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidIssuerError, "token from another issuer"),
    (jwt.MissingRequiredClaimError, "token lacks a required claim"),
)


@dataclass(frozen=True)
class TokenVerifier:
    """`verify(token)` -> Principal, or Unauthenticated (1013)."""

    issuer: str
    audiences: Collection[str]
    keys: SigningKeys
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS
    groups_claim: str = GROUPS_CLAIM

    def verify(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("missing bearer token")
        try:
            key = self.keys.key_for(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ALLOWED_ALGORITHMS),
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                # The audience is checked below: Cognito access tokens carry `client_id`, not `aud`.
                options={"require": _REQUIRED_CLAIMS, "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), "invalid token")
            raise Unauthenticated(reason) from None
        if not self._meant_for_us(claims):
            raise Unauthenticated("token for another audience")
        return principal_from_claims(claims, self.groups_claim)

    def verify_header(self, authorization: str | None) -> Principal:
        return self.verify(bearer_token(authorization))

    def _meant_for_us(self, claims: Mapping[str, Any]) -> bool:
        if "aud" in claims:
            audience = claims["aud"]
            named = [audience] if isinstance(audience, str) else list(audience or [])
        else:
            named = [claims.get("client_id")]
        return any(isinstance(name, str) and name in self.audiences for name in named)
