-- Harbor core expects the database named by POSTGRESQL_DATABASE (registry) to exist, with
-- the table its migrations keep their version in.
CREATE DATABASE registry ENCODING 'UTF8';
\connect registry
CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
