"""The web console for tests: the real server (``consolidate serve`` in its own process, uvicorn on
127.0.0.1 and a free port) and a real Chromium driven through chromedriver (Selenium)."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

from .conftest import need_binary

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--window-size=1400,1000", "--lang=uk")
# Screenshots go to a temporary folder, so that a test run leaves the checkout clean; docs/web.md's pictures
# are refreshed on purpose with CONSOLIDATE_SCREENSHOTS=docs/web (see docs/web.md).
SHOTS = Path(os.environ.get("CONSOLIDATE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "consolidate-web-shots")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``consolidate serve`` running in a child process."""

    def __init__(self, root: Path, *args: str, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "consolidate.cli", "serve", "-w", str(root), "--port", str(self.port),
             "--no-browser", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.line = self.proc.stdout.readline()
        match = re.search(r"http://\S+", self.line)
        if not match:
            self.stop()
            raise AssertionError(f"consolidate serve did not start: {self.line}{self.proc.stdout.read()}")
        self.url = match.group(0)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError("the console did not listen")
                time.sleep(0.1)

    @property
    def token(self) -> str:
        return urllib.parse.parse_qs(urllib.parse.urlparse(self.url).query).get("token", [""])[0]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stdout.read() if self.proc.stdout else ""


def request(server: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            cookie: str | None = None) -> tuple[int, dict, bytes]:
    """One raw HTTP request (the path is sent exactly as given, nothing normalised)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    hdrs = dict(headers or {})
    if cookie:
        hdrs["Cookie"] = cookie
    conn.putrequest(method, path, skip_accept_encoding=True)
    for k, v in hdrs.items():
        conn.putheader(k, v)
    if body is not None and "Transfer-Encoding" not in hdrs:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    if body is not None:
        if hdrs.get("Transfer-Encoding") == "chunked":
            for i in range(0, len(body), 65536):
                part = body[i:i + 65536]
                try:
                    conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    break
            else:
                conn.send(b"0\r\n\r\n")
        else:
            try:
                conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
    resp = conn.getresponse()
    data = resp.read()
    out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    set_cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
    out[1]["set-cookie-all"] = set_cookies
    conn.close()
    return out


def token_session(server: Server) -> str:
    """The cookie a browser gets for the start line's token."""
    status, headers, _ = request(server, "GET", f"/?token={server.token}")
    assert status == 303, status
    return _cookie(headers)


def _cookie(headers: dict) -> str:
    for value in headers["set-cookie-all"]:
        if value.startswith("consolidate_session="):
            return value.split(";", 1)[0]
    raise AssertionError(f"no session cookie in {headers['set-cookie-all']}")


def login(server: Server, name: str, password: str) -> tuple[int, str]:
    """Sign in through the log-in form (its double-submit token first); (status, session cookie or "")."""
    status, headers, body = request(server, "GET", "/login")
    csrf = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    login_cookie = next(v.split(";", 1)[0] for v in headers["set-cookie-all"] if v.startswith("consolidate_login="))
    form = urllib.parse.urlencode({"csrf": csrf, "name": name, "password": password}).encode()
    status, headers, _ = request(server, "POST", "/login", form,
                                 {"Content-Type": "application/x-www-form-urlencoded"}, cookie=login_cookie)
    try:
        return status, _cookie(headers)
    except AssertionError:
        return status, ""


def csrf_of(server: Server, cookie: str, path: str = "/review") -> str:
    _, _, body = request(server, "GET", path, cookie=cookie)
    return re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()


def post_form(server: Server, path: str, fields: dict, cookie: str) -> tuple[int, dict, bytes]:
    return request(server, "POST", path, urllib.parse.urlencode(fields).encode(),
                   {"Content-Type": "application/x-www-form-urlencoded"}, cookie=cookie)


def multipart(files: list[tuple[str, bytes]], boundary: str = "consolidate-test-boundary") -> tuple[bytes, str]:
    parts = []
    for name, data in files:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(server: Server, cookie: str, csrf: str, files: list[tuple[str, bytes]], chunked: bool = False):
    body, ctype = multipart(files)
    headers = {"Content-Type": ctype}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    return request(server, "POST", f"/intake/upload?csrf={csrf}", body, headers, cookie=cookie)


def chromium(tmp_path: Path):
    """A headless Chromium with a fresh profile and downloads into tmp_path/downloads."""
    need_binary("chromium")
    driver_path = need_binary("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else need_binary("chromium")
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    opts.add_argument(f"--user-data-dir={profile}")
    downloads = tmp_path / "downloads"
    downloads.mkdir(exist_ok=True)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(60)
    driver.downloads = downloads
    return driver


# What Chromium says when a query reaches a document that is being replaced by the next one.
NAVIGATING = (
    "does not belong to the document",
    "no such execution context",
    "Cannot find context with specified id",
    "Execution context was destroyed",
)


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` until it is true; an element that went stale or is not there yet (the page is
    being replaced by the next one) counts as not yet."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (StaleElementReferenceException, NoSuchElementException):
            value = None
        except WebDriverException as exc:
            # Chromium reports an element of the page being replaced as an «unknown error» rather than a
            # stale reference when the query lands mid-navigation; that too is «not yet».
            if not any(sign in str(exc) for sign in NAVIGATING):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def screenshot(driver, name: str) -> Path:
    """A full-page PNG of what the browser shows, kept for docs/web.md."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 2400)")
    driver.set_window_size(1400, max(700, int(height)))
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def ledger_json(root: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "consolidate.cli", *args, "-w", str(root)],
                         capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout)


