-- Listing counts with a price range or a category together with in_stock
-- seq-scanned products at 100,000 rows (tests/e2e/test_product_plans.py):
-- these indexes carry what those counts filter on, so every listing
-- statement, page and count, is answered from an index.
DROP INDEX products_active_price_idx;
CREATE INDEX products_active_price_idx ON products (price_minor, id) INCLUDE (available)
    WHERE status = 'active';
CREATE INDEX products_category_price_idx ON products (category_id, price_minor) INCLUDE (available)
    WHERE status = 'active';
