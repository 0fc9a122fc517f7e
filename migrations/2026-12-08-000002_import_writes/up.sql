-- Cheaper import writes (issue "Scan import and re-import"). Every index of findings is written by
-- every inserted finding, so three that repeat others go:
--   findings_product_hash (product_id, hash_code) WHERE hash_code IS NOT NULL
--     = findings_product_hash_code_idx (product_id, hash_code), which `hash_code = ANY(...)`
--     uses the same way;
--   findings_test_hash (test_id, hash_code)
--     = the prefix of findings_test_hash_code_idx (test_id, hash_code, duplicate);
--   findings_product_id_idx (product_id)
--     = the prefix of findings_product_hash_code_idx (product_id, hash_code).
-- LEGACY deduplication looks findings up by title within the product, which no index served
-- (it read every finding of the product).
DROP INDEX findings_product_hash;
DROP INDEX findings_test_hash;
DROP INDEX findings_product_id_idx;
CREATE INDEX findings_product_title_idx ON findings (product_id, title);

-- What an import did to each finding: one row per import and action holding the findings' ids
-- (ascending), instead of one row per finding. A 10,000-finding import wrote 10,000 rows, each
-- with its primary-key entry, index entry and two foreign-key checks (150 ms); now at most four.
-- A finding deleted since stays listed by id (the API shows it as deleted); the rows go with
-- their import.
CREATE TABLE test_import_actions (
    test_import_id INTEGER NOT NULL REFERENCES test_imports (id) ON DELETE CASCADE,
    action         VARCHAR(12) NOT NULL
        CHECK (action IN ('CREATED', 'CLOSED', 'REACTIVATED', 'UNTOUCHED')),
    finding_ids    INTEGER[] NOT NULL,
    PRIMARY KEY (test_import_id, action)
);
INSERT INTO test_import_actions (test_import_id, action, finding_ids)
    SELECT test_import_id, action, array_agg(finding_id ORDER BY finding_id)
      FROM test_import_findings
     GROUP BY test_import_id, action;
DROP TABLE test_import_findings;
