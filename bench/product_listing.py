"""The product listing's SQL, mirrored from fcgi-apps/product/listing.c and
fcgi-apps/product/sql.h (PRODUCT_JSON), for `make bench` (the pgbench script
runs the statements the service runs) and tests/e2e/test_product_plans.py
(EXPLAIN of every filter combination).

build(...) returns the count statement, the page statement and the
parameters exactly as product_query_build() makes them: the same text, the
same $n numbering, the parameters as the text the service sends. The service
runs them with ms_db_exec_sql (lib/db.c), which prepares each distinct text
once per connection with untyped parameters: custom plans for the first five
executions, then the cached generic plan when it is estimated no dearer.

If listing.c or PRODUCT_COLS changes, change this file with it:
live_statements() reads the page statement the product pool really ran from
pg_stat_activity, so the bench and the plan test notice a stale mirror.
"""
import time

# fcgi-apps/product/sql.h
TS = "to_char(%s, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


def json_of(cols):
    return "row_to_json((SELECT r FROM (SELECT " + cols + ") r))"


def product_cols(p):
    return (p + ".id, " + p + ".sku, " + p + ".name, " + p + ".description, round(" + p +
            ".price_minor / 100.0, 2) AS price, " + p + ".currency, " + p + ".status, " + p +
            ".category_id, (SELECT " + json_of("c.id, c.name") +
            " FROM categories c WHERE c.id = " + p + ".category_id) AS category, " + p +
            ".available AS stock, " + (TS % (p + ".created_at")) + " AS created_at, " +
            (TS % (p + ".updated_at")) + " AS updated_at")


def product_json(p):
    return json_of(product_cols(p))


# fcgi-apps/product/listing.c
SORTS = ("price", "-price", "name", "-name", "created_at", "-created_at")
ORDER_BY = {
    "price": " ORDER BY p.price_minor, p.id",
    "-price": " ORDER BY p.price_minor DESC, p.id DESC",
    "name": " ORDER BY p.name, p.id",
    "-name": " ORDER BY p.name DESC, p.id DESC",
    "created_at": " ORDER BY p.created_at, p.id",
    "-created_at": " ORDER BY p.created_at DESC, p.id DESC",
    None: " ORDER BY p.created_at DESC, p.id DESC",  # PRODUCT_SORT_DEFAULT
}


def build(category=None, search=None, min_minor=None, max_minor=None, in_stock=False,
          sort=None, limit=10, offset=0):
    """(count_sql, page_sql, params, ncount): params[:ncount] go with the count,
    all of them with the page, as in product_h_list()."""
    params = []

    def param(value):
        params.append(str(value))
        return len(params)

    with_ = ""
    where = ""
    if category is not None:
        n = param(category)
        with_ = ("WITH RECURSIVE sub(id) AS (SELECT $%d::uuid UNION ALL SELECT c.id FROM "
                 "categories c JOIN sub ON c.parent_id = sub.id) " % n)
        where += " AND p.category_id IN (SELECT id FROM sub)"
    s = 0
    if search is not None:
        s = param(search)
        where += " AND p.search @@ websearch_to_tsquery('english', $%d)" % s
    if min_minor is not None:
        where += " AND p.price_minor >= $%d::bigint" % param(min_minor)
    if max_minor is not None:
        where += " AND p.price_minor <= $%d::bigint" % param(max_minor)
    if in_stock:
        where += " AND p.available > 0"
    ncount = len(params)
    count = with_ + "SELECT count(*) FROM products p WHERE p.status = 'active'" + where
    page = (with_ + "SELECT " + product_json("p") + " FROM products p WHERE p.status = 'active'" +
            where)
    if s and sort is None:
        page += (" ORDER BY ts_rank(p.search, websearch_to_tsquery('english', $%d)) DESC, p.id"
                 % s)
    else:
        page += ORDER_BY[sort]
    nl = param(limit)
    no = param(offset)
    page += " LIMIT $%d OFFSET $%d" % (nl, no)
    return count, page, params, ncount


def query_string(category=None, search=None, min_minor=None, max_minor=None, in_stock=False,
                 sort=None, limit=None, page=None):
    """The GET /api/products query string that makes build(...) with the same arguments."""
    from urllib.parse import urlencode
    q = []
    if search is not None:
        q.append(("search", search))
    if category is not None:
        q.append(("category", category))
    if min_minor is not None:
        q.append(("min_price", "%d.%02d" % divmod(min_minor, 100)))
    if max_minor is not None:
        q.append(("max_price", "%d.%02d" % divmod(max_minor, 100)))
    if in_stock:
        q.append(("in_stock", "true"))
    if sort is not None:
        q.append(("sort", sort))
    if limit is not None:
        q.append(("limit", str(limit)))
    if page is not None:
        q.append(("page", str(page)))
    return "?" + urlencode(q) if q else ""


def inline(sql, params):
    """sql with $n replaced by the parameters as quoted literals (for EXPLAIN):
    untyped literals, like the service's untyped text parameters."""
    import re

    def lit(m):
        return "'" + params[int(m.group(1)) - 1].replace("'", "''") + "'"
    return re.sub(r"\$(\d+)", lit, sql)


def live_statements(psql):
    """The last statement of every idle backend of the product database (the
    pool workers' connections): psql(sql) -> text, run in that database."""
    out = psql("SELECT replace(query, E'\\n', ' ') FROM pg_stat_activity "
               "WHERE datname = current_database() AND pid <> pg_backend_pid() "
               "AND query LIKE '%FROM products p WHERE p.status = ''active''%'")
    return [line for line in out.splitlines() if line]


def vacuum_catalogue(psql, tries=20):
    """VACUUM (ANALYZE) the product database after a seed, then VACUUM products
    until its visibility map is complete (relallvisible = relpages), the state
    autovacuum leaves a read-mostly catalogue in. psql(sql) -> text, run in the
    product database. Returns the number of VACUUMs of products.

    One VACUUM right after a large asynchronous commit (the test and bench
    PostgreSQL runs synchronous_commit=off) can leave pages not all-visible:
    a row's commit hint cannot be set while the commit LSN recorded for its
    transaction group is not flushed yet, and autovacuum's own ANALYZE commits
    right after the seed move that LSN on. Index-only scans are then costed as
    heap scans, and the counts flip to Seq Scans."""
    psql("VACUUM (ANALYZE)")
    for n in range(1, tries + 1):
        if psql("SELECT relallvisible >= relpages FROM pg_class "
                "WHERE oid = 'products'::regclass") == "t":
            return n
        time.sleep(0.2)
        psql("CHECKPOINT")
        psql("VACUUM products")
    raise RuntimeError("products still not all-visible after %d VACUUMs" % tries)


def explain_prepared(psql_bin, db_url, statements, runs=6, env=None, timeout=300):
    """EXPLAIN (FORMAT JSON) each (sql, params) of statements as the service runs it:
    PREPAREd with untyped parameters, then EXPLAIN EXECUTEd runs times in one session
    with plan_cache_mode=auto (the first five executions get custom plans, the sixth
    the cached generic plan if that is estimated no dearer). Returns, per statement,
    the list of its runs plans (the "Plan" objects)."""
    import json
    import subprocess
    script = ["SET plan_cache_mode = auto;"]
    for i, (sql, params) in enumerate(statements):
        args = "(%s)" % ", ".join("'%s'" % v.replace("'", "''") for v in params) \
            if params else ""
        script.append("PREPARE s%d AS %s;" % (i, sql))
        script += ["EXPLAIN (FORMAT JSON) EXECUTE s%d%s;" % (i, args)] * runs
        script.append("DEALLOCATE s%d;" % i)
    r = subprocess.run([psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", db_url], input="\n".join(script), capture_output=True,
                       text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("EXPLAIN failed: %s" % r.stderr)
    dec, pos, out, plans = json.JSONDecoder(), 0, r.stdout, []
    while True:
        while pos < len(out) and out[pos].isspace():
            pos += 1
        if pos >= len(out):
            break
        obj, pos = dec.raw_decode(out, pos)
        plans.append(obj[0]["Plan"])
    if len(plans) != runs * len(statements):
        raise RuntimeError("%d plans for %d statements" % (len(plans), len(statements)))
    return [plans[runs * i:runs * (i + 1)] for i in range(len(statements))]


def plan_nodes(plan):
    yield plan
    for p in plan.get("Plans", []):
        yield from plan_nodes(p)


def products_scans(plan):
    """[(node type, index name or None)] of every node reading products."""
    return [(n["Node Type"], n.get("Index Name")) for n in plan_nodes(plan)
            if n.get("Relation Name") == "products"]


def scan_summary(plan):
    """How a plan reads products, e.g. "Bitmap Heap Scan + BitmapAnd(Bitmap Index
    Scan products_search_idx, Bitmap Index Scan products_active_price_idx)"."""
    def walk(n):
        if n.get("Relation Name") == "products" or n["Node Type"] in ("BitmapAnd", "BitmapOr") \
                or (n["Node Type"] == "Bitmap Index Scan" and
                    n.get("Index Name", "").startswith("products")):
            s = n["Node Type"] + (" " + n["Index Name"] if "Index Name" in n else "")
            kids = [walk(k) for k in n.get("Plans", [])]
            kids = [k for k in kids if k]
            return s + ("(%s)" % ", ".join(kids) if kids else "")
        kids = [walk(k) for k in n.get("Plans", [])]
        return ", ".join(k for k in kids if k)
    return walk(plan)
