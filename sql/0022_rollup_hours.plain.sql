-- The open hour's rollup recomputed at most every 5 minutes, not on every refresh.
--
-- citypulse_refresh_rollups() recomputed each dirty minute's whole hour from the raw
-- readings at every refresh (every few seconds).  At a large city's 5,000 readings per
-- second that re-read up to 18 million rows each time, and took most of a PostgreSQL
-- core in `citypulse bench soak --city large`.  Dirty hours now wait in
-- rollup_dirty_hours: a closed hour (late data) is recomputed at the next refresh as
-- before, the open hour once it has waited 5 minutes.  Minutes are refreshed as before.

CREATE TABLE rollup_dirty_hours (
    kind   text NOT NULL,
    hour   timestamptz NOT NULL,
    since  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, hour)
);
COMMENT ON TABLE rollup_dirty_hours IS
    'hours whose minutes changed, waiting for their 1-hour rollup (the open hour: 5 minutes)';

CREATE OR REPLACE FUNCTION citypulse_refresh_rollups() RETURNS integer
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
              AND (hour + interval '1 hour' <= now() OR since <= now() - interval '5 minutes')
            RETURNING hour)
        SELECT array_agg(hour) INTO hours FROM due;
        CONTINUE WHEN hours IS NULL;
        EXECUTE format('DELETE FROM %I WHERE bucket = ANY($1)', k || '_1h') USING hours;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I($1, $2)', k || '_1h', 'citypulse_rollup_' || k)
            USING interval '1 hour', hours;
    END LOOP;
    RETURN total;
END $$;

CREATE OR REPLACE VIEW schema_policies AS
SELECT 'raw_retention' AS policy, raw_retention::text AS setting,
       'daily partitions dropped by citypulse_maintain()' AS enforced_by FROM schema_policy
UNION ALL SELECT 'rollup_1m_retention', rollup_1m_retention::text, 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'rollup_1h_retention', rollup_1h_retention::text, 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'partitions_ahead', partitions_ahead || ' days', 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'rollup_refresh', 'incremental: dirty minutes at once, the open hour every 5 minutes',
                 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'compression', 'not available without TimescaleDB', '-' FROM schema_policy;
