"""Bytes that are not UTF-8 (issue 7, RFC 8259 §8.1): in a body string, a
query value or a path segment, every such sequence — the reported ones, every
byte that can never lead a sequence, overlong two/three/four-byte forms,
surrogates, code points beyond U+10FFFF and truncated sequences — is refused
with a 400 in the SPEC envelope before a handler sees it, and every response
body decodes as strict UTF-8. Valid UTF-8 of every length still round-trips."""

import json
import urllib.parse

import harness
from harness import PASSWORD, E2ECase, uniq, uniq_email

_state = {}


def setUpModule():
    # user and product: every route of both is tried
    _state["c"] = harness.new_cluster(name="utf8", services=("user", "product"))


def tearDownModule():
    c = _state.pop("c", None)
    if c is not None:
        c.stop()

REPORTED = [b"\xff", b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"]


def invalid_sequences():
    seqs = list(REPORTED)
    # every byte that never starts a sequence: continuation bytes, C0/C1, F5-FF
    seqs += [bytes([b]) for b in range(0x80, 0xC0)]
    seqs += [bytes([b]) for b in (0xC0, 0xC1)] + [bytes([b]) for b in range(0xF5, 0x100)]
    # overlong forms of '/', NUL and the largest code point of the shorter form
    seqs += [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xf0\x80\x80\xaf",
             b"\xf0\x8f\xbf\xbf"]
    # surrogates (high, low, the edges), beyond U+10FFFF
    seqs += [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xb0\x80", b"\xed\xbf\xbf",
             b"\xed\xa0\xbd\xed\xb8\x80", b"\xf4\x90\x80\x80", b"\xf7\xbf\xbf\xbf"]
    # truncated sequences, a lead followed by ASCII, a stray continuation after ASCII
    seqs += [b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xe2x", b"a\x80"]
    out, seen = [], set()
    for s in seqs:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


SEQS = invalid_sequences()
VALID = ["plain", "é", "€uro", "日本語", "😀 emoji", "\u00a0nbsp", "\U0010fffd"]


def pct(b):
    return "".join("%%%02X" % c for c in b)


class Utf8(E2ECase):
    @classmethod
    def setUpClass(cls):
        cls.c = _state["c"]
        cls.user = cls.c.make_user(tag="utf8user")
        cls.admin = cls.c.make_admin(tag="utf8admin")

    def setUp(self):
        self.before = self.c.snapshot()

    def tearDown(self):
        self.assertPoolIntact(self.before)

    def assertRefused(self, r, what):
        self.assertEqual(r.status, 400, (what, r))
        r.raw.decode("utf-8")  # strict: raises on any invalid byte
        body = json.loads(r.raw)
        self.assertIs(body["success"], False, (what, r))
        self.assertEqual(body["error"]["code"], 400, (what, r))
        self.assertIn("UTF-8", body["error"]["message"], (what, r))

    def raw(self, method, path, raw=None, token=None):
        return self.c.request(method, path, raw_body=raw, token=token,
                              headers={"Content-Type": "application/json"} if raw else None)

    def test_body_strings(self):
        for seq in SEQS:
            with self.subTest(seq=seq):
                email = b'"ab' + seq + b'cd@example.com"'
                body = b'{"email":' + email + b',"password":"' + PASSWORD.encode() + \
                    b'","name":"Utf Eight"}'
                self.assertRefused(self.raw("POST", "/api/auth/register", body), "register")
                self.assertRefused(self.raw("POST", "/api/auth/login", body), "login")
                for field in (b"bio", b"address_line2", b"city"):
                    r = self.raw("PUT", "/api/users/profile",
                                 b'{"' + field + b'":"x' + seq + b'y"}', self.user.token)
                    self.assertRefused(r, field)
                # in a key, too, and on the product service
                r = self.raw("POST", "/api/products",
                             b'{"sku":"' + seq + b'","name":"n' + seq + b'","price":1}',
                             self.admin.token)
                self.assertRefused(r, "product")
        # a body that is not UTF-8 outside any string is refused the same way
        self.assertRefused(self.raw("POST", "/api/auth/login", b'{"a":1}\xff'), "trailing")

    def test_lone_surrogate_escapes_are_refused(self):
        for esc in (b"\\ud800", b"\\udfff", b"\\ud800\\u0041", b"\\udbff\\udbff", b"\\udc00\\ud800"):
            with self.subTest(esc=esc):
                r = self.raw("PUT", "/api/users/profile", b'{"bio":"x' + esc + b'"}',
                             self.user.token)
                self.assertEqual(r.status, 400, r)
                r.raw.decode("utf-8")
                self.assertIs(r.body["success"], False)
        # a surrogate pair escape is one valid code point
        r = self.raw("PUT", "/api/users/profile", b'{"bio":"x\\ud83d\\ude00"}', self.user.token)
        self.assertOk(r)
        self.assertEqual(r.body["data"]["profile"]["bio"], "x\U0001f600")

    def test_query_values(self):
        for seq in SEQS:
            with self.subTest(seq=seq):
                for path in ("/api/products?min_price=" + pct(seq),
                             "/api/products?search=a" + pct(seq) + "b",
                             "/api/products?" + pct(seq) + "=1",
                             "/api/categories?tree=" + pct(seq),
                             "/api/users?status=" + pct(seq),
                             "/health/user?x=" + pct(seq)):
                    self.assertRefused(self.raw("GET", path, token=self.admin.token), path)

    def test_path_segments(self):
        for seq in SEQS:
            with self.subTest(seq=seq):
                for path in ("/api/products/" + pct(seq), "/api/users/" + pct(seq),
                             "/api/categories/" + pct(seq), "/api/no-such-route/" + pct(seq),
                             "/api/products/" + pct(seq) + "/inventory"):
                    self.assertRefused(self.raw("GET", path, token=self.admin.token), path)

    def test_valid_utf8_round_trips(self):
        for text in VALID:
            with self.subTest(text=text):
                bio = "bio " + text
                r = self.user.req("PUT", "/api/users/profile", body={"bio": bio})
                self.assertOk(r)
                r.raw.decode("utf-8")
                self.assertEqual(r.body["data"]["profile"]["bio"], bio)
                # a too-long value is echoed back in errors[].value, still UTF-8
                r = self.user.req("PUT", "/api/users/profile", body={"bio": text * 501})
                self.assertEqual(r.status, 422, r)
                r.raw.decode("utf-8")
                q = urllib.parse.quote(text)
                r = self.c.request("GET", "/api/products?search=" + q)
                self.assertOk(r)
                r = self.c.request("GET", "/api/products/" + q)
                self.assertEqual(r.status, 422, r)
                r.raw.decode("utf-8")
                r = self.c.request("GET", "/api/nowhere/" + q)
                self.assertEqual(r.status, 404, r)
                self.assertEqual(r.body["error"]["path"], "/api/nowhere/" + text)

    def test_valid_names_register(self):
        r = self.c.request("POST", "/api/auth/register",
                           body={"email": uniq_email("utf8ok"), "password": PASSWORD,
                                 "name": "Zoë 日本 " + uniq("n")})
        self.assertOk(r, 201)
        r.raw.decode("utf-8")
        self.assertTrue(r.body["data"]["user"]["name"].startswith("Zoë 日本 "))
