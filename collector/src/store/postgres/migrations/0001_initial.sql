-- The first schema of the PostgreSQL store. A migration is applied once, in a transaction,
-- under an advisory lock, by whichever collector starts first (store/postgres/schema.rs).
-- Key columns are COLLATE "C": byte order, as the embedded store sorts, whatever the
-- database's locale.

-- One row per identity: (survey, 'i' || interaction) or (survey, 'r' || response_id). `body` is
-- domain::Response as JSON, history included, exactly what the embedded store keeps. The
-- columns beside it are what reads filter and sort on.
CREATE TABLE responses (
    survey     text COLLATE "C" NOT NULL,
    identity   text COLLATE "C" NOT NULL,
    created_ms bigint NOT NULL,
    -- The live-feed event of its latest change (see events in store/postgres/mod.rs).
    last_event bigint NOT NULL,
    -- It has a non-blank comment: what the comments page lists.
    commented  boolean NOT NULL,
    body       jsonb NOT NULL,
    PRIMARY KEY (survey, identity)
);
-- The comments page: newest change first, commented responses only.
CREATE INDEX responses_comments ON responses (survey, last_event) WHERE commented;

-- The live feed: one event per new or changed response (see store/postgres/mod.rs for how
-- they are numbered), naming its response, which a replay shows as it is now.
CREATE TABLE events (
    survey   text COLLATE "C" NOT NULL,
    event    bigint NOT NULL,
    identity text COLLATE "C" NOT NULL,
    PRIMARY KEY (survey, event)
);
-- The newest event of any survey.
CREATE INDEX events_newest ON events (event);

-- A widget shown, once per response_id, with its tags and language so an audit can recount it.
CREATE TABLE impressions (
    survey      text COLLATE "C" NOT NULL,
    response_id text COLLATE "C" NOT NULL,
    at_ms       bigint NOT NULL,
    tags        jsonb NOT NULL,
    -- The language it was shown in.
    lang        text,
    -- A response with its response_id was created: the invitation was answered.
    answered    boolean NOT NULL DEFAULT false,
    -- Shown for a registered interaction, whose registration is its invitation: kept so its
    -- response_id counts once, not counted as an impression.
    uncounted   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (survey, response_id)
);

-- Counters, sharded: the counts of one (survey, dimension, grain, bucket) are the sum of its
-- shards' rows. A batch adds to one shard, chosen per transaction, so collectors writing the
-- same day's counters at once rarely wait on the same row. c0..c10: responses by score 0..10,
-- c11: impressions, c12: unconfirmed clicks, c13: registrations, c14: answered invitations
-- (store::counts). A shard may go negative (an answer counted in one shard and changed in
-- another); only sums mean anything.
CREATE TABLE counters (
    survey    text COLLATE "C" NOT NULL,
    -- '' for the whole survey, 'tag=value' for one tag value ('lang=fr' for a language).
    dimension text COLLATE "C" NOT NULL,
    -- 'd' or 'h'.
    grain     text COLLATE "C" NOT NULL,
    -- Days, or hours, since 1970-01-01 UTC.
    bucket    bigint NOT NULL,
    shard     smallint NOT NULL,
    c0 bigint NOT NULL DEFAULT 0, c1 bigint NOT NULL DEFAULT 0, c2 bigint NOT NULL DEFAULT 0,
    c3 bigint NOT NULL DEFAULT 0, c4 bigint NOT NULL DEFAULT 0, c5 bigint NOT NULL DEFAULT 0,
    c6 bigint NOT NULL DEFAULT 0, c7 bigint NOT NULL DEFAULT 0, c8 bigint NOT NULL DEFAULT 0,
    c9 bigint NOT NULL DEFAULT 0, c10 bigint NOT NULL DEFAULT 0, c11 bigint NOT NULL DEFAULT 0,
    c12 bigint NOT NULL DEFAULT 0, c13 bigint NOT NULL DEFAULT 0, c14 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (survey, dimension, grain, bucket, shard)
);

-- Interactions a helpdesk registered: `body` is domain::registration::Registered as JSON (its
-- tags, expiry, when it was first registered, whether it was answered).
CREATE TABLE registrations (
    survey      text COLLATE "C" NOT NULL,
    interaction text COLLATE "C" NOT NULL,
    body        jsonb NOT NULL,
    PRIMARY KEY (survey, interaction)
);

-- Every tag value ever seen, so a breakdown knows its groups without a scan.
CREATE TABLE tag_values (
    survey text COLLATE "C" NOT NULL,
    tag    text COLLATE "C" NOT NULL,
    value  text COLLATE "C" NOT NULL,
    PRIMARY KEY (survey, tag, value)
);

-- What the anonymous limits count (domain::limits decides): 'tag <tag>' = distinct values of a
-- tag, 'unverified <day>' = new unverified responses of a day.
CREATE TABLE limit_counts (
    survey text COLLATE "C" NOT NULL,
    what   text COLLATE "C" NOT NULL,
    count  bigint NOT NULL,
    PRIMARY KEY (survey, what)
);

-- Alert messages waiting for their webhook. `claimed_by`/`claimed_until_ms`: the collector
-- whose alert worker took the message, so another collector leaves it alone until then.
CREATE TABLE outbox (
    id               bigint PRIMARY KEY,
    survey           text COLLATE "C" NOT NULL,
    due_ms           bigint NOT NULL,
    claimed_by       bigint,
    claimed_until_ms bigint,
    body             jsonb NOT NULL
);
CREATE INDEX outbox_due ON outbox (due_ms, id);

-- Alert messages given up on, kept for the dashboard.
CREATE TABLE undelivered (
    survey text COLLATE "C" NOT NULL,
    id     bigint NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (survey, id)
);
