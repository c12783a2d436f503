/* fcgi-apps/product/listing.c and the category cycle check: filters become one
 * parameterised statement built from fixed fragments; input only ever travels
 * as a parameter. */
#include "fcgi-apps/product/product.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "lib/arena.h"
#include "tests/unit/suites.h"

static struct ms_arena *arena;

static void setup(void)
{
    arena = ms_arena_new(0);
}

static void teardown(void)
{
    ms_arena_free(arena);
}

static struct product_filter base(void)
{
    struct product_filter f;

    memset(&f, 0, sizeof f);
    f.limit = 10;
    return f;
}

START_TEST(sort_parse_knows_the_six_sorts_and_nothing_else)
{
    ck_assert_int_eq(product_sort_parse("price"), PRODUCT_SORT_PRICE);
    ck_assert_int_eq(product_sort_parse("-price"), PRODUCT_SORT_PRICE_DESC);
    ck_assert_int_eq(product_sort_parse("name"), PRODUCT_SORT_NAME);
    ck_assert_int_eq(product_sort_parse("-name"), PRODUCT_SORT_NAME_DESC);
    ck_assert_int_eq(product_sort_parse("created_at"), PRODUCT_SORT_CREATED);
    ck_assert_int_eq(product_sort_parse("-created_at"), PRODUCT_SORT_CREATED_DESC);
    ck_assert_int_eq(product_sort_parse("price; DROP TABLE products"), -1);
    ck_assert_int_eq(product_sort_parse(""), -1);
    ck_assert_int_eq(product_sort_parse("PRICE"), -1);
}
END_TEST

START_TEST(no_filter_lists_active_products_newest_first)
{
    struct product_filter f = base();
    struct product_query q;

    f.offset = 20;
    product_query_build(arena, &f, &q);
    ck_assert_ptr_nonnull(strstr(q.list.buf,
                                 "WHERE p.status = 'active' ORDER BY p.created_at DESC, "
                                 "p.id DESC LIMIT $1 OFFSET $2"));
    ck_assert_int_eq(q.nparams, 2);
    ck_assert_str_eq(q.params[0], "10");
    ck_assert_str_eq(q.params[1], "20");
    ck_assert_int_eq(q.ncount, 0);
    ck_assert_str_eq(q.count.buf, "SELECT count(*) FROM products p WHERE p.status = 'active'");
}
END_TEST

/* Every combination of the four filters: each present filter adds exactly its
 * fragment and one parameter, in order; the count has the same WHERE. */
START_TEST(every_filter_combination_builds_its_fragments_and_parameters)
{
    for (int mask = 0; mask < 32; mask++) {
        struct product_filter f = base();
        struct product_query q;
        int expect = 0;
        char where[512] = "";

        if (mask & 1)
            f.category = "0b7e1c2a-1111-4222-8333-944455556666";
        if (mask & 2)
            f.search = "red 'shoes' OR -\"blue\"; DROP TABLE products";
        if (mask & 4) {
            f.has_min = 1;
            f.min_minor = 1999;
        }
        if (mask & 8) {
            f.has_max = 1;
            f.max_minor = 5000;
        }
        f.in_stock = (mask & 16) != 0;
        product_query_build(arena, &f, &q);
        if (mask & 1) {
            expect++;
            ck_assert_msg(strncmp(q.list.buf, "WITH RECURSIVE sub(id) AS (SELECT $1::uuid", 42) ==
                              0,
                          "mask %d: %s", mask, q.list.buf);
            ck_assert_str_eq(q.params[0], f.category);
            strcat(where, " AND p.category_id IN (SELECT id FROM sub)");
        }
        if (mask & 2) {
            expect++;
            ck_assert_str_eq(q.params[expect - 1], f.search);
            snprintf(where + strlen(where), sizeof where - strlen(where),
                     " AND p.search @@ websearch_to_tsquery('english', $%d)", expect);
        }
        if (mask & 4) {
            expect++;
            ck_assert_str_eq(q.params[expect - 1], "1999");
            snprintf(where + strlen(where), sizeof where - strlen(where),
                     " AND p.price_minor >= $%d::bigint", expect);
        }
        if (mask & 8) {
            expect++;
            ck_assert_str_eq(q.params[expect - 1], "5000");
            snprintf(where + strlen(where), sizeof where - strlen(where),
                     " AND p.price_minor <= $%d::bigint", expect);
        }
        if (mask & 16)
            strcat(where, " AND p.available > 0");
        ck_assert_int_eq(q.ncount, expect);
        ck_assert_int_eq(q.nparams, expect + 2);
        ck_assert_msg(strstr(q.list.buf, where) != NULL, "mask %d: %s lacks %s", mask, q.list.buf,
                      where);
        ck_assert_msg(strstr(q.count.buf, where) != NULL, "mask %d count: %s", mask, q.count.buf);
        /* input never in the text */
        ck_assert_ptr_null(strstr(q.list.buf, "DROP TABLE"));
        ck_assert_ptr_null(strstr(q.list.buf, "0b7e1c2a"));
        ck_assert_ptr_null(strstr(q.count.buf, "DROP TABLE"));
    }
}
END_TEST

START_TEST(search_without_sort_orders_by_rank_and_sort_wins_when_given)
{
    struct product_filter f = base();
    struct product_query q;

    f.search = "phone";
    product_query_build(arena, &f, &q);
    ck_assert_ptr_nonnull(strstr(
        q.list.buf, "ORDER BY ts_rank(p.search, websearch_to_tsquery('english', $1)) DESC, p.id"));
    f.sort = PRODUCT_SORT_PRICE_DESC;
    product_query_build(arena, &f, &q);
    ck_assert_ptr_nonnull(strstr(q.list.buf, "ORDER BY p.price_minor DESC, p.id DESC LIMIT"));
    ck_assert_ptr_null(strstr(q.list.buf, "ts_rank"));
}
END_TEST

START_TEST(each_sort_has_its_order_by)
{
    static const struct {
        enum product_sort sort;
        const char *order;
    } cases[] = {
        { PRODUCT_SORT_PRICE, " ORDER BY p.price_minor, p.id LIMIT" },
        { PRODUCT_SORT_PRICE_DESC, " ORDER BY p.price_minor DESC, p.id DESC LIMIT" },
        { PRODUCT_SORT_NAME, " ORDER BY p.name, p.id LIMIT" },
        { PRODUCT_SORT_NAME_DESC, " ORDER BY p.name DESC, p.id DESC LIMIT" },
        { PRODUCT_SORT_CREATED, " ORDER BY p.created_at, p.id LIMIT" },
        { PRODUCT_SORT_CREATED_DESC, " ORDER BY p.created_at DESC, p.id DESC LIMIT" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct product_filter f = base();
        struct product_query q;

        f.sort = cases[i].sort;
        product_query_build(arena, &f, &q);
        ck_assert_msg(strstr(q.list.buf, cases[i].order) != NULL, "%s", q.list.buf);
    }
}
END_TEST

static const struct category_edge tree[] = {
    { "root", NULL }, { "a", "root" }, { "b", "a" }, { "c", "b" }, { "other", NULL },
};

START_TEST(moving_under_itself_or_a_descendant_is_a_cycle)
{
    ck_assert_int_eq(category_would_cycle(tree, 5, "a", "a"), 1);
    ck_assert_int_eq(category_would_cycle(tree, 5, "a", "b"), 1);
    ck_assert_int_eq(category_would_cycle(tree, 5, "a", "c"), 1);
    ck_assert_int_eq(category_would_cycle(tree, 5, "root", "c"), 1);
}
END_TEST

START_TEST(moving_elsewhere_is_no_cycle)
{
    ck_assert_int_eq(category_would_cycle(tree, 5, "c", "root"), 0);
    ck_assert_int_eq(category_would_cycle(tree, 5, "b", "other"), 0);
    ck_assert_int_eq(category_would_cycle(tree, 5, "other", "c"), 0);
    ck_assert_int_eq(category_would_cycle(tree, 5, "a", NULL), 0);
    ck_assert_int_eq(category_would_cycle(tree, 5, "a", "unknown"), 0);
}
END_TEST

static Suite *product_listing_suite(void)
{
    Suite *s = suite_create("product_listing");
    TCase *tc;

    tc = tcase_create("sort_parse");
    tcase_add_test(tc, sort_parse_knows_the_six_sorts_and_nothing_else);
    suite_add_tcase(s, tc);
    tc = tcase_create("query_build");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, no_filter_lists_active_products_newest_first);
    tcase_add_test(tc, every_filter_combination_builds_its_fragments_and_parameters);
    tcase_add_test(tc, search_without_sort_orders_by_rank_and_sort_wins_when_given);
    tcase_add_test(tc, each_sort_has_its_order_by);
    suite_add_tcase(s, tc);
    tc = tcase_create("category_would_cycle");
    tcase_add_test(tc, moving_under_itself_or_a_descendant_is_a_cycle);
    tcase_add_test(tc, moving_elsewhere_is_no_cycle);
    suite_add_tcase(s, tc);
    return s;
}

MS_SUITE(product_listing_suite)
