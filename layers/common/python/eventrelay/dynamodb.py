"""The one way stores talk to DynamoDB: plain items, named placeholders, one error boundary.

- Items are plain Python dicts. `to_item`/`from_item` convert them by the rules of boto3's
  `TypeSerializer`/`TypeDeserializer` (ported here: importing boto3 for them would import boto3,
  s3transfer and their dependencies on every cold start, see `eventrelay.aws`); a float is written
  as its shortest decimal form (the serializer itself refuses floats), and a number reads back as
  `int` when it is integral, else as `float` (never `Decimal`), which is what the stores' models
  take.
- `Expression` collects the expressions of ONE request with named placeholders (`#n0`, `:v0`, ...):
  key conditions, filters, conditions, and updates (SET, ADD, REMOVE). Values are plain Python.
- `Table` sends the requests and is the error boundary: a refused condition raises
  `ConditionFailed` carrying the item as it stood (DynamoDB returns it with the error,
  `ReturnValuesOnConditionCheckFailure=ALL_OLD`, no extra read), and every other botocore or
  network error raises `DependencyFailure` naming the table (see `eventrelay.aws.dependency_boundary`).

Stores keep the logic (keys, the mapping to their models, what a failed condition means in their
domain); this module only the I/O. (Models: Powertools' `DynamoDBPersistenceLayer`, which does the
I/O for `BasePersistenceLayer`; alisaifee/limits' `_wrap_errors`, one error type for every backend
failure.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import TYPE_CHECKING, Any, Literal, cast

from eventrelay.aws import ServiceAnswer, dependency_boundary
from eventrelay.errors import DependencyFailure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

Item = dict[str, Any]
"""A plain item: attribute name → Python value (str, int, float, bool, None, bytes, list, dict, set)."""

ReturnValues = Literal["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]
Comparison = Literal["=", "<>", "<", "<=", ">", ">="]

# DynamoDB's limit on one item: attribute names and values together.
MAX_ITEM_BYTES = 400 * 1024
# A number takes at most 21 bytes (38 significant digits, 2 per byte, plus 1 or 2).
_MAX_NUMBER_BYTES = 21

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
# Cancellation reasons that mean "another writer got there first": the caller's read is stale.
_LOST_RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})

# boto3's DYNAMODB_CONTEXT: DynamoDB's number range and precision, any loss of precision an error.
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


# ---- item conversion -------------------------------------------------------------------------


def to_attribute(value: Any) -> AttributeValueTypeDef:
    """One plain value in DynamoDB's typed form (`{"S": ...}`, `{"N": ...}`, ...)."""
    return cast("AttributeValueTypeDef", _typed(_with_decimals(value)))


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    """One typed DynamoDB value as plain Python (integral numbers as int, others as float)."""
    return _plain(_untyped(attribute))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _number(value: int | Decimal) -> str:
    number = str(_NUMBERS.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _is_binary(value: Any) -> bool:
    return isinstance(value, bytes | bytearray)


def _is_set_of(value: Any, member: Callable[[Any], bool]) -> bool:
    return isinstance(value, Set) and all(member(inner) for inner in value)


# boto3's TypeSerializer: the first kind whose test the value passes, in boto3's order.
_WRITERS: tuple[tuple[str, Callable[[Any], bool], Callable[[Any], Any]], ...] = (
    ("NULL", lambda value: value is None, lambda _: True),
    ("BOOL", lambda value: isinstance(value, bool), lambda value: value),
    ("N", _is_number, _number),
    ("S", lambda value: isinstance(value, str), lambda value: value),
    ("B", _is_binary, lambda value: value),
    ("NS", lambda value: _is_set_of(value, _is_number), lambda value: [_number(n) for n in value]),
    ("SS", lambda value: _is_set_of(value, lambda inner: isinstance(inner, str)), list),
    ("BS", lambda value: _is_set_of(value, _is_binary), list),
    ("M", lambda value: isinstance(value, Mapping), lambda value: {k: _typed(v) for k, v in value.items()}),
    ("L", lambda value: isinstance(value, list | tuple), lambda value: [_typed(v) for v in value]),
)

# boto3's TypeDeserializer, except that binary reads as bytes (boto3's Binary wraps bytes).
_READERS: dict[str, Callable[[Any], Any]] = {
    "NULL": lambda _: None,
    "BOOL": lambda value: value,
    "N": _NUMBERS.create_decimal,
    "S": lambda value: value,
    "B": bytes,
    "NS": lambda value: {_NUMBERS.create_decimal(n) for n in value},
    "SS": set,
    "BS": lambda value: {bytes(b) for b in value},
    "L": lambda value: [_untyped(v) for v in value],
    "M": lambda value: {k: _untyped(v) for k, v in value.items()},
}


def _typed(value: Any) -> dict[str, Any]:
    for kind, matches, write in _WRITERS:
        if matches(value):
            return {kind: write(value)}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def _untyped(attribute: Mapping[str, Any]) -> Any:
    if not attribute:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, value = next(iter(attribute.items()))
    read = _READERS.get(kind)
    if read is None:
        raise TypeError(f"Dynamodb type {kind} is not supported")
    return read(value)


def to_item(plain: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {name: to_attribute(value) for name, value in plain.items()}


def from_item(item: Mapping[str, Any]) -> Item:
    return {name: from_attribute(value) for name, value in item.items()}


def item_size(plain: Mapping[str, Any]) -> int:
    """The size DynamoDB counts against `MAX_ITEM_BYTES`, never less (numbers at their largest)."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in plain.items())


def _value_size(value: Any) -> int:
    # Sizes as DynamoDB documents them ("Item sizes and formats").
    if isinstance(value, str | bytes | bytearray):
        return len(value.encode("utf-8") if isinstance(value, str) else value)
    if value is None or isinstance(value, bool | int | float | Decimal):
        return 1 if value is None or isinstance(value, bool) else _MAX_NUMBER_BYTES
    if isinstance(value, Mapping):
        return 3 + sum(1 + len(str(key).encode("utf-8")) + _value_size(inner) for key, inner in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(1 + _value_size(inner) for inner in value)
    if isinstance(value, Set):
        return sum(_value_size(inner) for inner in value)
    raise TypeError(f"not a DynamoDB value: {type(value).__name__}")


def _with_decimals(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("DynamoDB numbers cannot be NaN or infinite")
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: _with_decimals(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_with_decimals(inner) for inner in value]
    if isinstance(value, Set) and not isinstance(value, str | bytes):
        return {_with_decimals(inner) for inner in value}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    if isinstance(value, set):
        return {_plain(inner) for inner in value}
    return value


# ---- expressions -----------------------------------------------------------------------------


class Expression:
    """The expressions of one request, with named placeholders for every attribute and value.

    Condition helpers return text to compose (`any_of`, `all_of`); clause methods add to the
    request and return the expression, so a store reads like the request it sends::

        e = Expression()
        e.set("limits", "{}").require(e.exists("pk"))
        table.update({"pk": ..., "sk": "PROFILE"}, e)
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._values: dict[str, Any] = {}
        self._key: list[str] = []
        self._filters: list[str] = []
        self._conditions: list[str] = []
        self._sets: list[str] = []
        self._adds: list[str] = []
        self._removes: list[str] = []

    # placeholders

    def name(self, attribute: str) -> str:
        """The placeholder of a top-level attribute name (the same one each time it is asked)."""
        placeholder = self._names.get(attribute)
        if placeholder is None:
            placeholder = self._names[attribute] = f"#n{len(self._names)}"
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self._values)}"
        self._values[placeholder] = value
        return placeholder

    # conditions (text)

    def compare(self, attribute: str, operator: Comparison, value: Any) -> str:
        return f"{self.name(attribute)} {operator} {self.value(value)}"

    def equals(self, attribute: str, value: Any) -> str:
        return self.compare(attribute, "=", value)

    def exists(self, attribute: str) -> str:
        return f"attribute_exists({self.name(attribute)})"

    def missing(self, attribute: str) -> str:
        return f"attribute_not_exists({self.name(attribute)})"

    def begins_with(self, attribute: str, prefix: str) -> str:
        return f"begins_with({self.name(attribute)}, {self.value(prefix)})"

    def between(self, attribute: str, low: Any, high: Any) -> str:
        return f"{self.name(attribute)} BETWEEN {self.value(low)} AND {self.value(high)}"

    @staticmethod
    def all_of(*conditions: str) -> str:
        return _joined("AND", conditions)

    @staticmethod
    def any_of(*conditions: str) -> str:
        return _joined("OR", conditions)

    # clauses

    def key(self, *conditions: str) -> Expression:
        """Key conditions of a query (partition equality, then at most one sort-key condition)."""
        self._key.extend(conditions)
        return self

    def filter(self, *conditions: str) -> Expression:
        self._filters.extend(conditions)
        return self

    def require(self, *conditions: str) -> Expression:
        """Conditions a write needs (all of them); a refusal raises ConditionFailed."""
        self._conditions.extend(conditions)
        return self

    def set(self, attribute: str, value: Any) -> Expression:
        self._sets.append(f"{self.name(attribute)} = {self.value(value)}")
        return self

    def increment(self, attribute: str, amount: int) -> Expression:
        """SET attribute = attribute + amount (a negative amount decrements); the attribute must exist."""
        name = self.name(attribute)
        self._sets.append(f"{name} = {name} + {self.value(amount)}")
        return self

    def add(self, attribute: str, amount: int | float) -> Expression:
        """ADD: like increment, but a missing attribute counts as 0."""
        self._adds.append(f"{self.name(attribute)} {self.value(amount)}")
        return self

    def remove(self, attribute: str) -> Expression:
        self._removes.append(self.name(attribute))
        return self

    @property
    def has_condition(self) -> bool:
        return bool(self._conditions)

    def parameters(self) -> dict[str, Any]:
        """The request parameters this expression fills in (empty parts left out, as DynamoDB wants)."""
        parameters: dict[str, Any] = {}
        if self._key:
            parameters["KeyConditionExpression"] = " AND ".join(self._key)
        if self._filters:
            parameters["FilterExpression"] = _joined("AND", self._filters)
        if self._conditions:
            parameters["ConditionExpression"] = _joined("AND", self._conditions)
        clauses = [
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", self._sets), ("ADD", self._adds), ("REMOVE", self._removes))
            if parts
        ]
        if clauses:
            parameters["UpdateExpression"] = " ".join(clauses)
        if self._names:
            parameters["ExpressionAttributeNames"] = {
                placeholder: attribute for attribute, placeholder in self._names.items()
            }
        if self._values:
            parameters["ExpressionAttributeValues"] = {
                placeholder: to_attribute(value) for placeholder, value in self._values.items()
            }
        return parameters


def _joined(operator: str, conditions: Sequence[str]) -> str:
    if len(conditions) == 1:
        return conditions[0]
    return f" {operator} ".join(f"({condition})" for condition in conditions)


# ---- the error boundary and the I/O ------------------------------------------------------------


class ConditionFailed(Exception):
    """A conditional write was refused because the item was not as required.

    `item` is the item as it stood (plain values), None when it did not exist or DynamoDB did not
    return it. For a transaction, `items[i]` is that of write `i` (None where its condition held),
    and `item` the first one whose condition failed.
    """

    def __init__(self, item: Item | None, items: Sequence[Item | None] = ()) -> None:
        super().__init__("condition failed")
        self.item = item
        self.items = tuple(items)


@dataclass(frozen=True)
class Put:
    """A put inside a transaction (`Table.transact_write`)."""

    item: Mapping[str, Any]
    expression: Expression | None = None


@dataclass(frozen=True)
class Update:
    """An update inside a transaction (`Table.transact_write`)."""

    key: Mapping[str, Any]
    expression: Expression


class Table:
    """One DynamoDB table, spoken to in plain items. Every method raises DependencyFailure when
    DynamoDB cannot be reached or answers with an error; conditional writes raise ConditionFailed."""

    def __init__(self, name: str, client: DynamoDBClient) -> None:
        self.name = name
        self._client = client

    def get(self, key: Mapping[str, Any], *, consistent: bool = False) -> Item | None:
        with self._boundary():
            response = self._client.get_item(TableName=self.name, Key=to_item(key), ConsistentRead=consistent)
        item = response.get("Item")
        return from_item(item) if item is not None else None

    def put(self, item: Mapping[str, Any], expression: Expression | None = None) -> None:
        with self._boundary():
            self._client.put_item(**self._write_parameters(expression), Item=to_item(item))

    def update(
        self, key: Mapping[str, Any], expression: Expression, *, returns: ReturnValues = "NONE"
    ) -> Item:
        """Apply the expression's updates; returns the attributes `returns` asks for (else {})."""
        with self._boundary():
            response = self._client.update_item(
                **self._write_parameters(expression), Key=to_item(key), ReturnValues=returns
            )
        return from_item(response.get("Attributes", {}))

    def delete(
        self, key: Mapping[str, Any], expression: Expression | None = None, *, return_old: bool = False
    ) -> Item | None:
        """Delete the item; with `return_old`, the item as it was (None when there was none)."""
        with self._boundary():
            response = self._client.delete_item(
                **self._write_parameters(expression),
                Key=to_item(key),
                ReturnValues="ALL_OLD" if return_old else "NONE",
            )
        old = response.get("Attributes")
        return from_item(old) if old else None

    def query(
        self,
        expression: Expression,
        *,
        index: str | None = None,
        consistent: bool = False,
        newest_first: bool = False,
    ) -> Iterator[Item]:
        """Every matching item, page by page (`newest_first` reads the sort key descending)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            **expression.parameters(),
            "ScanIndexForward": not newest_first,
        }
        if index is not None:
            request["IndexName"] = index
        if consistent:
            request["ConsistentRead"] = True
        return self._pages("query", request)

    def scan(self, expression: Expression | None = None) -> Iterator[Item]:
        request: dict[str, Any] = {"TableName": self.name}
        if expression is not None:
            request.update(expression.parameters())
        return self._pages("scan", request)

    def transact_write(self, writes: Sequence[Put | Update]) -> None:
        """All writes or none. A refused condition raises ConditionFailed with each write's old item."""
        requests: list[TransactWriteItemTypeDef] = []
        for write in writes:
            if isinstance(write, Put):
                put = {**self._write_parameters(write.expression), "Item": to_item(write.item)}
                requests.append(cast("TransactWriteItemTypeDef", {"Put": put}))
            else:
                update = {**self._write_parameters(write.expression), "Key": to_item(write.key)}
                requests.append(cast("TransactWriteItemTypeDef", {"Update": update}))
        with self._boundary():
            self._client.transact_write_items(TransactItems=requests)

    # internals

    def _write_parameters(self, expression: Expression | None) -> dict[str, Any]:
        parameters: dict[str, Any] = {"TableName": self.name}
        if expression is not None:
            parameters.update(expression.parameters())
            if expression.has_condition:
                # The refused item comes back with the error: no second request to learn why.
                parameters["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return parameters

    def _pages(self, operation: Literal["query", "scan"], request: dict[str, Any]) -> Iterator[Item]:
        send = self._client.query if operation == "query" else self._client.scan
        while True:
            with self._boundary():
                response = send(**request)
            for item in response.get("Items", []):
                yield from_item(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    @contextmanager
    def _boundary(self) -> Iterator[None]:
        try:
            with dependency_boundary(
                f"DynamoDB table {self.name}", expected={CONDITIONAL_CHECK_FAILED, TRANSACTION_CANCELED}
            ):
                yield
        except ServiceAnswer as answer:
            raise self._refusal(answer) from None

    def _refusal(self, answer: ServiceAnswer) -> Exception:
        if answer.code == CONDITIONAL_CHECK_FAILED:
            old = answer.response.get("Item")
            return ConditionFailed(from_item(old) if old else None)
        reasons: list[Mapping[str, Any]] = list(answer.response.get("CancellationReasons") or [])
        codes = {reason.get("Code") for reason in reasons}
        if reasons and not codes & _LOST_RACE_REASONS:
            # Throttling, validation, capacity: DynamoDB failed, not the caller's read.
            return DependencyFailure(f"DynamoDB table {self.name} unavailable ({answer.code})")
        items = [from_item(reason["Item"]) if reason.get("Item") else None for reason in reasons]
        first = next(
            (
                item
                for reason, item in zip(reasons, items, strict=True)
                if reason.get("Code") in _LOST_RACE_REASONS
            ),
            None,
        )
        return ConditionFailed(first, items)
