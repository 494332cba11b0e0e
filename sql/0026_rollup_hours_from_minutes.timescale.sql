-- An hour's rollup built from its minute rows: plain mode only (see
-- 0026_rollup_hours_from_minutes.plain.sql).  TimescaleDB's continuous aggregates
-- materialise each hour incrementally on their own policies, so nothing changes here.
SELECT 1;
