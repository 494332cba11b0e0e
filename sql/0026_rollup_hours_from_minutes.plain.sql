-- An hour's rollup built from its 60 minute rows, not from the raw readings.
--
-- 0022 and 0025 rolled a dirty hour up from raw once it had waited.  At a large city's
-- rate an hour holds 18 million readings: the open hour was re-read every 5 minutes, and
-- a closed hour once more when its late data stopped, in one refresh call that held every
-- other dirty minute until it ended (the rollup lag reached 80 s in `citypulse bench soak
-- --city large --minutes 30`).  The minute rows already hold what the hour needs, at a
-- 60th (or less) of the rows: sums, counts, minima and maxima combine as they are; an
-- average is exact only when weighted by the number of readings it averaged, which is
-- not `readings` wherever a value may be empty (a camera's speed with no vehicle, a
-- station's pollutant its sensor does not measure).  Each average now carries that count
-- beside it (`<value>_readings`: its data capture, which an air-quality hour's validity
-- is judged by).
--
-- The raw path stays for hours whose minutes cannot give them: minute rows written
-- before this migration (no counts) and hours older than the minute rollups' retention.
-- TimescaleDB's continuous aggregates are not changed (0026_*.timescale.sql).

-- The same columns on each kind's minute and hour tables (an hour's row is built as a
-- minute row is: `INSERT INTO <kind>_1h SELECT * FROM ...`).
DO $$
DECLARE
    width text;
BEGIN
    FOREACH width IN ARRAY ARRAY['1m', '1h'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN speed_readings integer,'
                       ' ADD COLUMN occupancy_readings integer,'
                       ' ADD COLUMN heavy_vehicle_share_readings integer', 'camera_' || width);
        EXECUTE format('ALTER TABLE %I ADD COLUMN occupied_readings integer,'
                       ' ADD COLUMN occupancy_readings integer', 'parking_' || width);
        EXECUTE format('ALTER TABLE %I ADD COLUMN pm25_readings integer,'
                       ' ADD COLUMN pm10_readings integer, ADD COLUMN no2_readings integer,'
                       ' ADD COLUMN so2_readings integer, ADD COLUMN co_readings integer,'
                       ' ADD COLUMN o3_readings integer, ADD COLUMN laeq_readings integer,'
                       ' ADD COLUMN temperature_readings integer,'
                       ' ADD COLUMN relative_humidity_readings integer,'
                       ' ADD COLUMN atmospheric_pressure_readings integer', 'ecology_' || width);
    END LOOP;
END $$;

COMMENT ON COLUMN camera_1m.speed_readings IS 'readings with a speed (speed_avg averages these)';
COMMENT ON COLUMN camera_1m.occupancy_readings IS 'readings with an occupancy';
COMMENT ON COLUMN camera_1m.heavy_vehicle_share_readings IS 'readings with a heavy-vehicle share';
COMMENT ON COLUMN parking_1m.occupied_readings IS 'readings with an occupied count';
COMMENT ON COLUMN parking_1m.occupancy_readings IS
    'readings with an occupied count and a non-zero capacity (occupancy_avg averages these)';
COMMENT ON COLUMN ecology_1m.pm25_readings IS
    'readings with PM2.5 (pm25_avg averages these): the data capture; likewise each <value>_readings';

-- From raw (both widths): as 0004, with the counts.
CREATE OR REPLACE FUNCTION citypulse_rollup_camera(width interval, starts timestamptz[])
    RETURNS SETOF camera_1m LANGUAGE sql STABLE AS $$
    SELECT date_bin(width, r.time, '2000-01-01 00:00+00'), r.device_id,
           count(*), sum(r.intensity), avg(r.average_vehicle_speed),
           min(r.average_vehicle_speed), avg(r.occupancy), max(r.occupancy),
           avg(r.heavy_vehicle_share), count(*) FILTER (WHERE r.congested),
           count(r.average_vehicle_speed)::integer, count(r.occupancy)::integer,
           count(r.heavy_vehicle_share)::integer
    FROM unnest(starts) AS b(start)
    JOIN camera_readings r ON r.time >= b.start AND r.time < b.start + width
    GROUP BY 1, 2
$$;

CREATE OR REPLACE FUNCTION citypulse_rollup_parking(width interval, starts timestamptz[])
    RETURNS SETOF parking_1m LANGUAGE sql STABLE AS $$
    SELECT date_bin(width, r.time, '2000-01-01 00:00+00'), r.device_id,
           count(*), avg(r.occupied_spot_number)::double precision, max(r.occupied_spot_number),
           max(r.total_spot_number), max(r.out_of_service_slot_number),
           avg(r.occupied_spot_number::double precision / NULLIF(r.total_spot_number, 0)),
           count(r.occupied_spot_number)::integer,
           count(r.occupied_spot_number::double precision / NULLIF(r.total_spot_number, 0))::integer
    FROM unnest(starts) AS b(start)
    JOIN parking_readings r ON r.time >= b.start AND r.time < b.start + width
    GROUP BY 1, 2
$$;

CREATE OR REPLACE FUNCTION citypulse_rollup_ecology(width interval, starts timestamptz[])
    RETURNS SETOF ecology_1m LANGUAGE sql STABLE AS $$
    SELECT date_bin(width, r.time, '2000-01-01 00:00+00'), r.device_id,
           count(*),
           avg(r.pm25), max(r.pm25), avg(r.pm10), max(r.pm10),
           avg(r.no2), max(r.no2), avg(r.so2), max(r.so2),
           avg(r.co), max(r.co), avg(r.o3), max(r.o3),
           avg(r.laeq), max(r.laeq),
           avg(r.temperature), avg(r.relative_humidity), avg(r.atmospheric_pressure),
           count(r.pm25)::integer, count(r.pm10)::integer, count(r.no2)::integer,
           count(r.so2)::integer, count(r.co)::integer, count(r.o3)::integer,
           count(r.laeq)::integer, count(r.temperature)::integer,
           count(r.relative_humidity)::integer, count(r.atmospheric_pressure)::integer
    FROM unnest(starts) AS b(start)
    JOIN ecology_readings r ON r.time >= b.start AND r.time < b.start + width
    GROUP BY 1, 2
$$;

-- From the minute rows: one function per kind, hours in, 1-hour rows out.  An average is
-- the count-weighted mean of its minutes' averages (empty where no minute had a value).
CREATE FUNCTION citypulse_rollup_traffic_light_hours(hours timestamptz[])
    RETURNS SETOF traffic_light_1m LANGUAGE sql STABLE AS $$
    SELECT b.hour, m.device_id,
           sum(m.readings)::bigint, max(m.max_phase_elapsed),
           sum(m.lamp_fault_readings)::bigint, sum(m.flashing_readings)::bigint,
           sum(m.dark_readings)::bigint, sum(m.door_open_readings)::bigint,
           min(m.min_supply_voltage)
    FROM unnest(hours) AS b(hour)
    JOIN traffic_light_1m m ON m.bucket >= b.hour AND m.bucket < b.hour + interval '1 hour'
    GROUP BY 1, 2
$$;

CREATE FUNCTION citypulse_rollup_camera_hours(hours timestamptz[])
    RETURNS SETOF camera_1m LANGUAGE sql STABLE AS $$
    SELECT b.hour, m.device_id,
           sum(m.readings)::bigint, sum(m.intensity_sum)::bigint,
           sum(m.speed_avg * m.speed_readings) / NULLIF(sum(m.speed_readings), 0),
           min(m.speed_min),
           sum(m.occupancy_avg * m.occupancy_readings) / NULLIF(sum(m.occupancy_readings), 0),
           max(m.occupancy_max),
           sum(m.heavy_vehicle_share_avg * m.heavy_vehicle_share_readings)
               / NULLIF(sum(m.heavy_vehicle_share_readings), 0),
           sum(m.congested_readings)::bigint,
           sum(m.speed_readings)::integer, sum(m.occupancy_readings)::integer,
           sum(m.heavy_vehicle_share_readings)::integer
    FROM unnest(hours) AS b(hour)
    JOIN camera_1m m ON m.bucket >= b.hour AND m.bucket < b.hour + interval '1 hour'
    GROUP BY 1, 2
$$;

CREATE FUNCTION citypulse_rollup_parking_hours(hours timestamptz[])
    RETURNS SETOF parking_1m LANGUAGE sql STABLE AS $$
    SELECT b.hour, m.device_id,
           sum(m.readings)::bigint,
           sum(m.occupied_avg * m.occupied_readings) / NULLIF(sum(m.occupied_readings), 0),
           max(m.occupied_max), max(m.total_spots), max(m.out_of_service_max),
           sum(m.occupancy_avg * m.occupancy_readings) / NULLIF(sum(m.occupancy_readings), 0),
           sum(m.occupied_readings)::integer, sum(m.occupancy_readings)::integer
    FROM unnest(hours) AS b(hour)
    JOIN parking_1m m ON m.bucket >= b.hour AND m.bucket < b.hour + interval '1 hour'
    GROUP BY 1, 2
$$;

CREATE FUNCTION citypulse_rollup_ecology_hours(hours timestamptz[])
    RETURNS SETOF ecology_1m LANGUAGE sql STABLE AS $$
    SELECT b.hour, m.device_id,
           sum(m.readings)::bigint,
           sum(m.pm25_avg * m.pm25_readings) / NULLIF(sum(m.pm25_readings), 0), max(m.pm25_max),
           sum(m.pm10_avg * m.pm10_readings) / NULLIF(sum(m.pm10_readings), 0), max(m.pm10_max),
           sum(m.no2_avg * m.no2_readings) / NULLIF(sum(m.no2_readings), 0), max(m.no2_max),
           sum(m.so2_avg * m.so2_readings) / NULLIF(sum(m.so2_readings), 0), max(m.so2_max),
           sum(m.co_avg * m.co_readings) / NULLIF(sum(m.co_readings), 0), max(m.co_max),
           sum(m.o3_avg * m.o3_readings) / NULLIF(sum(m.o3_readings), 0), max(m.o3_max),
           sum(m.laeq_avg * m.laeq_readings) / NULLIF(sum(m.laeq_readings), 0), max(m.laeq_max),
           sum(m.temperature_avg * m.temperature_readings)
               / NULLIF(sum(m.temperature_readings), 0),
           sum(m.relative_humidity_avg * m.relative_humidity_readings)
               / NULLIF(sum(m.relative_humidity_readings), 0),
           sum(m.atmospheric_pressure_avg * m.atmospheric_pressure_readings)
               / NULLIF(sum(m.atmospheric_pressure_readings), 0),
           sum(m.pm25_readings)::integer, sum(m.pm10_readings)::integer,
           sum(m.no2_readings)::integer, sum(m.so2_readings)::integer,
           sum(m.co_readings)::integer, sum(m.o3_readings)::integer,
           sum(m.laeq_readings)::integer, sum(m.temperature_readings)::integer,
           sum(m.relative_humidity_readings)::integer,
           sum(m.atmospheric_pressure_readings)::integer
    FROM unnest(hours) AS b(hour)
    JOIN ecology_1m m ON m.bucket >= b.hour AND m.bucket < b.hour + interval '1 hour'
    GROUP BY 1, 2
$$;

-- The first hour whose minute rows all carry their counts: the one after the latest minute
-- rolled up so far (none on a new database).
ALTER TABLE schema_policy ADD COLUMN minute_counts_from timestamptz NOT NULL DEFAULT '-infinity';
COMMENT ON COLUMN schema_policy.minute_counts_from IS
    'hours from here on are rolled up from their minute rows; earlier ones from raw (0026)';
UPDATE schema_policy SET minute_counts_from = coalesce(
    date_bin('1 hour', greatest((SELECT max(bucket) FROM traffic_light_1m),
                                (SELECT max(bucket) FROM camera_1m),
                                (SELECT max(bucket) FROM parking_1m),
                                (SELECT max(bucket) FROM ecology_1m)),
             '2000-01-01 00:00+00') + interval '1 hour',
    '-infinity');

-- As 0025, with each due hour built from its minutes where they can give it: not older
-- than the minute rollups' retention (their early minutes may be gone) and from
-- minute_counts_from on.
CREATE OR REPLACE FUNCTION citypulse_refresh_rollups() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k          text;
    minutes    timestamptz[];
    hours      timestamptz[];
    raw_hours  timestamptz[];
    touched    timestamptz[];
    kept_1m    interval;
    counted_from timestamptz;
    total      integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('citypulse_refresh_rollups')) THEN
        RETURN 0;
    END IF;
    SELECT rollup_1m_retention, minute_counts_from INTO kept_1m, counted_from FROM schema_policy;
    FOREACH k IN ARRAY ARRAY['traffic_light', 'camera', 'parking', 'ecology'] LOOP
        WITH taken AS (DELETE FROM rollup_dirty WHERE kind = k RETURNING minute)
        SELECT array_agg(DISTINCT minute) INTO minutes FROM taken;
        touched := ARRAY(SELECT DISTINCT date_bin('1 hour', m, '2000-01-01 00:00+00')
                         FROM unnest(minutes) AS m);
        IF minutes IS NOT NULL THEN
            EXECUTE format('DELETE FROM %I WHERE bucket = ANY($1)', k || '_1m') USING minutes;
            EXECUTE format('INSERT INTO %I SELECT * FROM %I($1, $2)', k || '_1m',
                           'citypulse_rollup_' || k)
                USING interval '1 minute', minutes;
            -- the earliest wait is kept: an hour dirty again and again still comes due
            INSERT INTO rollup_dirty_hours (kind, hour)
            SELECT DISTINCT k, date_bin('1 hour', m, '2000-01-01 00:00+00')
            FROM unnest(minutes) AS m
            ON CONFLICT DO NOTHING;
            total := total + cardinality(minutes);
        END IF;
        WITH due AS (
            DELETE FROM rollup_dirty_hours
            WHERE kind = k
              AND (since <= now() - interval '5 minutes'
                   OR (hour + interval '1 hour' <= now() AND hour <> ALL (touched)))
            RETURNING hour)
        SELECT array_agg(hour) INTO hours FROM due;
        CONTINUE WHEN hours IS NULL;
        raw_hours := ARRAY(SELECT h FROM unnest(hours) AS h
                           WHERE h < now() - kept_1m OR h < counted_from);
        EXECUTE format('DELETE FROM %I WHERE bucket = ANY($1)', k || '_1h') USING hours;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I($1)', k || '_1h',
                       'citypulse_rollup_' || k || '_hours')
            USING ARRAY(SELECT h FROM unnest(hours) AS h WHERE h <> ALL (raw_hours));
        IF cardinality(raw_hours) > 0 THEN
            EXECUTE format('INSERT INTO %I SELECT * FROM %I($1, $2)', k || '_1h',
                           'citypulse_rollup_' || k)
                USING interval '1 hour', raw_hours;
        END IF;
    END LOOP;
    RETURN total;
END $$;

CREATE OR REPLACE VIEW schema_policies AS
SELECT 'raw_retention' AS policy, raw_retention::text AS setting,
       'daily partitions dropped by citypulse_maintain()' AS enforced_by FROM schema_policy
UNION ALL SELECT 'rollup_1m_retention', rollup_1m_retention::text, 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'rollup_1h_retention', rollup_1h_retention::text, 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'partitions_ahead', partitions_ahead || ' days', 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'rollup_refresh',
                 'incremental: dirty minutes at once from raw; an hour from its minutes once dirty '
                 '5 minutes, or closed and quiet',
                 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'compression', 'not available without TimescaleDB', '-' FROM schema_policy;
