"""Property-based: the running local stack answers as its OpenAPI document says (schemathesis).

Schemathesis generates requests for every operation of the document the stack serves at
`/v1/openapi.json` (valid and invalid bodies, parameters and headers) and checks each answer: no
5xx other than the documented 1009, a documented status code, the documented content type,
headers and body schema. Admin operations are called with an operator's token from the stack's
own issuer; the Events API with generated headers (so mostly its refusals, each in the Error shape).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.admin_api import stack_issuer
from tests.support.local_stack import RunningStack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

openapi = schemathesis.pytest.from_fixture("served_document")


@pytest.fixture(scope="module")
def served_document(local_stack: RunningStack) -> Any:
    answer = requests.get(f"{local_stack.api_url}/v1/openapi.json", timeout=30)
    assert answer.status_code == 200
    return schemathesis.openapi.from_dict(answer.json())


@pytest.fixture(scope="module")
def operator_token(local_stack: RunningStack) -> str:
    return stack_issuer(local_stack).mint("schemathesis", operator=True)


@pytest.mark.slow
@openapi.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_local_stack_answers_as_its_openapi_document_says(
    case: Any, local_stack: RunningStack, operator_token: str
) -> None:
    case.call_and_validate(
        base_url=local_stack.api_url,
        headers={"Authorization": f"Bearer {operator_token}"},
        checks=CHECKS,
        timeout=60,
    )
