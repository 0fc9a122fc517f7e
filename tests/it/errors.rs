//! Error codes for bad input, and the rule that a failed mutation leaves the database exactly
//! as it was.

use serde_json::json;

use crate::helpers::{TestApp, assert_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_bad_user_input() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let cases = [
        // Unknown enum value (a validation error raised by the GraphQL layer itself).
        format!(
            "mutation {{ createEngagement(input: {{productId: \"{}\", name: \"x\", engagementType: WATERFALL, targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}}) {{ engagement {{ id }} }} }}",
            h.product
        ),
        // End before start.
        format!(
            "mutation {{ createEngagement(input: {{productId: \"{}\", name: \"x\", targetStart: \"2026-02-01\", targetEnd: \"2026-01-01\"}}) {{ engagement {{ id }} }} }}",
            h.product
        ),
        // Not a date.
        format!(
            "mutation {{ createEngagement(input: {{productId: \"{}\", name: \"x\", targetStart: \"January\", targetEnd: \"2026-01-01\"}}) {{ engagement {{ id }} }} }}",
            h.product
        ),
        // Not an id, and an id of the wrong type.
        "{ node(id: \"%%%\") { id } }".to_string(),
        format!(
            "mutation {{ closeEngagement(input: {{id: \"{}\"}}) {{ engagement {{ id }} }} }}",
            h.product
        ),
        // Page sizes.
        "{ findings(first: 0) { totalCount } }".to_string(),
        "{ findings(first: 101) { totalCount } }".to_string(),
        // Unknown field.
        "{ productTypes { nodes { nope } } }".to_string(),
    ];
    for q in &cases {
        assert_eq!(app.err(q, json!({})).await, "BAD_USER_INPUT", "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_objects_are_not_found() {
    let app = TestApp::new().await;
    let gone = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Engagement, 999_999);
    for q in [
        "mutation($id: ID!) { closeEngagement(input: {id: $id}) { engagement { id } } }",
        "mutation($id: ID!) { deleteEngagement(input: {id: $id}) { deletedId } }",
        "mutation($id: ID!) { updateEngagement(input: {id: $id, name: \"x\"}) { engagement { id } } }",
        "mutation($id: ID!) { createTest(input: {engagementId: $id, testType: \"X\", targetStart: \"2026-01-01\", targetEnd: \"2026-01-01\"}) { test { id } } }",
        "query($id: ID!) { deletePreview(id: $id) { total } }",
    ] {
        assert_eq!(app.err(q, json!({ "id": gone })).await, "NOT_FOUND", "{q}");
    }
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": gone }),
        )
        .await;
    assert!(d["node"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_mutation_rolls_back_everything_it_wrote() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    app.ok(
        "mutation($id: ID!) { closeEngagement(input: {id: $id}) { engagement { id } } }",
        json!({ "id": h.engagement }),
    )
    .await;
    let before = app.snapshot().await;
    // createTest first creates the new test type "Brand New Scanner", then finds the engagement
    // completed: the test type must not survive the failed transaction.
    let code = app
        .err(
            "mutation($e: ID!) { createTest(input: {engagementId: $e, testType: \"Brand New Scanner\", targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}) { test { id } } }",
            json!({ "e": h.engagement }),
        )
        .await;
    assert_eq!(code, "ENGAGEMENT_COMPLETED");
    assert_eq!(app.snapshot().await, before);
    assert_eq!(
        app.count("test_types WHERE name = 'Brand New Scanner'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_errors_hide_details() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    app.finding(&h.test, "f", "LOW").await;
    // Break the schema under the server's feet: the resolver fails in SQL.
    let mut c = app.sql().await;
    use diesel_async::SimpleAsyncConnection;
    c.batch_execute("ALTER TABLE findings RENAME COLUMN refs TO refs_gone")
        .await
        .unwrap();
    let r = app
        .gql(
            // `references` reads the renamed column (a list reads only the columns it shows).
            "query($t: ID!) { node(id: $t) { ... on Test { findings { nodes { id references } } } } }",
            json!({ "t": h.test }),
        )
        .await;
    assert_code(&r, "INTERNAL");
    let err = &r["errors"][0];
    assert_eq!(err["message"], "internal error");
    assert!(!r.to_string().contains("refs"), "no SQL detail leaks: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_too_long_for_their_column_are_bad_input() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let before = app.snapshot().await;
    for (field, len) in [
        ("cvssv3", 118),
        ("componentVersion", 101),
        ("service", 201),
        ("uniqueIdFromTool", 501),
    ] {
        let q = format!(
            "mutation($t: ID!, $v: String!) {{ createFinding(input: {{testId: $t, title: \"x\", severity: LOW, description: \"d\", {field}: $v}}) {{ finding {{ id }} }} }}"
        );
        let code = app
            .err(&q, json!({ "t": h.test, "v": "x".repeat(len) }))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{field}");
    }
    assert_eq!(app.snapshot().await, before);
}
