//! Cascading deletes and `deletePreview`: for every deletable level the preview equals what the
//! delete reports and the rows that actually disappear; siblings survive; duplicate clusters
//! reaching outside the deleted subtree get a new original.

use diesel_async::RunQueryDsl;
use dojoql::domain::ids::{NodeKind, encode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, db_id};

/// The tables a delete may touch, with the GraphQL type name of their rows, top down.
const TABLES: [(&str, &str); 7] = [
    ("product_types", "ProductType"),
    ("products", "Product"),
    ("engagements", "Engagement"),
    ("tests", "Test"),
    ("findings", "Finding"),
    ("notes", "Note"),
    ("files", "File"),
];

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for (table, _) in TABLES {
        out.push(app.count(table).await);
    }
    out
}

async fn exec(app: &TestApp, statement: &str) {
    let mut c = app.sql().await;
    diesel::sql_query(statement).execute(&mut c).await.unwrap();
}

async fn note(app: &TestApp, parent: &str, entry: &str) {
    app.ok(
        "mutation($p: ID!, $e: String!) { addNote(input: {parentId: $p, entry: $e}) { note { id } } }",
        json!({ "p": parent, "e": entry }),
    )
    .await;
}

async fn file(app: &TestApp, column: &str, parent: &str) {
    exec(
        app,
        &format!(
            "INSERT INTO files ({column}, title, filename, content_type, size, sha256, content) VALUES \
             ({}, 'f', 'f.txt', 'text/plain', 2, encode(sha256('hi'), 'hex'), 'hi')",
            db_id(parent)
        ),
    )
    .await;
}

/// One engagement's subtree.
struct Eng {
    id: String,
    tests: Vec<String>,
    findings: Vec<String>,
}

/// A product type with its products, each engagement with 2 tests of 2 findings; a note on every
/// engagement, test and finding; a file on every engagement, its first test and that test's first
/// finding. Per engagement: 2 tests, 4 findings, 7 notes, 3 files.
struct Tree {
    product_type: String,
    products: Vec<String>,
    engagements: Vec<Eng>,
}

async fn tree(app: &TestApp, name: &str, products: usize) -> Tree {
    let product_type = app.product_type(name).await;
    let mut t = Tree {
        product_type: product_type.clone(),
        products: Vec::new(),
        engagements: Vec::new(),
    };
    for p in 0..products {
        let product = app.product(&product_type, &format!("{name} P{p}")).await;
        for e in 0..2 {
            let engagement = app.engagement(&product, &format!("E{e}")).await;
            note(app, &engagement, "engagement note").await;
            file(app, "engagement_id", &engagement).await;
            let mut eng = Eng {
                id: engagement.clone(),
                tests: Vec::new(),
                findings: Vec::new(),
            };
            for ti in 0..2 {
                let test = app.test(&engagement, &format!("T{ti}")).await;
                note(app, &test, "test note").await;
                if ti == 0 {
                    file(app, "test_id", &test).await;
                }
                for fi in 0..2 {
                    let finding = app.finding(&test, &format!("F{ti}{fi}"), "HIGH").await;
                    note(app, &finding, "finding note").await;
                    if ti == 0 && fi == 0 {
                        file(app, "finding_id", &finding).await;
                    }
                    eng.findings.push(finding);
                }
                eng.tests.push(test);
            }
            t.engagements.push(eng);
        }
        t.products.push(product);
    }
    t
}

const PREVIEW: &str =
    "query($id: ID!) { deletePreview(id: $id) { total counts { typeName count } } }";

/// Previews and deletes `id` with `mutation`; asserts that the preview, the payload and the rows
/// that disappeared agree, and that they equal `expected` (rows per table, as in [`TABLES`]).
async fn check_delete(app: &TestApp, mutation: &str, id: &str, expected: [i64; 7]) {
    let before = counts(app).await;
    let preview = app.ok(PREVIEW, json!({ "id": id })).await["deletePreview"].clone();
    // A preview writes nothing.
    assert_eq!(counts(app).await, before);

    let d = app
        .ok(
            &format!("mutation($id: ID!) {{ {mutation}(input: {{id: $id}}) {{ deletedId deleted {{ total counts {{ typeName count }} }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    let payload = &d[mutation];
    assert_eq!(payload["deletedId"], id);

    let after = counts(app).await;
    let removed: Vec<i64> = before.iter().zip(&after).map(|(b, a)| b - a).collect();
    assert_eq!(
        removed,
        expected.to_vec(),
        "{mutation}: rows removed per table"
    );
    let expected_counts: Vec<Value> = TABLES
        .iter()
        .zip(&removed)
        .filter(|(_, n)| **n > 0)
        .map(|((_, type_name), n)| json!({ "typeName": type_name, "count": n }))
        .collect();
    let actual = json!({ "total": removed.iter().sum::<i64>(), "counts": expected_counts });
    assert_eq!(preview, actual, "{mutation}: preview");
    assert_eq!(payload["deleted"], actual, "{mutation}: payload");

    // Gone: not found by node, by a second delete or by a preview.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["node"], Value::Null);
    let code = app
        .err(
            &format!("mutation($id: ID!) {{ {mutation}(input: {{id: $id}}) {{ deletedId }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(app.err(PREVIEW, json!({ "id": id })).await, "NOT_FOUND");
}

async fn exists(app: &TestApp, ids: &[&String]) -> Vec<bool> {
    let ids: Vec<&String> = ids.to_vec();
    let d = app
        .ok(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    d["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| !n.is_null())
        .collect()
}

fn all_ids(t: &Tree) -> Vec<&String> {
    let mut out = vec![&t.product_type];
    out.extend(&t.products);
    for e in &t.engagements {
        out.push(&e.id);
        out.extend(&e.tests);
        out.extend(&e.findings);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_product_type() {
    let app = TestApp::new().await;
    let doomed = tree(&app, "A", 2).await;
    let other = tree(&app, "B", 1).await;
    let others = all_ids(&other);
    let other_rows = |table: &str| {
        format!(
            "SELECT * FROM {table} WHERE product_id = {}",
            db_id(&other.products[0])
        )
    };
    let survivors = (
        app.dump(&other_rows("engagements")).await,
        app.dump(&other_rows("findings")).await,
    );
    check_delete(
        &app,
        "deleteProductType",
        &doomed.product_type,
        [1, 2, 4, 8, 16, 28, 12],
    )
    .await;
    assert!(exists(&app, &all_ids(&doomed)).await.iter().all(|e| !e));
    assert!(exists(&app, &others).await.iter().all(|e| *e));
    assert_eq!(counts(&app).await, vec![1, 1, 2, 4, 8, 14, 6]);
    assert_eq!(
        (
            app.dump(&other_rows("engagements")).await,
            app.dump(&other_rows("findings")).await
        ),
        survivors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_product() {
    let app = TestApp::new().await;
    let t = tree(&app, "A", 2).await;
    let sibling_rows = app
        .dump(&format!(
            "SELECT id, title, active, duplicate FROM findings WHERE product_id = {}",
            db_id(&t.products[1])
        ))
        .await;
    check_delete(
        &app,
        "deleteProduct",
        &t.products[0],
        [0, 1, 2, 4, 8, 14, 6],
    )
    .await;
    // The sibling product and the product type survive untouched.
    assert_eq!(
        exists(&app, &[&t.product_type, &t.products[1]]).await,
        vec![true, true]
    );
    for e in &t.engagements[2..] {
        let mut ids = vec![&e.id];
        ids.extend(&e.tests);
        ids.extend(&e.findings);
        assert!(exists(&app, &ids).await.iter().all(|x| *x));
    }
    for e in &t.engagements[..2] {
        assert!(exists(&app, &[&e.id]).await == vec![false]);
    }
    assert_eq!(
        app.dump(&format!(
            "SELECT id, title, active, duplicate FROM findings WHERE product_id = {}",
            db_id(&t.products[1])
        ))
        .await,
        sibling_rows
    );
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on ProductType { products { totalCount } } } }",
            json!({ "id": t.product_type }),
        )
        .await;
    assert_eq!(d["node"]["products"]["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_engagement() {
    let app = TestApp::new().await;
    let t = tree(&app, "A", 2).await;
    check_delete(
        &app,
        "deleteEngagement",
        &t.engagements[0].id,
        [0, 0, 1, 2, 4, 7, 3],
    )
    .await;
    let e0 = &t.engagements[0];
    let mut gone = e0.tests.iter().collect::<Vec<_>>();
    gone.extend(&e0.findings);
    assert!(exists(&app, &gone).await.iter().all(|x| !x));
    // Its sibling in the same product and the other product's engagements survive.
    for e in &t.engagements[1..] {
        let mut ids = vec![&e.id];
        ids.extend(&e.tests);
        ids.extend(&e.findings);
        assert!(exists(&app, &ids).await.iter().all(|x| *x));
    }
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Product { engagements { totalCount } tests { totalCount } findings { totalCount } } } }",
            json!({ "id": t.products[0] }),
        )
        .await;
    assert_eq!(
        d["node"],
        json!({ "engagements": { "totalCount": 1 }, "tests": { "totalCount": 2 }, "findings": { "totalCount": 4 } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_test() {
    let app = TestApp::new().await;
    let t = tree(&app, "A", 2).await;
    let e = &t.engagements[1];
    // The first test carries a file itself and one on its first finding.
    check_delete(&app, "deleteTest", &e.tests[0], [0, 0, 0, 1, 2, 3, 2]).await;
    assert_eq!(
        exists(&app, &[&e.findings[0], &e.findings[1]]).await,
        vec![false, false]
    );
    assert_eq!(
        exists(&app, &[&e.id, &e.tests[1], &e.findings[2], &e.findings[3]]).await,
        vec![true, true, true, true]
    );
    // The second test has no file.
    check_delete(&app, "deleteTest", &e.tests[1], [0, 0, 0, 1, 2, 3, 0]).await;
    let d = app
        .ok("query($id: ID!) { node(id: $id) { ... on Engagement { tests { totalCount } notes { entry } files { title } } } }", json!({ "id": e.id }))
        .await;
    assert_eq!(
        d["node"],
        json!({ "tests": { "totalCount": 0 }, "notes": [{ "entry": "engagement note" }], "files": [{ "title": "f" }] })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_finding() {
    let app = TestApp::new().await;
    let t = tree(&app, "A", 2).await;
    let e = &t.engagements[3];
    check_delete(&app, "deleteFinding", &e.findings[0], [0, 0, 0, 0, 1, 1, 1]).await;
    check_delete(&app, "deleteFinding", &e.findings[1], [0, 0, 0, 0, 1, 1, 0]).await;
    assert_eq!(
        exists(&app, &[&e.tests[0], &e.findings[2]]).await,
        vec![true, true]
    );
    let d = app
        .ok("query($id: ID!) { node(id: $id) { ... on Test { findings { totalCount } notes { entry } files { title } } } }", json!({ "id": e.tests[0] }))
        .await;
    assert_eq!(
        d["node"],
        json!({ "findings": { "totalCount": 0 }, "notes": [{ "entry": "test note" }], "files": [{ "title": "f" }] })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_wrong_ids() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let f = app.finding(&h.test, "F", "LOW").await;
    let before = app.snapshot().await;
    for (mutation, kind) in [
        ("deleteProductType", NodeKind::ProductType),
        ("deleteProduct", NodeKind::Product),
        ("deleteEngagement", NodeKind::Engagement),
        ("deleteTest", NodeKind::Test),
        ("deleteFinding", NodeKind::Finding),
    ] {
        let missing = encode(kind, 999_999);
        let code = app
            .err(
                &format!("mutation($id: ID!) {{ {mutation}(input: {{id: $id}}) {{ deletedId }} }}"),
                json!({ "id": missing }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND", "{mutation}");
        assert_eq!(
            app.err(PREVIEW, json!({ "id": missing })).await,
            "NOT_FOUND",
            "preview {kind:?}"
        );
    }
    // A delete mutation given another kind's id deletes nothing.
    for (mutation, id) in [
        ("deleteEngagement", &h.test),
        ("deleteTest", &f),
        ("deleteFinding", &h.engagement),
        ("deleteProduct", &h.product_type),
        ("deleteProductType", &h.product),
    ] {
        let code = app
            .err(
                &format!("mutation($id: ID!) {{ {mutation}(input: {{id: $id}}) {{ deletedId }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{mutation}");
    }
    // Only hierarchy objects have a preview.
    let user = app
        .ok(
            "mutation { createUser(input: {username: \"u\"}) { user { id } } }",
            json!({}),
        )
        .await["createUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before_user = app.snapshot().await;
    assert_eq!(
        app.err(PREVIEW, json!({ "id": user })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(PREVIEW, json!({ "id": "not an id" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(PREVIEW, json!({ "id": encode(NodeKind::TestType, 1) }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before_user);
    assert_ne!(before, before_user);
}

// ---------------------------------------------------------------------------------------------
// duplicate clusters

const STATUS: &str = "id active verified isMitigated mitigatedAt duplicate duplicateOf { id }";

async fn status(app: &TestApp, id: &str) -> Value {
    app.ok(
        &format!("query($id: ID!) {{ node(id: $id) {{ ... on Finding {{ {STATUS} }} }} }}"),
        json!({ "id": id }),
    )
    .await["node"]
        .clone()
}

async fn mark_duplicate(app: &TestApp, id: &str, of: &str) {
    let d = app
        .ok(
            "mutation($id: ID!, $of: ID) { updateFinding(input: {id: $id, duplicateOfId: $of}) { finding { duplicate active duplicateOf { id } } } }",
            json!({ "id": id, "of": of }),
        )
        .await;
    assert_eq!(
        d["updateFinding"]["finding"],
        json!({ "duplicate": true, "active": false, "duplicateOf": { "id": of } })
    );
}

async fn duplicates(app: &TestApp, id: &str) -> Vec<String> {
    let d = app
        .ok("query($id: ID!) { node(id: $id) { ... on Finding { duplicates(first: 100) { nodes { id } } } } }", json!({ "id": id }))
        .await;
    d["node"]["duplicates"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_original_promotes_the_first_outside_duplicate() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let e2 = app.engagement(&h.product, "E2").await;
    let t2 = app.test(&e2, "T2").await;
    let a = app
        .finding_with(&h.test, "A", "HIGH", json!({ "verified": true }))
        .await;
    // A duplicate inside the deleted subtree, two outside it.
    let inside = app.finding(&h.test, "A inside dup", "HIGH").await;
    let b = app.finding(&t2, "B", "HIGH").await;
    let c = app.finding(&t2, "C", "HIGH").await;
    // An unrelated cluster wholly outside the subtree stays as it is.
    let x = app.finding(&t2, "X", "LOW").await;
    let y = app.finding(&t2, "Y", "LOW").await;
    mark_duplicate(&app, &inside, &a).await;
    mark_duplicate(&app, &b, &a).await;
    mark_duplicate(&app, &c, &a).await;
    mark_duplicate(&app, &y, &x).await;
    let unrelated = (status(&app, &x).await, status(&app, &y).await);

    check_delete(
        &app,
        "deleteEngagement",
        &h.engagement,
        [0, 0, 1, 1, 2, 0, 0],
    )
    .await;

    assert_eq!(
        status(&app, &b).await,
        json!({ "id": b, "active": true, "verified": true, "isMitigated": false, "mitigatedAt": null, "duplicate": false, "duplicateOf": null })
    );
    assert_eq!(
        status(&app, &c).await,
        json!({ "id": c, "active": false, "verified": false, "isMitigated": false, "mitigatedAt": null, "duplicate": true, "duplicateOf": { "id": b } })
    );
    assert_eq!(duplicates(&app, &b).await, vec![c.clone()]);
    assert_eq!((status(&app, &x).await, status(&app, &y).await), unrelated);
    // The new cluster behaves like any other: the new original counts as active.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Product { findingCounts { high total } } } }",
            json!({ "id": h.product }),
        )
        .await;
    assert_eq!(d["node"]["findingCounts"]["high"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_original_inherits_a_mitigated_status() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let t2 = app.test(&h.engagement, "T2").await;
    let a = app.finding(&h.test, "A", "MEDIUM").await;
    let b = app.finding(&t2, "B", "MEDIUM").await;
    let c = app.finding(&t2, "C", "MEDIUM").await;
    mark_duplicate(&app, &b, &a).await;
    mark_duplicate(&app, &c, &a).await;
    let d = app
        .ok(
            "mutation($id: ID!) { updateFinding(input: {id: $id, isMitigated: true}) { finding { active isMitigated mitigatedAt } } }",
            json!({ "id": a }),
        )
        .await;
    let mitigated_at = d["updateFinding"]["finding"]["mitigatedAt"].clone();
    assert!(mitigated_at.is_string());

    // Deleting the original itself (a finding delete) re-parents too.
    check_delete(&app, "deleteFinding", &a, [0, 0, 0, 0, 1, 0, 0]).await;
    assert_eq!(
        status(&app, &b).await,
        json!({ "id": b, "active": false, "verified": false, "isMitigated": true, "mitigatedAt": mitigated_at,
                "duplicate": false, "duplicateOf": null })
    );
    assert_eq!(status(&app, &c).await["duplicateOf"], json!({ "id": b }));

    // Deleting a duplicate leaves its original and the other duplicates alone.
    let before = status(&app, &b).await;
    let d2 = app.finding(&h.test, "D", "MEDIUM").await;
    mark_duplicate(&app, &d2, &b).await;
    check_delete(&app, "deleteFinding", &c, [0, 0, 0, 0, 1, 0, 0]).await;
    assert_eq!(status(&app, &b).await, before);
    assert_eq!(duplicates(&app, &b).await, vec![d2.clone()]);

    // A cluster wholly inside the subtree goes with it.
    check_delete(
        &app,
        "deleteEngagement",
        &h.engagement,
        [0, 0, 1, 2, 2, 0, 0],
    )
    .await;
    assert_eq!(app.count("findings").await, 0);
}
