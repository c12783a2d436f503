-- 002: what microshop adds to the Node service's schema (001 is kept exactly as
-- the Node service created it, so an existing database is taken over as is).

-- Token version: every token carries "tv"; a password change or deletion bumps
-- it, which revokes every token issued before, even within the same second.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;

-- A soft-deleted user's email can register again (SPEC §3): the email is
-- unique among live rows only. This replaces 001's UNIQUE(email), the one
-- thing this migration takes away.
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_key;
CREATE UNIQUE INDEX users_email_live_key ON users (email) WHERE deleted_at IS NULL;

-- Admin listing: newest first, stable.
CREATE INDEX users_created_at_id_idx ON users (created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- Refresh tokens: single use, grouped by login ("family"). jti is text so
-- that tokens the Node service issued (no jti) are tracked by their hash.
CREATE TABLE refresh_tokens (
    jti         text PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Revoked login families and token ids, the durable copy of what Redis holds
-- (the user worker rebuilds Redis from it).
CREATE TABLE token_revocations (
    id          text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX token_revocations_expires_idx ON token_revocations (expires_at);

-- Events written in the same transaction as the change (SPEC §4).
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

-- Consumed events (the user service consumes none yet; every service has it).
CREATE TABLE processed_events (
    event_id      uuid PRIMARY KEY,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
