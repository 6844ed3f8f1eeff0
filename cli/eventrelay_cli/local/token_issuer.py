"""The local stack as its own token issuer: an EC P-256 key pair, its JWKS, and tokens it signs.

Tokens carry the claims the admin API reads (see `eventrelay.admin_auth`): `sub`, `iss`, `aud`,
`iat`, `nbf`, `exp` and `cognito:groups` (`operator`, `tenant:<id>`...), as Cognito would.
The private key is kept in the state folder (`token-key.json`, mode 0600) so that
`eventrelay token` can mint tokens the running stack accepts.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from eventrelay.admin_auth import GROUPS_CLAIM, OPERATOR_GROUP, TENANT_GROUP_PREFIX
from eventrelay.clock import Clock, system_clock

LOCAL_ISSUER = "urn:eventrelay:local"
LOCAL_AUDIENCE = "eventrelay-admin"
SIGNING_ALGORITHM = "ES256"
DEFAULT_TTL_SECONDS = 3600


@dataclass(frozen=True)
class LocalTokenIssuer:
    """`generate()` a fresh key, or `from_document()` the one the running stack saved."""

    private_key: ec.EllipticCurvePrivateKey
    key_id: str
    issuer: str = LOCAL_ISSUER
    audience: str = LOCAL_AUDIENCE
    clock: Clock = system_clock

    @classmethod
    def generate(cls, issuer: str = LOCAL_ISSUER, audience: str = LOCAL_AUDIENCE) -> LocalTokenIssuer:
        return cls(
            private_key=ec.generate_private_key(ec.SECP256R1()),
            key_id=secrets.token_hex(8),
            issuer=issuer,
            audience=audience,
        )

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS document (what the stack serves and the verifier reads)."""
        public: dict[str, Any] = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        public.update({"kid": self.key_id, "use": "sig", "alg": SIGNING_ALGORITHM})
        return {"keys": [public]}

    def mint(
        self,
        subject: str,
        *,
        operator: bool = False,
        tenants: Iterable[str] = (),
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> str:
        now = int(self.clock())
        groups = ([OPERATOR_GROUP] if operator else []) + [
            f"{TENANT_GROUP_PREFIX}{tenant}" for tenant in dict.fromkeys(tenants)
        ]
        claims = {
            "sub": subject,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            GROUPS_CLAIM: groups,
        }
        return jwt.encode(claims, self.private_key, algorithm=SIGNING_ALGORITHM, headers={"kid": self.key_id})

    def to_document(self) -> dict[str, str]:
        """What the state folder keeps (a secret: written with mode 0600, never logged)."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "issuer": self.issuer,
            "audience": self.audience,
            "keyId": self.key_id,
            "privateKeyPem": pem.decode("ascii"),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, str], clock: Clock = system_clock) -> LocalTokenIssuer:
        private_key = serialization.load_pem_private_key(document["privateKeyPem"].encode("ascii"), None)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError("the saved token key is not an EC key")
        return cls(
            private_key=private_key,
            key_id=document["keyId"],
            issuer=document["issuer"],
            audience=document["audience"],
            clock=clock,
        )

    @classmethod
    def load(cls, path: Path) -> LocalTokenIssuer:
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")))
