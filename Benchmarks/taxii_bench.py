#!/usr/bin/env python3
"""TAXII 2.1 through Liaison's gateway against the OASIS reference server
medallion (memory back end), with the same client (taxii2-client) and the
same workload, in one run on one machine:

- single-object adds (an envelope of 1 object);
- envelopes of 10 and of 100 objects;
- everything read back with paging (pages of 100);
- and, for the floor, the API root read as many times as there were single
  adds: what an authenticated request costs the server and the clients when
  nothing is stored.

Objects are STIX indicators of about 1 KiB. At Liaison every object is
labelled (a marking definition carrying the Liaison label), sealed,
policy-checked and durably stored (SQLite, synchronous=FULL), and every read
is checked by the access policy and recorded in the ledger. medallion keeps
objects in a Python dict.

Each client posts one envelope at a time and waits for its answer; with
`--clients N`, N client processes (each with its own connection) share the
envelopes, against each server alike.

    swift build -c release --product liaison
    python3 Benchmarks/taxii_bench.py --liaison .build/release/liaison --runs 3
    python3 Benchmarks/taxii_bench.py --liaison .build/release/liaison --runs 3 --clients 4
    python3 Benchmarks/taxii_bench.py --liaison .build/release/liaison --runs 3 --clients 16 --steady 100 1200
    python3 Benchmarks/taxii_bench.py --liaison .build/release/liaison --runs 3 --clients 16 --floor 16000
"""
import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests
from taxii2client.v21 import Collection, Server, as_pages

for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(variable, None)

EXTENSION = "extension-definition--e9b1c7a2-5d3f-5b6e-8a4c-1f2d3e4b5a6c"
PASSWORD = "taxii-bench-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marking():
    return {
        "type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--" + str(uuid.uuid4()),
        "created": "2026-11-29T00:00:00.000Z", "name": "KOR II",
        "extensions": {EXTENSION: {"extension_type": "property-extension", "originator": "KOR", "level": "II",
                                   "releasable_to": ["USA"], "purpose": "dprk-nuclear-missile"}},
    }


def indicator(n, marking_id):
    """A STIX indicator of about 1 KiB."""
    now = "2026-11-29T00:00:00.000Z"
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--" + str(uuid.uuid4()), "created": now, "modified": now,
        "name": f"Launch site activity {n}", "pattern_type": "stix", "valid_from": now,
        "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (n % 250 + 1),
        "description": ("Observed preparations consistent with a launch window; " * 16)[:760],
    }
    if marking_id:
        obj["object_marking_refs"] = [marking_id]
    return obj


def envelopes(count, size, labelled):
    out = []
    for e in range(count):
        m = marking() if labelled else None
        objs = [indicator(e * size + i, m["id"] if m else None) for i in range(size)]
        out.append(json.dumps({"objects": ([m] if m else []) + objs}))
    return out


def add_each(collection, bodies, expected):
    """Posts envelopes one after another; each must be accepted whole."""
    for body in bodies:
        status = collection.add_objects(body)
        if status.status != "complete" or status.success_count != expected:
            raise SystemExit(f"an envelope was not accepted whole: {status.success_count} of {expected}: {status.failures[:1]}")


_worker_collection = None


def _worker_start(url, user, password, verify):
    global _worker_collection
    _worker_collection = Collection(url, user=user, password=password, verify=verify)
    _worker_collection.refresh()


def _worker_ready(_):
    return os.getpid()


# The envelopes of each workload, made before the client processes are
# forked so that each finds its share in its own memory: shipping them to the
# clients through the pool's pipes (2 MB for the envelopes of 100) took part
# of the timed window, and is no server's work.
_bodies = {}


def _worker_add(job):
    name, first, step, expected = job
    cpu = time.process_time()
    add_each(_worker_collection, _bodies[name][first::step], expected)
    return time.process_time() - cpu


def shares(count, clients):
    """`count` requests dealt out among `clients` as evenly as they go."""
    return [count // clients + (1 if i < count % clients else 0) for i in range(clients)]


def _worker_get(job):
    """GETs the API root `count` times through the client's connection: the
    least a server can be asked, authenticated, for the floor figures."""
    count = job
    url = _worker_collection.url.split("collections/")[0]
    cpu = time.process_time()
    for _ in range(count):
        _worker_collection._conn.get(url)
    return time.process_time() - cpu


def process_cpu(pid):
    """Seconds of CPU (user and system) the process has used so far, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_workload(collection, labelled, singles, tens, hundreds, clients=1, credentials=None, server_pid=None):
    """Returns rates: single adds/s, objects/s in envelopes of 10 and 100, objects/s read back.
    With several clients, each is its own process with its own connection, and the
    envelopes are dealt out among them; the time is from the first post to the last answer.
    Beside the rates, the CPU time per envelope of the clients and of the server."""
    rates = {}
    workloads = (("single", singles, 1), ("10", tens, 10), ("100", hundreds, 100))
    for name, count, size in workloads:
        _bodies[name] = envelopes(count, size, labelled)
    pool = None
    if clients > 1:
        pool = multiprocessing.get_context("fork").Pool(clients, initializer=_worker_start, initargs=(collection.url, *credentials))
        pool.map(_worker_ready, range(clients * 4))
    try:
        for name, count, size in workloads:
            bodies = _bodies[name]
            expected = size + (1 if labelled else 0)
            start, cpu = time.perf_counter(), time.process_time()
            served = process_cpu(server_pid) if server_pid else None
            if pool is None:
                add_each(collection, bodies, expected)
                cpu = time.process_time() - cpu
            else:
                cpu = sum(pool.map(_worker_add, [(name, i, clients, expected) for i in range(clients)], chunksize=1))
            elapsed = time.perf_counter() - start
            rates[name] = (count if size == 1 else count * size) / elapsed
            # The client's own CPU time per envelope posted: what bounds the rate whatever the server.
            rates["client ms/" + name] = cpu * 1000 / count if count else 0.0
            if served is not None:
                rates["server ms/" + name] = (process_cpu(server_pid) - served) * 1000 / count if count else 0.0
        # The floor: the API root read as often as there were single adds.
        start = time.perf_counter()
        served = process_cpu(server_pid) if server_pid else None
        if pool is None:
            global _worker_collection
            _worker_collection, cpu = collection, time.process_time()
            _worker_get(singles)
            cpu = time.process_time() - cpu
        else:
            cpu = sum(pool.map(_worker_get, shares(singles, clients), chunksize=1))
        elapsed = time.perf_counter() - start
        rates["floor"] = singles / elapsed
        rates["client ms/floor"] = cpu * 1000 / singles if singles else 0.0
        if served is not None:
            rates["server ms/floor"] = (process_cpu(server_pid) - served) * 1000 / singles if singles else 0.0
    finally:
        if pool is not None:
            pool.terminate()
    total = singles + tens * 10 + hundreds * 100
    start = time.perf_counter()
    seen = 0
    for page in as_pages(collection.get_objects, per_request=100):
        seen += len([o for o in page.get("objects", []) if o.get("type") == "indicator"])
    elapsed = time.perf_counter() - start
    if seen != total:
        raise SystemExit(f"read back {seen} objects, not {total}")
    rates["read"] = seen / elapsed
    return rates


def start_medallion(directory):
    port = free_port()
    collection = str(uuid.uuid4())
    data = {
        "/discovery": {"title": "medallion", "description": "reference", "default": f"http://127.0.0.1:{port}/api1/",
                       "api_roots": [f"http://127.0.0.1:{port}/api1/"]},
        "api1": {"information": {"title": "api1", "versions": ["application/taxii+json;version=2.1"], "max_content_length": 16777216},
                 "status": [],
                 "collections": [{"id": collection, "title": "bench", "description": "", "can_read": True, "can_write": True,
                                  "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}]},
    }
    with open(os.path.join(directory, "data.json"), "w") as f:
        json.dump(data, f)
    config = {"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                          "filename": os.path.join(directory, "data.json")},
              "users": {"bench": PASSWORD}, "taxii": {"max_page_size": 100}}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    process = subprocess.Popen([shutil.which("medallion"), "--port", str(port), os.path.join(directory, "config.json")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/taxii2/", auth=("bench", PASSWORD), timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    server = Server(f"http://127.0.0.1:{port}/taxii2/", user="bench", password=PASSWORD)
    return process, server.api_roots[0].collections[0], ("bench", PASSWORD, True)


def start_liaison(liaison, directory):
    env = dict(os.environ, LIAISON_DEMO_PASSWORD=PASSWORD)
    demo = subprocess.Popen([liaison, "demo", "--keep-running", "--dir", directory], stdout=subprocess.PIPE, text=True, env=env)
    base = None
    for line in demo.stdout:
        m = re.match(r"\s+KOR (https://127\.0\.0\.1:\d+)/\s+root:", line)
        if m:
            base = m.group(1)
        if line.startswith("   users "):
            break
    root = os.path.join(directory, "kor", "tls-root-ca.pem")

    def call(method, path, body, session=None):
        headers = {"Content-Type": "application/json"}
        if session:
            headers["Cookie"], headers["X-CSRF-Token"] = session
        return requests.request(method, base + path, json=body, headers=headers, verify=root, timeout=30)

    r = call("POST", "/api/v1/session", {"name": "admin", "password": PASSWORD})
    admin = (r.headers["Set-Cookie"].split(";")[0], r.json()["csrf_token"])
    call("POST", "/api/v1/users", {"name": "bench", "display_name": "bench", "password": PASSWORD, "roles": ["analyst"],
                                   "clearance": {"level": "I", "expires": "2099-01-01T00:00:00Z"}}, admin)
    r = call("POST", "/api/v1/session", {"name": "bench", "password": PASSWORD})
    session = (r.headers["Set-Cookie"].split(";")[0], r.json()["csrf_token"])
    token = call("POST", "/api/v1/tokens", {"name": "bench"}, session).json()["token"]
    server = Server(base + "/taxii2/", user="bench", password=token, verify=root)
    local = [c for c in server.api_roots[0].collections if c.title == "KOR holdings"][0]
    return demo, local, ("bench", token, root)


def stop(process):
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def steady(args):
    """Liaison alone, one workload long enough to leave start-up behind:
    what a change to the gateway does, with finer CPU figures than the
    short phases of the comparison give. With --floor, the API root GETs."""
    size, count = args.steady or (0, args.floor)
    name = f"steady {size}"
    if size:
        _bodies[name] = envelopes(count, size, True)
    for run in range(args.runs):
        directory = tempfile.mkdtemp(prefix="taxii-bench-steady-")
        try:
            process, collection, credentials = start_liaison(args.liaison, directory)
            pool = multiprocessing.get_context("fork").Pool(args.clients, initializer=_worker_start, initargs=(collection.url, *credentials))
            try:
                pool.map(_worker_ready, range(args.clients * 4))
                start, served = time.perf_counter(), process_cpu(process.pid)
                if size:
                    client = sum(pool.map(_worker_add, [(name, i, args.clients, size + 1) for i in range(args.clients)], chunksize=1))
                else:
                    client = sum(pool.map(_worker_get, shares(count, args.clients), chunksize=1))
                elapsed, served = time.perf_counter() - start, process_cpu(process.pid) - served
            finally:
                pool.terminate()
                stop(process)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if not size:
            print(f"run {run + 1}: {count} API root GETs, {args.clients} clients: {count / elapsed:,.0f} requests/s; "
                  f"server CPU {served * 1000 / count:.3f} ms per request, clients {client * 1000 / count:.3f}", flush=True)
            continue
        objects = count * size
        print(f"run {run + 1}: {count} envelopes of {size}, {args.clients} clients: {objects / elapsed:,.0f} objects/s; "
              f"server CPU {served * 1000 / objects:.3f} ms per object, clients {client * 1000 / objects:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--liaison", default=".build/release/liaison")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument("--tens", type=int, default=100)
    parser.add_argument("--hundreds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=1, help="client processes posting at once (each envelope once)")
    parser.add_argument("--steady", type=int, nargs=2, metavar=("SIZE", "COUNT"),
                        help="Liaison alone: COUNT envelopes of SIZE objects, long enough for a steady rate; per run, "
                             "objects/s and the server's CPU per object")
    parser.add_argument("--floor", type=int, metavar="COUNT",
                        help="Liaison alone: COUNT authenticated GETs of the API root; per run, requests/s and the server's CPU per request")
    args = parser.parse_args()
    if args.steady or args.floor:
        steady(args)
        return
    results = {"liaison": [], "medallion": []}
    for run in range(args.runs):
        for name in ("medallion", "liaison"):
            directory = tempfile.mkdtemp(prefix=f"taxii-bench-{name}-")
            try:
                process, collection, credentials = start_medallion(directory) if name == "medallion" else start_liaison(args.liaison, directory)
                try:
                    rates = run_workload(collection, name == "liaison", args.singles, args.tens, args.hundreds, args.clients, credentials,
                                         server_pid=process.pid)
                finally:
                    stop(process)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            results[name].append(rates)
            print(f"run {run + 1} {name}: " + ", ".join(f"{k} {v:,.0f}/s" for k, v in rates.items() if " ms/" not in k), flush=True)
    print()
    clients = "one client" if args.clients == 1 else f"{args.clients} client processes"
    print(f"medians of {args.runs} runs, {clients} ({args.singles} single adds, {args.tens} envelopes of 10, {args.hundreds} of 100, all read back in pages of 100):")
    print(f"{'workload':<34}{'medallion':>14}{'Liaison':>14}{'ratio':>9}")
    for key, what in (("single", "single-object adds (adds/s)"), ("10", "envelopes of 10 (objects/s)"),
                      ("100", "envelopes of 100 (objects/s)"), ("read", "paged reads (objects/s)"),
                      ("floor", "API root GETs (requests/s)")):
        m = statistics.median(r[key] for r in results["medallion"])
        l = statistics.median(r[key] for r in results["liaison"])
        print(f"{what:<34}{m:>14,.0f}{l:>14,.0f}{l / m:>8.1f}×")
    print()
    for side in ("client", "server"):
        what = "the clients'" if side == "client" else "the server's (for Liaison the demo's process, its three nodes together)"
        print(f"{what} CPU time per envelope posted (ms), medians:")
        for key, what in (("single", "single-object adds"), ("10", "envelopes of 10"), ("100", "envelopes of 100"),
                          ("floor", "API root GETs (per request)")):
            m = statistics.median(r[f"{side} ms/" + key] for r in results["medallion"])
            l = statistics.median(r[f"{side} ms/" + key] for r in results["liaison"])
            print(f"{what:<34}{m:>14.2f}{l:>14.2f}")
    # What the machine allows: clients and server share its cores. With the
    # clients' measured CPU per add, a server costing nothing would still cap
    # the rate at cores / client CPU; whatever 8× medallion leaves of the
    # cores is the server's budget per add.
    cores = len(os.sched_getaffinity(0))
    client_ms = statistics.median(r["client ms/single"] for r in results["liaison"])
    target = 8 * statistics.median(r["single"] for r in results["medallion"])
    print()
    print(f"single adds on {cores} cores: the clients alone use {client_ms:.2f} ms of CPU per add, so even a server costing nothing "
          f"stays under {cores * 1000 / client_ms:,.0f} adds/s; 8× medallion is {target:,.0f} adds/s, which would leave the server "
          f"{max(0.0, (cores * 1000 - target * client_ms) / target):.2f} ms of CPU per add")
    floor = statistics.median(r["server ms/floor"] for r in results["liaison"])
    left = (cores * 1000 - target * client_ms) / target - floor
    print(f"an authenticated GET of the API root (TLS, HTTP, token, JSON, nothing stored) costs Liaison {floor:.2f} ms of CPU; "
          + (f"an add may cost {left:.2f} ms more than that" if left > 0 else "so at 8× medallion not even that fits beside the clients"))


if __name__ == "__main__":
    main()
