-- Users, their items, and why sessions ended. Sessions themselves live in the
-- table that tower-sessions-sqlx-store creates (`tower_sessions`).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    -- How many items the user has; page counts read this instead of COUNT(*).
    item_count    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE items (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    -- 1, 2, 3 ... per user, without gaps: page N is a range of seq, found
    -- through the index below, never by OFFSET.
    seq         INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, seq)
);

-- Why a session ended, kept for a while so a replayed cookie and the login
-- page can say "inactivity" instead of "never signed in".
CREATE TABLE session_endings (
    session_id TEXT    PRIMARY KEY,
    reason     TEXT    NOT NULL,
    ended_at   INTEGER NOT NULL
);
CREATE INDEX session_endings_by_time ON session_endings (ended_at);
