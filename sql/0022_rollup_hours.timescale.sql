-- The open hour's rollup recomputed at most every 5 minutes: plain mode only (see
-- 0022_rollup_hours.plain.sql).  TimescaleDB's continuous aggregates refresh on their
-- own policies (0004_rollups.timescale.sql), so nothing changes here.
SELECT 1;
