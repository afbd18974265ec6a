"""`hpcast app --root-path /hpcast` behind Debian's nginx running deploy/'s site file, driven by Chromium.

The site file is used as shipped, with only its listen and upstream ports replaced by free loopback ones;
nginx runs in the foreground with its pid, logs and temp files in a temporary folder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

NGINX = "/usr/sbin/nginx"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx-hpcast.conf"
PATHS = {"/api/v1/health", "/api/v1/assets", "/api/v1/simulate", "/api/v1/forecast", "/api/v1/calibration"}

# Developers without nginx or Chromium skip it; CI (.ci/run installs both, sets HPCAST_REQUIRE_BROWSER) never does.
_missing = [path for path in (NGINX, CHROMIUM) if not Path(path).exists()]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    bool(_missing) and os.environ.get("HPCAST_REQUIRE_BROWSER") != "1",
    reason=f"{' and '.join(_missing)} not installed (apt-get install nginx chromium; .ci/run does)")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _site(listen: int, upstream: int) -> str:
    """deploy/'s site file on loopback ports; each replaced line must be there exactly once."""
    text = SITE.read_text()
    for old, new in (("listen 80;", f"listen 127.0.0.1:{listen};"),
                     ("server 127.0.0.1:7860;", f"server 127.0.0.1:{upstream};")):
        assert text.count(old) == 1, f"{SITE} should hold {old!r} once"
        text = text.replace(old, new)
    return text


def _wrapper(folder: Path) -> str:
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                             "uwsgi", "scgi"))
    return (f"worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            f"events {{ worker_connections 64; }}\nhttp {{\n    access_log {folder / 'access.log'};\n{temp}\n"
            f"    include {folder / 'site.conf'};\n}}\n")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def proxied(investor_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<nginx>/hpcast``: nginx in front of ``hpcast app --root-path /hpcast``."""
    folder = tmp_path_factory.mktemp("proxy")
    app_port, nginx_port = _free_port(), _free_port()
    env = {**os.environ, "HPCAST_DATA": str(investor_home / "data"), "HPCAST_STORE": str(investor_home / "store")}
    env.pop("HPCAST_TRACKING_URI", None)
    env.pop("HPCAST_APP_HOST", None)
    (folder / "site.conf").write_text(_site(nginx_port, app_port))
    (folder / "nginx.conf").write_text(_wrapper(folder))
    checked = subprocess.run([NGINX, "-t", "-q", "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    with open(folder / "app.log", "wb") as app_log, open(folder / "nginx.log", "wb") as nginx_log:
        app = subprocess.Popen([sys.executable, "-m", "hpcast", "app", "--root-path", "/hpcast", "--port",
                                str(app_port)], env=env, cwd=investor_home, stdout=app_log, stderr=subprocess.STDOUT,
                               start_new_session=True)
        nginx = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log"), "-g",
                                  "daemon off;"], stdout=nginx_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{app_port}/api/v1/health", app, folder / "app.log")
        url = f"http://127.0.0.1:{nginx_port}/hpcast"
        _wait(f"{url}/api/v1/health", nginx, folder / "error.log", seconds=20)
        yield url
    finally:
        _stop(nginx)
        _stop(app)


def test_the_page_and_the_api_answer_under_the_prefix(proxied: str) -> None:
    status, page = _get(f"{proxied}/")
    assert status == 200 and 'src="./assets/index-' in page  # relative, so the browser asks under /hpcast/
    status, text = _get(f"{proxied}/api/v1/openapi.json")
    document = json.loads(text)
    assert status == 200 and document["servers"] == [{"url": "/hpcast"}] and set(document["paths"]) >= PATHS
    status, docs = _get(f"{proxied}/api/docs")
    assert status == 200 and "'/hpcast/api/v1/openapi.json'" in docs
    status, config = _get(f"{proxied}/config")
    config = json.loads(config)
    assert status == 200 and config["root"] == proxied and config["title"].startswith("hpcast: what may my")
    answer = _post(f"{proxied}/api/v1/simulate", {"amount": 10000, "allocation": {"sp500": 60, "gold": 40}})
    assert answer["amount"] == 10000 and answer["real"]["p5"] < answer["real"]["median"] < answer["real"]["p95"]
    assert _get(f"{proxied}/api/v1/nowhere")[0] == 404
    assert _get(proxied.rsplit("/", 1)[0] + "/api/v1/health")[0] == 404  # only /hpcast/ reaches the app


def test_chromium_through_the_proxy(proxied: str) -> None:
    from playwright.sync_api import sync_playwright

    default = _post(f"{proxied}/api/v1/simulate", {"amount": 10000, "allocation": {"sp500": 60, "gold": 40}})
    changed = _post(f"{proxied}/api/v1/simulate", {"amount": 20000, "allocation": {"sp500": 60, "gold": 40}})
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1500})
            tab.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            tab.goto(f"{proxied}/")
            tab.wait_for_selector("#run")
            # before anyone presses Simulate: the default allocation's answer, table headers and all
            tab.wait_for_selector("#fan img", timeout=15_000)
            table = tab.inner_text("#assets-table")
            assert "median value" in table and "forecast from" in table and "sp500" in table, table
            assert f"{default['assets'][0]['median_value']:,.2f}" in table
            assert float(tab.locator("#real-median").get_attribute("data-value")) == default["real"]["median"]
            box = tab.locator("#amount input").first
            box.fill("20000")
            box.press("Tab")
            tab.click("#run")  # the answer comes back over Gradio's queue (server-sent events) through nginx
            tab.wait_for_function("document.querySelector('#summary').innerText.includes('20,000.00')",
                                  timeout=30_000)
            assert float(tab.locator("#real-median").get_attribute("data-value")) == changed["real"]["median"]
            assert f"{changed['assets'][0]['median_value']:,.2f}" in tab.inner_text("#assets-table")
        finally:
            browser.close()
    assert [f for f in failed if "/hpcast/" in f] == [], failed
