-- Incidents (what the detectors found), appeals (the governance center's queue: synthetic
-- ones from incidents and citizens' reports alike), their history, and the delivery outbox.
-- Identical in both schema modes.  Later migrations may add columns; this file is the
-- contract every package codes against.

CREATE TABLE incidents (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type             text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]{1,47}$'),
    device_id        text NOT NULL REFERENCES devices (id),
    related_devices  text[] NOT NULL DEFAULT '{}',
    severity         smallint NOT NULL CHECK (severity BETWEEN 1 AND 4),
    status           text NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'resolved', 'closed')),
    started_at       timestamptz NOT NULL,
    last_alarm_at    timestamptz NOT NULL,
    resolved_at      timestamptz,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    detector         text NOT NULL,
    score            real NOT NULL CHECK (score BETWEEN 0 AND 1),
    threshold        real NOT NULL CHECK (threshold BETWEEN 0 AND 1),
    value            double precision,
    limit_value      double precision,
    unit             text NOT NULL DEFAULT '',
    evidence         jsonb NOT NULL DEFAULT '{}'::jsonb,
    alarms           integer NOT NULL DEFAULT 1 CHECK (alarms >= 1),
    worker           text NOT NULL DEFAULT '',
    closed_by        text,
    note             text NOT NULL DEFAULT '',
    CHECK (last_alarm_at >= started_at),
    CHECK ((status = 'open') = (resolved_at IS NULL))
);
-- One open incident per (device, type), enforced here so that concurrent workers cannot
-- open duplicates: the loser of a race gets a unique violation and updates instead.
CREATE UNIQUE INDEX incidents_one_open ON incidents (device_id, type) WHERE status = 'open';
CREATE INDEX incidents_started_at ON incidents (started_at DESC);
CREATE INDEX incidents_device ON incidents (device_id, started_at DESC);
COMMENT ON TABLE incidents IS 'deviations found by the detectors; one open per (device, type)';
COMMENT ON COLUMN incidents.type IS 'IncidentType, e.g. stuck_phase, air_quality_exceedance';
COMMENT ON COLUMN incidents.severity IS '1 low, 2 medium, 3 high, 4 critical; may escalate';
COMMENT ON COLUMN incidents.started_at IS 'reading time of the first alarming reading';
COMMENT ON COLUMN incidents.opened_at IS 'database time the incident was opened (detection latency)';
COMMENT ON COLUMN incidents.evidence IS 'readings, detector parameters, metric and other facts';
COMMENT ON COLUMN incidents.status IS 'open; resolved (series normal again); closed (by an operator via its appeal)';

CREATE TABLE appeals (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source                text NOT NULL CHECK (source IN ('sensor', 'citizen')),
    channel               text NOT NULL DEFAULT 'citypulse',
    external_id           text,
    sector                text NOT NULL,
    service_code          text NOT NULL,
    title                 text NOT NULL,
    description           text NOT NULL DEFAULT '',
    lat                   double precision CHECK (lat BETWEEN -90 AND 90),
    lon                   double precision CHECK (lon BETWEEN -180 AND 180),
    address               text NOT NULL DEFAULT '',
    district              text NOT NULL DEFAULT '',
    priority              smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 4),
    status                text NOT NULL DEFAULT 'new' CHECK (status IN
                          ('new', 'accepted', 'in_progress', 'resolved', 'closed', 'rejected')),
    agency                text NOT NULL DEFAULT '',
    locale                text NOT NULL DEFAULT 'ru',
    requested_at          timestamptz NOT NULL DEFAULT now(),
    expected_at           timestamptz,
    accepted_at           timestamptz,
    resolved_at           timestamptz,
    closed_at             timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    evidence              jsonb NOT NULL DEFAULT '{}'::jsonb,
    incident_id           bigint UNIQUE REFERENCES incidents (id),
    group_id              bigint REFERENCES appeals (id),
    confirmed_by_sensors  boolean NOT NULL DEFAULT false,
    media_url             text,
    contact               jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (channel, external_id),
    CHECK ((source = 'sensor') = (incident_id IS NOT NULL))
);
CREATE INDEX appeals_requested_at ON appeals (requested_at DESC);
CREATE INDEX appeals_status ON appeals (status, expected_at);
CREATE INDEX appeals_sector ON appeals (sector, requested_at DESC);
CREATE INDEX appeals_agency ON appeals (agency, requested_at DESC);
CREATE INDEX appeals_group ON appeals (group_id) WHERE group_id IS NOT NULL;
COMMENT ON TABLE appeals IS 'the governance center''s queue: sensor (synthetic) and citizen appeals';
COMMENT ON COLUMN appeals.sector IS 'sector block: Дороги, Транспорт, Экология, ЖКХ, ...';
COMMENT ON COLUMN appeals.service_code IS 'Open311 GeoReport v2 service_code';
COMMENT ON COLUMN appeals.expected_at IS 'deadline; overdue when past and not resolved/closed/rejected';
COMMENT ON COLUMN appeals.group_id IS 'the appeal this one duplicates (the group''s first appeal)';
COMMENT ON COLUMN appeals.contact IS 'citizen contact details (personal data); never exported';

CREATE TABLE appeal_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id  bigint NOT NULL REFERENCES appeals (id),
    time       timestamptz NOT NULL DEFAULT now(),
    status     text NOT NULL,
    note       text NOT NULL DEFAULT '',
    actor      text NOT NULL DEFAULT ''
);
CREATE INDEX appeal_events_appeal ON appeal_events (appeal_id, time);
COMMENT ON TABLE appeal_events IS 'status history of each appeal, with operators'' notes';

CREATE TABLE appeal_links (
    appeal_id  bigint NOT NULL REFERENCES appeals (id),
    linked_id  bigint NOT NULL REFERENCES appeals (id),
    reason     text NOT NULL CHECK (reason IN ('confirms', 'duplicate', 'related')),
    distance_m real,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (appeal_id, linked_id),
    CHECK (appeal_id <> linked_id)
);
COMMENT ON TABLE appeal_links IS 'citizen reports and sensor appeals about the same problem';

CREATE TABLE outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id        bigint NOT NULL REFERENCES appeals (id),
    connector        text NOT NULL,
    event            text NOT NULL CHECK (event IN ('created', 'updated')),
    idempotency_key  text NOT NULL,
    payload          jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    deliver_by       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    last_error       text NOT NULL DEFAULT '',
    last_status      integer,
    delivered_at     timestamptz,
    failed_at        timestamptz,
    remote_id        text,
    UNIQUE (connector, idempotency_key)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
COMMENT ON TABLE outbox IS 'appeal deliveries, written in the appeal''s transaction; at-least-once';
COMMENT ON COLUMN outbox.idempotency_key IS 'derived from the appeal id and event; receivers dedupe on it';
COMMENT ON COLUMN outbox.deliver_by IS 'after this the delivery is marked failed and shown';

CREATE TABLE api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    key_hash    bytea NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('reporter', 'operator', 'admin')),
    agency      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
COMMENT ON TABLE api_keys IS 'API keys, stored as SHA-256 hashes only';

-- Detector state: checkpoints and the reading-time watermark each worker has processed.
CREATE TABLE detector_checkpoints (
    partition   integer NOT NULL,
    partitions  integer NOT NULL CHECK (partitions >= 1),
    state       bytea NOT NULL,
    watermark   timestamptz,
    worker      text NOT NULL DEFAULT '',
    saved_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partitions, partition)
);
COMMENT ON TABLE detector_checkpoints IS 'pickled detector state per device partition';

GRANT SELECT, INSERT, UPDATE ON incidents, appeals, appeal_events, appeal_links, outbox,
    detector_checkpoints TO citypulse_api;
GRANT SELECT ON api_keys, devices, device_status TO citypulse_api;
GRANT SELECT ON incidents, appeal_events, appeal_links, outbox TO citypulse_reader;
-- Grafana reads appeals but not citizens' contact details.
GRANT SELECT (id, source, channel, external_id, sector, service_code, title, description,
    lat, lon, address, district, priority, status, agency, locale, requested_at, expected_at,
    accepted_at, resolved_at, closed_at, updated_at, evidence, incident_id, group_id,
    confirmed_by_sensors, media_url) ON appeals TO citypulse_reader;
