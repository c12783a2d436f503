/* The public product listing: one parameterised statement (and its count)
 * built from fixed fragments; input only ever travels as parameters. */
#include "fcgi-apps/product/product.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "fcgi-apps/product/sql.h"
#include "lib/arena.h"
#include "lib/banned.h"

static const struct {
    const char *name;
    enum product_sort sort;
} sorts[] = {
    { "price", PRODUCT_SORT_PRICE },        { "-price", PRODUCT_SORT_PRICE_DESC },
    { "name", PRODUCT_SORT_NAME },          { "-name", PRODUCT_SORT_NAME_DESC },
    { "created_at", PRODUCT_SORT_CREATED }, { "-created_at", PRODUCT_SORT_CREATED_DESC },
};

int product_sort_parse(const char *s)
{
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
        if (strcmp(sorts[i].name, s) == 0)
            return (int)sorts[i].sort;
    return -1;
}

static const char *order_by(enum product_sort sort)
{
    switch (sort) {
    case PRODUCT_SORT_PRICE:
        return " ORDER BY p.price_minor, p.id";
    case PRODUCT_SORT_PRICE_DESC:
        return " ORDER BY p.price_minor DESC, p.id DESC";
    case PRODUCT_SORT_NAME:
        return " ORDER BY p.name, p.id";
    case PRODUCT_SORT_NAME_DESC:
        return " ORDER BY p.name DESC, p.id DESC";
    case PRODUCT_SORT_CREATED:
        return " ORDER BY p.created_at, p.id";
    case PRODUCT_SORT_CREATED_DESC:
    case PRODUCT_SORT_DEFAULT:
        break;
    }
    return " ORDER BY p.created_at DESC, p.id DESC";
}

/* Add a parameter; returns its $ number. */
static int param(struct product_query *q, const char *value)
{
    assert(q->nparams < PRODUCT_QUERY_MAX_PARAMS);
    q->params[q->nparams] = value;
    return ++q->nparams;
}

void product_query_build(struct ms_arena *arena, const struct product_filter *f,
                         struct product_query *q)
{
    struct ms_buf where;
    int search = 0;

    memset(q, 0, sizeof *q);
    ms_buf_init(&q->list, arena);
    ms_buf_init(&q->count, arena);
    ms_buf_init(&where, arena);
    if (f->category) {
        /* the category and every category under it */
        int n = param(q, f->category);

        ms_buf_addf(&q->list,
                    "WITH RECURSIVE sub(id) AS (SELECT $%d::uuid UNION ALL SELECT c.id FROM "
                    "categories c JOIN sub ON c.parent_id = sub.id) ",
                    n);
        ms_buf_addf(&where, " AND p.category_id IN (SELECT id FROM sub)");
    }
    if (f->search) {
        search = param(q, f->search);
        ms_buf_addf(&where, " AND p.search @@ websearch_to_tsquery('english', $%d)", search);
    }
    if (f->has_min)
        ms_buf_addf(&where, " AND p.price_minor >= $%d::bigint",
                    param(q, ms_arena_printf(arena, "%" PRId64, f->min_minor)));
    if (f->has_max)
        ms_buf_addf(&where, " AND p.price_minor <= $%d::bigint",
                    param(q, ms_arena_printf(arena, "%" PRId64, f->max_minor)));
    if (f->in_stock)
        ms_buf_adds(&where, " AND p.available > 0");
    q->ncount = q->nparams;

    ms_buf_adds(&q->count, q->list.buf); /* the same WITH clause */
    ms_buf_addf(&q->count, "SELECT count(*) FROM products p WHERE p.status = 'active'%s",
                where.buf);
    ms_buf_addf(&q->list,
                "SELECT " PRODUCT_JSON("p") " FROM products p WHERE p.status = "
                                            "'active'%s",
                where.buf);
    if (search && f->sort == PRODUCT_SORT_DEFAULT)
        ms_buf_addf(&q->list,
                    " ORDER BY ts_rank(p.search, websearch_to_tsquery('english', $%d)) DESC, "
                    "p.id",
                    search);
    else
        ms_buf_adds(&q->list, order_by(f->sort));
    {
        int nl = param(q, ms_arena_printf(arena, "%ld", f->limit));
        int no = param(q, ms_arena_printf(arena, "%ld", f->offset));

        ms_buf_addf(&q->list, " LIMIT $%d OFFSET $%d", nl, no);
    }
}
