DROP INDEX findings_duplicate_finding_id_idx;
DROP INDEX findings_unique_id_from_tool_idx;
DROP INDEX findings_component_name_idx;
CREATE INDEX findings_severity_idx ON findings (severity);
CREATE INDEX findings_reporter_id_idx ON findings (reporter_id);
CREATE INDEX findings_mitigated_by_id_idx ON findings (mitigated_by_id);
CREATE INDEX findings_duplicate_finding_id_idx ON findings (duplicate_finding_id);
CREATE INDEX findings_unique_id_from_tool_idx ON findings (unique_id_from_tool);
CREATE INDEX findings_component_name_idx ON findings (component_name);
