//! Authentication: API tokens over HTTP (`Token` and `Bearer`), `me`, revocation, expiry, hashed
//! storage, and the `create-user` bootstrap command.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestApp, assert_code};

async fn post(
    app: &TestApp,
    authorization: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, Value) {
    let mut req = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    let body = json!({ "query": query, "variables": variables }).to_string();
    let res = app
        .raw_router()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn user_with_token(app: &TestApp, username: &str, extra: Value) -> (String, String, String) {
    let d = app
        .ok(
            "mutation($u: String!) { createUser(input: {username: $u}) { user { id } } }",
            json!({ "u": username }),
        )
        .await;
    let user = d["createUser"]["user"]["id"].as_str().unwrap().to_string();
    let mut input = json!({ "userId": user, "name": "ci" });
    crate::helpers::merge(&mut input, extra);
    let d = app
        .ok(
            "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id name expiresAt revokedAt user { username } } } }",
            json!({ "i": input }),
        )
        .await;
    let t = &d["createApiToken"];
    assert_eq!(t["apiToken"]["user"]["username"], username);
    (
        user,
        t["token"].as_str().unwrap().to_string(),
        t["apiToken"]["id"].as_str().unwrap().to_string(),
    )
}

const ME: &str = "{ me { user { username isSuperuser isActive } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_bearer_identify_the_caller() {
    let app = TestApp::new().await;
    let (_, token, _) = user_with_token(&app, "alice", json!({})).await;
    assert!(token.starts_with("dojoql_"));
    for scheme in ["Token", "Bearer", "token"] {
        let (status, body) = post(&app, Some(&format!("{scheme} {token}")), ME, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["data"]["me"]["user"],
            json!({ "username": "alice", "isSuperuser": false, "isActive": true })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_missing_revoked_and_expired_tokens_are_unauthenticated() {
    let app = TestApp::new().await;
    let (_, token, token_id) = user_with_token(&app, "bob", json!({})).await;

    let (_, body) = post(&app, None, ME, json!({})).await;
    assert_code(&body, "UNAUTHENTICATED");
    for bad in [
        "Token dojoql_0000",
        "Basic Ym9iOnB3",
        "Token",
        &format!("Token {token}x"),
    ] {
        let (status, body) = post(&app, Some(bad), ME, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_code(&body, "UNAUTHENTICATED");
    }

    let d = app
        .ok(
            "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } } }",
            json!({ "id": token_id }),
        )
        .await;
    assert!(d["revokeApiToken"]["apiToken"]["revokedAt"].is_string());
    let (status, _) = post(&app, Some(&format!("Token {token}")), ME, json!({})).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token stops working at once"
    );

    // Expired: create with a near future expiry, then move it into the past.
    let (_, token, _) = user_with_token(
        &app,
        "carol",
        json!({ "expiresAt": "2999-01-01T00:00:00Z" }),
    )
    .await;
    let (status, _) = post(&app, Some(&format!("Token {token}")), ME, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let mut c = app.sql().await;
    use diesel_async::SimpleAsyncConnection;
    c.batch_execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
        .await
        .unwrap();
    let (status, _) = post(&app, Some(&format!("Token {token}")), ME, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An inactive user's tokens stop working.
    let (_, token, _) = user_with_token(&app, "dave", json!({})).await;
    c.batch_execute("UPDATE users SET is_active = false WHERE username = 'dave'")
        .await
        .unwrap();
    let (status, _) = post(&app, Some(&format!("Token {token}")), ME, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_stored_hashed_and_shown_once() {
    let app = TestApp::new().await;
    let (_, token, token_id) = user_with_token(&app, "erin", json!({})).await;
    assert_eq!(
        app.count(&format!(
            "api_tokens WHERE token_hash LIKE '%{}%'",
            &token[7..]
        ))
        .await,
        0
    );
    assert_eq!(app.count("api_tokens").await, 2, "the tester's and erin's");
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on ApiToken { name databaseId } } }",
            json!({ "id": token_id }),
        )
        .await;
    assert_eq!(d["node"]["name"], "ci");
    assert!(
        !d.to_string().contains(&token),
        "the token itself is never readable again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_management_rules() {
    let app = TestApp::new().await;
    let (_, alice_token, _) = user_with_token(&app, "alice", json!({})).await;
    let (bob, _, bob_token_id) = user_with_token(&app, "bob", json!({})).await;
    let alice = Some(format!("Token {alice_token}"));
    // Alice may not mint or revoke Bob's tokens.
    let (_, body) = post(
        &app,
        alice.as_deref(),
        "mutation($u: ID!) { createApiToken(input: {userId: $u, name: \"x\"}) { token } }",
        json!({ "u": bob }),
    )
    .await;
    assert_code(&body, "FORBIDDEN");
    let (_, body) = post(
        &app,
        alice.as_deref(),
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } } }",
        json!({ "id": bob_token_id }),
    )
    .await;
    // Another user's token is as good as missing.
    assert_code(&body, "NOT_FOUND");
    assert_eq!(
        app.count("api_tokens WHERE revoked_at IS NOT NULL").await,
        0
    );
    // Bad input.
    let past = app
        .err(
            "mutation($u: ID!) { createApiToken(input: {userId: $u, name: \"x\", expiresAt: \"2000-01-01T00:00:00Z\"}) { token } }",
            json!({ "u": bob }),
        )
        .await;
    assert_eq!(past, "BAD_USER_INPUT");
    let missing = app
        .err(
            "mutation($u: ID!) { createApiToken(input: {userId: $u, name: \"x\"}) { token } }",
            json!({ "u": dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::User, 9999) }),
        )
        .await;
    assert_eq!(missing, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_user_command_prints_a_working_token_last() {
    let app = TestApp::new().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dojoql"))
        .args(["create-user", "--superuser", "root"])
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("dojoql_"), "{stdout}");
    let (status, body) = post(&app, Some(&format!("Token {token}")), ME, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["me"]["user"]["username"], "root");
    assert_eq!(body["data"]["me"]["user"]["isSuperuser"], true);

    // A second user of the same name is refused, and nothing is created.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dojoql"))
        .args(["create-user", "root"])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(app.count("api_tokens").await, 2, "the tester's and root's");
}
