-- What `citypulse detect` needs beyond the 0006 contract: the device partition function,
-- indexes to read new rows by arrival time, idempotent incident opening, and a
-- least-privilege role.  Identical in both schema modes.

-- Devices are split into detector partitions by a stable hash of their id.  md5 rather
-- than hashtext: its value cannot change with a PostgreSQL upgrade.
CREATE FUNCTION citypulse_partition(key text, partitions integer) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (('x' || substr(md5(key), 1, 8))::bit(32)::bigint % partitions)::integer
$$;
COMMENT ON FUNCTION citypulse_partition(text, integer) IS
    'detector partition (0 .. partitions-1) of a device id';

-- The detect worker reads rows that arrived after its watermark.
CREATE INDEX traffic_light_readings_received ON traffic_light_readings (received_at);
CREATE INDEX camera_readings_received ON camera_readings (received_at);
CREATE INDEX parking_readings_received ON parking_readings (received_at);
CREATE INDEX ecology_readings_received ON ecology_readings (received_at);
CREATE INDEX device_status_received ON device_status (received_at);
CREATE INDEX dead_letters_device_received ON dead_letters (received_at) WHERE device_id IS NOT NULL;

-- A replayed stretch of history re-derives the same incident (same first alarming
-- reading): it must find the stored one instead of opening it twice.
CREATE UNIQUE INDEX incidents_one_start ON incidents (device_id, type, started_at);
CREATE INDEX incidents_open ON incidents (device_id) WHERE status = 'open';

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'citypulse_detect') THEN
        CREATE ROLE citypulse_detect NOLOGIN;
    END IF;
END $$;
COMMENT ON ROLE citypulse_detect IS
    'citypulse detect: reads readings and devices, writes incidents, appeals and checkpoints';

GRANT USAGE ON SCHEMA public TO citypulse_detect;
GRANT SELECT ON devices, device_status, traffic_light_readings, camera_readings,
    parking_readings, ecology_readings TO citypulse_detect;
GRANT SELECT (id, received_at, reason, detail, device_id) ON dead_letters TO citypulse_detect;
GRANT SELECT, INSERT, UPDATE ON incidents, appeals, appeal_events, appeal_links, outbox,
    detector_checkpoints TO citypulse_detect;
GRANT DELETE ON detector_checkpoints TO citypulse_detect;
GRANT EXECUTE ON FUNCTION citypulse_partition(text, integer) TO citypulse_detect;
