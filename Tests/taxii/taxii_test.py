#!/usr/bin/env python3
"""The TAXII 2.1 gateway with real clients from PyPI: taxii2-client talks to
three demo nodes, stix2 builds the objects, stix2-validator checks every
object the gateway serves.

    python3 Tests/taxii/taxii_test.py --liaison .build/debug/liaison
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import requests
import stix2
import stix2validator
from taxii2client.v21 import Server, Collection, as_pages

PASSWORD = "taxii-test-password"
# Each node's own root CA is the trust anchor; a machine-wide CA bundle in the environment would override it in requests.
for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(variable, None)
EXTENSION = "extension-definition--e9b1c7a2-5d3f-5b6e-8a4c-1f2d3e4b5a6c"
failures = []


def check(condition, what):
    print(("  ok    " if condition else "  FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


def api(base, root, method, path, body=None, token=None, session=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    if session:
        headers["Cookie"], headers["X-CSRF-Token"] = session
    r = requests.request(method, base + path, json=body, headers=headers, verify=root, timeout=30)
    return r


def user_with_token(base, root, party, name, roles, clearance, categories):
    """Adds a user as the demo's admin and returns the user's API token."""
    r = api(base, root, "POST", "/api/v1/session", {"name": "admin", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"].split(";")[0]
    admin = (cookie, r.json()["csrf_token"])
    r = api(base, root, "POST", "/api/v1/users", {"name": name, "display_name": name, "password": PASSWORD, "roles": roles,
                                                  "clearance": {"level": clearance, "expires": "2099-01-01T00:00:00Z"},
                                                  "categories": categories}, session=admin)
    assert r.status_code == 201, r.text
    r = api(base, root, "POST", "/api/v1/session", {"name": name, "password": PASSWORD})
    session = (r.headers["Set-Cookie"].split(";")[0], r.json()["csrf_token"])
    r = api(base, root, "POST", "/api/v1/tokens", {"name": "taxii"}, session=session)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def label_marking(level, releasable_to, categories=()):
    return {
        "type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--" + str(uuid.uuid4()),
        "created": "2026-11-29T00:00:00.000Z", "name": f"KOR {level}",
        "extensions": {EXTENSION: {"extension_type": "property-extension", "originator": "KOR", "level": level,
                                   "releasable_to": list(releasable_to),
                                   "categories": [{"tag": t, "kind": "RESTRICTIVE", "values": [v]} for t, v in categories],
                                   "purpose": "dprk-nuclear-missile"}},
    }


def indicator(marking_id, n):
    return json.loads(stix2.Indicator(
        name=f"Launch site activity {n}", pattern_type="stix", pattern="[ipv4-addr:value = '198.51.100.%d']" % (n % 250 + 1),
        valid_from="2026-11-29T00:00:00Z", object_marking_refs=[marking_id], allow_custom=True).serialize())


def validate(obj):
    results = stix2validator.validate_instance(obj, stix2validator.ValidationOptions(version="2.1", strict=False))
    return results.is_valid, [str(e) for e in results.errors]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--liaison", default=".build/debug/liaison")
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="liaison-taxii-")
    env = dict(os.environ, LIAISON_DEMO_PASSWORD=PASSWORD)
    demo = subprocess.Popen([args.liaison, "demo", "--keep-running", "--dir", data], stdout=subprocess.PIPE, text=True, env=env)
    try:
        consoles = {}
        for line in demo.stdout:
            m = re.match(r"\s+(KOR|JPN|USA) (https://127\.0\.0\.1:\d+)/\s+root:", line)
            if m:
                consoles[m.group(1)] = m.group(2)
            if line.startswith("   users "):
                break
        kor, usa = consoles["KOR"], consoles["USA"]
        kor_root, usa_root = os.path.join(data, "kor", "tls-root-ca.pem"), os.path.join(data, "usa", "tls-root-ca.pem")
        token = user_with_token(kor, kor_root, "KOR", "feeder", ["analyst", "releasing-officer"], "I", ["PROJECT:EAST-SEA"])

        print("discovery, API root, collections (taxii2-client, Basic auth with an API token)")
        server = Server(kor + "/taxii2/", user="feeder", password=token, verify=kor_root)
        check(server.title == "Liaison KOR node" and len(server.api_roots) == 1, "discovery names one API root")
        root = server.api_roots[0]
        check("application/taxii+json;version=2.1" in root.versions, "the API root speaks TAXII 2.1")
        titles = {c.title: c for c in root.collections}
        check("KOR holdings" in titles and "gsomia-kor-usa-1987 — USA" in titles, "collections: the holdings and one per agreement and peer")
        local = titles["KOR holdings"]
        check(local.can_read and local.can_write, "the feeder may read and write the holdings")

        print("adding objects: an envelope of 25 labelled indicators, one unlabelled, one above the label's rules")
        marking = label_marking("II", ["USA", "JPN"], [("PROJECT", "EAST-SEA")])
        objects = [indicator(marking["id"], n) for n in range(25)]
        unlabelled = indicator("marking-definition--" + str(uuid.uuid4()), 99)
        status = local.add_objects(json.dumps({"objects": [marking] + objects + [unlabelled]}))
        check(status.status == "complete" and status.success_count == 26 and status.failure_count == 1,
              f"status: {status.success_count} succeeded, {status.failure_count} failed")
        check("no Liaison label marks this object" in status.failures[0]["message"], "the unlabelled object is refused with the reason")
        fetched = Server(kor + "/taxii2/", user="feeder", password=token, verify=kor_root).api_roots[0]
        st = fetched.get_status(status.id)
        check(st.success_count == 26, "the status resource can be fetched again")

        print("reading back: paging, match filters, manifest, versions, one object")
        seen = []
        for page in as_pages(local.get_objects, per_request=10):
            seen += page.get("objects", [])
        indicators = [o for o in seen if o["type"] == "indicator"]
        check(len(indicators) == 25 and {o["id"] for o in indicators} == {o["id"] for o in objects}, f"all 25 read back over pages of 10 ({len(seen)} objects with their labels)")
        markings = [o for o in seen if o["type"] == "marking-definition"]
        check(markings and EXTENSION in markings[0]["extensions"] and markings[0]["extensions"][EXTENSION]["level"] == "II",
              "each page carries the label as a marking definition")
        bad = [(o["id"], e) for o in seen for ok, e in [validate(o)] if not ok]
        check(not bad, "stix2-validator accepts every object served" + (f": {bad[:2]}" if bad else ""))
        only = local.get_objects(type="indicator", id=objects[3]["id"])
        check([o["id"] for o in only.get("objects", []) if o["type"] == "indicator"] == [objects[3]["id"]], "match[id] and match[type]")
        manifest = local.get_manifest()
        check(len([m for m in manifest.get("objects", []) if m["id"].startswith("indicator--")]) == 25, "the manifest lists them")
        one = local.get_object(objects[5]["id"])
        check(any(o["id"] == objects[5]["id"] for o in one.get("objects", [])), "one object by id")
        versions = local.object_versions(objects[5]["id"])
        check(versions.get("versions") == [objects[5]["modified"]], "its versions")
        parsed = stix2.parse([o for o in one["objects"] if o["type"] == "indicator"][0], allow_custom=True)
        check(parsed.name == objects[5]["name"], "stix2 parses what the gateway serves")
        served_ids = {o["id"] for o in seen if o["type"] == "marking-definition"}
        check(all(set(o.get("object_marking_refs", [])) <= served_ids for o in indicators), "every served object's marking reference is served with it")
        again = local.add_objects(json.dumps({"objects": seen[:11]}))
        check(again.failure_count == 0 and again.success_count == 11, "a fetched page can be posted again as it is")

        print("releasing through a peer collection: KOR → USA under gsomia-kor-usa-1987, read at USA's gateway")
        to_usa = titles["gsomia-kor-usa-1987 — USA"]
        sent = indicator(marking["id"], 200)
        st = to_usa.add_objects(json.dumps({"objects": [marking, sent]}))
        check(st.success_count == 2, "released to USA")
        jpn_only = label_marking("II", ["JPN"])
        st = to_usa.add_objects(json.dumps({"objects": [jpn_only, indicator(jpn_only["id"], 201)]}))
        check(st.failure_count == 1 and "not released" in st.failures[0]["message"] and "Art" in st.failures[0]["message"],
              "a label not releasable to USA: kept here, not released, the article named")
        usa_token = user_with_token(usa, usa_root, "USA", "watch", ["analyst"], "S", ["PROJECT:EAST-SEA"])
        usa_root_api = Server(usa + "/taxii2/", user="watch", password=usa_token, verify=usa_root).api_roots[0]
        from_kor = {c.title: c for c in usa_root_api.collections}["gsomia-kor-usa-1987 — KOR"]
        arrived = []
        for _ in range(100):
            arrived = [o for o in from_kor.get_objects().get("objects", []) if o["id"] == sent["id"]]
            if arrived:
                break
            time.sleep(0.2)
        check(len(arrived) == 1, "USA's gateway serves it, received from KOR")
        check(not from_kor.can_write, "an analyst at USA may not release through the gateway")

        print("refusals")
        r = requests.get(kor + "/taxii2/", verify=kor_root, headers={"Accept": "application/taxii+json;version=2.1"})
        check(r.status_code == 401 and r.headers["Content-Type"].startswith("application/taxii+json"), "no credentials: 401, a TAXII error")
        r = requests.post(kor + f"/taxii2/liaison/collections/{local.id}/objects/", data=json.dumps({"objects": []}),
                          auth=("feeder", token), verify=kor_root, headers={"Content-Type": "application/json"})
        check(r.status_code == 415, "an envelope not typed application/taxii+json: 415")
        held = len(local.get_manifest(limit=1000).get("objects", []))
        dup = indicator(marking["id"], 300)
        for body, reason, what in (
            ('{"objects": [' + json.dumps(marking), "not readable JSON", "a truncated envelope"),
            (json.dumps({"objects": [marking, dup]})[:-1] + ', "objects": []}', "twice in one object", "an envelope naming objects twice"),
            (json.dumps({"objects": [marking, dup]}).replace('"' + dup["id"] + '"', '"' + dup["id"] + '", "id": "x"'), "twice in one object",
             "an object with two ids"),
            (json.dumps({"objects": [marking, dup]}).replace('"spec_version": "2.1"', '"spec_version": "2.1", "confidence": 1e999', 1),
             "beyond the range of a double", "a number no reader can hold"),
            (json.dumps({"objects": [marking, dup]}).replace(dup["name"], "\\ud800"), "surrogate", "a lone surrogate"),
            (json.dumps({"objects": {"0": dup}}), "objects list", "objects that are not a list"),
            ('{"objects": [' + json.dumps(marking) + ', {"x": ' + "[" * 200 + "]" * 200 + "}]}", "nested deeper than 128",
             "an envelope nested 200 deep"),
        ):
            r = requests.post(kor + f"/taxii2/liaison/collections/{local.id}/objects/", data=body.encode(), auth=("feeder", token),
                              verify=kor_root, headers={"Content-Type": "application/taxii+json;version=2.1",
                                                        "Accept": "application/taxii+json;version=2.1"})
            check(r.status_code == 400 and reason in r.json().get("description", ""), f"{what}: 400, saying so ({r.status_code} {r.text[:120]})")
        check(len(local.get_manifest(limit=1000).get("objects", [])) == held, "the refused envelopes left nothing behind")
        deep = dict(indicator(marking["id"], 301), x_liaison_nested=json.loads("[" * 120 + "]" * 120))
        st = local.add_objects(json.dumps({"objects": [marking, deep]}).replace('"spec_version": "2.1"', '"spec_version": "2.1", "x_liaison_score": 1.50e0'))
        r = requests.get(kor + f"/taxii2/liaison/collections/{local.id}/objects/{deep['id']}/", auth=("feeder", token), verify=kor_root,
                         headers={"Accept": "application/taxii+json;version=2.1"})
        back = [o for o in r.json().get("objects", []) if o["id"] == deep["id"]]
        check(st.success_count == 2 and back and back[0]["x_liaison_nested"] == deep["x_liaison_nested"] and '"x_liaison_score":1.50e0' in r.text,
              "an object nested 120 deep is kept and served as it was, its numbers as written")
        r = requests.get(kor + "/taxii2/", verify=kor_root, auth=("feeder", token), headers={"Accept": "text/html"})
        check(r.status_code == 406, "a client that does not accept TAXII: 406")
        r = requests.get(kor + "/taxii2/", verify=kor_root, auth=("someone-else", token))
        check(r.status_code == 401, "Basic with another user's name: 401")
        r = requests.get(kor + "/taxii2/", verify=kor_root, auth=("feeder", token), headers={"Accept": ";"})
        check(r.status_code == 406, "a malformed Accept header: 406, the node goes on")
        low = user_with_token(kor, kor_root, "KOR", "junior", ["analyst"], "III", [])
        r = requests.get(kor + f"/taxii2/liaison/status/{status.id}/", verify=kor_root, auth=("junior", low),
                         headers={"Accept": "application/taxii+json;version=2.1"})
        check(r.status_code == 404, "another user's status resource is not there for them")
        low_root = Server(kor + "/taxii2/", user="junior", password=low, verify=kor_root).api_roots[0]
        low_local = {c.title: c for c in low_root.collections}["KOR holdings"]
        visible = [o for o in low_local.get_objects().get("objects", []) if o["type"] == "indicator"]
        check(not visible, "a reader cleared below the label sees none of the objects")
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
        shutil.rmtree(data, ignore_errors=True)
    if failures:
        print(f"taxii test: {len(failures)} failed: " + "; ".join(failures))
        sys.exit(1)
    print("taxii test: ok")


if __name__ == "__main__":
    main()
