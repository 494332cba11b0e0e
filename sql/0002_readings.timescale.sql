-- Raw readings on TimescaleDB: hypertables with 1-day chunks, compressed (segmented by
-- device) after schema_policy.compress_after, dropped after schema_policy.raw_retention.
-- Columns must match 0002_readings.plain.sql exactly.

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE FUNCTION citypulse_schema_mode() RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT 'timescale'::text $$;

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
);

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
);

CREATE TABLE parking_readings (
    time                        timestamptz NOT NULL,
    device_id                   text NOT NULL,
    total_spot_number           integer,
    occupied_spot_number        integer,
    out_of_service_slot_number  integer,
    received_at                 timestamptz NOT NULL DEFAULT now(),
    time_from_receiver          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (device_id, time)
);

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
);

-- create_hypertable() adds the (time DESC) index that the plain mode creates by hand.
SELECT create_hypertable('traffic_light_readings', by_range('time', INTERVAL '1 day'));
SELECT create_hypertable('camera_readings', by_range('time', INTERVAL '1 day'));
SELECT create_hypertable('parking_readings', by_range('time', INTERVAL '1 day'));
SELECT create_hypertable('ecology_readings', by_range('time', INTERVAL '1 day'));

ALTER TABLE traffic_light_readings SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = 'time DESC');
ALTER TABLE camera_readings SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = 'lane_id, time DESC');
ALTER TABLE parking_readings SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = 'time DESC');
ALTER TABLE ecology_readings SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = 'time DESC');

SELECT add_compression_policy(t, compress_after => (SELECT compress_after FROM schema_policy))
FROM unnest(ARRAY['traffic_light_readings', 'camera_readings', 'parking_readings',
                  'ecology_readings']::regclass[]) AS t;
SELECT add_retention_policy(t, drop_after => (SELECT raw_retention FROM schema_policy))
FROM unnest(ARRAY['traffic_light_readings', 'camera_readings', 'parking_readings',
                  'ecology_readings']::regclass[]) AS t;

-- Chunks are created by TimescaleDB as data arrives: nothing to prepare.
CREATE FUNCTION citypulse_ensure_partitions(from_time timestamptz, to_time timestamptz)
    RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 0 $$;

CREATE FUNCTION citypulse_drop_expired_partitions() RETURNS integer
    LANGUAGE sql AS $$ SELECT 0 $$;
