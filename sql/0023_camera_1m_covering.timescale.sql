-- The covering index of 0023_camera_1m_covering.plain.sql is for plain mode's rollup
-- table.  TimescaleDB's continuous aggregate keeps its own indexes and chunks by time,
-- so nothing changes here.
SELECT 1;
