-- Least-privilege group roles (NOLOGIN). Grant them to login users, e.g.
--   GRANT citypulse_ingest TO some_login_user;
--   citypulse_ingest  writes readings, status, dead letters, counters; runs upkeep
--   citypulse_reader  reads everything (Grafana, reports); writes nothing
--   citypulse_api     the API and connectors (later migrations grant appeals to it)
-- Roles are cluster-wide, so they are created only where missing.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['citypulse_ingest', 'citypulse_reader', 'citypulse_api'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO citypulse_ingest, citypulse_reader, citypulse_api;

GRANT SELECT, INSERT ON traffic_light_readings, camera_readings, parking_readings,
    ecology_readings TO citypulse_ingest;
GRANT SELECT, INSERT ON devices, device_status TO citypulse_ingest;
GRANT UPDATE (last_seen, online, status_changed_at) ON devices TO citypulse_ingest;
GRANT INSERT ON dead_letters, ingest_stats TO citypulse_ingest;
GRANT SELECT ON schema_policy TO citypulse_ingest;

REVOKE EXECUTE ON FUNCTION citypulse_ensure_partitions(timestamptz, timestamptz),
    citypulse_drop_expired_partitions(), citypulse_refresh_rollups(), citypulse_maintain(),
    citypulse_set_retention(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION citypulse_ensure_partitions(timestamptz, timestamptz),
    citypulse_maintain() TO citypulse_ingest;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO citypulse_reader;

GRANT SELECT ON devices, traffic_light_readings, camera_readings, parking_readings,
    ecology_readings, device_status TO citypulse_api;
