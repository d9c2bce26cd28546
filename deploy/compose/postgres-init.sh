#!/bin/sh
# Run once by the postgres image, on an empty data volume (/docker-entrypoint-initdb.d):
# the `clock` role and one database per CLOCK process, owned by it. The role's password is
# POSTGRES_CLOCK_PASSWORD (deploy/compose/postgres.env); the processes log in with the same
# value as PGPASSWORD (deploy/compose/clock.env).
set -e

if [ -z "${POSTGRES_CLOCK_PASSWORD:-}" ]; then
    echo "postgres-init.sh: set POSTGRES_CLOCK_PASSWORD in deploy/compose/postgres.env" >&2
    exit 1
fi

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set clock_password="$POSTGRES_CLOCK_PASSWORD" <<'SQL'
CREATE ROLE clock LOGIN PASSWORD :'clock_password';
CREATE DATABASE clock_gateway OWNER clock;
CREATE DATABASE clock_membership OWNER clock;
CREATE DATABASE clock_catalog OWNER clock;
CREATE DATABASE clock_matching OWNER clock;
CREATE DATABASE clock_reporting OWNER clock;
SQL
