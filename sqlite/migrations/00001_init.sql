-- The first schema of latchkey on SQLite. Times are unix microseconds (UTC),
-- booleans 0 or 1, lists JSON text; *_key columns hold latchkey.NameKey of
-- the column they follow, for case-insensitive lookups.

-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    directory     TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    dir_key       TEXT    NOT NULL,
    user_key      TEXT    NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    email_key     TEXT    NOT NULL DEFAULT '',
    groups_json   TEXT    NOT NULL DEFAULT '[]',
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT    NOT NULL DEFAULT '',
    created       BIGINT  NOT NULL,
    updated       BIGINT  NOT NULL,
    UNIQUE (dir_key, user_key)
);
CREATE INDEX users_email_key ON users (email_key);

CREATE TABLE abilities (
    name        TEXT    PRIMARY KEY,
    description TEXT    NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE roles (
    name        TEXT    PRIMARY KEY,
    description TEXT    NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0,
    created     BIGINT  NOT NULL
);

CREATE TABLE role_abilities (
    role    TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    ability TEXT NOT NULL REFERENCES abilities (name),
    PRIMARY KEY (role, ability)
);
CREATE INDEX role_abilities_ability ON role_abilities (ability);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT    NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role);

CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL DEFAULT '',
    read_only  INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER NOT NULL DEFAULT 0,
    created    BIGINT  NOT NULL,
    expires    BIGINT  NOT NULL,
    last_used  BIGINT,
    revoked    BIGINT,
    hash       BLOB    NOT NULL UNIQUE,
    reveal     BLOB
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);
CREATE INDEX api_keys_expires ON api_keys (expires);
CREATE INDEX api_keys_revoked ON api_keys (revoked);

CREATE TABLE sessions (
    id              TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method          TEXT    NOT NULL DEFAULT '',
    credential_id   TEXT    NOT NULL DEFAULT '',
    read_only       INTEGER NOT NULL DEFAULT 0,
    remote_addr     TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    created         BIGINT  NOT NULL,
    last_seen       BIGINT  NOT NULL,
    expires         BIGINT  NOT NULL,
    idle_timeout_ns BIGINT  NOT NULL DEFAULT 0,
    ended           BIGINT,
    hash            BLOB    NOT NULL UNIQUE
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sessions_ended ON sessions (ended);

CREATE TABLE used_jtis (
    jti     TEXT   PRIMARY KEY,
    expires BIGINT NOT NULL
);
CREATE INDEX used_jtis_expires ON used_jtis (expires);

CREATE TABLE signing_keys (
    id          TEXT   PRIMARY KEY,
    algorithm   TEXT   NOT NULL,
    private_key BLOB   NOT NULL,
    public_key  BLOB   NOT NULL,
    created     BIGINT NOT NULL,
    active      BIGINT NOT NULL,
    retire      BIGINT NOT NULL
);
CREATE INDEX signing_keys_created ON signing_keys (created);

CREATE TABLE audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred      BIGINT  NOT NULL,
    action        TEXT    NOT NULL,
    actor         TEXT    NOT NULL DEFAULT '',
    actor_id      INTEGER NOT NULL DEFAULT 0,
    target        TEXT    NOT NULL DEFAULT '',
    method        TEXT    NOT NULL DEFAULT '',
    credential_id TEXT    NOT NULL DEFAULT '',
    remote_addr   TEXT    NOT NULL DEFAULT '',
    detail        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_actor_id ON audit (actor_id, id);
CREATE INDEX audit_action ON audit (action, id);
CREATE INDEX audit_occurred ON audit (occurred);

-- The change feed between processes that share the file: each write that
-- matters to caches adds a row in its own transaction; every process polls
-- for the rows of the others.
CREATE TABLE changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    node    TEXT    NOT NULL,
    payload TEXT    NOT NULL,
    created BIGINT  NOT NULL
);
CREATE INDEX changes_created ON changes (created);

