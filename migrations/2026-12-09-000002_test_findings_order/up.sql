-- A test's findings in id order (issue "Performance: nested reads…"). A nested page of findings
-- is read per test (`LATERAL … WHERE test_id = … ORDER BY id LIMIT n + 1`): with this index
-- Postgres reads only the rows of the page, where (test_id, active, verified) made it fetch and
-- sort every finding of the test. The new index serves what the old one did (the test's
-- findings, the cascade from tests); active and verified are checked on the rows.
DROP INDEX findings_test_active_verified_idx;
CREATE INDEX findings_test_id_idx ON findings (test_id, id);
