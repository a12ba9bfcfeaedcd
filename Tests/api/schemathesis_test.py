#!/usr/bin/env python3
"""The operator API against its own OpenAPI document, with schemathesis
(PyPI): three demo nodes; an administrator's API token at KOR; every route
fuzzed from the document. Checks: no server error, no status or content
type the document does not list, responses that match their schemas,
invalid input refused, and every route refusing a caller without
credentials.

    python3 Tests/api/schemathesis_test.py --liaison .build/debug/liaison --max-examples 30
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile

PASSWORD = "schemathesis-password"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,ignored_auth"


def request(port, root, method, path, body=None, headers=None):
    context = ssl.create_default_context(cafile=root)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, r.getheaders(), json.loads(data) if data else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--liaison", default=".build/debug/liaison")
    parser.add_argument("--max-examples", default="25")
    args = parser.parse_args()
    schemathesis = shutil.which("schemathesis") or shutil.which("st")
    if not schemathesis:
        sys.exit("schemathesis is not installed (pip install schemathesis)")
    data = tempfile.mkdtemp(prefix="liaison-schemathesis-")
    env = dict(os.environ, LIAISON_DEMO_PASSWORD=PASSWORD)
    demo = subprocess.Popen([args.liaison, "demo", "--keep-running", "--dir", data], stdout=subprocess.PIPE, text=True, env=env)
    status = 1
    try:
        port = None
        for line in demo.stdout:
            m = re.match(r"\s+KOR https://127\.0\.0\.1:(\d+)/\s+root:", line)
            if m:
                port = int(m.group(1))
            if line.startswith("   users "):
                break
        if port is None:
            sys.exit("the demo did not start its consoles")
        root = os.path.join(data, "kor", "tls-root-ca.pem")
        s, headers, body = request(port, root, "POST", "/api/v1/session", {"name": "admin", "password": PASSWORD})
        assert s == 201, (s, body)
        cookie = next(v.split(";")[0] for k, v in headers if k.lower() == "set-cookie")
        admin = {"Cookie": cookie, "X-CSRF-Token": body["csrf_token"]}
        # A user with every role, the top clearance and the demo's categories, so that every route can succeed.
        s, _, user = request(port, root, "POST", "/api/v1/users", {
            "name": "fuzzer", "display_name": "Fuzzer", "password": PASSWORD,
            "roles": ["analyst", "releasing-officer", "security-officer", "auditor", "administrator"],
            "clearance": {"level": "I", "expires": "2099-01-01T00:00:00Z"}, "categories": ["PROJECT:EAST-SEA"]}, admin)
        assert s == 201, (s, user)
        s, headers, body = request(port, root, "POST", "/api/v1/session", {"name": "fuzzer", "password": PASSWORD})
        cookie = next(v.split(";")[0] for k, v in headers if k.lower() == "set-cookie")
        s, _, token = request(port, root, "POST", "/api/v1/tokens", {"name": "schemathesis"},
                              {"Cookie": cookie, "X-CSRF-Token": body["csrf_token"]})
        assert s == 201, (s, token)
        # The token as the document's `token` scheme, so that schemathesis knows it and can leave it out.
        config = os.path.join(data, "schemathesis.toml")
        with open(config, "w") as f:
            f.write('[auth.openapi.token]\nbearer = "%s"\n' % token["token"])
        command = [schemathesis, "--config-file", config, "run", f"https://127.0.0.1:{port}/openapi.json", "--tls-verify", root,
                   "--checks", CHECKS,
                   "--max-examples", args.max_examples, "--generation-deterministic", "--workers", "1", "--no-color"]
        print(" ".join(command), flush=True)
        status = subprocess.run(command, cwd=data).returncode
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
        shutil.rmtree(data, ignore_errors=True)
    print("schemathesis: " + ("ok" if status == 0 else f"failed ({status})"))
    sys.exit(status)


if __name__ == "__main__":
    main()
