"""Hostile text everywhere the Space shows data (answers, prompts and their ids, the results note, corpus rows,
source names): headless Chromium loads nothing from another origin, at page load or after every tab rendered.

The "other origin" is a loopback logger that records every request it gets; the payloads are the kinds that
got through before (``<img>`` or ``![](url)`` in a note or a prompt id, reference-style images, escaped
backticks around ``<img>``, a code span across a blank line, a fence with a backtick in its info string,
nested brackets in alt text) and more (srcset, CSS ``url()``, svg, iframes, link preload, meta refresh,
``javascript:`` and ``data:`` links, objects, media, event handlers, template syntax).
"""

import json
import shutil
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.space_app.test_server import _serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not shutil.which("chromium") or not shutil.which("chromedriver"),
        reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
    ),
]


def payloads(base: str) -> list[str]:
    return [
        f'<img src="{base}/html-img">',
        f"![x]({base}/md-img)",
        f"![x][r]\n\n[r]: {base}/ref-img",
        f'\\`<img src="{base}/escaped-backticks">\\`',
        f'`a\n\n<img src="{base}/code-span-blank-line">` b`',
        f'```py`\n<img src="{base}/fence-backtick-info">\n```',
        f"![a [b] c]({base}/nested-alt)",
        f'![x]({base}/md-img-title "t")',
        f'<img srcset="{base}/srcset 1x">',
        f'<picture><source srcset="{base}/picture"><img src="{base}/picture-img"></picture>',
        f'<div style="background:url({base}/css-url)">x</div>',
        f"<style>@import url({base}/css-import); body{{background:url({base}/css-body)}}</style>",
        f'<svg><image href="{base}/svg-image"/></svg><svg><use href="{base}/svg-use#x"/></svg>',
        f'<svg><style>@import "{base}/svg-style";</style></svg>',
        f'<iframe src="{base}/iframe"></iframe>',
        f'<iframe src="data:text/html,<img src={base}/data-html>"></iframe>',
        f'<link rel="preload" href="{base}/preload" as="image"><link rel="stylesheet" href="{base}/stylesheet">',
        f'<meta http-equiv="refresh" content="0;url={base}/meta-refresh">',
        f'[click](javascript:fetch("{base}/javascript-link")) <a href="javascript:fetch(1)">x</a>',
        "[d](data:text/html;base64,PGltZyBzcmM9eD4=)",
        f'<object data="{base}/object"></object><embed src="{base}/embed">',
        f'<video poster="{base}/video-poster" src="{base}/video"></video><audio src="{base}/audio"></audio>',
        f'<input type="image" src="{base}/input-image">',
        f'<table background="{base}/table-bg"><tr><td>x</td></tr></table>',
        f"<img src=x onerror=\"fetch('{base}/onerror')\">",
        f'<script src="{base}/script"></script><script>fetch("{base}/inline-script")</script>',
        f'${{fetch("{base}/template-literal")}} {{{{constructor.constructor("fetch(1)")()}}}}',
        f'<base href="{base}/base/"><img src="relative.png">',
        f'&lt;img src="{base}/entity"&gt; &#x3C;img src="{base}/hex-entity"&#x3E; <{base}/autolink>',
    ]


class _Logger(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a")

    do_POST = do_HEAD = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def logger():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Logger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Logger.seen
    server.shutdown()


@pytest.fixture(scope="module")
def hostile_server(logger, tmp_path_factory):
    """A repo whose rows and source names carry payloads, and results whose answers, prompts, ids and note do."""
    from tests.conftest import make_synthetic_corpus
    from tests.helpers import build_repo

    base, _ = logger
    hostile = payloads(base)
    corpus = make_synthetic_corpus(n=120)
    corpus = corpus.map(
        lambda row, i: {
            "instruction": row["instruction"] + "\n\n" + hostile[i % len(hostile)],
            "source": f'<img src="{base}/source">' if row["source"] == "code" else row["source"],
        },
        with_indices=True,
    )
    tmp = tmp_path_factory.mktemp("hostile")
    repo, _ = build_repo(corpus, tmp, repo_id=None)
    models = ["micro_response_min", "micro_response_50", "random"]  # the baseline and the two shown by default
    n = (len(hostile) + 2) // 3
    rows = [
        {"id": f"p{i}" if i % 2 else f"![p{i}]({base}/prompt-id-{i})", "instruction": hostile[i]} for i in range(n)
    ]
    results = {
        "dataset": str(repo),
        "baseline": "random",
        "prompt_rows": rows,
        "scores": {},
        "answers": {m: [hostile[(3 * i + j) % len(hostile)] for i in range(n)] for j, m in enumerate(models)},
        "note": "\n\n".join(hostile[:8]) + f'\n\n<img src="{base}/note">',
    }
    (tmp / "results.json").write_text(json.dumps(results))
    proc, url = _serve(tmp_path_factory, "--repo", str(repo), "--results", str(tmp / "results.json"))
    yield url, n
    proc.terminate()
    proc.wait(timeout=20)


def _driver(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,1000",
    ):
        opts.add_argument(flag)
    opts.binary_location = shutil.which("chromium")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def test_the_app_sends_a_content_security_policy(hostile_server):
    url, _ = hostile_server
    with urllib.request.urlopen(url, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob:" in policy and "frame-src 'none'" in policy
    script = next(p for p in policy.split("; ") if p.startswith("script-src"))
    assert "http" not in script and "*" not in script


def test_no_payload_reaches_another_origin(hostile_server, logger, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    url, n_prompts = hostile_server
    base, seen = logger
    seen.clear()
    driver = _driver(tmp_path)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'what diversity does')]")))
        for tab in ("Subsets", "Samples", "Compare outputs", "Diversity vs score"):
            wait.until(
                EC.element_to_be_clickable((By.XPATH, f"//button[@role='tab' and normalize-space()='{tab}']"))
            ).click()
            time.sleep(0.5)
            if tab == "Samples":
                driver.find_element(By.XPATH, "//button[normalize-space()='Show rows']").click()
                wait.until(lambda d: d.find_elements(By.XPATH, "//*[contains(text(), 'html-img')]"))
            if tab == "Compare outputs":
                for i in range(n_prompts):
                    box = driver.find_element(By.CSS_SELECTOR, "input[aria-label='prompt']")
                    box.click()
                    box.send_keys(Keys.CONTROL, "a")
                    box.send_keys(f"p{i}")
                    time.sleep(0.3)
                    box.send_keys(Keys.ENTER)
                    driver.find_element(By.XPATH, "//button[normalize-space()='Compare']").click()
                    wait.until(lambda d, i=i: d.find_elements(By.XPATH, f"//strong[contains(., 'p{i}')]"))
            if tab == "Diversity vs score":
                wait.until(lambda d: d.find_elements(By.XPATH, "//*[contains(text(), 'note')]"))
        time.sleep(2)  # anything a rendered payload would fetch has been asked for by now
        shown = driver.find_elements(By.CSS_SELECTOR, ".m2m-answer, .m2m-prompt, .m2m-note")
        html = " ".join(e.get_attribute("innerHTML") for e in shown)
        assert "md-img" in html and "html-img" in html  # the payloads are on the page, as text
        for tag in ("<img", "<iframe", "<svg", "<object", "<embed", "<video", "<link", "<meta", "<style", "<script"):
            assert tag not in html, tag
        assert seen == [], seen
        # the second wall: even markup the sanitizer would never emit is refused by the policy
        driver.execute_script(
            "const i = document.createElement('img'); i.src = arguments[0]; document.body.appendChild(i);"
            "const f = document.createElement('iframe'); f.src = arguments[1]; document.body.appendChild(f);",
            f"{base}/csp-img",
            f"{base}/csp-frame",
        )
        time.sleep(1.5)
        assert seen == [], seen
        driver.save_screenshot(str(tmp_path / "hostile.png"))
    finally:
        driver.quit()
