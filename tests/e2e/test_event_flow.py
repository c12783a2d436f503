"""Events leave at once and Redis losing data loses no event (issue 8),
through the real user worker: with the relay's timer at a minute, an event
reaches its stream within a second of its commit (the outbox's NOTIFY woke
the relay); after Redis restarted empty (FLUSHALL, then a restart without
its data) every event of the retention window is on its stream again, each
once; and an operator lists, shows and replays dead letters with
`microshopctl events dead`."""

import time

import harness
from harness import E2ECase, wait_until

_state = {}


def setUpModule():
    # the safety-net timer at a minute: only the NOTIFY can be this fast
    _state["c"] = harness.new_cluster(name="eventflow", env={"RELAY_INTERVAL_MS": "60000"})


def tearDownModule():
    c = _state.pop("c", None)
    if c is not None:
        c.stop()


class EventFlow(E2ECase):
    @classmethod
    def setUpClass(cls):
        cls.c = _state["c"]

    def entries(self, user_id, etype):
        return [e for _, e in self.c.stream_entries("events:user")
                if e.get("type") == etype and e.get("data", {}).get("user_id") == user_id]

    def test_an_event_reaches_its_stream_within_a_second_of_its_commit(self):
        # the worker's first round is over once an event has gone through
        u0 = self.c.make_user(tag="flowwarm")
        wait_until(lambda: self.entries(u0.id, "user.registered"), 5, 0.01, "first event")
        for i in range(5):
            t0 = time.monotonic()
            u = self.c.make_user(tag="flow%d" % i)
            wait_until(lambda: self.entries(u.id, "user.registered"), 1.0, 0.005,
                       "user.registered within 1 s of the commit (RELAY_INTERVAL_MS=60000)")
            self.assertLess(time.monotonic() - t0, 1.5)

    def test_redis_restarted_empty_gets_the_retention_window_back_once(self):
        users = [self.c.make_user(tag="flush%d" % i) for i in range(3)]
        for u in users:
            wait_until(lambda: self.entries(u.id, "user.registered"), 5, 0.02, "published")
        before = self.c.psql("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
        # Redis restarted empty: everything flushed, then a restart without data
        self.c.redis_cmd("FLUSHALL")
        self.c.stop_redis(keep_data=False)
        self.c.start_redis()
        # the next commit wakes the relay, which finds Redis without its marker
        marker_user = self.c.make_user(tag="flushafter")
        wait_until(lambda: self.entries(marker_user.id, "user.registered"), 5, 0.02,
                   "the new event")
        wait_until(lambda: all(self.entries(u.id, "user.registered") for u in users), 5, 0.02,
                   "the flushed events republished")
        time.sleep(0.5)
        ids = [e["id"] for _, e in self.c.stream_entries("events:user")]
        self.assertEqual(len(ids), len(set(ids)), "an event on the stream twice")
        self.assertGreaterEqual(len(ids), int(before) + 1)
        # authentication works again (the worker rebuilt the users' state)
        wait_until(lambda: users[0].req("GET", "/api/auth/me").status == 200, 5, 0.05, "auth back")

    def test_dead_letters_list_show_and_replay(self):
        c = self.c
        stream = "events:ut-%s" % harness.uniq("dl")
        ev_id = c.psql("SELECT gen_random_uuid()")
        dead_id = c.redis_cmd("XADD", "events:dead", "*", "stream", stream, "entry", "1-0",
                              "group", "product", "deliveries", "5", "reason", "stock is gone",
                              "id", ev_id, "type", "order.created", "source", "order-service",
                              "occurred_at", "2026-12-04T00:00:00.000Z", "data", '{"order_id":"o"}')
        r = c.microshopctl("events", "dead", "list")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(dead_id, r.stdout)
        self.assertIn("stock is gone", r.stdout)
        r = c.microshopctl("events", "dead", "show", dead_id)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(ev_id, r.stdout)
        self.assertIn("order.created", r.stdout)
        r = c.microshopctl("events", "dead", "replay", dead_id)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        entries = c.stream_entries(stream)
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0][1]["id"], ev_id)
        self.assertEqual(entries[0][1]["data"], {"order_id": "o"})
        r = c.microshopctl("events", "dead", "replay", dead_id)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        # --all
        for _ in range(2):
            c.redis_cmd("XADD", "events:dead", "*", "stream", stream, "id", ev_id, "type", "t",
                        "source", "s", "occurred_at", "x", "data", "{}", "reason", "r")
        r = c.microshopctl("events", "dead", "replay", "--all")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(c.stream_entries(stream)), 3)
        self.assertEqual(c.redis_cmd("XLEN", "events:dead"), 0)
        # a payment token in a dead event's data is never shown
        secret_id = c.redis_cmd("XADD", "events:dead", "*", "stream", stream, "id", ev_id,
                                "type", "order.confirmed", "source", "order-service",
                                "occurred_at", "x", "reason", "r",
                                "data", '{"order_id":"o","payment_token":"tok_visa_secret"}')
        r = c.microshopctl("events", "dead", "show", secret_id)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("tok_visa_secret", r.stdout)
        self.assertIn("[redacted]", r.stdout)
        c.redis_cmd("XDEL", "events:dead", secret_id)
        for bad in (("events",), ("events", "alive"), ("events", "dead", "show"),
                    ("events", "dead", "frobnicate", "1")):
            self.assertEqual(c.microshopctl(*bad).returncode, 2, bad)
        c.redis_cmd("DEL", stream)
