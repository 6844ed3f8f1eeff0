"""A real headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium, and the
console's sign-in and checks built on it. Waits are WebDriverWait conditions, never sleeps."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.local_stack import REPO_ROOT

WAIT_SECONDS = 30
# axe-core's script, installed by `make install` (npm) next to DynamoDB Local.
AXE_SCRIPT = REPO_ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        raise AssertionError(
            "the browser tests need Debian's chromium and its driver: "
            "apt-get install -y chromium chromium-driver"
        )
    return browser, driver


def start_browser() -> WebDriver:
    browser, driver = chromium_paths()
    options = Options()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


class Console:
    """The console in one browser tab: sign in, open pages, fill forms, take screenshots."""

    def __init__(self, driver: WebDriver, base_url: str, screenshots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.screenshots = screenshots
        screenshots.mkdir(parents=True, exist_ok=True)

    def wait(self, condition: Callable[[WebDriver], Any], timeout: float = WAIT_SECONDS) -> Any:
        return WebDriverWait(self.driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
            condition
        )

    def element(self, element_id: str) -> WebElement:
        return self.wait(expected_conditions.visibility_of_element_located((By.ID, element_id)))

    def text_of(self, element_id: str) -> str:
        return str(self.element(element_id).text)

    def wait_for_text(self, element_id: str, text: str) -> str:
        self.wait(expected_conditions.text_to_be_present_in_element((By.ID, element_id), text))
        return self.text_of(element_id)

    def click(self, element_id: str) -> None:
        self.wait(expected_conditions.element_to_be_clickable((By.ID, element_id))).click()

    def click_and_rerender(self, element_id: str) -> None:
        """Click a button that renders the page again, and wait until it has (the heading is new)."""
        heading = self.element("page-title")
        self.click(element_id)
        self.wait(expected_conditions.staleness_of(heading))
        self.element("page-title")

    def type_into(self, element_id: str, text: str) -> None:
        box = self.element(element_id)
        box.clear()
        box.send_keys(text)

    def choose(self, element_id: str, visible_text: str) -> None:
        Select(self.element(element_id)).select_by_visible_text(visible_text)

    def sign_in(self, subject: str, *, operator: bool = True, tenants: str = "") -> None:
        """Through the stack's sign-in page (code + PKCE), back to the console signed in."""
        self.driver.get(f"{self.base_url}/console/")
        self.click("sign-in")
        self.type_into("subject", subject)
        self.click("role-operator" if operator else "role-tenant")
        if not operator:
            self.type_into("tenants", tenants)
        self.click("sign-in")
        self.element("signed-in-as")

    def open(self, route: str, title: str) -> None:
        """A page by its hash route, once its heading says `title`."""
        self.driver.get(f"{self.base_url}/console/#/{route}")
        self.driver.refresh()
        self.wait_for_text("page-title", title)

    def screenshot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def no_alert(self) -> bool:
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return True
        return alert is None

    def serious_accessibility_violations(self) -> list[dict[str, Any]]:
        """axe-core run in the page: the violations of impact serious or critical."""
        if not AXE_SCRIPT.is_file():
            raise AssertionError(f"axe-core is not installed at {AXE_SCRIPT}: run make install")
        self.driver.execute_script(AXE_SCRIPT.read_text(encoding="utf-8"))
        violations: list[dict[str, Any]] = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations),"
            " (e) => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));"
        )
        return [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n.get("target") for n in v.get("nodes", [])],
            }
            for v in violations
            if v.get("impact") in SERIOUS
        ]
