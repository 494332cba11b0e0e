-- How far each ingest worker has committed: what lets `citypulse detect` re-read seconds
-- less of what arrived.
--
-- A detect worker reads the readings received since its watermark.  Ingest workers
-- commit their batches out of the order they received them in (two flushers each, two
-- or more workers), so a poll used to re-read a fixed 5 s of arrivals (`--overlap`) to
-- find the rows that committed late.  At a poll every 0.5 s that read each row about ten
-- times: in `citypulse bench soak --city large` the detect workers' SELECTs were the
-- largest item of PostgreSQL's time (pg_stat_statements), and the detect workers spent
-- most of their own time on rows they dropped as already seen.  Worse, a batch committed
-- more than 5 s after its readings arrived (a retry after a failed COPY, a stalled
-- server) was never read at all.
--
-- Each ingest worker now writes here, several times a second, a time before which every
-- reading it received is committed: the oldest receipt time still in its hands (pending,
-- in a flusher's batch, being decoded) or, with nothing in hand, that of its last
-- message.  A detect poll re-reads from the oldest of these, fresh ones only (a worker
-- that stopped writing here for a minute is gone or cut off; its row is ignored, and
-- removed when it stops cleanly).  Times are the ingest worker's clock, as received_at.

CREATE TABLE ingest_progress (
    client_id          text PRIMARY KEY,
    committed_through  timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ingest_progress IS
    'per ingest worker: every reading it received before committed_through is committed (or dead-lettered)';
COMMENT ON COLUMN ingest_progress.committed_through IS
    'the oldest receipt time (received_at, the worker''s clock) of what the worker still holds uncommitted';
COMMENT ON COLUMN ingest_progress.updated_at IS 'database time of the last write; a row a minute old is ignored';

GRANT SELECT, INSERT, UPDATE, DELETE ON ingest_progress TO citypulse_ingest;
GRANT SELECT ON ingest_progress TO citypulse_detect, citypulse_reader;
