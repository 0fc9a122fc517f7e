-- Findings indexes that every import wrote for nothing (issue "Scan import and re-import").
-- Measured with perf, 70% of the CPU of an import's INSERT goes to index entries.
--
-- A btree indexes NULLs too: every new finding added an entry under NULL to the indexes of
-- columns an import leaves empty (the duplicate pointer of an original, the unique id and
-- component of formats that have none), all into the same leaf pages, which Postgres then
-- deduplicated again and again. The lookups these indexes serve (the duplicates of a finding,
-- a finding by unique id or component) compare with a value, which implies NOT NULL, so partial
-- indexes serve them as before.
--
-- Dropped:
--   findings_severity_idx (severity): five values over the whole table; severity filters also
--     name a product, engagement or test, which the (…, severity) WHERE active indexes serve;
--   findings_reporter_id_idx, findings_mitigated_by_id_idx: their only reader would be deleting
--     a user (ON DELETE SET NULL), which dojoql does not do (users are deactivated); a user
--     deleted by hand costs one scan of findings.
DROP INDEX findings_severity_idx;
DROP INDEX findings_reporter_id_idx;
DROP INDEX findings_mitigated_by_id_idx;
DROP INDEX findings_duplicate_finding_id_idx;
DROP INDEX findings_unique_id_from_tool_idx;
DROP INDEX findings_component_name_idx;
CREATE INDEX findings_duplicate_finding_id_idx ON findings (duplicate_finding_id)
    WHERE duplicate_finding_id IS NOT NULL;
CREATE INDEX findings_unique_id_from_tool_idx ON findings (unique_id_from_tool)
    WHERE unique_id_from_tool IS NOT NULL;
CREATE INDEX findings_component_name_idx ON findings (component_name)
    WHERE component_name IS NOT NULL;
