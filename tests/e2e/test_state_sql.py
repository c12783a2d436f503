"""PostgreSQL is the truth, also when it was changed directly (issue 7): a
user's role, status, deletion or token version changed by plain SQL, as an
operator would type it, reaches every service's authentication within about
a second (migrations/user/003: the change writes its event to the outbox,
the user worker turns it into Redis state). Suspending stops login and every
existing token; undoing it restores them. The same for microshopctl
set-status and set-role, which go through the service's own statements and
last-admin rule and write the same event."""

import time

import harness
from harness import E2ECase, wait_until

_state = {}


def setUpModule():
    _state["c"] = harness.new_cluster(name="statesql", services=("user", "product"))


def tearDownModule():
    c = _state.pop("c", None)
    if c is not None:
        c.stop()


class StateChangedBySql(E2ECase):
    @classmethod
    def setUpClass(cls):
        cls.c = _state["c"]

    def sql(self, q):
        return self.c.psql(q)

    def within(self, seconds, fn, expect, what):
        t0 = time.monotonic()
        wait_until(lambda: fn() == expect, seconds, interval=0.05, what=what)
        return time.monotonic() - t0

    def me(self, u):
        return u.req("GET", "/api/auth/me").status

    def product_auth(self, u):
        """An admin route of the product service with an empty body: 422 for
        an admin, 403 for anyone else whose token is good, 401 when the token
        no longer is."""
        return u.req("POST", "/api/warehouses", body={}).status

    def test_suspended_by_sql_is_refused_and_restored(self):
        u = self.c.make_user(tag="sqlsusp")
        self.assertEqual(self.me(u), 200)
        self.sql("UPDATE users SET status = 'suspended' WHERE email = '%s'" % u.email)
        took = self.within(2, lambda: self.me(u), 401, "token refused after SQL suspension")
        self.assertEqual(self.product_auth(u), 401)
        r = self.c.login(u.email)
        self.assertError(r, 401)
        self.sql("UPDATE users SET status = 'active' WHERE email = '%s'" % u.email)
        self.within(2, lambda: self.me(u), 200, "token works again after SQL reactivation")
        self.assertEqual(self.product_auth(u), 403)
        self.assertOk(self.c.login(u.email))
        self.assertLess(took, 2.0)

    def test_role_demoted_by_sql_on_admin_routes(self):
        a = self.c.make_admin(tag="sqlrole")
        self.assertOk(a.req("GET", "/api/users"))
        self.assertEqual(self.product_auth(a), 422)  # admin: reaches validation
        self.sql("UPDATE users SET role = 'user' WHERE email = '%s'" % a.email)
        self.within(2, lambda: a.req("GET", "/api/users").status, 403, "demotion seen")
        self.assertEqual(self.product_auth(a), 403)
        self.assertEqual(self.assertOk(a.req("GET", "/api/auth/me"))["role"], "user")
        self.sql("UPDATE users SET role = 'admin' WHERE email = '%s'" % a.email)
        self.within(2, lambda: a.req("GET", "/api/users").status, 200, "promotion seen")
        self.assertEqual(self.product_auth(a), 422)

    def test_deleted_or_token_version_bumped_by_sql(self):
        u = self.c.make_user(tag="sqldel")
        v = self.c.make_user(tag="sqltv")
        self.sql("UPDATE users SET deleted_at = LOCALTIMESTAMP WHERE email = '%s'" % u.email)
        self.within(2, lambda: self.me(u), 401, "deletion seen")
        self.assertError(self.c.login(u.email), 401, "Invalid credentials")
        self.sql("UPDATE users SET token_version = token_version + 1 WHERE email = '%s'" % v.email)
        self.within(2, lambda: self.me(v), 401, "older tokens refused")
        fresh = self.c.login_user(v)
        self.assertEqual(self.me(fresh), 200)
        events = [e for _, e in self.c.stream_entries("events:user")
                  if e.get("data", {}).get("user_id") == u.id]
        self.assertIn("user.deleted", [e["type"] for e in events])

    def test_service_paths_write_one_event_each(self):
        """The trigger adds no second event where the service wrote its own."""
        u = self.c.make_user(tag="sqlone")
        self.assertOk(u.req("PUT", "/api/users/password",
                            body={"currentPassword": harness.PASSWORD,
                                  "newPassword": "N3w-passw0rd!"}))
        self.c.set_role(u.email, "moderator")
        rows = self.sql("SELECT type FROM outbox WHERE data->>'user_id' = '%s' ORDER BY id" % u.id)
        self.assertEqual(rows.splitlines(),
                         ["user.registered", "user.password_changed", "user.updated"])

    def test_set_status_through_microshopctl(self):
        u = self.c.make_user(tag="ctlsusp")
        r = self.c.microshopctl("set-status", u.email, "suspended")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.me(u), 401)  # written to Redis at once
        self.assertError(self.c.login(u.email), 401)
        r = self.c.microshopctl("set-status", u.email, "active")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.me(u), 200)
        self.assertOk(self.c.login(u.email))
        for bad in (("set-status", u.email, "deleted"), ("set-status", u.email),
                    ("set-status", u.email, "active", "--bogus")):
            r = self.c.microshopctl(*bad)
            self.assertEqual(r.returncode, 2, (bad, r.stdout, r.stderr))
        r = self.c.microshopctl("set-status", harness.uniq_email("nobody"), "active")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rows = self.sql("SELECT count(*) FROM outbox WHERE type = 'user.updated' "
                        "AND data->>'user_id' = '%s'" % u.id)
        self.assertEqual(rows, "2")

    def test_last_active_admin_cannot_be_suspended(self):
        c = self.c
        a = c.make_admin(tag="lastsusp")
        for e in c.psql("SELECT email FROM users WHERE role = 'admin' AND status = 'active' "
                        "AND deleted_at IS NULL AND email <> '%s'" % a.email).splitlines():
            c.set_role(e, "user")
        r = c.microshopctl("set-status", a.email, "suspended")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("last active admin", r.stderr)
        self.assertOk(a.req("GET", "/api/users"))
        # a suspended admin does not count: deleting the only active one is 409
        b = c.make_admin(tag="suspadmin")
        self.assertEqual(c.microshopctl("set-status", b.email, "suspended").returncode, 0)
        self.assertError(a.req("DELETE", "/api/users/%s" % a.id), 409,
                         "Cannot delete the last admin")
        r = c.microshopctl("set-status", a.email, "suspended", "--force")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.me(a), 401)
        for e in (a.email, b.email):
            self.assertEqual(c.microshopctl("set-status", e, "active").returncode, 0)
        self.assertOk(a.req("GET", "/api/users"))
