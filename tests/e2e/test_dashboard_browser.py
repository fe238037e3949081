"""The staff dashboard in a real headless browser (Debian's chromium + chromedriver, driven by Selenium).

Starts the local stack (what ``make run`` starts) with a 30-minute first-response
policy and incidents from two customers on, seeds five Telegram conversations
through the signed webhook, so every one goes through real triage in intake and
the stream (one sent 40 minutes ago, which the pump's checker breaches; a plain
question; a complaint with last-resort words, triaged ``urgent``/``complaint``;
a second complaint about the same thing, which opens an incident linking both;
a "thanks!" that triage labels ``noise``), opens ``/dashboard``, enters the
staff token and checks the order, the countdown's minutes, the priority, label
and incident chips, that the noise row shows no countdown and does not count as
waiting, and that a customer name full of markup stays inert text. A screenshot
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
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tests import payloads as p
from tests.localstack import STAFF, LocalStack
from tests.policy import ladder, policy_file, sla_policy
from tests.signing import body, telegram_headers

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
OUTPUT = Path(__file__).resolve().parents[1] / "output"
HOSTILE = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"

POLICY = policy_file(sla_policy("browser", "30m"), ladder(("0m", ["+15555550100"])), """
[reports]
timezone = "Pacific/Kiritimati"   # UTC+14: the chart's "today" is this zone's, not the browser's or UTC's

[incidents]
customers = 1          # more than one customer: the two complaints below open one
window = "30m"
min_shared_terms = 2
""")
URGENT = "I called three times and nobody answers, your app is broken at checkout! 😡"
SECOND = "The app is broken at checkout again, terrible."

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


def send(stack: LocalStack, update_id: int, chat_id: int, name: str, sent: int,
         text: str = "Where is my order?") -> None:
    raw = body(p.telegram_update(update_id, chat_id, update_id, text, date=sent, first_name=name))
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


def test_dashboard_lists_breached_first_with_live_countdowns_triage_chips_and_inert_names(stack, browser):
    from selenium.webdriver.common.by import By

    now = int(time.time())
    send(stack, 1001, 501, HOSTILE, now - 40 * 60)  # due 10 minutes ago: the checker breaches it
    send(stack, 1002, 502, "Ana", now - 5 * 60)  # due in 25 minutes
    send(stack, 1003, 503, "Bram", now - 60, URGENT)  # due in 29 minutes: urgent complaint
    send(stack, 1004, 504, "Cleo", now - 30, SECOND)  # due in 29.5 minutes: a complaint, with Bram an incident
    send(stack, 1005, 505, "Dan", now, "thanks!")  # noise: listed, no clock

    def listed():
        convs = requests.get(f"{stack.api}/conversations?status=open", headers=STAFF, timeout=30).json()
        by_name = {c["customer"]["name"]: c for c in convs["conversations"]}
        ready = (len(by_name) == 5 and (by_name[HOSTILE]["sla"] or {}).get("state") == "breached"
                 and by_name["Bram"]["priority"] == "urgent" and by_name["Bram"]["incident_id"]
                 and by_name["Cleo"]["incident_id"] and by_name["Dan"]["labels"] == ["noise"])
        return by_name if ready else None
    by_name = wait_for(listed, what="five triaged conversations, one breached, two in an incident")
    assert by_name["Bram"]["labels"] == ["complaint"] and by_name["Bram"]["sla"]["running"]
    assert by_name["Cleo"]["incident_id"] == by_name["Bram"]["incident_id"]
    assert by_name["Cleo"]["priority"] == "high" and "complaint" in by_name["Cleo"]["labels"]
    assert by_name["Dan"]["sla"] is None and by_name["Dan"]["incident_id"] is None
    assert by_name["Ana"]["labels"] == ["question"] and by_name["Ana"]["incident_id"] is None

    page = requests.get(f"{stack.api}/dashboard", timeout=30)
    assert page.status_code == 200 and "script-src 'nonce-" in page.headers["Content-Security-Policy"]

    browser.get(f"{stack.api}/dashboard")
    browser.find_element(By.ID, "token").send_keys("local-staff-token")
    browser.find_element(By.ID, "save-token").click()
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#conversations tr")) == 5, what="five rows")
    time.sleep(1.2)  # one countdown tick
    rows = browser.find_elements(By.CSS_SELECTOR, "#conversations tr")
    names = [row.find_element(By.CSS_SELECTOR, ".customer").text for row in rows]
    # breached first, then by time left, then conversations without a running clock (the noise)
    assert names == [HOSTILE, "Ana", "Bram", "Cleo", "Dan"], names
    first, ana, bram, cleo, dan = rows

    assert "breached" in first.get_attribute("class")
    assert browser.execute_script("return window.__xss === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "#conversations img, #conversations script")
    assert first.find_element(By.CSS_SELECTOR, ".countdown").text.startswith("-")  # overdue
    countdown = ana.find_element(By.CSS_SELECTOR, ".countdown").text
    assert re.fullmatch(r"(24:[0-5]\d|25:00)", countdown), countdown

    def chips(row) -> tuple[str, list[str], bool]:
        labels = [c.text for c in row.find_elements(By.CSS_SELECTOR, ".labels .chip.label")]
        return (row.find_element(By.CSS_SELECTOR, ".priority").text, labels,
                bool(row.find_elements(By.CSS_SELECTOR, ".labels .chip.incident")))
    assert chips(ana) == ("normal", ["question"], False)
    assert chips(bram) == ("urgent", ["complaint"], True)
    assert "priority-urgent" in bram.find_element(By.CSS_SELECTOR, ".priority").get_attribute("class")
    assert chips(cleo)[0] == "high" and "complaint" in chips(cleo)[1] and chips(cleo)[2]
    marker = bram.find_element(By.CSS_SELECTOR, ".chip.incident")
    assert marker.get_attribute("data-incident") == by_name["Bram"]["incident_id"]
    assert chips(dan) == ("normal", ["noise"], False)  # noise never raises the conversation's priority
    assert dan.find_element(By.CSS_SELECTOR, ".countdown").text == "–"
    assert dan.get_attribute("class") in ("", None)
    summary = browser.find_element(By.ID, "summary")
    assert summary.get_attribute("data-waiting") == "4"  # Dan's "thanks!" is not waiting for an answer
    assert summary.text.startswith("5 of 5 open conversations, 4 waiting")

    assert browser.execute_script("return sessionStorage.getItem('heedStaffToken')") == "local-staff-token"
    note = wait_for(lambda: browser.find_element(By.ID, "chart-note").text, what="the chart's note")
    assert not note.startswith("Chart unavailable"), note
    zone = ZoneInfo("Pacific/Kiritimati")
    days = {datetime.now(zone).date().isoformat(), (datetime.now(zone) - timedelta(seconds=30)).date().isoformat()}
    assert browser.find_element(By.ID, "chart").get_attribute("data-day") in days
    OUTPUT.mkdir(exist_ok=True)
    browser.save_screenshot(str(OUTPUT / "dashboard.png"))
    assert (OUTPUT / "dashboard.png").stat().st_size > 1000
