-- Hourly ingest counters for long dashboard ranges (Grafana's ingest-health panels).
-- ingest_stats gets a row per worker every few seconds (half a million a month per
-- worker); this table keeps one per worker and hour, added to by a trigger as rows
-- arrive, so a month of ingest health reads ~1,500 rows. Identical in both schema modes.

CREATE TABLE ingest_stats_1h (
    bucket          timestamptz NOT NULL,
    worker          text NOT NULL,
    intervals       bigint NOT NULL,
    interval_s      double precision NOT NULL,
    received        bigint NOT NULL,
    stored          bigint NOT NULL,
    duplicates      bigint NOT NULL,
    rejected        bigint NOT NULL,
    batches         bigint NOT NULL,
    commit_ms_p99   real,
    lag_ms_p50      real,
    lag_ms_p99      real,
    queue_depth     integer,
    PRIMARY KEY (worker, bucket)
);
CREATE INDEX ingest_stats_1h_bucket ON ingest_stats_1h (bucket);
COMMENT ON TABLE ingest_stats_1h IS 'ingest_stats summed per worker and hour; the maxima are the worst interval''s';

CREATE FUNCTION citypulse_ingest_stats_hourly() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO ingest_stats_1h AS h (bucket, worker, intervals, interval_s, received, stored,
        duplicates, rejected, batches, commit_ms_p99, lag_ms_p50, lag_ms_p99, queue_depth)
    SELECT date_bin('1 hour', n.time, '2000-01-01 00:00+00'), n.worker, count(*),
           sum(n.interval_s), sum(n.received), sum(n.stored), sum(n.duplicates),
           sum(n.rejected), sum(n.batches), max(n.commit_ms_p99), max(n.lag_ms_p50),
           max(n.lag_ms_p99), max(n.queue_depth)
    FROM new_rows n
    GROUP BY 1, 2
    ON CONFLICT (worker, bucket) DO UPDATE SET
        intervals = h.intervals + EXCLUDED.intervals,
        interval_s = h.interval_s + EXCLUDED.interval_s,
        received = h.received + EXCLUDED.received,
        stored = h.stored + EXCLUDED.stored,
        duplicates = h.duplicates + EXCLUDED.duplicates,
        rejected = h.rejected + EXCLUDED.rejected,
        batches = h.batches + EXCLUDED.batches,
        commit_ms_p99 = greatest(h.commit_ms_p99, EXCLUDED.commit_ms_p99),
        lag_ms_p50 = greatest(h.lag_ms_p50, EXCLUDED.lag_ms_p50),
        lag_ms_p99 = greatest(h.lag_ms_p99, EXCLUDED.lag_ms_p99),
        queue_depth = greatest(h.queue_depth, EXCLUDED.queue_depth);
    RETURN NULL;
END $$;

-- Statement level: one upsert per ingest_stats INSERT, whatever its number of rows.
CREATE TRIGGER ingest_stats_hourly AFTER INSERT ON ingest_stats
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION citypulse_ingest_stats_hourly();

INSERT INTO ingest_stats_1h (bucket, worker, intervals, interval_s, received, stored,
    duplicates, rejected, batches, commit_ms_p99, lag_ms_p50, lag_ms_p99, queue_depth)
SELECT date_bin('1 hour', time, '2000-01-01 00:00+00'), worker, count(*), sum(interval_s),
       sum(received), sum(stored), sum(duplicates), sum(rejected), sum(batches),
       max(commit_ms_p99), max(lag_ms_p50), max(lag_ms_p99), max(queue_depth)
FROM ingest_stats
GROUP BY 1, 2;

REVOKE EXECUTE ON FUNCTION citypulse_ingest_stats_hourly() FROM PUBLIC;
GRANT SELECT ON ingest_stats_1h TO citypulse_reader;
