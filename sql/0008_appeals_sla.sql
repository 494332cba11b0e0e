-- Deadlines and agency performance for the governance center's dashboards (Grafana) and
-- the API's `overdue` filter.  Identical in both schema modes.
--
-- An appeal is overdue when its deadline (expected_at) has passed and it is not resolved,
-- closed or rejected.  Time to accept runs from requested_at to accepted_at; time to
-- resolve from requested_at to resolved_at (closed_at when closed without a resolution);
-- rejected appeals have no time to resolve.

CREATE VIEW appeal_sla AS
SELECT a.id,
       a.source,
       a.sector,
       a.service_code,
       a.agency,
       a.district,
       a.priority,
       a.status,
       a.requested_at,
       a.expected_at,
       a.accepted_at,
       a.resolved_at,
       a.closed_at,
       a.status NOT IN ('resolved', 'closed', 'rejected') AS open,
       (a.status NOT IN ('resolved', 'closed', 'rejected')
           AND a.expected_at IS NOT NULL AND a.expected_at < now()) AS overdue,
       extract(epoch FROM a.accepted_at - a.requested_at)::double precision AS accept_s,
       CASE WHEN a.status IN ('resolved', 'closed')
            THEN extract(epoch FROM coalesce(a.resolved_at, a.closed_at) - a.requested_at)
       END::double precision AS resolve_s,
       (a.status IN ('resolved', 'closed') AND a.expected_at IS NOT NULL
           AND coalesce(a.resolved_at, a.closed_at) > a.expected_at) AS resolved_late
FROM appeals a;
COMMENT ON VIEW appeal_sla IS 'per appeal: open, overdue, seconds to accept and to resolve, late';

CREATE VIEW agency_performance AS
SELECT agency,
       count(*) AS appeals,
       count(*) FILTER (WHERE open) AS open,
       count(*) FILTER (WHERE overdue) AS overdue,
       count(*) FILTER (WHERE resolve_s IS NOT NULL) AS resolved,
       count(*) FILTER (WHERE resolved_late) AS resolved_late,
       count(*) FILTER (WHERE status = 'rejected') AS rejected,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY accept_s) AS accept_s_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY accept_s) AS accept_s_p90,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_s) AS resolve_s_median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY resolve_s) AS resolve_s_p90
FROM appeal_sla
GROUP BY agency;
COMMENT ON VIEW agency_performance IS 'per agency: counts, overdue, median and p90 seconds to accept and to resolve';

-- Correlation looks for open appeals of a sector inside a bounding box.
CREATE INDEX appeals_sector_place ON appeals (sector, lat, lon)
    WHERE status NOT IN ('closed', 'rejected') AND lat IS NOT NULL;
CREATE INDEX outbox_appeal ON outbox (appeal_id);
-- GET requests pages newest first with the id as tie-break.
CREATE INDEX appeals_queue ON appeals (requested_at DESC, id DESC);

GRANT SELECT ON appeal_sla, agency_performance TO citypulse_reader, citypulse_api;
