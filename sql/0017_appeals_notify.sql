-- The operators' console updates its pages live: every change of an appeal writes a
-- history entry (appeal_events), and each statement that writes some notifies the
-- citypulse_appeals channel once, at commit (a rolled-back change wakes nobody).  The
-- payload is empty: a listener reloads what it shows, filtered as it shows it, so no
-- appeal or agency crosses the channel.  Identical in both schema modes.

CREATE FUNCTION citypulse_appeals_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('citypulse_appeals', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER appeal_events_notify AFTER INSERT ON appeal_events
    FOR EACH STATEMENT EXECUTE FUNCTION citypulse_appeals_notify();
