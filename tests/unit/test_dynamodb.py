"""The data layer's pure parts: item conversion, the expression builder, the error classification."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from hypothesis import given
from hypothesis import strategies as st

from eventrelay.aws import ServiceAnswer, dependency_boundary
from eventrelay.dynamodb import Expression, from_attribute, from_item, to_attribute, to_item
from eventrelay.errors import DependencyFailure

# DynamoDB numbers: up to 38 significant digits, magnitudes 1E-130 .. 9.99E+125.
integers = st.integers(min_value=-(10**37), max_value=10**37)
floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e100, max_value=1e100).filter(
    lambda number: number == 0 or abs(number) > 1e-100
)
scalars = st.one_of(st.none(), st.booleans(), st.text(), integers, floats, st.binary(min_size=1))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)),
    max_leaves=12,
)
items = st.dictionaries(st.text(min_size=1), values, max_size=6)


def same(left: Any, right: Any) -> bool:
    """Equal as values: an integral float comes back as int (DynamoDB keeps no number type)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return (bool(left == right) and type(left) is type(right)) or _same_number(left, right)


def _same_number(left: Any, right: Any) -> bool:
    return isinstance(left, float) and isinstance(right, int) and left.is_integer() and float(right) == left


@given(items)
def test_an_item_survives_the_round_trip_as_plain_python(item: dict[str, Any]) -> None:
    assert same(item, from_item(to_item(item)))


@given(floats)
def test_a_float_is_written_as_its_shortest_decimal_and_read_back_exactly(number: float) -> None:
    written = to_attribute(number)["N"]  # type: ignore[typeddict-item]
    assert Decimal(written) == Decimal(repr(number))
    back = from_attribute({"N": written})
    # The shortest decimal is what is kept: a float past 2**53 reads back as that decimal's int.
    assert float(back) == number
    assert type(back) is (int if number.is_integer() else float)


def test_numbers_read_back_as_int_or_float_never_decimal() -> None:
    item = from_item({"count": {"N": "3"}, "at": {"N": "1700000000.25"}, "list": {"L": [{"N": "2.0"}]}})
    assert item == {"count": 3, "at": 1700000000.25, "list": [2]}
    assert type(item["count"]) is int
    assert type(item["at"]) is float
    assert type(item["list"][0]) is int


def test_sets_bytes_null_and_bool_convert_both_ways() -> None:
    plain = {"tags": {"a", "b"}, "sizes": {1, 2.5}, "blob": b"\x00\x01", "none": None, "on": True}
    typed = to_item(plain)
    assert typed["none"] == {"NULL": True}
    assert typed["on"] == {"BOOL": True}
    assert from_item(typed) == plain


def test_nan_and_infinity_are_refused() -> None:
    for number in (math.nan, math.inf):
        with pytest.raises(TypeError):
            to_attribute(number)


def test_placeholders_are_named_and_a_name_is_reused() -> None:
    e = Expression()
    e.require(e.equals("version", 3), e.missing("pk"))
    e.set("version", 4)
    parameters = e.parameters()
    assert parameters["ConditionExpression"] == "(#n0 = :v0) AND (attribute_not_exists(#n1))"
    assert parameters["UpdateExpression"] == "SET #n0 = :v1"
    assert parameters["ExpressionAttributeNames"] == {"#n0": "version", "#n1": "pk"}
    assert parameters["ExpressionAttributeValues"] == {":v0": {"N": "3"}, ":v1": {"N": "4"}}


def test_update_clauses_set_add_and_remove_in_one_expression() -> None:
    e = Expression()
    e.set("state", "DONE").increment("count", -1).add("failures", 1).remove("lease").remove("token")
    assert e.parameters()["UpdateExpression"] == (
        "SET #n0 = :v0, #n1 = #n1 + :v1 ADD #n2 :v2 REMOVE #n3, #n4"
    )
    assert e.parameters()["ExpressionAttributeValues"][":v1"] == {"N": "-1"}


def test_or_and_and_groups_keep_their_meaning() -> None:
    e = Expression()
    e.require(e.any_of(e.missing("pk"), e.all_of(e.equals("a", 1), e.compare("b", "<", 2))))
    assert e.parameters()["ConditionExpression"] == (
        "(attribute_not_exists(#n0)) OR ((#n1 = :v0) AND (#n2 < :v1))"
    )


def test_key_conditions_and_filters_of_a_query() -> None:
    e = Expression()
    e.key(e.equals("pk", "TENANT#t"), e.begins_with("sk", "RULE#"))
    e.filter(e.equals("enabled", True))
    parameters = e.parameters()
    assert parameters["KeyConditionExpression"] == "#n0 = :v0 AND begins_with(#n1, :v1)"
    assert parameters["FilterExpression"] == "#n2 = :v2"
    assert parameters["ExpressionAttributeValues"][":v2"] == {"BOOL": True}
    assert "UpdateExpression" not in parameters
    assert "ConditionExpression" not in parameters


def test_between_on_a_sort_key() -> None:
    e = Expression()
    e.key(e.equals("tenantPk", "t"), e.between("tenantSk", "0", "~"))
    assert e.parameters()["KeyConditionExpression"] == "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2"


def test_an_empty_expression_fills_in_nothing() -> None:
    assert Expression().parameters() == {}


def client_error(code: str, message: str = "the AWS message, which may quote request data") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "PutItem")


def test_an_expected_answer_reaches_the_caller_with_its_code() -> None:
    expected = {"ConditionalCheckFailedException"}
    with pytest.raises(ServiceAnswer) as answered, dependency_boundary("DynamoDB table t", expected):
        raise client_error("ConditionalCheckFailedException")
    assert answered.value.code == "ConditionalCheckFailedException"


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException"),
        client_error("ResourceNotFoundException"),
        client_error("500"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ],
    ids=["throttled", "no-table", "http-500", "refused", "read-timeout"],
)
def test_every_other_aws_error_is_a_dependency_failure_without_aws_text(error: Exception) -> None:
    expected = {"ConditionalCheckFailedException"}
    with pytest.raises(DependencyFailure) as failed, dependency_boundary("DynamoDB table t", expected):
        raise error
    assert str(failed.value).startswith("DynamoDB table t unavailable")
    assert "AWS message" not in str(failed.value)
    assert "127.0.0.1" not in str(failed.value)
    assert failed.value.__cause__ is None
    assert failed.value.__suppress_context__


def test_errors_that_are_not_aws_errors_pass_through() -> None:
    with pytest.raises(KeyError), dependency_boundary("DynamoDB table t"):
        raise KeyError("ours")
