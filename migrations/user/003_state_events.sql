-- 003: PostgreSQL is the truth, also when it is changed directly. Every
-- change to a user's role, status, deletion or token version writes an event
-- to the outbox in the changing transaction, whichever path made it (the
-- API, microshopctl, or SQL typed by an operator); the user worker relays it
-- and rewrites that user's state in Redis, which every service reads in its
-- authentication round trip, within a relay tick (RELAY_INTERVAL_MS).
--
-- The service's own statements already write their event (user.deleted,
-- user.password_changed, user.updated) in the same transaction: the trigger
-- then adds nothing. Anything else gets user.deleted when deleted_at was set,
-- else user.updated, with the data SPEC §4 gives those events.

CREATE FUNCTION users_state_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM outbox
                WHERE published_at IS NULL
                  AND xmin::text::bigint = txid_current() % 4294967296
                  AND data->>'user_id' = NEW.id::text) THEN
        RETURN NULL;
    END IF;
    IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
        INSERT INTO outbox (stream, type, data)
        VALUES ('events:user', 'user.deleted', json_build_object('user_id', NEW.id));
    ELSE
        INSERT INTO outbox (stream, type, data)
        SELECT 'events:user', 'user.updated',
               json_build_object('user_id', NEW.id, 'email', NEW.email, 'name', NEW.name,
                                 'phone', NEW.phone, 'notification_preferences',
                                 (SELECT p.notification_preferences FROM profiles p
                                   WHERE p.user_id = NEW.id));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_state_event
    AFTER UPDATE OF role, status, deleted_at, token_version ON users
    FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
          OR OLD.token_version IS DISTINCT FROM NEW.token_version)
    EXECUTE FUNCTION users_state_event();
