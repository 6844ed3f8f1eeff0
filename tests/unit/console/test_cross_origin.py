"""The admin API refuses a state change sent by a page of another origin (1015), and only that."""

from __future__ import annotations

import pytest

from eventrelay.admin_api.edge import own_origin, refuse_cross_origin
from eventrelay.admin_api.routing import AdminRequest
from eventrelay.errors import CrossOriginRefused, ErrorCode

API_HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def request(method: str, origin: str | None, *, host: str = API_HOST, proto: str = "https") -> AdminRequest:
    headers = {"host": host, "x-forwarded-proto": proto}
    if origin is not None:
        headers["origin"] = origin
    return AdminRequest(method=method, path="/v1/admin/tenants", request_id="r-1", headers=headers)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        f"http://{API_HOST}",  # same host, another scheme: another origin
        f"https://{API_HOST}:8443",  # another port
        f"https://{API_HOST}.evil.example",
        "null",  # a sandboxed frame or a file page
        "",
    ],
)
def test_a_state_change_from_another_origin_is_refused_with_1015(method: str, origin: str) -> None:
    with pytest.raises(CrossOriginRefused) as refused:
        refuse_cross_origin(request(method, origin))
    assert refused.value.code is ErrorCode.CROSS_ORIGIN
    assert refused.value.code.http_status == 403
    assert refused.value.code.description == "Cross-origin request refused"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("origin", [None, f"https://{API_HOST}", f"HTTPS://{API_HOST.upper()}/"])
def test_a_state_change_from_the_api_own_origin_or_without_origin_passes(
    method: str, origin: str | None
) -> None:
    refuse_cross_origin(request(method, origin))  # no Origin: the CLI, curl, a server


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_are_not_refused_whatever_the_origin(method: str) -> None:
    refuse_cross_origin(request(method, "https://evil.example"))


def test_the_local_stack_origin_is_plain_http_with_its_port() -> None:
    local = request("POST", "http://127.0.0.1:3000", host="127.0.0.1:3000", proto="http")
    assert own_origin(local.headers) == "http://127.0.0.1:3000"
    refuse_cross_origin(local)
    with pytest.raises(CrossOriginRefused):
        refuse_cross_origin(request("POST", "http://127.0.0.1:3001", host="127.0.0.1:3000", proto="http"))
