//! Finding lists read only the columns of the fields a query shows (`db::page::Projection`):
//! every field, asked alone of a list, shows what the same finding read whole shows.

use diesel_async::SimpleAsyncConnection;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Two findings with a value in every column: one active and verified, one a mitigated, false
/// positive, risk-accepted duplicate of the other (the checks forbid both in one row).
async fn two_full_findings(app: &TestApp) -> [String; 2] {
    let h = app.hierarchy().await;
    let original = app.finding(&h.test, "Original", "HIGH").await;
    let duplicate = app.finding(&h.test, "Duplicate", "LOW").await;
    let mut c = app.sql().await;
    c.batch_execute(
        "UPDATE findings SET description = 'A long description', mitigation = 'Upgrade',
             impact = 'Data loss', steps_to_reproduce = 'Send it', severity_justification = 'Reach',
             refs = 'https://ref.example', url = 'https://app.example/x', cwe = 79,
             vulnerability_ids = '{CVE-2024-0001,GHSA-aaaa-bbbb-cccc}',
             cvssv3 = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', cvssv3_score = 9.8,
             file_path = 'src/main.rs', line = 42, component_name = 'openssl',
             component_version = '1.1.1', static_finding = TRUE, dynamic_finding = TRUE,
             unique_id_from_tool = 'rule-1', vuln_id_from_tool = 'V-1', hash_code = 'abc123',
             service = 'api', nb_occurences = 3, under_review = TRUE,
             reporter_id = (SELECT min(id) FROM users), sla_start_date = DATE '2026-01-02',
             sla_expiration_date = current_date + 5, tags = '{pci,edge}', param = 'q',
             payload = '<script>', cwes = '{79,89}', cvssv4 = 'CVSS:4.0/AV:N',
             cvssv4_score = 8.7, scanner_confidence = 2, fix_available = TRUE, fix_version = '3.0',
             epss_score = 0.42, epss_percentile = 0.97, known_exploited = TRUE,
             publish_date = DATE '2025-12-01';
         UPDATE findings SET active = TRUE, verified = TRUE WHERE title = 'Original';
         UPDATE findings SET active = FALSE, verified = FALSE, false_p = TRUE, out_of_scope = TRUE,
             risk_accepted = TRUE, is_mitigated = TRUE, mitigated = now() - interval '2 days',
             mitigated_by_id = (SELECT min(id) FROM users), duplicate = TRUE,
             duplicate_finding_id = (SELECT id FROM findings WHERE title = 'Original')
         WHERE title = 'Duplicate';",
    )
    .await
    .unwrap();
    [original, duplicate]
}

/// Each field of `Finding` with a selection that shows it (`{ id }` or `{ __typename }` under
/// object fields), from introspection.
async fn finding_fields(app: &TestApp) -> Vec<(String, String)> {
    let d = app
        .ok(
            r#"{ __type(name: "Finding") { fields { name args { name type { kind } }
                 type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }"#,
            json!({}),
        )
        .await;
    let mut out = Vec::new();
    for f in d["__type"]["fields"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap().to_string();
        assert!(
            f["args"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["type"]["kind"] != "NON_NULL"),
            "{name} has a required argument"
        );
        // The named type under NON_NULL and LIST wrappers.
        let mut t = &f["type"];
        while t["name"].is_null() {
            t = &t["ofType"];
        }
        let selection = match t["kind"].as_str().unwrap() {
            "SCALAR" | "ENUM" => name.clone(),
            _ if t["name"].as_str().unwrap().ends_with("Connection") => {
                format!("{name} {{ totalCount nodes {{ id }} }}")
            }
            _ => format!("{name} {{ __typename }}"),
        };
        out.push((name, selection));
    }
    assert!(out.len() > 50, "{out:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_lists_read_only_the_columns_they_show() {
    let app = TestApp::new().await;
    let ids = two_full_findings(&app).await;
    for (field, selection) in finding_fields(&app).await {
        // The finding read whole (by id), then the same field from a top-level list, a nested
        // list and a list's edges.
        for id in &ids {
            let whole = app
                .ok(
                    &format!(
                        "query($id: ID!) {{ node(id: $id) {{ ... on Finding {{ {selection} }} }} }}"
                    ),
                    json!({ "id": id }),
                )
                .await["node"][&field]
                .clone();
            let q = format!(
                "{{ findings(first: 10) {{ nodes {{ id {selection} }} }}
                   tests(first: 1) {{ nodes {{ findings(first: 10) {{ edges {{ node {{ id {selection} }} }} }} }} }} }}"
            );
            let d = app.ok(&q, json!({})).await;
            let pick = |nodes: &Value| -> Value {
                nodes
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| if n["node"].is_null() { n } else { &n["node"] })
                    .find(|n| n["id"] == json!(id))
                    .unwrap_or_else(|| panic!("{id} missing from {nodes}"))[&field]
                    .clone()
            };
            assert_eq!(pick(&d["findings"]["nodes"]), whole, "{field} in a list");
            assert_eq!(
                pick(&d["tests"]["nodes"][0]["findings"]["edges"]),
                whole,
                "{field} in a nested list's edges"
            );
        }
    }
}

/// The list statement reads the columns of the fields shown, not the whole row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_titles_leaves_the_long_columns_out() {
    let app = TestApp::new().await;
    two_full_findings(&app).await;
    app.statements().start_recording();
    let d = app
        .ok(
            "{ tests(first: 1) { nodes { findings(first: 10) { nodes { title severity } } } } }",
            json!({}),
        )
        .await;
    let statements = app.statements().take();
    assert_eq!(
        d["tests"]["nodes"][0]["findings"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let list = statements
        .iter()
        .find(|s| s.contains("FROM findings t"))
        .expect("a findings statement");
    assert!(list.contains(r#"t."title""#), "{list}");
    assert!(!list.contains(r#"t."description""#), "{list}");
    assert!(!list.contains(r#"t."payload""#), "{list}");
}

/// Aliases, repeated fields and `__typename` in a list of plain fields (`graphql::plain`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_lists_keep_aliases_and_typenames() {
    let app = TestApp::new().await;
    two_full_findings(&app).await;
    let d = app
        .ok(
            "{ findings(first: 10, orderBy: {field: TITLE, direction: ASC}) {
                 nodes { name: title __typename kind: __typename title again: title sev: severity } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["findings"]["nodes"][0],
        json!({ "name": "Duplicate", "__typename": "Finding", "kind": "Finding",
                "title": "Duplicate", "again": "Duplicate", "sev": "LOW" })
    );
    assert_eq!(d["findings"]["nodes"][1]["again"], "Original");
}

/// Tests' `findingCounts` under a list of plain fields come from counts preloaded with the page
/// (`graphql::pagination::Preloaded`) and match what the resolvers give (an inline fragment
/// sends the same selection through them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preloaded_counts_match_the_resolvers() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let second = app.test(&h.engagement, "Second").await;
    for (test, title, severity) in [
        (&h.test, "a", "HIGH"),
        (&h.test, "b", "HIGH"),
        (&h.test, "c", "LOW"),
        (&second, "d", "CRITICAL"),
    ] {
        app.finding(test, title, severity).await;
    }
    let fields = "id title scanType findingCounts { critical high low total t: total __typename }";
    let plain = format!(
        "{{ engagements(first: 5) {{ nodes {{ tests(first: 5) {{ nodes {{ {fields} }} }} }} }} }}"
    );
    let resolved = format!(
        "{{ engagements(first: 5) {{ nodes {{ tests(first: 5) {{ nodes {{ ... on Test {{ {fields} }} }} }} }} }} }}"
    );
    let a = app.ok(&plain, json!({})).await;
    let b = app.ok(&resolved, json!({})).await;
    assert_eq!(a, b);
    let tests = &a["engagements"]["nodes"][0]["tests"]["nodes"];
    assert_eq!(
        tests[0]["findingCounts"],
        json!({ "critical": 0, "high": 2, "low": 1, "total": 3, "t": 3, "__typename": "FindingCounts" })
    );
    assert_eq!(tests[1]["findingCounts"]["critical"], 1);
}
