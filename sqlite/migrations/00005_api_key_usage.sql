-- Use of API keys per clock hour: requests let through and refused by a
-- rate limit. hour is the start of the hour in unix microseconds. Nodes add
-- their counts every few seconds; buckets older than two days are deleted.

-- +goose Up
CREATE TABLE api_key_usage (
    key_id   TEXT   NOT NULL,
    hour     BIGINT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    refused  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, hour)
);
CREATE INDEX api_key_usage_hour ON api_key_usage (hour);

-- +goose Down
DROP TABLE api_key_usage;
