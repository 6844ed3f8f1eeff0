"""The admin API's vocabulary: a request, a route, a call and its reply, and the route table.

A route is a method and a path template (`/v1/admin/tenants/{tenantId}/connectors/{name}`); its
handler receives an `AdminCall` (the admin service acting as the caller, the checked tenant id,
path parameters, query and JSON body) and returns a `Reply` whose `data` is the JSON document the
answer carries. The CLI prints exactly that document (`--json`), whether it calls the routes in
its own process or over HTTPS (`--api`), so both modes answer the same by construction.

Area modules (`tenants.py`, `connectors.py`, …) each build a `RouteTable`; `routes.py` joins them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from eventrelay.errors import BadBody

if TYPE_CHECKING:
    from eventrelay.admin import AdminService
    from eventrelay.admin_auth import Principal

ADMIN_PREFIX = "/v1/admin"
_PARAMETER = re.compile(r"\{([A-Za-z]+)\}")
# A path parameter is one segment: no '/', percent-decoded by the transport.
_SEGMENT = r"([^/]+)"


def admin_path(*segments: str) -> str:
    """`/v1/admin/<segment>/…` with each segment percent-encoded (a name may hold any character)."""
    return ADMIN_PREFIX + "".join("/" + quote(segment, safe="") for segment in segments)


@dataclass(frozen=True)
class AdminRequest:
    """One admin API request, whatever carried it (API Gateway, the CLI's own process)."""

    method: str
    path: str  # as sent: segments still percent-encoded
    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    """A handler's answer: `data` is the JSON document; `message` the contract's success line."""

    data: Any
    status: int = 200
    message: str = "OK"


@dataclass(frozen=True)
class AdminCall:
    """What a handler gets: the service acting as the caller, and the request's parts.

    `tenant_id` is the `{tenantId}` of the path, already checked: the caller administers it and
    it exists (an unknown tenant and another tenant's answer alike, 1011)."""

    service: AdminService
    principal: Principal
    path_parameters: Mapping[str, str]
    query: Mapping[str, str]
    body_reader: Callable[[], dict[str, Any]]
    request_id: str

    @property
    def tenant_id(self) -> str:
        return self.path_parameters["tenantId"]

    def parameter(self, name: str) -> str:
        return self.path_parameters[name]

    def body(self) -> dict[str, Any]:
        """The request's JSON object (BadBody 1003 when it is not one)."""
        return self.body_reader()

    def query_flag(self, name: str) -> bool:
        value = self.query.get(name, "false").strip().lower()
        if value not in ("true", "false", "1", "0", ""):
            raise BadBody(f"query parameter {name} must be true or false")
        return value in ("true", "1")


Handler = Callable[[AdminCall], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    operator_only: bool = False
    summary: str = ""
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = "^" + _PARAMETER.sub(lambda m: f"(?P<{m.group(1)}>{_SEGMENT[1:-1]})", self.template) + "$"
        object.__setattr__(self, "pattern", re.compile(regex))

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The path parameters (percent-decoded) when `raw_path` (still encoded) is this route's."""
        found = self.pattern.match(raw_path)
        return None if found is None else {name: unquote(value) for name, value in found.groupdict().items()}

    @property
    def tenant_scoped(self) -> bool:
        return "{tenantId}" in self.template


class RouteTable:
    """Routes registered by decorator: `@routes.get("/tenants/{tenantId}/connectors")`.

    Templates are relative to `/v1/admin`."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def add(self, method: str, template: str, *, operator_only: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            summary = (handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else ""
            self._routes.append(
                Route(method, ADMIN_PREFIX + template, handler, operator_only=operator_only, summary=summary)
            )
            return handler

        return register

    def get(self, template: str, *, operator_only: bool = False) -> Callable[[Handler], Handler]:
        return self.add("GET", template, operator_only=operator_only)

    def post(self, template: str, *, operator_only: bool = False) -> Callable[[Handler], Handler]:
        return self.add("POST", template, operator_only=operator_only)

    def put(self, template: str, *, operator_only: bool = False) -> Callable[[Handler], Handler]:
        return self.add("PUT", template, operator_only=operator_only)

    def patch(self, template: str, *, operator_only: bool = False) -> Callable[[Handler], Handler]:
        return self.add("PATCH", template, operator_only=operator_only)

    def delete(self, template: str, *, operator_only: bool = False) -> Callable[[Handler], Handler]:
        return self.add("DELETE", template, operator_only=operator_only)
