-- Delivery workers LISTEN on citypulse_outbox and claim as soon as an outbox entry is
-- committed, instead of waiting for their next poll (which remains as a safety net).
-- NOTIFY is sent at commit, so a rolled-back appeal wakes nobody.  Identical in both
-- schema modes.

CREATE FUNCTION citypulse_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('citypulse_outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION citypulse_outbox_notify();
