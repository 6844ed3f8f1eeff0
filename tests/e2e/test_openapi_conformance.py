"""Property-based: the running local stack answers as its OpenAPI document says (schemathesis).

For every operation of the document the stack serves at `/v1/openapi.json`, schemathesis generates
requests from the schemas (valid ones, and invalid ones: wrong types, missing fields, bad
parameters) and checks each answer: no 5xx other than the documented 1009, a documented status
code, the documented content type, headers and body schema. Admin operations are called with an
operator's token from the stack's own issuer; the Events API with generated headers (so mostly
its refusals, each in the Error shape).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eventrelay.admin_api.http_event import openapi_document
from tests.support.admin_api import stack_issuer
from tests.support.local_stack import RunningStack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in json.loads(openapi_document())["paths"].items()
    for method in item
)


@pytest.fixture(scope="module")
def served_schema(local_stack: RunningStack) -> Any:
    answer = requests.get(f"{local_stack.api_url}/v1/openapi.json", timeout=30)
    assert answer.status_code == 200
    # The stack serves the document checked in (which a unit test proves is the routes' own).
    assert answer.json() == json.loads(openapi_document())
    return schemathesis.openapi.from_dict(answer.json())


@pytest.fixture(scope="module")
def operator_token(local_stack: RunningStack) -> str:
    return stack_issuer(local_stack).mint("schemathesis", operator=True)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_local_stack_answers_as_its_openapi_document_says(
    method: str, path: str, served_schema: Any, local_stack: RunningStack, operator_token: str
) -> None:
    operation = served_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )

    @given(case=cases)
    @settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(
            base_url=local_stack.api_url,
            headers={"Authorization": f"Bearer {operator_token}"},
            checks=CHECKS,
            timeout=60,
        )

    answers_as_documented()
