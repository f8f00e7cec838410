-- The sign-in throttle's buckets (src/auth/throttle.rs), shared by every
-- instance on this database so that the allowances are one instance's
-- however many serve. A bucket is its key ("user <address> <name>" or
-- "address <address>") and its GCRA time in milliseconds of the database's
-- clock. UNLOGGED: counts of the last minutes are not worth a write-ahead
-- log, and a crash that empties them only gives every client a fresh
-- allowance.
CREATE UNLOGGED TABLE sign_in_buckets (
    key    TEXT   PRIMARY KEY,
    tat_ms BIGINT NOT NULL
);
