DROP TRIGGER findings_count_delete ON findings;
DROP TRIGGER findings_count_update ON findings;
DROP TRIGGER findings_count_insert ON findings;
DROP FUNCTION finding_counts_after_delete();
DROP FUNCTION finding_counts_after_update();
DROP FUNCTION finding_counts_after_insert();
DROP FUNCTION finding_counts_add(finding_counts[]);
DROP TABLE finding_counts;
