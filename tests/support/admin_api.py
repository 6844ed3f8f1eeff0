"""Calling the running local stack's admin API over HTTP, with tokens its own issuer signs."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec

from eventrelay_cli.local.token_issuer import LocalTokenIssuer
from tests.support.local_stack import RunningStack

OPERATOR_SUBJECT = "test-operator"


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.text)
        return parsed

    def without_request_id(self) -> dict[str, Any]:
        return {key: value for key, value in self.document.items() if key != "requestId"}


def stack_issuer(stack: RunningStack) -> LocalTokenIssuer:
    """The issuer whose key the running stack saved (what `eventrelay token` signs with)."""
    return LocalTokenIssuer.load(stack.state_dir / ".eventrelay" / "token-key.json")


def operator_token(stack: RunningStack) -> str:
    return stack_issuer(stack).mint(OPERATOR_SUBJECT, operator=True)


def tenant_admin_token(stack: RunningStack, *tenants: str) -> str:
    return stack_issuer(stack).mint(f"admin-of-{'-'.join(tenants)}", tenants=tenants)


def expired_token(stack: RunningStack) -> str:
    # Issued two hours ago for one hour: expired well beyond the verifier's 30 s leeway.
    issuer = stack_issuer(stack)
    issued_at = issuer.clock() - 7200
    return replace(issuer, clock=lambda: issued_at).mint(OPERATOR_SUBJECT, operator=True, ttl_seconds=3600)


def foreign_key_token(stack: RunningStack) -> str:
    # Same issuer, audience and key id as the stack's: only the signature is wrong.
    issuer = replace(stack_issuer(stack), private_key=ec.generate_private_key(ec.SECP256R1()))
    return issuer.mint(OPERATOR_SUBJECT, operator=True)


def wrong_audience_token(stack: RunningStack) -> str:
    return replace(stack_issuer(stack), audience="another-api").mint(OPERATOR_SUBJECT, operator=True)


def call(
    stack: RunningStack,
    method: str,
    path: str,
    token: str | None,
    body: dict[str, Any] | None = None,
) -> Answer:
    """One request as a client sends it; `path` is already percent-encoded (see `admin_path`)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = requests.request(
        method,
        stack.api_url + path,
        headers=headers,
        json=body,
        timeout=60,
    )
    return Answer(response.status_code, response.text)
