"""The product listing is answered from an index: with 100,000 seeded products,
no plan the listing's statements can run with reads `products` by a Seq Scan.

A cluster with the product service gets `microshopctl seed --products 100000`
and VACUUM (ANALYZE), repeated until the visibility map of products is
complete (what autovacuum leaves behind; plain ANALYZE leaves the map empty,
and then every index-only scan is costed as a heap scan). Then, for every
filter combination the service can produce -- category (a top category,
sub-categories included) x search x price range (none, min, max, both) x
in_stock x sort (rank/newest, and the six sorts) -- the count and the page
statement, built exactly as fcgi-apps/product/listing.c builds them
(bench/product_listing.py, checked against what the pool really runs), are
PREPAREd with untyped parameters and EXPLAINed (FORMAT JSON) six times, as the
service runs them: ms_db_exec_sql (lib/db.c) prepares each text once per
connection, so a statement runs with a custom plan for its first five
executions ("custom") and then with the cached generic plan whenever that is
estimated no dearer ("cached", the sixth EXPLAIN). In both, every scan of
`products` must be an Index Scan, an Index Only Scan or a Bitmap Heap Scan.

The count does not depend on the sort: one test per filter set for it
(test_count_<filters>), one per filter set for the page with a subtest per
sort (test_page_<filters>).
"""

import itertools
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

sys.path.insert(0, os.path.join(harness.ROOT, "bench"))
import product_listing  # noqa: E402  (bench/product_listing.py: listing.c's SQL)

PRODUCTS = 100000
TOP_CATEGORY = "Electronics"  # the seed's largest subtree (3 of the 9 leaf categories)
SEARCH = "smart"              # in 10% of the seeded names, spread over the whole table
MIN_MINOR, MAX_MINOR = 1000, 50000  # min_price=10, max_price=500: half of the seeded prices
SORTS = (None,) + product_listing.SORTS
INDEX_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")
PLANS = ("custom", "cached")  # EXPLAIN EXECUTE number 1 and number 6 of one prepared statement

# Statements that still read products with a Seq Scan with the indexes of
# migrations/product/ (plans: docs/PERFORMANCE.md, "Product service"). Each is
# an expected failure; when an index makes it pass, the unexpected success
# counts as a failure: remove its name from here then. Empty since
# migrations/product/002 added the count indexes.
EXPECTED_SEQ_SCAN = ()

FILTERS = ("category", "search", "min_price", "max_price", "in_stock")


def filter_sets():
    """Every combination of the five filters, as a tuple of their names."""
    for mask in itertools.product((False, True), repeat=len(FILTERS)):
        yield tuple(f for f, on in zip(FILTERS, mask) if on)


def set_name(fs):
    return "_".join(fs) if fs else "no_filter"


def build_args(fs, category_id, sort=None):
    return dict(category=category_id if "category" in fs else None,
                search=SEARCH if "search" in fs else None,
                min_minor=MIN_MINOR if "min_price" in fs else None,
                max_minor=MAX_MINOR if "max_price" in fs else None,
                in_stock="in_stock" in fs, sort=sort)


products_scans = product_listing.products_scans


def plan_text(plan, depth=0):
    """A compact EXPLAIN-like rendering, for failure messages."""
    n = plan
    line = "  " * depth + "-> " + n["Node Type"]
    if "Relation Name" in n:
        line += " on " + n["Relation Name"]
    if "Index Name" in n:
        line += " using " + n["Index Name"]
    for k in ("Index Cond", "Recheck Cond", "Filter", "Hash Cond", "Merge Cond"):
        if k in n:
            line += "  [%s: %s]" % (k, n[k])
    line += "  (cost=%.0f rows=%.0f)" % (n["Total Cost"], n["Plan Rows"])
    return "\n".join([line] + [plan_text(p, depth + 1) for p in n.get("Plans", [])])


class ProductPlans(harness.E2ECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.p = harness.new_cluster(name="plans", services=("user", "product"), worker=False)
        try:
            cls._prepare()
        except BaseException:
            cls.p.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.p.stop()

    @classmethod
    def _prepare(cls):
        p = cls.p
        r = p.microshopctl("seed", "--products", str(PRODUCTS), service="product", timeout=600)
        if r.returncode != 0:
            raise RuntimeError("microshopctl seed failed (%d): %s%s" % (r.returncode, r.stdout,
                                                                         r.stderr))
        cls.db = p.dbnames["product"]
        cls.vacuums = product_listing.vacuum_catalogue(
            lambda sql: p.pg.psql(sql, cls.db, timeout=600))
        cls.category_id = p.psql("SELECT id FROM categories WHERE parent_id IS NULL AND "
                                 "name = '%s'" % TOP_CATEGORY, service="product")
        # every statement, prepared and EXPLAINed six times, in one psql session
        cls.statements = {}  # (kind, filter set, sort) -> (sql, params)
        for fs in filter_sets():
            for sort in SORTS:
                count, page, params, ncount = product_listing.build(
                    **build_args(fs, cls.category_id, sort))
                cls.statements[("count", fs, None)] = (count, params[:ncount])
                cls.statements[("page", fs, sort)] = (page, params)
        keys = sorted(cls.statements, key=repr)
        runs = product_listing.explain_prepared(
            harness.PG_BIN + "/psql", p.database_url("product"),
            [cls.statements[k] for k in keys], env=harness.base_env())
        cls.plans = {}
        for k, plans in zip(keys, runs):
            cls.plans[(k, "custom")] = plans[0]
            cls.plans[(k, "cached")] = plans[5]

    def check_plan(self, key):
        sql, params = self.statements[key]
        for which in PLANS:
            with self.subTest(plan=which):
                plan = self.plans[(key, which)]
                scans = products_scans(plan)
                detail = "%s %s sort=%s, %s plan\n%s\nparams %r\n%s" % (
                    key[0], set_name(key[1]), key[2], which, sql, params, plan_text(plan))
                self.assertTrue(scans, "products is not read at all?\n" + detail)
                bad = [s for s in scans if s[0] not in INDEX_SCANS]
                self.assertFalse(bad, "products read by %r, not from an index:\n%s" % (
                    bad, detail))

    # ---- the mirror of listing.c is what the service runs ---------------------------------
    def test_mirror_is_what_the_pool_runs(self):
        """For every filter set (default sort) and every sort (all filters): the page
        statement the pool ran (pg_stat_activity of the product database) is the
        mirror's, and the listing's total is the mirror's count statement's answer."""
        cases = [(fs, None) for fs in filter_sets()] + [(FILTERS, s) for s in SORTS[1:]]
        for fs, sort in cases:
            with self.subTest(filters=set_name(fs), sort=sort):
                args = build_args(fs, self.category_id, sort)
                r = self.p.request("GET", "/api/products" + product_listing.query_string(**args))
                data = self.assertOk(r)
                count, page, params, ncount = product_listing.build(**args)
                live = product_listing.live_statements(
                    lambda sql: self.p.psql(sql, service="product"))
                self.assertIn(page, live, "the pool ran another page statement than "
                              "bench/product_listing.py builds: update the mirror")
                total = int(self.p.psql(product_listing.inline(count, params[:ncount]),
                                        service="product"))
                self.assertEqual(data["pagination"]["total"], total)
                self.assertEqual(len(data["products"]), min(10, total))

    def test_seeded_catalogue(self):
        self.assertEqual(self.p.psql("SELECT count(*) FROM products WHERE status = 'active'",
                                     service="product"), str(PRODUCTS))
        self.assertRegex(self.category_id, harness.UUID_RE)
        self.assertEqual(self.p.psql("SELECT relallvisible >= relpages FROM pg_class WHERE "
                                     "oid = 'products'::regclass", service="product"), "t")


def _make_tests():
    for fs in filter_sets():
        name = set_name(fs)

        def count(self, fs=fs):
            self.check_plan(("count", fs, None))

        def page(self, fs=fs):
            for sort in SORTS:
                with self.subTest(sort=sort or "default"):
                    self.check_plan(("page", fs, sort))
        count.__doc__ = "count of %s: from an index" % name
        page.__doc__ = "page of %s, every sort: from an index" % name
        for fn, test in (("test_count_" + name, count), ("test_page_" + name, page)):
            if fn in EXPECTED_SEQ_SCAN:
                test = unittest.expectedFailure(test)
            setattr(ProductPlans, fn, test)
    missing = set(EXPECTED_SEQ_SCAN) - set(dir(ProductPlans))
    if missing:
        raise RuntimeError("EXPECTED_SEQ_SCAN names no test: %s" % sorted(missing))


_make_tests()


if __name__ == "__main__":
    unittest.main()
