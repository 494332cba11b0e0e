-- Ingest workers' heartbeats, so that the MQTT session of a worker that never comes back
-- is drained by a survivor instead of waiting for it (docs/deploy.md, "A worker that
-- never comes back").  Kept in the database rather than in retained MQTT messages: a
-- takeover is only worth doing while the database answers (the drained readings go
-- there), the database's clock is one clock for every worker, and a survivor claims a
-- dead peer's session with one UPDATE, so two survivors never take over the same one.
-- Identical in both schema modes.

CREATE TABLE ingest_sessions (
    client_id   text PRIMARY KEY,
    login       text NOT NULL,
    worker      text NOT NULL,
    share_group text NOT NULL,
    seen_at     timestamptz NOT NULL,
    leaving     boolean NOT NULL DEFAULT false,
    claimed_by  text,
    claimed_at  timestamptz
);
COMMENT ON TABLE ingest_sessions IS 'one row per ingest worker''s persistent MQTT session, with its last heartbeat; a survivor drains and ends the session of a worker silent for longer than --takeover-after';
COMMENT ON COLUMN ingest_sessions.login IS 'MQTT username the worker connects with (its client id under the shipped broker config); never a password';
COMMENT ON COLUMN ingest_sessions.leaving IS 'the worker is scaling down: it unsubscribed and drains its session';
COMMENT ON COLUMN ingest_sessions.claimed_by IS 'client id of the survivor draining this session';

GRANT SELECT, INSERT, UPDATE, DELETE ON ingest_sessions TO citypulse_ingest;
GRANT SELECT ON ingest_sessions TO citypulse_reader;
