DROP INDEX findings_test_id_idx;
CREATE INDEX findings_test_active_verified_idx ON findings (test_id, active, verified);
