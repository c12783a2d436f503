-- common/001: the event tables every service has (SPEC §4), in one place.
-- migrations/common/ is applied to every service's database after the
-- service's own files (microshopctl migrate), so it only adds: the user and
-- product services created outbox and processed_events in their own first
-- migrations, and keep them; a new service's own migrations leave them to
-- this file.

-- Events written in the same transaction as the change; the worker relays
-- them in id order and keeps published rows for OUTBOX_RETENTION_H, to
-- republish them if Redis loses its streams.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    stream        text NOT NULL,
    type          text NOT NULL,
    data          jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
-- the relay's "highest published id" (every round, whatever the backlog) and
-- the republish after a Redis loss walk the published rows by id; pruning
-- walks them by time
CREATE INDEX IF NOT EXISTS outbox_published_id_idx ON outbox (id)
    WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_published_at_idx ON outbox (published_at)
    WHERE published_at IS NOT NULL;

-- Events a consumer applied, written in the transaction that applied them:
-- a redelivered, republished or replayed event finds its row and is skipped.
CREATE TABLE IF NOT EXISTS processed_events (
    event_id      uuid PRIMARY KEY,
    processed_at  timestamptz NOT NULL DEFAULT now()
);

-- Events leave at once: every statement that writes the outbox notifies the
-- worker (LISTEN ms_outbox) when its transaction commits; the relay's timer
-- stays as the safety net. One notification per statement, and PostgreSQL
-- folds identical ones of a transaction into one.
CREATE OR REPLACE FUNCTION ms_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ms_outbox', '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION ms_outbox_notify();
