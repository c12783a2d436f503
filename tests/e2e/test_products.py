"""The product service through nginx (SPEC §3 product): the public listing
with every filter, sort and paging rule; a product and its shape; the admin
writes of products, categories, warehouses and inventory with their
validation and conflicts; the movement ledger; read-after-write through the
Redis cache; hostile search text; concurrent adjusts of one inventory row;
Redis down; and the events on events:inventory.

Runs its own cluster (user + product pools, their databases on the run's
PostgreSQL, its own Redis and nginx), so that stopping Redis here touches no
other module."""

import math
import random
import re
import threading
import time
import uuid
from urllib.parse import quote, urlencode

import harness
from harness import TS_RE, UUID_RE, E2ECase, wait_until

_state = {}

PRODUCT_FIELDS = ("id", "sku", "name", "description", "price", "currency", "status",
                  "category_id", "category", "stock", "created_at", "updated_at")
CATEGORY_FIELDS = ("id", "name", "parent_id", "description", "created_at", "updated_at")
WAREHOUSE_FIELDS = ("id", "code", "name", "created_at")
MOVEMENT_FIELDS = ("id", "product_id", "warehouse_id", "delta", "reason", "quantity_after",
                   "actor_id", "created_at")
PRICE_RE = re.compile(rb'"price":(-?[0-9][0-9.eE+-]*)')
WIRE_PRICE_RE = re.compile(rb"^[0-9]+(\.[0-9]{1,2})?$")
PRICE_MESSAGE = "Price must be a number from 0 to 999999999.99 with at most two decimals"
NIL = "00000000-0000-0000-0000-000000000000"


def setUpModule():
    c = harness.new_cluster(name="catalogue", services=("user", "product"))
    _state["c"] = c
    _state["admin"] = c.make_admin(tag="catadmin")
    _state["user"] = c.make_user(tag="catuser")


def tearDownModule():
    c = _state.pop("c", None)
    if c is not None:
        c.stop()


def word():
    """A made-up search word no other product carries (letters only, so that
    the English stemmer leaves it alone)."""
    return "zq" + "".join(random.choice("bcdfghjklmnpqrvwxz") for _ in range(10))


def sku(tag="SKU"):
    return "%s-%s" % (tag, uuid.uuid4().hex[:12])


def ok(r, status=200):
    """data of a success envelope with this status, else AssertionError."""
    if r.status != status or not isinstance(r.body, dict) or r.body.get("success") is not True:
        raise AssertionError("expected a %d success, got %r" % (status, r))
    return r.body.get("data")


def q(params):
    return "?" + urlencode(params) if params else ""


class ProductCase(E2ECase):
    @classmethod
    def setUpClass(cls):
        cls.c = _state["c"]
        cls.admin = _state["admin"]
        cls.user = _state["user"]

    # ---- writes that must succeed (class methods: setUpClass uses them too) ----
    @classmethod
    def product(cls, name=None, price=10, **fields):
        body = {"sku": sku(), "name": name or "Product %s" % word(), "price": price}
        body.update(fields)
        return ok(cls.admin.req("POST", "/api/products", body=body), 201)

    @classmethod
    def category(cls, name=None, parent=None, **fields):
        body = {"name": name or "Cat %s" % uuid.uuid4().hex[:10]}
        if parent is not None:
            body["parent_id"] = parent["id"] if isinstance(parent, dict) else parent
        body.update(fields)
        return ok(cls.admin.req("POST", "/api/categories", body=body), 201)

    @classmethod
    def warehouse(cls, code=None, name="Warehouse"):
        body = {"code": code or "WH-%s" % uuid.uuid4().hex[:10], "name": name}
        return ok(cls.admin.req("POST", "/api/warehouses", body=body), 201)

    @classmethod
    def adjust(cls, product, wh, delta, reason="restock"):
        body = {"product_id": product["id"] if isinstance(product, dict) else product,
                "warehouse_id": wh["id"] if isinstance(wh, dict) else wh,
                "delta": delta, "reason": reason}
        return cls.admin.req("POST", "/api/inventory/adjust", body=body)

    # ---- reads ------------------------------------------------------------------
    def listing(self, params=None):
        r = self.c.request("GET", "/api/products" + q(params))
        data = self.assertOk(r)
        self.assertEqual(set(data), {"products", "pagination"}, r)
        self.assertWirePrices(r)
        return data

    def ids(self, params):
        return [p["id"] for p in self.listing(params)["products"]]

    def get(self, pid):
        return self.c.request("GET", "/api/products/%s" % pid)

    def categories(self, tree=False):
        r = self.c.request("GET", "/api/categories" + ("?tree=true" if tree else ""))
        data = self.assertOk(r)
        self.assertEqual(set(data), {"categories"}, r)
        return data["categories"]

    def db(self, sql):
        return self.c.psql(sql, service="product")

    # ---- shapes -------------------------------------------------------------------
    def assertWirePrices(self, r):
        """Every price in the raw body is a JSON number with at most two decimals."""
        for m in PRICE_RE.finditer(r.raw):
            self.assertRegex(m.group(1), WIRE_PRICE_RE, "price not in wire units: %r" % (r,))

    def assertProduct(self, p, listing=False):
        self.assertIsInstance(p, dict)
        for f in PRODUCT_FIELDS:
            if listing and f in ("category", "stock"):
                continue
            self.assertIn(f, p, "product lacks %s: %r" % (f, p))
        self.assertRegex(p["id"], UUID_RE)
        self.assertIsInstance(p["price"], (int, float))
        self.assertNotIsInstance(p["price"], bool)
        self.assertGreaterEqual(p["price"], 0)
        self.assertEqual(p["currency"], "USD")
        self.assertIn(p["status"], ("active", "archived"))
        for f in ("created_at", "updated_at"):
            self.assertRegex(p[f], TS_RE, "%s: %r" % (f, p))
        if "category" in p:
            if p["category_id"] is None:
                self.assertIsNone(p["category"], p)
            else:
                self.assertEqual(p["category"], {"id": p["category_id"],
                                                 "name": p["category"]["name"]}, p)
                self.assertIsInstance(p["category"]["name"], str)
        if "stock" in p:
            self.assertIsInstance(p["stock"], int)
            self.assertGreaterEqual(p["stock"], 0)
        for f in ("price_minor", "available", "search"):
            self.assertNotIn(f, p, "internal column %s leaked: %r" % (f, p))

    def assertCategory(self, cat):
        for f in CATEGORY_FIELDS:
            self.assertIn(f, cat, "category lacks %s: %r" % (f, cat))
        self.assertRegex(cat["id"], UUID_RE)
        if cat["parent_id"] is not None:
            self.assertRegex(cat["parent_id"], UUID_RE)
        for f in ("created_at", "updated_at"):
            self.assertRegex(cat[f], TS_RE)

    def assertPagination(self, data, total, page, limit):
        self.assertEqual(data["pagination"], {"total": total, "page": page, "limit": limit,
                                              "pages": math.ceil(total / limit)})


def find(items, cid):
    for c in items:
        if c["id"] == cid:
            return c
    return None


# ----------------------------------------------------------------------------
# the public listing
# ----------------------------------------------------------------------------

class Listing(ProductCase):
    """One category tree: root > child > grandchild, plus an unrelated root.
    p1 (root, 10.00, no stock), p2 (child, 19.99), p3 (grandchild, 5.50, in
    stock), p4 (other, 10.00), gone (root, archived)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.category()
        cls.child = cls.category(parent=cls.root)
        cls.grandchild = cls.category(parent=cls.child)
        cls.other = cls.category()
        cls.word = word()
        cls.p1 = cls.product("Alpha %s" % cls.word, 10, category_id=cls.root["id"])
        cls.p2 = cls.product("Bravo %s" % cls.word, 19.99, category_id=cls.child["id"])
        cls.p3 = cls.product("Charlie %s" % cls.word, 5.5, category_id=cls.grandchild["id"])
        cls.p4 = cls.product("Delta %s" % cls.word, 10, category_id=cls.other["id"])
        cls.gone = cls.product("Echo %s" % cls.word, 7, category_id=cls.root["id"])
        cls.wh = cls.warehouse()
        ok(cls.adjust(cls.p3, cls.wh, 3))
        ok(cls.adjust(cls.p2, cls.wh, 2))
        ok(cls.adjust(cls.p2, cls.wh, -2))  # in stock once, not any more
        ok(cls.admin.req("DELETE", "/api/products/%s" % cls.gone["id"]))

    def root_ids(self, **params):
        params["category"] = self.root["id"]
        return self.ids(params)

    def test_shape_and_default_order(self):
        data = self.listing({"category": self.root["id"]})
        self.assertEqual([p["id"] for p in data["products"]],
                         [self.p3["id"], self.p2["id"], self.p1["id"]])
        self.assertPagination(data, 3, 1, 10)
        for p in data["products"]:
            self.assertProduct(p, listing=True)
            self.assertEqual(p["status"], "active")
        by_id = {p["id"]: p for p in data["products"]}
        self.assertEqual(by_id[self.p2["id"]]["price"], 19.99)
        self.assertEqual(by_id[self.p3["id"]]["price"], 5.5)
        self.assertEqual(by_id[self.p1["id"]]["name"], "Alpha %s" % self.word)
        # no filter at all: every active product, newest first
        data = self.listing({"limit": 100})
        total = int(self.db("SELECT count(*) FROM products WHERE status = 'active'"))
        self.assertEqual(data["pagination"]["total"], total)
        stamps = [(p["created_at"]) for p in data["products"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))

    def test_category_includes_subcategories(self):
        self.assertEqual(self.ids({"category": self.child["id"]}),
                         [self.p3["id"], self.p2["id"]])
        self.assertEqual(self.ids({"category": self.grandchild["id"]}), [self.p3["id"]])
        self.assertEqual(self.ids({"category": self.other["id"]}), [self.p4["id"]])
        data = self.listing({"category": str(uuid.uuid4())})
        self.assertEqual(data["products"], [])
        self.assertPagination(data, 0, 1, 10)

    def test_price_range_inclusive_in_wire_units(self):
        p1, p2, p3 = self.p1["id"], self.p2["id"], self.p3["id"]
        cases = [
            ({"min_price": "10"}, [p2, p1]),
            ({"min_price": "10.00", "max_price": "19.99"}, [p2, p1]),
            ({"min_price": "10.01"}, [p2]),
            ({"max_price": "9.99"}, [p3]),
            ({"max_price": "10"}, [p3, p1]),
            ({"min_price": "5.5", "max_price": "5.50"}, [p3]),
            ({"min_price": "0", "max_price": "999999999.99"}, [p3, p2, p1]),
            ({"min_price": "19.99", "max_price": "19.99"}, [p2]),
            ({"min_price": "20", "max_price": "10"}, []),
        ]
        for params, want in cases:
            with self.subTest(params=params):
                self.assertEqual(self.root_ids(**params), want)
        # with the price range, the count follows the filter too
        data = self.listing({"category": self.root["id"], "min_price": "10"})
        self.assertEqual(data["pagination"]["total"], 2)

    def test_in_stock(self):
        self.assertEqual(self.root_ids(in_stock="true"), [self.p3["id"]])
        self.assertEqual(self.listing({"category": self.root["id"], "in_stock": "true"})
                         ["pagination"]["total"], 1)
        # false is a boolean too: accepted, and out-of-stock products are not dropped
        got = self.root_ids(in_stock="false")
        self.assertIn(self.p1["id"], got)
        self.assertIn(self.p2["id"], got)

    def test_every_sort(self):
        p1, p2, p3 = self.p1["id"], self.p2["id"], self.p3["id"]
        for sort, want in (("price", [p3, p1, p2]), ("-price", [p2, p1, p3]),
                           ("name", [p1, p2, p3]), ("-name", [p3, p2, p1]),
                           ("created_at", [p1, p2, p3]), ("-created_at", [p3, p2, p1])):
            with self.subTest(sort=sort):
                self.assertEqual(self.root_ids(sort=sort), want)
        # sort combines with the filters
        self.assertEqual(self.root_ids(sort="-price", max_price="10"), [p1, p3])

    def test_pagination(self):
        p1, p2, p3 = self.p1["id"], self.p2["id"], self.p3["id"]
        d = self.listing({"category": self.root["id"], "limit": 2})
        self.assertEqual([p["id"] for p in d["products"]], [p3, p2])
        self.assertPagination(d, 3, 1, 2)
        d = self.listing({"category": self.root["id"], "limit": 2, "page": 2})
        self.assertEqual([p["id"] for p in d["products"]], [p1])
        self.assertPagination(d, 3, 2, 2)
        d = self.listing({"category": self.root["id"], "limit": 2, "page": 3})
        self.assertEqual(d["products"], [])
        self.assertPagination(d, 3, 3, 2)
        d = self.listing({"category": self.root["id"], "sort": "price", "limit": 1, "page": 2})
        self.assertEqual([p["id"] for p in d["products"]], [p1])
        self.assertEqual(self.listing({"limit": 100})["pagination"]["limit"], 100)

    def test_paging_422(self):
        for query in ("limit=abc", "page=0", "limit=101", "limit=0", "page=-1", "limit=-5",
                      "page=abc", "limit=1.5", "page=99999999999999999999999", "limit=1e2",
                      "page=", "limit="):
            with self.subTest(query=query):
                r = self.c.request("GET", "/api/products?" + query)
                self.assertValidation(r, fields=[query.split("=")[0]])

    def test_bad_filters_422(self):
        cases = [("sort", "bogus"), ("sort", "PRICE"), ("sort", "price "), ("sort", "--price"),
                 ("sort", "rank"), ("sort", "price;DROP TABLE products"),
                 ("min_price", "abc"), ("min_price", "-1"), ("min_price", "1.234"),
                 ("min_price", "1e2"), ("min_price", "10,5"), ("min_price", "0x10"),
                 ("min_price", "NaN"), ("min_price", "Infinity"), ("min_price", " 5"),
                 ("max_price", "12.345"), ("max_price", "-0.01"), ("max_price", "1.2.3"),
                 ("max_price", "99999999999999999999999"),
                 ("category", "not-a-uuid"), ("category", "' OR 1=1 --"),
                 ("category", self.root["id"] + "0"), ("category", self.root["id"][:-1]),
                 ("in_stock", "1"), ("in_stock", "yes"), ("in_stock", "0"),
                 ("in_stock", "maybe")]
        for name, value in cases:
            with self.subTest(name=name, value=value):
                r = self.c.request("GET", "/api/products" + q({name: value}))
                errors = self.assertValidation(r, fields=[name])
                self.assertEqual([e["field"] for e in errors], [name], r)
        # every problem is listed at once
        r = self.c.request("GET", "/api/products" + q({"sort": "x", "min_price": "x",
                                                       "category": "x", "in_stock": "x",
                                                       "limit": "0"}))
        self.assertValidation(r, fields=["sort", "min_price", "category", "in_stock", "limit"])

    def test_archived_hidden(self):
        self.assertNotIn(self.gone["id"], self.root_ids())
        self.assertNotIn(self.gone["id"], self.ids({"search": self.word, "limit": 100}))
        self.assertNotIn(self.gone["id"], self.ids({"limit": 100, "sort": "-created_at"}))
        self.assertError(self.get(self.gone["id"]), 404, "Product not found")
        self.assertEqual(self.db("SELECT status FROM products WHERE id = '%s'"
                                 % self.gone["id"]), "archived")

    def test_search_ranks_name_above_description(self):
        w = word()
        # the description match is newer: rank, not the default order, puts the name first
        in_name = self.product("Lamp %s" % w, 3, description="A plain lamp")
        in_desc = self.product("Chair", 4, description="Goes well with a %s lamp" % w)
        self.product("Table", 5, description="Nothing to see")
        self.assertEqual(self.ids({"search": w}), [in_name["id"], in_desc["id"]])
        d = self.listing({"search": w})
        self.assertPagination(d, 2, 1, 10)
        # an explicit sort wins over the rank
        self.assertEqual(self.ids({"search": w, "sort": "-created_at"}),
                         [in_desc["id"], in_name["id"]])
        self.assertEqual(self.ids({"search": w, "sort": "price"}),
                         [in_name["id"], in_desc["id"]])
        # full-text: case and stemming do not matter
        self.assertEqual(self.ids({"search": "%s LAMPS" % w.upper()}),
                         [in_name["id"], in_desc["id"]])
        # search combines with the other filters
        self.assertEqual(self.ids({"search": w, "min_price": "3.5"}), [in_desc["id"]])
        self.assertEqual(set(self.ids({"search": self.word, "category": self.child["id"]})),
                         {self.p2["id"], self.p3["id"]})
        self.assertEqual(self.ids({"search": self.word, "in_stock": "true"}), [self.p3["id"]])

    def test_search_web_syntax(self):
        w1, w2, w3 = word(), word(), word()
        a = self.product("%s %s" % (w1, w2))
        b = self.product("%s %s" % (w1, w3))
        self.assertEqual(set(self.ids({"search": w1})), {a["id"], b["id"]})
        self.assertEqual(self.ids({"search": "%s -%s" % (w1, w2)}), [b["id"]])
        self.assertEqual(set(self.ids({"search": "%s or %s" % (w2, w3)})), {a["id"], b["id"]})
        self.assertEqual(set(self.ids({"search": "%s OR %s" % (w2, w3)})), {a["id"], b["id"]})
        self.assertEqual(self.ids({"search": '"%s %s"' % (w1, w2)}), [a["id"]])
        self.assertEqual(self.ids({"search": '"%s %s"' % (w2, w1)}), [])
        self.assertEqual(self.ids({"search": "%s %s" % (w2, w3)}), [])
        # an empty search is no filter
        self.assertEqual(self.listing({"search": "", "category": self.root["id"]})
                         ["pagination"]["total"], 3)


# ----------------------------------------------------------------------------
# one product
# ----------------------------------------------------------------------------

class ProductGet(ProductCase):
    def test_shape(self):
        cat = self.category()
        p = self.product("Shape test", 19.99, description="Deep", category_id=cat["id"])
        r = self.get(p["id"])
        data = self.assertOk(r)
        self.assertProduct(data)
        self.assertEqual(set(data), set(PRODUCT_FIELDS), data)
        self.assertEqual(data["id"], p["id"])
        self.assertEqual(data["sku"], p["sku"])
        self.assertEqual(data["name"], "Shape test")
        self.assertEqual(data["description"], "Deep")
        self.assertEqual(data["price"], 19.99)
        self.assertIn(b'"price":19.99', r.raw)
        self.assertEqual(data["status"], "active")
        self.assertEqual(data["category_id"], cat["id"])
        self.assertEqual(data["category"], {"id": cat["id"], "name": cat["name"]})
        self.assertEqual(data["stock"], 0)
        self.assertEqual(data, p)  # the same object as POST answered
        self.assertWirePrices(r)
        # served again (from the cache this time): the same bytes
        again = self.get(p["id"])
        self.assertEqual(again.body, r.body)
        # no category: null
        bare = self.product("Bare", 0)
        data = self.assertOk(self.get(bare["id"]))
        self.assertIsNone(data["category_id"])
        self.assertIsNone(data["category"])
        self.assertIsNone(data["description"])
        self.assertEqual(data["price"], 0)

    def test_stock_sums_available_over_warehouses(self):
        p = self.product()
        w1, w2 = self.warehouse(), self.warehouse()
        self.assertOk(self.adjust(p, w1, 10))
        self.assertOk(self.adjust(p, w2, 4))
        self.assertEqual(self.assertOk(self.get(p["id"]))["stock"], 14)
        # 3 reserved in w1 (as the reservation handler would, in one transaction)
        self.db("BEGIN; UPDATE inventory SET reserved = 3 WHERE product_id = '%s' AND "
                "warehouse_id = '%s'; UPDATE products SET available = available - 3 "
                "WHERE id = '%s'; COMMIT" % (p["id"], w1["id"], p["id"]))
        self.assertOk(self.adjust(p, w2, 1))  # a write drops the cached copy
        self.assertEqual(self.assertOk(self.get(p["id"]))["stock"], 7 + 5)

    def test_malformed_id_422(self):
        for bad in ("not-a-uuid", "123", "%s0" % NIL, "' OR 1=1 --", NIL.replace("-", ""),
                    NIL[:-1] + "g"):
            with self.subTest(bad=bad):
                r = self.get(quote(bad, safe=""))
                errors = self.assertValidation(r, fields=["id"])
                self.assertEqual(errors[0]["message"], "Invalid product ID")

    def test_unknown_404(self):
        self.assertError(self.get(uuid.uuid4()), 404, "Product not found")
        self.assertError(self.get(NIL), 404, "Product not found")


# ----------------------------------------------------------------------------
# admin writes of products
# ----------------------------------------------------------------------------

class AdminOnly(ProductCase):
    def test_writes_need_an_admin(self):
        pid, cid = str(uuid.uuid4()), str(uuid.uuid4())
        mod = self.c.make_user(role="moderator", tag="catmod")
        routes = [("POST", "/api/products", {"sku": sku(), "name": "x", "price": 1}),
                  ("PUT", "/api/products/%s" % pid, {"price": 1}),
                  ("DELETE", "/api/products/%s" % pid, None),
                  ("POST", "/api/categories", {"name": "x"}),
                  ("PUT", "/api/categories/%s" % cid, {"name": "x"}),
                  ("DELETE", "/api/categories/%s" % cid, None),
                  ("GET", "/api/warehouses", None),
                  ("POST", "/api/warehouses", {"code": "X", "name": "x"}),
                  ("GET", "/api/products/%s/inventory" % pid, None),
                  ("POST", "/api/inventory/adjust", {"product_id": pid, "warehouse_id": pid,
                                                     "delta": 1, "reason": "x"}),
                  ("GET", "/api/inventory/movements", None)]
        before = self.db("SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM "
                         "categories), (SELECT count(*) FROM warehouses)")
        for method, path, body in routes:
            with self.subTest(method=method, path=path):
                self.assertError(self.c.request(method, path, body=body), 401,
                                 "No token provided")
                self.assertError(self.c.request(method, path, body=body, token="x.y.z"), 401)
                self.assertError(self.user.req(method, path, body=body), 403,
                                 "Insufficient permissions")
                self.assertError(mod.req(method, path, body=body), 403,
                                 "Insufficient permissions")
        after = self.db("SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM "
                        "categories), (SELECT count(*) FROM warehouses)")
        self.assertEqual(after, before)

    def test_reads_are_public(self):
        for path in ("/api/products", "/api/categories", "/api/categories?tree=true"):
            self.assertOk(self.c.request("GET", path))
            self.assertOk(self.user.req("GET", path))


class ProductWrites(ProductCase):
    def test_create(self):
        cat = self.category()
        body = {"sku": sku("Abc.def_9"), "name": "Teapot", "description": "Holds tea",
                "price": 24.5, "category_id": cat["id"],
                # not settable: ignored
                "id": str(uuid.uuid4()), "status": "archived", "currency": "EUR",
                "stock": 99, "available": 99, "price_minor": 1, "created_at": "2001-01-01"}
        r = self.admin.req("POST", "/api/products", body=body)
        data = self.assertOk(r, 201)
        self.assertProduct(data)
        self.assertNotEqual(data["id"], body["id"])
        for f in ("sku", "name", "description", "price", "category_id"):
            self.assertEqual(data[f], body[f], f)
        self.assertEqual(data["status"], "active")
        self.assertEqual(data["currency"], "USD")
        self.assertEqual(data["stock"], 0)
        self.assertEqual(data["category"], {"id": cat["id"], "name": cat["name"]})
        self.assertEqual(data["created_at"], data["updated_at"])
        self.assertNotEqual(data["created_at"][:4], "2001")
        self.assertEqual(self.db("SELECT price_minor, available FROM products WHERE id = '%s'"
                                 % data["id"]), "2450|0")
        self.assertEqual(self.assertOk(self.get(data["id"])), data)
        # only the required fields
        data = self.assertOk(self.admin.req("POST", "/api/products", body={
            "sku": sku(), "name": "Minimal", "price": 1}), 201)
        self.assertIsNone(data["description"])
        self.assertIsNone(data["category"])
        data = self.assertOk(self.admin.req("POST", "/api/products", body={
            "sku": sku(), "name": "Nulls", "price": 1, "description": None,
            "category_id": None}), 201)
        self.assertIsNone(data["category_id"])

    def test_duplicate_sku_409(self):
        p = self.product()
        before = self.db("SELECT count(*) FROM products")
        self.assertError(self.admin.req("POST", "/api/products", body={
            "sku": p["sku"], "name": "Again", "price": 2}), 409, "SKU already exists")
        self.assertEqual(self.db("SELECT count(*) FROM products"), before)
        other = self.product()
        self.assertError(self.admin.req("PUT", "/api/products/%s" % other["id"],
                                        body={"sku": p["sku"]}), 409, "SKU already exists")
        self.assertEqual(self.assertOk(self.get(other["id"]))["sku"], other["sku"])

    def test_create_validation(self):
        cat = self.category()
        missing_cat = str(uuid.uuid4())
        base = {"sku": None, "name": "Valid", "price": 1}
        cases = [
            ({"sku": "__absent__"}, "sku"), ({"sku": ""}, "sku"), ({"sku": "a b"}, "sku"),
            ({"sku": "x" * 65}, "sku"), ({"sku": "caf\u00e9"}, "sku"), ({"sku": 123}, "sku"),
            ({"sku": "a/b"}, "sku"), ({"sku": "a'b"}, "sku"), ({"sku": "__null__"}, "sku"),
            ({"name": "__absent__"}, "name"), ({"name": ""}, "name"),
            ({"name": "x" * 256}, "name"), ({"name": 5}, "name"), ({"name": "__null__"}, "name"),
            ({"description": "x" * 10001}, "description"), ({"description": 5}, "description"),
            ({"price": "__absent__"}, "price"), ({"price": 1.234}, "price"),
            ({"price": 0.001}, "price"), ({"price": -1}, "price"), ({"price": -0.01}, "price"),
            ({"price": 1000000000}, "price"), ({"price": 1e12}, "price"),
            ({"price": 1e300}, "price"), ({"price": "5"}, "price"), ({"price": "5.00"}, "price"),
            ({"price": "__null__"}, "price"), ({"price": True}, "price"),
            ({"price": [1]}, "price"), ({"price": {"amount": 1}}, "price"),
            ({"category_id": "not-a-uuid"}, "category_id"), ({"category_id": 5}, "category_id"),
            ({"category_id": missing_cat}, "category_id"),
        ]
        before = self.db("SELECT count(*) FROM products")
        for change, field in cases:
            body = dict(base, sku=sku())
            for k, v in change.items():
                if v == "__absent__":
                    body.pop(k)
                else:
                    body[k] = None if v == "__null__" else v
            with self.subTest(change=str(change)[:80]):
                r = self.admin.req("POST", "/api/products", body=body)
                errors = self.assertValidation(r, fields=[field])
                self.assertEqual({e["field"] for e in errors}, {field}, r)
                if field == "price":
                    self.assertEqual(errors[0]["message"], PRICE_MESSAGE)
        self.assertEqual(self.db("SELECT count(*) FROM products"), before)
        # the unknown category is named with its value
        r = self.admin.req("POST", "/api/products", body=dict(base, sku=sku(),
                                                              category_id=missing_cat))
        errors = self.assertValidation(r, fields=["category_id"])
        self.assertEqual(errors[0].get("value"), missing_cat)
        # every problem at once
        r = self.admin.req("POST", "/api/products", body={"sku": "", "name": "", "price": -1})
        self.assertValidation(r, fields=["sku", "name", "price"])
        # the edges that are fine
        edges = [({"sku": "x" * 52 + uuid.uuid4().hex[:12]}, None),
                 ({"sku": "A.b_c-9" + uuid.uuid4().hex[:8]}, None),
                 ({"name": "x" * 255}, None), ({"name": "\u00e9" * 255}, None),
                 ({"name": "x"}, None), ({"description": "x" * 10000}, None),
                 ({"description": "\u00e9" * 10000}, None), ({"description": ""}, None),
                 ({"price": 0}, 0), ({"price": 0.1}, 0.1), ({"price": 0.29}, 0.29),
                 ({"price": 1.1}, 1.1), ({"price": 999999999.99}, 999999999.99),
                 ({"price": 19.990}, 19.99), ({"price": 1e2}, 100),
                 ({"category_id": cat["id"]}, None)]
        for change, price in edges:
            with self.subTest(ok=str(change)[:60]):
                body = dict(base, sku=sku())
                body.update(change)
                r = self.admin.req("POST", "/api/products", body=body)
                data = self.assertOk(r, 201)
                self.assertWirePrices(r)
                for k, v in change.items():
                    if k != "price":
                        self.assertEqual(data[k], v, k)
                if price is not None:
                    self.assertEqual(data["price"], price)

    def test_bad_bodies_400(self):
        for raw, msg in (("{", "Malformed JSON in request body"),
                         ("[1,2]", "Request body must be a JSON object"),
                         ('"x"', "Request body must be a JSON object")):
            self.assertError(self.admin.req("POST", "/api/products", raw_body=raw), 400, msg)
        r = self.admin.req("POST", "/api/products", raw_body='{"sku":"a","name":"b","price":1}',
                           headers={"Content-Type": "text/plain"})
        self.assertError(r, 400, "Content-Type must be application/json")

    def test_partial_update(self):
        cat, cat2 = self.category(), self.category()
        p = self.product("Before", 10, description="Old", category_id=cat["id"])
        pid = p["id"]

        def put(body, status=200):
            r = self.admin.req("PUT", "/api/products/%s" % pid, body=body)
            if status != 200:
                return r
            data = self.assertOk(r)
            self.assertProduct(data)
            self.assertEqual(self.assertOk(self.get(pid)), data)
            return data

        d = put({"price": 12.5})
        self.assertEqual(d["price"], 12.5)
        for f in ("sku", "name", "description", "category_id", "category", "status",
                  "created_at"):
            self.assertEqual(d[f], p[f], f)
        self.assertGreaterEqual(d["updated_at"], p["updated_at"])
        d = put({"name": "After"})
        self.assertEqual((d["name"], d["price"], d["description"]), ("After", 12.5, "Old"))
        d = put({"description": None})
        self.assertIsNone(d["description"])
        self.assertEqual(d["name"], "After")
        new_sku = sku("NEW")
        d = put({"sku": new_sku, "description": "New"})
        self.assertEqual((d["sku"], d["description"]), (new_sku, "New"))
        d = put({"category_id": cat2["id"]})
        self.assertEqual(d["category"], {"id": cat2["id"], "name": cat2["name"]})
        d = put({"category_id": None})
        self.assertIsNone(d["category_id"])
        self.assertIsNone(d["category"])
        d = put({"price": 0})
        self.assertEqual(d["price"], 0)
        d = put({})
        self.assertEqual(d["name"], "After")
        # mass assignment: ignored
        d = put({"id": str(uuid.uuid4()), "currency": "EUR", "stock": 5, "created_at": "x"})
        self.assertEqual((d["id"], d["currency"], d["stock"]), (pid, "USD", 0))
        # status: archived hides it, active brings it back
        w = word()
        put({"name": "Archivable %s" % w})
        self.assertEqual(self.ids({"search": w}), [pid])
        d = put({"status": "archived"}, status=None)
        self.assertEqual(self.assertOk(d)["status"], "archived")
        self.assertError(self.get(pid), 404, "Product not found")
        self.assertEqual(self.ids({"search": w}), [])
        d = self.assertOk(self.admin.req("PUT", "/api/products/%s" % pid,
                                         body={"status": "active"}))
        self.assertEqual(d["status"], "active")
        self.assertEqual(self.ids({"search": w}), [pid])
        self.assertEqual(self.assertOk(self.get(pid))["status"], "active")

    def test_update_validation_changes_nothing(self):
        p = self.product("Keep", 3)
        path = "/api/products/%s" % p["id"]
        cases = [({"price": 1.234}, "price"), ({"price": -1}, "price"),
                 ({"price": None}, "price"), ({"price": "2"}, "price"),
                 ({"price": 1000000000}, "price"),
                 ({"name": ""}, "name"), ({"name": None}, "name"), ({"name": "x" * 256}, "name"),
                 ({"sku": "bad sku"}, "sku"), ({"sku": None}, "sku"), ({"sku": ""}, "sku"),
                 ({"description": "x" * 10001}, "description"),
                 ({"status": "deleted"}, "status"), ({"status": None}, "status"),
                 ({"status": "ACTIVE"}, "status"), ({"status": 1}, "status"),
                 ({"category_id": "nope"}, "category_id"),
                 ({"category_id": str(uuid.uuid4())}, "category_id"),
                 ({"name": "Changed", "price": 1.001}, "price")]
        for body, field in cases:
            with self.subTest(body=str(body)[:60]):
                errors = self.assertValidation(self.admin.req("PUT", path, body=body),
                                               fields=[field])
                self.assertEqual({e["field"] for e in errors}, {field})
        self.assertEqual(self.assertOk(self.get(p["id"])), p)

    def test_update_unknown_and_malformed(self):
        self.assertError(self.admin.req("PUT", "/api/products/%s" % uuid.uuid4(),
                                        body={"price": 1}), 404, "Product not found")
        errors = self.assertValidation(self.admin.req("PUT", "/api/products/nope",
                                                      body={"price": 1}), fields=["id"])
        self.assertEqual(errors[0]["message"], "Invalid product ID")

    def test_delete_archives(self):
        w = word()
        p = self.product("Doomed %s" % w, 9)
        self.assertEqual(self.assertOk(self.get(p["id"]))["status"], "active")  # cached
        self.assertEqual(self.ids({"search": w}), [p["id"]])
        r = self.admin.req("DELETE", "/api/products/%s" % p["id"])
        data = self.assertOk(r, 200, "Product archived")
        self.assertEqual(data["id"], p["id"])
        self.assertEqual(data["status"], "archived")
        self.assertError(self.get(p["id"]), 404, "Product not found")
        self.assertEqual(self.ids({"search": w}), [])
        # soft: the row stays (orders keep pointing at it)
        self.assertEqual(self.db("SELECT status, sku FROM products WHERE id = '%s'" % p["id"]),
                         "archived|%s" % p["sku"])
        # its sku stays taken
        self.assertError(self.admin.req("POST", "/api/products", body={
            "sku": p["sku"], "name": "x", "price": 1}), 409)
        self.assertError(self.admin.req("DELETE", "/api/products/%s" % uuid.uuid4()), 404,
                         "Product not found")
        errors = self.assertValidation(self.admin.req("DELETE", "/api/products/123"),
                                       fields=["id"])
        self.assertEqual(errors[0]["message"], "Invalid product ID")


# ----------------------------------------------------------------------------
# categories
# ----------------------------------------------------------------------------

class Categories(ProductCase):
    def tree_node(self, roots, cid):
        for n in roots:
            if n["id"] == cid:
                return n
            found = self.tree_node(n["children"], cid)
            if found:
                return found
        return None

    def test_flat_and_tree(self):
        a = self.category(description="Top")
        b = self.category(parent=a)
        c = self.category(parent=b)
        d = self.category(parent=a)
        e = self.category()
        self.assertCategory(a)
        self.assertEqual(a["description"], "Top")
        self.assertIsNone(a["parent_id"])
        self.assertEqual(b["parent_id"], a["id"])
        flat = self.categories()
        for cat in flat:
            self.assertCategory(cat)
            self.assertNotIn("children", cat)
        for made in (a, b, c, d, e):
            self.assertEqual(find(flat, made["id"]), made)
        self.assertEqual(len(flat), int(self.db("SELECT count(*) FROM categories")))
        self.assertEqual(self.assertOk(self.c.request("GET", "/api/categories?tree=false"))
                         ["categories"], flat)
        roots = self.categories(tree=True)
        for n in roots:
            self.assertIsNone(n["parent_id"], n)
        na = find(roots, a["id"])
        self.assertIsNotNone(na, "root category missing from the tree")
        self.assertIsNotNone(find(roots, e["id"]))
        self.assertIsNone(find(roots, b["id"]), "a child listed as a root")
        self.assertEqual({n["id"] for n in na["children"]}, {b["id"], d["id"]})
        nb = find(na["children"], b["id"])
        self.assertEqual([n["id"] for n in nb["children"]], [c["id"]])
        self.assertEqual(nb["children"][0]["children"], [])
        for f in CATEGORY_FIELDS:
            self.assertEqual(nb[f], b[f], f)

        def count(nodes):
            return sum(1 + count(n["children"]) for n in nodes)
        self.assertEqual(count(roots), len(flat))
        errors = self.assertValidation(self.c.request("GET", "/api/categories?tree=yes"),
                                       fields=["tree"])
        self.assertEqual(errors[0]["field"], "tree")

    def test_create_validation(self):
        parent = self.category()
        cases = [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"),
                 ({"name": 5}, "name"), ({"name": None}, "name"),
                 ({"name": "ok", "parent_id": "nope"}, "parent_id"),
                 ({"name": "ok", "parent_id": 7}, "parent_id"),
                 ({"name": "ok", "parent_id": str(uuid.uuid4())}, "parent_id"),
                 ({"name": "ok", "description": "x" * 10001}, "description")]
        before = self.db("SELECT count(*) FROM categories")
        for body, field in cases:
            with self.subTest(body=str(body)[:60]):
                self.assertValidation(self.admin.req("POST", "/api/categories", body=body),
                                      fields=[field])
        self.assertEqual(self.db("SELECT count(*) FROM categories"), before)
        missing = str(uuid.uuid4())
        errors = self.assertValidation(self.admin.req("POST", "/api/categories", body={
            "name": "Orphan", "parent_id": missing}), fields=["parent_id"])
        self.assertEqual(errors[0].get("value"), missing)
        for name in ("x" * 100, "\u00e9" * 100, "y"):
            self.category(name=name, parent=parent)
        self.assertOk(self.admin.req("POST", "/api/categories", body={
            "name": "Null parent %s" % word(), "parent_id": None}), 201)

    def test_sibling_duplicate_409(self):
        root = self.category()
        other = self.category()
        kid = self.category(name="Lamps", parent=root)
        self.assertError(self.admin.req("POST", "/api/categories", body={
            "name": "Lamps", "parent_id": root["id"]}), 409, "Category name already exists")
        self.assertError(self.admin.req("POST", "/api/categories", body={
            "name": "LAMPS", "parent_id": root["id"]}), 409, "Category name already exists")
        # the same name under another parent is fine
        self.category(name="Lamps", parent=other)
        # and among the roots
        self.assertError(self.admin.req("POST", "/api/categories", body={
            "name": root["name"]}), 409, "Category name already exists")
        # renaming onto a sibling's name, or moving next to a namesake
        sib = self.category(name="Chairs", parent=root)
        self.assertError(self.admin.req("PUT", "/api/categories/%s" % sib["id"], body={
            "name": "lamps", "description": "d"}), 409, "Category name already exists")
        self.assertError(self.admin.req("PUT", "/api/categories/%s" % sib["id"], body={
            "parent_id": other["id"], "description": "d", "name": "Lamps"}), 409,
            "Category name already exists")
        self.assertEqual(find(self.categories(), sib["id"])["name"], "Chairs")
        self.assertEqual(find(self.categories(), kid["id"])["parent_id"], root["id"])

    def test_partial_update_of_one_field(self):
        """PUT is a partial update: each field alone, and any two, update."""
        a, b = self.category(), self.category()
        cat = self.category(parent=a, description="keep")
        path = "/api/categories/%s" % cat["id"]
        new_name = "Renamed %s" % word()
        steps = [({"name": new_name}, {"name": new_name, "parent_id": a["id"],
                                       "description": "keep"}),
                 ({"description": "changed"}, {"name": new_name, "description": "changed"}),
                 ({"parent_id": b["id"]}, {"name": new_name, "parent_id": b["id"]}),
                 ({"parent_id": None}, {"parent_id": None, "description": "changed"}),
                 ({"name": new_name + "2", "parent_id": a["id"]},
                  {"name": new_name + "2", "parent_id": a["id"], "description": "changed"}),
                 ({"description": None}, {"description": None, "parent_id": a["id"]})]
        for body, want in steps:
            r = self.admin.req("PUT", path, body=body)
            self.assertEqual(r.status, 200, "PUT %s: %r" % (body, r))
            data = self.assertOk(r)
            self.assertCategory(data)
            for k, v in want.items():
                self.assertEqual(data[k], v, "PUT %s: %s" % (body, k))
            self.assertEqual(find(self.categories(), cat["id"]), data)

    def test_cycles_422(self):
        a = self.category()
        b = self.category(parent=a)
        c = self.category(parent=b)
        before = self.categories()
        for moved, under in ((a, a), (a, b), (a, c), (b, c), (c, c)):
            with self.subTest(moved=moved["name"], under=under["name"]):
                r = self.admin.req("PUT", "/api/categories/%s" % moved["id"],
                                   body={"parent_id": under["id"]})
                errors = self.assertValidation(r, fields=["parent_id"])
                self.assertEqual(errors[0]["message"], "A category cannot be its own ancestor")
                self.assertEqual(errors[0].get("value"), under["id"])
        missing = str(uuid.uuid4())
        errors = self.assertValidation(self.admin.req(
            "PUT", "/api/categories/%s" % b["id"], body={"parent_id": missing}),
            fields=["parent_id"])
        self.assertEqual(errors[0].get("value"), missing)
        self.assertValidation(self.admin.req("PUT", "/api/categories/%s" % b["id"],
                                             body={"parent_id": "nope"}), fields=["parent_id"])
        self.assertEqual(self.categories(), before)
        # a legal move: c up under its grandparent a
        d = self.assertOk(self.admin.req("PUT", "/api/categories/%s" % c["id"],
                                         body={"parent_id": a["id"], "description": "moved"}))
        self.assertEqual(d["parent_id"], a["id"])
        # and now b under c is no cycle any more
        d = self.assertOk(self.admin.req("PUT", "/api/categories/%s" % b["id"],
                                         body={"parent_id": c["id"], "description": "moved"}))
        self.assertEqual(d["parent_id"], c["id"])

    def test_update_unknown_and_malformed(self):
        self.assertError(self.admin.req("PUT", "/api/categories/%s" % uuid.uuid4(),
                                        body={"description": "x"}), 404, "Category not found")
        for body in ({"name": ""}, {"name": "x" * 101}, {"name": None},
                     {"description": "x" * 10001}):
            cat = self.category()
            self.assertValidation(self.admin.req("PUT", "/api/categories/%s" % cat["id"],
                                                 body=body))
        errors = self.assertValidation(self.admin.req("PUT", "/api/categories/nope",
                                                      body={"name": "x"}), fields=["id"])
        self.assertEqual(errors[0]["message"], "Invalid category ID")

    def test_delete(self):
        parent = self.category()
        kid = self.category(parent=parent)
        with_product = self.category()
        self.product(category_id=with_product["id"])
        self.assertError(self.admin.req("DELETE", "/api/categories/%s" % parent["id"]), 409,
                         "Category has sub-categories")
        self.assertError(self.admin.req("DELETE", "/api/categories/%s" % with_product["id"]),
                         409, "Category has products")
        r = self.admin.req("DELETE", "/api/categories/%s" % kid["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, {"success": True, "message": "Category deleted successfully"})
        self.assertIsNone(find(self.categories(), kid["id"]))
        self.assertError(self.admin.req("DELETE", "/api/categories/%s" % kid["id"]), 404,
                         "Category not found")
        # with the child gone, the parent can go
        self.assertOk(self.admin.req("DELETE", "/api/categories/%s" % parent["id"]))
        self.assertIsNotNone(find(self.categories(), with_product["id"]))
        errors = self.assertValidation(self.admin.req("DELETE", "/api/categories/nope"),
                                       fields=["id"])
        self.assertEqual(errors[0]["message"], "Invalid category ID")


# ----------------------------------------------------------------------------
# warehouses and inventory
# ----------------------------------------------------------------------------

class Warehouses(ProductCase):
    def test_create_and_list(self):
        made = [self.warehouse(code="ZZ-%s-%d" % (uuid.uuid4().hex[:8], i), name="Depot %d" % i)
                for i in range(3)]
        w = made[0]
        self.assertEqual(set(w), set(WAREHOUSE_FIELDS))
        self.assertRegex(w["id"], UUID_RE)
        self.assertRegex(w["created_at"], TS_RE)
        self.assertEqual(w["name"], "Depot 0")
        total = int(self.db("SELECT count(*) FROM warehouses"))
        data = self.assertOk(self.admin.req("GET", "/api/warehouses?limit=100"))
        self.assertEqual(set(data), {"warehouses", "pagination"})
        self.assertPagination(data, total, 1, 100)
        codes = [x["code"] for x in data["warehouses"]]
        self.assertEqual(codes, sorted(codes))
        for m in made:
            self.assertIn(m, data["warehouses"])
        d = self.assertOk(self.admin.req("GET", "/api/warehouses?limit=1&page=2"))
        self.assertEqual(len(d["warehouses"]), 1)
        self.assertEqual(d["warehouses"][0]["code"], codes[1])
        self.assertPagination(d, total, 2, 1)
        d = self.assertOk(self.admin.req("GET", "/api/warehouses"))
        self.assertEqual(d["pagination"]["limit"], 10)
        for query in ("limit=0", "limit=101", "page=0", "page=x"):
            self.assertValidation(self.admin.req("GET", "/api/warehouses?" + query),
                                  fields=[query.split("=")[0]])

    def test_duplicate_code_409(self):
        w = self.warehouse()
        self.assertError(self.admin.req("POST", "/api/warehouses",
                                        body={"code": w["code"], "name": "Again"}),
                         409, "Warehouse code already exists")

    def test_validation(self):
        cases = [({"name": "n"}, "code"), ({"code": "", "name": "n"}, "code"),
                 ({"code": "a b", "name": "n"}, "code"), ({"code": "x" * 33, "name": "n"}, "code"),
                 ({"code": "a.b", "name": "n"}, "code"),
                 ({"code": "caf\u00e9", "name": "n"}, "code"),
                 ({"code": 5, "name": "n"}, "code"), ({"code": None, "name": "n"}, "code"),
                 ({"code": "OK1"}, "name"), ({"code": "OK2", "name": ""}, "name"),
                 ({"code": "OK3", "name": "x" * 256}, "name"), ({"code": "OK4", "name": 1}, "name")]
        before = self.db("SELECT count(*) FROM warehouses")
        for body, field in cases:
            with self.subTest(body=str(body)[:60]):
                errors = self.assertValidation(self.admin.req("POST", "/api/warehouses",
                                                              body=body), fields=[field])
                self.assertEqual({e["field"] for e in errors}, {field})
        self.assertEqual(self.db("SELECT count(*) FROM warehouses"), before)
        self.warehouse(code=("W_" + uuid.uuid4().hex)[:32].ljust(32, "x"), name="x" * 255)
        self.warehouse(code="a" + uuid.uuid4().hex[:6] + "-_Z")


class Inventory(ProductCase):
    def inventory(self, pid):
        r = self.admin.req("GET", "/api/products/%s/inventory" % pid)
        data = self.assertOk(r)
        self.assertEqual(set(data), {"product_id", "inventory"})
        self.assertEqual(data["product_id"], pid)
        return data["inventory"]

    def ledger(self, pid, wid=None):
        where = "product_id = '%s'" % pid + (" AND warehouse_id = '%s'" % wid if wid else "")
        rows = self.db("SELECT delta, reason, quantity_after, coalesce(actor_id::text, '') "
                       "FROM inventory_movements WHERE %s ORDER BY id" % where)
        return [tuple(line.split("|")) for line in rows.splitlines() if line]

    def reserve(self, pid, wid, n):
        """What the reservation handler does, in one transaction."""
        self.db("BEGIN; UPDATE inventory SET reserved = reserved + %d WHERE product_id = '%s' "
                "AND warehouse_id = '%s'; UPDATE products SET available = available - %d "
                "WHERE id = '%s'; COMMIT" % (n, pid, wid, n, pid))

    def test_per_warehouse(self):
        p = self.product()
        w1 = self.warehouse(code="A-%s" % uuid.uuid4().hex[:8])
        w2 = self.warehouse(code="B-%s" % uuid.uuid4().hex[:8])
        self.assertEqual(self.inventory(p["id"]), [])
        self.assertOk(self.adjust(p, w1, 10))
        self.assertOk(self.adjust(p, w2, 4))
        self.reserve(p["id"], w1["id"], 3)
        rows = self.inventory(p["id"])
        self.assertEqual([(r["warehouse_id"], r["quantity"], r["reserved"], r["available"])
                          for r in rows],
                         [(w1["id"], 10, 3, 7), (w2["id"], 4, 0, 4)])
        for r in rows:
            self.assertIn("warehouse_code", r)
        self.assertEqual(self.assertOk(self.get(p["id"]))["stock"], 11)
        self.assertError(self.admin.req("GET", "/api/products/%s/inventory" % uuid.uuid4()),
                         404, "Product not found")
        errors = self.assertValidation(self.admin.req("GET", "/api/products/x/inventory"),
                                       fields=["id"])
        self.assertEqual(errors[0]["message"], "Invalid product ID")

    def test_adjust(self):
        p = self.product()
        w = self.warehouse()
        r = self.adjust(p, w, 7, reason="initial count")
        data = self.assertOk(r)
        self.assertEqual(data, {"product_id": p["id"], "warehouse_id": w["id"], "delta": 7,
                                "quantity": 7, "reserved": 0, "available": 7, "stock": 7})
        data = self.assertOk(self.adjust(p, w, -2, reason="broken"))
        self.assertEqual((data["delta"], data["quantity"], data["available"], data["stock"]),
                         (-2, 5, 5, 5))
        self.assertEqual(self.ledger(p["id"]), [("7", "initial count", "7", self.admin.id),
                                                ("-2", "broken", "5", self.admin.id)])
        self.assertEqual(self.db("SELECT quantity, reserved FROM inventory WHERE "
                                 "product_id = '%s'" % p["id"]), "5|0")
        self.assertEqual(self.assertOk(self.get(p["id"]))["stock"], 5)
        # an archived product's stock can still be counted
        self.assertOk(self.admin.req("DELETE", "/api/products/%s" % p["id"]))
        self.assertOk(self.adjust(p, w, 1))

    def test_adjust_below_reserved_409(self):
        p = self.product()
        w = self.warehouse()
        self.assertOk(self.adjust(p, w, 10))
        self.reserve(p["id"], w["id"], 3)
        ledger = self.ledger(p["id"])
        self.assertError(self.adjust(p, w, -8), 409,
                         "Quantity cannot drop below the reserved stock")
        self.assertError(self.adjust(p, w, -1000), 409)
        self.assertEqual(self.ledger(p["id"]), ledger)
        self.assertEqual(self.db("SELECT quantity, reserved FROM inventory WHERE "
                                 "product_id = '%s'" % p["id"]), "10|3")
        data = self.assertOk(self.adjust(p, w, -7))
        self.assertEqual((data["quantity"], data["reserved"], data["available"], data["stock"]),
                         (3, 3, 0, 0))
        self.assertEqual(self.assertOk(self.get(p["id"]))["stock"], 0)
        # below zero on a row that does not exist yet
        w2 = self.warehouse()
        self.assertError(self.adjust(p, w2, -1), 409)
        self.assertEqual(self.ledger(p["id"], w2["id"]), [])

    def test_adjust_validation(self):
        p = self.product()
        w = self.warehouse()
        good = {"product_id": p["id"], "warehouse_id": w["id"], "delta": 1, "reason": "r"}
        missing = str(uuid.uuid4())
        cases = [({"delta": 0}, "delta"), ({"delta": 1.5}, "delta"), ({"delta": "5"}, "delta"),
                 ({"delta": None}, "delta"), ({"delta": True}, "delta"), ({"delta": 1e10}, "delta"),
                 ({"delta": -1e10}, "delta"), ({"delta": [1]}, "delta"),
                 ({"reason": ""}, "reason"), ({"reason": "x" * 256}, "reason"),
                 ({"reason": 5}, "reason"), ({"reason": None}, "reason"),
                 ({"product_id": "nope"}, "product_id"), ({"product_id": missing}, "product_id"),
                 ({"product_id": None}, "product_id"),
                 ({"warehouse_id": "nope"}, "warehouse_id"),
                 ({"warehouse_id": missing}, "warehouse_id"),
                 ({"warehouse_id": p["id"]}, "warehouse_id")]
        for change, field in cases:
            with self.subTest(change=str(change)[:60]):
                body = dict(good)
                body.update(change)
                r = self.admin.req("POST", "/api/inventory/adjust", body=body)
                errors = self.assertValidation(r, fields=[field])
                self.assertEqual({e["field"] for e in errors}, {field}, r)
        for field in good:
            with self.subTest(absent=field):
                body = dict(good)
                body.pop(field)
                self.assertValidation(self.admin.req("POST", "/api/inventory/adjust", body=body),
                                      fields=[field])
        errors = self.assertValidation(self.admin.req("POST", "/api/inventory/adjust", body=dict(
            good, product_id=missing)), fields=["product_id"])
        self.assertEqual(errors[0].get("value"), missing)
        self.assertEqual(self.ledger(p["id"]), [])
        self.assertOk(self.adjust(p, w, 1, reason="x" * 255))
        self.assertOk(self.adjust(p, w, -1, reason="\u00e9" * 255))

    def test_adjust_past_the_integer_range_is_refused_with_the_field(self):
        """A delta that would take the quantity past the column's range is a
        validation error that names delta (or a 409), never a bare 422/500."""
        p = self.product()
        w = self.warehouse()
        self.assertOk(self.adjust(p, w, 1000000000))
        self.assertOk(self.adjust(p, w, 1000000000))
        r = self.adjust(p, w, 1000000000)
        self.assertIn(r.status, (409, 422), r)
        if r.status == 422:
            self.assertValidation(r, fields=["delta"])
        else:
            self.assertError(r, 409)
        self.assertEqual(self.db("SELECT quantity FROM inventory WHERE product_id = '%s'"
                                 % p["id"]), "2000000000")
        self.assertEqual(len(self.ledger(p["id"])), 2)

    def test_movements(self):
        p, other = self.product(), self.product()
        w = self.warehouse()
        for delta in (5, -2, 4):
            self.assertOk(self.adjust(p, w, delta, reason="d%d" % delta))
        self.assertOk(self.adjust(other, w, 1))
        r = self.admin.req("GET", "/api/inventory/movements?product_id=%s" % p["id"])
        data = self.assertOk(r)
        self.assertEqual(set(data), {"movements", "pagination"})
        self.assertPagination(data, 3, 1, 10)
        ms = data["movements"]
        self.assertEqual([(m["delta"], m["quantity_after"], m["reason"]) for m in ms],
                         [(4, 7, "d4"), (-2, 3, "d-2"), (5, 5, "d5")])  # newest first
        for m in ms:
            self.assertEqual(set(m), set(MOVEMENT_FIELDS))
            self.assertEqual((m["product_id"], m["warehouse_id"], m["actor_id"]),
                             (p["id"], w["id"], self.admin.id))
            self.assertRegex(m["created_at"], TS_RE)
        d = self.assertOk(self.admin.req(
            "GET", "/api/inventory/movements?product_id=%s&limit=2&page=2" % p["id"]))
        self.assertEqual([m["delta"] for m in d["movements"]], [5])
        self.assertPagination(d, 3, 2, 2)
        d = self.assertOk(self.admin.req("GET", "/api/inventory/movements?limit=1"))
        total = int(self.db("SELECT count(*) FROM inventory_movements"))
        self.assertPagination(d, total, 1, 1)
        self.assertEqual(d["movements"][0]["product_id"], other["id"])
        d = self.assertOk(self.admin.req("GET", "/api/inventory/movements?product_id=%s"
                                         % uuid.uuid4()))
        self.assertEqual(d["movements"], [])
        for query in ("product_id=nope", "limit=0", "page=abc", "limit=101"):
            self.assertValidation(self.admin.req("GET", "/api/inventory/movements?" + query),
                                  fields=[query.split("=")[0]])


# ----------------------------------------------------------------------------
# read-after-write through the cache
# ----------------------------------------------------------------------------

class CacheInvalidation(ProductCase):
    READS = 4  # more than the pool's workers: every worker's answer is seen

    def reads(self, pid):
        out = []
        for _ in range(self.READS):
            out.append(self.assertOk(self.get(pid)))
        return out

    def cached(self, key):
        return self.c.redis_cmd("EXISTS", key) == 1

    def test_product_write_then_read(self):
        p = self.product("Cached", 10)
        self.reads(p["id"])
        self.assertTrue(self.cached("ms:product:%s" % p["id"]), "GET did not cache the product")
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"],
                                     body={"price": 11.25, "name": "Cached 2"}))
        for d in self.reads(p["id"]):
            self.assertEqual((d["price"], d["name"]), (11.25, "Cached 2"))
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"],
                                     body={"status": "archived"}))
        self.assertError(self.get(p["id"]), 404)
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"],
                                     body={"status": "active"}))
        self.reads(p["id"])
        self.assertOk(self.admin.req("DELETE", "/api/products/%s" % p["id"]))
        for _ in range(self.READS):
            self.assertError(self.get(p["id"]), 404, "Product not found")

    def test_adjust_then_read(self):
        p = self.product()
        w = self.warehouse()
        self.assertEqual({d["stock"] for d in self.reads(p["id"])}, {0})
        self.assertOk(self.adjust(p, w, 6))
        self.assertEqual({d["stock"] for d in self.reads(p["id"])}, {6})
        self.assertOk(self.adjust(p, w, -4))
        self.assertEqual({d["stock"] for d in self.reads(p["id"])}, {2})

    def test_category_rename_then_read(self):
        parent = self.category()
        cat = self.category(parent=parent)
        p = self.product(category_id=cat["id"])
        self.reads(p["id"])
        self.categories()
        self.categories(tree=True)
        self.assertTrue(self.cached("ms:categories:flat"))
        self.assertTrue(self.cached("ms:categories:tree"))
        new = "Renamed %s" % word()
        # description too: a name-only PUT meets the bug test_partial_update_of_one_field shows
        self.assertOk(self.admin.req("PUT", "/api/categories/%s" % cat["id"],
                                     body={"name": new, "description": "renamed"}))
        for d in self.reads(p["id"]):
            self.assertEqual(d["category"], {"id": cat["id"], "name": new})
        self.assertEqual(find(self.categories(), cat["id"])["name"], new)
        node = find(find(self.categories(tree=True), parent["id"])["children"], cat["id"])
        self.assertEqual(node["name"], new)
        # a move shows in the tree at once
        self.assertOk(self.admin.req("PUT", "/api/categories/%s" % cat["id"],
                                     body={"parent_id": None, "description": "moved"}))
        self.assertIsNotNone(find(self.categories(tree=True), cat["id"]))
        self.assertIsNone(find(self.categories(), cat["id"])["parent_id"])
        # the product moving to another category shows that category's name
        other = self.category()
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"],
                                     body={"category_id": other["id"]}))
        for d in self.reads(p["id"]):
            self.assertEqual(d["category"], {"id": other["id"], "name": other["name"]})

    def test_category_create_delete_then_list(self):
        parent = self.category()
        self.categories()
        self.categories(tree=True)
        kid = self.category(parent=parent)
        self.assertIsNotNone(find(self.categories(), kid["id"]))
        self.assertEqual([n["id"] for n in find(self.categories(tree=True),
                                                parent["id"])["children"]], [kid["id"]])
        self.assertOk(self.admin.req("DELETE", "/api/categories/%s" % kid["id"]))
        self.assertIsNone(find(self.categories(), kid["id"]))
        self.assertEqual(find(self.categories(tree=True), parent["id"])["children"], [])

    def test_read_after_write_for_any_spelling_of_the_id(self):
        """A UUID in upper case is the same product: reading it that way must
        not leave a copy that the next write does not drop."""
        p = self.product("Spelled", 10)
        w = self.warehouse()
        upper = p["id"].upper()
        self.assertEqual(self.assertOk(self.get(upper))["id"], p["id"])
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"], body={"price": 12}))
        for _ in range(self.READS):
            self.assertEqual(self.assertOk(self.get(upper))["price"], 12)
        # and the other way round: the write names the product in upper case
        self.reads(p["id"])
        self.assertOk(self.adjust(upper, w, 3))
        for d in self.reads(p["id"]):
            self.assertEqual(d["stock"], 3)
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % upper, body={"price": 13}))
        for d in self.reads(p["id"]):
            self.assertEqual(d["price"], 13)


# ----------------------------------------------------------------------------
# hostile search text
# ----------------------------------------------------------------------------

class HostileSearch(ProductCase):
    def test_hostile_search_is_just_a_search(self):
        w = word()
        target = self.product("Caf\u00e9 \u00fcber %s" % w, 3,
                              description="drop table products; the o'reilly edition")
        tables = "SELECT count(*), to_regclass('products') IS NOT NULL FROM products"
        before = self.db(tables)
        inputs = ['"', '""', "'", "''", '"unclosed %s' % w, "%s'" % w, "OR", "OR OR OR",
                  "-", "- - -", "---%s" % w, "-%s" % w, "!", "!!", "&", "&&", "|", "||",
                  ":*", "%s:*" % w, "<->", "a <-> b", "(", ")", "((%s))" % w, "\\", "\\\\",
                  "%", "_", "%%%s%%" % w, "*", "'; DROP TABLE products; --",
                  "' OR '1'='1", "1; SELECT pg_sleep(5)", "$1", "$$", "::text", "/*", "*/",
                  "\u00e9\u00e8\u00ea", "\U0001f6d2", "\u5546\u54c1", "\u0645\u0646\u062a\u062c",
                  "e\u0301", "a\u200db", "\ufeff", "\t\n", "   ", "x" * 500,
                  ("%s " % w) * 35, "\u00e9" * 250, "the and of"]
        for s in inputs:
            with self.subTest(search=s[:40]):
                r = self.c.request("GET", "/api/products?search=%s" % quote(s, safe=""))
                self.assertEqual(r.status, 200, r)
                self.assertIs(r.body.get("success"), True, r)
                self.assertIsInstance(r.body["data"]["products"], list)
        # the ones that name the target find it
        for s in ("caf\u00e9 %s" % w, "\u00fcber %s" % w.upper(), "%s -nothing" % w,
                  "'; DROP TABLE products; -- %s" % w, '"caf\u00e9 \u00fcber"',
                  "%s OR zzzzzzzz" % w, "o'reilly %s" % w):
            with self.subTest(finds=s):
                self.assertIn(target["id"], self.ids({"search": s}))
        # over 500 characters: the documented 422
        for s in ("x" * 501, "\u00e9" * 501):
            r = self.c.request("GET", "/api/products?search=%s" % quote(s, safe=""))
            self.assertValidation(r, fields=["search"])
        # invalid UTF-8 and a NUL byte are a malformed query (400, lib/utf8.h): never 500
        r = self.c.request("GET", "/api/products?search=%FF%FE")
        self.assertError(r, 400, "Query string is not valid UTF-8")
        r = self.c.request("GET", "/api/products?search=a%00b")
        self.assertIn(r.status, (400, 422), r)
        self.assertEqual(self.db(tables), before)
        self.assertOk(self.get(target["id"]))

    def test_search_limit_counts_characters(self):
        """500 characters is within the limit whatever their UTF-8 length."""
        for s in ("\u00e9" * 500, "a" * 499 + "\u00e9", "\u5546" * 300):
            with self.subTest(chars=len(s), bytes=len(s.encode())):
                r = self.c.request("GET", "/api/products?search=%s" % quote(s, safe=""))
                self.assertOk(r)


# ----------------------------------------------------------------------------
# concurrency
# ----------------------------------------------------------------------------

class ConcurrentAdjust(ProductCase):
    def test_20_concurrent_adjusts_of_one_row(self):
        p = self.product()
        w = self.warehouse()
        self.assertOk(self.adjust(p, w, 5))
        deltas = [3 if i % 2 == 0 else -4 for i in range(20)]  # some -4 may find too little
        results = [None] * len(deltas)
        barrier = threading.Barrier(len(deltas))

        def run(i):
            try:
                barrier.wait(10)
                results[i] = self.adjust(p, w, deltas[i], reason="burst %d" % i)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(deltas))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        applied = []
        for i, r in enumerate(results):
            self.assertNotIsInstance(r, Exception, r)
            self.assertIn(r.status, (200, 409), r)
            if r.status == 200:
                applied.append(deltas[i])
                self.assertEqual(r.body["data"]["delta"], deltas[i])
            else:
                self.assertEqual(deltas[i], -4, "a positive adjust was refused: %r" % (r,))
                self.assertError(r, 409, "Quantity cannot drop below the reserved stock")
        self.assertGreaterEqual(len(applied), 10)
        final = 5 + sum(applied)
        rows = self.assertOk(self.admin.req("GET", "/api/products/%s/inventory" % p["id"]))
        self.assertEqual(rows["inventory"][0]["quantity"], final)
        ledger = self.db("SELECT count(*), sum(delta), min(quantity_after) "
                         "FROM inventory_movements "
                         "WHERE product_id = '%s' AND warehouse_id = '%s'" % (p["id"], w["id"]))
        n, total, lowest = [int(x) for x in ledger.split("|")]
        self.assertEqual(n, 1 + len(applied))
        self.assertEqual(total, final, "the ledger does not sum to the quantity")
        self.assertGreaterEqual(lowest, 0)
        # each applied adjust saw the one before it: the quantities after form a chain
        chain = self.db("SELECT delta, quantity_after FROM inventory_movements WHERE "
                        "product_id = '%s' ORDER BY id" % p["id"])
        q_prev = 0
        for line in chain.splitlines():
            delta, after = (int(x) for x in line.split("|"))
            self.assertEqual(q_prev + delta, after, chain)
            q_prev = after
        self.assertEqual(self.assertOk(self.get(p["id"]))["stock"], final)
        self.assertEqual(self.db("SELECT available FROM products WHERE id = '%s'" % p["id"]),
                         str(final))


# ----------------------------------------------------------------------------
# Redis down
# ----------------------------------------------------------------------------

class RedisDown(ProductCase):
    def test_reads_from_postgresql_writes_503_then_fresh(self):
        cat = self.category()
        w = word()
        p = self.product("Outage %s" % w, 10, category_id=cat["id"])
        wh = self.warehouse()
        self.assertOk(self.adjust(p, wh, 2))
        before = self.assertOk(self.get(p["id"]))  # cached
        flat, tree = self.categories(), self.categories(tree=True)
        self.c.stop_redis(keep_data=True)
        try:
            for _ in range(4):
                self.assertEqual(self.assertOk(self.get(p["id"])), before)
            self.assertEqual(self.ids({"search": w}), [p["id"]])
            self.assertEqual(self.ids({"category": cat["id"], "in_stock": "true"}), [p["id"]])
            self.assertEqual(self.categories(), flat)
            self.assertEqual(self.categories(tree=True), tree)
            self.assertError(self.get(uuid.uuid4()), 404, "Product not found")
            self.assertValidation(self.get("nope"), fields=["id"])
            for method, path, body in (
                    ("PUT", "/api/products/%s" % p["id"], {"price": 99}),
                    ("POST", "/api/inventory/adjust", {"product_id": p["id"],
                                                       "warehouse_id": wh["id"], "delta": 1,
                                                       "reason": "x"}),
                    ("POST", "/api/categories", {"name": "x"}),
                    ("GET", "/api/warehouses", None)):
                r = self.admin.req(method, path, body=body)
                self.assertError(r, 503, "Service unavailable")
                self.assertLess(r.elapsed, 3.0, r)
            self.assertEqual(self.db("SELECT price_minor FROM products WHERE id = '%s'"
                                     % p["id"]), "1000")
        finally:
            self.c.start_redis()
            self.c.heal(services=("product", "user"))
        for _ in range(4):
            self.assertEqual(self.assertOk(self.get(p["id"])), before)
        # the workers talk to Redis again: a write drops the cached copy everywhere
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"], body={"price": 11}))
        for _ in range(4):
            self.assertEqual(self.assertOk(self.get(p["id"]))["price"], 11)
        self.assertOk(self.adjust(p, wh, 1))
        for _ in range(4):
            self.assertEqual(self.assertOk(self.get(p["id"]))["stock"], 3)
        kid = self.category(parent=cat)
        self.assertIsNotNone(find(self.categories(), kid["id"]))
        self.assertEqual([n["id"] for n in find(self.categories(tree=True),
                                                cat["id"])["children"]], [kid["id"]])


# ----------------------------------------------------------------------------
# events
# ----------------------------------------------------------------------------

class Events(ProductCase):
    def events(self, pid, etype):
        return [f for _, f in self.c.stream_entries("events:inventory")
                if isinstance(f.get("data"), dict) and f["data"].get("product_id") == pid
                and f.get("type") == etype]

    def wait_events(self, pid, etype, n):
        return wait_until(lambda: len(self.events(pid, etype)) >= n and self.events(pid, etype),
                          10, 0.02, "%d %s event(s) for %s" % (n, etype, pid))

    def test_product_and_inventory_events(self):
        cat = self.category()
        p = self.product("Eventful", 4.5, category_id=cat["id"])
        w = self.warehouse()
        evs = self.wait_events(p["id"], "product.updated", 1)
        ev = evs[0]
        for f in ("id", "type", "source", "occurred_at", "data"):
            self.assertIn(f, ev)
        self.assertRegex(ev["id"], UUID_RE)
        self.assertEqual(ev["source"], "product-service")
        self.assertEqual((ev["data"]["sku"], ev["data"]["name"], ev["data"]["price"],
                          ev["data"]["currency"], ev["data"]["status"],
                          ev["data"]["category_id"]),
                         (p["sku"], "Eventful", 4.5, "USD", "active", cat["id"]))
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"], body={"price": 5.25}))
        evs = self.wait_events(p["id"], "product.updated", 2)
        self.assertEqual(evs[1]["data"]["price"], 5.25)
        self.assertOk(self.admin.req("DELETE", "/api/products/%s" % p["id"]))
        evs = self.wait_events(p["id"], "product.updated", 3)
        self.assertEqual(evs[2]["data"]["status"], "archived")
        self.assertOk(self.admin.req("PUT", "/api/products/%s" % p["id"],
                                     body={"status": "active"}))
        self.assertOk(self.adjust(p, w, 8))
        self.assertOk(self.adjust(p, w, -3))
        self.assertError(self.adjust(p, w, -100), 409)  # nothing happened: no event
        evs = self.wait_events(p["id"], "inventory.adjusted", 2)
        time.sleep(0.3)
        evs = self.events(p["id"], "inventory.adjusted")
        self.assertEqual([(e["data"]["delta"], e["data"]["quantity"], e["data"]["available"],
                           e["data"]["warehouse_id"]) for e in evs],
                         [(8, 8, 8, w["id"]), (-3, 5, 5, w["id"])])
        # a refused write publishes nothing
        n = len(self.events(p["id"], "product.updated"))
        self.assertValidation(self.admin.req("PUT", "/api/products/%s" % p["id"],
                                             body={"price": -1}))
        time.sleep(0.3)
        self.assertEqual(len(self.events(p["id"], "product.updated")), n)


# ----------------------------------------------------------------------------
# docs/openapi.yaml describes what the service answers
# ----------------------------------------------------------------------------

class DocumentedShapes(ProductCase):
    def fields(self, name):
        """(required, properties) of a schema of docs/openapi.yaml, allOf merged."""
        import test_openapi  # the document reader (stdlib only)
        doc = test_openapi.document()
        required, props = set(), set()

        def walk(node):
            node = test_openapi.resolve(doc, node)
            for sub in node.get("allOf", []):
                walk(sub)
            required.update(node.get("required", []))
            props.update(node.get("properties", {}))
        walk(doc["components"]["schemas"][name])
        return required, props

    def assertDocumented(self, obj, name):
        required, props = self.fields(name)
        self.assertEqual(set(obj), props, "%s: the answer and the schema disagree" % name)
        self.assertLessEqual(required, set(obj), name)

    def test_objects_match_the_schemas(self):
        parent = self.category()
        cat = self.category(parent=parent, description="d")
        p = self.product(category_id=cat["id"])
        w = self.warehouse()
        adjusted = self.assertOk(self.adjust(p, w, 2))
        self.assertDocumented(self.assertOk(self.get(p["id"])), "Product")
        self.assertDocumented(self.listing({"category": cat["id"]})["products"][0], "Product")
        self.assertDocumented(p["category"], "CategoryRef")
        self.assertDocumented(cat, "Category")
        node = find(self.categories(tree=True), parent["id"])
        self.assertDocumented(node, "CategoryTree")
        self.assertDocumented(w, "Warehouse")
        self.assertDocumented(adjusted, "AdjustResult")
        inv = self.assertOk(self.admin.req("GET", "/api/products/%s/inventory" % p["id"]))
        self.assertDocumented(inv["inventory"][0], "InventoryRow")
        mv = self.assertOk(self.admin.req("GET", "/api/inventory/movements?product_id=%s"
                                          % p["id"]))
        self.assertDocumented(mv["movements"][0], "Movement")
        health = self.c.request("GET", "/health/product").body
        self.assertLessEqual(self.fields("ProductHealth")[0], set(health))
