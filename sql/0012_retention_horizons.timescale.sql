-- Rollups outlive the raw data they were computed from.
--
-- drop_chunks (and so the raw retention policy) marks the dropped region of each rollup
-- as invalid, and a refresh over an invalid region without raw data deletes its rollup
-- rows.  So nothing refreshes where retention has dropped, or is about to drop, raw data:
--   * the refresh policies of 0004 reach back 30 days (1m) and 90 days (1h): their
--     horizons, how late a reading may arrive and still be folded in.  A raw retention
--     shorter than a horizon (plus one daily chunk) is refused by citypulse_set_retention();
--     one already set (before this migration) shortens the policies' windows to a day
--     less than the retention instead;
--   * citypulse_refresh_windows() gives the on-demand refresh (citypulse.db.refresh_rollups)
--     a start at the oldest raw chunk that retention keeps for at least another day.
-- Changing the retention alters the existing jobs (alter_job) instead of re-creating them,
-- so their ids and run history stay.

-- The refresh horizon of each rollup, as 0004 set its policy's start_offset.
CREATE FUNCTION citypulse_refresh_horizons()
    RETURNS TABLE (view_name text, horizon interval) LANGUAGE sql IMMUTABLE AS $$
    VALUES ('traffic_light_1m', interval '30 days'), ('camera_1m', interval '30 days'),
           ('parking_1m', interval '30 days'), ('ecology_1m', interval '30 days'),
           ('traffic_light_1h', interval '90 days'), ('camera_1h', interval '90 days'),
           ('parking_1h', interval '90 days'), ('ecology_1h', interval '90 days')
$$;

-- What a raw retention must outlast, longest first (also the plain variant's signature):
-- compression (a chunk dropped before it is compressed was never worth compressing) and
-- each refresh horizon plus one daily chunk, the part retention drops at once.
CREATE FUNCTION citypulse_retention_horizons()
    RETURNS TABLE (what text, horizon interval) LANGUAGE sql STABLE AS $$
    SELECT what, horizon FROM (
        SELECT 'compression of raw chunks after ' || compress_after AS what,
               compress_after AS horizon
        FROM schema_policy
        UNION ALL
        SELECT 'refresh of ' || view_name || ' over the last ' || horizon,
               horizon + interval '1 day'
        FROM citypulse_refresh_horizons()
    ) h
    ORDER BY horizon DESC, what
$$;

-- The refresh policies' windows: each horizon, but never past what retention keeps (a day
-- short of it, half of it when it is under two days).  Alters only the jobs that differ.
CREATE FUNCTION citypulse_fit_refresh_policies() RETURNS integer
    LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    raw      interval := (SELECT raw_retention FROM schema_policy);
    p        record;
    wanted   interval;
    changed  integer := 0;
BEGIN
    FOR p IN
        SELECT j.job_id, j.config, h.horizon
        FROM citypulse_refresh_horizons() h
        JOIN timescaledb_information.continuous_aggregates c
          ON c.view_schema = current_schema() AND c.view_name = h.view_name
        -- the jobs view names a rollup's job by the rollup (2.2x) or its materialization
        -- hypertable (older releases)
        JOIN timescaledb_information.jobs j
          ON j.proc_name = 'policy_refresh_continuous_aggregate'
         AND (j.hypertable_schema, j.hypertable_name)
             IN ((c.view_schema, c.view_name),
                 (c.materialization_hypertable_schema, c.materialization_hypertable_name))
        ORDER BY j.job_id
    LOOP
        wanted := least(p.horizon, greatest(raw - interval '1 day', raw / 2));
        CONTINUE WHEN (p.config ->> 'start_offset')::interval = wanted;
        RAISE WARNING 'rollup refresh job % now reaches back % instead of %: raw retention is %',
            p.job_id, wanted, p.config ->> 'start_offset', raw;
        PERFORM alter_job(p.job_id,
                          config => jsonb_set(p.config, '{start_offset}', to_jsonb(wanted::text)));
        changed := changed + 1;
    END LOOP;
    RETURN changed;
END $$;

CREATE OR REPLACE FUNCTION citypulse_set_retention(raw interval) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    longest  record;
    t        regclass;
    job      record;
BEGIN
    SELECT what, horizon INTO longest FROM citypulse_retention_horizons() LIMIT 1;
    IF raw < longest.horizon THEN
        RAISE EXCEPTION 'raw retention % is shorter than %', raw, longest.horizon
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The %s needs raw data for %s.', longest.what, longest.horizon),
                  HINT = 'A refresh over raw data that retention dropped deletes those rollups.';
    END IF;
    UPDATE schema_policy SET raw_retention = raw;
    FOREACH t IN ARRAY ARRAY['traffic_light_readings', 'camera_readings', 'parking_readings',
                             'ecology_readings']::regclass[] LOOP
        SELECT j.job_id, j.config INTO job
        FROM timescaledb_information.jobs j
        WHERE j.proc_name = 'policy_retention' AND j.hypertable_schema = current_schema()
          AND j.hypertable_name = (SELECT relname FROM pg_class WHERE oid = t);
        IF job.job_id IS NULL THEN
            PERFORM add_retention_policy(t, drop_after => raw);
        ELSIF (job.config ->> 'drop_after')::interval IS DISTINCT FROM raw THEN
            PERFORM alter_job(job.job_id,
                              config => jsonb_set(job.config, '{drop_after}', to_jsonb(raw::text)));
        END IF;
    END LOOP;
    PERFORM citypulse_fit_refresh_policies();
END $$;

-- Where citypulse.db.refresh_rollups() starts each rollup's refresh: at the oldest raw
-- chunk that retention keeps for at least another day (NULL: no raw data to refresh
-- from), and not before the rollup's own retention.
CREATE FUNCTION citypulse_refresh_windows()
    RETURNS TABLE (view_name text, start timestamptz) LANGUAGE sql STABLE AS $$
    SELECT k || '_' || w,
           CASE WHEN kept.start IS NOT NULL THEN greatest(kept.start, now() - CASE w
               WHEN '1m' THEN p.rollup_1m_retention ELSE p.rollup_1h_retention END) END
    FROM schema_policy p,
         unnest(ARRAY['1m', '1h']) WITH ORDINALITY AS widths (w, wn),
         unnest(ARRAY['traffic_light', 'camera', 'parking', 'ecology'])
             WITH ORDINALITY AS kinds (k, kn),
         LATERAL (SELECT min(c.range_start) AS start
                  FROM timescaledb_information.chunks c
                  WHERE c.hypertable_schema = current_schema()
                    AND c.hypertable_name = k || '_readings'
                    AND c.range_start >= now() - p.raw_retention) kept
    ORDER BY wn, kn
$$;

REVOKE EXECUTE ON FUNCTION citypulse_fit_refresh_policies() FROM PUBLIC;

SELECT citypulse_fit_refresh_policies();
