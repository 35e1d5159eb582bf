#!/bin/sh
# Runs once, when the PostgreSQL container initialises its data directory: the replicas' login
# role. `facematch migrate` (run as the owner) grants facematch_app what the service needs:
# every table but the audit log, which it may only read and append to.
set -eu
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
  -v app_password="$FACEMATCH_APP_PASSWORD" <<'SQL'
CREATE ROLE facematch_app NOLOGIN;
CREATE ROLE facematch LOGIN PASSWORD :'app_password' IN ROLE facematch_app;
SQL
