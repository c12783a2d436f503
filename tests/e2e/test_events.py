"""Events (SPEC §4, producer side): the outbox relay publishes each change to
the events:user stream exactly once, in order, also when Redis was down at the
time of the request, and nothing for a change that did not happen."""

import json
import os
import re
import signal
import time

from harness import PASSWORD, UUID_RE, E2ECase, uniq_email, wait_until

SETTLE = 0.5  # after the first copy shows up: 10 relay intervals for a duplicate to appear


class Events(E2ECase):
    def wait_events(self, user_id, etype, n=1, timeout=10):
        wait_until(lambda: len(self.c.events_for(user_id, etype)) >= n, timeout, 0.02,
                   "%d %s event(s) for %s in events:user" % (n, etype, user_id))
        time.sleep(SETTLE)
        evs = self.c.events_for(user_id, etype)
        self.assertEqual(len(evs), n, "expected exactly %d %s event(s), got %d: %s" % (
            n, etype, len(evs), json.dumps(evs)[:2000]))
        return evs

    def assertEvent(self, ev, etype, user_id):
        for f in ("id", "type", "source", "occurred_at", "data"):
            self.assertIn(f, ev, ev)
        self.assertRegex(ev["id"], UUID_RE)
        self.assertEqual(ev["type"], etype)
        self.assertTrue(ev["source"])
        self.assertTrue(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", ev["occurred_at"]),
                        ev["occurred_at"])
        self.assertIsInstance(ev["data"], dict, ev)
        self.assertEqual(ev["data"]["user_id"], user_id)

    def health_events(self):
        r = self.c.request("GET", "/health/user")
        self.assertIsInstance(r.body, dict, r)
        return r, r.body.get("events", {})

    def test_registered(self):
        u = self.c.make_user(tag="evreg")
        ev = self.wait_events(u.id, "user.registered")[0]
        self.assertEvent(ev, "user.registered", u.id)
        self.assertEqual(ev["data"].get("email"), u.email)
        self.assertEqual(ev["data"].get("name"), "Test User")
        for k in ("phone", "notification_preferences"):
            self.assertIn(k, ev["data"])

    def test_password_changed(self):
        u = self.c.make_user(tag="evpw")
        r = u.req("PUT", "/api/users/password", body={"currentPassword": PASSWORD,
                                                       "newPassword": "N3wPassw0rd!"})
        self.assertEqual(r.status, 200, r)
        ev = self.wait_events(u.id, "user.password_changed")[0]
        self.assertEvent(ev, "user.password_changed", u.id)
        self.assertNotIn("N3wPassw0rd!", json.dumps(ev))
        self.assertNotIn("$2", json.dumps(ev))

    def test_updated_and_deleted(self):
        admin = self.c.make_user(role="admin", tag="evadmin")
        u = self.c.make_user(tag="evupd")
        self.assertOk(u.req("PUT", "/api/users/profile", body={"name": "New Name",
                                                                "city": "Coimbra"}))
        ev = self.wait_events(u.id, "user.updated")[0]
        self.assertEvent(ev, "user.updated", u.id)
        self.assertEqual(ev["data"].get("name"), "New Name")
        self.assertOk(admin.req("DELETE", "/api/users/%s" % u.id))
        self.assertEvent(self.wait_events(u.id, "user.deleted")[0], "user.deleted", u.id)
        # in the order the changes happened
        types = [e["type"] for e in self.c.events_for(u.id)]
        self.assertEqual(types, ["user.registered", "user.updated", "user.deleted"])

    def test_unique_event_ids(self):
        ids = [f["id"] for _, f in self.c.stream_entries()]
        self.assertEqual(len(ids), len(set(ids)), "an event id appears twice in events:user")

    def test_nothing_for_failed_changes(self):
        u = self.c.make_user(tag="evfail")
        self.wait_events(u.id, "user.registered")
        r = self.c.request("POST", "/api/auth/register", body={
            "email": u.email, "password": PASSWORD, "name": "Dup"})
        self.assertError(r, 409)
        r = u.req("PUT", "/api/users/password", body={"currentPassword": "Wrong0ne!x",
                                                       "newPassword": "N3wPassw0rd!"})
        self.assertError(r, 401)
        r = u.req("PUT", "/api/users/profile", body={"name": "Never", "gender": "robot"})
        self.assertValidation(r)
        time.sleep(SETTLE)
        self.assertEqual([e["type"] for e in self.c.events_for(u.id)], ["user.registered"])
        same_email = [f for _, f in self.c.stream_entries()
                      if f.get("type") == "user.registered"
                      and isinstance(f.get("data"), dict) and f["data"].get("email") == u.email]
        self.assertEqual(len(same_email), 1)
        _, ev = self.health_events()
        self.assertEqual(ev.get("outbox_pending"), 0, ev)

    def test_register_while_redis_down(self):
        self.c.stop_redis(keep_data=True)
        try:
            email = uniq_email("evdown")
            r = self.c.request("POST", "/api/auth/register", body={
                "email": email, "password": PASSWORD, "name": "Redis Down"})
            data = self.assertOk(r, 201)
            uid = data["user"]["id"]
            r, ev = self.health_events()
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.body["checks"]["redis"]["status"], "unhealthy", r.body)
            self.assertGreaterEqual(ev.get("outbox_pending", 0), 1, r.body)
            time.sleep(0.3)  # the relay tries and fails a few times
        finally:
            self.c.start_redis()
            self.c.heal()  # reconnecting is test_failures' subject
        evs = self.wait_events(uid, "user.registered")
        self.assertEvent(evs[0], "user.registered", uid)
        self.assertEqual(evs[0]["data"].get("email"), email)
        wait_until(lambda: self.health_events()[1].get("outbox_pending") == 0, 10, 0.05,
                   "outbox_pending to drop to 0")
        # the user registered during the outage works normally
        self.assertOk(self.c.request("GET", "/api/auth/me", token=data["tokens"]["accessToken"]))

    def test_password_change_relayed_after_redis_outage(self):
        u = self.c.make_user(tag="evpwdown")
        self.wait_events(u.id, "user.registered")
        worker = self.c.worker.pid
        self.assertIsNotNone(worker, "the user worker is not running")
        os.kill(worker, signal.SIGSTOP)  # hold the relay so the event is still pending
        try:
            r = u.req("PUT", "/api/users/password", body={"currentPassword": PASSWORD,
                                                           "newPassword": "N3wPassw0rd!"})
            self.assertEqual(r.status, 200, r)
            self.c.stop_redis(keep_data=True)
            os.kill(worker, signal.SIGCONT)
            time.sleep(0.5)  # the relay finds Redis down and has to retry
            self.assertEqual(self.c.worker.pid, worker, "the user worker died while Redis was down")
        finally:
            os.kill(worker, signal.SIGCONT)
            self.c.start_redis()
            self.c.heal()
        evs = self.wait_events(u.id, "user.password_changed")
        self.assertEvent(evs[0], "user.password_changed", u.id)
        self.assertEqual([e["type"] for e in self.c.events_for(u.id)],
                         ["user.registered", "user.password_changed"])
