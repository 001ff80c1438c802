"""End to end: `trustloop demo` clicked through in a real browser.

Starts `trustloop demo` as a subprocess with PORT set to a free port, opens the page in
headless Chromium (Debian's `chromium`, driven by Selenium through Debian's
`/usr/bin/chromedriver`: the driver path is given, so Selenium Manager never downloads
anything), and does what the guided tour says: reads the digest in #account-health, types
`/checkin` for a sample account as @oliver, saves his check-in in the modal, clicks a
rating in @dana's DM, opens her App Home, then stops the demo with Ctrl-C (SIGINT).

Screenshots are saved as test artifacts in `$TRUSTLOOP_ARTIFACTS` (default
`tests/artifacts/`, gitignored). With `TRUSTLOOP_UPDATE_SCREENSHOT=1` the digest screenshot
also replaces `docs/demo.png` (the README's). In CI (`CI=true`) the test never skips; on a
machine without chromium it skips.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
TRUSTLOOP = str(Path(sys.executable).parent / "trustloop")
ARTIFACTS = Path(os.environ.get("TRUSTLOOP_ARTIFACTS") or ROOT / "tests" / "artifacts")
WAIT = 15  # seconds for anything the page shows after a click
KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - CI installs the dev extras
    webdriver = None  # type: ignore[assignment]


def _missing() -> str | None:
    if webdriver is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    problem = _missing()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser test must run in CI: {problem}")
    pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DemoProcess:
    """`trustloop demo` running in the background; its output is collected as it comes."""

    def __init__(self, cwd: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k in KEEP}
        env["PORT"] = str(port)
        self.proc = subprocess.Popen(
            [TRUSTLOOP, "demo"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True).start()

    def _read(self, stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)
            if "Press Ctrl-C to stop." in line:
                self.ready.set()

    @property
    def text(self) -> str:
        return "".join(self.out)

    def wait_ready(self, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while not self.ready.wait(0.1):
            assert self.proc.poll() is None, f"the demo exited:\n{self.text}{''.join(self.err)}"
            assert time.monotonic() < deadline, f"the demo did not start:\n{self.text}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def demo(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    running = DemoProcess(tmp_path_factory.mktemp("demo"), _free_port())
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def driver(browser_ready: None) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="trustloop-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


# --- helpers --------------------------------------------------------------------------------


def wait_for(driver: WebDriver, check: object, what: str) -> object:
    """Wait until `check(driver)` is truthy (stale elements just mean: look again)."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=[StaleElementReferenceException]).until(
        check, message=f"waited {WAIT}s for {what}"
    )


def messages_text(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "messages").text)


def as_user(driver: WebDriver, user_id: str) -> None:
    """Pick someone under "Viewing as"."""
    Select(driver.find_element(By.ID, "as-user")).select_by_value(user_id)
    wait_for(
        driver,
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-user") == user_id,
        f"the page as {user_id}",
    )


def type_command(driver: WebDriver, line: str) -> None:
    box = driver.find_element(By.ID, "composer-input")
    box.clear()
    box.send_keys(line + Keys.ENTER)


def button(scope: WebElement, starts_with: str) -> WebElement:
    for candidate in scope.find_elements(By.CSS_SELECTOR, "button.bk-button"):
        if candidate.text.strip().startswith(starts_with):
            return candidate
    raise AssertionError(f"no button starting with {starts_with!r} in: {scope.text}")


def shoot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


# --- the test -------------------------------------------------------------------------------


def test_the_guided_tour_in_a_real_browser(demo: DemoProcess, driver: WebDriver) -> None:
    url = re.search(r"Open (http://127\.0\.0\.1:\d+/) in your browser", demo.text)
    account = re.search(r'/checkin "([^"]+)" call @dana', demo.text)
    assert url and account, demo.text
    account_name = account.group(1)

    # 1. This week's digest is in #account-health.
    driver.get(url.group(1))
    assert driver.find_element(By.ID, "conv-title").text == "# account-health"
    digest = driver.find_element(By.CSS_SELECTOR, "#messages .bk-header")
    assert digest.text.startswith("Trust digest")
    assert "at risk" in messages_text(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "#messages .bk-file img")  # the trend chart

    # 2. Oliver logs a call with Dana: his own check-in opens in a modal.
    as_user(driver, "UOLIVER")
    type_command(driver, f'/checkin "{account_name}" call @dana Renewal talk <b>& co</b>')
    modal = wait_for(
        driver, lambda d: d.find_element(By.ID, "modal-form"), "Oliver's check-in modal"
    )
    assert isinstance(modal, WebElement)
    assert "Trust check-in" in modal.text and account_name in modal.text
    shoot(driver, "demo-checkin-modal.png")
    modal.find_element(By.XPATH, ".//label[contains(., '4 · good')]/input").click()
    modal.find_element(By.CSS_SELECTOR, "button.modal-submit").click()
    wait_for(driver, lambda d: not d.find_elements(By.ID, "modal-form"), "the modal to close")
    logged = wait_for(
        driver,
        lambda d: "Logged a call with" in messages_text(d) and messages_text(d),
        "the confirmation only Oliver sees",
    )
    assert f"Logged a call with {account_name}" in str(logged)
    assert "Only visible to you" in str(logged)

    # 3. Dana's check-in waits in her DM; she clicks a rating and it changes in place.
    as_user(driver, "UDANA")
    driver.find_element(By.ID, "nav-dm").click()
    wait_for(driver, lambda d: account_name in messages_text(d), "Dana's check-in DM")
    checkin = [
        m
        for m in driver.find_elements(By.CSS_SELECTOR, "#messages .msg")
        if account_name in m.text and "How is trust with" in m.text
    ][-1]
    ts = checkin.get_attribute("data-ts")
    assert "Renewal talk <b>& co</b>" in checkin.text  # typed text shown as typed, not as HTML
    assert not driver.find_elements(By.CSS_SELECTOR, "#messages b b")  # no injected markup
    button(checkin, "5 · strong").click()

    def answered(d: WebDriver) -> WebElement | None:
        found = d.find_elements(By.CSS_SELECTOR, f'#messages .msg[data-ts="{ts}"]')
        return found[0] if found and "You rated trust" in found[0].text else None

    answered_msg = wait_for(driver, answered, "the answered check-in")
    assert isinstance(answered_msg, WebElement)
    assert "5 · strong" in answered_msg.text and "(edited)" in answered_msg.text
    assert not answered_msg.find_elements(By.CSS_SELECTOR, "button.bk-button")
    shoot(driver, "demo-dm.png")

    # 4. Her App Home: check-ins, promises, accounts.
    driver.find_element(By.ID, "nav-home").click()
    home = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#messages .home"), "Home")
    assert isinstance(home, WebElement)
    text = home.text
    assert "Your trust check-ins" in text
    assert "My open promises" in text
    assert "Log an interaction with /checkin" in text
    shoot(driver, "demo-home.png")

    # 5. Back in #account-health as Maija, the digest; a screenshot for the README.
    as_user(driver, "UMAIJA")
    driver.find_element(By.ID, "nav-C0HEALTH").click()
    header = wait_for(
        driver, lambda d: d.find_element(By.CSS_SELECTOR, "#messages .bk-header"), "the digest"
    )
    driver.execute_script("document.getElementById('tour').open = false;")
    driver.execute_script("arguments[0].closest('.msg').scrollIntoView(true);", header)
    path = shoot(driver, "demo-digest.png")
    assert path.stat().st_size > 10_000
    if os.environ.get("TRUSTLOOP_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "demo.png").write_bytes(path.read_bytes())

    # 6. Ctrl-C stops it cleanly.
    assert demo.stop() == 0, "".join(demo.err)
    assert demo.text.rstrip().endswith("Stopping…")
    assert "Traceback" not in "".join(demo.err)
