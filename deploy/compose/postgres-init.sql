-- Runs once, when the local stack's PostgreSQL initialises its volume (docker-compose.local.yml):
-- POSTGRES_DB (booking) exists already; add the `test` database that .test.env.template points at.
CREATE DATABASE test;
