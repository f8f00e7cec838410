-- Each session record names its user in a column of its own, so that a
-- user's sessions (the sessions page, "sign out all other sessions") are
-- found through an index instead of decoding every record
-- (src/session/devices.rs). The session store writes `id`, `data` and
-- `expiry_date`; this app's store wrapper also writes `user_id` when it
-- creates a record (src/session/writes.rs).

-- The store's own table, as tower-sessions-sqlx-store creates it (its
-- `migrate` then finds it), so that the column can be added here.
CREATE TABLE IF NOT EXISTS tower_sessions (
    id          TEXT    PRIMARY KEY NOT NULL,
    data        BLOB    NOT NULL,
    expiry_date INTEGER NOT NULL
);

-- Records created before this migration have none: they are not listed,
-- and end by their own deadlines (at most the absolute timeout).
ALTER TABLE tower_sessions ADD COLUMN user_id INTEGER;

CREATE INDEX tower_sessions_by_user ON tower_sessions (user_id);
