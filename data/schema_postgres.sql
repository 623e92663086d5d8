-- intentgap schema for PostgreSQL, migration 0001_initial: schema.sql in PostgreSQL's words
-- (tests/data/test_store_engines.py checks that both give the same columns). Later changes are
-- named migrations in data/store.py, written once for both.

CREATE TABLE projects (
    project_id         VARCHAR PRIMARY KEY,
    name               VARCHAR NOT NULL,
    guidelines         VARCHAR NOT NULL DEFAULT '',
    principles         VARCHAR[] NOT NULL DEFAULT ARRAY[]::VARCHAR[],
    overlap_k          INTEGER NOT NULL DEFAULT 3 CHECK (overlap_k >= 1),
    gold_rate          DOUBLE PRECISION NOT NULL DEFAULT 0.1 CHECK (gold_rate >= 0 AND gold_rate <= 1),
    strength_enabled   BOOLEAN NOT NULL DEFAULT TRUE,
    tie_allowed        BOOLEAN NOT NULL DEFAULT TRUE,
    both_bad_allowed   BOOLEAN NOT NULL DEFAULT FALSE,
    rationale_required BOOLEAN NOT NULL DEFAULT FALSE,
    flags              VARCHAR[] NOT NULL DEFAULT ARRAY['fabrication', 'unsafe', 'refuses needlessly'],
    reclaim_minutes    INTEGER NOT NULL DEFAULT 30 CHECK (reclaim_minutes >= 1),
    is_demo            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE pairs (
    pair_id          VARCHAR PRIMARY KEY,
    project_id       VARCHAR NOT NULL,
    prompt           VARCHAR NOT NULL,
    prompt_messages  VARCHAR,
    response_a       VARCHAR NOT NULL,
    response_b       VARCHAR NOT NULL,
    category         VARCHAR,
    model_a          VARCHAR,
    model_b          VARCHAR,
    gold             VARCHAR CHECK (gold IN ('a', 'b', 'tie')),
    gold_principle   VARCHAR,
    is_gold          BOOLEAN NOT NULL DEFAULT FALSE,
    source           VARCHAR,
    metadata         VARCHAR,
    imported_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Votes still wanted per pair are read from this small table instead of aggregating
-- judgments. Counts are only ever added to, under the row's lock, by any process.
CREATE TABLE coverage (
    pair_id     VARCHAR PRIMARY KEY,
    project_id  VARCHAR NOT NULL,
    is_gold     BOOLEAN NOT NULL,
    n_done      INTEGER NOT NULL DEFAULT 0,
    n_open      INTEGER NOT NULL DEFAULT 0,
    shuffle     BIGINT NOT NULL DEFAULT 0  -- a hash of pair_id: a rater's order starts at their salt
);

CREATE TABLE raters (
    rater_id    VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL DEFAULT 'human' CHECK (kind IN ('human', 'source')),
    token_hash  VARCHAR UNIQUE,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A pair handed to a rater, with the side shown on the left and the server-side start time.
CREATE TABLE assignments (
    rater_id     VARCHAR NOT NULL,
    pair_id      VARCHAR NOT NULL,
    round        INTEGER NOT NULL DEFAULT 0,
    project_id   VARCHAR NOT NULL,
    shown_left   VARCHAR NOT NULL CHECK (shown_left IN ('a', 'b')),
    is_gold      BOOLEAN NOT NULL,
    assigned_at  TIMESTAMPTZ NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'skipped', 'expired')),
    PRIMARY KEY (rater_id, pair_id, round)
);

-- Append-only. submission_id is the client's idempotency key.
CREATE TABLE judgments (
    submission_id  VARCHAR PRIMARY KEY,
    pair_id        VARCHAR NOT NULL,
    rater_id       VARCHAR NOT NULL,
    round          INTEGER NOT NULL DEFAULT 0,
    choice         VARCHAR NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'both_bad')),
    strength       SMALLINT CHECK (strength BETWEEN 1 AND 3),
    shown_left     VARCHAR CHECK (shown_left IN ('a', 'b')),
    seconds        DOUBLE PRECISION,
    created_at     TIMESTAMPTZ NOT NULL,
    rationale      VARCHAR,
    principles     VARCHAR[],
    flags          VARCHAR[],
    is_gold        BOOLEAN NOT NULL DEFAULT FALSE,
    source         VARCHAR,
    UNIQUE (rater_id, pair_id, round)
);

-- "Next pair": the least-covered level, then the rater's rotation of shuffle (an index range).
CREATE INDEX coverage_next ON coverage (project_id, is_gold, (n_done + n_open), shuffle);
CREATE INDEX pairs_project ON pairs (project_id);
CREATE INDEX assignments_open ON assignments (project_id, status, assigned_at);
CREATE INDEX judgments_pair ON judgments (pair_id);
CREATE INDEX judgments_created ON judgments (created_at, submission_id);
