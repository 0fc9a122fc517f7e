//! The attacks of the hardening report, each against a real server on a local port: fragment
//! fan-out, lists that multiply rows, slow headers and bodies, uploads before authentication or
//! permission, NUL bytes, the demo token on a foreign `Host`, and the smaller holes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, TestUser, assert_code, error_code, ws};

/// The status line and body of an HTTP/1.1 exchange on a fresh connection (`Connection: close`).
async fn http(addr: std::net::SocketAddr, request: Vec<u8>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("the server answers")
        .unwrap();
    parse_response(&out)
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post(token: Option<&str>, body: &str) -> Vec<u8> {
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn query_body(query: &str) -> String {
    json!({ "query": query }).to_string()
}

/// The code every error of `v` carries ([`error_code`]), `""` without errors.
fn code(v: &Value) -> &str {
    error_code(v).unwrap_or("")
}

/// A reader of product `P` (with a finding) of a fresh app.
async fn reader_app() -> (TestApp, TestUser, String) {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "F", "HIGH").await;
    let reader = app.user("reader").await;
    app.grant_product(&h.product, &reader.id, "READER").await;
    (app, reader, finding)
}

/// `{ ...F0 }` with `levels` fragments, each spreading the next `fan` times (through inline
/// fragments when `inline`): 1.7 KB at 40 levels, 2^40 fields once expanded.
fn fan_out(levels: usize, fan: usize, inline: bool) -> String {
    let mut q = String::from("{ ...F0 }");
    for i in 0..levels {
        let spread = format!("...F{}", i + 1);
        let body: Vec<String> = (0..fan)
            .map(|_| {
                if inline {
                    format!("... on Query {{ {spread} }}")
                } else {
                    spread.clone()
                }
            })
            .collect();
        q.push_str(&format!(" fragment F{i} on Query {{ {} }}", body.join(" ")));
    }
    q.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_fan_out_is_refused_at_once_while_health_answers() {
    let (app, reader, _) = reader_app().await;
    let addr = app.serve().await;
    for (levels, fan, inline) in [(40, 2, false), (40, 2, true), (26, 3, false)] {
        let doc = fan_out(levels, fan, inline);
        app.statements().start_recording();
        let started = Instant::now();
        let attack = tokio::spawn(http(addr, post(Some(&reader.token), &query_body(&doc))));
        let health = http(
            addr,
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_vec(),
        )
        .await;
        assert_eq!(health.0, 200, "health answers beside the attack");
        let (status, body) = attack.await.unwrap();
        let elapsed = started.elapsed();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, code(&v)), (200, "BAD_USER_INPUT"), "{body}");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("selections"),
            "{body}"
        );
        // Only the token lookup ran: nothing of the query reached the database.
        let sql = app.statements().take();
        assert!(
            sql.iter()
                .all(|s| s.contains("api_tokens") || s.contains("global_role")),
            "{sql:?}"
        );
        // Linear analysis answers in microseconds (see scripts/bench-limits); the exponential
        // walk this replaces took 10 s at 27 levels and minutes at 40. A wide margin for a
        // loaded CI machine still tells the two apart.
        assert!(
            elapsed < Duration::from_secs(3),
            "{levels}×{fan}: {elapsed:?}"
        );
    }
    // The same over a websocket.
    let mut socket = ws::acked(addr, ws::TRANSPORT, &reader.token).await;
    ws::send(
        &mut socket,
        ws::subscribe(ws::TRANSPORT, "1", &fan_out(40, 2, false)),
    )
    .await;
    let reply = ws::recv(&mut socket).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_code(&reply["payload"], "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_count_their_rows() {
    let (app, reader, finding) = reader_app().await;
    let ids = vec![finding.clone(); 100];
    let inner = "product { findings(first: 100) { nodes { product { findings(first: 100) { nodes { id title } } } } } }";
    let aliases: String = (0..4)
        .map(|i| format!("a{i}: nodes(ids: $ids) {{ ... on Finding {{ {inner} }} }} "))
        .collect();
    let q = format!("query($ids: [ID!]!) {{ {aliases} }}");
    let principal = app.refresh(&reader).await;
    app.statements().start_recording();
    let r = app.gql_as(&principal, &q, json!({ "ids": ids })).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nodes")
    );
    assert!(app.statements().take().is_empty(), "refused before any SQL");
    // Plain lists take `first` and count by it.
    let q = "query($id: ID!) { node(id: $id) { ... on Finding { notes(first: 0) { entry } } } }";
    let r = app.gql(q, json!({ "id": finding })).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    for i in 0..3 {
        app.ok(
            "mutation($p: ID!, $e: String!) { addNote(input: {parentId: $p, entry: $e}) { note { id } } }",
            json!({ "p": finding, "e": format!("n{i}") }),
        )
        .await;
    }
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Finding { two: notes(first: 2) { entry } all: notes { entry } } } }",
            json!({ "id": finding }),
        )
        .await;
    assert_eq!(
        d["node"]["two"],
        json!([{ "entry": "n0" }, { "entry": "n1" }])
    );
    assert_eq!(d["node"]["all"].as_array().unwrap().len(), 3);
    // Stored lists are capped, so that counting them by their cap is true.
    let r = app
        .gql(
            "mutation($id: ID!, $t: [String!]) { updateFinding(input: {id: $id, tags: $t}) { finding { id } } }",
            json!({ "id": finding, "t": (0..101).map(|i| format!("t{i}")).collect::<Vec<_>>() }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_responses_are_replaced_by_an_error() {
    let app = TestApp::with_config(|c| c.max_response_bytes = 2_000).await;
    let h = app.hierarchy().await;
    for i in 0..30 {
        app.finding(&h.test, &format!("finding number {i}"), "LOW")
            .await;
    }
    let addr = app.serve().await;
    let q = "{ findings(first: 100) { nodes { id title description severity } } }";
    let (status, body) = http(addr, post(Some(&app.root_token), &query_body(q))).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, code(&v)), (200, "RESPONSE_TOO_LARGE"), "{body}");
    assert!(body.len() < 2_000);
    // Small answers pass.
    let (_, body) = http(
        addr,
        post(
            Some(&app.root_token),
            &query_body("{ findings(first: 1) { totalCount } }"),
        ),
    )
    .await;
    assert!(body.contains("\"totalCount\":30"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_bodies_are_cut_off() {
    let app = TestApp::with_config(|c| {
        c.header_read_timeout = Duration::from_millis(300);
        c.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    let addr = app.serve().await;
    // Header lines trickling in: the connection is closed once the header timeout passes.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let closed = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break true;
        }
        match tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
    };
    assert!(closed, "a slow-header client is disconnected");
    // An idle connection (no request at all) is closed too.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf))
        .await
        .expect("the idle connection is closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // A body trickling in: 408 once the body timeout passes.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"query\":",
        app.root_token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let reader = async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&chunk[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the server answers a slow body");
    assert_eq!(
        parse_response(&out).0,
        408,
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait() {
    let app = TestApp::with_config(|c| c.max_connections = 2).await;
    let addr = app.serve().await;
    // A websocket keeps its connection's place after the upgrade.
    let a = ws::acked(addr, ws::TRANSPORT, &app.root_token).await;
    let _b = TcpStream::connect(addr).await.unwrap();
    // Let the server accept both (it accepts in order).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = tokio::spawn(http(
        addr,
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_vec(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third connection waits");
    drop(a);
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(status, 200);
}

/// The head of a multipart upload of `size` bytes to `parent`, and its first `sent` bytes of
/// file content (the rest is never sent).
fn partial_upload(token: Option<&str>, parent: &str, size: usize) -> (Vec<u8>, usize) {
    const B: &str = "hardeningBoundary";
    let operations = json!({
        "query": "mutation($p: ID!, $f: Upload!) { uploadFile(input: {parentId: $p, file: $f}) { file { id } } }",
        "variables": { "p": parent, "f": null },
    });
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
             --{B}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n\
             --{B}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    let preamble = body.len();
    let total = preamble + size + format!("\r\n--{B}--\r\n").len();
    body.extend(std::iter::repeat_n(b'x', 64 * 1024));
    let auth = token
        .map(|t| format!("Authorization: Token {t}\r\n"))
        .unwrap_or_default();
    let mut req = format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: multipart/form-data; boundary={B}\r\nContent-Length: {total}\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(&body);
    (req, total)
}

/// Sends a request's first bytes only and reads the answer the server gives without the rest.
pub(crate) async fn answer_without_body(addr: std::net::SocketAddr, head: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head).await.unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
            let (status, body) = parse_response(&out);
            if status != 0 && serde_json::from_str::<Value>(&body).is_ok() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("answered before the body was sent");
    parse_response(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_refused_before_their_bytes_are_read() {
    let (app, reader, finding) = reader_app().await;
    let addr = app.serve().await;
    let size = 50 * 1024 * 1024;
    // No token: 401 after the headers, while 50 MB are still unsent.
    let (head, _) = partial_upload(None, &finding, size);
    let (status, body) = answer_without_body(addr, &head).await;
    assert_eq!(status, 401, "{body}");
    // A READER may not attach files: refused after `operations` and `map`, before the file.
    let (head, _) = partial_upload(Some(&reader.token), &finding, size);
    let (status, body) = answer_without_body(addr, &head).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, code(&v)), (200, "FORBIDDEN"), "{body}");
    // Another tenant's finding: NOT_FOUND, as for an id that does not exist.
    let other = app.user("outsider").await;
    let (head, _) = partial_upload(Some(&other.token), &finding, size);
    let (_, body) = answer_without_body(addr, &head).await;
    assert_eq!(
        code(&serde_json::from_str(&body).unwrap()),
        "NOT_FOUND",
        "{body}"
    );
    assert_eq!(app.count("files").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_requests_are_checked_part_by_part() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "F", "HIGH").await;
    let addr = app.serve().await;
    const B: &str = "b0undary";
    let part = |name: &str, extra: &str, content: &str| {
        format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n{content}\r\n"
        )
    };
    let send = |parts: String| {
        let body = format!("{parts}--{B}--\r\n");
        let req = format!(
            "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Token {}\r\nContent-Type: multipart/form-data; boundary={B}\r\nContent-Length: {}\r\n\r\n{body}",
            app.root_token,
            body.len()
        );
        http(addr, req.into_bytes())
    };
    let ops = |vars: Value| {
        json!({
            "query": "mutation($p: ID!, $f: Upload!) { uploadFile(input: {parentId: $p, file: $f}) { file { filename } } }",
            "variables": vars,
        })
        .to_string()
    };
    // Eleven files where ten are allowed.
    let map: serde_json::Map<String, Value> = (0..11)
        .map(|i| (i.to_string(), json!(["variables.f"])))
        .collect();
    let (status, body) = send(
        part("operations", "", &ops(json!({ "p": finding, "f": null })))
            + &part("map", "", &Value::Object(map).to_string()),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    // A file for a field that takes none, and a file name with NUL.
    let (status, body) = send(
        part(
            "operations",
            "",
            &json!({ "query": "mutation($f: Upload) { __typename }", "variables": { "f": null } })
                .to_string(),
        ) + &part("map", "", r#"{"0": ["variables.f"]}"#)
            + &part("0", "; filename=\"a.txt\"", "x"),
    )
    .await;
    assert!(body.contains("BAD_USER_INPUT"), "{status} {body}");
    let (status, body) = send(
        part("operations", "", &ops(json!({ "p": finding, "f": null })))
            + &part("map", "", r#"{"0": ["variables.f"]}"#)
            + &part("0", "; filename=\"a\0b.txt\"", "x"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // Parts out of order.
    let (status, body) = send(
        part("map", "", r#"{"0": ["variables.f"]}"#)
            + &part("operations", "", &ops(json!({ "p": finding, "f": null }))),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.count("files").await, 0);
    // And a well-formed upload works.
    let (status, body) = send(
        part("operations", "", &ops(json!({ "p": finding, "f": null })))
            + &part("map", "", r#"{"0": ["variables.f"]}"#)
            + &part(
                "0",
                "; filename=\"a.txt\"\r\nContent-Type: text/plain",
                "hello",
            ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"filename\":\"a.txt\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_bad_input() {
    let (app, reader, _) = reader_app().await;
    let principal = app.refresh(&reader).await;
    let r = app
        .gql_as(
            &principal,
            r#"{ findings(first: 5, filter: {titleContains: "a\u0000b"}) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let r = app
        .gql_as(
            &principal,
            "query($t: String) { findings(first: 5, filter: {titleContains: $t}) { totalCount } }",
            json!({ "t": "a\u{0}b" }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let r = app
        .gql(
            "mutation($n: String!) { createProductType(input: {name: $n}) { productType { id } } }",
            json!({ "n": "x\u{0}" }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_token_is_served_only_to_local_hosts() {
    let mut app = TestApp::new().await;
    app.state.graphiql_token = Some(std::sync::Arc::from(app.root_token.as_str()));
    let addr = app.serve().await;
    let page = |host: &str| {
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        http(addr, req.into_bytes())
    };
    for local in ["127.0.0.1:8080", "localhost", "LOCALHOST:9", "[::1]:8080"] {
        let (status, body) = page(local).await;
        assert_eq!(status, 200);
        assert!(body.contains(&app.root_token), "{local} gets the token");
    }
    for foreign in [
        "evil.example",
        "evil.example:8080",
        "127.0.0.1.evil.example",
        "10.1.2.3",
    ] {
        let (status, body) = page(foreign).await;
        assert_eq!(status, 200, "GraphiQL is still served");
        assert!(!body.contains(&app.root_token), "{foreign} gets no token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_types_must_match_exactly() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let q = query_body("{ __typename }");
    for (ty, expected) in [
        ("application/jsonp", 415),
        ("application/json-patch+json", 415),
        ("application/graphql-response+json", 415),
        ("text/plain", 415),
        ("application/json; charset=latin1", 415),
        ("application/json", 200),
        ("Application/JSON; charset=UTF-8", 200),
    ] {
        let req = format!(
            "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Token {}\r\nContent-Type: {ty}\r\nContent-Length: {}\r\n\r\n{q}",
            app.root_token,
            q.len()
        );
        let (status, body) = http(addr, req.into_bytes()).await;
        assert_eq!(status, expected, "{ty}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_selects_exactly_one_root_field() {
    let app = TestApp::with_events(|_| {}).await;
    let addr = app.serve().await;
    let mut socket = ws::acked(addr, ws::TRANSPORT, &app.root_token).await;
    ws::send(
        &mut socket,
        ws::subscribe(
            ws::TRANSPORT,
            "1",
            "subscription { events { eventId } findingsImported { eventId } }",
        ),
    )
    .await;
    let reply = ws::recv(&mut socket).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert!(
        reply["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("exactly one root field"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_the_size_limit_are_refused_unparsed() {
    let app = TestApp::with_config(|c| c.query_limits.max_query_bytes = 10_000).await;
    let addr = app.serve().await;
    let long = format!("{{ {} }}", "__typename ".repeat(2_000));
    let (status, body) = http(addr, post(Some(&app.root_token), &query_body(&long))).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, code(&v)), (200, "BAD_USER_INPUT"), "{body}");
    assert!(body.contains("bytes long"), "{body}");
    let mut socket = ws::acked(addr, ws::TRANSPORT, &app.root_token).await;
    ws::send(&mut socket, ws::subscribe(ws::TRANSPORT, "1", &long)).await;
    let reply = ws::recv(&mut socket).await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert!(reply.to_string().contains("bytes long"), "{reply}");
}
