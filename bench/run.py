#!/usr/bin/env python3
"""make bench: wrk through nginx against a real pool, PostgreSQL and Redis.

Every figure is reported next to nginx's own `return 200` (GET /health) measured
in the same run, as a ratio: this 2-core machine is shared, so absolute numbers
move; ratios much less. Each target is run RUNS times (default 3) and the median
is reported. Login is reported against the bcrypt ceiling: cores / time of one
cost-10 hash, measured in the same run with `microshopctl hash-time`.

The product service runs next to the user service, its database seeded with
PRODUCTS (100,000) demo products (`microshopctl seed`) and then VACUUM ANALYZEd
until the visibility map is complete (the state autovacuum leaves; plain
ANALYZE leaves the map empty and the plans differ). Product targets: a cached
GET /api/products/:id (ratio to nginx), and the listing with search + category +
price range through nginx next to pgbench running the same two statements
(bench/product_listing.pgbench: the count and the page, one pgbench transaction
per request) against the product database, same -c, same duration, in the same
run; the ratio is service req/s / pgbench tps. Before measuring, the pgbench
script is checked against bench/product_listing.py (the mirror of listing.c),
and the mirror against the statement the product pool really ran
(pg_stat_activity): the run stops if either is stale.

Optional: NODE_PEER_DIR=<path to the Node user service> also starts it (its own
run.sh/stop.sh), puts an nginx proxy in front and measures its /api/auth/me the
same way, for the "x times Node" figure.

Environment: RUNS (3), DURATION seconds per run (5), CONNECTIONS (32),
WORKERS (4 x cores, per service pool), PRODUCTS (100000), BENCH_SEARCH (smart),
BENCH_CATEGORY (Electronics, a top category of the seed), PGBENCH_MODES
("prepared extended"; the first is the ratio's baseline: -M prepared is what
the service does, ms_db_exec_sql preparing each text once per connection;
-M extended plans every execution), OUT
(bench/results/latest.md).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402
import product_listing  # noqa: E402  (bench/, next to this file)

RUNS = int(os.environ.get("RUNS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
CORES = os.cpu_count() or 1
WORKERS = int(os.environ.get("WORKERS", str(4 * CORES)))
OUT = os.environ.get("OUT", os.path.join(HERE, "results", "latest.md"))
PASSWORD = "Bench-passw0rd!"
PRODUCTS = int(os.environ.get("PRODUCTS", "100000"))
SEARCH = os.environ.get("BENCH_SEARCH", "smart")
CATEGORY = os.environ.get("BENCH_CATEGORY", "Electronics")
PGBENCH_MODES = os.environ.get("PGBENCH_MODES", "prepared extended").split()
PGBENCH_SCRIPT = os.path.join(HERE, "product_listing.pgbench")
# the listing target: GET /api/products?search=…&category=…&min_price=10&max_price=500
MIN_MINOR, MAX_MINOR = 1000, 50000
LISTING = "GET /api/products?search+category+price"
PRODUCT_GET = "GET /api/products/:id (cached)"


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


def pgbench(db_url, mode, variables, duration=DURATION, conns=CONNECTIONS):
    """pgbench -f bench/product_listing.pgbench: one transaction = the listing's count
    and page statements. Same -c as wrk, -j 2 (wrk's -t2), same duration."""
    argv = [os.path.join(harness.PG_BIN, "pgbench"), "-n", "-M", mode, "-c", str(conns),
            "-j", "2", "-T", str(duration), "-f", PGBENCH_SCRIPT]
    for k, v in variables.items():
        argv += ["-D", "%s=%s" % (k, v)]
    argv.append(db_url)
    r = subprocess.run(argv, capture_output=True, text=True, env=harness.base_env(),
                       timeout=duration + 60)
    out = r.stdout + r.stderr
    m = re.search(r"^tps = ([\d.]+)", out, re.M)
    if r.returncode != 0 or not m:
        raise RuntimeError("pgbench failed (%d):\n%s" % (r.returncode, out[-2000:]))
    lat = re.search(r"^latency average = ([\d.]+) ms", out, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    return {"rps": float(m.group(1)), "errors": float(failed.group(1)) if failed else 0.0,
            "p50": "avg %s ms" % lat.group(1) if lat else "", "p99": ""}


def pgbench_file_statements(variables):
    """The two statements of bench/product_listing.pgbench with the variables put in
    as quoted literals (\\set ones and -D ones), the E'..\\x3a..' spelling undone."""
    sets, stmts, cur = {}, [], []
    with open(PGBENCH_SCRIPT) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("--") or not line.strip():
                continue
            if line.startswith("\\set "):
                _, name, value = line.split(None, 2)
                sets[name] = value
                continue
            cur.append(line)
            if line.endswith(";"):
                stmts.append(" ".join(cur)[:-1])
                cur = []
    values = dict(sets)
    values.update(variables)
    out = []
    for s in stmts:
        s = re.sub(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)",
                   lambda m: "'%s'" % values[m.group(1)].replace("'", "''"), s)
        out.append(s.replace("E'YYYY-MM-DD\"T\"HH24\\x3aMI\\x3aSS.MS\"Z\"'",
                             "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"))
    return out


def prepare_products(cluster):
    """Seed, VACUUM ANALYZE, warm one product into the cache, and check that the
    service, the mirror of listing.c and the pgbench script run the same SQL.
    Returns (product id, listing path, pgbench variables, plans summary)."""
    t0 = time.monotonic()
    r = cluster.microshopctl("seed", "--products", str(PRODUCTS), service="product", timeout=900)
    if r.returncode != 0:
        raise RuntimeError("microshopctl seed failed (%d): %s%s" % (r.returncode, r.stdout,
                                                                     r.stderr))
    db = cluster.dbnames["product"]
    vacuums = product_listing.vacuum_catalogue(lambda sql: cluster.pg.psql(sql, db, timeout=600))
    print("seeded %d products + VACUUM ANALYZE (%d VACUUMs of products) in %.1fs" % (
        PRODUCTS, vacuums, time.monotonic() - t0), file=sys.stderr)
    port = cluster.nginx.port
    pid = cluster.psql("SELECT id FROM products WHERE status = 'active' ORDER BY sku LIMIT 1",
                       service="product")
    r = harness.http_request(port, "GET", "/api/products/%s" % pid)
    if r.status != 200 or cluster.redis_cmd("EXISTS", "ms:product:%s" % pid) != 1:
        raise RuntimeError("GET /api/products/%s did not fill the cache: %r" % (pid, r))
    cat = cluster.psql("SELECT id FROM categories WHERE parent_id IS NULL AND name = '%s'"
                       % CATEGORY.replace("'", "''"), service="product")
    if not cat:
        raise RuntimeError("no top category %r in the seeded catalogue" % CATEGORY)
    args = dict(category=cat, search=SEARCH, min_minor=MIN_MINOR, max_minor=MAX_MINOR)
    path = "/api/products" + product_listing.query_string(**args)
    count_sql, page_sql, params, ncount = product_listing.build(**args)
    variables = {"category": cat, "search": SEARCH}
    # 1. the pgbench script runs the mirror's statements
    inl = [product_listing.inline(count_sql, params[:ncount]),
           product_listing.inline(page_sql, params)]
    if pgbench_file_statements(variables) != inl:
        raise RuntimeError("%s does not run the statements of bench/product_listing.py:\n%s"
                           % (PGBENCH_SCRIPT, "\n".join(pgbench_file_statements(variables))))
    # 2. the mirror is what the pool runs (its page statement, and the count's answer)
    r = harness.http_request(port, "GET", path)
    if r.status != 200 or not r.body["data"]["products"]:
        raise RuntimeError("GET %s: %r" % (path, r))
    live = product_listing.live_statements(lambda sql: cluster.psql(sql, service="product"))
    if page_sql not in live:
        raise RuntimeError("the product pool ran another listing statement than "
                           "bench/product_listing.py builds (listing.c changed?):\n"
                           "pool:   %s\nmirror: %s" % ("\n        ".join(live), page_sql))
    total = int(cluster.psql(inl[0], service="product"))
    if r.body["data"]["pagination"]["total"] != total:
        raise RuntimeError("listing total %r, mirrored count %d" % (
            r.body["data"]["pagination"]["total"], total))
    # the plans the pool runs: custom for a statement's first five executions on a
    # connection, then the cached generic one if it is estimated no dearer
    runs = product_listing.explain_prepared(
        os.path.join(harness.PG_BIN, "psql"), cluster.database_url("product"),
        [(count_sql, params[:ncount]), (page_sql, params)], env=harness.base_env())
    plans = {}
    for name, r in zip(("count", "page"), runs):
        plans[name] = {"custom": product_listing.scan_summary(r[0]),
                       "cached": product_listing.scan_summary(r[5])}
    return pid, path, variables, {"total": total, "plans": plans}


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
                              services=("user", "product"),
                              env={"BCRYPT_COST": "10", "LOG_LEVEL": "warn",
                                   "MAX_REQUESTS": "0"})
    node_proc = None
    results = {}
    product = None
    try:
        cluster.start()
        port = cluster.nginx.port
        product_id, listing_path, pgvars, product = prepare_products(cluster)
        product_db = cluster.database_url("product")
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
        targets.append((PRODUCT_GET, lambda: wrk(port, "/api/products/%s" % product_id)))
        targets.append((LISTING, lambda: wrk(port, listing_path)))
        for mode in PGBENCH_MODES:
            targets.append(("pgbench listing SQL -M %s" % mode,
                            lambda mode=mode: pgbench(product_db, mode, pgvars)))
        hashes = []
        for run in range(RUNS):
            hashes.append(hash_time(bindir))
            for name, fn in targets:
                results.setdefault(name, []).append(fn())
                print("run %d  %-32s %10.1f req/s" % (run + 1, name, results[name][-1]["rps"]),
                      file=sys.stderr)
        relay = relay_latency(cluster)
        rss = worker_rss_kib(cluster.pool_worker_pids())
        product["rss"] = worker_rss_kib(cluster.pool_worker_pids("product"))
        product["path"] = listing_path
    finally:
        if peer:
            stop_node_peer(peer, node_proc)
        cluster.stop()
    report(results, statistics.median(hashes), rss, product, relay)


def relay_latency(cluster, n=300, runs=3):
    """Commit → stream entry through the user worker, at rest (bench/relay_latency.c):
    median, p99 and max in ms of n events, for each of runs runs."""
    out = []
    for _ in range(runs):
        r = subprocess.run([os.path.join(ROOT, "build", "rel", "bin", "bench-relay"),
                            cluster.database_url("user"), cluster.redis.url(), str(n)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("bench-relay failed: %s" % r.stderr)
        p50, p99, mx, count = r.stdout.split()
        out.append({"p50": float(p50), "p99": float(p99), "max": float(mx), "n": int(count)})
        print("relay latency  p50 %s ms  p99 %s ms" % (p50, p99), file=sys.stderr)
    return out


def report(results, t_hash, rss, product, relay=None):
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
        elif name.startswith("pgbench "):
            ratio = "(transactions/s)"
        elif name == LISTING and "pgbench listing SQL -M %s" % PGBENCH_MODES[0] in results:
            ratio = "%.2f of pgbench -M %s" % (rps / median(
                results["pgbench listing SQL -M %s" % PGBENCH_MODES[0]], "rps"), PGBENCH_MODES[0])
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
    if relay:
        lines += ["", "## Events: commit → stream entry", "",
                  "%d events one at a time at rest through user-worker (LISTEN/NOTIFY wakes the "
                  "relay; RELAY_INTERVAL_MS is only the safety net): from the commit's "
                  "acknowledgement to XREAD returning the entry (bench/relay_latency.c)." %
                  relay[0]["n"],
                  "Median of the runs' medians **%.2f ms**, p99 %.2f ms (runs: %s)." % (
                      statistics.median(r["p50"] for r in relay),
                      statistics.median(r["p99"] for r in relay),
                      " / ".join("p50 %.2f p99 %.2f" % (r["p50"], r["p99"]) for r in relay))]
    if product:
        listing = median(results[LISTING], "rps")
        lines += ["", "## Product service", "",
                  "%d seeded products, VACUUM ANALYZE; listing `GET %s` (%d matches, page of 10)."
                  % (PRODUCTS, product["path"], product["total"]),
                  "pgbench: bench/product_listing.pgbench, -c%d -j2 -T%d, one transaction = "
                  "the count + the page statement." % (CONNECTIONS, DURATION)]
        for mode in PGBENCH_MODES:
            tps = median(results["pgbench listing SQL -M %s" % mode], "rps")
            lines.append("Listing through nginx / pgbench -M %s: %.1f / %.1f = **%.2f**%s." % (
                mode, listing, tps, listing / tps,
                " (the service's own protocol: each text prepared once per connection)"
                if mode == "prepared" else
                " (unprepared: parsed and planned per execution)" if mode == "extended" else ""))
        lines.append("Cached GET /api/products/:id: **%.3f** of nginx." % (
            median(results[PRODUCT_GET], "rps") / base))
        for name, p in product["plans"].items():
            lines.append("Plans of the listing's %s statement: custom (executions 1-5) %s; "
                         "cached (6 on) %s." % (name, p["custom"], p["cached"]))
        rss_p = product["rss"]
        lines.append("Product pool worker RSS after the run: %s KiB (max %.1f MiB)." % (
            ", ".join(str(r) for r in rss_p), max(rss_p) / 1024 if rss_p else 0))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
