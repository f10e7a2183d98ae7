#!/bin/sh
# Creates or upgrades Temporal's schemas in PostgreSQL (run by the one-shot `temporal-schema` service).
# Safe on every `up`: `setup-schema -v 0.0` only adds the version tables when missing, and `update-schema` applies
# the versioned steps the database does not have yet, so a newer server image upgrades the schema in place.
# Connection settings come from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD (temporal-sql-tool reads them).
set -eu

for database in temporal temporal_visibility; do
  case "$database" in
    temporal) schema=postgresql/v12/temporal ;;
    temporal_visibility) schema=postgresql/v12/visibility ;;
  esac
  echo "Schema of database $database..."
  temporal-sql-tool --db "$database" setup-schema -v 0.0
  temporal-sql-tool --db "$database" update-schema --schema-name "$schema"
done
echo 'Temporal schemas are up to date'
