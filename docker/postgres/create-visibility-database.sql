-- Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d). The `temporal` database
-- comes from POSTGRES_DB; Temporal keeps its visibility records (list and search of workflows) in a second one.
-- Creating it here, not with `temporal-sql-tool create`, keeps the schema step re-runnable: PostgreSQL has no
-- CREATE DATABASE IF NOT EXISTS, so a second `create` would fail on every later `docker-compose up`.
CREATE DATABASE temporal_visibility;
