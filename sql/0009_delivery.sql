-- Delivery bookkeeping on top of the outbox contract (0006): which worker holds a claim,
-- what the remote system last said about a delivered appeal, and a view of failures for
-- the dashboards.  Identical in both schema modes.

ALTER TABLE outbox
    ADD COLUMN claimed_by           text,
    ADD COLUMN remote_status        text,
    ADD COLUMN remote_status_notes  text NOT NULL DEFAULT '',
    ADD COLUMN remote_checked_at    timestamptz;
COMMENT ON COLUMN outbox.claimed_by IS
    'delivery worker holding the entry until next_attempt_at (a lease); NULL when idle';
COMMENT ON COLUMN outbox.remote_status IS
    'status the remote system last reported for remote_id (Open311: open or closed)';
COMMENT ON COLUMN outbox.remote_checked_at IS 'when remote_status was last fetched';

-- Ordering: an entry waits while an earlier one of its appeal and connector is pending,
-- fails when an earlier one failed, and inherits the remote id of the delivered 'created'.
CREATE INDEX outbox_appeal_connector ON outbox (appeal_id, connector, id);
-- Status sync walks delivered entries that carry a remote id.
CREATE INDEX outbox_remote ON outbox (connector, remote_checked_at NULLS FIRST)
    WHERE delivered_at IS NOT NULL AND remote_id IS NOT NULL;

CREATE VIEW outbox_failed AS
SELECT o.id, o.appeal_id, o.connector, o.event, o.idempotency_key, o.attempts,
       o.created_at, o.deliver_by, o.failed_at, o.last_status, o.last_error,
       a.sector, a.agency, a.title
FROM outbox o
JOIN appeals a ON a.id = o.appeal_id
WHERE o.failed_at IS NOT NULL;
COMMENT ON VIEW outbox_failed IS 'deliveries given up on (permanent error or deadline), with why';

GRANT SELECT ON outbox_failed TO citypulse_reader, citypulse_api;
