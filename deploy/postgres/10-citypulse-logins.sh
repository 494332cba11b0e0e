#!/bin/sh
# Least-privilege database logins for the citypulse services.  The official PostgreSQL and
# TimescaleDB images run this once, from /docker-entrypoint-initdb.d, when the data volume
# is first initialised; it is safe to run again by hand (existing logins get the given
# password).  Order does not matter: the group roles are created here NOLOGIN exactly as
# migration 0005 would create them (0005 creates them only where missing, then grants).
#
#   login (env of its name, default)        member of          used by
#   CITYPULSE_DB_INGEST_USER  (ingest)      citypulse_ingest   ingest
#   CITYPULSE_DB_API_USER     (api)         citypulse_api,     detect, serve
#                                           citypulse_reader
#   CITYPULSE_GRAFANA_DB_USER (grafana)     citypulse_reader   Grafana (read-only session)
# Migrations run as the owner, POSTGRES_USER.  Passwords: CITYPULSE_DB_INGEST_PASSWORD,
# CITYPULSE_DB_API_PASSWORD, CITYPULSE_GRAFANA_DB_PASSWORD (all required).
set -eu
: "${CITYPULSE_DB_INGEST_PASSWORD:?set CITYPULSE_DB_INGEST_PASSWORD}"
: "${CITYPULSE_DB_API_PASSWORD:?set CITYPULSE_DB_API_PASSWORD}"
: "${CITYPULSE_GRAFANA_DB_PASSWORD:?set CITYPULSE_GRAFANA_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
    -v ingest_user="${CITYPULSE_DB_INGEST_USER:-ingest}" \
    -v ingest_pw="$CITYPULSE_DB_INGEST_PASSWORD" \
    -v api_user="${CITYPULSE_DB_API_USER:-api}" \
    -v api_pw="$CITYPULSE_DB_API_PASSWORD" \
    -v grafana_user="${CITYPULSE_GRAFANA_DB_USER:-grafana}" \
    -v grafana_pw="$CITYPULSE_GRAFANA_DB_PASSWORD" <<'SQL'
-- psql variables are not expanded inside $$ bodies, so statements are built with
-- format(%I, %L) and run with \gexec.
SELECT format('CREATE ROLE %I NOLOGIN', r)
FROM unnest(ARRAY['citypulse_ingest', 'citypulse_reader', 'citypulse_api']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec

SELECT format(CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = l.name)
                   THEN 'ALTER ROLE %I LOGIN PASSWORD %L'
                   ELSE 'CREATE ROLE %I LOGIN PASSWORD %L' END, l.name, l.pw)
FROM (VALUES (:'ingest_user', :'ingest_pw'), (:'api_user', :'api_pw'),
             (:'grafana_user', :'grafana_pw')) AS l (name, pw) \gexec

SELECT format('GRANT %I TO %I', g.role, g.login)
FROM (VALUES ('citypulse_ingest', :'ingest_user'), ('citypulse_api', :'api_user'),
             ('citypulse_reader', :'api_user'), ('citypulse_reader', :'grafana_user'))
     AS g (role, login) \gexec

-- Grafana only reads, and a runaway panel query must not hold the database.
SELECT format('ALTER ROLE %I SET default_transaction_read_only = on', :'grafana_user') \gexec
SELECT format('ALTER ROLE %I SET statement_timeout = %L', :'grafana_user', '60s') \gexec
SQL
echo "citypulse logins ready: ${CITYPULSE_DB_INGEST_USER:-ingest}, ${CITYPULSE_DB_API_USER:-api}, ${CITYPULSE_GRAFANA_DB_USER:-grafana}"
