-- Open311 GeoReport v2 completed: the token a citizen's report is given when it is posted
-- (GET tokens/{token} names its service request), and the photo a report may carry as a
-- multipart upload, kept here and served back at the request's media_url.  Identical in
-- both schema modes.

CREATE TABLE service_request_tokens (
    token       text PRIMARY KEY CHECK (token ~ '^[A-Za-z0-9_-]{16,64}$'),
    appeal_id   bigint NOT NULL UNIQUE REFERENCES appeals (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE service_request_tokens IS
    'Open311 tokens: one per citizen''s report, returned by POST requests beside its id';

CREATE TABLE appeal_media (
    key           text PRIMARY KEY CHECK (key ~ '^[A-Za-z0-9_-]{16,64}$'),
    appeal_id     bigint NOT NULL UNIQUE REFERENCES appeals (id),
    content_type  text NOT NULL
                  CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    data          bytea NOT NULL CHECK (octet_length(data) > 0),
    sha256        bytea NOT NULL CHECK (octet_length(sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Images are compressed already: store them out of line without trying again.
ALTER TABLE appeal_media ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE appeal_media IS
    'photos uploaded with citizens'' reports (type checked by their bytes); served at media_url';

-- The API writes and reads both; nobody else needs them (Grafana shows media_url only).
GRANT SELECT, INSERT ON service_request_tokens, appeal_media TO citypulse_api;
