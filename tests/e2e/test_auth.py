"""/api/auth: register, login (lockout, timing, normalisation), me, refresh
(rotation, reuse detection), logout, and what the bearer check refuses."""

import statistics
import time
import uuid

import harness
from harness import PASSWORD, E2ECase, jwt_claims, make_jwt, node_access_token, uniq, uniq_email


class Register(E2ECase):
    def test_register_shape_and_normalisation(self):
        local = uniq("alice")
        r = self.c.request("POST", "/api/auth/register", body={
            "email": "%s@Example.COM" % local.capitalize(), "password": PASSWORD,
            "name": "  Alice Smith  ", "phone": "+15551234567"})
        data = self.assertOk(r, 201)
        self.assertEqual(set(data), {"user", "tokens"}, data)
        u = data["user"]
        self.assertUser(u)
        self.assertEqual(u["email"], "%s@example.com" % local)
        self.assertEqual(u["name"], "Alice Smith")
        self.assertEqual(u["phone"], "+15551234567")
        self.assertEqual(u["role"], "user")
        self.assertEqual(u["status"], "active")
        self.assertIs(u["email_verified"], False)
        self.assertIsNone(u["email_verified_at"])
        self.assertTokens(data["tokens"])
        claims = jwt_claims(data["tokens"]["accessToken"])
        self.assertEqual(claims["sub"], u["id"])
        self.assertEqual(claims["email"], u["email"])
        self.assertEqual(claims["role"], "user")
        me = self.c.request("GET", "/api/auth/me", token=data["tokens"]["accessToken"])
        self.assertEqual(self.assertOk(me)["id"], u["id"])

    def test_duplicate_email_409(self):
        u = self.c.make_user()
        r = self.c.request("POST", "/api/auth/register", body={
            "email": u.email, "password": PASSWORD, "name": "Again"})
        self.assertError(r, 409, "Email already registered")
        r = self.c.request("POST", "/api/auth/register", body={
            "email": u.email.upper(), "password": PASSWORD, "name": "Again"})
        self.assertError(r, 409, "Email already registered")

    def test_gmail_normalisation_register_and_login(self):
        r = self.c.request("POST", "/api/auth/register", body={
            "email": "John.Doe+shop@Gmail.com", "password": PASSWORD, "name": "John Doe"})
        self.assertEqual(self.assertOk(r, 201)["user"]["email"], "johndoe@gmail.com")
        for variant in ("johndoe@gmail.com", "JOHNDOE@GMAIL.COM", "j.o.h.n.doe+other@gmail.com",
                        "John.Doe@googlemail.com"):
            r = self.c.login(variant)
            self.assertEqual(self.assertOk(r)["user"]["email"], "johndoe@gmail.com", variant)
        r = self.c.request("POST", "/api/auth/register", body={
            "email": "j.ohndoe+x@googlemail.com", "password": PASSWORD, "name": "John Doe"})
        self.assertError(r, 409, "Email already registered")

    def test_other_provider_normalisation(self):
        tag = uniq("n")
        cases = [("%s.Tag+x@Outlook.com" % tag, "%s.tag@outlook.com" % tag),
                 ("%s+x@Hotmail.com" % tag, "%s@hotmail.com" % tag),
                 ("%s-x@Yahoo.com" % tag, "%s@yahoo.com" % tag),
                 ("%s+x@iCloud.com" % tag, "%s@icloud.com" % tag),
                 ("%s.Dot+keep@Example.org" % tag.capitalize(), "%s.dot+keep@example.org" % tag)]
        for given, want in cases:
            r = self.c.request("POST", "/api/auth/register", body={
                "email": given, "password": PASSWORD, "name": "Norm Test"})
            self.assertEqual(self.assertOk(r, 201)["user"]["email"], want, given)
            self.assertOk(self.c.login(given))

    def test_validation_errors(self):
        r = self.c.request("POST", "/api/auth/register", body={
            "email": "not-an-email", "password": "short", "name": "A", "phone": "12-34"})
        errors = self.assertValidation(r, fields=["email", "password", "name", "phone"],
                                       secrets=['"short"'])
        msgs = {(e["field"], e["message"]) for e in errors}
        self.assertIn(("email", "Must be a valid email"), msgs)
        self.assertIn(("password", "Password must be at least 8 characters"), msgs)
        self.assertIn(("name", "Name must be between 2 and 255 characters"), msgs)
        self.assertIn(("phone", "Must be a valid phone number"), msgs)

    def test_missing_fields(self):
        r = self.c.request("POST", "/api/auth/register", body={})
        self.assertValidation(r, fields=["email", "password", "name"])

    def test_password_policy(self):
        bad = ["alllower1!", "ALLUPPER1!", "NoDigits!!", "NoSpecial11", "Passw0rd#1", "Sh0rt!"]
        for pw in bad:
            r = self.c.request("POST", "/api/auth/register", body={
                "email": uniq_email("pw"), "password": pw, "name": "Pw Test"})
            self.assertValidation(r, fields=["password"], secrets=[pw])
        # one of @$!%*?& is required, other characters are allowed too
        self.c.register(password="Passw0rd#1!")
        self.c.register(password="Pässw0rd ✓ ok!")

    def test_password_72_bytes(self):
        p72 = "Aa1!" + "é" * 34  # 4 + 68 = 72 bytes
        self.assertEqual(len(p72.encode()), 72)
        u = self.c.register(password=p72)
        self.assertOk(self.c.login(u.email, p72))
        # login checks a longer password by its first 72 bytes, as bcryptjs did
        # (SPEC §3); register and password change refuse one
        self.assertOk(self.c.login(u.email, p72 + "x"))
        self.assertError(self.c.login(u.email, "Aa1!" + "é" * 33 + "x" * 3), 401,
                         "Invalid credentials")
        for pw in ("Aa1!" + "é" * 35, "Passw0rd!" + "x" * 64, "Passw0rd!" + "x" * 1000):
            self.assertGreater(len(pw.encode()), 72)
            r = self.c.request("POST", "/api/auth/register", body={
                "email": uniq_email("long"), "password": pw, "name": "Long Pw"})
            self.assertValidation(r, fields=["password"], secrets=[pw])

    def test_name_and_phone_rules(self):
        for name in ("  A  ", "", "x" * 256):
            r = self.c.request("POST", "/api/auth/register", body={
                "email": uniq_email("nm"), "password": PASSWORD, "name": name})
            self.assertValidation(r, fields=["name"])
        self.c.register(name="x" * 255)
        for phone in ("12-34", "+0123456", "+1234567890123456", "abc", "+1"):
            r = self.c.request("POST", "/api/auth/register", body={
                "email": uniq_email("ph"), "password": PASSWORD, "name": "Phone Test",
                "phone": phone})
            self.assertValidation(r, fields=["phone"])
        self.c.register(phone="15551234567")

    def test_email_too_long(self):
        r = self.c.request("POST", "/api/auth/register", body={
            "email": "a" * 250 + "@example.com", "password": PASSWORD, "name": "Long Mail"})
        self.assertValidation(r, fields=["email"])

    def test_no_mass_assignment(self):
        email = uniq_email("mass")
        r = self.c.request("POST", "/api/auth/register", body={
            "email": email, "password": PASSWORD, "name": "Mass Assign", "role": "admin",
            "status": "suspended", "id": str(uuid.uuid4()), "email_verified": True,
            "failed_login_attempts": 99, "password_hash": "x"})
        u = self.assertOk(r, 201)["user"]
        self.assertEqual(u["role"], "user")
        self.assertEqual(u["status"], "active")
        self.assertIs(u["email_verified"], False)
        self.assertOk(self.c.login(email))
        r = self.c.request("GET", "/api/users", token=self.assertOk(self.c.login(email))
                           ["tokens"]["accessToken"])
        self.assertError(r, 403, "Insufficient permissions")


class Login(E2ECase):
    def test_login_shape(self):
        u = self.c.make_user()
        r = self.c.login(u.email)
        data = self.assertOk(r)
        self.assertEqual(set(data), {"user", "tokens"})
        self.assertUser(data["user"])
        self.assertEqual(data["user"]["id"], u.id)
        self.assertIsNotNone(data["user"]["last_login_at"])
        self.assertTokens(data["tokens"])

    def test_bad_credentials(self):
        u = self.c.make_user()
        self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Invalid credentials")
        self.assertError(self.c.login(uniq_email("nobody")), 401, "Invalid credentials")

    def test_login_validation(self):
        self.assertValidation(self.c.request("POST", "/api/auth/login", body={}),
                              fields=["email", "password"])
        self.assertValidation(self.c.request("POST", "/api/auth/login",
                                             body={"email": "nope", "password": "x"}),
                              fields=["email"])
        r = self.c.request("POST", "/api/auth/login", body={"email": uniq_email(), "password": ""})
        self.assertValidation(r, fields=["password"])

    def test_lockout_and_expiry(self):
        u = self.c.make_user(tag="lock")
        for i in range(4):
            self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Invalid credentials")
        self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401,
                         "Too many failed attempts. Account locked for 15 minutes")
        # locked: the right password too, and a wrong one
        self.assertError(self.c.login(u.email), 401, "Account is temporarily locked")
        self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Account is temporarily locked")
        # stored as UTC timestamp without time zone, 15 minutes ahead
        ok = self.c.psql("SELECT locked_until BETWEEN (now() AT TIME ZONE 'UTC') + interval "
                         "'14 minutes' AND (now() AT TIME ZONE 'UTC') + interval '16 minutes' "
                         "FROM users WHERE id = '%s'" % u.id)
        self.assertEqual(ok, "t", "locked_until is not now+15min in UTC")
        # the lock expires: the counter restarts, one wrong password is not a lock
        self.c.psql("UPDATE users SET locked_until = (now() AT TIME ZONE 'UTC') - interval "
                    "'1 minute' WHERE id = '%s'" % u.id)
        self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Invalid credentials")
        self.assertOk(self.c.login(u.email))
        for i in range(4):
            self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Invalid credentials")
        self.assertOk(self.c.login(u.email))

    def test_success_resets_counter(self):
        u = self.c.make_user(tag="reset")
        for i in range(3):
            self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Invalid credentials")
        self.assertOk(self.c.login(u.email))
        for i in range(4):
            self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Invalid credentials")
        self.assertOk(self.c.login(u.email))

    def test_inactive_status_checked_after_password(self):
        u = self.c.make_user(tag="susp")
        self.c.psql("UPDATE users SET status = 'suspended' WHERE id = '%s'" % u.id)
        self.assertError(self.c.login(u.email, "Wrong0ne!x"), 401, "Invalid credentials")
        r = self.c.login(u.email)
        self.assertError(r, 401)
        self.assertNotEqual(r.body["error"]["message"], "Invalid credentials", r)


class LoginTiming(E2ECase):
    """An unknown email costs the same time as a wrong password. Run on a second
    pool at BCRYPT_COST=8, where skipping bcrypt would show (~15 ms vs ~1 ms)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = cls.c
        cls.slow = harness.new_cluster(name="timing", redis=m.redis, dbname=m.dbname,
                                       migrate=False, worker=False,
                                       env={"BCRYPT_COST": "8"})

    @classmethod
    def tearDownClass(cls):
        cls.slow.stop()

    def test_unknown_email_not_faster(self):
        s = self.slow
        u = s.register(email=uniq_email("timing"))
        s.login(u.email)  # warm up both paths and both workers
        s.login(uniq_email("ghost"))
        wrong, unknown = [], []
        for i in range(7):
            if i and i % 3 == 0:
                self.assertOk(s.login(u.email))  # reset the failure counter (< 5)
            r = s.login(u.email, "Wrong0ne!x")
            self.assertError(r, 401, "Invalid credentials")
            wrong.append(r.elapsed)
            r = s.login(uniq_email("ghost"), "Wrong0ne!x")
            self.assertError(r, 401, "Invalid credentials")
            unknown.append(r.elapsed)
        mw, mu = statistics.median(wrong), statistics.median(unknown)
        self.assertGreaterEqual(mu, 0.5 * mw, "unknown email answers much faster: median "
                                "%.1f ms vs wrong password %.1f ms" % (mu * 1e3, mw * 1e3))

    def test_rehash_on_login_when_cost_below_configured(self):
        # registered at cost 4 through the main pool, logged in at cost 8 here
        u = self.c.make_user(tag="rehash")
        h0 = self.c.psql("SELECT password_hash FROM users WHERE id = '%s'" % u.id)
        self.assertRegex(h0, r"^\$2[ab]\$04\$")
        self.assertOk(self.slow.login(u.email))
        h1 = self.c.psql("SELECT password_hash FROM users WHERE id = '%s'" % u.id)
        self.assertRegex(h1, r"^\$2[ab]\$08\$", "not re-hashed at the configured cost")
        self.assertOk(self.c.login(u.email))


class Me(E2ECase):
    def test_me(self):
        u = self.c.make_user()
        data = self.assertOk(u.req("GET", "/api/auth/me"))
        self.assertUser(data)
        self.assertEqual(data["id"], u.id)
        self.assertEqual(data["email"], u.email)

    def test_no_token(self):
        self.assertError(self.c.request("GET", "/api/auth/me"), 401, "No token provided")
        r = self.c.request("GET", "/api/auth/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
        self.assertError(r, 401, "No token provided")
        r = self.c.request("GET", "/api/auth/me", headers={"Authorization": "Bearer"})
        self.assertError(r, 401)

    def test_garbage_and_forged_tokens(self):
        u = self.c.make_user()
        now = int(time.time())
        base = {"id": u.id, "sub": u.id, "email": u.email, "role": "user", "type": "access",
                "iat": now, "exp": now + 600, "iss": "user-service"}
        cases = {
            "garbage": "not.a.token",
            "garbage2": "abc",
            "wrong secret": make_jwt(base, "another-secret-another-secret-xx"),
            "alg none": make_jwt(base, alg="none"),
            "alg none upper": make_jwt(base, header={"alg": "None", "typ": "JWT"}, alg="none"),
            "HS512": make_jwt(base, alg="HS512"),
            "RS256 header": make_jwt(base, header={"alg": "RS256", "typ": "JWT"}),
            "wrong iss": make_jwt(dict(base, iss="someone-else")),
            "no iss": make_jwt({k: v for k, v in base.items() if k != "iss"}),
            "type refresh": make_jwt(dict(base, type="refresh")),
            "no type": make_jwt({k: v for k, v in base.items() if k != "type"}),
            "tampered": u.token[:-4] + ("AAAA" if not u.token.endswith("AAAA") else "BBBB"),
            "refresh as bearer": u.refresh,
            "unknown user": make_jwt(dict(base, id=str(uuid.uuid4()), sub=str(uuid.uuid4()))),
            "huge": "a" * 6000,
        }
        for name, tok in cases.items():
            r = self.c.request("GET", "/api/auth/me", token=tok)
            self.assertError(r, 401)
            if name in ("garbage", "wrong secret", "alg none", "tampered", "refresh as bearer"):
                self.assertEqual(r.body["error"]["message"], "Invalid token", (name, r))

    def test_expired_token(self):
        u = self.c.make_user()
        now = int(time.time())
        tok = node_access_token(u.id, u.email, iat=now - 1000, ttl=900)
        self.assertError(self.c.request("GET", "/api/auth/me", token=tok), 401, "Token has expired")

    def test_role_claim_is_not_trusted(self):
        u = self.c.make_user()
        forged = node_access_token(u.id, u.email, role="admin")  # valid signature, lying role
        self.assertOk(self.c.request("GET", "/api/auth/me", token=forged))
        self.assertError(self.c.request("GET", "/api/users", token=forged), 403,
                         "Insufficient permissions")


class RefreshLogout(E2ECase):
    def test_refresh_rotation_and_reuse_detection(self):
        u = self.c.make_user(tag="rot")
        other = self.c.login_user(u)  # a second, independent login of the same user
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": u.refresh})
        t1 = self.assertOk(r)
        self.assertTokens(t1)
        self.assertNotEqual(t1["refreshToken"], u.refresh)
        self.assertOk(self.c.request("GET", "/api/auth/me", token=t1["accessToken"]))
        # the new refresh token works once
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": t1["refreshToken"]})
        t2 = self.assertOk(r)
        self.assertTokens(t2)
        # reuse of the spent first one: 401, and the whole login family is dead
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": u.refresh})
        self.assertError(r, 401)
        for tok in (u.token, t1["accessToken"], t2["accessToken"]):
            self.assertError(self.c.request("GET", "/api/auth/me", token=tok), 401)
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": t2["refreshToken"]})
        self.assertError(r, 401)
        # the other login is untouched
        self.assertOk(other.req("GET", "/api/auth/me"))
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": other.refresh})
        self.assertTokens(self.assertOk(r))

    def test_refresh_token_never_a_bearer(self):
        u = self.c.make_user()
        self.assertError(self.c.request("POST", "/api/auth/refresh", token=u.refresh), 401)
        self.assertError(self.c.request("GET", "/api/users/profile", token=u.refresh), 401)
        # an access token is not a refresh token either
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": u.token})
        self.assertError(r, 401)
        for bad in ("garbage", "", 12345, None):
            r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": bad})
            self.assertIn(r.status, (401, 422), r)
            self.assertError(r, r.status)

    def test_refresh_with_access_token_and_no_body(self):
        u = self.c.make_user()
        r = self.c.request("POST", "/api/auth/refresh", token=u.token)
        t = self.assertOk(r)
        self.assertTokens(t)
        self.assertOk(self.c.request("GET", "/api/auth/me", token=t["accessToken"]))
        self.assertError(self.c.request("POST", "/api/auth/refresh"), 401)

    def test_refresh_token_signed_with_refresh_secret(self):
        u = self.c.make_user()
        claims = jwt_claims(u.refresh)
        forged = make_jwt(claims, harness.NODE_SECRET)  # access secret instead of refresh secret
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": forged})
        self.assertError(r, 401)

    def test_logout(self):
        u = self.c.make_user(tag="logout")
        other = self.c.login_user(u)
        r = u.req("POST", "/api/auth/logout")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"success": True, "message": "Logged out successfully"})
        self.assertError(u.req("GET", "/api/auth/me"), 401, "Token has been revoked")
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": u.refresh})
        self.assertError(r, 401)
        self.assertError(u.req("POST", "/api/auth/logout"), 401)
        self.assertOk(other.req("GET", "/api/auth/me"))
        self.assertError(self.c.request("POST", "/api/auth/logout"), 401, "No token provided")

    def test_logout_node_token_without_jti(self):
        u = self.c.make_user()
        tok = node_access_token(u.id, u.email)
        self.assertNotIn("jti", jwt_claims(tok))
        self.assertOk(self.c.request("GET", "/api/auth/me", token=tok))
        r = self.c.request("POST", "/api/auth/logout", token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertError(self.c.request("GET", "/api/auth/me", token=tok), 401,
                         "Token has been revoked")
        self.assertOk(u.req("GET", "/api/auth/me"))


class PasswordChange(E2ECase):
    def test_change_password(self):
        u = self.c.make_user(tag="pwchange")
        other = self.c.login_user(u)
        new = "N3wPassw0rd!"
        r = u.req("PUT", "/api/users/password", body={"currentPassword": "Wrong0ne!x",
                                                       "newPassword": new})
        self.assertError(r, 401, "Current password is incorrect")
        r = u.req("PUT", "/api/users/password", body={"currentPassword": PASSWORD,
                                                       "newPassword": "weakpass"})
        self.assertValidation(r, fields=["newPassword"], secrets=['"weakpass"', PASSWORD])
        r = u.req("PUT", "/api/users/password", body={"currentPassword": PASSWORD,
                                                       "newPassword": "Aa1!" + "x" * 70})
        self.assertValidation(r, fields=["newPassword"])
        self.assertValidation(u.req("PUT", "/api/users/password", body={}),
                              fields=["currentPassword", "newPassword"])
        r = u.req("PUT", "/api/users/password", body={"currentPassword": PASSWORD,
                                                       "newPassword": new})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"success": True, "message": "Password changed successfully"})
        # every token issued before is refused, on every login
        self.assertError(u.req("GET", "/api/auth/me"), 401)
        self.assertError(other.req("GET", "/api/auth/me"), 401)
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": other.refresh})
        self.assertError(r, 401)
        self.assertError(self.c.login(u.email, PASSWORD), 401, "Invalid credentials")
        # tokens issued right after work, even within the same second
        t = self.assertOk(self.c.login(u.email, new))["tokens"]
        self.assertOk(self.c.request("GET", "/api/auth/me", token=t["accessToken"]))
        r = self.c.request("POST", "/api/auth/refresh", body={"refreshToken": t["refreshToken"]})
        self.assertOk(r)

    def test_tokens_after_change_work_in_same_second(self):
        u = self.c.make_user(tag="samesec")
        pw = PASSWORD
        for i in range(3):
            new = "N3wPassw0rd!%d" % i
            tok = self.assertOk(self.c.login(u.email, pw))["tokens"]["accessToken"]
            r = self.c.request("PUT", "/api/users/password", token=tok,
                               body={"currentPassword": pw, "newPassword": new})
            self.assertEqual(r.status, 200, r)
            t_after = self.assertOk(self.c.login(u.email, new))["tokens"]["accessToken"]
            self.assertOk(self.c.request("GET", "/api/auth/me", token=t_after))
            self.assertError(self.c.request("GET", "/api/auth/me", token=tok), 401)
            pw = new

    def test_password_change_requires_auth(self):
        r = self.c.request("PUT", "/api/users/password",
                           body={"currentPassword": PASSWORD, "newPassword": "N3wPassw0rd!"})
        self.assertError(r, 401, "No token provided")
