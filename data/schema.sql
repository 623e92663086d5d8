-- intentgap schema, migration 0001_initial. Every table the store speaks to is declared here;
-- later changes are named migrations in data/store.py.

CREATE TABLE projects (
    project_id         VARCHAR PRIMARY KEY,
    name               VARCHAR NOT NULL,
    guidelines         VARCHAR NOT NULL DEFAULT '',
    principles         VARCHAR[] NOT NULL DEFAULT [],
    overlap_k          INTEGER NOT NULL DEFAULT 3 CHECK (overlap_k >= 1),
    gold_rate          DOUBLE NOT NULL DEFAULT 0.1 CHECK (gold_rate >= 0 AND gold_rate <= 1),
    strength_enabled   BOOLEAN NOT NULL DEFAULT TRUE,
    tie_allowed        BOOLEAN NOT NULL DEFAULT TRUE,
    both_bad_allowed   BOOLEAN NOT NULL DEFAULT FALSE,
    rationale_required BOOLEAN NOT NULL DEFAULT FALSE,
    flags              VARCHAR[] NOT NULL DEFAULT ['fabrication', 'unsafe', 'refuses needlessly'],
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
-- judgments (about 4x faster "next pair" at 1M votes). Only updated under the store's
-- write lock: concurrent updates of one row abort in DuckDB instead of waiting.
CREATE TABLE coverage (
    pair_id     VARCHAR PRIMARY KEY,
    project_id  VARCHAR NOT NULL,
    is_gold     BOOLEAN NOT NULL,
    n_done      INTEGER NOT NULL DEFAULT 0,
    n_open      INTEGER NOT NULL DEFAULT 0,
    shuffle     UBIGINT NOT NULL DEFAULT 0  -- hash(pair_id): a per-rater order is shuffle XOR salt
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
    strength       TINYINT CHECK (strength BETWEEN 1 AND 3),
    shown_left     VARCHAR CHECK (shown_left IN ('a', 'b')),
    seconds        DOUBLE,
    created_at     TIMESTAMPTZ NOT NULL,
    rationale      VARCHAR,
    principles     VARCHAR[],
    flags          VARCHAR[],
    is_gold        BOOLEAN NOT NULL DEFAULT FALSE,
    source         VARCHAR,
    UNIQUE (rater_id, pair_id, round)
);
