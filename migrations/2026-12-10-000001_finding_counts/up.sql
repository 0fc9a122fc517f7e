-- Active findings per (product, engagement, test, severity), kept by statement-level triggers in
-- the transaction of every write to findings (issue "Performance: nested reads…", 10 million
-- findings). findingCounts sums these rows instead of counting findings: a product type of
-- 500,000 findings is a few thousand counter rows. Each trigger folds the whole statement's rows
-- (its transition tables) into one upsert per key, so an import's chunked INSERT costs one
-- grouped upsert per chunk, and an UPDATE that changes neither `active` nor `severity` nor the
-- finding's place writes nothing. tests/it/finding_counts.rs checks the rows against count(*).
CREATE TABLE finding_counts (
    product_id    INTEGER NOT NULL,
    engagement_id INTEGER NOT NULL,
    test_id       INTEGER NOT NULL,
    severity      VARCHAR(8) NOT NULL,
    active        BIGINT NOT NULL,
    PRIMARY KEY (test_id, severity, engagement_id, product_id)
);
CREATE INDEX finding_counts_engagement_idx ON finding_counts (engagement_id);
CREATE INDEX finding_counts_product_idx ON finding_counts (product_id);

INSERT INTO finding_counts (product_id, engagement_id, test_id, severity, active)
SELECT product_id, engagement_id, test_id, severity, count(*)
FROM findings WHERE active GROUP BY 1, 2, 3, 4;

-- Adds signed per-key deltas in one upsert, in key order (two writers lock shared rows in the
-- same order); rows that fall to zero are removed.
CREATE FUNCTION finding_counts_add(deltas finding_counts[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO finding_counts AS c (product_id, engagement_id, test_id, severity, active)
    SELECT product_id, engagement_id, test_id, severity, active FROM unnest(deltas)
    WHERE active <> 0
    ORDER BY test_id, severity, engagement_id, product_id
    ON CONFLICT (test_id, severity, engagement_id, product_id)
    DO UPDATE SET active = c.active + EXCLUDED.active;
    DELETE FROM finding_counts c USING unnest(deltas) d
    WHERE c.active = 0 AND c.test_id = d.test_id AND c.severity = d.severity
      AND c.engagement_id = d.engagement_id AND c.product_id = d.product_id;
$$;

CREATE FUNCTION finding_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM finding_counts_add(ARRAY(
        SELECT ROW(product_id, engagement_id, test_id, severity, count(*))::finding_counts
        FROM new_rows WHERE active GROUP BY product_id, engagement_id, test_id, severity));
    RETURN NULL;
END $$;

CREATE FUNCTION finding_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM finding_counts_add(ARRAY(
        SELECT ROW(product_id, engagement_id, test_id, severity, sum(n))::finding_counts
        FROM (SELECT product_id, engagement_id, test_id, severity, 1 AS n FROM new_rows WHERE active
              UNION ALL
              SELECT product_id, engagement_id, test_id, severity, -1 FROM old_rows WHERE active) d
        GROUP BY product_id, engagement_id, test_id, severity));
    RETURN NULL;
END $$;

CREATE FUNCTION finding_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM finding_counts_add(ARRAY(
        SELECT ROW(product_id, engagement_id, test_id, severity, -count(*))::finding_counts
        FROM old_rows WHERE active GROUP BY product_id, engagement_id, test_id, severity));
    RETURN NULL;
END $$;

CREATE TRIGGER findings_count_insert AFTER INSERT ON findings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_counts_after_insert();
CREATE TRIGGER findings_count_update AFTER UPDATE ON findings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION finding_counts_after_update();
CREATE TRIGGER findings_count_delete AFTER DELETE ON findings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_counts_after_delete();
