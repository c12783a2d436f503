"""/api/users: own profile (read, update, validation, atomicity), user by id
(owner / moderator / admin), admin listing, soft delete, and roles through
bin/microshopctl set-role."""

import json
import math
import uuid
from urllib.parse import quote

from harness import PASSWORD, E2ECase, uniq_email


class Profile(E2ECase):
    def test_get_profile(self):
        u = self.c.make_user()
        data = self.assertOk(u.req("GET", "/api/users/profile"))
        self.assertUser(data, with_profile=True)
        self.assertEqual(data["id"], u.id)
        prefs = data["profile"]["notification_preferences"]
        self.assertEqual(prefs, {"email": True, "sms": False, "push": True, "marketing": False})

    def test_profile_requires_auth(self):
        self.assertError(self.c.request("GET", "/api/users/profile"), 401, "No token provided")
        self.assertError(self.c.request("PUT", "/api/users/profile", body={"city": "X"}), 401,
                         "No token provided")

    def test_update_profile(self):
        u = self.c.make_user()
        body = {"name": "  Alice Cooper ", "phone": "+351912345678", "bio": "Hello there",
                "avatar_url": "https://example.com/a.png", "date_of_birth": "1990-05-17",
                "gender": "female", "address_line1": "Rua 1", "address_line2": "2 Esq",
                "city": "Lisbon", "state": "Lisboa", "country": "PT", "postal_code": "1000-001",
                "notification_preferences": {"email": False, "sms": False, "push": True,
                                             "marketing": False}}
        r = u.req("PUT", "/api/users/profile", body=body)
        data = self.assertOk(r, 200, "Profile updated successfully")
        self.assertUser(data, with_profile=True)
        self.assertEqual(data["name"], "Alice Cooper")
        self.assertEqual(data["phone"], "+351912345678")
        p = data["profile"]
        for k in ("bio", "avatar_url", "date_of_birth", "gender", "address_line1",
                  "address_line2", "city", "state", "country", "postal_code",
                  "notification_preferences"):
            self.assertEqual(p[k], body[k], k)
        again = self.assertOk(u.req("GET", "/api/users/profile"))
        self.assertEqual(again["profile"]["city"], "Lisbon")
        self.assertEqual(again["name"], "Alice Cooper")
        # partial update keeps the rest
        data = self.assertOk(u.req("PUT", "/api/users/profile", body={"city": "Porto"}))
        self.assertEqual(data["profile"]["city"], "Porto")
        self.assertEqual(data["profile"]["bio"], "Hello there")
        self.assertEqual(data["name"], "Alice Cooper")

    def test_update_validation(self):
        u = self.c.make_user()
        cases = [
            ({"date_of_birth": "not-a-date"}, "date_of_birth"),
            ({"date_of_birth": "2023-02-30"}, "date_of_birth"),
            ({"date_of_birth": "1990-13-01"}, "date_of_birth"),
            ({"date_of_birth": 19900517}, "date_of_birth"),
            ({"gender": "robot"}, "gender"),
            ({"postal_code": "123456789012345678901"}, "postal_code"),
            ({"bio": "x" * 501}, "bio"),
            ({"city": "x" * 101}, "city"),
            ({"state": "x" * 101}, "state"),
            ({"country": "x" * 101}, "country"),
            ({"address_line1": "x" * 256}, "address_line1"),
            ({"address_line2": "x" * 256}, "address_line2"),
            ({"avatar_url": "https://e.com/" + "x" * 500}, "avatar_url"),
            ({"name": " A "}, "name"),
            ({"name": "x" * 256}, "name"),
            ({"phone": "12-34"}, "phone"),
            ({"city": "Lis\u0000bon"}, None),
            ({"bio": ["not", "a", "string"]}, "bio"),
            ({"city": {"a": 1}}, "city"),
            ({"notification_preferences": "yes"}, "notification_preferences"),
        ]
        for body, field in cases:
            r = u.req("PUT", "/api/users/profile", body=body)
            self.assertValidation(r, fields=[field] if field else None)
        # the edges that are fine
        self.assertOk(u.req("PUT", "/api/users/profile", body={"bio": "x" * 500}))
        self.assertOk(u.req("PUT", "/api/users/profile", body={"postal_code": "x" * 20}))
        for g in ("male", "female", "other", "prefer_not_to_say"):
            self.assertOk(u.req("PUT", "/api/users/profile", body={"gender": g}))

    def test_failed_update_changes_nothing(self):
        u = self.c.make_user()
        before = self.assertOk(u.req("GET", "/api/users/profile"))
        for body in ({"name": "Changed Name", "postal_code": "x" * 21},
                     {"name": "Changed Name", "city": "Changed", "date_of_birth": "1990-02-31"},
                     {"phone": "+15550000000", "gender": "robot"},
                     {"bio": "changed", "city": "Lis\u0000bon"}):
            r = u.req("PUT", "/api/users/profile", body=body)
            self.assertValidation(r)
        after = self.assertOk(u.req("GET", "/api/users/profile"))
        self.assertEqual(after, before)
        row = self.c.psql("SELECT name, coalesce(phone,''), coalesce(bio,''), coalesce(city,'') "
                          "FROM users JOIN profiles p ON p.user_id = users.id "
                          "WHERE users.id = '%s'" % u.id)
        self.assertEqual(row, "Test User|||")

    def test_no_mass_assignment(self):
        u = self.c.make_user()
        r = u.req("PUT", "/api/users/profile", body={
            "role": "admin", "status": "suspended", "email": "evil@example.com",
            "id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "email_verified": True,
            "password_hash": "x", "city": "Faro"})
        data = self.assertOk(r)
        self.assertEqual(data["role"], "user")
        self.assertEqual(data["status"], "active")
        self.assertEqual(data["email"], u.email)
        self.assertEqual(data["id"], u.id)
        self.assertEqual(data["profile"]["user_id"], u.id)
        self.assertIs(data["email_verified"], False)
        self.assertError(u.req("GET", "/api/users"), 403)
        self.assertOk(self.c.login(u.email))


class UserById(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = cls.c.make_user(tag="owner")
        cls.stranger = cls.c.make_user(tag="stranger")
        cls.mod = cls.c.make_user(role="moderator", tag="mod")
        cls.admin = cls.c.make_user(role="admin", tag="admin")

    def test_owner_moderator_admin_see_it(self):
        for who in (self.owner, self.mod, self.admin):
            data = self.assertOk(who.req("GET", "/api/users/%s" % self.owner.id))
            self.assertUser(data, with_profile=True)
            self.assertEqual(data["id"], self.owner.id)

    def test_others_get_403_whether_or_not_it_exists(self):
        self.assertError(self.stranger.req("GET", "/api/users/%s" % self.owner.id), 403,
                         "Insufficient permissions")
        self.assertError(self.stranger.req("GET", "/api/users/%s" % uuid.uuid4()), 403,
                         "Insufficient permissions")
        self.assertError(self.stranger.req("GET", "/api/users/%s" % self.admin.id), 403)

    def test_missing_user_for_admin_is_404(self):
        self.assertError(self.admin.req("GET", "/api/users/%s" % uuid.uuid4()), 404,
                         "User not found")

    def test_malformed_id(self):
        for bad in ("not-a-uuid", "123", "%s0" % self.owner.id, "' OR 1=1 --",
                    self.owner.id.replace("-", "")):
            r = self.owner.req("GET", "/api/users/%s" % quote(bad, safe=""))
            errors = self.assertValidation(r, fields=["id"])
            self.assertEqual(errors[0]["field"], "id")
            self.assertEqual(errors[0]["message"], "Invalid user ID")

    def test_requires_auth(self):
        self.assertError(self.c.request("GET", "/api/users/%s" % self.owner.id), 401,
                         "No token provided")


class AdminList(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.c.make_user(role="admin", tag="listadmin")

    def list(self, query="", who=None):
        return (who or self.admin).req("GET", "/api/users" + query)

    def test_list_shape_and_newest_first(self):
        made = [self.c.make_user(tag="list") for _ in range(3)]
        data = self.assertOk(self.list("?page=1&limit=3"))
        self.assertEqual(set(data), {"users", "pagination"})
        ids = [u["id"] for u in data["users"]]
        self.assertEqual(ids, [m.id for m in reversed(made)])
        for u in data["users"]:
            self.assertUser(u)
        total = int(self.c.psql("SELECT count(*) FROM users WHERE deleted_at IS NULL"))
        self.assertEqual(data["pagination"], {"total": total, "page": 1,
                                              "pages": math.ceil(total / 3), "limit": 3})
        # page 2 continues where page 1 stopped
        p2 = self.assertOk(self.list("?page=2&limit=2"))
        self.assertEqual(p2["users"][0]["id"], made[0].id)
        # default paging
        d = self.assertOk(self.list())
        self.assertEqual(d["pagination"]["page"], 1)
        self.assertEqual(d["pagination"]["limit"], 10)
        self.assertLessEqual(len(d["users"]), 10)

    def test_filters(self):
        sus = self.c.make_user(tag="suspended")
        self.c.psql("UPDATE users SET status = 'suspended' WHERE id = '%s'" % sus.id)
        data = self.assertOk(self.list("?status=suspended&limit=100"))
        self.assertIn(sus.id, [u["id"] for u in data["users"]])
        self.assertTrue(all(u["status"] == "suspended" for u in data["users"]))
        n = int(self.c.psql("SELECT count(*) FROM users WHERE deleted_at IS NULL "
                            "AND status = 'suspended'"))
        self.assertEqual(data["pagination"]["total"], n)
        data = self.assertOk(self.list("?role=admin&limit=100"))
        self.assertIn(self.admin.id, [u["id"] for u in data["users"]])
        self.assertTrue(all(u["role"] == "admin" for u in data["users"]))
        data = self.assertOk(self.list("?role=admin&status=active&limit=100"))
        self.assertTrue(all(u["role"] == "admin" and u["status"] == "active"
                            for u in data["users"]))
        r = self.list("?role=superuser")
        self.assertIn(r.status, (200, 422), r)
        if r.status == 200:
            self.assertEqual(r.body["data"]["users"], [])
        else:
            self.assertValidation(r)

    def test_paging_validation(self):
        for q in ("?limit=abc", "?page=0", "?limit=101", "?limit=0", "?page=-1", "?limit=-5",
                  "?page=abc", "?limit=1.5", "?page=99999999999999999999999", "?limit=1e2"):
            self.assertValidation(self.list(q))
        self.assertOk(self.list("?limit=100"))
        d = self.assertOk(self.list("?page=100000&limit=10"))
        self.assertEqual(d["users"], [])

    def test_only_admins(self):
        u = self.c.make_user()
        mod = self.c.make_user(role="moderator")
        self.assertError(self.list(who=u), 403, "Insufficient permissions")
        self.assertError(self.list(who=mod), 403, "Insufficient permissions")
        self.assertError(self.c.request("GET", "/api/users"), 401, "No token provided")

    def test_deleted_users_not_listed(self):
        v = self.c.make_user(tag="gone")
        self.assertOk(self.admin.req("DELETE", "/api/users/%s" % v.id))
        data = self.assertOk(self.list("?limit=20"))
        self.assertNotIn(v.id, [u["id"] for u in data["users"]])


class Delete(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.c.make_user(role="admin", tag="deladmin")

    def test_soft_delete(self):
        v = self.c.make_user(tag="victim")
        other = self.c.login_user(v)
        r = self.admin.req("DELETE", "/api/users/%s" % v.id)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"success": True, "message": "User deleted successfully"})
        # soft: the row is there with deleted_at
        self.assertEqual(self.c.psql("SELECT deleted_at IS NOT NULL FROM users WHERE id = '%s'"
                                     % v.id), "t")
        # every token of the user stops working
        self.assertError(v.req("GET", "/api/auth/me"), 401)
        self.assertError(other.req("GET", "/api/users/profile"), 401)
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": v.refresh})
        self.assertError(r, 401)
        self.assertError(self.c.login(v.email), 401, "Invalid credentials")
        # gone for the admin too
        self.assertError(self.admin.req("DELETE", "/api/users/%s" % v.id), 404, "User not found")
        self.assertError(self.admin.req("GET", "/api/users/%s" % v.id), 404, "User not found")
        # the email can register again, as a new user
        again = self.c.register(email=v.email, name="Second Life")
        self.assertNotEqual(again.id, v.id)
        self.assertOk(again.req("GET", "/api/auth/me"))
        self.assertOk(self.c.login(v.email))

    def test_delete_errors(self):
        u = self.c.make_user()
        mod = self.c.make_user(role="moderator")
        self.assertError(u.req("DELETE", "/api/users/%s" % self.admin.id), 403,
                         "Insufficient permissions")
        self.assertError(mod.req("DELETE", "/api/users/%s" % u.id), 403,
                         "Insufficient permissions")
        self.assertError(self.c.request("DELETE", "/api/users/%s" % u.id), 401)
        r = self.admin.req("DELETE", "/api/users/not-a-uuid")
        errors = self.assertValidation(r, fields=["id"])
        self.assertEqual(errors[0]["message"], "Invalid user ID")
        self.assertError(self.admin.req("DELETE", "/api/users/%s" % uuid.uuid4()), 404,
                         "User not found")
        self.assertOk(u.req("GET", "/api/auth/me"))


class Roles(E2ECase):
    """set-role, the last admin, and a role change seen by old tokens."""

    def active_admins(self):
        out = self.c.psql("SELECT email FROM users WHERE role = 'admin' AND deleted_at IS NULL")
        return [e for e in out.splitlines() if e]

    def keep_only(self, admin_email):
        for e in self.active_admins():
            if e != admin_email:
                self.c.set_role(e, "user")
        self.assertEqual(self.active_admins(), [admin_email])

    def test_role_change_applies_to_existing_tokens(self):
        u = self.c.make_user(tag="promo")
        self.assertError(u.req("GET", "/api/users"), 403, "Insufficient permissions")
        self.c.set_role(u.email, "admin")
        self.assertOk(u.req("GET", "/api/users"))
        self.assertEqual(self.assertOk(u.req("GET", "/api/auth/me"))["role"], "admin")
        self.c.set_role(u.email, "moderator")
        self.assertError(u.req("GET", "/api/users"), 403, "Insufficient permissions")
        other = self.c.make_user()
        self.assertOk(u.req("GET", "/api/users/%s" % other.id))
        self.c.set_role(u.email, "user")
        self.assertError(u.req("GET", "/api/users"), 403)
        self.assertError(u.req("GET", "/api/users/%s" % other.id), 403)

    def test_set_role_errors(self):
        u = self.c.make_user()
        r = self.c.microshopctl("set-role", uniq_email("nobody"), "admin")
        self.assertNotEqual(r.returncode, 0, r)
        r = self.c.microshopctl("set-role", u.email, "superuser")
        self.assertNotEqual(r.returncode, 0, r)
        r = self.c.microshopctl("set-role")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(self.c.psql("SELECT role FROM users WHERE id = '%s'" % u.id), "user")

    def test_last_admin(self):
        a = self.c.make_user(role="admin", tag="lastadmin")
        b = self.c.make_user(role="admin", tag="secondadmin")
        self.keep_only(a.email)
        # set-role refuses to demote the last admin without --force
        r = self.c.microshopctl("set-role", a.email, "user")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(self.active_admins(), [a.email])
        self.assertOk(a.req("GET", "/api/users"))
        # deleting the last admin (themself) is 409
        self.assertError(a.req("DELETE", "/api/users/%s" % a.id), 409)
        self.assertOk(a.req("GET", "/api/users"))
        # with another admin, an admin may delete themself
        self.c.set_role(b.email, "admin")
        r = a.req("DELETE", "/api/users/%s" % a.id)
        self.assertEqual(r.status, 200, r)
        self.assertError(a.req("GET", "/api/users"), 401)
        self.assertEqual(self.active_admins(), [b.email])
        # --force demotes the last admin
        r = self.c.microshopctl("set-role", b.email, "user", "--force")
        if r.returncode != 0:
            r = self.c.microshopctl("set-role", "--force", b.email, "user")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.active_admins(), [])
        self.assertError(b.req("GET", "/api/users"), 403)
        self.c.set_role(b.email, "admin")
        self.assertOk(b.req("GET", "/api/users"))


class NoLeaks(E2ECase):
    def test_user_objects_never_carry_internal_fields(self):
        admin = self.c.make_user(role="admin")
        u = self.c.make_user()
        self.c.login(u.email, "Wrong0ne!x")
        self.assertOk(self.c.login(u.email))
        bodies = [u.req("GET", "/api/auth/me"), u.req("GET", "/api/users/profile"),
                  u.req("PUT", "/api/users/profile", body={"city": "Braga"}),
                  admin.req("GET", "/api/users/%s" % u.id), admin.req("GET", "/api/users?limit=50"),
                  self.c.login(u.email)]
        for r in bodies:
            text = json.dumps(r.body)
            for f in ("password_hash", "last_login_ip", "failed_login_attempts", "locked_until",
                      "deleted_at", "$2b$", "$2a$", PASSWORD):
                self.assertNotIn(f, text, r)
