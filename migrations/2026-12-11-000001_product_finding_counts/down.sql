DROP FUNCTION product_finding_counts_compact();
DROP FUNCTION finding_counts_add(finding_counts[]);
ALTER FUNCTION finding_counts_add_tests(finding_counts[]) RENAME TO finding_counts_add;
DROP TABLE product_finding_counts;
