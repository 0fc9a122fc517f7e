-- Cheaper import writes (issue "Scan import and re-import").
--
-- Every index of findings is written by every inserted finding, so those that repeat others or
-- serve no query go:
--   findings_product_hash (product_id, hash_code) WHERE hash_code IS NOT NULL, and
--   findings_product_hash_code_idx (product_id, hash_code): replaced by one index that leads
--     with the hash (below);
--   findings_test_hash (test_id, hash_code), findings_test_hash_code_idx (test_id, hash_code,
--     duplicate) and findings_test_unique_id_idx (test_id, unique_id_from_tool, duplicate): no
--     query looks a test's findings up by hash or unique id (re-import matches a test's findings
--     in memory; list filters use the key-leading indexes);
--   findings_product_uid (product_id, unique_id_from_tool) WHERE unique_id_from_tool IS NOT NULL:
--     findings_unique_id_from_tool_idx serves the lookup;
--   findings_product_id_idx (product_id)
--     = the prefix of findings_product_title_idx (product_id, title), new below.
--
-- Deduplication looks up a chunk's keys within the product one by one. With product_id leading
-- every candidate index, the planner could not tell them apart on a table whose statistics lag
-- behind the import filling it (a new product, a large report), and probed the product through
-- whichever came first, reading all of its findings per key (0.6 s for the second thousand
-- findings of an import, 2.6 s for the fifth). The lookups now lead with the key (hash, unique
-- id, title), the product checked on the rows found. LEGACY deduplication looks findings up by
-- title within the product, which no index served.
DROP INDEX findings_product_hash;
DROP INDEX findings_test_hash;
DROP INDEX findings_test_hash_code_idx;
DROP INDEX findings_test_unique_id_idx;
DROP INDEX findings_product_id_idx;
DROP INDEX findings_product_hash_code_idx;
DROP INDEX findings_product_uid;
CREATE INDEX findings_hash_code_product_idx ON findings (hash_code, product_id);
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
