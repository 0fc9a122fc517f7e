//! Query limits: node budget, aliases, root fields, depth, fragment cycles, directives, GET
//! operations, timeouts, introspection and suggestions — each refused before any SQL runs.

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::{TestApp, assert_code};

/// Asserts the query is refused with BAD_USER_INPUT and runs no SQL statement.
async fn refused(app: &TestApp, query: &str) -> String {
    app.statements().start_recording();
    let r = app.gql(query, json!({})).await;
    let sql = app.statements().take();
    assert_code(&r, "BAD_USER_INPUT");
    assert!(sql.is_empty(), "no SQL before refusing: {sql:?}");
    r["errors"][0]["message"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_budget_refuses_four_nested_pages_of_100() {
    let app = TestApp::new().await;
    let msg = refused(
        &app,
        "{ productTypes(first:100){nodes{products(first:100){nodes{engagements(first:100){nodes{findings(first:100){nodes{id}}}}}}}}}",
    )
    .await;
    assert!(msg.contains("nodes"), "{msg}");
    // Page sizes given as variables count too.
    app.statements().start_recording();
    let r = app
        .gql(
            "query($n: Int) { productTypes(first:$n){nodes{products(first:$n){nodes{engagements(first:$n){nodes{findings(first:$n){nodes{id}}}}}}}}}",
            json!({ "n": 100 }),
        )
        .await;
    assert_code(&r, "BAD_USER_INPUT");
    assert!(app.statements().take().is_empty());
    // The benchmark's dashboard (three levels of 100) is within budget.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/bench/dashboard.graphql"
    ))
    .unwrap();
    app.ok(&dashboard, json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_and_root_field_floods_are_refused() {
    let app = TestApp::new().await;
    let aliases: String = (0..101)
        .map(|i| format!("a{i}: productTypes(first: 1) {{ totalCount }} "))
        .collect();
    let msg = refused(&app, &format!("{{ {aliases} }}")).await;
    assert!(msg.contains("aliases") || msg.contains("nodes"), "{msg}");
    let roots: String = (0..21).map(|_| "__typename ".to_string()).collect();
    let msg = refused(&app, &format!("{{ {roots} }}")).await;
    assert!(msg.contains("root fields"), "{msg}");
    let nested_aliases: String = (0..31).map(|i| format!("n{i}: name ")).collect();
    let msg = refused(
        &app,
        &format!("{{ productTypes(first: 1) {{ nodes {{ {nested_aliases} }} }} }}"),
    )
    .await;
    assert!(msg.contains("aliases"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_fragment_cycles_and_directive_floods_are_refused() {
    let app = TestApp::new().await;
    // 25 levels through finding.duplicateOf (no connection, so only the depth limit applies).
    let deep = format!(
        "{{ findings(first: 1) {{ nodes {{ {} id {} }} }} }}",
        "duplicateOf { ".repeat(25),
        "} ".repeat(25)
    );
    refused(&app, &deep).await;
    refused(
        &app,
        "{ productTypes(first: 1) { ...A } } fragment A on ProductTypeConnection { ...B } fragment B on ProductTypeConnection { ...A }",
    )
    .await;
    let directives = "@skip(if: false) ".repeat(10_000);
    let r = app
        .gql(
            &format!("{{ productTypes(first: 1) {directives} {{ totalCount }} }}"),
            json!({}),
        )
        .await;
    assert_code(&r, "BAD_USER_INPUT");
    assert!(
        r.to_string().len() < 100_000,
        "the error response stays small"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_over_get_are_method_not_allowed() {
    let app = TestApp::new().await;
    let uri = "/graphql?query=mutation%20%7B%20createProductType(input%3A%20%7Bname%3A%20%22x%22%7D)%20%7B%20productType%20%7B%20id%20%7D%20%7D%20%7D";
    let res = app
        .router()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.count("product_types").await, 0);
    let res = app
        .router()
        .oneshot(Request::get("/graphql").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "GraphiQL still served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out() {
    // The only pooled connection is held here, so the request waits for one past its timeout.
    let app = TestApp::with_config(|c| {
        c.request_timeout = std::time::Duration::from_millis(50);
        c.pool_size = 1;
    })
    .await;
    let held = app.state.db.conn().await.unwrap();
    let r = app
        .gql(
            "{ productTypes(first: 5) { totalCount nodes { name } } }",
            json!({}),
        )
        .await;
    assert_code(&r, "SERVICE_UNAVAILABLE");
    drop(held);
    // The server answers again once a connection is free.
    let d = app
        .ok("{ productTypes(first: 5) { totalCount } }", json!({}))
        .await;
    assert_eq!(d["productTypes"]["totalCount"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_profile_hides_the_schema() {
    let app = TestApp::with_config(|c| {
        c.introspection = false;
        c.suggestions = false;
    })
    .await;
    let r = app.gql("{ __schema { types { name } } }", json!({})).await;
    assert!(
        r["data"]["__schema"].is_null(),
        "introspection answers nothing: {r}"
    );
    let r = app
        .gql(
            "{ __type(name: \"Finding\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert!(r["data"]["__type"].is_null(), "{r}");
    let r = app.gql("{ productTypez { totalCount } }", json!({})).await;
    assert!(!r.to_string().contains("Did you mean"), "{r}");
    let open = TestApp::new().await;
    let r = open.gql("{ productTypez { totalCount } }", json!({})).await;
    assert!(
        r.to_string().contains("Did you mean"),
        "suggestions on by default: {r}"
    );
}

#[test]
fn every_connection_field_is_budgeted() {
    let sdl = dojoql::graphql::sdl();
    let lists = dojoql::graphql::limits::model().lists();
    let mut missing = Vec::new();
    let mut found = 0;
    let mut owner = "";
    for line in sdl.lines() {
        if let Some(rest) = line.strip_prefix("type ") {
            owner = rest.split_whitespace().next().unwrap_or("");
        }
        let line = line.trim();
        if let Some((name, ty)) = line.split_once('(').or_else(|| line.split_once(':'))
            && ty.trim_end().ends_with("Connection!")
        {
            let field = format!("{owner}.{}", name.trim().trim_end_matches(':'));
            found += 1;
            if !lists
                .iter()
                .any(|(f, b)| *f == field && *b == dojoql::graphql::limits::Bound::Page)
            {
                missing.push(field);
            }
        }
    }
    assert!(
        found >= 10,
        "found only {found} connection fields in the SDL"
    );
    assert!(
        missing.is_empty(),
        "connection fields the cost model does not count as pages: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurdly_deep_documents_and_variables_fail_cleanly() {
    let app = TestApp::new().await;
    // A 10,000-deep selection: the parser's recursion limit refuses it (no stack overflow).
    let deep = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
    let r = app.gql(&deep, json!({})).await;
    assert_code(&r, "BAD_USER_INPUT");
    // 10,000-deep variables over HTTP: refused as a bad request, the server lives on.
    let variables = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let body = format!(
        r#"{{"query":"query($v: [ID]) {{ nodes(ids: []) {{ id }} }}","variables":{{"v":{variables}}}}}"#
    );
    let res = app
        .router()
        .oneshot(
            Request::post("/graphql")
                .header(axum::http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let d = app
        .ok("{ productTypes(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(d["productTypes"]["totalCount"], 0);
}
