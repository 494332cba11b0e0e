-- A closed hour that keeps receiving data is recomputed at most every 5 minutes too.
--
-- 0022 recomputed a closed hour (late data) at the very next refresh, every time any of
-- its minutes was dirty.  Data that keeps arriving for a past hour (a backlog after an
-- outage, a gateway's clock behind, the soak's simulated clock 20 minutes behind the wall
-- clock) then re-read that whole hour from raw at every refresh, every 10 s: the refresh
-- call grew from 0.3 s to 2.8 s within 12 minutes of `citypulse bench soak --city large`
-- and PostgreSQL's CPU with it.  Now any hour waits until it has been dirty 5 minutes, or,
-- once closed, until a refresh brings no new minute of it (the late data has stopped):
-- a single late batch is still rolled up one refresh later.

CREATE OR REPLACE FUNCTION citypulse_refresh_rollups() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k        text;
    minutes  timestamptz[];
    hours    timestamptz[];
    touched  timestamptz[];
    total    integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('citypulse_refresh_rollups')) THEN
        RETURN 0;
    END IF;
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
UNION ALL SELECT 'rollup_refresh', 'incremental: dirty minutes at once; an hour once dirty 5 minutes, or closed and quiet',
                 'citypulse_maintain()' FROM schema_policy
UNION ALL SELECT 'compression', 'not available without TimescaleDB', '-' FROM schema_policy;
