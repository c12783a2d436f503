"""Hostile input: malformed JSON, non-object JSON, wrong Content-Type, bodies
over 1 MiB, deep nesting, NUL bytes, huge strings, wrong types, unicode, odd
paths and queries. Each batch gets the SPEC §2 errors, and afterwards the
service still answers /health/user and no pool worker has died (same PIDs)."""

import json

from harness import PASSWORD, E2ECase, uniq_email

MIB = 1024 * 1024


def reg_body(**over):
    b = {"email": uniq_email("hostile"), "password": PASSWORD, "name": "Hostile Test"}
    b.update(over)
    return b


class Hostile(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.c.make_user(tag="hostileuser")

    def setUp(self):
        self.before = self.c.snapshot()

    def tearDown(self):
        self.assertPoolIntact(self.before)

    def post(self, path, raw, ctype="application/json", token=None):
        return self.c.request("POST", path, raw_body=raw, headers={"Content-Type": ctype},
                              token=token)

    def assertNoLibraryMessage(self, r):
        msg = r.body["error"]["message"] if isinstance(r.body, dict) else ""
        for leak in ("cJSON", "Unexpected token", "JSON.parse", "position"):
            self.assertNotIn(leak, msg, r)

    def test_malformed_json(self):
        bodies = [b'{"email":', b"{", b"}", b'{"a":1,}', b"{'a':1}", b"nul", b'{"a":tru}',
                  b'{"email":"x" "y"}', b'{"a":1}garbage', b'{"a":"\\x"}',
                  b'{"a":"unterminated}', b"\xef\xbb\xbf", b'{"a":NaN}', b'{"a":Infinity}',
                  b'{"a" 1}', b"{,}", b'{"a":[1,2}', b"\x00"]
        for b in bodies:
            for path in ("/api/auth/register", "/api/auth/login"):
                r = self.post(path, b)
                with self.subTest(body=b, path=path):
                    self.assertError(r, 400)
                    self.assertNoLibraryMessage(r)
        r = self.c.request("PUT", "/api/users/profile", raw_body=b'{"city":', token=self.user.token)
        self.assertError(r, 400)

    def test_json_that_is_not_an_object(self):
        for b in (b"[]", b"[1,2]", b'[{"email":"a@b.c"}]', b'"string"', b"123", b"null",
                  b"true", b"1.5"):
            r = self.post("/api/auth/register", b)
            self.assertError(r, 400)
            r = self.post("/api/auth/login", b)
            self.assertError(r, 400)
        r = self.c.request("PUT", "/api/users/profile", raw_body=b"[]", token=self.user.token)
        self.assertError(r, 400)

    def test_wrong_content_type(self):
        good = json.dumps(reg_body()).encode()
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                      "application/xml", None):
            r = self.c.request("POST", "/api/auth/register", raw_body=good,
                               headers={"Content-Type": ctype})
            self.assertError(r, 400)
        r = self.c.request("POST", "/api/auth/login", raw_body=b"email=a%40b.c&password=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertError(r, 400)
        # parameters on the media type are fine
        r = self.c.request("POST", "/api/auth/register", raw_body=json.dumps(reg_body()),
                           headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertOk(r, 201)

    def test_body_too_large(self):
        r = self.post("/api/auth/login", b"{" + b" " * MIB + b"}")  # 1 MiB + 1 byte
        self.assertError(r, 413)
        self.assertIn("json", r.headers.get("content-type", ""), r.headers)
        r = self.post("/api/auth/register", b"x" * (5 * MIB))
        self.assertError(r, 413)
        # chunked, no Content-Length
        chunks = [b'{"email":"a@b.co","pad":"'] + [b"y" * 65536] * 17 + [b'"}']
        r = self.c.request("POST", "/api/auth/login", chunks=chunks,
                           headers={"Content-Type": "application/json"})
        self.assertError(r, 413)
        # exactly 1 MiB is allowed (unknown fields are ignored)
        head = json.dumps({"email": uniq_email("big"), "password": "Wrong0ne!x", "pad": ""})
        body = head[:-2] + "x" * (MIB - len(head)) + head[-2:]
        self.assertEqual(len(body.encode()), MIB)
        r = self.post("/api/auth/login", body.encode())
        self.assertError(r, 401, "Invalid credentials")

    def test_deep_nesting(self):
        n = 10000
        for b in ("[" * n + "]" * n, '{"a":' * n + "1" + "}" * n,
                  '{"email":' + "[" * n + "]" * n + "}",
                  '{"email":"x@y.co","password":"p","name":' + '{"a":' * n + "1" + "}" * n + "}",
                  "[" * n, '{"a":' * n):
            r = self.post("/api/auth/register", b.encode())
            self.assertError(r, 400)
            r = self.post("/api/auth/login", b.encode())
            self.assertError(r, 400)
        # moderate nesting in an ignored field is fine
        body = reg_body()
        body["extra"] = json.loads("[" * 50 + "]" * 50)
        self.assertOk(self.c.request("POST", "/api/auth/register", body=body), 201)

    def test_nul_bytes(self):
        for field in ("email", "name", "phone"):
            b = reg_body()
            b[field] = {"email": "nul\u0000x@example.com", "name": "Nul\u0000Name",
                        "phone": "+1555\u00001234"}[field]
            r = self.c.request("POST", "/api/auth/register", body=b)
            self.assertValidation(r)
        r = self.c.request("POST", "/api/auth/register", body=reg_body(password="Passw0rd!\u0000x"))
        self.assertValidation(r, secrets=["Passw0rd!"])
        r = self.c.request("POST", "/api/auth/login",
                           body={"email": self.user.email + "\u0000", "password": PASSWORD})
        self.assertValidation(r)
        r = self.c.request("POST", "/api/auth/login",
                           body={"email": self.user.email, "password": PASSWORD + "\u0000junk"})
        self.assertIn(r.status, (401, 422), r)
        r = self.user.req("PUT", "/api/users/profile", body={"bio": "a\u0000b"})
        self.assertValidation(r)
        r = self.user.req("PUT", "/api/users/profile",
                          body={"notification_preferences": {"email\u0000": True}})
        self.assertIn(r.status, (200, 422), r)
        # a raw NUL byte inside a string: never stored cut short
        raw = ('{"email":"%s","password":"%s","name":"Ab' % (uniq_email("rawnul"), PASSWORD)
               ).encode() + b"\x00" + b'cdef"}'
        for body in (raw, b'{"a":1}\x00', b'{"email":"a\x00@example.com","password":"x"}'):
            r = self.post("/api/auth/register", body)
            self.assertIn(r.status, (400, 422), r)
            self.assertError(r, r.status)
        # in the path
        admin = self.c.make_user(role="admin")
        r = admin.req("GET", "/api/users/%00")
        self.assertIn(r.status, (400, 404, 422), r)

    def test_undecodable_query_values_are_refused(self):
        # a filter that does not decode (NUL, bad %-escape) is an error, never
        # silently dropped (which would list every user instead of the filtered ones)
        admin = self.c.make_user(role="admin")
        for q in ("role=ad%00min", "status=act%ZZive", "limit=1%00", "page=%"):
            r = admin.req("GET", "/api/users?" + q)
            with self.subTest(query=q):
                self.assertIn(r.status, (400, 422), r)
                self.assertError(r, r.status)

    def test_huge_strings(self):
        cases = [reg_body(name="x" * 200000), reg_body(email="a" * 100000 + "@example.com"),
                 reg_body(password="Aa1!" + "x" * 300000), reg_body(phone="1" * 100000)]
        for b in cases:
            r = self.c.request("POST", "/api/auth/register", body=b)
            errors = self.assertValidation(r)
            self.assertLess(len(r.raw), 400000, "the error echoes too much")
            for e in errors:
                if e["field"] == "password":
                    self.assertNotIn("value", e)
        r = self.user.req("PUT", "/api/users/profile", body={"bio": "b" * 900000})
        self.assertValidation(r, fields=["bio"])
        # many unknown keys are ignored
        b = reg_body()
        b.update({"k%d" % i: i for i in range(20000)})
        r = self.c.request("POST", "/api/auth/register", body=b)
        self.assertIn(r.status, (201, 422), r)
        r = self.c.request("POST", "/api/auth/login",
                           body={"email": self.user.email, "password": "x" * 500000})
        self.assertIn(r.status, (401, 422), r)
        self.assertNotIn(b"xxxxxxxxxx", r.raw)

    def test_wrong_types(self):
        for field, values in (("email", [123, True, None, ["a@b.co"], {"a": "b"}]),
                              ("password", [12345678, True, None, [PASSWORD], {"a": 1}]),
                              ("name", [["Ann Lee"], {"n": "Ann"}, None, False]),
                              ("phone", [["+15551234567"], {"p": 1}, True])):
            for v in values:
                r = self.c.request("POST", "/api/auth/register", body=reg_body(**{field: v}))
                self.assertValidation(r, fields=[field])
        for v in (123, ["x"], {"a": 1}, None):
            r = self.c.request("POST", "/api/auth/login", body={"email": v, "password": PASSWORD})
            self.assertValidation(r)
            r = self.c.request("POST", "/api/auth/login",
                               body={"email": self.user.email, "password": v})
            self.assertValidation(r)
        r = self.c.request("POST", "/api/auth/register", body=reg_body(name=12345))
        self.assertIn(r.status, (201, 422), r)
        for body in ({"gender": 1}, {"date_of_birth": True}, {"bio": 5}, {"name": []},
                     {"phone": 15551234567}, {"notification_preferences": [1, 2]}):
            r = self.user.req("PUT", "/api/users/profile", body=body)
            self.assertValidation(r)
        r = self.user.req("PUT", "/api/users/password",
                          body={"currentPassword": 1, "newPassword": ["x"]})
        self.assertValidation(r)

    def test_unicode(self):
        name = "Zoë 李小龍 🚀 Ñandú"
        u = self.c.register(name=name)
        self.assertEqual(u.user["name"], name)
        self.assertEqual(self.assertOk(u.req("GET", "/api/auth/me"))["name"], name)
        # escapes and literal characters mean the same
        r = self.c.request("POST", "/api/auth/register", raw_body=(
            '{"email":"%s","password":"%s","name":"Jos\\u00e9 \\ud83d\\ude80"}'
            % (uniq_email("esc"), PASSWORD)).encode())
        self.assertEqual(self.assertOk(r, 201)["user"]["name"], "José 🚀")
        # lengths are characters, not bytes
        self.c.register(name="é" * 255)
        self.assertOk(u.req("PUT", "/api/users/profile", body={"bio": "🚀" * 500}))
        self.assertValidation(u.req("PUT", "/api/users/profile", body={"bio": "🚀" * 501}),
                              fields=["bio"])
        self.assertEqual(self.assertOk(u.req("GET", "/api/users/profile"))["profile"]["bio"],
                         "🚀" * 500)
        # invalid UTF-8 and lone surrogates are refused, not stored
        for raw in (b'{"email":"%s","password":"%s","name":"Bad \xff\xfe name"}',
                    b'{"email":"%s","password":"%s","name":"Bad \xc3 name"}',
                    b'{"email":"%s","password":"%s","name":"Lone \\ud800 half"}'):
            body = raw % (uniq_email("utf").encode(), PASSWORD.encode())
            r = self.post("/api/auth/register", body)
            self.assertIn(r.status, (400, 422), r)
            self.assertError(r, r.status)

    def test_injection_strings_are_data(self):
        name = "Robert'); DROP TABLE users;--"
        u = self.c.register(name=name)
        self.assertEqual(self.assertOk(u.req("GET", "/api/auth/me"))["name"], name)
        r = self.c.request("POST", "/api/auth/login",
                           body={"email": "x' OR '1'='1@example.com", "password": "' OR ''='"})
        self.assertIn(r.status, (401, 422), r)
        r = self.c.request("POST", "/api/auth/login",
                           body={"email": self.user.email, "password": "' OR '1'='1"})
        self.assertError(r, 401, "Invalid credentials")
        admin = self.c.make_user(role="admin")
        r = admin.req("GET", "/api/users?role=admin'%20OR%20'1'='1&status=active;DROP%20TABLE%20users")
        self.assertIn(r.status, (200, 422), r)
        if r.status == 200:
            self.assertEqual(r.body["data"]["users"], [])
        self.assertEqual(self.c.psql("SELECT count(*) > 0 FROM users"), "t")

    def test_odd_paths_methods_and_headers(self):
        admin = self.c.make_user(role="admin")
        for path in ("/api/users/" + "a" * 3000, "/api/users/..%2F..%2Fetc%2Fpasswd",
                     "/api/users/%2e%2e",
                     "/api/auth/login%00", "/api/users/%ZZ"):
            r = admin.req("GET", path)
            self.assertGreaterEqual(r.status, 400, (path, r))
            self.assertLess(r.status, 500, (path, r))
        q = "&".join("p%d=%d" % (i, i) for i in range(600))
        r = admin.req("GET", "/api/users?" + q)
        self.assertLess(r.status, 500, r)
        r = admin.req("GET", "/api/users?limit=10&limit=abc&page=1&page=1")
        self.assertLess(r.status, 500, r)
        for method in ("PATCH", "PUT", "DELETE"):
            r = self.user.req(method, "/api/auth/me")
            self.assertError(r, 405)
        r = self.c.request("GET", "/api/auth/login")
        self.assertError(r, 405)
        r = self.user.req("GET", "/api/auth/me",
                          headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1",
                                   "X-Request-Id": "'; DROP TABLE users; --",
                                   "Cookie": "a=" + "b" * 4000})
        self.assertOk(r)
        r = self.c.request("GET", "/api/auth/me",
                           headers={"Authorization": "Bearer " + "A" * 7000})
        self.assertIn(r.status, (400, 401, 431, 494), r)
