-- 1-minute and 1-hour rollups on plain PostgreSQL, kept up to date incrementally.
-- Same names and columns as the continuous aggregates of 0004_rollups.timescale.sql.
--
-- Statement-level triggers on the readings tables append the touched minutes to
-- rollup_dirty (append-only: concurrent ingest workers never block each other there);
-- citypulse_refresh_rollups() recomputes exactly those minutes and their hours from raw.

CREATE TABLE traffic_light_1m (
    bucket               timestamptz NOT NULL,
    device_id            text NOT NULL,
    readings             bigint NOT NULL,
    max_phase_elapsed    real,
    lamp_fault_readings  bigint NOT NULL,
    flashing_readings    bigint NOT NULL,
    dark_readings        bigint NOT NULL,
    door_open_readings   bigint NOT NULL,
    min_supply_voltage   real,
    PRIMARY KEY (device_id, bucket)
);

CREATE TABLE camera_1m (
    bucket                   timestamptz NOT NULL,
    device_id                text NOT NULL,
    readings                 bigint NOT NULL,
    intensity_sum            bigint,
    speed_avg                double precision,
    speed_min                real,
    occupancy_avg            double precision,
    occupancy_max            real,
    heavy_vehicle_share_avg  double precision,
    congested_readings       bigint NOT NULL,
    PRIMARY KEY (device_id, bucket)
);

CREATE TABLE parking_1m (
    bucket              timestamptz NOT NULL,
    device_id           text NOT NULL,
    readings            bigint NOT NULL,
    occupied_avg        double precision,
    occupied_max        integer,
    total_spots         integer,
    out_of_service_max  integer,
    occupancy_avg       double precision,
    PRIMARY KEY (device_id, bucket)
);

CREATE TABLE ecology_1m (
    bucket                    timestamptz NOT NULL,
    device_id                 text NOT NULL,
    readings                  bigint NOT NULL,
    pm25_avg                  double precision,
    pm25_max                  real,
    pm10_avg                  double precision,
    pm10_max                  real,
    no2_avg                   double precision,
    no2_max                   real,
    so2_avg                   double precision,
    so2_max                   real,
    co_avg                    double precision,
    co_max                    real,
    o3_avg                    double precision,
    o3_max                    real,
    laeq_avg                  double precision,
    laeq_max                  real,
    temperature_avg           double precision,
    relative_humidity_avg     double precision,
    atmospheric_pressure_avg  double precision,
    PRIMARY KEY (device_id, bucket)
);

CREATE TABLE traffic_light_1h (LIKE traffic_light_1m INCLUDING ALL);
CREATE TABLE camera_1h (LIKE camera_1m INCLUDING ALL);
CREATE TABLE parking_1h (LIKE parking_1m INCLUDING ALL);
CREATE TABLE ecology_1h (LIKE ecology_1m INCLUDING ALL);

CREATE INDEX traffic_light_1m_bucket ON traffic_light_1m (bucket DESC);
CREATE INDEX camera_1m_bucket ON camera_1m (bucket DESC);
CREATE INDEX parking_1m_bucket ON parking_1m (bucket DESC);
CREATE INDEX ecology_1m_bucket ON ecology_1m (bucket DESC);
CREATE INDEX traffic_light_1h_bucket ON traffic_light_1h (bucket DESC);
CREATE INDEX camera_1h_bucket ON camera_1h (bucket DESC);
CREATE INDEX parking_1h_bucket ON parking_1h (bucket DESC);
CREATE INDEX ecology_1h_bucket ON ecology_1h (bucket DESC);

-- The aggregates, one function per kind, used for both widths.
CREATE FUNCTION citypulse_rollup_traffic_light(width interval, starts timestamptz[])
    RETURNS SETOF traffic_light_1m LANGUAGE sql STABLE AS $$
    SELECT date_bin(width, r.time, '2000-01-01 00:00+00'), r.device_id,
           count(*), max(r.phase_elapsed),
           count(*) FILTER (WHERE r.lamp_fault),
           count(*) FILTER (WHERE r.phase = 'flashing_yellow'),
           count(*) FILTER (WHERE r.phase = 'off'),
           count(*) FILTER (WHERE r.door_open),
           min(r.supply_voltage)
    FROM unnest(starts) AS b(start)
    JOIN traffic_light_readings r ON r.time >= b.start AND r.time < b.start + width
    GROUP BY 1, 2
$$;

CREATE FUNCTION citypulse_rollup_camera(width interval, starts timestamptz[])
    RETURNS SETOF camera_1m LANGUAGE sql STABLE AS $$
    SELECT date_bin(width, r.time, '2000-01-01 00:00+00'), r.device_id,
           count(*), sum(r.intensity), avg(r.average_vehicle_speed),
           min(r.average_vehicle_speed), avg(r.occupancy), max(r.occupancy),
           avg(r.heavy_vehicle_share), count(*) FILTER (WHERE r.congested)
    FROM unnest(starts) AS b(start)
    JOIN camera_readings r ON r.time >= b.start AND r.time < b.start + width
    GROUP BY 1, 2
$$;

CREATE FUNCTION citypulse_rollup_parking(width interval, starts timestamptz[])
    RETURNS SETOF parking_1m LANGUAGE sql STABLE AS $$
    SELECT date_bin(width, r.time, '2000-01-01 00:00+00'), r.device_id,
           count(*), avg(r.occupied_spot_number)::double precision, max(r.occupied_spot_number),
           max(r.total_spot_number), max(r.out_of_service_slot_number),
           avg(r.occupied_spot_number::double precision / NULLIF(r.total_spot_number, 0))
    FROM unnest(starts) AS b(start)
    JOIN parking_readings r ON r.time >= b.start AND r.time < b.start + width
    GROUP BY 1, 2
$$;

CREATE FUNCTION citypulse_rollup_ecology(width interval, starts timestamptz[])
    RETURNS SETOF ecology_1m LANGUAGE sql STABLE AS $$
    SELECT date_bin(width, r.time, '2000-01-01 00:00+00'), r.device_id,
           count(*),
           avg(r.pm25), max(r.pm25), avg(r.pm10), max(r.pm10),
           avg(r.no2), max(r.no2), avg(r.so2), max(r.so2),
           avg(r.co), max(r.co), avg(r.o3), max(r.o3),
           avg(r.laeq), max(r.laeq),
           avg(r.temperature), avg(r.relative_humidity), avg(r.atmospheric_pressure)
    FROM unnest(starts) AS b(start)
    JOIN ecology_readings r ON r.time >= b.start AND r.time < b.start + width
    GROUP BY 1, 2
$$;

CREATE TABLE rollup_dirty (
    kind    text NOT NULL,
    minute  timestamptz NOT NULL
);
COMMENT ON TABLE rollup_dirty IS 'minutes whose raw readings changed since the last rollup refresh';

CREATE FUNCTION citypulse_mark_rollups_dirty() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_dirty (kind, minute)
        SELECT DISTINCT TG_ARGV[0], date_bin('1 minute', time, '2000-01-01 00:00+00') FROM old_rows;
    ELSE
        INSERT INTO rollup_dirty (kind, minute)
        SELECT DISTINCT TG_ARGV[0], date_bin('1 minute', time, '2000-01-01 00:00+00') FROM new_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER traffic_light_rollup_insert AFTER INSERT ON traffic_light_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('traffic_light');
CREATE TRIGGER traffic_light_rollup_update AFTER UPDATE ON traffic_light_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('traffic_light');
CREATE TRIGGER traffic_light_rollup_delete AFTER DELETE ON traffic_light_readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('traffic_light');
CREATE TRIGGER camera_rollup_insert AFTER INSERT ON camera_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('camera');
CREATE TRIGGER camera_rollup_update AFTER UPDATE ON camera_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('camera');
CREATE TRIGGER camera_rollup_delete AFTER DELETE ON camera_readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('camera');
CREATE TRIGGER parking_rollup_insert AFTER INSERT ON parking_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('parking');
CREATE TRIGGER parking_rollup_update AFTER UPDATE ON parking_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('parking');
CREATE TRIGGER parking_rollup_delete AFTER DELETE ON parking_readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('parking');
CREATE TRIGGER ecology_rollup_insert AFTER INSERT ON ecology_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('ecology');
CREATE TRIGGER ecology_rollup_update AFTER UPDATE ON ecology_readings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('ecology');
CREATE TRIGGER ecology_rollup_delete AFTER DELETE ON ecology_readings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_mark_rollups_dirty('ecology');

-- Recomputes the dirty minutes and the hours they fall in; returns the minutes processed.
-- Only one refresher runs at a time; others return 0 at once.
CREATE FUNCTION citypulse_refresh_rollups() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k        text;
    minutes  timestamptz[];
    hours    timestamptz[];
    total    integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('citypulse_refresh_rollups')) THEN
        RETURN 0;
    END IF;
    FOREACH k IN ARRAY ARRAY['traffic_light', 'camera', 'parking', 'ecology'] LOOP
        WITH taken AS (DELETE FROM rollup_dirty WHERE kind = k RETURNING minute)
        SELECT array_agg(DISTINCT minute) INTO minutes FROM taken;
        CONTINUE WHEN minutes IS NULL;
        hours := ARRAY(SELECT DISTINCT date_bin('1 hour', m, '2000-01-01 00:00+00')
                       FROM unnest(minutes) AS m);
        EXECUTE format('DELETE FROM %I WHERE bucket = ANY($1)', k || '_1m') USING minutes;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I($1, $2)', k || '_1m', 'citypulse_rollup_' || k)
            USING interval '1 minute', minutes;
        EXECUTE format('DELETE FROM %I WHERE bucket = ANY($1)', k || '_1h') USING hours;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I($1, $2)', k || '_1h', 'citypulse_rollup_' || k)
            USING interval '1 hour', hours;
        total := total + cardinality(minutes);
    END LOOP;
    RETURN total;
END $$;

-- Periodic upkeep, called by ingest workers every few seconds (any worker; it serialises
-- itself): partitions ahead, expired partitions and rollups dropped, rollups refreshed.
CREATE FUNCTION citypulse_maintain() RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    policy     schema_policy;
    created    integer;
    dropped    integer;
    refreshed  integer;
    trimmed    bigint := 0;
    n          bigint;
    k          text;
BEGIN
    SELECT * INTO policy FROM schema_policy;
    created := citypulse_ensure_partitions(now() - interval '1 day',
                                           now() + make_interval(days => policy.partitions_ahead));
    dropped := citypulse_drop_expired_partitions();
    refreshed := citypulse_refresh_rollups();
    FOREACH k IN ARRAY ARRAY['traffic_light', 'camera', 'parking', 'ecology'] LOOP
        EXECUTE format('DELETE FROM %I WHERE bucket < now() - $1', k || '_1m')
            USING policy.rollup_1m_retention;
        GET DIAGNOSTICS n = ROW_COUNT;
        trimmed := trimmed + n;
        EXECUTE format('DELETE FROM %I WHERE bucket < now() - $1', k || '_1h')
            USING policy.rollup_1h_retention;
        GET DIAGNOSTICS n = ROW_COUNT;
        trimmed := trimmed + n;
    END LOOP;
    RETURN jsonb_build_object('partitions_created', created, 'partitions_dropped', dropped,
                              'rollup_minutes_refreshed', refreshed, 'rollup_rows_expired', trimmed);
END $$;

CREATE FUNCTION citypulse_set_retention(raw interval) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE schema_policy SET raw_retention = raw
$$;

CREATE VIEW schema_policies AS
SELECT 'raw_retention' AS policy, raw_retention::text AS setting,
       'daily partitions dropped by citypulse_maintain()' AS enforced_by FROM schema_policy
UNION ALL SELECT 'rollup_1m_retention', rollup_1m_retention::text, 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'rollup_1h_retention', rollup_1h_retention::text, 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'partitions_ahead', partitions_ahead || ' days', 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'rollup_refresh', 'incremental (dirty minutes)', 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'compression', 'not available without TimescaleDB', '-' FROM schema_policy;
