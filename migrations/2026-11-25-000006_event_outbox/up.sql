-- Live events: the transactional outbox. A mutation writes its events here inside its own
-- transaction (a rolled-back mutation leaves none) and notifies `dojoql_outbox` on commit. The
-- relay (one replica at a time) then gives each committed event its public sequence number
-- `seq`, in commit order, and publishes it; `seq` is the GraphQL `eventId`, strictly increasing
-- in the order events become visible, so `events(after:)` can resume exactly.
CREATE TABLE event_outbox (
    id            BIGSERIAL PRIMARY KEY,
    seq           BIGINT UNIQUE,
    kind          VARCHAR(40) NOT NULL CHECK (kind <> ''),
    -- The product the event belongs to (authorization); NULL for events about access itself.
    product_id    INTEGER,
    engagement_id INTEGER,
    test_id       INTEGER,
    finding_id    INTEGER,
    payload       JSONB NOT NULL DEFAULT '{}',
    actor_id      INTEGER,
    created       TIMESTAMPTZ NOT NULL DEFAULT now(),
    published     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX event_outbox_unsequenced_idx ON event_outbox (id) WHERE seq IS NULL;
CREATE INDEX event_outbox_unpublished_idx ON event_outbox (seq) WHERE NOT published AND seq IS NOT NULL;
CREATE INDEX event_outbox_created_idx ON event_outbox (created);
CREATE INDEX event_outbox_product_seq_idx ON event_outbox (product_id, seq);

-- The last sequence number handed out (transactional, unlike a SEQUENCE: a rolled-back
-- assignment hands nothing out).
CREATE TABLE event_relay (
    id       INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    last_seq BIGINT NOT NULL DEFAULT 0
);
INSERT INTO event_relay DEFAULT VALUES;
