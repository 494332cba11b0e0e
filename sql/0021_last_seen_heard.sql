-- last_seen is when the device itself was last heard (a reading or an "online" status).
-- An offline status, above all an MQTT will that the broker publishes and ingest stamps
-- on receipt, no longer moves it: that time is in status_changed_at.
COMMENT ON COLUMN devices.last_seen IS
    'newest time the device itself was heard: a reading or an online status; never moves backwards';
