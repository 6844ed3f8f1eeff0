"""The local stack's token issuer: its key is kept private in the state folder, and
`eventrelay token` mints tokens with that key that the admin API's verifier accepts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from eventrelay.admin_auth import KeySet, Principal, TokenVerifier
from eventrelay_cli.local.state import StateDirectory
from eventrelay_cli.local.token_issuer import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalTokenIssuer
from eventrelay_cli.main import main


@pytest.fixture
def saved_issuer(tmp_path: Path) -> LocalTokenIssuer:
    """An issuer whose key a 'running stack' saved in `tmp_path`/.eventrelay."""
    issuer = LocalTokenIssuer.generate()
    state = StateDirectory(tmp_path)
    state.acquire()
    try:
        state.write_token_key(issuer.to_document())
    finally:
        state.release()
    return issuer


def _verifier(issuer: LocalTokenIssuer) -> TokenVerifier:
    return TokenVerifier(issuer=LOCAL_ISSUER, audiences=[LOCAL_AUDIENCE], keys=KeySet(issuer.jwks()))


def test_the_private_key_is_saved_readable_by_its_owner_only(
    tmp_path: Path, saved_issuer: LocalTokenIssuer
) -> None:
    key_file = StateDirectory(tmp_path).token_key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    reloaded = LocalTokenIssuer.load(key_file)
    assert reloaded.jwks() == saved_issuer.jwks()


def test_the_jwks_holds_only_the_public_key(saved_issuer: LocalTokenIssuer) -> None:
    (key,) = saved_issuer.jwks()["keys"]
    assert (key["kty"], key["crv"], key["kid"]) == ("EC", "P-256", saved_issuer.key_id)
    assert "d" not in key  # the private part


def test_token_command_mints_a_tenant_admin_token(
    tmp_path: Path, saved_issuer: LocalTokenIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "acme", "beta", "--state-dir", str(tmp_path), "--subject", "alice"]) == 0
    token = capsys.readouterr().out.strip()
    assert _verifier(saved_issuer).verify(token) == Principal(
        "alice", is_operator=False, tenants=frozenset({"acme", "beta"})
    )


def test_token_command_mints_an_operator_token_found_from_the_working_folder(
    tmp_path: Path,
    saved_issuer: LocalTokenIssuer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    below = tmp_path / "some" / "folder"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert main(["token", "--operator", "--ttl", "120"]) == 0
    principal = _verifier(saved_issuer).verify(capsys.readouterr().out.strip())
    assert principal.is_operator
    assert principal.can_administer("any-tenant")


def test_token_command_without_a_local_stack_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "acme", "--state-dir", str(tmp_path)]) == 3
    assert "eventrelay local" in capsys.readouterr().err


def test_token_command_needs_a_tenant_or_operator(tmp_path: Path, saved_issuer: LocalTokenIssuer) -> None:
    assert main(["token", "--state-dir", str(tmp_path)]) == 2
