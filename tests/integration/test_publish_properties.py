"""Property: any publish body gets 200 or a documented 4xx, never a 5xx, and every 200's queued
envelope holds the same JSON value as the body (issue 8)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventrelay.admin import AdminService, TenantWithSecret
from eventrelay.envelopes import MAX_ENVELOPE_BYTES
from eventrelay.settings import Settings
from eventrelay.tenants import LimitOverrides
from tests.support.api import ApiCaller

# What the README documents for a body: 1003 (not a JSON object), 1007 (too large to carry).
DOCUMENTED_BODY_ANSWERS = {(400, "1003"), (413, "1007")}

# Spellings that parsers and re-serializers treat differently.
AWKWARD_TOKENS = [
    "1E15",
    "1e999",
    "-1e999",
    "1e-999",
    "NaN",
    "Infinity",
    "-0",
    "1.0E+2",
    "0.1",
    "9" * 5000,
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"\\ud83d\\ude00"',
    '"\\u0000"',
    '"\ufffe\uffff"',
    '"\U0001f600"',
    '"a\\/b"',
    "[" * 3000 + "]" * 3000,
    "[1,]",
    "true",
    "null",
    "{}",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def rendered_objects(draw: st.DrawFn) -> bytes:
    value = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 0, 2])))
    return text.encode("utf-8", "surrogatepass")


@st.composite
def objects_with_awkward_tokens(draw: st.DrawFn) -> bytes:
    tokens = draw(st.lists(st.sampled_from(AWKWARD_TOKENS), min_size=1, max_size=4))
    members = ",".join(f'"k{index}": {token}' for index, token in enumerate(tokens))
    return ("{" + members + "}").encode("utf-8", "surrogatepass")


@st.composite
def large_arrays_of_short_numbers(draw: st.DrawFn) -> bytes:
    """Bodies near the size cap whose numbers are short as sent and long when written out again."""
    token = draw(st.sampled_from(["1E15", "1e5", "2E9", "1", "-0"]))
    count = draw(st.integers(min_value=1, max_value=131_000 // (len(token) + 1)))
    return ('{"n":[' + ",".join([token] * count) + "]}").encode()


publish_bodies = st.one_of(
    large_arrays_of_short_numbers(),
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda text: text.encode("utf-8", "surrogatepass")),
    rendered_objects(),
    objects_with_awkward_tokens(),
    st.binary(max_size=8).map(lambda junk: b'{"a": "' + junk + b'"}'),
)


def queued_message(settings_: Settings, event_id: str) -> str | None:
    sqs = boto3.client("sqs", region_name=settings_.region)
    found = None
    while batch := sqs.receive_message(QueueUrl=settings_.events_queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in batch:
            if json.loads(message["Body"])["eventId"] == event_id:
                found = message["Body"]
        sqs.delete_message_batch(
            QueueUrl=settings_.events_queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return found


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=publish_bodies)
def test_any_body_gets_200_or_a_documented_4xx_and_a_200_travels_as_the_same_value(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, settings: Settings, body: bytes
) -> None:
    tenant_id = tenant.tenant.tenant_id
    admin.tenants.set_limits(tenant_id, LimitOverrides(sync_per_minute=1_000_000, sync_per_day=100_000_000))
    answer = api.publish(tenant_id, tenant.shared_secret, None, raw_body=body)
    if answer.status != 200:
        assert (answer.status, answer.error_code) in DOCUMENTED_BODY_ANSWERS, answer.body
        return
    message = queued_message(settings, answer.body["data"]["eventId"])
    assert message is not None
    assert len(message.encode("utf-8")) <= MAX_ENVELOPE_BYTES
    sent: Any = json.loads(body.decode("utf-8"))
    assert json.loads(message)["payload"] == sent
