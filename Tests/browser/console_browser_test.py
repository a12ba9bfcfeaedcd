#!/usr/bin/env python3
"""The web console in a real headless Chromium, driven over the DevTools
protocol: three demo nodes, an officer at KOR logs in, composes an item,
checks its release, sends it to USA; an analyst at USA reads it with both
markings and its provenance; a reader without the clearance is refused with
the article; the ledger page verifies. Banners are checked on every page,
and screenshots are saved.

    python3 Tests/browser/console_browser_test.py --liaison .build/debug/liaison --screenshots docs/screenshots

Needs Debian's chromium and websocket-client (PyPI). Chromium trusts exactly
the nodes' certificates (by their public keys), nothing else.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import websocket

PASSWORD = "browser-test-password"
failures = []


def check(condition, what):
    print(("  ok    " if condition else "  FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


class Browser:
    """One page of a headless Chromium, over the DevTools protocol."""

    def __init__(self, spki):
        self.profile = tempfile.mkdtemp(prefix="liaison-chromium-")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            sys.exit("chromium is not installed (apt-get install chromium)")
        self.process = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--remote-debugging-port=0", "--user-data-dir=" + self.profile, "--window-size=1280,900",
             "--ignore-certificate-errors-spki-list=" + ",".join(spki), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().count("\n") >= 1:
                break
            time.sleep(0.05)
        port = int(open(port_file).read().split("\n")[0])
        # The first page target.
        import urllib.request
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_loaded(self, previous_url=None):
        for _ in range(400):
            try:
                state, url = self.js("[document.readyState, location.href]")
                if state == "complete" and (previous_url is None or url != previous_url):
                    return url
            except (RuntimeError, websocket.WebSocketException):
                pass
            time.sleep(0.05)
        raise RuntimeError("the page did not load")

    def go(self, url):
        self.call("Page.navigate", url=url)
        time.sleep(0.1)
        return self.wait_loaded()

    def submit(self, form_selector, fields, button=None):
        """Fills a form as a user would and submits it with its button."""
        before = self.js("location.href + '#' + performance.timeOrigin")
        script = ["const f = document.querySelector(%s);" % json.dumps(form_selector)]
        for name, value in fields.items():
            if isinstance(value, list):
                script.append("f.querySelectorAll('[name=%s]').forEach(b => b.checked = %s.includes(b.value));" % (name, json.dumps(value)))
            else:
                script.append("f.elements[%s].value = %s;" % (json.dumps(name), json.dumps(value)))
        if button:
            script.append("f.querySelector(%s).click();" % json.dumps(button))
        else:
            script.append("f.requestSubmit();")
        self.js("\n".join(script))
        for _ in range(400):
            time.sleep(0.05)
            try:
                now = self.js("document.readyState == 'complete' ? location.href + '#' + performance.timeOrigin : ''")
            except (RuntimeError, websocket.WebSocketException):
                continue
            if now and now != before:
                return
        raise RuntimeError("the form did not lead to a new page")

    def banners(self):
        return self.js("[document.getElementById('banner-top').textContent, document.getElementById('banner-bottom').textContent, "
                       "getComputedStyle(document.getElementById('banner-top')).backgroundColor]")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        print(f"  saved {path}", flush=True)

    def close(self):
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)


def spki_hash(certificate_pem):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a certificate, as Chromium pins it."""
    pubkey = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", certificate_pem], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pubkey, check=True, capture_output=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der, check=True, capture_output=True).stdout
    return base64.b64encode(digest).decode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--liaison", default=".build/debug/liaison")
    parser.add_argument("--screenshots", default=None, help="where to save the screenshots (default: a temporary folder)")
    args = parser.parse_args()
    shots = args.screenshots or tempfile.mkdtemp(prefix="liaison-screens-")
    os.makedirs(shots, exist_ok=True)
    data = tempfile.mkdtemp(prefix="liaison-browser-")
    env = dict(os.environ, LIAISON_DEMO_PASSWORD=PASSWORD)
    demo = subprocess.Popen([args.liaison, "demo", "--keep-running", "--dir", data], stdout=subprocess.PIPE, text=True, env=env)
    consoles = {}
    browser = None
    try:
        for line in demo.stdout:
            m = re.match(r"\s+(KOR|JPN|USA) (https://127\.0\.0\.1:\d+/)\s+root:", line)
            if m:
                consoles[m.group(1)] = m.group(2)
            if line.startswith("   users "):
                break
        check(len(consoles) == 3, "the demo's three consoles are up")
        spki = [spki_hash(os.path.join(data, p.lower(), "tls-node.pem")) for p in consoles]
        browser = Browser(spki)
        kor, usa = consoles["KOR"], consoles["USA"]

        print("KOR: an officer logs in")
        browser.go(kor + "items")
        check("/login" in browser.js("location.pathname"), "an anonymous visit leads to the login page")
        browser.submit("form[action^='/login']", {"name": "officer", "password": "wrong password here"})
        check("the name or the password is wrong" in browser.js("document.body.innerText"), "a wrong password is refused")
        browser.submit("form[action^='/login']", {"name": "officer", "password": PASSWORD})
        check(browser.js("location.pathname") == "/items", "after login, back to the page asked for")
        browser.go(kor)
        top, bottom, colour = browser.banners()
        check("UNCLASSIFIED" in top and top == bottom, "the dashboard's banners: unclassified, top and bottom alike")
        text = browser.js("document.body.innerText")
        check("gsomia-kor-jpn-2016" in text and "terminated" in text, "the dashboard shows the agreements and their state")
        check("JPN" in browser.js("document.getElementById('peers').innerText"), "the dashboard shows the peers")
        browser.screenshot(os.path.join(shots, "dashboard.png"))

        print("KOR: composes an assessment, checks its release, sends it to USA")
        browser.go(kor + "compose")
        fields = {"level": "II", "rel": ["USA"], "purpose": "dprk-nuclear-missile", "categories": "PROJECT:EAST-SEA",
                  "content": "Assessment: launch preparations at Sohae, 2026-11. <script>alert(1)</script>",
                  "to": "JPN", "agreement": "gsomia-kor-jpn-2016"}
        browser.submit("form[action='/compose']", fields, button="button[value=check]")
        check_text = browser.js("document.getElementById('check').innerText")
        check("refused" in check_text and "Art" in check_text, "the release check refuses JPN, naming the article: " + check_text.strip()[:120])
        browser.screenshot(os.path.join(shots, "release-check-refused.png"))
        fields.update({"to": "USA", "agreement": "gsomia-kor-usa-1987"})
        browser.submit("form[action='/compose']", fields, button="button[value=check]")
        check("permitted" in browser.js("document.getElementById('check').innerText"), "the release check permits USA")
        browser.submit("form[action='/compose']", fields, button="button[value=send]")
        item_path = browser.js("location.pathname")
        check(item_path.startswith("/items/"), "sealed and sent: the item's page")
        top, bottom, colour = browser.banners()
        check("II" in top and top == bottom and colour != "rgb(0, 122, 51)", "the item's banners carry its marking, top and bottom: " + top)
        check(browser.js("document.querySelectorAll('script').length") == 0, "no script on the page (the item's text is escaped)")
        check("<script>alert(1)</script>" in browser.js("document.getElementById('content').innerText"), "the text shows as written")

        print("USA: an analyst reads it, with both markings and its provenance")
        browser.go(usa + "login")
        browser.submit("form[action^='/login']", {"name": "analyst", "password": PASSWORD})
        body = ""
        for _ in range(100):
            browser.go(usa + item_path.lstrip("/"))
            body = browser.js("document.body.innerText")
            if "Markings" in body:
                break
            time.sleep(0.2)
        check("received from KOR under gsomia-kor-usa-1987" in body, "the item arrived at USA")
        markings = browser.js("document.getElementById('markings').innerText")
        check("KOR" in markings and "USA" in markings, "both markings are shown (Art 4)")
        check("✔ verified" in browser.js("document.getElementById('provenance').innerText"), "the origin seal verifies")
        top, bottom, colour = browser.banners()
        check(top == bottom and "UNCLASSIFIED" not in top, "USA's banners carry its marking: " + top)
        browser.screenshot(os.path.join(shots, "item.png"))

        print("USA: a reader without the clearance is refused, with the article")
        browser.go(usa + "login")
        browser.submit("form[action^='/login']", {"name": "reader", "password": PASSWORD})
        browser.go(usa + item_path.lstrip("/"))
        refusal = browser.js("document.getElementById('refusal') ? document.getElementById('refusal').innerText : ''")
        check("Art" in refusal and "recorded" in refusal, "refused, naming the article: " + refusal.replace("\n", " ")[:140])
        browser.screenshot(os.path.join(shots, "refusal.png"))

        print("KOR: the ledger page verifies the whole ledger")
        browser.go(kor + "ledger")
        browser.submit("form[action='/ledger/verify']", {})
        check("intact" in browser.js("document.getElementById('verified').innerText"), "the ledger re-derives intact")
        browser.screenshot(os.path.join(shots, "ledger.png"))
        outbox = ""
        for _ in range(50):
            browser.go(kor + "items")
            outbox = browser.js("document.getElementById('outbox').innerText")
            if "delivered, proven" in outbox:
                break
            time.sleep(0.2)
        check("USA" in outbox and "delivered, proven" in outbox, "KOR's outbox shows the delivery proven by USA's receipt")
        browser.screenshot(os.path.join(shots, "items.png"))

        print("KOR: an agreement's page, its statements, and the officers' queues")
        browser.go(kor + "agreements/gsomia-kor-jpn-2016")
        text = browser.js("document.body.innerText")
        check("kor-suspension-2019" in text and "terminated" in browser.js("document.getElementById('phase').innerText"),
              "the agreement page lists its statements and its state")
        browser.screenshot(os.path.join(shots, "agreement.png"))
        browser.submit("form#issue", {"act": "notice-withdrawal", "notice": "kor-notice-2019"})
        refusal = browser.js("document.getElementById('refusal') ? document.getElementById('refusal').innerText : ''")
        check("Art 21" in refusal, "a statement the rules refuse names its article: " + refusal.replace("\n", " ")[:140])
        browser.go(kor + "consents")
        check(browser.js("!!document.getElementById('received') && !!document.getElementById('sent')"), "the consent queue shows both directions")
        browser.go(kor + "incidents")
        check(browser.js("!!document.getElementById('incidents')"), "the incidents page lists loss and compromise reports")
    finally:
        if browser:
            browser.close()
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
        shutil.rmtree(data, ignore_errors=True)
    if failures:
        print(f"console browser test: {len(failures)} failed: " + "; ".join(failures))
        sys.exit(1)
    print("console browser test: ok")


if __name__ == "__main__":
    main()
