-- findingCounts aggregates active findings per (parent, severity). These partial covering indexes
-- make the per-test and per-engagement counts index-only scans (the per-product one exists).
CREATE INDEX findings_test_severity_active_idx ON findings (test_id, severity) WHERE active;
CREATE INDEX findings_engagement_severity_active_idx ON findings (engagement_id, severity) WHERE active;
