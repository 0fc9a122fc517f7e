-- Findings for products :lo..:hi (by position among the bench products, 1-based) of a database
-- seeded by the structure part of scripts/bench/scale: 10 engagements × 5 tests per product and
-- :per_test findings per test. Realistic shares: severities 4% critical, 18% high, 38% medium,
-- 25% low, 15% info; 30% closed (mitigated), 3% false positive, 2% risk accepted, 5% duplicates
-- (inactive), 40% of the open ones verified; dates over the last two years.
INSERT INTO findings (test_id, engagement_id, product_id, title, description, severity, numerical_severity,
                      date, active, verified, false_p, risk_accepted, duplicate, is_mitigated, mitigated,
                      cwe, hash_code, component_name, file_path, line, created, updated, last_status_update,
                      sla_expiration_date)
SELECT t.id, t.engagement_id, t.product_id,
       (ARRAY['SQL injection', 'Cross-site scripting', 'Outdated dependency', 'Hard-coded secret',
              'Path traversal', 'Insecure deserialization', 'Open redirect', 'Weak cipher',
              'Missing security header', 'Server-side request forgery'])[1 + (x.h % 10)]
         || ' in ' || (ARRAY['api', 'web', 'auth', 'billing', 'search', 'admin', 'mobile', 'worker'])[1 + (x.h / 10) % 8]
         || ' #' || (x.h % 997),
       'scale benchmark finding',
       x.sev, (ARRAY['S0', 'S1', 'S2', 'S3', 'S4'])[array_position(ARRAY['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'], x.sev)],
       x.found,
       x.state = 'open', x.state = 'open' AND x.h % 5 < 2, x.state = 'false_p', x.state = 'accepted',
       x.state = 'duplicate', x.state = 'closed',
       CASE WHEN x.state = 'closed' THEN x.found + (x.h % 120) * interval '1 day' END,
       (ARRAY[79, 89, 22, 798, 502, 601, 327, 352, 918, 1104])[1 + (x.h % 10)],
       md5(t.id || '-' || g),
       CASE WHEN x.h % 3 = 0 THEN 'lib' || (x.h % 400) END,
       'src/module' || (x.h % 50) || '/file' || (x.h % 200) || '.py', 1 + x.h % 900,
       x.found + interval '9 hours', x.found + interval '9 hours', x.found + interval '9 hours',
       x.found + CASE x.sev WHEN 'CRITICAL' THEN s.critical WHEN 'HIGH' THEN s.high
                            WHEN 'MEDIUM' THEN s.medium WHEN 'LOW' THEN s.low END
FROM tests t
JOIN (SELECT id, sla_configuration_id FROM products WHERE name LIKE 'Scale product %'
      ORDER BY id OFFSET :lo - 1 LIMIT :hi - :lo + 1) p
  ON p.id = t.product_id
JOIN sla_configurations s ON s.id = p.sla_configuration_id
CROSS JOIN generate_series(1, :per_test) g
CROSS JOIN LATERAL (
  SELECT h,
         CASE WHEN h % 100 < 4 THEN 'CRITICAL' WHEN h % 100 < 22 THEN 'HIGH' WHEN h % 100 < 60 THEN 'MEDIUM'
              WHEN h % 100 < 85 THEN 'LOW' ELSE 'INFO' END AS sev,
         CASE WHEN (h / 100) % 100 < 30 THEN 'closed' WHEN (h / 100) % 100 < 33 THEN 'false_p'
              WHEN (h / 100) % 100 < 35 THEN 'accepted' WHEN (h / 100) % 100 < 40 THEN 'duplicate'
              ELSE 'open' END AS state,
         (current_date - (h / 10000) % 730) AS found
  FROM (SELECT abs(hashtext(t.id || ':' || g)) AS h) s
) x;
