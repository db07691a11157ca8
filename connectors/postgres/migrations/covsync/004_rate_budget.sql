-- One request budget per site or organization for the whole deployment (docs/architecture.md, "Pace to the
-- site"): every replica and every cycle leases its tokens here, so together they stay within the site's
-- requests_per_second. A token is a slot of the site's time (1 / requests_per_second long); a lease is a run
-- of consecutive slots. next_slot is where the next lease starts (never more than one lease window before
-- now(): time nobody used is gone, it does not pile up into a burst).
CREATE TABLE {{.schema}}.rate_budget (
    site       text PRIMARY KEY,
    next_slot  timestamptz NOT NULL
);

-- The last lease of each holder (a replica's budget for one site): what it holds and until when. A lease
-- ends by itself at expires_at, whether or not its holder is still alive; nothing has to give it back.
CREATE TABLE {{.schema}}.rate_leases (
    site        text NOT NULL,
    holder      text NOT NULL,
    tokens      integer NOT NULL,
    starts_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (site, holder)
);
CREATE INDEX rate_leases_expired ON {{.schema}}.rate_leases (expires_at);

---- create above / drop below ----
DROP TABLE {{.schema}}.rate_leases;
DROP TABLE {{.schema}}.rate_budget;
