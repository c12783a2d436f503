#!/usr/bin/env python3
"""make bench: wrk through nginx against a real pool, PostgreSQL and Redis.

Every figure is reported next to nginx's own `return 200` (GET /health) measured
in the same run, as a ratio: this 2-core machine is shared, so absolute numbers
move; ratios much less. Each target is run RUNS times (default 3) and the median
is reported. Login is reported against the bcrypt ceiling: cores / time of one
cost-10 hash, measured in the same run with `microshopctl hash-time`.

Optional: NODE_PEER_DIR=<path to the Node user service> also starts it (its own
run.sh/stop.sh), puts an nginx proxy in front and measures its /api/auth/me the
same way, for the "x times Node" figure.

Environment: RUNS (3), DURATION seconds per run (5), CONNECTIONS (32),
WORKERS (4 x cores), OUT (bench/results/latest.md).
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
CORES = os.cpu_count() or 1
WORKERS = int(os.environ.get("WORKERS", str(4 * CORES)))
OUT = os.environ.get("OUT", os.path.join(HERE, "results", "latest.md"))
PASSWORD = "Bench-passw0rd!"


def wrk(port, path, token=None, script=None, env=None, duration=DURATION, conns=CONNECTIONS):
    argv = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--latency"]
    if token:
        argv += ["-H", "Authorization: Bearer " + token]
    if script:
        argv += ["-s", script]
    argv.append("http://127.0.0.1:%d%s" % (port, path))
    e = dict(os.environ)
    e.update(env or {})
    out = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=duration + 30).stdout
    rps = errors = 0.0
    p50 = p99 = ""
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif "Non-2xx or 3xx responses" in line:
            errors += float(parts[-1])
        elif line.strip().startswith("Socket errors"):
            errors += sum(int(x.rstrip(",")) for x in parts if x.rstrip(",").isdigit())
        elif line.strip().startswith("50%"):
            p50 = parts[1]
        elif line.strip().startswith("99%"):
            p99 = parts[1]
    return {"rps": rps, "errors": errors, "p50": p50, "p99": p99}


def worker_rss_kib(pids):
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out.append(int(line.split()[1]))
        except FileNotFoundError:
            pass
    return out


def hash_time(bindir):
    r = subprocess.run([os.path.join(bindir, "microshopctl"), "hash-time", "10", "7"],
                       capture_output=True, text=True, check=True)
    return float(r.stdout.strip())


def copy_peer(peer):
    """The peer's own tree may be read-only (npm ci writes node_modules): run a copy."""
    import shutil
    dst = os.path.join(harness._workdir(), "node-peer")
    if not os.path.exists(dst):
        shutil.copytree(peer, dst, ignore=shutil.ignore_patterns("node_modules", ".git"))
    return dst


def start_node_peer(peer):
    """The Node service on :3001 via its own scripts, and an nginx proxy in front."""
    subprocess.run([os.path.join(peer, "run.sh"), "--detach"], check=True, cwd=peer,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
                   env=dict(os.environ, RESET_DB="1", LOG_LEVEL="warn"))
    rundir = os.path.join(harness._workdir(), "node-nginx")
    os.makedirs(rundir, exist_ok=True)
    port = harness.free_port()
    conf = os.path.join(rundir, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""pid %(d)s/nginx.pid; error_log %(d)s/error.log; worker_processes auto;
events { worker_connections 4096; }
http { access_log off;
  client_body_temp_path %(d)s/cb; proxy_temp_path %(d)s/px; fastcgi_temp_path %(d)s/fc;
  uwsgi_temp_path %(d)s/uw; scgi_temp_path %(d)s/sc;
  upstream node { server 127.0.0.1:3001; keepalive 64; }
  server { listen 127.0.0.1:%(p)d;
    location / { proxy_pass http://node; proxy_http_version 1.1;
                 proxy_set_header Connection ""; } } }
""" % {"d": rundir, "p": port})
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", rundir + "/", "-g", "daemon off;"],
                            stdin=subprocess.DEVNULL, start_new_session=True)
    harness.wait_until(lambda: harness.http_request(port, "GET", "/health").status == 200, 30,
                       0.1, "nginx in front of the Node service")
    return proc, port


def stop_node_peer(peer, proc):
    if proc:
        harness.kill_and_wait([proc.pid], popen=proc)
    subprocess.run([os.path.join(peer, "stop.sh")], cwd=peer, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)


def node_token(port):
    body = {"email": "bench@example.com", "password": PASSWORD, "name": "Bench User"}
    harness.http_request(port, "POST", "/api/auth/register", body=body)
    r = harness.http_request(port, "POST", "/api/auth/login",
                             body={"email": body["email"], "password": PASSWORD})
    return r.body["data"]["tokens"]["accessToken"]


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    bindir = os.path.join(ROOT, "bin")
    peer = os.environ.get("NODE_PEER_DIR")
    if peer:
        peer = copy_peer(os.path.abspath(peer))
    cluster = harness.Cluster(bindir, name="bench", workers=WORKERS, worker=True,
                              env={"BCRYPT_COST": "10", "LOG_LEVEL": "warn",
                                   "MAX_REQUESTS": "0"})
    node_proc = None
    results = {}
    try:
        cluster.start()
        port = cluster.nginx.port
        user = cluster.register(email="bench@example.com", password=PASSWORD, name="Bench User")
        token = user.token
        login_body = json.dumps({"email": "bench@example.com", "password": PASSWORD})
        node_port = None
        if peer:
            node_proc, node_port = start_node_peer(peer)
            ntoken = node_token(node_port)
        targets = [
            ("nginx return 200", lambda: wrk(port, "/health")),
            ("GET /health/user/live", lambda: wrk(port, "/health/user/live")),
            ("GET /health/user", lambda: wrk(port, "/health/user")),
            ("GET /api/auth/me", lambda: wrk(port, "/api/auth/me", token=token)),
            ("POST /api/auth/login (cost 10)",
             lambda: wrk(port, "/api/auth/login", script=os.path.join(HERE, "login.lua"),
                         env={"BENCH_LOGIN_BODY": login_body}, duration=max(DURATION, 8),
                         conns=WORKERS)),
        ]
        if node_port:
            targets.append(("Node GET /api/auth/me",
                            lambda: wrk(node_port, "/api/auth/me", token=ntoken)))
        hashes = []
        for run in range(RUNS):
            hashes.append(hash_time(bindir))
            for name, fn in targets:
                results.setdefault(name, []).append(fn())
                print("run %d  %-32s %10.1f req/s" % (run + 1, name, results[name][-1]["rps"]),
                      file=sys.stderr)
        rss = worker_rss_kib(cluster.pool_worker_pids())
    finally:
        if peer:
            stop_node_peer(peer, node_proc)
        cluster.stop()
    report(results, statistics.median(hashes), rss)


def report(results, t_hash, rss):
    base = median(results["nginx return 200"], "rps")
    ceiling = CORES / t_hash
    lines = ["# make bench — %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "",
             "%d cores, pool WORKERS=%d, wrk -t2 -c%d -d%ds, median of %d runs; "
             "RATE_LIMIT=off, LOG_LEVEL=warn, nginx access_log off." % (
                 CORES, WORKERS, CONNECTIONS, DURATION, RUNS), "",
             "| target | req/s (median) | runs | ratio | p50 | p99 | errors |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for name, rows in results.items():
        rps = median(rows, "rps")
        if name.startswith("POST /api/auth/login"):
            ratio = "%.2f of bcrypt ceiling" % (rps / ceiling)
        else:
            ratio = "%.3f of nginx" % (rps / base)
        lines.append("| %s | %.1f | %s | %s | %s | %s | %d |" % (
            name, rps, " / ".join("%.0f" % r["rps"] for r in rows), ratio,
            rows[len(rows) // 2]["p50"], rows[len(rows) // 2]["p99"],
            sum(r["errors"] for r in rows)))
    lines += ["", "bcrypt cost 10: %.1f ms per hash → ceiling %d cores / %.4f s = %.1f logins/s."
              % (t_hash * 1000, CORES, t_hash, ceiling)]
    if "Node GET /api/auth/me" in results:
        lines.append("GET /api/auth/me: %.1f× the Node service through nginx." % (
            median(results["GET /api/auth/me"], "rps") /
            median(results["Node GET /api/auth/me"], "rps")))
    lines.append("Pool worker RSS after the run: %s KiB (max %.1f MiB)." % (
        ", ".join(str(r) for r in rss), max(rss) / 1024 if rss else 0))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
