//! The HTTP surface: content types, batches, malformed and oversized bodies, GraphiQL, health
//! and readiness, and error codes over the wire.

use axum::{
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestApp, error_code};

async fn send(app: &TestApp, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let res = app.router().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

fn post(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post("/graphql");
    if let Some(t) = content_type {
        b = b.header(header::CONTENT_TYPE, t);
    }
    b.body(body.into()).unwrap()
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// The code every error of `v` carries ([`error_code`]).
fn code(v: &Value) -> &str {
    error_code(v).unwrap_or_else(|| panic!("no error code: {v:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_query_works() {
    let app = TestApp::new().await;
    app.product_type("Web").await;
    let body = json!({ "query": "query($n: Int) { productTypes(first: $n) { nodes { name } } }", "variables": { "n": 5 } });
    let (status, headers, body) =
        send(&app, post(Some("application/json"), body.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        json_of(&body)["data"]["productTypes"]["nodes"],
        json!([{ "name": "Web" }])
    );

    // A mutation over HTTP writes.
    let body = json!({ "query": "mutation { createProductType(input: {name: \"Mobile\"}) { productType { name } } }" });
    let (status, _, body) = send(
        &app,
        post(Some("application/json; charset=utf-8"), body.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_of(&body)["data"]["createProductType"]["productType"]["name"],
        "Mobile"
    );
    assert_eq!(app.count("product_types").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_content_types_are_unsupported() {
    let app = TestApp::new().await;
    let mutation = json!({ "query": "mutation { createProductType(input: {name: \"X\"}) { productType { id } } }" }).to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (status, _, body) = send(&app, post(ct, mutation.clone())).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(code(&json_of(&body)), "BAD_USER_INPUT", "{ct:?}");
    }
    assert_eq!(app.count("product_types").await, 0, "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_refused() {
    let app = TestApp::new().await;
    let batch = json!([
        { "query": "mutation { createProductType(input: {name: \"A\"}) { productType { id } } }" },
        { "query": "{ productTypes { totalCount } }" },
    ]);
    let (status, _, body) = send(&app, post(Some("application/json"), batch.to_string())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&json_of(&body)), "BAD_USER_INPUT");
    assert_eq!(
        app.count("product_types").await,
        0,
        "no operation of the batch ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_bad_requests() {
    let app = TestApp::new().await;
    for body in ["{\"query\": ", "not json at all", "", "{\"query\": 42}"] {
        let (status, _, out) = send(&app, post(Some("application/json"), body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(code(&json_of(&out)), "BAD_USER_INPUT", "{body:?}");
    }
    // Well-formed JSON without a query: an error, and nothing runs.
    let (_, _, out) = send(&app, post(Some("application/json"), "{\"variables\": {}}")).await;
    assert_eq!(code(&json_of(&out)), "BAD_USER_INPUT");
    // A multipart request without the `operations` part.
    let boundary = "b0und4ry";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--{boundary}--\r\n"
    );
    let (status, _, out) = send(
        &app,
        post(
            Some(&format!("multipart/form-data; boundary={boundary}")),
            multipart,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&json_of(&out)), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let app = TestApp::with_config(|c| c.max_body_bytes = 1024).await;
    let padding = " ".repeat(2048);
    let body = format!(
        "{{\"query\": \"mutation {{ createProductType(input: {{name: \\\"Big\\\"}}) {{ productType {{ id }} }} }}\"{padding}}}"
    );
    // With a Content-Length header (refused before reading) …
    let req = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, _, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // … and without one (refused while reading).
    let (status, _, out) = send(&app, post(Some("application/json"), body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&json_of(&out)), "PAYLOAD_TOO_LARGE");
    assert_eq!(app.count("product_types").await, 0);

    // A body under the limit still works.
    let small = json!({ "query": "{ productTypes { totalCount } }" }).to_string();
    let (status, _, out) = send(&app, post(Some("application/json"), small)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&out)["data"]["productTypes"]["totalCount"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_health_and_ready() {
    let app = TestApp::new().await;
    for path in ["/", "/graphql"] {
        let (status, headers, body) =
            send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let html = String::from_utf8(body).unwrap();
        assert!(html.to_lowercase().contains("graphiql"), "{path}");
        assert!(
            html.contains("/graphql"),
            "{path}: the endpoint is configured"
        );
    }
    let (status, _, body) = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"ok");
    let (status, _, _) = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_without_a_database() {
    let app = TestApp::with_config(|c| {
        c.database_url = crate::helpers::admin_url()
            .rsplit_once('/')
            .unwrap()
            .0
            .to_string()
            + "/dojoql_no_such_database";
    })
    .await;
    let (status, _, _) = send(&app, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // The process itself is still healthy.
    let (status, _, _) = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_codes_over_http() {
    let app = TestApp::new().await;
    for (query, what) in [
        ("{ productTypes { nodes { nope } } }", "unknown field"),
        ("{ productTypes { nodes { name } }", "syntax error"),
        (
            "{ findings(filter: {severity: [SUPER]}) { totalCount } }",
            "unknown enum value",
        ),
    ] {
        let body = json!({ "query": query }).to_string();
        let (status, _, out) = send(&app, post(Some("application/json"), body)).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        let v = json_of(&out);
        assert_eq!(code(&v), "BAD_USER_INPUT", "{what}: {v:#}");
        assert!(v["data"].is_null(), "{what}");
    }
    let gone = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Engagement, 999_999);
    let body = json!({
        "query": "mutation($id: ID!) { closeEngagement(input: {id: $id}) { engagement { id } } }",
        "variables": { "id": gone },
    });
    let (status, _, out) = send(&app, post(Some("application/json"), body.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&json_of(&out)), "NOT_FOUND");
}
