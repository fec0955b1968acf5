#!/usr/bin/env python3
"""Takes the README's screenshots with headless Chromium.

Builds Rollcall, starts it on a scratch SQLite database with the development
sign-in, fills an organization through the real console (sign in, create,
invite, accept), and saves docs/members.png, docs/invite-dialog.png and docs/members-narrow.png.

Needs Debian's chromium and chromium-driver. Usage: python3 scripts/screenshots.py
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18181
DRIVER_PORT = 19515
BASE = f"http://127.0.0.1:{PORT}"
TEAM = [
    ("grace@acme.example", "admin"),
    ("alan@acme.example", "developer"),
    ("barbara@acme.example", "developer"),
    ("edsger@acme.example", "contributor"),
    ("katherine@acme.example", "viewer"),
]
PENDING = [("linus@acme.example", "developer"), ("margaret@acme.example", "admin")]


def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")["value"]


class Browser:
    def __init__(self):
        options = {
            "binary": shutil.which("chromium") or "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,860", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--force-device-scale-factor=1",
            ],
        }
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = call("POST", f"http://127.0.0.1:{DRIVER_PORT}/session", caps)["sessionId"]
        self.base = f"http://127.0.0.1:{DRIVER_PORT}/session/{self.session}"

    def go(self, path):
        call("POST", f"{self.base}/url", {"url": BASE + path})

    def find(self, css):
        element = call("POST", f"{self.base}/element", {"using": "css selector", "value": css})
        return next(iter(element.values()))

    def type(self, css, text):
        element = self.find(css)
        call("POST", f"{self.base}/element/{element}/clear", {})
        call("POST", f"{self.base}/element/{element}/value", {"text": text})

    def click(self, css):
        call("POST", f"{self.base}/element/{self.find(css)}/click", {})

    def wait_for(self, css, seconds=10):
        deadline = time.time() + seconds
        while True:
            try:
                return self.find(css)
            except urllib.error.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def sign_in(self, email):
        self.go("/login")
        self.type("#dev-email", email)
        self.click("form[action='/login/dev'] button[type=submit]")
        self.wait_for("a.user-chip")

    def sign_out(self):
        self.click("form[action='/logout'] button")
        self.wait_for("#dev-email")

    def screenshot(self, path):
        png = base64.b64decode(call("GET", f"{self.base}/screenshot"))
        with open(path, "wb") as out:
            out.write(png)
        print(f"wrote {os.path.relpath(path, ROOT)}")

    def resize(self, width, height):
        call("POST", f"{self.base}/window/rect", {"width": width, "height": height})

    def quit(self):
        call("DELETE", self.base)


def wait_http(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer")


def main():
    if not shutil.which("chromedriver"):
        sys.exit("chromedriver is missing: apt-get install chromium chromium-driver")
    subprocess.run(["cargo", "build", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "debug", "rollcall")
    scratch = tempfile.mkdtemp(prefix="rollcall-shots-")
    env = dict(os.environ, DATABASE_URL=f"sqlite://{scratch}/rollcall.db", ROLLCALL_BIND=f"127.0.0.1:{PORT}",
               ROLLCALL_PUBLIC_URL=BASE, ROLLCALL_OUTBOX_DIR=f"{scratch}/outbox", ROLLCALL_DEV_LOGIN="on",
               RUST_LOG="warn")
    server = subprocess.Popen([binary, "serve"], env=env)
    driver = subprocess.Popen(["chromedriver", f"--port={DRIVER_PORT}"], stdout=subprocess.DEVNULL)
    try:
        wait_http(f"{BASE}/healthz")
        wait_http(f"http://127.0.0.1:{DRIVER_PORT}/status")
        browser = Browser()
        browser.sign_in("ada@acme.example")
        browser.type("#org-name", "Acme AI")
        browser.click("section[aria-labelledby=create-title] button[type=submit]")
        browser.wait_for("#members-table")
        for email, role in TEAM + PENDING:
            subprocess.run([binary, "user", "create", "--org", "acme-ai", "--email", email, "--role", role],
                           env=env, check=True, stdout=subprocess.DEVNULL)
        browser.sign_out()
        for email, _ in TEAM:
            browser.sign_in(email)
            browser.go("/profile")
            browser.click("form[action$='/accept'] button")
            browser.wait_for("#members-table")
            browser.sign_out()
        browser.sign_in("ada@acme.example")
        browser.go("/orgs/acme-ai/members")
        browser.wait_for("#members-table")
        browser.screenshot(os.path.join(ROOT, "docs", "members.png"))
        browser.click("a[hx-get$='/invitations/new']")
        browser.wait_for("#modal dialog[open]")
        browser.type("#invite-emails", "ida@acme.example, john@acme.example\nnot-an-address grace@acme.example")
        browser.click("#modal button[type=submit].primary")
        browser.wait_for("#modal #review-title")
        time.sleep(0.3)
        browser.screenshot(os.path.join(ROOT, "docs", "invite-dialog.png"))
        browser.resize(390, 844)
        browser.go("/orgs/acme-ai/members")
        browser.wait_for("#members-table")
        browser.screenshot(os.path.join(ROOT, "docs", "members-narrow.png"))
        browser.quit()
    finally:
        server.terminate()
        driver.terminate()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
