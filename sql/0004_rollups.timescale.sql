-- 1-minute and 1-hour rollups on TimescaleDB: real-time continuous aggregates.
-- Same names and columns as the tables of 0004_rollups.plain.sql.
-- Refresh policies reach back 30 days (1m) and 90 days (1h), so late data within those
-- windows is folded in; retention on the aggregates follows schema_policy.

CREATE MATERIALIZED VIEW traffic_light_1m
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, device_id,
           count(*) AS readings, max(phase_elapsed) AS max_phase_elapsed,
           count(*) FILTER (WHERE lamp_fault) AS lamp_fault_readings,
           count(*) FILTER (WHERE phase = 'flashing_yellow') AS flashing_readings,
           count(*) FILTER (WHERE phase = 'off') AS dark_readings,
           count(*) FILTER (WHERE door_open) AS door_open_readings,
           min(supply_voltage) AS min_supply_voltage
    FROM traffic_light_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('traffic_light_1m', start_offset => INTERVAL '30 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

CREATE MATERIALIZED VIEW camera_1m
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, device_id,
           count(*) AS readings, sum(intensity) AS intensity_sum,
           avg(average_vehicle_speed) AS speed_avg, min(average_vehicle_speed) AS speed_min,
           avg(occupancy) AS occupancy_avg, max(occupancy) AS occupancy_max,
           avg(heavy_vehicle_share) AS heavy_vehicle_share_avg,
           count(*) FILTER (WHERE congested) AS congested_readings
    FROM camera_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('camera_1m', start_offset => INTERVAL '30 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

CREATE MATERIALIZED VIEW parking_1m
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, device_id,
           count(*) AS readings, avg(occupied_spot_number)::double precision AS occupied_avg,
           max(occupied_spot_number) AS occupied_max, max(total_spot_number) AS total_spots,
           max(out_of_service_slot_number) AS out_of_service_max,
           avg(occupied_spot_number::double precision / NULLIF(total_spot_number, 0))
               AS occupancy_avg
    FROM parking_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('parking_1m', start_offset => INTERVAL '30 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

CREATE MATERIALIZED VIEW ecology_1m
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, device_id,
           count(*) AS readings,
           avg(pm25) AS pm25_avg, max(pm25) AS pm25_max, avg(pm10) AS pm10_avg, max(pm10) AS pm10_max,
           avg(no2) AS no2_avg, max(no2) AS no2_max, avg(so2) AS so2_avg, max(so2) AS so2_max,
           avg(co) AS co_avg, max(co) AS co_max, avg(o3) AS o3_avg, max(o3) AS o3_max,
           avg(laeq) AS laeq_avg, max(laeq) AS laeq_max,
           avg(temperature) AS temperature_avg, avg(relative_humidity) AS relative_humidity_avg,
           avg(atmospheric_pressure) AS atmospheric_pressure_avg
    FROM ecology_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('ecology_1m', start_offset => INTERVAL '30 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

CREATE MATERIALIZED VIEW traffic_light_1h
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, device_id,
           count(*) AS readings, max(phase_elapsed) AS max_phase_elapsed,
           count(*) FILTER (WHERE lamp_fault) AS lamp_fault_readings,
           count(*) FILTER (WHERE phase = 'flashing_yellow') AS flashing_readings,
           count(*) FILTER (WHERE phase = 'off') AS dark_readings,
           count(*) FILTER (WHERE door_open) AS door_open_readings,
           min(supply_voltage) AS min_supply_voltage
    FROM traffic_light_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('traffic_light_1h', start_offset => INTERVAL '90 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '10 minutes');

CREATE MATERIALIZED VIEW camera_1h
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, device_id,
           count(*) AS readings, sum(intensity) AS intensity_sum,
           avg(average_vehicle_speed) AS speed_avg, min(average_vehicle_speed) AS speed_min,
           avg(occupancy) AS occupancy_avg, max(occupancy) AS occupancy_max,
           avg(heavy_vehicle_share) AS heavy_vehicle_share_avg,
           count(*) FILTER (WHERE congested) AS congested_readings
    FROM camera_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('camera_1h', start_offset => INTERVAL '90 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '10 minutes');

CREATE MATERIALIZED VIEW parking_1h
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, device_id,
           count(*) AS readings, avg(occupied_spot_number)::double precision AS occupied_avg,
           max(occupied_spot_number) AS occupied_max, max(total_spot_number) AS total_spots,
           max(out_of_service_slot_number) AS out_of_service_max,
           avg(occupied_spot_number::double precision / NULLIF(total_spot_number, 0))
               AS occupancy_avg
    FROM parking_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('parking_1h', start_offset => INTERVAL '90 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '10 minutes');

CREATE MATERIALIZED VIEW ecology_1h
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, device_id,
           count(*) AS readings,
           avg(pm25) AS pm25_avg, max(pm25) AS pm25_max, avg(pm10) AS pm10_avg, max(pm10) AS pm10_max,
           avg(no2) AS no2_avg, max(no2) AS no2_max, avg(so2) AS so2_avg, max(so2) AS so2_max,
           avg(co) AS co_avg, max(co) AS co_max, avg(o3) AS o3_avg, max(o3) AS o3_max,
           avg(laeq) AS laeq_avg, max(laeq) AS laeq_max,
           avg(temperature) AS temperature_avg, avg(relative_humidity) AS relative_humidity_avg,
           avg(atmospheric_pressure) AS atmospheric_pressure_avg
    FROM ecology_readings
    GROUP BY 1, 2
    WITH NO DATA;
SELECT add_continuous_aggregate_policy('ecology_1h', start_offset => INTERVAL '90 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '10 minutes');

SELECT add_retention_policy(t, drop_after => (SELECT rollup_1m_retention FROM schema_policy))
FROM unnest(ARRAY['traffic_light_1m', 'camera_1m', 'parking_1m', 'ecology_1m']::regclass[]) AS t;
SELECT add_retention_policy(t, drop_after => (SELECT rollup_1h_retention FROM schema_policy))
FROM unnest(ARRAY['traffic_light_1h', 'camera_1h', 'parking_1h', 'ecology_1h']::regclass[]) AS t;

-- TimescaleDB's job scheduler does the upkeep; refreshing on demand is a CALL of
-- refresh_continuous_aggregate() outside any transaction (see citypulse.db.refresh_rollups).
CREATE FUNCTION citypulse_refresh_rollups() RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;

CREATE FUNCTION citypulse_maintain() RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('scheduler', 'timescaledb background jobs')
$$;

CREATE FUNCTION citypulse_set_retention(raw interval) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t regclass;
BEGIN
    UPDATE schema_policy SET raw_retention = raw;
    FOREACH t IN ARRAY ARRAY['traffic_light_readings', 'camera_readings', 'parking_readings',
                             'ecology_readings']::regclass[] LOOP
        PERFORM remove_retention_policy(t, if_exists => true);
        PERFORM add_retention_policy(t, drop_after => raw);
    END LOOP;
END $$;

CREATE VIEW schema_policies AS
SELECT j.proc_name || ' ' || j.hypertable_name AS policy,
       coalesce(j.config::text, '') AS setting,
       'timescaledb job ' || j.job_id || ' every ' || j.schedule_interval AS enforced_by
FROM timescaledb_information.jobs j
WHERE j.hypertable_schema = current_schema()
ORDER BY j.job_id;
