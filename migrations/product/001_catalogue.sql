-- The product service: catalogue (category tree, products), warehouses,
-- inventory with its movement ledger, and the event tables every service has.

CREATE TABLE categories (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         varchar(100) NOT NULL,
    parent_id    uuid REFERENCES categories(id),
    description  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS DISTINCT FROM id)
);
-- unique among siblings (a NULL parent is one sibling group, the roots)
CREATE UNIQUE INDEX categories_sibling_name_key
    ON categories (COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(name));
CREATE INDEX categories_parent_idx ON categories (parent_id);

CREATE TABLE products (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku          varchar(64) NOT NULL UNIQUE CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    name         varchar(255) NOT NULL CHECK (length(name) >= 1),
    description  text CHECK (length(description) <= 10000),
    price_minor  bigint NOT NULL CHECK (price_minor >= 0 AND price_minor <= 99999999999),
    currency     char(3) NOT NULL DEFAULT 'USD',
    status       varchar(16) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    category_id  uuid REFERENCES categories(id),
    -- available stock summed over warehouses (quantity - reserved), kept in the
    -- same transaction as every inventory change, so in_stock is an index scan
    available    integer NOT NULL DEFAULT 0 CHECK (available >= 0),
    search       tsvector GENERATED ALWAYS AS (
                     setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
                     setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_search_idx ON products USING gin (search);
CREATE INDEX products_active_created_idx ON products (created_at DESC, id DESC) WHERE status = 'active';
CREATE INDEX products_active_price_idx ON products (price_minor, id) WHERE status = 'active';
CREATE INDEX products_active_name_idx ON products (name, id) WHERE status = 'active';
CREATE INDEX products_category_idx ON products (category_id, created_at DESC) WHERE status = 'active';
CREATE INDEX products_in_stock_idx ON products (created_at DESC, id DESC)
    WHERE status = 'active' AND available > 0;

CREATE TABLE warehouses (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code        varchar(32) NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name        varchar(255) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory (
    product_id    uuid NOT NULL REFERENCES products(id),
    warehouse_id  uuid NOT NULL REFERENCES warehouses(id),
    quantity      integer NOT NULL DEFAULT 0,
    reserved      integer NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, warehouse_id),
    CHECK (reserved >= 0 AND quantity >= reserved)
);
CREATE INDEX inventory_warehouse_idx ON inventory (warehouse_id);

-- Every change of quantity or reservation is a row here, written in the same
-- transaction as the change: the ledger sums to the current quantity.
CREATE TABLE inventory_movements (
    id              bigserial PRIMARY KEY,
    product_id      uuid NOT NULL REFERENCES products(id),
    warehouse_id    uuid NOT NULL REFERENCES warehouses(id),
    delta           integer NOT NULL CHECK (delta <> 0),
    reason          varchar(255) NOT NULL,
    quantity_after  integer NOT NULL,
    actor_id        uuid,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_movements_product_idx ON inventory_movements (product_id, id DESC);

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    stream        text NOT NULL,
    type          text NOT NULL,
    data          jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE processed_events (
    event_id      uuid PRIMARY KEY,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
