//! Findings: creation and every field, status rules, duplicates, SLA deadlines, filters and
//! ordering.

use chrono::{DateTime, Days, Utc};
use serde_json::{Value, json};

use crate::helpers::{Hierarchy, TestApp, assert_code};

/// Every scalar field of a finding plus its links.
const FIELDS: &str = "id databaseId title description severity numericalSeverity date mitigation impact \
    stepsToReproduce severityJustification references url cwe vulnerabilityIds cvssv3 cvssv3Score \
    filePath line componentName componentVersion staticFinding dynamicFinding uniqueIdFromTool \
    vulnIdFromTool service reporter { id username } slaStartDate slaExpirationDate slaDaysRemaining \
    tags active verified falsePositive outOfScope riskAccepted underReview isMitigated mitigatedAt \
    duplicate duplicateOf { id } test { id } engagement { id } product { id }";

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

fn days_ago(n: u64) -> String {
    (today() - Days::new(n)).to_string()
}

fn days_ahead(n: u64) -> String {
    (today() + Days::new(n)).to_string()
}

async fn get(app: &TestApp, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ node(id: $id) {{ ... on Finding {{ {FIELDS} }} }} }}");
    app.ok(&q, json!({ "id": id })).await["node"].clone()
}

/// `updateFinding` with `input` (the id merged in); returns the finding.
async fn update(app: &TestApp, id: &str, input: Value) -> Value {
    let mut i = json!({ "id": id });
    crate::helpers::merge(&mut i, input);
    let q = format!(
        "mutation($i: UpdateFindingInput!) {{ updateFinding(input: $i) {{ finding {{ {FIELDS} }} }} }}"
    );
    app.ok(&q, json!({ "i": i })).await["updateFinding"]["finding"].clone()
}

/// `updateFinding` expected to fail; returns the error code.
async fn update_err(app: &TestApp, id: &str, input: Value) -> String {
    let mut i = json!({ "id": id });
    crate::helpers::merge(&mut i, input);
    app.err(
        "mutation($i: UpdateFindingInput!) { updateFinding(input: $i) { finding { id } } }",
        json!({ "i": i }),
    )
    .await
}

/// A second, separate hierarchy.
async fn other_hierarchy(app: &TestApp) -> Hierarchy {
    let product_type = app.product_type("PT2").await;
    let product = app.product(&product_type, "P2").await;
    let engagement = app.engagement(&product, "E2").await;
    let test = app.test(&engagement, "T2").await;
    Hierarchy {
        product_type,
        product,
        engagement,
        test,
    }
}

fn timestamp(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_finding_contract_shape() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let d = app
        .ok(
            "mutation($t: ID!) { createFinding(input: {testId: $t, title: \"SQLi\", severity: HIGH, description: \"…\"}) { finding { id } } }",
            json!({ "t": h.test }),
        )
        .await;
    let id = d["createFinding"]["finding"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let f = get(&app, &id).await;
    assert_eq!(f["id"], id.as_str());
    assert_eq!(f["title"], "SQLi");
    assert_eq!(f["description"], "…");
    assert_eq!(f["severity"], "HIGH");
    assert_eq!(f["numericalSeverity"], "S1");
    // Defaults: dated today, active and nothing else, no file → dynamic.
    assert_eq!(f["date"], today().to_string());
    assert_eq!(f["active"], true);
    for flag in [
        "verified",
        "falsePositive",
        "outOfScope",
        "riskAccepted",
        "underReview",
        "isMitigated",
        "duplicate",
    ] {
        assert_eq!(f[flag], false, "{flag}");
    }
    assert!(f["mitigatedAt"].is_null());
    assert_eq!(f["staticFinding"], false);
    assert_eq!(f["dynamicFinding"], true);
    assert_eq!(f["vulnerabilityIds"], json!([]));
    assert_eq!(f["tags"], json!([]));
    assert_eq!(app.count("findings").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_round_trips() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let u = app
        .ok(
            "mutation { createUser(input: {username: \"alice\"}) { user { id } } }",
            json!({}),
        )
        .await;
    let user = u["createUser"]["user"]["id"].as_str().unwrap().to_string();
    let id = app
        .finding_with(
            &h.test,
            "Reflected XSS",
            "MEDIUM",
            json!({
                "description": "user input echoed",
                "date": "2026-01-10",
                "mitigation": "encode output",
                "impact": "session theft",
                "stepsToReproduce": "1. open /search?q=<script>",
                "severityJustification": "needs a click",
                "references": "https://owasp.org/xss",
                "url": "https://app.example/search",
                "cwe": 79,
                "vulnerabilityIds": ["CVE-2026-0001", "GHSA-xxxx-yyyy-zzzz"],
                "cvssv3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                "cvssv3Score": 6.1,
                "filePath": "src/search.rs",
                "line": 42,
                "componentName": "search",
                "componentVersion": "1.2.3",
                "uniqueIdFromTool": "tool-123",
                "vulnIdFromTool": "XSS-1",
                "service": "frontend",
                "reporterId": user,
                "slaStartDate": "2026-01-20",
                "tags": ["Web", "pci"],
            }),
        )
        .await;
    let f = get(&app, &id).await;
    let expected = json!({
        "title": "Reflected XSS",
        "description": "user input echoed",
        "severity": "MEDIUM",
        "numericalSeverity": "S2",
        "date": "2026-01-10",
        "mitigation": "encode output",
        "impact": "session theft",
        "stepsToReproduce": "1. open /search?q=<script>",
        "severityJustification": "needs a click",
        "references": "https://owasp.org/xss",
        "url": "https://app.example/search",
        "cwe": 79,
        "vulnerabilityIds": ["CVE-2026-0001", "GHSA-xxxx-yyyy-zzzz"],
        "cvssv3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        "cvssv3Score": 6.1,
        "filePath": "src/search.rs",
        "line": 42,
        "componentName": "search",
        "componentVersion": "1.2.3",
        "staticFinding": true,
        "dynamicFinding": false,
        "uniqueIdFromTool": "tool-123",
        "vulnIdFromTool": "XSS-1",
        "service": "frontend",
        "reporter": { "id": user, "username": "alice" },
        "slaStartDate": "2026-01-20",
        // MEDIUM: 90 days from the SLA start date, not from `date`.
        "slaExpirationDate": "2026-04-20",
        // Tags are normalised: lower case, sorted.
        "tags": ["pci", "web"],
        "test": { "id": h.test },
        "engagement": { "id": h.engagement },
        "product": { "id": h.product },
    });
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&f[k], v, "field {k}");
    }

    // Back-links the other way: the finding is listed under its test, engagement and product.
    let d = app
        .ok(
            "query($t: ID!, $e: ID!, $p: ID!) {
               t: node(id: $t) { ... on Test { findings { nodes { id } } } }
               e: node(id: $e) { ... on Engagement { findings { nodes { id } } } }
               p: node(id: $p) { ... on Product { findings { nodes { id } } } } }",
            json!({ "t": h.test, "e": h.engagement, "p": h.product }),
        )
        .await;
    for k in ["t", "e", "p"] {
        assert_eq!(d[k]["findings"]["nodes"], json!([{ "id": id }]), "{k}");
    }

    // Nullable fields can be cleared and set again through updateFinding.
    let f = update(
        &app,
        &id,
        json!({ "mitigation": null, "cwe": null, "line": 7, "title": "Stored XSS" }),
    )
    .await;
    assert!(f["mitigation"].is_null());
    assert!(f["cwe"].is_null());
    assert_eq!(f["line"], 7);
    assert_eq!(f["title"], "Stored XSS");
    assert_eq!(
        f["impact"], "session theft",
        "fields left out stay as they are"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numerical_severity_follows_severity() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    for (sev, num) in [
        ("CRITICAL", "S0"),
        ("HIGH", "S1"),
        ("MEDIUM", "S2"),
        ("LOW", "S3"),
        ("INFO", "S4"),
    ] {
        let id = app.finding(&h.test, sev, sev).await;
        let f = get(&app, &id).await;
        assert_eq!(f["severity"], sev);
        assert_eq!(f["numericalSeverity"], num, "{sev}");
    }
    // A severity change recomputes it.
    let id = app.finding(&h.test, "x", "LOW").await;
    let f = update(&app, &id, json!({ "severity": "CRITICAL" })).await;
    assert_eq!(f["numericalSeverity"], "S0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_create_input_is_refused_and_writes_nothing() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let before = app.snapshot().await;
    let create =
        "mutation($i: CreateFindingInput!) { createFinding(input: $i) { finding { id } } }";
    let base = json!({ "testId": h.test, "title": "SQLi", "severity": "HIGH", "description": "d" });
    for (extra, why) in [
        (json!({ "cvssv3Score": 11.0 }), "cvssv3Score 11"),
        (json!({ "cvssv3Score": -0.5 }), "cvssv3Score < 0"),
        (json!({ "title": "" }), "empty title"),
        (json!({ "title": "   " }), "blank title"),
        (
            json!({ "severity": "SUPER" }),
            "unknown severity (variable)",
        ),
        (json!({ "cwe": -1 }), "negative cwe"),
    ] {
        let mut i = base.clone();
        crate::helpers::merge(&mut i, extra);
        assert_eq!(
            app.err(create, json!({ "i": i })).await,
            "BAD_USER_INPUT",
            "{why}"
        );
    }
    // An unknown enum value written in the query itself.
    let q = format!(
        "mutation {{ createFinding(input: {{testId: \"{}\", title: \"SQLi\", severity: SUPER, description: \"d\"}}) {{ finding {{ id }} }} }}",
        h.test
    );
    assert_eq!(app.err(&q, json!({})).await, "BAD_USER_INPUT");
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.count("findings").await, 0);

    // Updates are checked the same way.
    let id = app.finding(&h.test, "ok", "LOW").await;
    let before = app.snapshot().await;
    assert_eq!(
        update_err(&app, &id, json!({ "cvssv3Score": 11.0 })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        update_err(&app, &id, json!({ "title": "" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        update_err(&app, &id, json!({ "severity": "SUPER" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_finding_parent_errors() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let create =
        "mutation($i: CreateFindingInput!) { createFinding(input: $i) { finding { id } } }";
    let input = |test: &str, extra: Value| {
        let mut i = json!({ "testId": test, "title": "x", "severity": "LOW", "description": "d" });
        crate::helpers::merge(&mut i, extra);
        json!({ "i": i })
    };
    let before = app.snapshot().await;
    let gone_test = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Test, 999_999);
    assert_eq!(
        app.err(create, input(&gone_test, json!({}))).await,
        "NOT_FOUND"
    );
    // An id of another kind where a test is expected.
    assert_eq!(
        app.err(create, input(&h.engagement, json!({}))).await,
        "BAD_USER_INPUT"
    );
    let gone_user = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::User, 999_999);
    assert_eq!(
        app.err(create, input(&h.test, json!({ "reporterId": gone_user })))
            .await,
        "NOT_FOUND"
    );
    let gone_finding = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Finding, 999_999);
    assert_eq!(
        update_err(&app, &gone_finding, json!({ "title": "x" })).await,
        "NOT_FOUND"
    );
    assert_eq!(app.snapshot().await, before);

    // A completed engagement takes no new findings.
    app.ok(
        "mutation($id: ID!) { closeEngagement(input: {id: $id}) { engagement { id } } }",
        json!({ "id": h.engagement }),
    )
    .await;
    let before = app.snapshot().await;
    assert_eq!(
        app.err(create, input(&h.test, json!({}))).await,
        "ENGAGEMENT_COMPLETED"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn false_positive_then_reactivation() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let id = app
        .finding_with(&h.test, "fp", "HIGH", json!({ "verified": true }))
        .await;
    assert_eq!(get(&app, &id).await["verified"], true);

    let started = Utc::now() - chrono::Duration::seconds(5);
    let f = update(&app, &id, json!({ "falsePositive": true })).await;
    assert_eq!(f["falsePositive"], true);
    assert_eq!(f["isMitigated"], true);
    assert_eq!(f["active"], false);
    assert_eq!(f["verified"], false);
    let at = timestamp(&f["mitigatedAt"]);
    assert!(
        at >= started && at <= Utc::now() + chrono::Duration::seconds(5),
        "mitigatedAt is now: {at}"
    );

    let f = update(&app, &id, json!({ "active": true })).await;
    assert_eq!(f["active"], true);
    assert_eq!(f["falsePositive"], false);
    assert_eq!(f["outOfScope"], false);
    assert_eq!(f["isMitigated"], false);
    assert!(f["mitigatedAt"].is_null());

    // Out of scope closes the same way and reactivation reopens it.
    let f = update(&app, &id, json!({ "outOfScope": true })).await;
    assert_eq!(
        (
            f["outOfScope"].clone(),
            f["isMitigated"].clone(),
            f["active"].clone()
        ),
        (json!(true), json!(true), json!(false))
    );
    assert!(!f["mitigatedAt"].is_null());
    let f = update(&app, &id, json!({ "active": true })).await;
    assert_eq!(
        (
            f["outOfScope"].clone(),
            f["isMitigated"].clone(),
            f["active"].clone()
        ),
        (json!(false), json!(false), json!(true))
    );
    assert!(f["mitigatedAt"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mitigation_keeps_a_given_timestamp() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let id = app.finding(&h.test, "m", "LOW").await;
    let f = update(
        &app,
        &id,
        json!({ "isMitigated": true, "mitigatedAt": "2025-12-24T08:30:00Z" }),
    )
    .await;
    assert_eq!(f["isMitigated"], true);
    assert_eq!(f["active"], false);
    assert_eq!(
        timestamp(&f["mitigatedAt"]),
        "2025-12-24T08:30:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    // Another change leaves the stamp alone.
    let f = update(&app, &id, json!({ "title": "m2" })).await;
    assert_eq!(
        timestamp(&f["mitigatedAt"]),
        "2025-12-24T08:30:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    // Un-mitigating clears it.
    let f = update(&app, &id, json!({ "isMitigated": false })).await;
    assert_eq!(f["isMitigated"], false);
    assert!(f["mitigatedAt"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contradictory_status_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let id = app.finding(&h.test, "c", "HIGH").await;
    let before = app.snapshot().await;
    for input in [
        json!({ "active": true, "riskAccepted": true }),
        json!({ "riskAccepted": true }),
        json!({ "falsePositive": true, "verified": true }),
        json!({ "isMitigated": true, "active": true }),
        json!({ "falsePositive": true, "active": true }),
        // Descriptive changes in the same input must be rolled back too.
        json!({ "title": "renamed", "severity": "LOW", "active": true, "riskAccepted": true }),
    ] {
        assert_eq!(
            update_err(&app, &id, input.clone()).await,
            "BAD_USER_INPUT",
            "{input}"
        );
        assert_eq!(app.snapshot().await, before, "database changed by {input}");
    }
    // Same on create.
    let create =
        "mutation($i: CreateFindingInput!) { createFinding(input: $i) { finding { id } } }";
    let i = json!({ "testId": h.test, "title": "x", "severity": "LOW", "description": "d", "falsePositive": true, "verified": true });
    assert_eq!(app.err(create, json!({ "i": i })).await, "BAD_USER_INPUT");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_of_marks_and_unmarks() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let other_test = app.test(&h.engagement, "T-other").await;
    let original = app.finding(&h.test, "orig", "HIGH").await;
    let dup = app
        .finding_with(&other_test, "dup", "HIGH", json!({ "verified": true }))
        .await;

    let f = update(&app, &dup, json!({ "duplicateOfId": original })).await;
    assert_eq!(f["duplicate"], true);
    assert_eq!(f["active"], false);
    assert_eq!(f["verified"], false);
    assert_eq!(f["duplicateOf"]["id"], original.as_str());
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Finding { duplicate duplicates { totalCount nodes { id } } } } }",
            json!({ "id": original }),
        )
        .await;
    assert_eq!(d["node"]["duplicate"], false);
    assert_eq!(d["node"]["duplicates"]["totalCount"], 1);
    assert_eq!(d["node"]["duplicates"]["nodes"], json!([{ "id": dup }]));
    assert_eq!(
        app.ok(
            "{ findings(filter: {duplicate: true}) { nodes { id } } }",
            json!({})
        )
        .await["findings"]["nodes"],
        json!([{ "id": dup }])
    );

    // A duplicate cannot be made active or verified while it is one.
    let before = app.snapshot().await;
    assert_eq!(
        update_err(&app, &dup, json!({ "active": true })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        update_err(&app, &dup, json!({ "verified": true })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before);

    // `null` un-marks it.
    let f = update(&app, &dup, json!({ "duplicateOfId": null })).await;
    assert_eq!(f["duplicate"], false);
    assert!(f["duplicateOf"].is_null());
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Finding { duplicates { totalCount } } } }",
            json!({ "id": original }),
        )
        .await;
    assert_eq!(d["node"]["duplicates"]["totalCount"], 0);
    // Once un-marked it may be reopened.
    let f = update(&app, &dup, json!({ "active": true })).await;
    assert_eq!(f["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_of_refuses_bad_targets() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let o = other_hierarchy(&app).await;
    let a = app.finding(&h.test, "a", "HIGH").await;
    let b = app.finding(&h.test, "b", "HIGH").await;
    let c = app.finding(&h.test, "c", "HIGH").await;
    let elsewhere = app.finding(&o.test, "elsewhere", "HIGH").await;
    update(&app, &b, json!({ "duplicateOfId": a })).await;

    let before = app.snapshot().await;
    // Another product.
    assert_eq!(
        update_err(&app, &c, json!({ "duplicateOfId": elsewhere })).await,
        "BAD_USER_INPUT"
    );
    // Itself.
    assert_eq!(
        update_err(&app, &c, json!({ "duplicateOfId": c })).await,
        "BAD_USER_INPUT"
    );
    // A duplicate as the original.
    assert_eq!(
        update_err(&app, &c, json!({ "duplicateOfId": b })).await,
        "BAD_USER_INPUT"
    );
    // Not a finding id.
    assert_eq!(
        update_err(&app, &c, json!({ "duplicateOfId": h.test })).await,
        "BAD_USER_INPUT"
    );
    // A finding that does not exist.
    let gone = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Finding, 999_999);
    assert_eq!(
        update_err(&app, &c, json!({ "duplicateOfId": gone })).await,
        "NOT_FOUND"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_chains_are_flattened() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let a = app.finding(&h.test, "a", "HIGH").await;
    let b = app.finding(&h.test, "b", "HIGH").await;
    let c = app.finding(&h.test, "c", "HIGH").await;
    update(&app, &a, json!({ "duplicateOfId": b })).await;
    let f = update(&app, &b, json!({ "duplicateOfId": c })).await;
    assert_eq!(f["duplicateOf"]["id"], c.as_str());
    let fa = get(&app, &a).await;
    assert_eq!(fa["duplicate"], true);
    assert_eq!(fa["duplicateOf"]["id"], c.as_str(), "A now points at C");
    let d = app
        .ok(
            "query($b: ID!, $c: ID!) {
               b: node(id: $b) { ... on Finding { duplicates { nodes { id } } } }
               c: node(id: $c) { ... on Finding { duplicates { nodes { id } } } } }",
            json!({ "b": b, "c": c }),
        )
        .await;
    assert_eq!(d["b"]["duplicates"]["nodes"], json!([]));
    assert_eq!(
        d["c"]["duplicates"]["nodes"],
        json!([{ "id": a }, { "id": b }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_deadline_per_severity() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let date = today() - Days::new(3);
    for (sev, days) in [
        ("CRITICAL", Some(7u64)),
        ("HIGH", Some(30)),
        ("MEDIUM", Some(90)),
        ("LOW", Some(120)),
        ("INFO", None),
    ] {
        let id = app
            .finding_with(&h.test, sev, sev, json!({ "date": date.to_string() }))
            .await;
        let f = get(&app, &id).await;
        match days {
            Some(n) => {
                assert_eq!(
                    f["slaExpirationDate"],
                    (date + Days::new(n)).to_string(),
                    "{sev}"
                );
                assert_eq!(f["slaDaysRemaining"], n as i64 - 3, "{sev}");
            }
            None => {
                assert!(f["slaExpirationDate"].is_null(), "{sev}");
                assert!(f["slaDaysRemaining"].is_null(), "{sev}");
            }
        }
    }
    // slaStartDate overrides date.
    let id = app
        .finding_with(
            &h.test,
            "s",
            "HIGH",
            json!({ "date": "2026-01-01", "slaStartDate": "2026-02-01" }),
        )
        .await;
    assert_eq!(get(&app, &id).await["slaExpirationDate"], "2026-03-03");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_deadline_follows_updates() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let id = app
        .finding_with(&h.test, "s", "LOW", json!({ "date": "2026-01-01" }))
        .await;
    assert_eq!(get(&app, &id).await["slaExpirationDate"], "2026-05-01");
    let f = update(&app, &id, json!({ "severity": "CRITICAL" })).await;
    assert_eq!(f["slaExpirationDate"], "2026-01-08");
    let f = update(&app, &id, json!({ "date": "2026-03-01" })).await;
    assert_eq!(f["slaExpirationDate"], "2026-03-08");
    let f = update(&app, &id, json!({ "slaStartDate": "2026-04-01" })).await;
    assert_eq!(f["slaExpirationDate"], "2026-04-08");
    let f = update(&app, &id, json!({ "slaStartDate": null })).await;
    assert_eq!(f["slaExpirationDate"], "2026-03-08");
    let f = update(&app, &id, json!({ "severity": "INFO" })).await;
    assert!(f["slaExpirationDate"].is_null());
    assert!(f["slaDaysRemaining"].is_null());
    let f = update(&app, &id, json!({ "severity": "HIGH" })).await;
    assert_eq!(f["slaExpirationDate"], "2026-03-31");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_days_remaining_counts_to_today_or_mitigation() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    // Deadline in 4 days.
    let open = app
        .finding_with(&h.test, "open", "CRITICAL", json!({ "date": days_ago(3) }))
        .await;
    let f = get(&app, &open).await;
    assert_eq!(f["slaExpirationDate"], days_ahead(4));
    assert_eq!(f["slaDaysRemaining"], 4);
    // Breached 23 days ago.
    let late = app
        .finding_with(&h.test, "late", "CRITICAL", json!({ "date": days_ago(30) }))
        .await;
    assert_eq!(get(&app, &late).await["slaDaysRemaining"], -23);
    // Mitigated 25 days ago, two days before its deadline: counts to the mitigation date.
    let at = format!("{}T12:00:00Z", days_ago(25));
    let f = update(
        &app,
        &late,
        json!({ "isMitigated": true, "mitigatedAt": at }),
    )
    .await;
    assert_eq!(f["slaDaysRemaining"], 2);
}

/// Titles of `findings(filter:, orderBy:)`.
async fn titles(app: &TestApp, filter: Value, order: Value) -> Vec<String> {
    let d = app
        .ok(
            "query($f: FindingFilter, $o: FindingOrder) { findings(first: 100, filter: $f, orderBy: $o) { totalCount nodes { title } } }",
            json!({ "f": filter, "o": order }),
        )
        .await;
    let nodes: Vec<String> = d["findings"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        d["findings"]["totalCount"],
        nodes.len(),
        "totalCount matches the filtered list"
    );
    nodes
}

async fn sorted(app: &TestApp, filter: Value) -> Vec<String> {
    let mut t = titles(app, filter, Value::Null).await;
    t.sort();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let o = other_hierarchy(&app).await;
    let t2 = app.test(&h.engagement, "T-second").await;
    let e2 = app.engagement(&h.product, "E-second").await;
    let t3 = app.test(&e2, "T-third").await;

    app.finding_with(&h.test, "crit", "CRITICAL", json!({ "verified": true, "cwe": 89, "vulnerabilityIds": ["CVE-1", "CVE-2"], "componentName": "openssl", "tags": ["pci", "web"] })).await;
    app.finding_with(&h.test, "high", "HIGH", json!({ "cwe": 79, "vulnerabilityIds": ["CVE-2"], "componentName": "OpenSSL", "tags": ["web"] })).await;
    app.finding_with(&t2, "fp", "MEDIUM", json!({ "falsePositive": true }))
        .await;
    app.finding_with(&t2, "oos", "LOW", json!({ "outOfScope": true }))
        .await;
    app.finding_with(
        &t3,
        "ra",
        "LOW",
        json!({ "active": false, "riskAccepted": true }),
    )
    .await;
    app.finding_with(&t3, "mit", "INFO", json!({ "isMitigated": true }))
        .await;
    let orig = app.finding(&o.test, "other", "HIGH").await;
    let dup = app.finding(&o.test, "otherdup", "HIGH").await;
    update(&app, &dup, json!({ "duplicateOfId": orig })).await;

    assert_eq!(
        sorted(&app, json!({ "severity": ["CRITICAL", "LOW"] })).await,
        ["crit", "oos", "ra"]
    );
    assert_eq!(
        sorted(&app, json!({ "active": true })).await,
        ["crit", "high", "other"]
    );
    assert_eq!(
        sorted(&app, json!({ "active": false })).await,
        ["fp", "mit", "oos", "otherdup", "ra"]
    );
    assert_eq!(sorted(&app, json!({ "verified": true })).await, ["crit"]);
    assert_eq!(
        sorted(&app, json!({ "duplicate": true })).await,
        ["otherdup"]
    );
    assert_eq!(sorted(&app, json!({ "duplicate": false })).await.len(), 7);
    assert_eq!(sorted(&app, json!({ "falsePositive": true })).await, ["fp"]);
    assert_eq!(sorted(&app, json!({ "outOfScope": true })).await, ["oos"]);
    assert_eq!(sorted(&app, json!({ "riskAccepted": true })).await, ["ra"]);
    assert_eq!(
        sorted(&app, json!({ "mitigated": true })).await,
        ["fp", "mit", "oos"]
    );
    assert_eq!(
        sorted(&app, json!({ "productId": o.product })).await,
        ["other", "otherdup"]
    );
    assert_eq!(
        sorted(&app, json!({ "productTypeId": h.product_type })).await,
        ["crit", "fp", "high", "mit", "oos", "ra"]
    );
    assert_eq!(
        sorted(&app, json!({ "engagementId": e2 })).await,
        ["mit", "ra"]
    );
    assert_eq!(sorted(&app, json!({ "testId": t2 })).await, ["fp", "oos"]);
    assert_eq!(sorted(&app, json!({ "cwe": 79 })).await, ["high"]);
    assert_eq!(
        sorted(&app, json!({ "vulnerabilityId": "CVE-2" })).await,
        ["crit", "high"]
    );
    assert_eq!(
        sorted(&app, json!({ "vulnerabilityId": "CVE-1" })).await,
        ["crit"]
    );
    assert_eq!(
        sorted(&app, json!({ "componentName": "openssl" })).await,
        ["crit"],
        "exact match"
    );
    assert_eq!(
        sorted(&app, json!({ "tags": ["web"] })).await,
        ["crit", "high"]
    );
    assert_eq!(
        sorted(&app, json!({ "tags": ["web", "pci"] })).await,
        ["crit"],
        "every tag"
    );
    assert_eq!(
        sorted(&app, json!({ "tags": ["WEB"] })).await,
        ["crit", "high"],
        "tags are normalised"
    );
    // Combined filters are ANDed.
    assert_eq!(
        sorted(
            &app,
            json!({ "productId": h.product, "active": true, "severity": ["HIGH"] })
        )
        .await,
        ["high"]
    );
    // An id of the wrong kind.
    let code = app
        .err(
            "query($f: FindingFilter) { findings(filter: $f) { totalCount } }",
            json!({ "f": { "productId": h.test } }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn title_contains_is_case_insensitive_and_literal() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    for t in [
        "SQL Injection",
        "Blind sql injection",
        "100% CPU",
        "1000 CPU",
        "file_name leak",
        "filename leak",
        "back\\slash",
    ] {
        app.finding(&h.test, t, "LOW").await;
    }
    assert_eq!(
        sorted(&app, json!({ "titleContains": "sql" })).await,
        ["Blind sql injection", "SQL Injection"]
    );
    assert_eq!(
        sorted(&app, json!({ "titleContains": "INJECTION" })).await,
        ["Blind sql injection", "SQL Injection"]
    );
    assert_eq!(
        sorted(&app, json!({ "titleContains": "0%" })).await,
        ["100% CPU"]
    );
    assert_eq!(
        sorted(&app, json!({ "titleContains": "%" })).await,
        ["100% CPU"]
    );
    assert_eq!(
        sorted(&app, json!({ "titleContains": "e_n" })).await,
        ["file_name leak"]
    );
    assert_eq!(
        sorted(&app, json!({ "titleContains": "_" })).await,
        ["file_name leak"]
    );
    assert_eq!(
        sorted(&app, json!({ "titleContains": "\\" })).await,
        ["back\\slash"]
    );
    assert!(
        sorted(&app, json!({ "titleContains": "nothing" }))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_breached_filter() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let old = days_ago(30);
    app.finding_with(&h.test, "breached", "CRITICAL", json!({ "date": old }))
        .await;
    app.finding_with(&h.test, "fresh", "CRITICAL", json!({ "date": days_ago(1) }))
        .await;
    app.finding_with(
        &h.test,
        "mitigated",
        "CRITICAL",
        json!({ "date": old, "isMitigated": true }),
    )
    .await;
    app.finding_with(
        &h.test,
        "fp",
        "CRITICAL",
        json!({ "date": old, "falsePositive": true }),
    )
    .await;
    app.finding_with(
        &h.test,
        "ra",
        "CRITICAL",
        json!({ "date": old, "active": false, "riskAccepted": true }),
    )
    .await;
    app.finding_with(&h.test, "info", "INFO", json!({ "date": old }))
        .await;
    // Due today: not yet breached.
    app.finding_with(
        &h.test,
        "due today",
        "CRITICAL",
        json!({ "date": days_ago(7) }),
    )
    .await;

    assert_eq!(
        sorted(&app, json!({ "slaBreached": true })).await,
        ["breached"]
    );
    assert_eq!(
        sorted(&app, json!({ "slaBreached": false })).await,
        ["due today", "fp", "fresh", "info", "mitigated", "ra"],
        "false is every other finding, including ones without a deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    // title, severity, date
    for (t, s, d) in [
        ("b-medium", "MEDIUM", "2026-01-03"),
        ("D-critical", "CRITICAL", "2026-01-01"),
        ("a-info", "INFO", "2026-01-05"),
        ("c-high", "HIGH", "2026-01-02"),
        ("e-low", "LOW", "2026-01-04"),
    ] {
        app.finding_with(&h.test, t, s, json!({ "date": d })).await;
    }
    let by = |field: &str, dir: &str| json!({ "field": field, "direction": dir });
    assert_eq!(
        titles(&app, json!({}), by("SEVERITY", "ASC")).await,
        ["D-critical", "c-high", "b-medium", "e-low", "a-info"]
    );
    assert_eq!(
        titles(&app, json!({}), by("SEVERITY", "DESC")).await,
        ["a-info", "e-low", "b-medium", "c-high", "D-critical"]
    );
    assert_eq!(
        titles(&app, json!({}), by("DATE", "ASC")).await,
        ["D-critical", "c-high", "b-medium", "e-low", "a-info"]
    );
    assert_eq!(
        titles(&app, json!({}), by("DATE", "DESC")).await,
        ["a-info", "e-low", "b-medium", "c-high", "D-critical"]
    );
    // Title order ignores case.
    assert_eq!(
        titles(&app, json!({}), by("TITLE", "ASC")).await,
        ["a-info", "b-medium", "c-high", "D-critical", "e-low"]
    );
    assert_eq!(
        titles(&app, json!({}), by("TITLE", "DESC")).await,
        ["e-low", "D-critical", "c-high", "b-medium", "a-info"]
    );
    // Deadlines: critical 01-08, high 02-01, medium 04-03, low 05-04; info has none (last when
    // ascending, first when descending).
    assert_eq!(
        titles(&app, json!({}), by("SLA_EXPIRATION_DATE", "ASC")).await,
        ["D-critical", "c-high", "b-medium", "e-low", "a-info"]
    );
    assert_eq!(
        titles(&app, json!({}), by("SLA_EXPIRATION_DATE", "DESC")).await,
        ["a-info", "e-low", "b-medium", "c-high", "D-critical"]
    );
    // Default direction is ascending.
    assert_eq!(
        titles(&app, json!({}), json!({ "field": "SEVERITY" })).await,
        ["D-critical", "c-high", "b-medium", "e-low", "a-info"]
    );
    // Ordering combines with a filter and paging.
    let d = app
        .ok(
            "{ findings(first: 2, filter: {severity: [CRITICAL, HIGH, MEDIUM]}, orderBy: {field: SEVERITY, direction: DESC}) { totalCount nodes { title } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["findings"]["totalCount"], 3);
    assert_eq!(
        d["findings"]["nodes"],
        json!([{ "title": "b-medium" }, { "title": "c-high" }])
    );
    assert_eq!(d["findings"]["pageInfo"]["hasNextPage"], true);
}

/// Findings whose original is itself a duplicate (a chain the rules forbid).
async fn chained(app: &TestApp) -> i64 {
    app.count("findings f JOIN findings o ON o.id = f.duplicate_finding_id WHERE o.duplicate")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_marking_never_leaves_a_chain() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let mark = "mutation($i: UpdateFindingInput!) { updateFinding(input: $i) { finding { id } } }";
    for round in 0..15 {
        let a = app.finding(&h.test, &format!("a{round}"), "HIGH").await;
        let b = app.finding(&h.test, &format!("b{round}"), "HIGH").await;
        let c = app.finding(&h.test, &format!("c{round}"), "HIGH").await;
        // A → B and B → C at once: whichever order they commit in, A must end up at C (or the
        // second one must be refused), never A → B → C.
        let (r1, r2) = tokio::join!(
            app.gql(mark, json!({ "i": { "id": a, "duplicateOfId": b } })),
            app.gql(mark, json!({ "i": { "id": b, "duplicateOfId": c } })),
        );
        for r in [&r1, &r2] {
            if r.get("errors").is_some() {
                assert_code(r, "BAD_USER_INPUT");
            }
        }
        assert_eq!(
            chained(&app).await,
            0,
            "round {round}: a chain was left: {r1:#} {r2:#}"
        );

        // With P → Q already: Q → R and P → R at once (Q's duplicates are re-pointed while P
        // moves): both succeed and both end at R, with no deadlock error.
        let p = app.finding(&h.test, &format!("p{round}"), "HIGH").await;
        let q = app.finding(&h.test, &format!("q{round}"), "HIGH").await;
        let r = app.finding(&h.test, &format!("r{round}"), "HIGH").await;
        update(&app, &p, json!({ "duplicateOfId": q })).await;
        let (r1, r2) = tokio::join!(
            app.gql(mark, json!({ "i": { "id": q, "duplicateOfId": r } })),
            app.gql(mark, json!({ "i": { "id": p, "duplicateOfId": r } })),
        );
        assert!(
            r1.get("errors").is_none() && r2.get("errors").is_none(),
            "round {round}: {r1:#} {r2:#}"
        );
        assert_eq!(
            get(&app, &p).await["duplicateOf"]["id"],
            r.as_str(),
            "round {round}"
        );
        assert_eq!(
            get(&app, &q).await["duplicateOf"]["id"],
            r.as_str(),
            "round {round}"
        );

        // A → B and B → A at once: exactly one wins, the other is refused (no deadlock error).
        let x = app.finding(&h.test, &format!("x{round}"), "HIGH").await;
        let y = app.finding(&h.test, &format!("y{round}"), "HIGH").await;
        let (r1, r2) = tokio::join!(
            app.gql(mark, json!({ "i": { "id": x, "duplicateOfId": y } })),
            app.gql(mark, json!({ "i": { "id": y, "duplicateOfId": x } })),
        );
        let failed: Vec<_> = [&r1, &r2]
            .into_iter()
            .filter_map(|r| r.get("errors"))
            .collect();
        assert_eq!(failed.len(), 1, "round {round}: {r1:#} {r2:#}");
        assert_code(failed[0], "BAD_USER_INPUT");
        assert_eq!(chained(&app).await, 0, "round {round}");
    }
}
