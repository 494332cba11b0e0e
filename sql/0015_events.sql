-- Events from the region's other systems («Безопасный город» video analytics, the 112
-- dispatch service, the housing inspection), sent to POST /api/v1/events.  Each event opens
-- or updates an incident that has no device of ours (source_system names who saw it) and
-- whose appeal has the third source, 'system'.  Identical in both schema modes.

-- An incident is seen by one of our devices or reported by another system, never both.
ALTER TABLE incidents
    ALTER COLUMN device_id DROP NOT NULL,
    ADD COLUMN source_system text,
    ADD COLUMN lat double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon double precision CHECK (lon BETWEEN -180 AND 180),
    ADD COLUMN address text NOT NULL DEFAULT '',
    ADD CONSTRAINT incidents_device_or_system
        CHECK ((device_id IS NULL) <> (source_system IS NULL));
COMMENT ON COLUMN incidents.source_system IS
    'the system whose event opened it (routing file, events.sources); NULL for our devices';
COMMENT ON COLUMN incidents.lat IS 'where a system''s event happened (a device''s own place otherwise)';
-- A repeat of the same situation updates the open incident: found by type, time and place.
CREATE INDEX incidents_system_open ON incidents (type, last_alarm_at)
    WHERE status = 'open' AND device_id IS NULL;

ALTER TABLE appeals DROP CONSTRAINT appeals_source_check;
ALTER TABLE appeals DROP CONSTRAINT appeals_check;
ALTER TABLE appeals
    ADD CONSTRAINT appeals_source_check CHECK (source IN ('sensor', 'citizen', 'system')),
    ADD CONSTRAINT appeals_incident_check
        CHECK ((source IN ('sensor', 'system')) = (incident_id IS NOT NULL));
COMMENT ON COLUMN appeals.source IS
    'sensor (our detectors), citizen (a report), system (another system''s event)';

-- A system key speaks for one source system and signs its bodies with a secret that is
-- never sent: the key is stored hashed, the secret as given (HMAC needs it), readable only
-- by the API's role.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys
    ADD COLUMN source_system text,
    ADD COLUMN signing_secret text,
    ADD CONSTRAINT api_keys_role_check
        CHECK (role IN ('reporter', 'operator', 'admin', 'system')),
    ADD CONSTRAINT api_keys_system_check CHECK (
        (role = 'system') = (source_system IS NOT NULL AND signing_secret IS NOT NULL));
COMMENT ON COLUMN api_keys.signing_secret IS
    'system keys: the HMAC secret their events are signed with (never sent on the wire)';

-- Every accepted event, once: (source, event_id) is the sender's idempotency key.
CREATE TABLE system_events (
    source       text NOT NULL,
    event_id     text NOT NULL,
    body_sha256  bytea NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    key_name     text NOT NULL,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    appeal_id    bigint NOT NULL REFERENCES appeals (id),
    outcome      text NOT NULL CHECK (outcome IN ('opened', 'updated')),
    payload      jsonb NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX system_events_incident ON system_events (incident_id);
COMMENT ON TABLE system_events IS
    'events from other systems as received; a repeat of (source, event_id) returns the first';
COMMENT ON COLUMN system_events.body_sha256 IS
    'SHA-256 of the canonical JSON: a repeat with another body is refused (409)';
COMMENT ON COLUMN system_events.payload IS 'the event as sent (may name people: not for readers)';

GRANT SELECT, INSERT ON system_events TO citypulse_api;
GRANT SELECT (source, event_id, type, occurred_at, received_at, incident_id, appeal_id, outcome)
    ON system_events TO citypulse_reader;
