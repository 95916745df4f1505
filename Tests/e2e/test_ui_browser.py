"""The UI's pages in a real browser (Debian's Chromium, headless, driven by selenium) against a running cluster:
what an operator reads on each page, a deactivate clicked and confirmed, and the banner when nimbus is gone.
Screenshots of each page are saved in STORM_TEST_ARTIFACTS (default .build/test-artifacts/ui)."""

import os

import pytest

from conftest import REPO, wait_until
from test_workers import worker_logs, worker_ports
from uicluster import running  # noqa: F401 (a fixture)

selenium = pytest.importorskip("selenium", reason="selenium is not installed: run scripts/install-deps.sh --tests")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

ARTIFACTS = os.environ.get("STORM_TEST_ARTIFACTS", os.path.join(REPO, ".build", "test-artifacts", "ui"))


@pytest.fixture
def browser():
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(path):
            pytest.skip(f"{path} is missing: run scripts/install-deps.sh --tests")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    os.makedirs(ARTIFACTS, exist_ok=True)
    yield driver
    driver.quit()


def text(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text.strip() if found else ""


def shows(driver, selector, predicate=lambda t: bool(t), timeout=30):
    """Waits until the element's text satisfies `predicate` (the pages fill themselves in after loading)."""
    return wait_until(lambda: predicate(text(driver, selector)), timeout, 0.2)


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(driver, name):
    driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))


def test_pages_show_the_cluster_and_a_click_deactivates(running, browser):
    cluster, client, ui, topology_id, _ = running
    base = f"http://127.0.0.1:{ui.port}"
    (worker_port,) = worker_ports(topology_id)

    browser.get(base + "/")
    assert shows(browser, f'#topologies tr[data-topology="{topology_id}"]', lambda t: "saturated" in t), \
        browser.page_source[:2000]
    assert "ACTIVE" in text(browser, f'#topologies tr[data-topology="{topology_id}"]')
    assert "127.0.0.1" in text(browser, "#supervisors")
    assert "Leader" in text(browser, "#nimbuses")
    screenshot(browser, "cluster")

    browser.get(f"{base}/topology.html?id={topology_id}")
    assert shows(browser, "#topology-name", lambda t: t == "saturated")
    assert text(browser, "#topology-status") == "ACTIVE"
    # A rate appears once the workers' stats reach nimbus: the emitted count in the 10-minute window.
    emitted = lambda: float(browser.find_element(By.ID, "topology-emitted").get_attribute("data-value") or 0)  # noqa: E731
    assert wait_until(lambda: emitted() > 0, 60), text(browser, "#topology-summary")
    assert shows(browser, '#bolts tr[data-component="slow"]')
    nodes = {n.get_attribute("data-component") for n in browser.find_elements(By.CSS_SELECTOR, "#topology-graph g.node")}
    assert nodes == {"sentences", "split", "slow"}
    edges = {(e.get_attribute("data-from"), e.get_attribute("data-to"))
             for e in browser.find_elements(By.CSS_SELECTOR, "#topology-graph path.edge")}
    assert edges == {("sentences", "split"), ("split", "slow")}
    screenshot(browser, "topology")

    browser.find_element(By.ID, "btn-deactivate").click()
    assert wait_until(lambda: browser.find_element(By.ID, "confirm-ok").is_displayed(), 10)
    screenshot(browser, "topology-confirm")
    browser.find_element(By.ID, "confirm-ok").click()
    assert shows(browser, "#topology-status", lambda t: t == "INACTIVE")
    assert client.getTopologyInfo(topology_id).status == "INACTIVE"

    # The log level form: ROOT at DEBUG for 5 minutes, applied by the worker, then cleared with its row's button.
    assert shows(browser, "#loglevels", lambda t: "Every logger at its own level" in t)
    browser.find_element(By.ID, "loglevel-timeout").clear()
    browser.find_element(By.ID, "loglevel-timeout").send_keys("300")
    browser.find_element(By.ID, "loglevel-apply").click()
    assert shows(browser, '#loglevels tr[data-logger="ROOT"]', lambda t: "DEBUG" in t and "(300 s)" in t)
    assert "ROOT set to DEBUG" in text(browser, "#loglevel-status")
    stored = client.getLogConfig(topology_id).named_logger_level["ROOT"]
    assert (stored.target_log_level, stored.reset_log_level_timeout_secs) == ("DEBUG", 300)
    assert wait_until(lambda: "now [\"ROOT=DEBUG\"]" in worker_logs(cluster, topology_id), 30)
    screenshot(browser, "topology-log-levels")
    browser.find_element(By.CSS_SELECTOR, '#loglevels button[data-clear="ROOT"]').click()
    assert shows(browser, "#loglevels", lambda t: "Every logger at its own level" in t)
    assert client.getLogConfig(topology_id).named_logger_level == {}
    # A level log4j does not have is refused in one line, and nothing changes.
    browser.execute_script("document.getElementById('loglevel-level').add(new Option('LOUD', 'LOUD', true, true))")
    browser.find_element(By.ID, "loglevel-apply").click()
    assert shows(browser, "#loglevel-status", lambda t: "target_level must be one of OFF" in t)
    assert client.getLogConfig(topology_id).named_logger_level == {}

    browser.get(f"{base}/component.html?topology_id={topology_id}&id=slow")
    assert shows(browser, "#component-id", lambda t: t == "slow")
    assert shows(browser, "#executors", lambda t: f"{worker_port}" in t and "127.0.0.1" in t)
    screenshot(browser, "component")
    # The executor's worker log, through the node's log viewer: the worker's own lines, last page first.
    log_link = browser.find_element(By.CSS_SELECTOR, "#executors a[href*='/api/v1/log?']").get_attribute("href")
    browser.get(log_link)
    assert shows(browser, "#log", lambda t: f"worker={topology_id}:{worker_port}" in t), browser.page_source[:2000]
    assert text(browser, "h3") == f"{topology_id}/{worker_port}/worker.log"
    screenshot(browser, "worker-log")
    browser.get(f"{base}/component.html?topology_id={topology_id}&id=slow")
    assert shows(browser, "#component-id", lambda t: t == "slow")

    browser.get(f"{base}/supervisor.html?host=127.0.0.1")
    assert shows(browser, f'#workers tr[data-port="{worker_port}"]', lambda t: "saturated" in t)
    screenshot(browser, "supervisor")
    # The browser logs the refused level's 400 answer; that one was asked for.
    assert [e for e in console_errors(browser) if "/logconfig - Failed to load resource" not in e["message"]] == []

    # Nimbus gone: the page keeps its last data and says what failed.
    for daemon in cluster.nimbuses.values():
        daemon.kill9()
    assert wait_until(lambda: browser.find_element(By.ID, "error-banner").is_displayed(), 30)
    assert "nimbus" in text(browser, "#error-banner").lower()
    assert "saturated" in text(browser, f'#workers tr[data-port="{worker_port}"]')
    screenshot(browser, "supervisor-nimbus-down")
