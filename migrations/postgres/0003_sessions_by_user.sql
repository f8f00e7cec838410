-- Each session record names its user in a column of its own, so that a
-- user's sessions (the sessions page, "sign out all other sessions") are
-- found through an index instead of decoding every record
-- (src/session/devices.rs). The session store writes `id`, `data` and
-- `expiry_date`; this app's store wrapper also writes `user_id` when it
-- creates a record (src/session/writes.rs). Records created before this
-- migration have none: they are not listed, and end by their own deadlines.

ALTER TABLE public.tower_sessions ADD COLUMN user_id BIGINT;

CREATE INDEX tower_sessions_by_user ON public.tower_sessions (user_id);
