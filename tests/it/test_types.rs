//! Test types are shared by every tenant: `createTest` by anyone but a superuser only picks an
//! existing test type by name (an unknown one is BAD_USER_INPUT and writes nothing); superusers
//! still create one on the fly, and the system (scan import) through
//! `find_or_create_test_type_as_system`.

use dojoql::db::lookup::{self, TestTypeByName};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_code};

const CREATE_TEST: &str = "mutation($e: ID!, $tt: String!) { createTest(input: {engagementId: $e, testType: $tt, \
    targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}) { test { id testType { name dynamicallyGenerated } } } }";

/// Runs `createTest` as `user`; returns the response.
async fn create_as(app: &TestApp, user: &TestUser, engagement: &str, test_type: &str) -> Value {
    app.gql_as(
        &app.refresh(user).await,
        CREATE_TEST,
        json!({ "e": engagement, "tt": test_type }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_superusers_create_test_types_by_name() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let writer = app.user("writer").await;
    let owner = app.user("owner").await;
    let global_owner = app.user("global_owner").await;
    let reader = app.user("reader").await;
    app.grant_product(&h.product, &writer.id, "WRITER").await;
    app.grant_product(&h.product, &reader.id, "READER").await;
    app.ok(
        "mutation($pt: ID!, $u: ID!) { addProductTypeMember(input: {productTypeId: $pt, userId: $u, role: OWNER}) { membership { id } } }",
        json!({ "pt": h.product_type, "u": owner.id }),
    )
    .await;
    app.ok(
        "mutation($u: ID!) { setGlobalRole(input: {userId: $u, role: OWNER}) { user { id } } }",
        json!({ "u": global_owner.id }),
    )
    .await;
    let types = app.count("test_types").await;

    // A WRITER names an existing test type: the test is created, no test type is.
    let r = create_as(&app, &writer, &h.engagement, "Pen Test").await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(
        r["data"]["createTest"]["test"]["testType"],
        json!({ "name": "Pen Test", "dynamicallyGenerated": false })
    );
    assert_eq!(app.count("test_types").await, types);

    // A new name from anyone but a superuser (even an OWNER, even a global OWNER) is refused
    // and writes nothing; the message names only what was asked for.
    for user in [&writer, &owner, &global_owner] {
        let before = app.snapshot().await;
        let r = create_as(&app, user, &h.engagement, "Litter Scanner").await;
        assert_code(&r, "BAD_USER_INPUT");
        let error = &r["errors"][0];
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("unknown test type \"Litter Scanner\""),
            "{message}"
        );
        assert!(message.contains("administrator"), "{message}");
        assert!(
            !message.contains("Pen Test"),
            "no test type is listed: {message}"
        );
        assert_eq!(app.snapshot().await, before, "a refused createTest wrote");
    }
    // A READER may not add tests at all: FORBIDDEN before the name is looked at.
    let before = app.snapshot().await;
    let r = create_as(&app, &reader, &h.engagement, "Litter Scanner").await;
    assert_code(&r, "FORBIDDEN");
    assert_eq!(app.snapshot().await, before);

    // A superuser creates it on the fly; from then on it exists for everyone.
    let d = app
        .ok(
            CREATE_TEST,
            json!({ "e": h.engagement, "tt": "Litter Scanner" }),
        )
        .await;
    assert_eq!(
        d["createTest"]["test"]["testType"],
        json!({ "name": "Litter Scanner", "dynamicallyGenerated": true })
    );
    assert_eq!(app.count("test_types").await, types + 1);
    let r = create_as(&app, &writer, &h.engagement, "Litter Scanner").await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(app.count("test_types").await, types + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_finds_or_creates_test_types() {
    let app = TestApp::new().await;
    let types = app.count("test_types").await;
    let mut conn = app.state.db.conn().await.unwrap();
    let a = lookup::find_or_create_test_type_as_system(&mut conn, "ZAP Scan")
        .await
        .unwrap();
    let b = lookup::find_or_create_test_type_as_system(&mut conn, "ZAP Scan")
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert!(a.dynamically_generated);
    assert_eq!(app.count("test_types").await, types + 1);
    let found = lookup::test_type_named(&mut conn, "ZAP Scan", TestTypeByName::Existing)
        .await
        .unwrap();
    assert_eq!(found.id, a.id);
    assert!(
        lookup::test_type_named(&mut conn, "Nothing", TestTypeByName::Existing)
            .await
            .is_err()
    );
    assert_eq!(app.count("test_types").await, types + 1);
}
