"""Health, liveness, metrics, request ids, JSON logs, route misses (404/405),
and nginx's own JSON errors (rate limit 429)."""

import json
import os
import re
import time
import uuid

import harness
from harness import PASSWORD, TS_RE, E2ECase, uniq_email, wait_until


def counter_total(text, name_part="request"):
    """Sum of every sample of the counter families whose name contains
    name_part and that carry a status label."""
    counters = set(re.findall(r"^# TYPE (\S+) counter", text, re.M))
    total, found = 0.0, False
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)", line)
        if not m or "status=" not in m.group(2):
            continue
        name = m.group(1)
        family = name in counters or (name.endswith("_total") and name[:-6] in counters)
        if name_part in name and family:
            total += float(m.group(3))
            found = True
    return total if found else None


class Health(E2ECase):
    def test_health_shape(self):
        r = self.c.request("GET", "/health/user")
        self.assertEqual(r.status, 200, r)
        b = r.body
        self.assertIsInstance(b, dict, r)
        for k in ("service", "status", "timestamp", "uptime", "checks", "events"):
            self.assertIn(k, b, b)
        self.assertIsInstance(b["service"], str)
        self.assertIn("user", b["service"])
        self.assertEqual(b["status"], "healthy")
        self.assertRegex(b["timestamp"], TS_RE)
        self.assertIsInstance(b["uptime"], (int, float))
        self.assertGreaterEqual(b["uptime"], 0)
        for dep in ("database", "redis"):
            self.assertEqual(b["checks"][dep]["status"], "healthy", b)
            self.assertIsInstance(b["checks"][dep]["latency_ms"], (int, float))
        self.assertIsInstance(b["events"]["outbox_pending"], int)
        self.assertIn("oldest_pending_s", b["events"])
        self.assertIn("application/json", r.headers.get("content-type", ""))

    def test_live(self):
        r = self.c.request("GET", "/health/user/live")
        self.assertEqual(r.status, 200, r)

    def test_nginx_own_health(self):
        r = self.c.request("GET", "/health")
        self.assertEqual(r.status, 200, r)


class Metrics(E2ECase):
    def test_prometheus_text(self):
        r = self.c.request("GET", "/metrics/user")
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/plain", r.headers.get("content-type", ""))
        text = r.body
        self.assertIn("# TYPE", text)
        self.assertRegex(text, r"(?m)^# TYPE \S+ histogram$")
        self.assertRegex(text, r'(?m)^\S+_bucket\{.*le="\+Inf".*\} \d+')
        before = counter_total(text)
        self.assertIsNotNone(before, "no request counter with a status label:\n" + text[:3000])
        for _ in range(12):
            self.c.request("GET", "/api/auth/me")  # 401s, on both workers
        after = counter_total(self.c.request("GET", "/metrics/user").body)
        self.assertGreaterEqual(after - before, 12, "requests not counted across the pool")
        self.assertRegex(text, r'method="GET"')
        self.assertRegex(text, r'status="\d{3}"')

    def test_worker_counters_reach_the_pool(self):
        """The relay runs in user-worker, another process: what it publishes
        is counted on the pool's /metrics (issue 8)."""
        def published():
            text = self.c.request("GET", "/metrics/user").body
            m = re.search(r'(?m)^microshop_events_published_total\{service="user"\} (\d+)$', text)
            return int(m.group(1)) if m else -1

        before = published()
        self.assertGreaterEqual(before, 0)
        self.c.make_user(tag="metricsev")
        wait_until(lambda: published() > before, 5, 0.1, "events_published counted on /metrics")

    def test_json_format(self):
        r = self.c.request("GET", "/metrics/user?format=json")
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.body, dict, r)
        for k in ("service", "timestamp", "uptime"):
            self.assertIn(k, r.body)


class RequestIdAndLogs(E2ECase):
    def test_request_id_on_every_answer(self):
        u = self.c.make_user()
        seen = set()
        for r in (self.c.request("GET", "/health"), self.c.request("HEAD", "/health"),
                  self.c.request("GET", "/health/user"), u.req("GET", "/api/auth/me"),
                  self.c.request("GET", "/api/auth/me"), self.c.request("GET", "/api/auth/nope"),
                  self.c.request("POST", "/api/auth/login", body={}),
                  self.c.request("GET", "/api/auth/me", headers={"Content-Length": "x"}),
                  self.c.request("GET", "/" + "x" * 10000),
                  self.c.request("POST", "/api/auth/login", raw_body=b"{" + b" " * (1 << 20))):
            rid = r.headers.get("x-request-id")
            self.assertTrue(rid, "no X-Request-Id on %r" % (r,))
            self.assertRegex(rid, r"^[A-Za-z0-9._-]{8,128}$")
            seen.add(rid)
        self.assertEqual(len(seen), 10, "request ids repeat")

    def test_json_log_line_per_request(self):
        u = self.c.make_user()
        r = u.req("GET", "/api/users/profile")
        rid = r.headers.get("x-request-id")
        self.assertTrue(rid)

        def find():
            with open(self.c.pool.logfile, errors="replace") as f:
                for line in f:
                    if rid in line:
                        try:
                            rec = json.loads(line)
                        except ValueError:
                            continue
                        if "status" in rec:
                            return rec
            return None
        rec = wait_until(find, 5, 0.05, "a request log line with request id %s" % rid)
        for k in ("ts", "level", "service", "pid", "request_id", "method", "path", "status",
                  "duration_ms", "msg"):
            self.assertIn(k, rec, rec)
        self.assertEqual(rec["request_id"], rid)
        self.assertEqual(rec["method"], "GET")
        self.assertEqual(rec["status"], 200)
        self.assertEqual(rec.get("user_id"), u.id)
        self.assertIn(rec["pid"], self.c.pool_worker_pids())

    def test_logs_are_json_and_never_hold_passwords(self):
        canary = "Canary%s!Aa1" % os.getpid()
        email = uniq_email("canary")
        self.c.register(email=email, password=canary)
        self.c.login(email, canary + "wrong")
        self.c.request("POST", "/api/auth/register",
                       body={"email": "bad", "password": canary, "name": "x"})
        time.sleep(0.3)
        for path in (self.c.pool.logfile, self.c.worker.logfile):
            with open(path, errors="replace") as f:
                text = f.read()
            self.assertNotIn(canary, text, "a password reached %s" % path)
        with open(self.c.pool.logfile, errors="replace") as f:
            bad = []
            for line in f:
                line = line.strip()
                if not line or line.startswith(("==", "SUMMARY", "    #", "spawn-fcgi:")):
                    continue
                try:
                    json.loads(line)
                except ValueError:
                    bad.append(line)
        self.assertEqual(bad[:5], [], "non-JSON log lines on the pool's stderr")


class Routing(E2ECase):
    def test_route_not_found(self):
        for path in ("/api/auth/nope", "/api/users/%s/extra" % uuid.uuid4(), "/api/auth",
                     "/api/auth/me/more"):
            r = self.c.request("GET", path)
            err = self.assertError(r, 404, "Route not found")
            self.assertEqual(r.body["error"].get("path"), path, r)
            self.assertNotIn("errors", err)

    def test_unknown_api_prefix_is_json_404(self):
        r = self.c.request("GET", "/api/nope")
        self.assertError(r, 404)

    def test_method_not_allowed(self):
        for method, path in (("DELETE", "/api/auth/login"), ("GET", "/api/auth/register"),
                             ("PUT", "/api/auth/logout"), ("POST", "/api/users/profile"),
                             ("PATCH", "/api/users")):
            r = self.c.request(method, path)
            self.assertError(r, 405)


class RateLimit(E2ECase):
    """nginx answers 429 with the JSON envelope when a rate limit is on."""

    def test_429_json(self):
        # a second stand on the same databases and Redis, its nginx limited
        ng = harness.new_cluster(name="ratelimit", redis=self.c.redis, dbname=self.c.dbname,
                                 migrate=False, worker=False, rate_limit="on",
                                 nginx_env={"RATE_LIMIT_AUTH": "1r/m",
                                            "RATE_LIMIT_AUTH_BURST": "2"})
        try:
            statuses, last = [], None
            for _ in range(8):
                r = harness.http_request(ng.nginx.port, "POST", "/api/auth/login",
                                         body={"email": uniq_email(), "password": PASSWORD})
                statuses.append(r.status)
                if r.status == 429:
                    last = r
            self.assertIn(429, statuses, statuses)
            self.assertIsNotNone(last)
            self.assertError(last, 429)
            self.assertIn("json", last.headers.get("content-type", ""))
            # 1r/m: one more request is let through a minute later
            self.assertEqual(last.headers.get("retry-after"), "60", last.headers)
            self.assertTrue(last.headers.get("x-request-id"), last.headers)
            # the main nginx (RATE_LIMIT=off) is not limited
            for _ in range(30):
                self.assertNotEqual(self.c.login(uniq_email()).status, 429)
        finally:
            ng.stop()


class TlsAndHeaders(E2ECase):
    """The TLS listener (self-signed certificate made here) and nginx's security
    headers."""

    def test_https_and_security_headers(self):
        # a second stand with TLS: make up's self-signed certificate
        ng = harness.new_cluster(name="tls", redis=self.c.redis, dbname=self.c.dbname,
                                 migrate=False, worker=False, https=True)
        try:
            u = self.c.make_user()
            r = harness.http_request(ng.nginx.https_port, "GET", "/api/auth/me", token=u.token,
                                     tls=True)
            self.assertOk(r)
            self.assertIn("strict-transport-security", r.headers)
            r = harness.http_request(ng.nginx.https_port, "GET", "/health/user", tls=True)
            self.assertEqual(r.status, 200, r)
            r = harness.http_request(ng.nginx.port, "GET", "/api/auth/me", token=u.token)
            self.assertOk(r)
            self.assertNotIn("strict-transport-security", r.headers)
            for resp in (r, harness.http_request(ng.nginx.port, "GET", "/api/auth/me")):
                self.assertEqual(resp.headers.get("x-content-type-options"), "nosniff", resp.headers)
        finally:
            ng.stop()
