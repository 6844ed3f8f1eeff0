"""The admin console in a real headless Chromium against the local stack (`eventrelay local`).

The scenario of issue 10, in order (one module-scoped stack, tests in file order): an operator
signs in, creates a basic-auth connector aimed at a recording server on 127.0.0.1, tests the
connection, creates an action with `{{title}}` and `{{due}}` (`due` a Date), tests it, creates a
rule, an event is published with plain HTTP, the delivery SUCCEEDED with its attempt, the target
fails, the next delivery is FAILED, a replay by filter (counted first) makes it SUCCEEDED; the
recording server saw exactly the rendered requests. Then: a tenant admin cannot reach another
tenant (404), XSS and CSRF attempts fail, and axe-core finds no serious violation on any page.
Screenshots of each page go under the test's output directory; the main ones into docs/console/.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.admin_api import operator_token
from tests.support.browser import Console, start_browser
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.local_stack import REPO_ROOT, RunningStack

TENANT = "demo"
PASSWORD = f"console-canary-{secrets.token_hex(6)}"
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "console"
MAIN_PAGES = (
    "sign-in",
    "tenants",
    "connectors",
    "connector",
    "action",
    "rule",
    "deliveries",
    "delivery",
    "limits",
)


@dataclass
class Target:
    """The external API: answers 200, or 422 (a permanent failure) while `failing`."""

    failing: bool = False
    server: RecordingServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = RecordingServer(self.respond)

    def respond(self, request: RecordedRequest) -> Reply:
        if self.failing:
            return Reply(status=422, body=b'{"error": "due date refused"}')
        return Reply(body=b'{"id": "T-1", "ok": true}')


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    chosen = Target()
    with chosen.server:
        yield chosen


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    browser = start_browser()
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def console(driver: WebDriver, local_stack: RunningStack, screenshots: Path) -> Console:
    return Console(driver, local_stack.api_url, screenshots)


def admin_call(stack: RunningStack, method: str, path: str, body: object = None) -> requests.Response:
    """The admin API as a script calls it (no Origin header), with an operator's token."""
    return requests.request(
        method,
        f"{stack.api_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {operator_token(stack)}"},
        timeout=30,
    )


def publish(stack: RunningStack, order: dict[str, object]) -> None:
    answer = requests.post(
        f"{stack.api_url}/v1/eventManager/event",
        json=order,
        headers={
            "eventName": "OrderPlaced",
            "eventVersion": "v01",
            "tenantId": TENANT,
            "sharedSecret": stack.demo_secret,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def delivery_row(console: Console, order_state: str) -> str | None:
    """Filter the deliveries page again; the id of the newest delivery in `order_state`, if any."""
    console.click_and_rerender("apply-filters")
    rows = console.driver.find_elements(By.CSS_SELECTOR, f"tr[data-state='{order_state}']")
    return rows[0].get_attribute("data-delivery") if rows else None


def test_an_operator_configures_and_follows_a_delivery_in_the_browser(
    console: Console, local_stack: RunningStack, target: Target
) -> None:
    base_url = target.server.url("")
    # `make run` prints the console's link; sign in (the stack's issuer, code + PKCE), pick the tenant.
    assert local_stack.printed(f"{local_stack.api_url}/console/")
    console.driver.get(f"{local_stack.api_url}/console/")
    console.element("sign-in")
    console.screenshot("sign-in")
    console.sign_in("ops@example")
    assert console.text_of("signed-in-as") == "ops@example (operator)"
    console.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".tenant-link"))
    console.screenshot("tenants")
    console.driver.find_element(By.LINK_TEXT, TENANT).click()
    console.wait_for_text("page-title", "Connectors")

    # A basic-auth connector aimed at the recording server; Test connection.
    console.click("new-connector")
    console.wait_for_text("page-title", "New connector")
    console.type_into("connector-name", "tickets")
    console.type_into("connector-base-url", base_url)
    console.type_into("connector-test-url", "/health")
    console.choose("connector-auth-type", "Basic")
    console.type_into("connector-username", "relay")
    console.type_into("connector-password", PASSWORD)
    console.click("save-connector")
    console.wait_for_text("page-title", "Connector tickets")
    assert console.element("connector-password").get_attribute("value") == ""  # write-only
    assert PASSWORD not in console.driver.page_source
    console.click("test-connection")
    assert "OK" in console.wait_for_text("test-outcome", "SUCCESS")
    assert console.text_of("test-status") == "200"
    assert console.text_of("test-duration").endswith(" ms")
    assert '"id": "T-1"' in console.text_of("test-body")
    console.screenshot("connector")
    console.open(f"t/{TENANT}/connectors", "Connectors")
    console.screenshot("connectors")

    # An action whose payload has {{title}} and {{due}}: the Fields section follows the typing.
    console.open(f"t/{TENANT}/actions/new", "New action")
    console.type_into("action-name", "create-ticket")
    console.choose("action-connector", "tickets")
    console.type_into("action-url", "/tickets")
    console.type_into("action-payload", '{"title": "{{title}}"')
    console.wait(
        lambda d: (
            [
                row.get_attribute("data-field")
                for row in d.find_elements(By.CSS_SELECTOR, "#fields-body tr[data-field]")
            ]
            == ["title"]
        )
    )
    console.element("action-payload").send_keys(', "due": "{{due}}"}')
    console.wait(
        lambda d: (
            [
                row.get_attribute("data-field")
                for row in d.find_elements(By.CSS_SELECTOR, "#fields-body tr[data-field]")
            ]
            == ["title", "due"]
        )
    )
    console.choose("field-type-due", "Date")
    assert console.element("action-max-retries").get_attribute("value") == "3"
    console.click("save-action")
    console.wait_for_text("page-title", "Action create-ticket")
    assert console.element("field-type-due").get_attribute("value") == "Date"

    # Test with a value per field: the redacted request, the response, the curl line.
    console.type_into("test-value-title", "Write docs")
    console.driver.execute_script("arguments[0].value = '2026-12-01'", console.element("test-value-due"))
    console.click("run-test")
    request_text = console.wait_for_text("test-request", "POST")
    assert f"{base_url}/tickets" in request_text
    assert "[REDACTED]" in request_text
    assert '"due": "2026-12-01"' in request_text
    assert PASSWORD not in console.driver.page_source
    assert "200" in console.text_of("test-response-summary")
    assert console.text_of("test-curl").startswith("curl")
    console.screenshot("action")

    # A rule: OrderPlaced with total >= 10 → create-ticket, title from the payload, due a constant.
    console.open(f"t/{TENANT}/rules/new", "New rule")
    console.type_into("rule-name", "ticket-per-order")
    console.choose("rule-event", "OrderPlaced/v01")
    console.choose("rule-action", "create-ticket")
    console.choose("rule-condition-mode", "Build with a form")
    console.type_into("cond-path-0", "$.total")
    console.choose("cond-op-0", "gte")
    console.type_into("cond-value-0", "10")
    console.type_into("map-value-title", "$.orderId")
    console.choose("map-source-due", "constant")
    console.type_into("map-value-due", '"2026-12-24"')
    console.screenshot("rule")
    console.click("save-rule")
    console.wait_for_text("page-title", "Rules")
    assert (
        "$.total >= 10"
        in console.driver.find_element(By.CSS_SELECTOR, "tr[data-rule='ticket-per-order']").text
    )

    # Published with plain HTTP: the delivery SUCCEEDED, with its attempt.
    publish(local_stack, {"orderId": "o-1", "total": 42})
    console.open(f"t/{TENANT}/deliveries", "Deliveries")
    succeeded = console.wait(lambda d: delivery_row(console, "SUCCEEDED"))
    console.screenshot("deliveries")
    console.driver.find_element(By.CSS_SELECTOR, f"tr[data-delivery='{succeeded}'] a").click()
    console.wait_for_text("delivery-state", "SUCCEEDED")
    attempts = console.driver.find_elements(By.CSS_SELECTOR, "#attempts li")
    assert [a.get_attribute("data-outcome") for a in attempts] == ["SUCCESS"]
    assert "status 200" in attempts[0].text

    # The target fails: the next delivery is FAILED; a replay by filter, counted first, succeeds.
    target.failing = True
    publish(local_stack, {"orderId": "o-2", "total": 50})
    console.open(f"t/{TENANT}/deliveries", "Deliveries")
    failed = console.wait(lambda d: delivery_row(console, "FAILED"))
    target.failing = False
    console.choose("filter-state", "FAILED")
    console.click("replay-matching")
    assert console.wait_for_text("replay-count", "would be replayed").startswith("1 deliveries")
    console.click("confirm-replay")
    assert console.wait_for_text("replay-report", "Replayed") == "Replayed 1 of 1 matched."
    console.open(f"t/{TENANT}/deliveries/{failed}", f"Delivery {failed}")

    def replayed(d: WebDriver) -> bool:
        console.click_and_rerender("refresh-delivery")
        return "SUCCEEDED" in console.text_of("delivery-state")

    console.wait(replayed)
    outcomes = [
        a.get_attribute("data-outcome") for a in console.driver.find_elements(By.CSS_SELECTOR, "#attempts li")
    ]
    assert outcomes == ["PERMANENT", "SUCCESS"]
    console.element("timeline")
    console.screenshot("delivery")
    console.open(f"t/{TENANT}/limits", "Limits and usage")
    console.element("usage-chart")
    console.screenshot("limits")
    for route, title, name in (
        (f"t/{TENANT}/registrations", "Event registrations", "registrations"),
        (f"t/{TENANT}/audit", "Audit log", "audit"),
        (f"t/{TENANT}/actions", "External actions", "actions"),
        (f"t/{TENANT}/rules", "Rules", "rules"),
    ):
        console.open(route, title)
        console.screenshot(name)

    # The recording server saw exactly the rendered requests, each with the connector's basic auth.
    basic = "Basic " + base64.b64encode(f"relay:{PASSWORD}".encode()).decode()
    seen = [(r.method, r.path, r.body, r.header("Authorization")) for r in target.server.requests]
    assert [(method, path) for method, path, _, _ in seen] == [
        ("GET", "/health"),
        ("POST", "/tickets"),
        ("POST", "/tickets"),
        ("POST", "/tickets"),
        ("POST", "/tickets"),
    ]
    assert [json.loads(body) if body else None for _, _, body, _ in seen] == [
        None,
        {"title": "Write docs", "due": "2026-12-01"},
        {"title": "o-1", "due": "2026-12-24"},
        {"title": "o-2", "due": "2026-12-24"},
        {"title": "o-2", "due": "2026-12-24"},
    ]
    assert seen[1][2] == b'{"title": "Write docs", "due": "2026-12-01"}'  # as typed, tokens filled in
    assert all(authorization == basic for _, _, _, authorization in seen)

    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name in MAIN_PAGES:
        shutil.copyfile(console.screenshots / f"{name}.png", DOCS_SCREENSHOTS / f"{name}.png")


def test_a_tenant_admin_cannot_reach_another_tenant(console: Console, local_stack: RunningStack) -> None:
    assert (
        admin_call(
            local_stack, "POST", "/v1/admin/tenants", {"tenantId": "other", "name": "Other"}
        ).status_code
        == 201
    )
    assert (
        admin_call(
            local_stack,
            "POST",
            "/v1/admin/tenants/other/connectors",
            {"name": "theirs", "baseUrl": "https://other.example"},
        ).status_code
        == 201
    )
    console.sign_in("ann@example", operator=False, tenants=TENANT)
    # One tenant: straight to its pages.
    console.wait_for_text("page-title", "Connectors")
    assert "tickets" in console.text_of("main")
    for page in ("connectors", "connectors/theirs", "actions", "rules", "deliveries", "limits", "audit"):
        console.open(f"t/other/{page}", "Not found")
        assert "404" in console.text_of("not-found")
        assert "theirs" not in console.text_of("main")
    # The data too: the API answers the page's own token for the other tenant as an unknown one.
    status = console.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/v1/admin/tenants/other/connectors/theirs', {headers: {Authorization: 'Bearer ' + "
        "sessionStorage.getItem('eventrelay.console.token')}}).then((r) => done(r.status));"
    )
    assert status == 404
    console.screenshot("tenant-admin-other-tenant")


XSS = "<img src=x onerror=alert(1)>"


def test_markup_in_names_stays_text(console: Console, local_stack: RunningStack) -> None:
    # Connector names are restricted to [A-Za-z0-9_.-] by the model, so the markup rides in every
    # free-text value the console shows: a tenant's name, a connector's description and header,
    # a rule's description and the signed-in subject.
    assert (
        admin_call(local_stack, "POST", "/v1/admin/tenants", {"tenantId": "xss", "name": XSS}).status_code
        == 201
    )
    created = admin_call(
        local_stack,
        "POST",
        "/v1/admin/tenants/xss/connectors",
        {"name": "markup", "baseUrl": "https://x.example", "description": XSS, "headers": {"X-Note": XSS}},
    )
    assert created.status_code == 201, created.text
    console.sign_in(XSS)
    assert console.text_of("signed-in-as") == f"{XSS} (operator)"
    console.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".tenant-link"))
    assert XSS in console.text_of("tenants")
    console.open("t/xss/connectors", "Connectors")
    assert XSS in console.text_of("main")
    console.open("t/xss/connectors/markup", "Connector markup")
    assert console.element("connector-description").get_attribute("value") == XSS
    for _ in range(2):  # no image element was made from the text, and no alert ran
        assert console.driver.find_elements(By.CSS_SELECTOR, "img") == []
        assert console.no_alert()
    console.screenshot("xss")


HOSTILE_PAGE = """<!doctype html><html><body><h1>Win a prize</h1>
<form id="f" method="POST" action="{api}/v1/admin/tenants" enctype="text/plain">
<input type="hidden" name='{{"tenantId": "csrf-form", "x": "' value='"}}'></form>
<p id="fetch-outcome">pending</p>
<script>
fetch("{api}/v1/admin/tenants", {{method: "POST", headers: {{"Content-Type": "application/json",
  Authorization: "Bearer {token}"}}, body: JSON.stringify({{tenantId: "csrf-fetch"}})}})
  .then((r) => {{ document.getElementById("fetch-outcome").textContent = "answered " + r.status; }},
        (e) => {{ document.getElementById("fetch-outcome").textContent = "blocked"; }})
  .finally(() => document.getElementById("f").submit());
</script></body></html>"""


def test_a_page_of_another_origin_cannot_change_anything(console: Console, local_stack: RunningStack) -> None:
    # Even holding a valid token (as if it had leaked), a page served from another origin on
    # 127.0.0.1 cannot change anything: its fetch needs a CORS allowance the API never gives,
    # and its plain form POST (no preflight) is refused by the Origin check, 1015.
    page = HOSTILE_PAGE.format(api=local_stack.api_url, token=operator_token(local_stack)).encode()
    with RecordingServer(lambda request: Reply(headers={"Content-Type": "text/html"}, body=page)) as hostile:
        console.driver.get(hostile.url("/prize"))
        answer = console.wait(
            lambda d: (
                "1015" in d.find_element(By.TAG_NAME, "body").text
                and d.find_element(By.TAG_NAME, "body").text
            )
        )
    assert "Cross-origin request refused" in answer
    for tenant in ("csrf-form", "csrf-fetch"):
        assert admin_call(local_stack, "GET", f"/v1/admin/tenants/{tenant}").status_code == 404
    # The same refusal over plain HTTP, and the API's own origin is accepted.
    foreign = requests.post(
        f"{local_stack.api_url}/v1/admin/tenants",
        json={"tenantId": "csrf-http"},
        headers={"Authorization": f"Bearer {operator_token(local_stack)}", "Origin": "http://127.0.0.1:1"},
        timeout=30,
    )
    assert (foreign.status_code, foreign.json()["errorCode"]) == (403, "1015")
    assert "access-control-allow-origin" not in {name.lower() for name in foreign.headers}
    own = requests.post(
        f"{local_stack.api_url}/v1/admin/tenants",
        json={"tenantId": "same-origin"},
        headers={"Authorization": f"Bearer {operator_token(local_stack)}", "Origin": local_stack.api_url},
        timeout=30,
    )
    assert own.status_code == 201


ACCESSIBILITY_ROUTES = (
    ("t/demo/connectors", "Connectors"),
    ("t/demo/connectors/new", "New connector"),
    ("t/demo/connectors/tickets", "Connector tickets"),
    ("t/demo/actions", "External actions"),
    ("t/demo/actions/new", "New action"),
    ("t/demo/actions/create-ticket", "Action create-ticket"),
    ("t/demo/rules", "Rules"),
    ("t/demo/rules/new", "New rule"),
    ("t/demo/rules/ticket-per-order", "Rule ticket-per-order"),
    ("t/demo/deliveries", "Deliveries"),
    ("t/demo/registrations", "Event registrations"),
    ("t/demo/limits", "Limits and usage"),
    ("t/demo/audit", "Audit log"),
    ("", "Pick a tenant"),
)


def test_every_page_passes_axe_core(console: Console, local_stack: RunningStack) -> None:
    console.driver.get(f"{local_stack.api_url}/console/")
    console.element("sign-in")
    found = {"sign-in": console.serious_accessibility_violations()}
    console.click("sign-in")
    console.element("subject")
    found["sign-in form"] = console.serious_accessibility_violations()
    console.type_into("subject", "a11y@example")
    console.click("sign-in")
    console.element("signed-in-as")
    for route, title in ACCESSIBILITY_ROUTES:
        console.open(route, title)
        found[route or "tenants"] = console.serious_accessibility_violations()
    deliveries = admin_call(local_stack, "GET", "/v1/admin/tenants/demo/deliveries").json()["data"][
        "deliveries"
    ]
    console.open(
        f"t/demo/deliveries/{deliveries[0]['deliveryId']}", f"Delivery {deliveries[0]['deliveryId']}"
    )
    found["delivery"] = console.serious_accessibility_violations()
    assert {page: violations for page, violations in found.items() if violations} == {}
