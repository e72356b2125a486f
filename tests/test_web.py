"""The web pages in a real browser: Debian's chromium, driven through chromedriver."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC

from .helpers import AGRI, ALPHA, REPO, WF_LINEAR

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = REPO / "reports" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM and CHROMEDRIVER):
        message = "chromium and chromedriver are missing (make install installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveMock]:
    with LiveMock(["--clock", "manual", "--validate-responses"]) as live:
        yield live


def until(driver: webdriver.Chrome, condition, timeout: float = 15):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))


# The inspector redraws what changed every second: an element found in one call may be
# replaced before the next, so reads and clicks happen in one script run in the page.
def texts(driver: webdriver.Chrome, selector: str) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", selector
    )


def click(driver: webdriver.Chrome, selector: str) -> None:
    clicked = "const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e;"
    until(driver, lambda d: d.execute_script(clicked, selector))


def bars(driver: webdriver.Chrome) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#timeline rect')].map("
        "r => [r.dataset.task, r.getAttribute('class'), r.getAttribute('width')].join(':'))"
    )


def console_errors(driver: webdriver.Chrome) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def create_job(server: LiveMock) -> str:
    url = f"{server.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}"
    return requests.post(url, headers=ALPHA).json()["id"]


def test_docs_render_every_operation_and_try_it_calls_the_mock(browser, server) -> None:
    job_id = create_job(server)
    browser.get(f"{server.url}/docs")
    operations = set(ApiSpec.load(API_SPEC).operations)

    def shown(driver: webdriver.Chrome) -> set[str]:  # ids are operations-<tag>-<operationId>
        blocks = driver.find_elements(By.CSS_SELECTOR, ".opblock[id^='operations-']")
        return {b.get_attribute("id").rsplit("-", 1)[1] for b in blocks}

    until(browser, lambda d: shown(d) == operations)
    block = browser.find_element(By.CSS_SELECTOR, ".opblock[id$='-getJob']")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    until(browser, lambda d: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    for name, value in (("workflow_id", WF_LINEAR), ("job_id", job_id)):
        field = block.find_element(By.CSS_SELECTOR, f'tr[data-param-name="{name}"] input')
        field.clear()
        field.send_keys(value)
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = until(
        browser,
        lambda d: block.find_elements(
            By.CSS_SELECTOR, ".live-responses-table td.response-col_status:not(.col_header)"
        ),
    )
    assert status[0].text.strip() == "200"
    journal = requests.get(f"{server.url}/__mock/requests").json()["requests"]
    assert [e["operation_id"] for e in journal] == ["createJob", "getJob"]  # pages are not
    assert (journal[1]["path"].rsplit("/", 1)[1], journal[1]["status"]) == (job_id, 200)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "docs.png"))
    assert console_errors(browser) == []


def test_the_inspector_follows_jobs_clock_journal_and_faults(browser, server) -> None:
    requests.post(f"{server.url}/__mock/reset", params={"all": "true"})
    job_id = create_job(server)
    browser.get(f"{server.url}/__mock/ui")
    click(browser, f'tr[data-job="{job_id}"]')
    until(browser, bars)
    before = bars(browser)
    click(browser, "#advance-600")  # through the control API
    until(browser, lambda d: bars(d) != before)
    assert requests.get(f"{server.url}/__mock/clock").json()["mode"] == "manual"

    requests.get(f"{server.url}/v0/workflows?limit=0", headers=ALPHA)  # breaks the contract
    until(browser, lambda d: any("limit" in row for row in texts(d, "#journal-rows tr.violation")))

    click(browser, 'button[data-scenario="throttled"]')
    until(browser, lambda d: any("every-third" in rule for rule in texts(d, "#fault-rules li")))
    statuses = [
        requests.get(f"{server.url}/v0/projects", headers=ALPHA).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]  # "429 on every third API call"
    seen = '#coverage-rows tr[data-operation="listProjects"] td.seen'
    until(browser, lambda d: texts(d, seen) == ["200, 429"])
    assert texts(browser, "#coverage-faults") == ["throttled.every-third"]
    assert texts(browser, "#coverage-violations") == ["1"]
    assert "jobs: queued" in texts(browser, "#coverage-states li")  # the job created above
    browser.save_screenshot(str(SHOTS / "inspector.png"))
    assert console_errors(browser) == []


def test_the_inspector_sends_the_control_token_given_in_its_address(browser) -> None:
    with LiveMock(["--clock", "manual", "--control-token", "s3cret"]) as guarded:
        job_id = create_job(guarded)
        assert requests.get(f"{guarded.url}/__mock/jobs").status_code == 403
        browser.get(f"{guarded.url}/__mock/ui#token=s3cret")
        until(
            browser,
            lambda d: d.execute_script(
                "return !!document.querySelector(arguments[0])", f'tr[data-job="{job_id}"]'
            ),
        )
        assert console_errors(browser) == []


def test_the_inspector_shows_visualizations_with_their_pngs_and_insights(
    browser, server, tmp_path
) -> None:
    from examples.insight_client import InsightClient, run_insight

    requests.post(f"{server.url}/__mock/reset", params={"all": "true"})
    requests.put(f"{server.url}/__mock/clock", json={"mode": "polls"})
    client = InsightClient(server.url, ALPHA["Authorization"], poll_delay=0)
    outcome = run_insight(client, AGRI, tmp_path / "insight.zip")
    assert outcome.visualization_status == "success" and outcome.status == "completed"
    browser.get("about:blank")  # the page of the test before polled a server now gone:
    browser.get_log("browser")  # its errors are not this page's
    browser.get(f"{server.url}/__mock/ui")
    loaded = (
        "return [...document.querySelectorAll('#visualization-rows img.preview')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )
    until(browser, lambda d: d.execute_script(loaded) >= 2)  # NDVI: two legend modes a date
    assert any("NDVI" in text for text in texts(browser, "#visualization-rows td"))
    row = f'#insight-rows tr[data-insight="{outcome.insight_id}"] td'
    until(browser, lambda d: "completed" in texts(d, row))
    assert texts(browser, row)[2].startswith("crop-classification@")
    browser.execute_script("document.getElementById('aois').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "inspector-analysis.png"))
    assert console_errors(browser) == []
    requests.post(f"{server.url}/__mock/reset", params={"all": "true"})


def test_the_inspector_shows_orders_with_their_tasks_on_a_timeline(browser, server) -> None:
    from examples.order_client import OrderClient, run_order

    requests.post(f"{server.url}/__mock/reset", params={"all": "true"})
    requests.put(f"{server.url}/__mock/clock", json={"mode": "polls"})
    outcome = run_order(OrderClient(server.url, ALPHA["Authorization"], poll_delay=0), AGRI)
    assert outcome.item_statuses == ("FULFILLED", "FULFILLED")
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get(f"{server.url}/__mock/ui")
    until(browser, lambda d: "FULFILLED" in texts(d, "#order-rows td"))
    assert {"TASKING", "ARCHIVE"} <= set(texts(browser, "#order-rows td"))
    windows = "return document.querySelectorAll('#order-timeline rect.window').length"
    tasks = "return document.querySelectorAll('#order-timeline rect.task').length"
    assert browser.execute_script(windows) == 1 and browser.execute_script(tasks) == 2
    browser.execute_script("document.getElementById('orders').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "inspector-orders.png"))
    assert console_errors(browser) == []
    requests.post(f"{server.url}/__mock/reset", params={"all": "true"})
