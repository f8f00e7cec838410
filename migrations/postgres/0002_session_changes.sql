-- Every instance keeps the sessions it serves in memory and must hear at
-- once when one changes or goes, whoever changed it: another instance, the
-- sweep, an operator's SQL (src/session/changes.rs). The channel and its
-- payload (a record's id, or '*' when the table is emptied) are read there.

-- The session store's own table, as tower-sessions-sqlx-store creates it
-- (its `migrate` then finds it), so that the triggers can be attached here,
-- under the lock sqlx holds while migrating.
CREATE TABLE IF NOT EXISTS public.tower_sessions (
    id          TEXT        PRIMARY KEY NOT NULL,
    data        BYTEA       NOT NULL,
    expiry_date TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION session_guard_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('session_guard_sessions', '*');
    ELSE
        PERFORM pg_notify('session_guard_sessions', OLD.id);
    END IF;
    RETURN NULL;
END
$$;

-- New records need no notice: nobody can hold a copy of them yet.
CREATE TRIGGER tower_sessions_changed
    AFTER UPDATE OR DELETE ON public.tower_sessions
    FOR EACH ROW EXECUTE FUNCTION session_guard_session_changed();

CREATE TRIGGER tower_sessions_emptied
    AFTER TRUNCATE ON public.tower_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION session_guard_session_changed();
