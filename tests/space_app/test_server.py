"""The Space as a user meets it: a real server, gradio_client on every endpoint, Chromium."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path_factory, *args):
    port = _free_port()
    log = tmp_path_factory.mktemp("space_log") / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "macro2micro", "space", *args, "--port", str(port)],
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"space exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"space did not answer in 90 s: {log.read_text()[-2000:]}")
    return proc, url


@pytest.fixture(scope="module")
def server(space_artifacts, tmp_path_factory):
    repo, results = space_artifacts
    proc, url = _serve(tmp_path_factory, "--repo", str(repo), "--results", str(results))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def live_server(tiny_model_dir, tiny_repo, tmp_path_factory):
    """The Space over two tiny trained adapters, for live generation."""
    from macro2micro.training.sweep import sweep
    from tests.training.conftest import tiny_overrides

    runs = tmp_path_factory.mktemp("live_runs")
    sweep(str(tiny_repo), "micro_response_max,random", "demo", runs, tiny_overrides(tiny_model_dir))
    proc, url = _serve(tmp_path_factory, "--repo", str(tiny_repo), "--runs", str(runs))
    yield url, runs
    proc.terminate()
    proc.wait(timeout=20)


def test_concurrent_live_generation_then_one_more_all_answered(live_server):
    """Two adapters loaded at once used to break generation ("Cannot copy out of meta tensor")."""
    from gradio_client import Client

    from tests.space_app.conftest import reference_answer

    url, runs = live_server
    client = Client(url, verbose=False)
    adapters = ["random", "micro_response_max"]

    def call(i):
        return client.predict(f"bake bread w{i}", adapters[i % 2], 6, api_name="/generate")

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(call, range(4)))
    answers.append(call(5))
    from macro2micro.space_app.logic import shown_answer  # an empty answer is shown in words

    expected = [
        shown_answer(reference_answer(runs / adapters[i % 2], f"bake bread w{i}", 6), 6) for i in (*range(4), 5)
    ]
    assert answers == expected  # each request got its own adapter's answer, none corrupted by another


def test_every_endpoint_through_gradio_client(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    plot = client.predict("token_entropy", "instruction", api_name="/ladder")
    assert plot is not None
    rows = client.predict("micro_response_max", "", 3, api_name="/samples")
    assert len(rows["data"]) == 3 and rows["headers"] == ["id", "source", "turns", "system", "instruction", "response"]
    out = client.predict("p2: Question number 2 about bread?", ["micro_response_min", "base"], api_name="/compare")
    assert "Prompt p2" in out[0] and "random answers prompt 2" in out[2]  # the baseline's column
    assert "micro_response_min" in out[3] and "micro_response_min answers prompt 2" in out[4]
    assert "base answers prompt 2" in out[6] and out[7] == out[8] == ""
    fits = client.predict(api_name="/fits")
    assert fits["data"][0][0] == "micro_response"
    # Dropdowns are validated by gradio itself ("not in the list of choices"); the rest by our logic.
    for args, api, message in [
        (("nope", "", 3), "/samples", "nope.* not in the list of choices"),
        (("micro_response_max", "", 500), "/samples", "greater than maximum value 200"),
        (("p0: Question number 0 about bread?", []), "/compare", "choose one to 4 models"),
        (("", "x", 10), "/generate", "not in the list of choices|type a prompt first"),
    ]:
        with pytest.raises(Exception, match=message):
            client.predict(*args, api_name=api)


def test_twenty_concurrent_requests(server):
    from gradio_client import Client

    client = Client(server, verbose=False)

    def call(i):
        config = ["micro_response_min", "micro_response_50", "micro_response_max", "random"][i % 4]
        return client.predict(config, "", 2, api_name="/samples")

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(call, range(20)))
    assert all(len(r["data"]) == 2 for r in results)


@pytest.mark.browser
@pytest.mark.skipif(
    not shutil.which("chromium") or not shutil.which("chromedriver"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_each_tab_in_headless_chromium(server, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1000",
    ):
        opts.add_argument(flag)
    opts.binary_location = shutil.which("chromium")
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.get(server)
        wait = WebDriverWait(driver, 60)
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'what diversity does')]")))
        expected = {
            "Subsets": "Diversity metrics of every config",
            "Samples": "Browse a config",
            "Compare outputs": "Answers side by side",
            "Diversity vs score": "Win-rate against the baseline",
        }
        for tab, heading in expected.items():
            button = wait.until(
                EC.element_to_be_clickable((By.XPATH, f"//button[@role='tab' and normalize-space()='{tab}']"))
            )
            button.click()
            wait.until(
                lambda d, heading=heading: any(
                    e.is_displayed() for e in d.find_elements(By.XPATH, f"//*[contains(text(), '{heading}')]")
                )
            )
            shot = tmp_path / f"{tab.replace(' ', '_')}.png"
            driver.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] if hasattr(driver, "get_log") else []
        assert not errors, errors
        # Compare: the hostile answer sits beside its neighbours; nothing it names is fetched.
        driver.find_element(By.XPATH, "//button[@role='tab' and normalize-space()='Compare outputs']").click()
        driver.find_element(By.XPATH, "//button[normalize-space()='Compare']").click()
        wait.until(lambda d: d.find_elements(By.XPATH, "//*[contains(text(), 'this fence is never closed')]"))
        answers = [e for e in driver.find_elements(By.CSS_SELECTOR, ".m2m-answer") if e.text.strip()]
        texts = [e.text for e in answers]
        assert len(answers) >= 3, texts  # baseline + two models, each in its own component
        hostile = next(t for t in texts if "never closed" in t)
        assert "micro_response_min answers prompt 0" not in hostile  # the open fence swallowed no neighbour
        assert any(t.strip() == "micro_response_min answers prompt 0" for t in texts)
        assert "image: cat" in hostile and not driver.find_elements(
            By.CSS_SELECTOR, ".m2m-answer img, .m2m-answer form"
        )
        driver.save_screenshot(str(tmp_path / "compare.png"))
        requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        urls = [
            m["params"].get("request", {}).get("url", "")
            for m in requests
            if m["method"] == "Network.requestWillBeSent"
        ]
        assert urls and not [u for u in urls if "example.invalid" in u], urls
    finally:
        driver.quit()
