-- Device registry, status transitions, dead letters, ingest counters and schema policies.
-- Identical in both schema modes.

CREATE TABLE devices (
    id                 text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    kind               text NOT NULL
                       CHECK (kind IN ('traffic_light', 'camera', 'parking', 'ecology')),
    name               text NOT NULL DEFAULT '',
    district           text NOT NULL DEFAULT '',
    address            text NOT NULL DEFAULT '',
    lat                double precision CHECK (lat BETWEEN -90 AND 90),
    lon                double precision CHECK (lon BETWEEN -180 AND 180),
    intersection       text,
    report_interval    real NOT NULL DEFAULT 60 CHECK (report_interval > 0),
    attributes         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_seen          timestamptz,
    online             boolean,
    status_changed_at  timestamptz
);
CREATE INDEX devices_district_kind ON devices (district, kind);
COMMENT ON TABLE devices IS 'Field devices; ingest registers unknown ones when its policy says so';
COMMENT ON COLUMN devices.report_interval IS 'expected interval between readings, s';
COMMENT ON COLUMN devices.lat IS 'WGS 84 latitude, degrees';
COMMENT ON COLUMN devices.lon IS 'WGS 84 longitude, degrees';
COMMENT ON COLUMN devices.last_seen IS 'newest reading or status time; never moves backwards';
COMMENT ON COLUMN devices.online IS 'last reported status (status topic or last will); NULL = never reported';

CREATE TABLE device_status (
    device_id    text NOT NULL,
    time         timestamptz NOT NULL,
    online       boolean NOT NULL,
    reason       text NOT NULL DEFAULT 'status',
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, time)
);
CREATE INDEX device_status_time ON device_status (time);
COMMENT ON TABLE device_status IS 'online/offline transitions from the status topic and the MQTT last will';
COMMENT ON COLUMN device_status.reason IS 'status | last_will | silence';

CREATE TABLE dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    reason       text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    device_id    text,
    worker       text NOT NULL DEFAULT ''
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at);
COMMENT ON TABLE dead_letters IS 'every payload ingest could not store, with the raw bytes and why';
COMMENT ON COLUMN dead_letters.reason IS 'machine-readable code, e.g. invalid_json, out_of_range';
COMMENT ON COLUMN dead_letters.detail IS 'precise human-readable explanation';

CREATE TABLE ingest_stats (
    time                timestamptz NOT NULL,
    worker              text NOT NULL,
    interval_s          real NOT NULL,
    received            bigint NOT NULL,
    stored              bigint NOT NULL,
    duplicates          bigint NOT NULL,
    rejected            bigint NOT NULL,
    rejected_by_reason  jsonb NOT NULL DEFAULT '{}'::jsonb,
    batches             bigint NOT NULL,
    batch_size_avg      real,
    commit_ms_p50       real,
    commit_ms_p99       real,
    lag_ms_p50          real,
    lag_ms_p99          real,
    queue_depth         integer,
    PRIMARY KEY (worker, time)
);
CREATE INDEX ingest_stats_time ON ingest_stats (time);
COMMENT ON TABLE ingest_stats IS 'per-worker counters over each reporting interval (deltas, not totals)';
COMMENT ON COLUMN ingest_stats.lag_ms_p50 IS 'reading time to commit, ms (device clock vs database clock)';

CREATE TABLE schema_policy (
    singleton            boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    raw_retention        interval NOT NULL DEFAULT '365 days',
    rollup_1m_retention  interval NOT NULL DEFAULT '90 days',
    rollup_1h_retention  interval NOT NULL DEFAULT '1825 days',
    compress_after       interval NOT NULL DEFAULT '7 days',
    partitions_ahead     integer NOT NULL DEFAULT 3 CHECK (partitions_ahead BETWEEN 1 AND 60)
);
INSERT INTO schema_policy DEFAULT VALUES;
COMMENT ON TABLE schema_policy IS 'retention and compression settings; change with citypulse_set_retention()';
