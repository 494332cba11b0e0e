-- Tension points (точки напряжённости): where appeals pile up beyond what is normal for
-- the place and the time of week.  Three kinds:
--   surge       a cell (sector block × district, or service × district) receives more
--               appeals than its own weekly-seasonal normal allows;
--   cluster     many appeals of one theme within a short distance and time window;
--   recurrence  the same device or place reopening again and again within 30 days.
-- The continuous computation (appeals.analysis) keeps one active point per (kind, key)
-- and ends it when the cell, cluster or place is quiet again; ended points are history,
-- read by the console, the API, the weekly report and the dashboards.  Explanations are
-- rendered in the reader's language from `facts`, so no text is stored.
-- Identical in both schema modes.

CREATE TABLE tension_points (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('surge', 'cluster', 'recurrence')),
    key           text NOT NULL,
    sector        text NOT NULL,
    district      text NOT NULL DEFAULT '',
    service_code  text NOT NULL DEFAULT '',
    device_id     text,
    lat           double precision CHECK (lat BETWEEN -90 AND 90),
    lon           double precision CHECK (lon BETWEEN -180 AND 180),
    score         real NOT NULL CHECK (score >= 0),
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    detected_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    facts         jsonb NOT NULL DEFAULT '{}'::jsonb,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX tension_points_one_active ON tension_points (kind, key)
    WHERE ended_at IS NULL;
CREATE INDEX tension_points_started_at ON tension_points (started_at DESC);
CREATE INDEX tension_points_sector ON tension_points (sector, started_at DESC);
COMMENT ON TABLE tension_points IS 'points of tension found in the appeals: surges, clusters, recurrences; one active per (kind, key)';
COMMENT ON COLUMN tension_points.key IS 'what the point is about, stable while it lasts: the cell, the cluster''s seed place or the device/place';
COMMENT ON COLUMN tension_points.district IS 'district name as stored on appeals; empty for a region-wide cell';
COMMENT ON COLUMN tension_points.score IS 'how far beyond normal: larger is stronger; comparable within a kind';
COMMENT ON COLUMN tension_points.started_at IS 'time of the first appeal that made the point (appeal time, not computation time)';
COMMENT ON COLUMN tension_points.ended_at IS 'when the cell, cluster or place was back to normal; NULL while active';
COMMENT ON COLUMN tension_points.detected_at IS 'appeal-stream time at which the computation first reported the point';
COMMENT ON COLUMN tension_points.facts IS 'the numbers its explanation is written from (count, window, normal range, radius, reopenings, ...)';

CREATE TABLE tension_members (
    tension_id  bigint NOT NULL REFERENCES tension_points (id) ON DELETE CASCADE,
    appeal_id   bigint NOT NULL REFERENCES appeals (id),
    PRIMARY KEY (tension_id, appeal_id)
);
CREATE INDEX tension_members_appeal ON tension_members (appeal_id);
COMMENT ON TABLE tension_members IS 'the appeals that make each tension point';

CREATE TABLE tension_state (
    name        text PRIMARY KEY,
    appeal_id   bigint NOT NULL DEFAULT 0,
    watermark   timestamptz,
    state       jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tension_state IS 'checkpoint of the continuous tension computation: last appeal seen, stream time and model state';

GRANT SELECT ON tension_points, tension_members, tension_state TO citypulse_reader;
-- Written by the tension computation, which runs beside the API (`citypulse serve`) or as
-- its own worker with the detect role.
GRANT SELECT, INSERT, UPDATE, DELETE ON tension_points, tension_members, tension_state
    TO citypulse_api, citypulse_detect;
