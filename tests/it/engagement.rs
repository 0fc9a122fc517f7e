//! Engagements: create/read/update with every field and their validation, the lifecycle (close,
//! reopen, ENGAGEMENT_COMPLETED), `isOverdue`, list filters and orders, and the deep copy.

use chrono::{Days, NaiveDate, Utc};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{TestApp, db_id};

/// Every scalar field of an engagement (plus its references as ids).
const FIELDS: &str = "name description version firstContacted targetStart targetEnd lead { id } reason \
    tracker testStrategy sourceCodeManagementUri engagementType status active doneTesting buildId \
    commitHash branchTag environment { id name } deduplicationOnEngagement tags isOverdue product { id }";

async fn engagement(app: &TestApp, id: &str) -> Value {
    let d = app
        .ok(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on Engagement {{ {FIELDS} }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    d["node"].clone()
}

async fn user(app: &TestApp, name: &str) -> String {
    let d = app
        .ok(
            "mutation($n: String!) { createUser(input: {username: $n}) { user { id } } }",
            json!({ "n": name }),
        )
        .await;
    d["createUser"]["user"]["id"].as_str().unwrap().to_string()
}

/// The first seeded development environment: (id, name).
async fn environment(app: &TestApp) -> (String, String) {
    let d = app
        .ok(
            "{ developmentEnvironments(first: 1) { nodes { id name } } }",
            json!({}),
        )
        .await;
    let n = &d["developmentEnvironments"]["nodes"][0];
    (
        n["id"].as_str().unwrap().to_string(),
        n["name"].as_str().unwrap().to_string(),
    )
}

async fn update(app: &TestApp, input: Value) -> Value {
    let d = app
        .ok(
            &format!(
                "mutation($i: UpdateEngagementInput!) {{ updateEngagement(input: $i) {{ engagement {{ {FIELDS} }} }} }}"
            ),
            json!({ "i": input }),
        )
        .await;
    d["updateEngagement"]["engagement"].clone()
}

async fn update_err(app: &TestApp, input: Value) -> String {
    app.err(
        "mutation($i: UpdateEngagementInput!) { updateEngagement(input: $i) { engagement { id } } }",
        json!({ "i": input }),
    )
    .await
}

async fn create_err(app: &TestApp, input: Value) -> String {
    app.err(
        "mutation($i: CreateEngagementInput!) { createEngagement(input: $i) { engagement { id } } }",
        json!({ "i": input }),
    )
    .await
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn days_ago(n: u64) -> String {
    (today() - Days::new(n)).to_string()
}

async fn exec(app: &TestApp, statement: &str) {
    let mut c = app.sql().await;
    diesel::sql_query(statement).execute(&mut c).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// create / read / update

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_the_contract_shape() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let d = app
        .ok(
            "mutation($p: ID!) { createEngagement(input: {productId: $p, name: \"Q1 pentest\", engagementType: CI_CD, \
             status: IN_PROGRESS, targetStart: \"2026-01-01\", targetEnd: \"2026-02-01\"}) { engagement { id status isOverdue } } }",
            json!({ "p": p }),
        )
        .await;
    let e = &d["createEngagement"]["engagement"];
    let id = e["id"].as_str().unwrap();
    assert!(db_id(id) > 0);
    assert_eq!(e["status"], "IN_PROGRESS");
    // CI/CD: overdue once the target end is more than 10 days past.
    let grace_end = NaiveDate::from_ymd_opt(2026, 2, 11).unwrap();
    assert_eq!(e["isOverdue"], json!(today() > grace_end));

    let read = engagement(&app, id).await;
    assert_eq!(read["name"], "Q1 pentest");
    assert_eq!(read["engagementType"], "CI_CD");
    assert_eq!(read["active"], true);
    assert_eq!(read["product"]["id"], p.as_str());
    // Defaults of the optional inputs.
    assert_eq!(read["doneTesting"], false);
    assert_eq!(read["deduplicationOnEngagement"], false);
    assert_eq!(read["tags"], json!([]));
    assert_eq!(read["lead"], Value::Null);
    assert_eq!(read["environment"], Value::Null);

    // Default type and status when left out.
    let d = app
        .ok(
            "mutation($p: ID!) { createEngagement(input: {productId: $p, name: \"plain\", targetStart: \"2026-01-01\", \
             targetEnd: \"2026-01-01\"}) { engagement { engagementType status active } } }",
            json!({ "p": p }),
        )
        .await;
    assert_eq!(
        d["createEngagement"]["engagement"],
        json!({ "engagementType": "INTERACTIVE", "status": "NOT_STARTED", "active": true })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_round_trips() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let lead = user(&app, "lead").await;
    let (env, env_name) = environment(&app).await;
    let input = json!({
        "productId": p,
        "name": "  Full engagement  ",
        "description": "the description",
        "version": "1.2.3",
        "firstContacted": "2025-12-15",
        "targetStart": "2026-01-01",
        "targetEnd": "2026-01-01",
        "leadId": lead,
        "reason": "quarterly",
        "tracker": "https://jira.example.com/browse/SEC-1",
        "testStrategy": "https://wiki.example.com/strategy",
        "sourceCodeManagementUri": "git@host:a/b.git",
        "engagementType": "INTERACTIVE",
        "status": "WAITING_FOR_RESOURCE",
        "doneTesting": true,
        "buildId": "build-42",
        "commitHash": "0123456789abcdef",
        "branchTag": "release/1.2",
        "environmentId": env,
        "deduplicationOnEngagement": true,
        "tags": ["Web", "pci", " web "]
    });
    let d = app
        .ok(
            &format!(
                "mutation($i: CreateEngagementInput!) {{ createEngagement(input: $i) {{ engagement {{ id {FIELDS} }} }} }}"
            ),
            json!({ "i": input }),
        )
        .await;
    let created = d["createEngagement"]["engagement"].clone();
    let id = created["id"].as_str().unwrap().to_string();
    let expected = json!({
        "name": "Full engagement",
        "description": "the description",
        "version": "1.2.3",
        "firstContacted": "2025-12-15",
        "targetStart": "2026-01-01",
        "targetEnd": "2026-01-01",
        "lead": { "id": lead },
        "reason": "quarterly",
        "tracker": "https://jira.example.com/browse/SEC-1",
        "testStrategy": "https://wiki.example.com/strategy",
        "sourceCodeManagementUri": "git@host:a/b.git",
        "engagementType": "INTERACTIVE",
        "status": "WAITING_FOR_RESOURCE",
        "active": true,
        "doneTesting": true,
        "buildId": "build-42",
        "commitHash": "0123456789abcdef",
        "branchTag": "release/1.2",
        "environment": { "id": env, "name": env_name },
        "deduplicationOnEngagement": true,
        "tags": ["pci", "web"],
        "isOverdue": true,
        "product": { "id": p }
    });
    let mut without_id = created.clone();
    without_id.as_object_mut().unwrap().remove("id");
    assert_eq!(without_id, expected);
    assert_eq!(engagement(&app, &id).await, expected);

    // Other accepted source code URIs.
    for uri in [
        "https://github.com/a/b",
        "ssh://git@host/a/b.git",
        "git://host/a/b.git",
    ] {
        let e = update(&app, json!({ "id": id, "sourceCodeManagementUri": uri })).await;
        assert_eq!(e["sourceCodeManagementUri"], uri);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_texts_are_bad_user_input() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let id = app.engagement(&p, "E").await;
    let before = app.snapshot().await;
    let base = json!({
        "productId": p, "name": "X", "targetStart": "2026-01-01", "targetEnd": "2026-02-01"
    });
    for (field, max) in [
        ("name", 300),
        ("description", 2000),
        ("version", 100),
        ("reason", 2000),
        ("buildId", 150),
        ("commitHash", 150),
        ("branchTag", 150),
        ("tracker", 200),
        ("testStrategy", 200),
        ("sourceCodeManagementUri", 600),
    ] {
        let long = if max >= 200 && field != "name" && !["description", "reason"].contains(&field) {
            format!("https://example.com/{}", "a".repeat(max))
        } else {
            "a".repeat(max + 1)
        };
        let mut input = base.clone();
        input[field] = json!(long);
        assert_eq!(
            create_err(&app, input).await,
            "BAD_USER_INPUT",
            "create {field}"
        );
        assert_eq!(
            update_err(&app, json!({ "id": id, field: long })).await,
            "BAD_USER_INPUT",
            "update {field}"
        );
    }
    assert_eq!(app.snapshot().await, before);
    // Exactly at the limit is fine.
    let e = update(
        &app,
        json!({ "id": id, "version": "v".repeat(100), "buildId": "b".repeat(150) }),
    )
    .await;
    assert_eq!(e["version"].as_str().unwrap().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_urls_are_bad_user_input() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let id = app.engagement(&p, "E").await;
    let before = app.snapshot().await;
    let base = json!({
        "productId": p, "name": "X", "targetStart": "2026-01-01", "targetEnd": "2026-02-01"
    });
    for (field, value) in [
        ("tracker", "javascript:alert(1)"),
        ("tracker", "JavaScript:alert(1)"),
        ("testStrategy", "data:text/html,<script>alert(1)</script>"),
        ("sourceCodeManagementUri", "javascript:alert(1)"),
        ("tracker", "git@host:a/b.git"),
        ("tracker", "https://example.com/a b"),
    ] {
        let mut input = base.clone();
        input[field] = json!(value);
        assert_eq!(
            create_err(&app, input).await,
            "BAD_USER_INPUT",
            "create {field} = {value}"
        );
        assert_eq!(
            update_err(&app, json!({ "id": id, field: value })).await,
            "BAD_USER_INPUT",
            "update {field} = {value}"
        );
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_end_before_target_start_is_refused() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    // Stored: 2026-01-01 .. 2026-02-01.
    let id = app.engagement(&p, "E").await;
    let before = app.snapshot().await;

    let code = create_err(
        &app,
        json!({ "productId": p, "name": "X", "targetStart": "2026-03-02", "targetEnd": "2026-03-01" }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    // Only one date changed: the stored other one conflicts.
    assert_eq!(
        update_err(&app, json!({ "id": id, "targetEnd": "2025-12-31" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        update_err(&app, json!({ "id": id, "targetStart": "2026-02-02" })).await,
        "BAD_USER_INPUT"
    );
    // Both changed, out of order.
    assert_eq!(
        update_err(
            &app,
            json!({ "id": id, "targetStart": "2026-05-02", "targetEnd": "2026-05-01" })
        )
        .await,
        "BAD_USER_INPUT"
    );
    // A rejected update writes nothing, not even its other fields.
    assert_eq!(
        update_err(
            &app,
            json!({ "id": id, "name": "renamed", "targetEnd": "2025-12-31" })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before);

    // Moving one date within the stored range works; equal dates are fine.
    let e = update(&app, json!({ "id": id, "targetStart": "2026-02-01" })).await;
    assert_eq!(
        (e["targetStart"].clone(), e["targetEnd"].clone()),
        (json!("2026-02-01"), json!("2026-02-01"))
    );
    let e = update(
        &app,
        json!({ "id": id, "targetStart": "2026-03-01", "targetEnd": "2026-03-05" }),
    )
    .await;
    assert_eq!(
        (e["targetStart"].clone(), e["targetEnd"].clone()),
        (json!("2026-03-01"), json!("2026-03-05"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_within_a_product_case_insensitively() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p1 = app.product(&pt, "P1").await;
    let p2 = app.product(&pt, "P2").await;
    app.engagement(&p1, "Q1 pentest").await;
    let other = app.engagement(&p1, "Q2 pentest").await;
    let before = app.snapshot().await;

    let code = create_err(
        &app,
        json!({ "productId": p1, "name": "q1 PENTEST", "targetStart": "2026-01-01", "targetEnd": "2026-02-01" }),
    )
    .await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(
        update_err(&app, json!({ "id": other, "name": "Q1 Pentest" })).await,
        "CONFLICT"
    );
    assert_eq!(app.snapshot().await, before);

    // The same name in another product is fine.
    let in_p2 = app.engagement(&p2, "Q1 pentest").await;
    assert_eq!(engagement(&app, &in_p2).await["name"], "Q1 pentest");
    // Renaming to a different case of its own name is fine too.
    let e = update(&app, json!({ "id": other, "name": "q2 PENTEST" })).await;
    assert_eq!(e["name"], "q2 PENTEST");
    // Empty names are refused.
    assert_eq!(
        update_err(&app, json!({ "id": other, "name": "  " })).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_null_clears_and_omitted_fields_are_kept() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let lead = user(&app, "lead").await;
    let (env, env_name) = environment(&app).await;
    let id = app
        .engagement_with(
            &p,
            "E",
            json!({
                "description": "desc", "version": "1", "firstContacted": "2025-12-01", "leadId": lead,
                "reason": "why", "tracker": "https://t.example.com/1", "testStrategy": "https://s.example.com",
                "sourceCodeManagementUri": "https://github.com/a/b", "buildId": "b1", "commitHash": "c1",
                "branchTag": "main", "environmentId": env, "tags": ["one"], "doneTesting": true,
                "deduplicationOnEngagement": true, "engagementType": "CI_CD", "status": "ON_HOLD"
            }),
        )
        .await;
    let full = engagement(&app, &id).await;

    // Omitted fields (all but one) are kept.
    let e = update(&app, json!({ "id": id, "description": "new desc" })).await;
    let mut expected = full.clone();
    expected["description"] = json!("new desc");
    assert_eq!(e, expected);

    // Null clears every nullable field; the rest stays.
    let e = update(
        &app,
        json!({
            "id": id, "description": null, "version": null, "firstContacted": null, "leadId": null,
            "reason": null, "tracker": null, "testStrategy": null, "sourceCodeManagementUri": null,
            "buildId": null, "commitHash": null, "branchTag": null, "environmentId": null
        }),
    )
    .await;
    let mut expected = full.clone();
    for f in [
        "description",
        "version",
        "firstContacted",
        "lead",
        "reason",
        "tracker",
        "testStrategy",
        "sourceCodeManagementUri",
        "buildId",
        "commitHash",
        "branchTag",
        "environment",
    ] {
        expected[f] = Value::Null;
    }
    assert_eq!(e, expected);
    assert_eq!(engagement(&app, &id).await, expected);

    // The non-nullable ones change when given.
    let e = update(
        &app,
        json!({
            "id": id, "name": "E2", "engagementType": "INTERACTIVE", "status": "SCHEDULED", "doneTesting": false,
            "deduplicationOnEngagement": false, "tags": ["B", "a"], "environmentId": env, "leadId": lead
        }),
    )
    .await;
    assert_eq!(e["name"], "E2");
    assert_eq!(e["engagementType"], "INTERACTIVE");
    assert_eq!(e["status"], "SCHEDULED");
    assert_eq!(e["doneTesting"], false);
    assert_eq!(e["deduplicationOnEngagement"], false);
    assert_eq!(e["tags"], json!(["a", "b"]));
    assert_eq!(e["environment"], json!({ "id": env, "name": env_name }));
    assert_eq!(e["lead"], json!({ "id": lead }));
    // `active` is not touched by a status change.
    assert_eq!(e["active"], true);

    // Unknown ids.
    let missing = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Engagement, 999_999);
    assert_eq!(
        update_err(&app, json!({ "id": missing, "name": "x" })).await,
        "NOT_FOUND"
    );
    let no_user = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::User, 999_999);
    assert_eq!(
        update_err(&app, json!({ "id": id, "leadId": no_user })).await,
        "NOT_FOUND"
    );
    // A global id of the wrong kind.
    assert_eq!(
        update_err(&app, json!({ "id": p, "name": "x" })).await,
        "BAD_USER_INPUT"
    );
}

// ---------------------------------------------------------------------------------------------
// lifecycle

const FINDING_STATUS: &str =
    "active verified falsePositive outOfScope riskAccepted underReview isMitigated duplicate";

async fn finding_status(app: &TestApp, id: &str) -> Value {
    app.ok(
        &format!("query($id: ID!) {{ node(id: $id) {{ ... on Finding {{ {FINDING_STATUS} }} }} }}"),
        json!({ "id": id }),
    )
    .await["node"]
        .clone()
}

async fn lifecycle(app: &TestApp, mutation: &str, id: &str) -> Value {
    app.ok(
        &format!("mutation($id: ID!) {{ {mutation}(input: {{id: $id}}) {{ engagement {{ id status active }} }} }}"),
        json!({ "id": id }),
    )
    .await[mutation]["engagement"]
        .clone()
}

const CREATE_TEST: &str = "mutation($e: ID!, $type: String!) { createTest(input: {engagementId: $e, title: \"t\", \
    testType: $type, targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}) { test { id } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_blocks_new_tests_and_findings_until_reopened() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let open = app
        .finding_with(&h.test, "open", "HIGH", json!({ "verified": true }))
        .await;
    let fp = app
        .finding_with(&h.test, "fp", "LOW", json!({ "falsePositive": true }))
        .await;
    let mitigated = app
        .finding_with(
            &h.test,
            "mitigated",
            "MEDIUM",
            json!({ "isMitigated": true }),
        )
        .await;
    let statuses = [
        finding_status(&app, &open).await,
        finding_status(&app, &fp).await,
        finding_status(&app, &mitigated).await,
    ];
    assert_eq!(statuses[0]["active"], true);

    let e = lifecycle(&app, "closeEngagement", &h.engagement).await;
    assert_eq!(
        e,
        json!({ "id": h.engagement, "status": "COMPLETED", "active": false })
    );
    assert_eq!(engagement(&app, &h.engagement).await["isOverdue"], false);
    // Findings keep their own status.
    assert_eq!(finding_status(&app, &open).await, statuses[0]);
    assert_eq!(finding_status(&app, &fp).await, statuses[1]);
    assert_eq!(finding_status(&app, &mitigated).await, statuses[2]);

    // No new tests (not even through a brand-new test type) and no new findings; nothing written.
    let before = app.snapshot().await;
    for test_type in ["Manual Code Review", "Brand New Tool"] {
        let code = app
            .err(CREATE_TEST, json!({ "e": h.engagement, "type": test_type }))
            .await;
        assert_eq!(code, "ENGAGEMENT_COMPLETED");
    }
    let code = app
        .err(
            "mutation($t: ID!) { createFinding(input: {testId: $t, title: \"new\", severity: HIGH, description: \"d\"}) { finding { id } } }",
            json!({ "t": h.test }),
        )
        .await;
    assert_eq!(code, "ENGAGEMENT_COMPLETED");
    assert_eq!(app.snapshot().await, before);

    // Closing twice is harmless.
    let e = lifecycle(&app, "closeEngagement", &h.engagement).await;
    assert_eq!(e["status"], "COMPLETED");

    // Notes, tags and status changes stay allowed.
    let d = app
        .ok(
            "mutation($e: ID!) { addNote(input: {parentId: $e, entry: \"x\"}) { note { entry parentId } } }",
            json!({ "e": h.engagement }),
        )
        .await;
    assert_eq!(
        d["addNote"]["note"],
        json!({ "entry": "x", "parentId": h.engagement })
    );
    app.ok(
        "mutation($t: ID!) { addNote(input: {parentId: $t, entry: \"on test\"}) { note { id } } }",
        json!({ "t": h.test }),
    )
    .await;
    app.ok(
        "mutation($f: ID!) { addNote(input: {parentId: $f, entry: \"on finding\"}) { note { id } } }",
        json!({ "f": open }),
    )
    .await;
    let e = update(
        &app,
        json!({ "id": h.engagement, "tags": ["closed"], "description": "done" }),
    )
    .await;
    assert_eq!(e["tags"], json!(["closed"]));
    assert_eq!(e["status"], "COMPLETED");
    let e = update(&app, json!({ "id": h.engagement, "status": "ON_HOLD" })).await;
    assert_eq!(e["status"], "ON_HOLD");
    assert_eq!(e["active"], false, "only close/reopen change active");
    let e = update(&app, json!({ "id": h.engagement, "status": "COMPLETED" })).await;
    assert_eq!(e["status"], "COMPLETED");
    let code = app
        .err(
            CREATE_TEST,
            json!({ "e": h.engagement, "type": "Manual Code Review" }),
        )
        .await;
    assert_eq!(code, "ENGAGEMENT_COMPLETED");

    // Reopen: tests and findings can be added again; findings still keep their status.
    let e = lifecycle(&app, "reopenEngagement", &h.engagement).await;
    assert_eq!(
        e,
        json!({ "id": h.engagement, "status": "IN_PROGRESS", "active": true })
    );
    assert_eq!(finding_status(&app, &open).await, statuses[0]);
    assert_eq!(finding_status(&app, &fp).await, statuses[1]);
    assert_eq!(finding_status(&app, &mitigated).await, statuses[2]);
    let d = app
        .ok(
            CREATE_TEST,
            json!({ "e": h.engagement, "type": "Manual Code Review" }),
        )
        .await;
    let new_test = d["createTest"]["test"]["id"].as_str().unwrap().to_string();
    app.finding(&new_test, "after reopen", "LOW").await;
    app.finding(&h.test, "after reopen too", "LOW").await;
    let d = app
        .ok("query($e: ID!) { node(id: $e) { ... on Engagement { tests { totalCount } findings { totalCount } notes { entry } } } }", json!({ "e": h.engagement }))
        .await;
    assert_eq!(d["node"]["tests"]["totalCount"], 2);
    assert_eq!(d["node"]["findings"]["totalCount"], 5);
    assert_eq!(d["node"]["notes"], json!([{ "entry": "x" }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engagement_created_completed_is_closed_and_lifecycle_errors() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let id = app
        .engagement_with(&p, "done", json!({ "status": "COMPLETED" }))
        .await;
    let e = engagement(&app, &id).await;
    assert_eq!(
        (e["status"].clone(), e["active"].clone()),
        (json!("COMPLETED"), json!(false))
    );
    let code = app
        .err(
            CREATE_TEST,
            json!({ "e": id, "type": "Manual Code Review" }),
        )
        .await;
    assert_eq!(code, "ENGAGEMENT_COMPLETED");

    let missing = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Engagement, 999_999);
    for m in ["closeEngagement", "reopenEngagement"] {
        let code = app
            .err(
                &format!(
                    "mutation($id: ID!) {{ {m}(input: {{id: $id}}) {{ engagement {{ id }} }} }}"
                ),
                json!({ "id": missing }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND", "{m}");
    }
    let code = app
        .err(
            CREATE_TEST,
            json!({ "e": missing, "type": "Manual Code Review" }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let code = create_err(
        &app,
        json!({ "productId": dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Product, 999_999),
                "name": "x", "targetStart": "2026-01-01", "targetEnd": "2026-01-02" }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
}

// ---------------------------------------------------------------------------------------------
// isOverdue, filters, orders

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_overdue_and_the_overdue_filter() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let cases: [(&str, &str, &str, u64, bool); 10] = [
        (
            "interactive yesterday",
            "INTERACTIVE",
            "IN_PROGRESS",
            1,
            true,
        ),
        ("interactive today", "INTERACTIVE", "IN_PROGRESS", 0, false),
        ("interactive blocked", "INTERACTIVE", "BLOCKED", 3, true),
        ("cicd 5 days", "CI_CD", "IN_PROGRESS", 5, false),
        ("cicd 10 days", "CI_CD", "IN_PROGRESS", 10, false),
        ("cicd 11 days", "CI_CD", "NOT_STARTED", 11, true),
        ("completed", "INTERACTIVE", "COMPLETED", 30, false),
        ("cancelled", "INTERACTIVE", "CANCELLED", 30, false),
        ("cicd cancelled", "CI_CD", "CANCELLED", 30, false),
        ("closed", "CI_CD", "IN_PROGRESS", 40, false),
    ];
    let mut ids = Vec::new();
    for (name, kind, status, ago, _) in cases {
        let end = today() - Days::new(ago);
        let start = end - Days::new(30);
        let id = app
            .engagement_with(
                &p,
                name,
                json!({ "engagementType": kind, "status": status, "targetStart": start.to_string(), "targetEnd": end.to_string() }),
            )
            .await;
        ids.push(id);
    }
    // Interactive, ending in the future.
    let future = app
        .engagement_with(&p, "future", json!({ "targetStart": days_ago(1), "targetEnd": (today() + Days::new(5)).to_string() }))
        .await;
    lifecycle(&app, "closeEngagement", &ids[9]).await;

    let mut overdue = Vec::new();
    let mut not_overdue = vec![future.clone()];
    for ((name, .., expected), id) in cases.iter().zip(&ids) {
        assert_eq!(
            engagement(&app, id).await["isOverdue"],
            json!(expected),
            "{name}"
        );
        if *expected {
            overdue.push(id.clone());
        } else {
            not_overdue.push(id.clone());
        }
    }
    assert_eq!(engagement(&app, &future).await["isOverdue"], false);
    not_overdue.sort_by_key(|id| db_id(id));

    let list = |flag: bool| {
        let app = &app;
        async move {
            let d = app
                .ok(
                    "query($o: Boolean) { engagements(first: 100, filter: {overdue: $o}) { totalCount nodes { id isOverdue } } }",
                    json!({ "o": flag }),
                )
                .await;
            let c = &d["engagements"];
            let ids: Vec<String> = c["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_string())
                .collect();
            assert!(
                c["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|n| n["isOverdue"] == flag)
            );
            assert_eq!(c["totalCount"], json!(ids.len()));
            ids
        }
    };
    assert_eq!(list(true).await, overdue);
    assert_eq!(list(false).await, not_overdue);

    // An edit of the dates moves an engagement between the two lists.
    update(&app, json!({ "id": future, "targetEnd": days_ago(1) })).await;
    assert!(list(true).await.contains(&future));
    update(&app, json!({ "id": ids[0], "status": "CANCELLED" })).await;
    assert!(!list(true).await.contains(&ids[0]));
}

/// The ids an `engagements` query returns, in order (checking `totalCount` on the way).
async fn listed(app: &TestApp, filter: Value, order: Value) -> Vec<String> {
    let d = app
        .ok(
            "query($f: EngagementFilter, $o: EngagementOrder) { engagements(first: 100, filter: $f, orderBy: $o) { totalCount nodes { id } } }",
            json!({ "f": filter, "o": order }),
        )
        .await;
    let c = &d["engagements"];
    let ids: Vec<String> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(c["totalCount"], json!(ids.len()), "totalCount for {filter}");
    ids
}

/// Four engagements over two products of two product types, with different types, statuses,
/// dates, leads, names and tags; the last one closed.
struct Listed {
    app: TestApp,
    pt1: String,
    pt2: String,
    p1: String,
    p2: String,
    lead: String,
    other_lead: String,
    e1: String,
    e2: String,
    e3: String,
    e4: String,
}

async fn four_engagements() -> Listed {
    let app = TestApp::new().await;
    let pt1 = app.product_type("PT1").await;
    let pt2 = app.product_type("PT2").await;
    let p1 = app.product(&pt1, "P1").await;
    let p2 = app.product(&pt2, "P2").await;
    let lead = user(&app, "lead").await;
    let other_lead = user(&app, "other").await;
    let e1 = app
        .engagement_with(
            &p1,
            "Alpha pentest",
            json!({ "engagementType": "INTERACTIVE", "status": "IN_PROGRESS", "targetStart": "2026-01-01",
                    "targetEnd": "2026-01-31", "leadId": lead, "tags": ["web", "pci"] }),
        )
        .await;
    let e2 = app
        .engagement_with(
            &p1,
            "Beta pipeline",
            json!({ "engagementType": "CI_CD", "status": "SCHEDULED", "targetStart": "2026-02-01",
                    "targetEnd": "2026-02-28", "leadId": other_lead, "tags": ["web"] }),
        )
        .await;
    let e3 = app
        .engagement_with(
            &p2,
            "Gamma review",
            json!({ "engagementType": "INTERACTIVE", "status": "BLOCKED", "targetStart": "2026-03-01",
                    "targetEnd": "2026-03-31", "leadId": lead, "tags": ["pci"] }),
        )
        .await;
    let e4 = app
        .engagement_with(
            &p2,
            "alpha retest",
            json!({ "engagementType": "CI_CD", "status": "ON_HOLD", "targetStart": "2026-01-15", "targetEnd": "2026-04-15" }),
        )
        .await;
    lifecycle(&app, "closeEngagement", &e4).await;
    Listed {
        app,
        pt1,
        pt2,
        p1,
        p2,
        lead,
        other_lead,
        e1,
        e2,
        e3,
        e4,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters() {
    let Listed {
        app,
        pt1,
        pt2,
        p1,
        p2,
        lead,
        other_lead,
        e1,
        e2,
        e3,
        e4,
    } = four_engagements().await;
    let v = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert_eq!(
        listed(&app, json!(null), json!(null)).await,
        v(&[&e1, &e2, &e3, &e4])
    );
    let cases = [
        (
            json!({ "status": ["IN_PROGRESS", "BLOCKED"] }),
            v(&[&e1, &e3]),
        ),
        (json!({ "status": ["COMPLETED"] }), v(&[&e4])),
        (json!({ "status": [] }), v(&[&e1, &e2, &e3, &e4])),
        (json!({ "engagementType": "CI_CD" }), v(&[&e2, &e4])),
        (json!({ "engagementType": "INTERACTIVE" }), v(&[&e1, &e3])),
        (json!({ "productId": p1 }), v(&[&e1, &e2])),
        (json!({ "productId": p2 }), v(&[&e3, &e4])),
        (json!({ "productTypeId": pt1 }), v(&[&e1, &e2])),
        (json!({ "productTypeId": pt2 }), v(&[&e3, &e4])),
        (json!({ "leadId": lead }), v(&[&e1, &e3])),
        (json!({ "leadId": other_lead }), v(&[&e2])),
        (json!({ "active": false }), v(&[&e4])),
        (json!({ "active": true }), v(&[&e1, &e2, &e3])),
        // Inclusive bounds.
        (
            json!({ "targetStartBefore": "2026-02-01" }),
            v(&[&e1, &e2, &e4]),
        ),
        (json!({ "targetStartBefore": "2026-01-14" }), v(&[&e1])),
        (json!({ "targetEndAfter": "2026-03-31" }), v(&[&e3, &e4])),
        (json!({ "targetEndAfter": "2026-04-16" }), v(&[])),
        (json!({ "nameContains": "ALPHA" }), v(&[&e1, &e4])),
        (json!({ "nameContains": "a p" }), v(&[&e1, &e2])),
        (json!({ "nameContains": "%" }), v(&[])),
        (json!({ "nameContains": "_" }), v(&[])),
        (json!({ "tags": ["web"] }), v(&[&e1, &e2])),
        (json!({ "tags": ["WEB", "pci"] }), v(&[&e1])),
        (json!({ "tags": ["missing"] }), v(&[])),
        (
            json!({ "productId": p1, "engagementType": "CI_CD" }),
            v(&[&e2]),
        ),
        (
            json!({ "productTypeId": pt2, "active": true, "leadId": lead }),
            v(&[&e3]),
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            listed(&app, filter.clone(), json!(null)).await,
            expected,
            "filter {filter}"
        );
    }
    // The same filter through a product's connection.
    let d = app
        .ok(
            "query($p: ID!) { node(id: $p) { ... on Product { engagements(filter: {status: [COMPLETED, BLOCKED]}) { totalCount nodes { id } } } } }",
            json!({ "p": p2 }),
        )
        .await;
    assert_eq!(d["node"]["engagements"]["totalCount"], 2);
    // Ids of the wrong kind are refused.
    let code = app
        .err(
            "query($p: ID!) { engagements(filter: {productId: $p}) { totalCount } }",
            json!({ "p": pt1 }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_orders() {
    let Listed {
        app,
        e1,
        e2,
        e3,
        e4,
        ..
    } = four_engagements().await;
    let v = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let orders = [
        ("TARGET_START", v(&[&e1, &e4, &e2, &e3])),
        ("TARGET_END", v(&[&e1, &e2, &e3, &e4])),
        ("NAME", v(&[&e1, &e4, &e2, &e3])),
        ("STATUS", v(&[&e3, &e4, &e1, &e2])),
        ("ID", v(&[&e1, &e2, &e3, &e4])),
    ];
    crate::helpers::assert_orders(orders.to_vec(), async |o| {
        listed(&app, json!(null), o).await
    })
    .await;
    // Filter and order together.
    assert_eq!(
        listed(
            &app,
            json!({ "nameContains": "alpha" }),
            json!({ "field": "TARGET_END", "direction": "DESC" })
        )
        .await,
        v(&[&e4, &e1])
    );
}

// ---------------------------------------------------------------------------------------------
// copy

const COPY: &str = "mutation($id: ID!, $n: String) { copyEngagement(input: {id: $id, name: $n}) { engagement { id name } } }";

/// The engagement, its tests, findings, notes and files, without ids and timestamps, with
/// duplicate links shown as the original's title (and whether it lies inside the engagement).
async fn deep(app: &TestApp, id: &str) -> Value {
    let d = app
        .ok(
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ ... on Engagement {{ {FIELDS} notes {{ entry private }} files {{ title filename contentType size sha256 }} \
                 tests(first: 100) {{ nodes {{ id title description testType {{ name }} targetStart targetEnd percentComplete lead {{ id }} \
                 environment {{ id }} version buildId commitHash branchTag tags notes {{ entry }} files {{ title sha256 }} \
                 findings(first: 100) {{ nodes {{ title description severity date cwe vulnerabilityIds componentName hashCode tags \
                 {FINDING_STATUS} duplicateOf {{ id title engagement {{ id }} }} slaExpirationDate notes(first: 10) {{ entry }} files(first: 10) {{ title sha256 size }} \
                 engagement {{ id }} product {{ id }} test {{ id }} }} }} }} }} }} }} }}"
            ),
            json!({ "id": id }),
        )
        .await;
    let mut e = d["node"].clone();
    // Replace engagement-specific ids by markers so that a source and its copy compare equal.
    for t in e["tests"]["nodes"].as_array_mut().unwrap() {
        let test_id = t["id"].take();
        for f in t["findings"]["nodes"].as_array_mut().unwrap() {
            assert_eq!(f["test"]["id"], test_id);
            assert_eq!(f["engagement"]["id"], id);
            f["test"] = json!("own test");
            f["engagement"] = json!("own engagement");
            if f["duplicateOf"].is_object() {
                let inside = f["duplicateOf"]["engagement"]["id"] == id;
                f["duplicateOf"] = if inside {
                    json!({ "inside": f["duplicateOf"]["title"] })
                } else {
                    json!({ "outside": f["duplicateOf"]["id"] })
                };
            }
        }
    }
    e.as_object_mut().unwrap().remove("name");
    e
}

async fn add_note(app: &TestApp, parent: &str, entry: &str) {
    app.ok(
        "mutation($p: ID!, $e: String!) { addNote(input: {parentId: $p, entry: $e}) { note { id } } }",
        json!({ "p": parent, "e": entry }),
    )
    .await;
}

async fn mark_duplicate(app: &TestApp, id: &str, of: &str) {
    let d = app
        .ok(
            "mutation($id: ID!, $of: ID) { updateFinding(input: {id: $id, duplicateOfId: $of}) { finding { duplicate duplicateOf { id } } } }",
            json!({ "id": id, "of": of }),
        )
        .await;
    assert_eq!(
        d["updateFinding"]["finding"],
        json!({ "duplicate": true, "duplicateOf": { "id": of } })
    );
}

async fn insert_file(app: &TestApp, column: &str, parent: &str, title: &str) {
    exec(
        app,
        &format!(
            "INSERT INTO files ({column}, title, filename, content_type, size, sha256, content) VALUES \
             ({}, '{title}', '{title}.txt', 'text/plain', 5, encode(sha256('hello'), 'hex'), 'hello')",
            db_id(parent)
        ),
    )
    .await;
}

const TABLES: [&str; 5] = ["engagements", "tests", "findings", "notes", "files"];

async fn table_counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push(app.count(t).await);
    }
    out
}

/// An engagement with everything a copy takes along (tests, findings with their status,
/// duplicates inside and outside it, notes, files), copied once.
struct Copied {
    app: TestApp,
    p: String,
    source: String,
    copy: String,
    /// The `copyEngagement` payload.
    d: Value,
    f1: String,
    f2: String,
    f4: String,
    outside_original: String,
    /// The source as [`deep`] reads it, before the copy.
    source_deep: Value,
    /// The source's finding rows, before the copy.
    source_rows: String,
    /// [`table_counts`] before the copy.
    counts: Vec<i64>,
}

async fn copied() -> Copied {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let lead = user(&app, "lead").await;
    let (env, _) = environment(&app).await;
    let source = app
        .engagement_with(
            &p,
            "Source",
            json!({ "description": "d", "version": "2", "leadId": lead, "environmentId": env, "engagementType": "CI_CD",
                    "status": "IN_PROGRESS", "tracker": "https://t.example.com/1", "sourceCodeManagementUri": "git@host:a/b.git",
                    "buildId": "b", "commitHash": "c", "branchTag": "main", "doneTesting": true,
                    "deduplicationOnEngagement": true, "tags": ["copied", "tag2"], "reason": "r", "firstContacted": "2025-11-01" }),
        )
        .await;
    let elsewhere = app.engagement(&p, "Elsewhere").await;
    let elsewhere_test = app.test(&elsewhere, "outside test").await;
    let outside_original = app
        .finding(&elsewhere_test, "outside original", "HIGH")
        .await;

    let t1 = app.test(&source, "T1").await;
    app.ok(
        "mutation($t: ID!, $l: ID!) { updateTest(input: {id: $t, percentComplete: 40, leadId: $l, version: \"v\", tags: [\"tt\"]}) { test { id } } }",
        json!({ "t": t1, "l": lead }),
    )
    .await;
    let t2 = app.test(&source, "T2").await;
    let f1 = app
        .finding_with(&t1, "F1 original", "HIGH", json!({ "verified": true, "cwe": 79, "vulnerabilityIds": ["CVE-2026-1"], "tags": ["ft"] }))
        .await;
    let f2 = app.finding(&t1, "F2 dup", "HIGH").await;
    let f3 = app
        .finding_with(
            &t2,
            "F3 with note",
            "MEDIUM",
            json!({ "componentName": "lib" }),
        )
        .await;
    let f4 = app.finding(&t2, "F4 dup across tests", "LOW").await;
    let f5 = app.finding(&t2, "F5 dup outside", "INFO").await;
    let f6 = app
        .finding_with(
            &t2,
            "F6 mitigated",
            "CRITICAL",
            json!({ "isMitigated": true }),
        )
        .await;
    mark_duplicate(&app, &f2, &f1).await;
    mark_duplicate(&app, &f4, &f1).await;
    mark_duplicate(&app, &f5, &outside_original).await;
    add_note(&app, &source, "engagement note").await;
    add_note(&app, &t1, "test note").await;
    add_note(&app, &f3, "finding note").await;
    add_note(&app, &f3, "second finding note").await;
    add_note(&app, &outside_original, "not copied").await;
    insert_file(&app, "engagement_id", &source, "efile").await;
    insert_file(&app, "test_id", &t2, "tfile").await;
    insert_file(&app, "finding_id", &f6, "ffile").await;
    insert_file(&app, "finding_id", &outside_original, "not copied").await;

    let source_deep = deep(&app, &source).await;
    let source_rows = app
        .dump(&format!(
            "SELECT * FROM findings WHERE engagement_id = {}",
            db_id(&source)
        ))
        .await;
    let counts = table_counts(&app).await;

    let d = app.ok(COPY, json!({ "id": source, "n": "copy" })).await;
    let copy = d["copyEngagement"]["engagement"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    Copied {
        app,
        p,
        source,
        copy,
        d,
        f1,
        f2,
        f4,
        outside_original,
        source_deep,
        source_rows,
        counts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_is_deep() {
    let Copied {
        app,
        p,
        source,
        copy,
        d,
        source_deep,
        counts,
        ..
    } = copied().await;
    assert_ne!(copy, source);
    assert_eq!(d["copyEngagement"]["engagement"]["name"], "copy");
    let copy_read = engagement(&app, &copy).await;
    assert_eq!(copy_read["name"], "copy");
    assert_eq!(copy_read["product"]["id"], p.as_str());

    // Same scalar fields, tests, findings (with their status), notes and files.
    let copy_deep = deep(&app, &copy).await;
    assert_eq!(copy_deep, source_deep);
    assert_eq!(copy_deep["tests"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(
        copy_deep["tests"]["nodes"][1]["findings"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let after = table_counts(&app).await;
    let added: Vec<i64> = after.iter().zip(&counts).map(|(a, b)| a - b).collect();
    // 1 engagement, 2 tests, 6 findings, 4 notes (engagement, test, 2 on a finding), 3 files.
    assert_eq!(added, vec![1, 2, 6, 4, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_relinks_duplicates_to_the_copied_original() {
    let Copied {
        app,
        copy,
        f1,
        f2,
        f4,
        outside_original,
        ..
    } = copied().await;
    // Copied duplicates point at the copied original, not the source one.
    let d = app
        .ok(
            "query($e: ID!) { findings(first: 100, filter: {engagementId: $e}) { nodes { id title duplicate duplicateOf { id } } } }",
            json!({ "e": copy }),
        )
        .await;
    let nodes = d["findings"]["nodes"].as_array().unwrap();
    let by_title = |t: &str| nodes.iter().find(|n| n["title"] == t).unwrap().clone();
    let copy_f1 = by_title("F1 original")["id"].as_str().unwrap().to_string();
    assert_ne!(copy_f1, f1);
    assert_eq!(by_title("F2 dup")["duplicateOf"]["id"], copy_f1.as_str());
    assert_eq!(
        by_title("F4 dup across tests")["duplicateOf"]["id"],
        copy_f1.as_str()
    );
    assert_eq!(
        by_title("F5 dup outside")["duplicateOf"]["id"],
        outside_original.as_str()
    );
    assert_eq!(by_title("F2 dup")["duplicate"], true);
    // The source original still has exactly its own duplicates; the copy has the copies.
    let dups = |id: String| {
        let app = &app;
        async move {
            let d = app
                .ok("query($id: ID!) { node(id: $id) { ... on Finding { duplicates(first: 100) { nodes { id } } } } }", json!({ "id": id }))
                .await;
            let mut v: Vec<String> = d["node"]["duplicates"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        }
    };
    let mut source_dups = vec![f2.clone(), f4.clone()];
    source_dups.sort();
    assert_eq!(dups(f1.clone()).await, source_dups);
    let mut copy_dups = vec![
        by_title("F2 dup")["id"].as_str().unwrap().to_string(),
        by_title("F4 dup across tests")["id"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    copy_dups.sort();
    assert_eq!(dups(copy_f1.clone()).await, copy_dups);
    assert_eq!(dups(outside_original.clone()).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_leaves_the_source_unchanged() {
    let Copied {
        app,
        source,
        source_deep,
        source_rows,
        ..
    } = copied().await;
    // The source is unchanged.
    assert_eq!(deep(&app, &source).await, source_deep);
    assert_eq!(
        app.dump(&format!(
            "SELECT * FROM findings WHERE engagement_id = {}",
            db_id(&source)
        ))
        .await,
        source_rows
    );
    assert_eq!(engagement(&app, &source).await["name"], "Source");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_copy_leaves_the_source_whole() {
    let Copied {
        app,
        source,
        copy,
        source_deep,
        counts,
        ..
    } = copied().await;
    // The copy is independent: deleting it leaves the source whole.
    app.ok(
        "mutation($id: ID!) { deleteEngagement(input: {id: $id}) { deletedId } }",
        json!({ "id": copy }),
    )
    .await;
    assert_eq!(table_counts(&app).await, counts);
    assert_eq!(deep(&app, &source).await, source_deep);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_names_and_conflicts() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let source = app.engagement(&p, "E").await;
    let t = app.test(&source, "T").await;
    app.finding(&t, "F", "LOW").await;

    let d = app.ok(COPY, json!({ "id": source, "n": null })).await;
    assert_eq!(d["copyEngagement"]["engagement"]["name"], "E (copy 1)");
    let d = app.ok(COPY, json!({ "id": source })).await;
    assert_eq!(d["copyEngagement"]["engagement"]["name"], "E (copy 2)");
    // A free slot is reused, whatever the case of the taken names.
    app.engagement(&p, "e (COPY 3)").await;
    let d = app.ok(COPY, json!({ "id": source })).await;
    assert_eq!(d["copyEngagement"]["engagement"]["name"], "E (copy 4)");
    // Names are trimmed like on create.
    let d = app
        .ok(COPY, json!({ "id": source, "n": "  trimmed  " }))
        .await;
    assert_eq!(d["copyEngagement"]["engagement"]["name"], "trimmed");

    // An existing name (any case) is a conflict, and nothing is written.
    let before = app.snapshot().await;
    for name in ["E", "e (copy 1)", "TRIMMED"] {
        assert_eq!(
            app.err(COPY, json!({ "id": source, "n": name })).await,
            "CONFLICT",
            "{name}"
        );
    }
    assert_eq!(
        app.err(COPY, json!({ "id": source, "n": "" })).await,
        "BAD_USER_INPUT"
    );
    let missing = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Engagement, 999_999);
    assert_eq!(
        app.err(COPY, json!({ "id": missing, "n": "x" })).await,
        "NOT_FOUND"
    );
    assert_eq!(app.snapshot().await, before);

    // A copy of a closed engagement is closed as well.
    lifecycle(&app, "closeEngagement", &source).await;
    let d = app
        .ok(COPY, json!({ "id": source, "n": "closed copy" }))
        .await;
    let c = engagement(
        &app,
        d["copyEngagement"]["engagement"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (c["status"].clone(), c["active"].clone()),
        (json!("COMPLETED"), json!(false))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_of_a_long_name_still_fits() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let long = "n".repeat(300);
    let source = app.engagement(&p, &long).await;
    let d = app.ok(COPY, json!({ "id": source })).await;
    let name = d["copyEngagement"]["engagement"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.ends_with(" (copy 1)"), "{name}");
    assert_eq!(name.chars().count(), 300);
    let d = app.ok(COPY, json!({ "id": source })).await;
    let name = d["copyEngagement"]["engagement"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.ends_with(" (copy 2)"), "{name}");
    assert_eq!(name.chars().count(), 300);
}
