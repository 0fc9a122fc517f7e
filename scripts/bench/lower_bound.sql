-- The dashboard's data in one hand-written json_agg query: the floor for what the API can cost.
WITH c AS (
    SELECT test_id, engagement_id, product_id, severity, count(*) AS n
    FROM findings WHERE active GROUP BY 1, 2, 3, 4
),
tc AS (
    SELECT test_id AS id, json_build_object(
        'critical', sum(n) FILTER (WHERE severity = 'CRITICAL'), 'high', sum(n) FILTER (WHERE severity = 'HIGH'),
        'medium', sum(n) FILTER (WHERE severity = 'MEDIUM'), 'low', sum(n) FILTER (WHERE severity = 'LOW'),
        'info', sum(n) FILTER (WHERE severity = 'INFO'), 'total', sum(n)) AS counts
    FROM c GROUP BY 1
),
ec AS (
    SELECT engagement_id AS id, json_build_object(
        'critical', sum(n) FILTER (WHERE severity = 'CRITICAL'), 'high', sum(n) FILTER (WHERE severity = 'HIGH'),
        'medium', sum(n) FILTER (WHERE severity = 'MEDIUM'), 'low', sum(n) FILTER (WHERE severity = 'LOW'),
        'info', sum(n) FILTER (WHERE severity = 'INFO'), 'total', sum(n)) AS counts
    FROM c GROUP BY 1
),
pc AS (
    SELECT product_id AS id, json_build_object(
        'critical', sum(n) FILTER (WHERE severity = 'CRITICAL'), 'high', sum(n) FILTER (WHERE severity = 'HIGH'),
        'medium', sum(n) FILTER (WHERE severity = 'MEDIUM'), 'low', sum(n) FILTER (WHERE severity = 'LOW'),
        'info', sum(n) FILTER (WHERE severity = 'INFO'), 'total', sum(n)) AS counts
    FROM c GROUP BY 1
)
SELECT json_build_object('products', json_build_object('nodes', COALESCE(json_agg(json_build_object(
    'name', p.name, 'findingCounts', pc.counts,
    'engagements', json_build_object('nodes', (
        SELECT COALESCE(json_agg(json_build_object(
            'name', e.name, 'status', e.status,
            'isOverdue', e.status NOT IN ('COMPLETED', 'CANCELLED')
                AND e.target_end < current_date - CASE WHEN e.engagement_type = 'CI_CD' THEN 10 ELSE 0 END,
            'findingCounts', ec.counts,
            'tests', json_build_object('nodes', (
                SELECT COALESCE(json_agg(json_build_object('title', t.title, 'findingCounts', tc.counts) ORDER BY t.id), '[]')
                FROM (SELECT * FROM tests WHERE engagement_id = e.id ORDER BY id LIMIT 100) t
                LEFT JOIN tc ON tc.id = t.id))
        ) ORDER BY e.id), '[]')
        FROM (SELECT * FROM engagements WHERE product_id = p.id ORDER BY id LIMIT 100) e
        LEFT JOIN ec ON ec.id = e.id))
) ORDER BY p.id), '[]')))
FROM (SELECT * FROM products ORDER BY id LIMIT 100) p
LEFT JOIN pc ON pc.id = p.id;
