CREATE TABLE test_import_findings (
    test_import_id INTEGER NOT NULL REFERENCES test_imports (id) ON DELETE CASCADE,
    finding_id     INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    action         VARCHAR(12) NOT NULL
        CHECK (action IN ('CREATED', 'CLOSED', 'REACTIVATED', 'UNTOUCHED')),
    PRIMARY KEY (test_import_id, finding_id)
);
CREATE INDEX test_import_findings_finding ON test_import_findings (finding_id);
INSERT INTO test_import_findings (test_import_id, finding_id, action)
    SELECT a.test_import_id, f.id, a.action
      FROM test_import_actions a CROSS JOIN unnest(a.finding_ids) AS f(id)
     WHERE EXISTS (SELECT 1 FROM findings WHERE findings.id = f.id)
    ON CONFLICT DO NOTHING;
DROP TABLE test_import_actions;

DROP INDEX findings_product_title_idx;
DROP INDEX findings_hash_code_product_idx;
CREATE INDEX findings_product_hash_code_idx ON findings (product_id, hash_code);
CREATE INDEX findings_product_uid ON findings (product_id, unique_id_from_tool)
    WHERE unique_id_from_tool IS NOT NULL;
CREATE INDEX findings_product_id_idx ON findings (product_id);
CREATE INDEX findings_test_hash ON findings (test_id, hash_code);
CREATE INDEX findings_product_hash ON findings (product_id, hash_code) WHERE hash_code IS NOT NULL;
CREATE INDEX findings_test_hash_code_idx ON findings (test_id, hash_code, duplicate);
CREATE INDEX findings_test_unique_id_idx ON findings (test_id, unique_id_from_tool, duplicate);
