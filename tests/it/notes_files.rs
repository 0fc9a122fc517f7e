//! Notes and file attachments on engagements, tests and findings; uploads go through the HTTP
//! router as GraphQL multipart requests, downloads through `GET /files/{id}`.

use axum::{
    body::Body,
    http::{Request, Response, StatusCode, header},
};
use dojoql::domain::ids::{NodeKind, encode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::helpers::{TestApp, assert_code, error_code};

const NOTE: &str =
    "id databaseId entry private edited parentId author { username } created updated";
const FILE: &str = "id databaseId title filename contentType size sha256 downloadUrl parentId";

async fn add_note(app: &TestApp, parent: &str, entry: &str) -> Value {
    let q = format!(
        "mutation($p: ID!, $e: String!) {{ addNote(input: {{parentId: $p, entry: $e}}) {{ note {{ {NOTE} }} }} }}"
    );
    app.ok(&q, json!({ "p": parent, "e": entry })).await["addNote"]["note"].clone()
}

/// The notes listed on a parent (any node with a `notes` field).
async fn notes_of(app: &TestApp, parent: &str) -> Vec<String> {
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) {
               ... on Engagement { notes { entry } } ... on Test { notes { entry } } ... on Finding { notes { entry } } } }",
            json!({ "id": parent }),
        )
        .await;
    d["node"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["entry"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_on_engagements_tests_and_findings() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "f", "LOW").await;
    for parent in [&h.engagement, &h.test, &finding] {
        let first = add_note(&app, parent, "first").await;
        assert_eq!(first["entry"], "first");
        assert_eq!(first["edited"], false);
        assert_eq!(first["private"], false);
        assert_eq!(first["parentId"], parent.as_str());
        add_note(&app, parent, "second").await;
        add_note(&app, parent, "third").await;
        assert_eq!(
            notes_of(&app, parent).await,
            ["first", "second", "third"],
            "oldest first"
        );

        // Edit the first one: it stays first and is marked edited.
        let d = app
            .ok(
                &format!("mutation($id: ID!) {{ updateNote(input: {{id: $id, entry: \"first, edited\", private: true}}) {{ note {{ {NOTE} }} }} }}"),
                json!({ "id": first["id"] }),
            )
            .await;
        let n = &d["updateNote"]["note"];
        assert_eq!(n["entry"], "first, edited");
        assert_eq!(n["edited"], true);
        assert_eq!(n["private"], true);
        assert_eq!(n["id"], first["id"]);
        assert_eq!(
            notes_of(&app, parent).await,
            ["first, edited", "second", "third"]
        );

        // Delete it.
        let d = app
            .ok(
                "mutation($id: ID!) { deleteNote(input: {id: $id}) { deletedId } }",
                json!({ "id": first["id"] }),
            )
            .await;
        assert_eq!(d["deleteNote"]["deletedId"], first["id"]);
        assert_eq!(notes_of(&app, parent).await, ["second", "third"]);
    }
    assert_eq!(app.count("notes").await, 6);
    // Each parent sees only its own notes.
    assert_eq!(app.count("notes WHERE finding_id IS NOT NULL").await, 2);
    assert_eq!(app.count("notes WHERE test_id IS NOT NULL").await, 2);
    assert_eq!(app.count("notes WHERE engagement_id IS NOT NULL").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn note_as_a_node_with_its_author() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let u = app
        .ok(
            "mutation { createUser(input: {username: \"bob\"}) { user { id } } }",
            json!({}),
        )
        .await;
    let q = format!(
        "mutation($p: ID!, $a: ID!) {{ addNote(input: {{parentId: $p, entry: \"hi\", private: true, authorId: $a}}) {{ note {{ {NOTE} }} }} }}"
    );
    let d = app
        .ok(
            &q,
            json!({ "p": h.test, "a": u["createUser"]["user"]["id"] }),
        )
        .await;
    let note = &d["addNote"]["note"];
    assert_eq!(note["author"]["username"], "bob");
    let d = app
        .ok(
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ __typename ... on Note {{ {NOTE} }} }} }}"
            ),
            json!({ "id": note["id"] }),
        )
        .await;
    assert_eq!(d["node"]["__typename"], "Note");
    assert_eq!(d["node"]["entry"], "hi");
    assert_eq!(d["node"]["private"], true);
    assert_eq!(d["node"]["parentId"], h.test.as_str());
    assert_eq!(d["node"]["author"]["username"], "bob");
    assert_eq!(d["node"]["databaseId"], note["databaseId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn note_errors() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let note = add_note(&app, &h.engagement, "kept").await;
    let before = app.snapshot().await;
    let add = "mutation($p: ID!, $e: String!) { addNote(input: {parentId: $p, entry: $e}) { note { id } } }";
    // A product (or product type) cannot carry notes.
    assert_eq!(
        app.err(add, json!({ "p": h.product, "e": "x" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(add, json!({ "p": h.product_type, "e": "x" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(add, json!({ "p": "garbage", "e": "x" })).await,
        "BAD_USER_INPUT"
    );
    // Empty or blank entries.
    assert_eq!(
        app.err(add, json!({ "p": h.test, "e": "" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(add, json!({ "p": h.test, "e": "  \n " })).await,
        "BAD_USER_INPUT"
    );
    // Missing parents of each kind.
    for kind in [NodeKind::Engagement, NodeKind::Test, NodeKind::Finding] {
        assert_eq!(
            app.err(add, json!({ "p": encode(kind, 999_999), "e": "x" }))
                .await,
            "NOT_FOUND",
            "{kind:?}"
        );
    }
    // Updating to an empty entry, and missing notes.
    let upd = "mutation($id: ID!, $e: String) { updateNote(input: {id: $id, entry: $e}) { note { id } } }";
    assert_eq!(
        app.err(upd, json!({ "id": note["id"], "e": "" })).await,
        "BAD_USER_INPUT"
    );
    let gone = encode(NodeKind::Note, 999_999);
    assert_eq!(
        app.err(upd, json!({ "id": gone, "e": "x" })).await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.err(
            "mutation($id: ID!) { deleteNote(input: {id: $id}) { deletedId } }",
            json!({ "id": gone })
        )
        .await,
        "NOT_FOUND"
    );
    // A note id of the wrong kind.
    assert_eq!(
        app.err(upd, json!({ "id": h.test, "e": "x" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before);
}

// ---- files ----

const BOUNDARY: &str = "dojoqlTestBoundary7MA4YWxkTrZu0gW";

/// A GraphQL multipart request (graphql-multipart-request-spec) uploading `bytes` as `$f`.
fn upload_request(parent: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Request<Body> {
    let operations = json!({
        "query": format!("mutation($p: ID!, $f: Upload!) {{ uploadFile(input: {{parentId: $p, file: $f}}) {{ file {{ {FILE} }} }} }}"),
        "variables": { "p": parent, "f": null },
    });
    let mut body = Vec::new();
    let mut part = |headers: &str, content: &[u8]| {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"operations\"",
        operations.to_string().as_bytes(),
    );
    part(
        "Content-Disposition: form-data; name=\"map\"",
        br#"{"0": ["variables.f"]}"#,
    );
    part(
        &format!(
            "Content-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\nContent-Type: {content_type}"
        ),
        bytes,
    );
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Request::post("/graphql")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap()
}

async fn send(app: &TestApp, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res: Response<Body> = app.router().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, bytes)
}

/// Uploads through HTTP; returns the status and the JSON response.
async fn upload(app: &TestApp, parent: &str, filename: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let (status, _, body) = send(app, upload_request(parent, filename, "text/plain", bytes)).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, json)
}

async fn download(app: &TestApp, url: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    send(app, Request::get(url).body(Body::empty()).unwrap()).await
}

async fn files_of(app: &TestApp, parent: &str) -> Vec<Value> {
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) {
               ... on Engagement { files { id filename } } ... on Test { files { id filename } } ... on Finding { files { id filename } } } }",
            json!({ "id": parent }),
        )
        .await;
    d["node"]["files"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_download_and_delete_a_file() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "f", "HIGH").await;
    // Every byte value, so any text mangling would show.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let (status, r) = upload(&app, &finding, "evidence.bin", &bytes).await;
    assert_eq!(status, StatusCode::OK);
    assert!(r.get("errors").is_none(), "{r:#}");
    let file = r["data"]["uploadFile"]["file"].clone();
    assert_eq!(file["filename"], "evidence.bin");
    assert_eq!(
        file["title"], "evidence.bin",
        "the title defaults to the file name"
    );
    assert_eq!(file["contentType"], "text/plain");
    assert_eq!(file["size"], 3000);
    assert_eq!(file["sha256"], format!("{:x}", Sha256::digest(&bytes)));
    assert_eq!(file["parentId"], finding.as_str());
    let url = file["downloadUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with('/'), "{url}");

    // Download: the exact bytes, as an attachment, never sniffed.
    let (status, headers, body) = download(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, bytes);
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(disposition.contains("evidence.bin"), "{disposition}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");

    // Listed on the finding, and reachable as a node.
    assert_eq!(
        files_of(&app, &finding).await,
        vec![json!({ "id": file["id"], "filename": "evidence.bin" })]
    );
    let d = app
        .ok(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on File {{ {FILE} }} }} }}"),
            json!({ "id": file["id"] }),
        )
        .await;
    assert_eq!(d["node"], file);

    // Delete: gone from the list, the table and the download URL.
    let d = app
        .ok(
            "mutation($id: ID!) { deleteFile(input: {id: $id}) { deletedId } }",
            json!({ "id": file["id"] }),
        )
        .await;
    assert_eq!(d["deleteFile"]["deletedId"], file["id"]);
    assert!(files_of(&app, &finding).await.is_empty());
    assert_eq!(app.count("files").await, 0);
    let (status, _, _) = download(&app, &url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Deleting again: not found.
    let code = app
        .err(
            "mutation($id: ID!) { deleteFile(input: {id: $id}) { deletedId } }",
            json!({ "id": file["id"] }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_on_engagements_and_tests_oldest_first() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    for parent in [&h.engagement, &h.test] {
        for name in ["one.txt", "two.txt"] {
            let (status, r) = upload(&app, parent, name, name.as_bytes()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                r["data"]["uploadFile"]["file"]["parentId"],
                parent.as_str(),
                "{r:#}"
            );
        }
        let names: Vec<_> = files_of(&app, parent)
            .await
            .iter()
            .map(|f| f["filename"].clone())
            .collect();
        assert_eq!(names, ["one.txt", "two.txt"]);
    }
    assert_eq!(app.count("files").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_names_are_sanitised() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let (_, r) = upload(&app, &h.test, "a b;c.html", b"<script>alert(1)</script>").await;
    let url = r["data"]["uploadFile"]["file"]["downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, headers, body) = download(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"<script>alert(1)</script>");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"a_b_c.html\""
    );
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    // Unknown and malformed file ids.
    assert_eq!(
        download(&app, "/files/999999").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(download(&app, "/files/abc").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_errors_store_nothing() {
    let app = TestApp::with_config(|c| c.max_upload_bytes = 1024).await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "f", "HIGH").await;
    let before = app.snapshot().await;

    // Over the limit.
    let (status, r) = upload(&app, &finding, "big.bin", &[7u8; 2048]).await;
    let code = error_code(&r);
    assert!(
        status == StatusCode::PAYLOAD_TOO_LARGE || code == Some("PAYLOAD_TOO_LARGE"),
        "{status} {r:#}"
    );
    assert_eq!(code, Some("PAYLOAD_TOO_LARGE"), "{r:#}");
    assert_eq!(app.count("files").await, 0);

    // Exactly at the limit is fine.
    let (status, r) = upload(&app, &finding, "edge.bin", &[7u8; 1024]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["data"]["uploadFile"]["file"]["size"], 1024, "{r:#}");
    let after_ok = app.snapshot().await;
    assert_ne!(after_ok, before);

    // A product cannot carry files; a missing parent is not found.
    let (_, r) = upload(&app, &h.product, "x.txt", b"x").await;
    assert_code(&r, "BAD_USER_INPUT");
    let (_, r) = upload(&app, &encode(NodeKind::Finding, 999_999), "x.txt", b"x").await;
    assert_code(&r, "NOT_FOUND");
    assert_eq!(app.snapshot().await, after_ok);
    assert_eq!(app.count("files").await, 1);
}
