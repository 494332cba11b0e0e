-- Raw readings on plain PostgreSQL (>= 15): range-partitioned by day (UTC).
-- citypulse_ensure_partitions() creates partitions before data arrives for a day;
-- citypulse_maintain() keeps partitions ahead and drops those past retention.
-- Columns must match 0002_readings.timescale.sql exactly.

CREATE FUNCTION citypulse_schema_mode() RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT 'plain'::text $$;

CREATE TABLE traffic_light_readings (
    time                timestamptz NOT NULL,
    device_id           text NOT NULL,
    phase               text NOT NULL CHECK (phase IN
                        ('red', 'red_yellow', 'green', 'yellow', 'flashing_yellow', 'off')),
    phase_elapsed       real,
    cycle_length        real,
    lamp_fault          boolean,
    door_open           boolean,
    supply_voltage      real,
    controller_mode     text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    time_from_receiver  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (device_id, time)
) PARTITION BY RANGE (time);

CREATE TABLE camera_readings (
    time                   timestamptz NOT NULL,
    device_id              text NOT NULL,
    lane_id                smallint NOT NULL DEFAULT 0,
    intensity              integer,
    average_vehicle_speed  real,
    occupancy              real,
    heavy_vehicle_share    real,
    congested              boolean,
    received_at            timestamptz NOT NULL DEFAULT now(),
    time_from_receiver     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (device_id, lane_id, time)
) PARTITION BY RANGE (time);

CREATE TABLE parking_readings (
    time                        timestamptz NOT NULL,
    device_id                   text NOT NULL,
    total_spot_number           integer,
    occupied_spot_number        integer,
    out_of_service_slot_number  integer,
    received_at                 timestamptz NOT NULL DEFAULT now(),
    time_from_receiver          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (device_id, time)
) PARTITION BY RANGE (time);

CREATE TABLE ecology_readings (
    time                  timestamptz NOT NULL,
    device_id             text NOT NULL,
    pm25                  real,
    pm10                  real,
    no2                   real,
    so2                   real,
    co                    real,
    o3                    real,
    laeq                  real,
    temperature           real,
    relative_humidity     real,
    atmospheric_pressure  real,
    received_at           timestamptz NOT NULL DEFAULT now(),
    time_from_receiver    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (device_id, time)
) PARTITION BY RANGE (time);

CREATE INDEX traffic_light_readings_time ON traffic_light_readings (time DESC);
CREATE INDEX camera_readings_time ON camera_readings (time DESC);
CREATE INDEX parking_readings_time ON parking_readings (time DESC);
CREATE INDEX ecology_readings_time ON ecology_readings (time DESC);

-- Creates the daily partitions covering [from_time, to_time] for every readings table.
-- Serialised by an advisory lock so concurrent ingest workers do not race.
CREATE FUNCTION citypulse_ensure_partitions(from_time timestamptz, to_time timestamptz)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    parent   text;
    day      date;
    last_day date := (to_time AT TIME ZONE 'UTC')::date;
    part     text;
    created  integer := 0;
BEGIN
    IF from_time IS NULL OR to_time IS NULL OR to_time < from_time THEN
        RAISE EXCEPTION 'citypulse_ensure_partitions: bad range % .. %', from_time, to_time;
    END IF;
    IF to_time - from_time > interval '4000 days' THEN
        RAISE EXCEPTION 'citypulse_ensure_partitions: range of % is too long', to_time - from_time;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('citypulse_ensure_partitions'));
    FOREACH parent IN ARRAY ARRAY['traffic_light_readings', 'camera_readings',
                                  'parking_readings', 'ecology_readings'] LOOP
        day := (from_time AT TIME ZONE 'UTC')::date;
        WHILE day <= last_day LOOP
            part := parent || '_p' || to_char(day, 'YYYYMMDD');
            IF to_regclass(part) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               part, parent, day::timestamp AT TIME ZONE 'UTC',
                               (day + 1)::timestamp AT TIME ZONE 'UTC');
                created := created + 1;
            END IF;
            day := day + 1;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;

-- Drops daily partitions that lie wholly before now() - raw_retention.
CREATE FUNCTION citypulse_drop_expired_partitions() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cutoff   date;
    part     record;
    dropped  integer := 0;
BEGIN
    SELECT ((now() - raw_retention) AT TIME ZONE 'UTC')::date INTO cutoff FROM schema_policy;
    PERFORM pg_advisory_xact_lock(hashtext('citypulse_ensure_partitions'));
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = 'public'
          AND p.relname IN ('traffic_light_readings', 'camera_readings',
                            'parking_readings', 'ecology_readings')
          AND c.relname ~ '_p[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

SELECT citypulse_ensure_partitions(now() - interval '1 day', now() + interval '3 days');
