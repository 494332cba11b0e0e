-- A closed hour that keeps receiving data waits like the open one: plain mode only (see
-- 0025_rollup_hours_quiet.plain.sql).  TimescaleDB's continuous aggregates refresh on
-- their own policies, so nothing changes here.
SELECT 1;
