"""Drop-in for the Node user service (SPEC §5): a database created by the Node
service's own migration, holding a user registered through it (bcryptjs
$2a$10$ hash), is taken over by `microshopctl migrate user` (001 recognised as
applied, later migrations added), the user logs in through microshop, and an
access token signed by the Node service is accepted.

Fixtures (tests/fixtures, made once from the Node peer's bcryptjs and
jsonwebtoken modules; nothing outside this repository is read at test time):
node_user.sql (the Node schema + the rows) and node_user.json (password, hash,
tokens)."""

import glob
import json
import os
import re

import harness
from harness import E2ECase, FIXTURES, ROOT

with open(os.path.join(FIXTURES, "node_user.json")) as f:
    NODE = json.load(f)
NODE_SQL = os.path.join(FIXTURES, "node_user.sql")

SCHEMA_SQL = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' ||
       coalesce(character_maximum_length::text, '-') || ' null=' || is_nullable ||
       ' default=' || coalesce(column_default, '-')
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name <> 'schema_migrations' %(only)s
UNION ALL
SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename <> 'schema_migrations' %(only_idx)s
UNION ALL
SELECT 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' ||
       pg_get_constraintdef(c.oid)
  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
 WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> 'schema_migrations' %(only_con)s
ORDER BY 1
"""


def schema_of(pg, db, tables=None):
    if tables:
        lst = ",".join("'%s'" % t for t in tables)
        only = {"only": "AND table_name IN (%s)" % lst, "only_idx": "AND tablename IN (%s)" % lst,
                "only_con": "AND c.conrelid::regclass::text IN (%s)" % lst}
    else:
        only = {"only": "", "only_idx": "", "only_con": ""}
    return pg.psql(SCHEMA_SQL % only, db).splitlines()


def node_schema_only():
    """The fixture's Node migration part, without the rows."""
    with open(NODE_SQL) as f:
        text = f.read()
    return text.split("-- The user, as Sequelize", 1)[0]


class NodeDropIn(E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a fresh database exactly as the Node service left it, then our migration
        cls.n = harness.new_cluster(name="node", load_sql=NODE_SQL, migrate=True)

    @classmethod
    def tearDownClass(cls):
        cls.n.stop()

    def test_fixture_is_a_node_database(self):
        self.assertTrue(NODE["password_hash"].startswith("$2a$10$"))
        self.assertEqual(harness.jwt_claims(NODE["access_token"]).get("iss"), "user-service")
        self.assertNotIn("jti", harness.jwt_claims(NODE["access_token"]))

    def test_migrate_recognises_001_and_adds_the_rest(self):
        rows = self.n.psql("SELECT row_to_json(s)::text FROM schema_migrations s")
        files = sorted(os.path.basename(p) for p in glob.glob(
            os.path.join(ROOT, "migrations", "user", "[0-9][0-9][0-9]_*.sql")))
        self.assertTrue(files and files[0].startswith("001_"), files)
        for fn in files:
            self.assertTrue(re.search(r"\b%s" % fn[:3], rows) or fn[:-4] in rows or fn in rows,
                            "migration %s not recorded in schema_migrations:\n%s" % (fn, rows))
        # the Node rows are untouched
        self.assertEqual(self.n.psql("SELECT email, password_hash FROM users"),
                         "%s|%s" % (NODE["email"], NODE["password_hash"]))
        # running it again changes nothing
        r = self.n.microshopctl("migrate", "user")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.n.psql("SELECT row_to_json(s)::text FROM schema_migrations s"), rows)

    def test_001_creates_exactly_the_node_schema(self):
        pg = self.c.pg
        a, b = "e2e_nodeschema_%d" % os.getpid(), "e2e_our001_%d" % os.getpid()
        try:
            pg.createdb(a)
            pg.createdb(b)
            path = os.path.join(harness.workdir(), "node_schema_only.sql")
            with open(path, "w") as f:
                f.write(node_schema_only())
            pg.psql_file(path, a)
            ours = glob.glob(os.path.join(ROOT, "migrations", "user", "001_*.sql"))
            self.assertEqual(len(ours), 1, ours)
            pg.psql_file(ours[0], b)
            self.assertEqual(schema_of(pg, b), schema_of(pg, a))
        finally:
            pg.dropdb(a)
            pg.dropdb(b)

    def test_taken_over_schema_equals_fresh_schema(self):
        self.assertEqual(schema_of(self.n.pg, self.n.dbname), schema_of(self.c.pg, self.c.dbname))

    def test_node_user_logs_in(self):
        r = self.n.login(NODE["email"], NODE["password"])
        data = self.assertOk(r)
        self.assertUser(data["user"])
        self.assertEqual(data["user"]["id"], NODE["user_id"])
        self.assertEqual(data["user"]["name"], NODE["name"])
        self.assertEqual(data["user"]["phone"], NODE["phone"])
        self.assertEqual(data["user"]["created_at"], "2026-11-24T03:07:53.765Z")
        self.assertTokens(data["tokens"])
        self.assertOk(self.n.request("GET", "/api/auth/me", token=data["tokens"]["accessToken"]))
        self.assertError(self.n.login(NODE["email"], "Wrong0ne!x"), 401, "Invalid credentials")
        # normalised like Node on login
        self.assertOk(self.n.login(NODE["email"].upper(), NODE["password"]))

    def test_node_user_with_a_100_byte_password_logs_in(self):
        """bcryptjs took any length and hashed the first 72 bytes; login here
        checks a longer password the same way (SPEC §3), so such a user is not
        locked out by the switch. Register still refuses one."""
        lp = NODE["long_password_user"]
        self.assertEqual(len(lp["password"].encode()), 100)
        self.n.psql("INSERT INTO users (id, email, password_hash, name, created_at, updated_at) "
                    "VALUES ('%s', '%s', '%s', '%s', '%s', '%s') ON CONFLICT DO NOTHING" % (
                        lp["user_id"], lp["email"], lp["password_hash"], lp["name"],
                        lp["created_at"], lp["created_at"]))
        data = self.assertOk(self.n.login(lp["email"], lp["password"]))
        self.assertEqual(data["user"]["id"], lp["user_id"])
        # as with bcryptjs: the first 72 bytes decide, the rest is not looked at
        self.assertOk(self.n.login(lp["email"], lp["password"][:72] + "anything else"))
        self.assertError(self.n.login(lp["email"], lp["password"][:71]), 401,
                         "Invalid credentials")
        r = self.n.request("POST", "/api/auth/register", body={
            "email": harness.uniq_email("long"), "password": lp["password"], "name": "Long"})
        self.assertValidation(r, fields=["password"], secrets=[lp["password"]])

    def test_node_signed_token_accepted(self):
        tok = NODE["access_token"]
        data = self.assertOk(self.n.request("GET", "/api/auth/me", token=tok))
        self.assertUser(data)
        self.assertEqual(data["id"], NODE["user_id"])
        self.assertEqual(data["email"], NODE["email"])
        data = self.assertOk(self.n.request("GET", "/api/users/profile", token=tok))
        self.assertUser(data, with_profile=True)
        self.assertEqual(data["profile"]["id"], NODE["profile_id"])
        self.assertEqual(data["profile"]["notification_preferences"],
                         {"email": True, "sms": False, "push": True, "marketing": False})
        data = self.assertOk(self.n.request("GET", "/api/users/%s" % NODE["user_id"], token=tok))
        self.assertEqual(data["id"], NODE["user_id"])
        # Node behaviour: an access token and no body refreshes
        t = self.assertOk(self.n.request("POST", "/api/auth/refresh", token=tok))
        self.assertTokens(t)

    def test_node_expired_token(self):
        r = self.n.request("GET", "/api/auth/me", token=NODE["expired_access_token"])
        self.assertError(r, 401, "Token has expired")

    def test_node_token_with_other_secret_refused(self):
        other = harness.new_cluster(name="node-othersecret", redis=self.n.redis,
                                    dbname=self.n.dbname, migrate=False, worker=False,
                                    env={"JWT_SECRET": "a-different-secret-of-at-least-32-bytes!"})
        try:
            r = other.request("GET", "/api/auth/me", token=NODE["access_token"])
            self.assertError(r, 401, "Invalid token")
            self.assertOk(other.login(NODE["email"], NODE["password"]))
        finally:
            other.stop()
