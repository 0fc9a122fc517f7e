-- Active findings per (product, severity) as append-only signed deltas (issue "Performance:
-- nested reads…", findingCounts of product types at 10 million findings). finding_counts keeps
-- one row per test and severity, so a product type's counts summed tens of thousands of rows.
-- Rows are never updated in place: every write to findings appends its statement's per-product deltas
-- (from the same finding_counts_add call, in the same transaction), so two imports into one
-- product never wait on each other's counter row; readers sum the rows of a product; and the
-- jobs round folds each product's rows into one per severity (product_finding_counts_compact).
-- tests/it/import.rs checks the sums against count(*) before and after compaction.
CREATE TABLE product_finding_counts (
    id         BIGSERIAL PRIMARY KEY,
    product_id INTEGER NOT NULL,
    severity   VARCHAR(8) NOT NULL,
    active     BIGINT NOT NULL
);
CREATE INDEX product_finding_counts_idx ON product_finding_counts (product_id) INCLUDE (severity, active);

INSERT INTO product_finding_counts (product_id, severity, active)
SELECT product_id, severity, sum(active) FROM finding_counts GROUP BY 1, 2 HAVING sum(active) <> 0;

-- The triggers call finding_counts_add by name: the per-test upsert keeps its body under a new
-- name, and finding_counts_add now also appends the per-product deltas.
ALTER FUNCTION finding_counts_add(finding_counts[]) RENAME TO finding_counts_add_tests;
CREATE FUNCTION finding_counts_add(deltas finding_counts[]) RETURNS void LANGUAGE sql AS $$
    SELECT finding_counts_add_tests(deltas);
    INSERT INTO product_finding_counts (product_id, severity, active)
    SELECT product_id, severity, sum(active) FROM unnest(deltas)
    GROUP BY product_id, severity HAVING sum(active) <> 0;
$$;

-- Folds the delta rows of every product that has more than one row for a severity into one
-- row per severity (none where the sum is zero); returns how many rows it removed. Rows that
-- concurrent transactions append meanwhile are not visible to its DELETE and stay as they are,
-- so the sums hold throughout.
CREATE FUNCTION product_finding_counts_compact() RETURNS bigint LANGUAGE sql AS $$
    WITH loose AS (
        SELECT product_id FROM product_finding_counts
        GROUP BY product_id HAVING count(*) > count(DISTINCT severity)
    ), gone AS (
        DELETE FROM product_finding_counts c USING loose WHERE c.product_id = loose.product_id
        RETURNING c.product_id, c.severity, c.active
    ), kept AS (
        INSERT INTO product_finding_counts (product_id, severity, active)
        SELECT product_id, severity, sum(active) FROM gone
        GROUP BY product_id, severity HAVING sum(active) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept);
$$;
