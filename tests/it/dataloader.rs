//! Round trips: a nested dashboard query costs the same number of SQL statements for 2 products
//! as for 50 — one per list level plus one per counted field (the dataloaders batch each level).

use serde_json::json;

use crate::helpers::TestApp;

const DASHBOARD: &str = "{ productTypes(first: 100) { nodes { name findingCounts { critical high medium low info total }
  products(first: 100) { nodes { name findingCounts { critical total }
    engagements(first: 100) { nodes { name isOverdue findingCounts { high total }
      tests(first: 100) { nodes { title findingCounts { total }
        findings(first: 100) { nodes { title severity } } } } } } } } } } }";

/// Builds `products` products over 2 product types, each with 2 engagements × 1 test × 2 findings.
async fn seed(app: &TestApp, products: usize) {
    let types = [app.product_type("A").await, app.product_type("B").await];
    for p in 0..products {
        let product = app.product(&types[p % 2], &format!("p{p}")).await;
        for e in 0..2 {
            let engagement = app.engagement(&product, &format!("e{e}")).await;
            let test = app.test(&engagement, "t").await;
            app.finding(&test, "f1", "HIGH").await;
            app.finding(&test, "f2", "CRITICAL").await;
        }
    }
}

/// No batching delay (the default): a batch starts when the request's wave of resolvers has
/// queued its keys (`graphql::waves`). With the plain `tokio::spawn` spawner and no delay, the
/// same dashboard took 12 to 22 statements: batch tasks ran on the other worker thread while
/// siblings were still queueing keys.
fn no_delay(c: &mut dojoql::config::Config) {
    c.loader_delay = std::time::Duration::ZERO;
    // Five nested levels of `first: 100` are over the default node budget; this test is about
    // round trips, not limits.
    c.query_limits.max_nodes = u64::MAX;
}

async fn statements_for_dashboard(products: usize) -> (usize, Vec<String>) {
    let app = TestApp::with_config(no_delay).await;
    seed(&app, products).await;
    app.statements().start_recording();
    let d = app.ok(DASHBOARD, json!({})).await;
    let statements = app.statements().take();
    count_products(&d, products);
    (statements.len(), statements)
}

/// Like [`statements_for_dashboard`], as a READER of product type A only: the visibility
/// conditions ride inside the same statements.
async fn member_statements_for_dashboard(products: usize) -> (usize, Vec<String>) {
    let app = TestApp::with_config(no_delay).await;
    seed(&app, products).await;
    let reader = app.user("reader").await;
    let d = app
        .ok("{ productTypes(first: 1) { nodes { id } } }", json!({}))
        .await;
    app.ok(
        "mutation($pt: ID!, $u: ID!) { addProductTypeMember(input: {productTypeId: $pt, userId: $u, role: READER}) { membership { id } } }",
        json!({ "pt": d["productTypes"]["nodes"][0]["id"], "u": reader.id }),
    )
    .await;
    let principal = app.refresh(&reader).await;
    app.statements().start_recording();
    let r = app.gql_as(&principal, DASHBOARD, json!({})).await;
    let statements = app.statements().take();
    assert!(r.get("errors").is_none(), "{r}");
    count_products(&r["data"], products.div_ceil(2));
    (statements.len(), statements)
}

/// Asserts the dashboard holds `products` products and all their active findings.
fn count_products(d: &serde_json::Value, products: usize) {
    let all: usize = d["productTypes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pt| pt["products"]["nodes"].as_array().unwrap().len())
        .sum();
    assert_eq!(all, products, "every product came back");
    let total: i64 = d["productTypes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pt| pt["findingCounts"]["total"].as_i64().unwrap())
        .sum();
    assert_eq!(
        total,
        products as i64 * 4,
        "counts cover every active finding"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_costs_constant_statements() {
    let (small, small_sql) = statements_for_dashboard(2).await;
    let (large, large_sql) = statements_for_dashboard(50).await;
    // 5 list levels + 4 findingCounts fields.
    assert_eq!(
        small,
        9,
        "statements for 2 products:\n{}",
        small_sql.join("\n")
    );
    assert_eq!(
        large,
        small,
        "statements for 50 products:\n{}",
        large_sql.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_dashboard_costs_the_same_statements() {
    let (small, small_sql) = member_statements_for_dashboard(2).await;
    let (large, large_sql) = member_statements_for_dashboard(50).await;
    assert_eq!(small, 9, "{}", small_sql.join("\n"));
    assert_eq!(large, small, "{}", large_sql.join("\n"));
    // The product types, their products and the product types' counts carry the visibility
    // condition; lists and counts under a product, engagement or test need none (their parent
    // was read through it, and they are of its product).
    let conditioned: Vec<&String> = large_sql
        .iter()
        .filter(|s| s.contains("product_grants"))
        .collect();
    assert!(
        conditioned.len() == 3
            && conditioned
                .iter()
                .any(|s| s.contains("FROM product_types t"))
            && conditioned.iter().any(|s| s.contains("FROM products t"))
            && conditioned
                .iter()
                .any(|s| s.contains("FROM product_finding_counts f")),
        "{}",
        large_sql.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_to_parent_hops_are_batched() {
    let app = TestApp::with_config(no_delay).await;
    seed(&app, 6).await;
    app.statements().start_recording();
    let d = app
        .ok(
            "{ findings(first: 100) { nodes { title test { title engagement { name product { name productType { name } } } } } } }",
            json!({}),
        )
        .await;
    let statements = app.statements().take();
    assert_eq!(d["findings"]["nodes"].as_array().unwrap().len(), 24);
    // findings page + one batch per hop (test, engagement, product, product type).
    assert_eq!(statements.len(), 5, "{}", statements.join("\n"));
}

/// A wide dashboard: `products` products (over 5 product types) × 10 engagements × 5 tests × 2
/// findings, written in SQL (the GraphQL mutations would take minutes at this size).
async fn seed_wide(app: &TestApp, products: i32) {
    use diesel_async::SimpleAsyncConnection;
    let mut c = app.sql().await;
    c.batch_execute(&format!(
        "INSERT INTO product_types (name) SELECT 'Wide type ' || g FROM generate_series(1, 5) g;
         INSERT INTO products (name, description, product_type_id)
         SELECT 'Wide product ' || g, 'd', (SELECT min(id) FROM product_types) + g % 5
         FROM generate_series(1, {products}) g;
         INSERT INTO engagements (product_id, name, target_start, target_end, status, active, engagement_type)
         SELECT p.id, 'E' || g, current_date - 60, current_date + (g - 5), 'IN_PROGRESS', TRUE, 'CI_CD'
         FROM products p, generate_series(1, 10) g;
         INSERT INTO tests (engagement_id, product_id, test_type_id, title, target_start, target_end)
         SELECT e.id, e.product_id, (SELECT min(id) FROM test_types), 'T' || g, e.target_start, e.target_end
         FROM engagements e, generate_series(1, 5) g;
         INSERT INTO findings (test_id, engagement_id, product_id, title, description, severity,
                               numerical_severity, date, active, verified)
         SELECT t.id, t.engagement_id, t.product_id, 'F' || g, 'd', 'HIGH', 'S1', current_date, TRUE, FALSE
         FROM tests t, generate_series(1, 2) g;"
    ))
    .await
    .unwrap();
}

/// Statements and product count of a four-level dashboard over [`seed_wide`] data.
async fn statements_for_wide_dashboard(products: i32) -> (usize, Vec<String>) {
    let app = TestApp::with_config(no_delay).await;
    seed_wide(&app, products).await;
    app.statements().start_recording();
    let d = app
        .ok(
            "{ products(first: 100) { nodes { name findingCounts { total }
               engagements(first: 100) { nodes { name isOverdue findingCounts { total }
                 tests(first: 100) { nodes { title findingCounts { total }
                   findings(first: 100) { nodes { title } } } } } } } } }",
            json!({}),
        )
        .await;
    let statements = app.statements().take();
    let nodes = d["products"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), products as usize);
    let findings: usize = nodes
        .iter()
        .flat_map(|p| p["engagements"]["nodes"].as_array().unwrap())
        .flat_map(|e| e["tests"]["nodes"].as_array().unwrap())
        .map(|t| t["findings"]["nodes"].as_array().unwrap().len())
        .sum();
    assert_eq!(findings, products as usize * 100, "every finding came back");
    (statements.len(), statements)
}

/// Wide lists of lists, where async-graphql's joins yield part-way through a level
/// (`graphql::waves`): 50 products, 500 engagements and 2,500 tests still cost one statement
/// per level and counted field — before, the counts alone took 25 statements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_dashboard_costs_one_statement_per_level() {
    let (small, small_sql) = statements_for_wide_dashboard(1).await;
    // products, engagements, tests and findings pages + three counts.
    assert_eq!(small, 7, "{}", small_sql.join("\n"));
    let (large, large_sql) = statements_for_wide_dashboard(50).await;
    assert_eq!(large, small, "{}", large_sql.join("\n"));
}
