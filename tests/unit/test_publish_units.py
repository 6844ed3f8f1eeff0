"""Publish-path pieces that need no AWS: body parsing, System Asset validation, credential caching, limits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrelay.errors import BadBody, ErrorCode, InvalidCredentials
from eventrelay.json_body import parse_json_object
from eventrelay.publishing import effective_limits
from eventrelay.ratelimit import Granularity, LimitKind
from eventrelay.system_asset import system_asset_problems
from eventrelay.tenants import CredentialVerifier, LimitOverrides, TenantSecret, generate_secret
from tests.support.api import ControlledClock

VALID_ASSET = {"tenantId": "t1", "assetType": "RULES", "assetId": "r-1", "operation": "DELETE"}


@given(st.binary(max_size=200))
def test_any_bytes_either_parse_to_an_object_or_raise_bad_body(body: bytes) -> None:
    outcome: object
    try:
        outcome = parse_json_object(body)
    except BadBody as error:
        outcome = error
    assert isinstance(outcome, dict) or (isinstance(outcome, BadBody) and outcome.code is ErrorCode.BAD_BODY)


@given(
    st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10) | st.booleans(), max_size=5)
)
def test_json_objects_round_trip(document: dict[str, object]) -> None:
    assert parse_json_object(json.dumps(document).encode()) == document


@pytest.mark.parametrize("asset_type", ["OBJECTS", "Objects", "objects", "Rules", "dd", "Dd"])
def test_system_asset_types_are_accepted_in_any_case(asset_type: str) -> None:
    # The original product's documents spell them Objects/Rules/DD
    assert system_asset_problems({**VALID_ASSET, "assetType": asset_type}, "t1") == []


def test_system_asset_valid_minimum_and_unknown_fields_are_kept() -> None:
    assert system_asset_problems({**VALID_ASSET, "extra": [1, 2]}, "t1") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"assetType": "COLLECTION_MASTER"}, "COLLECTION_MASTER"),
        ({"assetType": "Collection_Master"}, "Collection_Master"),
        ({"assetType": "Tables"}, "assetType"),
        ({"operation": "MERGE"}, "operation"),
        ({"operationType": "BOTH"}, "operationType"),
        ({"successCount": -1}, "successCount"),
        ({"successCount": 1.5}, "successCount"),
        ({"successCount": True}, "successCount"),
        ({"customCount": -3}, "customCount"),
        ({"bucketName": 12}, "bucketName"),
        ({"consumerProperties": "x"}, "consumerProperties"),
        ({"assetId": ""}, "assetId"),
    ],
)
def test_system_asset_problems_name_the_field(change: dict[str, object], field: str) -> None:
    problems = system_asset_problems({**VALID_ASSET, **change}, "t1")
    assert any(field in p for p in problems), problems


def test_system_asset_tenant_must_match_the_header() -> None:
    assert system_asset_problems(VALID_ASSET, "t2") == ["tenantId: must equal the tenantId header"]


class CountingSecretStore:
    """A fake of our own TenantSecretStore interface, counting lookups."""

    def __init__(self, secret: TenantSecret | None) -> None:
        self.secret = secret
        self.lookups = 0

    def get(self, tenant_id: str) -> TenantSecret | None:
        self.lookups += 1
        return self.secret


def test_wrong_secrets_refetch_at_most_once_per_interval_and_a_rotation_works_at_once() -> None:
    clock = ControlledClock(1000.0)
    store = CountingSecretStore(TenantSecret("old"))
    verifier = CredentialVerifier(store, cache_seconds=60, refetch_after_seconds=2, clock=clock)  # type: ignore[arg-type]
    verifier.verify("t", "old")
    for _ in range(50):
        with pytest.raises(InvalidCredentials):
            verifier.verify("t", "guess")
    assert store.lookups == 2  # the first load, one refetch for the burst of wrong secrets
    clock.advance(2)
    store.secret = TenantSecret("new", "old", previous_expires_at=clock() + 10)
    verifier.verify("t", "new")  # rotated: the mismatch refetches
    verifier.verify("t", "old")  # still within the overlap
    clock.advance(11)
    with pytest.raises(InvalidCredentials):
        verifier.verify("t", "old")


def test_unknown_tenants_are_refused_like_wrong_secrets() -> None:
    verifier = CredentialVerifier(CountingSecretStore(None), clock=ControlledClock(0))  # type: ignore[arg-type]
    with pytest.raises(InvalidCredentials):
        verifier.verify("nobody", "anything")


def test_overrides_replace_only_their_window() -> None:
    limits = effective_limits(LimitKind.SYNC, LimitOverrides(sync_per_day=7))
    assert {(i.granularity, i.amount) for i in limits} == {(Granularity.MINUTE, 100), (Granularity.DAY, 7)}
    async_limits = effective_limits(LimitKind.ASYNC, LimitOverrides(sync_per_day=7))
    assert {(i.granularity, i.amount) for i in async_limits} == {
        (Granularity.HOUR, 10),
        (Granularity.DAY, 100),
    }


def test_generated_secrets_never_start_with_a_dash() -> None:
    # About 1 in 64 base64url strings starts with "-": 4,000 draws would show it
    assert not [secret for secret in (generate_secret() for _ in range(4000)) if secret.startswith("-")]
