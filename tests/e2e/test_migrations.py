"""`microshopctl migrate`: the migrations of migrations/user applied once into
a fresh database, the schema_migrations journal (version, name, SHA-256 of the
file), a refused edit of an applied file, and a failing migration rolled back
whole. Each test copies migrations/user into a temp dir and runs against a
database of its own on the run's PostgreSQL."""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid

import harness
from harness import E2ECase, ROOT

SRC = os.path.join(ROOT, "migrations", "user")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Migrations(E2ECase):
    def setUp(self):
        self.pg = self.c.pg
        self.db = "e2e_migr_%d_%s" % (os.getpid(), uuid.uuid4().hex[:8])
        self.pg.createdb(self.db)
        self.addCleanup(self.pg.dropdb, self.db)
        self.tmp = tempfile.mkdtemp(prefix="migr-", dir=harness.workdir())
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dir = os.path.join(self.tmp, "user")
        shutil.copytree(SRC, self.dir)
        self.files = sorted(f for f in os.listdir(self.dir) if re.match(r"^\d+_.*\.sql$", f))
        self.assertGreaterEqual(len(self.files), 2, self.files)
        self.f002 = next(f for f in self.files if f.startswith("002_"))

    # helpers ---------------------------------------------------------------
    def migrate(self):
        env = harness.base_env()
        env["DATABASE_URL"] = self.pg.url(self.db)
        r = subprocess.run([os.path.join(harness.bindir(), "microshopctl"), "migrate", "user",
                            "--dir", self.tmp], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        # into the run's logs, which are checked for sanitizer reports
        with open(os.path.join(harness.workdir(), "logs", "migrations.log"), "a") as f:
            f.write("$ microshopctl migrate user --dir %s -> %d\n%s%s" % (
                self.tmp, r.returncode, r.stdout, r.stderr))
        for p in harness.SAN_PATTERNS:
            self.assertNotIn(p, r.stderr, r.stderr)
        return r

    def sql(self, q):
        return self.pg.psql(q, self.db)

    def journal(self):
        out = self.sql("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def table_exists(self, name):
        return self.sql("SELECT to_regclass('public.%s') IS NOT NULL" % name) == "t"

    def write(self, name, text, mode="w"):
        with open(os.path.join(self.dir, name), mode) as f:
            f.write(text)

    def sha256(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def apply_all(self):
        r = self.migrate()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    # tests -----------------------------------------------------------------
    def test_migrate_applies_every_file_of_a_fresh_database(self):
        r = self.apply_all()
        for f in self.files:
            self.assertIn("  %s: applied\n" % f, r.stdout)
        self.assertIn("  %d applied, %d in all\n" % (len(self.files), len(self.files)), r.stdout)
        self.assertTrue(self.table_exists("users"))
        self.assertTrue(self.table_exists("outbox"))

    def test_migrate_a_second_time_applies_nothing_and_exits_0(self):
        self.apply_all()
        before = self.journal()
        r = self.apply_all()
        self.assertNotIn(": applied", r.stdout)
        self.assertIn("  0 applied, %d in all\n" % len(self.files), r.stdout)
        self.assertEqual(self.journal(), before)

    def test_schema_migrations_rows_carry_version_name_and_sha256_of_the_file(self):
        self.apply_all()
        rows = self.journal()
        self.assertEqual([(v, n) for v, n, _ in rows], [(f.split("_")[0], f) for f in self.files])
        for _, name, checksum in rows:
            self.assertRegex(checksum, HEX64)
            self.assertEqual(checksum, self.sha256(name))

    def test_migrate_refuses_an_applied_file_that_was_edited_and_applies_nothing(self):
        self.apply_all()
        before = self.journal()
        self.write(self.f002, "\n-- an afterthought\n", mode="a")
        self.write("901_after_edit.sql", "CREATE TABLE migr_after_edit (id int);\n")
        r = self.migrate()
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn(self.f002, r.stderr)
        self.assertIn("was edited after it was applied (checksum differs)", r.stderr)
        self.assertFalse(self.table_exists("migr_after_edit"))
        self.assertEqual(self.journal(), before)

    def test_migrate_rolls_back_a_failing_migration_whole(self):
        self.apply_all()
        before = self.journal()
        self.write("901_broken.sql", "CREATE TABLE migr_broken (id int);\n"
                                     "INSERT INTO migr_broken VALUES (1);\n"
                                     "SELEC 1;\n")
        r = self.migrate()
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("901_broken.sql", r.stderr)
        self.assertIn("syntax error", r.stderr)
        self.assertNotIn("901_broken.sql: applied", r.stdout)
        self.assertFalse(self.table_exists("migr_broken"))
        self.assertEqual(self.journal(), before)
        self.assertEqual(self.sql("SELECT count(*) FROM schema_migrations WHERE version = '901'"),
                         "0")

    def test_migrate_rolls_back_a_migration_whose_journal_row_cannot_be_written(self):
        # the file and its schema_migrations row commit together or not at all
        self.apply_all()
        before = self.journal()
        self.write("901_clash.sql", "CREATE TABLE migr_clash (id int);\n"
                                    "INSERT INTO schema_migrations (version, name, checksum) "
                                    "VALUES ('901', 'squatter', 'x');\n")
        r = self.migrate()
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertFalse(self.table_exists("migr_clash"))
        self.assertEqual(self.journal(), before)

    def test_migrate_stops_at_a_failing_migration(self):
        self.apply_all()
        self.write("901_broken.sql", "CREATE TABLE migr_broken (id int);\nSELEC 1;\n")
        self.write("902_later.sql", "CREATE TABLE migr_later (id int);\n")
        r = self.migrate()
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertFalse(self.table_exists("migr_later"))
        self.assertEqual([v for v, _, _ in self.journal()], [f.split("_")[0] for f in self.files])

    def test_migrate_applies_a_failed_migration_once_it_is_fixed(self):
        self.apply_all()
        self.write("901_broken.sql", "CREATE TABLE migr_broken (id int);\nSELEC 1;\n")
        self.assertNotEqual(self.migrate().returncode, 0)
        self.write("901_broken.sql", "CREATE TABLE migr_broken (id int);\nSELECT 1;\n")
        r = self.apply_all()
        self.assertIn("  901_broken.sql: applied\n", r.stdout)
        self.assertIn("  1 applied, %d in all\n" % (len(self.files) + 1), r.stdout)
        self.assertTrue(self.table_exists("migr_broken"))
        self.assertEqual(self.journal()[-1], ("901", "901_broken.sql", self.sha256("901_broken.sql")))
