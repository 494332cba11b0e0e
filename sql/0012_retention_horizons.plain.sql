-- What a raw retention must outlast (see 0012_retention_horizons.timescale.sql): nothing
-- in plain mode.  Without TimescaleDB there is no compression, and the rollups are
-- recomputed only for the minutes whose raw rows changed; dropping a daily partition
-- changes none, so the rollups keep what they summed.

CREATE FUNCTION citypulse_retention_horizons()
    RETURNS TABLE (what text, horizon interval) LANGUAGE sql STABLE AS $$
    SELECT NULL::text, NULL::interval WHERE false
$$;
