-- ingest_sessions: what the columns mean since a stopped worker marks its row and rows are
-- scoped to one shared subscription (share group and topic root), not to a group name.

COMMENT ON COLUMN ingest_sessions.leaving IS 'the worker no longer receives the group''s messages: it is scaling down (unsubscribed, draining), or it stopped and kept its session for a survivor to take over; its next heartbeat clears it';
COMMENT ON COLUMN ingest_sessions.share_group IS 'the shared subscription the worker is a member of, as share group/topic root (e.g. citypulse/city): Mosquitto tells subscriptions apart by both';
