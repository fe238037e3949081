"""The staff dashboard in a real headless browser (Debian's chromium + chromedriver, driven by Selenium).

Starts the local stack (what ``make run`` starts) with a 30-minute first-response
policy, seeds two Telegram conversations through the signed webhook (one fresh,
one sent 40 minutes ago, which the pump's checker breaches), opens
``/dashboard``, enters the staff token and checks the order, the countdown's
minutes and that a customer name full of markup stays inert text. A screenshot
goes to ``tests/output/dashboard.png``.

Skipped only when chromium is missing outside CI; with ``CI=true`` a missing
browser fails (``.ci/run`` installs it).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests import payloads as p
from tests.localstack import STAFF, LocalStack
from tests.signing import body, telegram_headers

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
OUTPUT = Path(__file__).resolve().parents[1] / "output"
HOSTILE = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"

POLICY = """
[[sla.policies]]
name = "browser"
first_response = "30m"
next_response = "30m"
calendar = "always"

[[alerts.ladder]]
after = "0m"
phones = ["+15555550100"]
"""

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but chromium/chromedriver are missing (.ci/run installs them)", pytrace=False)
    pytest.skip("chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    launched = LocalStack(POLICY, tick_seconds=1, log=os.environ.get("HEED_E2E_LOG", os.devnull)).start()
    yield launched
    launched.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="heed-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def send(stack: LocalStack, update_id: int, chat_id: int, name: str, sent: int) -> None:
    raw = body(p.telegram_update(update_id, chat_id, update_id, "Where is my order?", date=sent, first_name=name))
    answer = requests.post(f"{stack.api}/webhooks/telegram", data=raw, headers=telegram_headers(), timeout=30)
    assert answer.json() == {"received": 1}


def wait_for(predicate, seconds: float = 60, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_dashboard_lists_breached_first_with_live_countdowns_and_inert_names(stack, browser):
    from selenium.webdriver.common.by import By

    now = int(time.time())
    send(stack, 1001, 501, HOSTILE, now - 40 * 60)  # due 10 minutes ago: the checker breaches it
    send(stack, 1002, 502, "Ana", now)  # due in 30 minutes

    def listed():
        convs = requests.get(f"{stack.api}/conversations?status=open", headers=STAFF, timeout=30).json()
        states = {c["customer"]["name"]: (c["sla"] or {}).get("state") for c in convs["conversations"]}
        return states if states.get(HOSTILE) == "breached" and states.get("Ana") == "ok" else None
    wait_for(listed, what="both clocks, one breached")

    page = requests.get(f"{stack.api}/dashboard", timeout=30)
    assert page.status_code == 200 and "script-src 'nonce-" in page.headers["Content-Security-Policy"]

    browser.get(f"{stack.api}/dashboard")
    browser.find_element(By.ID, "token").send_keys("local-staff-token")
    browser.find_element(By.ID, "save-token").click()
    rows = wait_for(lambda: (r := browser.find_elements(By.CSS_SELECTOR, "#conversations tr")) and len(r) == 2 and r,
                    what="two rows")
    time.sleep(1.2)  # one countdown tick
    rows = browser.find_elements(By.CSS_SELECTOR, "#conversations tr")
    first, second = rows
    assert "breached" in first.get_attribute("class")
    assert first.find_element(By.CSS_SELECTOR, ".customer").text == HOSTILE  # shown as text, not run
    assert browser.execute_script("return window.__xss === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "#conversations img, #conversations script")
    assert first.find_element(By.CSS_SELECTOR, ".countdown").text.startswith("-")  # overdue
    assert second.find_element(By.CSS_SELECTOR, ".customer").text == "Ana"
    countdown = second.find_element(By.CSS_SELECTOR, ".countdown").text
    assert re.fullmatch(r"(29:[0-5]\d|30:00)", countdown), countdown
    assert second.find_element(By.CSS_SELECTOR, ".priority").text == "normal"
    assert browser.execute_script("return sessionStorage.getItem('heedStaffToken')") == "local-staff-token"
    wait_for(lambda: browser.find_element(By.ID, "chart-note").text, what="the chart's note")
    OUTPUT.mkdir(exist_ok=True)
    browser.save_screenshot(str(OUTPUT / "dashboard.png"))
    assert (OUTPUT / "dashboard.png").stat().st_size > 1000
