-- The dashboard's data in one hand-written json_agg query: the floor for what the API can cost.
-- Bottom-up: active findings are counted once per (test, severity), rolled up to engagements and
-- products, and each level's JSON is aggregated per parent with GROUP BY. (Every parent in the
-- benchmark data has fewer than 100 children, so "first 100 at each level" needs no window here.)
WITH c AS MATERIALIZED (
    SELECT test_id, engagement_id, product_id, severity, count(*) AS n
    FROM findings WHERE active GROUP BY 1, 2, 3, 4
),
tc AS (
    SELECT test_id AS id, json_build_object(
        'critical', COALESCE(sum(n) FILTER (WHERE severity = 'CRITICAL'), 0), 'high', COALESCE(sum(n) FILTER (WHERE severity = 'HIGH'), 0),
        'medium', COALESCE(sum(n) FILTER (WHERE severity = 'MEDIUM'), 0), 'low', COALESCE(sum(n) FILTER (WHERE severity = 'LOW'), 0),
        'info', COALESCE(sum(n) FILTER (WHERE severity = 'INFO'), 0), 'total', sum(n)) AS counts
    FROM c GROUP BY 1
),
ec AS (
    SELECT engagement_id AS id, json_build_object(
        'critical', COALESCE(sum(n) FILTER (WHERE severity = 'CRITICAL'), 0), 'high', COALESCE(sum(n) FILTER (WHERE severity = 'HIGH'), 0),
        'medium', COALESCE(sum(n) FILTER (WHERE severity = 'MEDIUM'), 0), 'low', COALESCE(sum(n) FILTER (WHERE severity = 'LOW'), 0),
        'info', COALESCE(sum(n) FILTER (WHERE severity = 'INFO'), 0), 'total', sum(n)) AS counts
    FROM c GROUP BY 1
),
pc AS (
    SELECT product_id AS id, json_build_object(
        'critical', COALESCE(sum(n) FILTER (WHERE severity = 'CRITICAL'), 0), 'high', COALESCE(sum(n) FILTER (WHERE severity = 'HIGH'), 0),
        'medium', COALESCE(sum(n) FILTER (WHERE severity = 'MEDIUM'), 0), 'low', COALESCE(sum(n) FILTER (WHERE severity = 'LOW'), 0),
        'info', COALESCE(sum(n) FILTER (WHERE severity = 'INFO'), 0), 'total', sum(n)) AS counts
    FROM c GROUP BY 1
),
tj AS (
    SELECT t.engagement_id, json_agg(json_build_object('title', t.title, 'findingCounts', tc.counts) ORDER BY t.id) AS nodes
    FROM tests t LEFT JOIN tc ON tc.id = t.id GROUP BY t.engagement_id
),
ej AS (
    SELECT e.product_id, json_agg(json_build_object(
        'name', e.name, 'status', e.status,
        'isOverdue', e.status NOT IN ('COMPLETED', 'CANCELLED')
            AND e.target_end < current_date - CASE WHEN e.engagement_type = 'CI_CD' THEN 10 ELSE 0 END,
        'findingCounts', ec.counts,
        'tests', json_build_object('nodes', COALESCE(tj.nodes, '[]'))) ORDER BY e.id) AS nodes
    FROM engagements e LEFT JOIN ec ON ec.id = e.id LEFT JOIN tj ON tj.engagement_id = e.id
    GROUP BY e.product_id
)
SELECT json_build_object('data', json_build_object('products', json_build_object('nodes', COALESCE(json_agg(json_build_object(
    'name', p.name, 'findingCounts', pc.counts,
    'engagements', json_build_object('nodes', COALESCE(ej.nodes, '[]'))) ORDER BY p.id), '[]'))))
FROM (SELECT * FROM products ORDER BY id LIMIT 100) p
LEFT JOIN pc ON pc.id = p.id LEFT JOIN ej ON ej.product_id = p.id;
