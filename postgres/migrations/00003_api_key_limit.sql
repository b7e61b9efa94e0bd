-- An API key's own rate limit: rate_requests per rate_window seconds, with
-- rate_burst more at once. NULL in all three: no limit of its own.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN rate_requests INTEGER;
ALTER TABLE api_keys ADD COLUMN rate_window INTEGER;
ALTER TABLE api_keys ADD COLUMN rate_burst INTEGER;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN rate_burst;
ALTER TABLE api_keys DROP COLUMN rate_window;
ALTER TABLE api_keys DROP COLUMN rate_requests;
