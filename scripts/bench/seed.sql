-- 50 products × 10 engagements × 5 tests × 40 findings = 100,000 findings, on a migrated database.
BEGIN;
INSERT INTO product_types (name) SELECT 'Bench type ' || g FROM generate_series(1, 5) g;
INSERT INTO products (name, description, product_type_id)
SELECT 'Bench product ' || lpad(g::text, 2, '0'), 'benchmark product',
       (SELECT id FROM product_types ORDER BY id OFFSET (g - 1) % 5 LIMIT 1)
FROM generate_series(1, 50) g;
INSERT INTO engagements (product_id, name, target_start, target_end, status, active, engagement_type)
SELECT p.id, 'Engagement ' || g, current_date - 60, current_date + (g - 5),
       (ARRAY['IN_PROGRESS', 'COMPLETED', 'NOT_STARTED', 'ON_HOLD'])[1 + g % 4],
       g % 4 <> 1,
       CASE WHEN g % 2 = 0 THEN 'CI_CD' ELSE 'INTERACTIVE' END
FROM products p, generate_series(1, 10) g;
INSERT INTO tests (engagement_id, product_id, test_type_id, title, target_start, target_end)
SELECT e.id, e.product_id, (SELECT min(id) FROM test_types) + g % 8, 'Test ' || g, e.target_start, e.target_start + 1
FROM engagements e, generate_series(1, 5) g;
INSERT INTO findings (test_id, engagement_id, product_id, title, description, severity, numerical_severity,
                      date, active, verified, cwe, hash_code)
SELECT t.id, t.engagement_id, t.product_id, 'Finding ' || g, 'benchmark finding',
       (ARRAY['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'])[1 + g % 5],
       (ARRAY['S0', 'S1', 'S2', 'S3', 'S4'])[1 + g % 5],
       current_date - (g % 90), g % 7 <> 0, g % 3 = 0, 79 + g % 10, md5(t.id || '-' || g)
FROM tests t, generate_series(1, 40) g;
UPDATE findings f SET sla_expiration_date = f.date + (CASE f.severity
    WHEN 'CRITICAL' THEN s.critical WHEN 'HIGH' THEN s.high WHEN 'MEDIUM' THEN s.medium WHEN 'LOW' THEN s.low END)
FROM products p JOIN sla_configurations s ON s.id = p.sla_configuration_id WHERE f.product_id = p.id;
COMMIT;
VACUUM ANALYZE;
