ALTER TABLE system_settings DROP COLUMN enable_deduplication;
DROP TABLE test_import_findings;
DROP TABLE test_imports;
DROP TABLE endpoint_status;
DROP TABLE endpoints;
DROP INDEX findings_test_hash;
DROP INDEX findings_product_uid;
DROP INDEX findings_product_hash;
ALTER TABLE findings
    DROP COLUMN param, DROP COLUMN payload, DROP COLUMN cwes, DROP COLUMN cvssv4,
    DROP COLUMN cvssv4_score, DROP COLUMN scanner_confidence, DROP COLUMN fix_available,
    DROP COLUMN fix_version, DROP COLUMN epss_score, DROP COLUMN epss_percentile,
    DROP COLUMN known_exploited, DROP COLUMN publish_date;
