//! GraphQL over websockets (`GET /graphql/ws`): both subprotocols, authentication in
//! `connection_init` and per operation, the protocol's close codes, limits, and authorization
//! applying over the socket as over HTTP.
//!
//! Every test serves the router on a real port and talks to it with tokio-tungstenite. Reads are
//! bounded by a generous timeout so a broken server fails a test instead of hanging it; only the
//! initialisation-timeout and token-expiry tests wait on purpose.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::helpers::{TestApp, assert_code, ws::*};

/// A new token of the user with global id `user` (and the token's global id).
async fn new_token(app: &TestApp, user: &str, extra: Value) -> (String, String) {
    let mut input = json!({ "userId": user, "name": "ws" });
    crate::helpers::merge(&mut input, extra);
    let d = app
        .ok(
            "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id } } }",
            json!({ "i": input }),
        )
        .await;
    (
        d["createApiToken"]["token"].as_str().unwrap().to_string(),
        d["createApiToken"]["apiToken"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

async fn revoke(app: &TestApp, token_id: &str) {
    app.ok(
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } } }",
        json!({ "id": token_id }),
    )
    .await;
}

const ME: &str = "{ me { user { username } } }";
const CREATE: &str =
    "mutation { createProductType(input: {name: \"WS\"}) { productType { name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_runs_queries_and_mutations() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;

    // ping is answered by pong.
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));

    let payload = run(&mut ws, TRANSPORT, "1", ME).await;
    assert_eq!(
        payload,
        json!({ "data": { "me": { "user": { "username": "tester" } } } })
    );

    let before = app.count("product_types").await;
    let payload = run(&mut ws, TRANSPORT, "2", CREATE).await;
    assert_eq!(
        payload["data"]["createProductType"]["productType"]["name"],
        "WS"
    );
    assert_eq!(app.count("product_types").await, before + 1);

    // An id may be reused once its operation has completed.
    let payload = run(&mut ws, TRANSPORT, "1", "{ __typename }").await;
    assert_eq!(payload["data"]["__typename"], "Query");

    // Variables and operationName are honoured.
    send(
        &mut ws,
        json!({ "type": "subscribe", "id": "3", "payload": {
            "query": "query A { __typename } query B($n: Int) { productTypes(first: $n) { nodes { name } } }",
            "operationName": "B",
            "variables": { "n": 5 },
        } }),
    )
    .await;
    let next = recv(&mut ws).await;
    assert_eq!(
        next["payload"]["data"]["productTypes"]["nodes"],
        json!([{ "name": "WS" }])
    );
    assert_eq!(recv(&mut ws).await["type"], "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_graphql_ws_runs_queries_and_mutations() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let mut ws = connect(addr, LEGACY).await;
    send(&mut ws, init(&app.root_token)).await;
    // The acknowledgement, then a first keep-alive right away.
    let ack = ws.next().await.unwrap().unwrap();
    assert_eq!(ack.to_text().unwrap(), r#"{"type":"connection_ack"}"#);
    let ka = ws.next().await.unwrap().unwrap();
    assert_eq!(ka.to_text().unwrap(), r#"{"type":"ka"}"#);

    let payload = run(&mut ws, LEGACY, "1", ME).await;
    assert_eq!(
        payload,
        json!({ "data": { "me": { "user": { "username": "tester" } } } })
    );

    let before = app.count("product_types").await;
    let payload = run(&mut ws, LEGACY, "2", CREATE).await;
    assert_eq!(
        payload["data"]["createProductType"]["productType"]["name"],
        "WS"
    );
    assert_eq!(app.count("product_types").await, before + 1);

    // A request error is a `data` message with the errors (then `complete`) in this protocol.
    let payload = run(&mut ws, LEGACY, "3", "{ nope }").await;
    assert_eq!(payload["data"], Value::Null);
    assert_code(&payload, "BAD_USER_INPUT");

    // connection_terminate ends the connection normally.
    send(&mut ws, json!({ "type": "connection_terminate" })).await;
    assert_eq!(closed(&mut ws).await, (1000, vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_reports_request_errors_as_error_messages() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;

    // A validation error: an `error` message, no `complete`, and the socket stays open.
    send(&mut ws, subscribe(TRANSPORT, "1", "{ nope }")).await;
    let error = recv(&mut ws).await;
    assert_eq!(error["type"], "error", "{error:#}");
    assert_eq!(error["id"], "1");
    assert_code(&error["payload"], "BAD_USER_INPUT");

    // A subscription goes through the streaming path; the schema has no subscription fields
    // yet, so it is refused the same way.
    send(
        &mut ws,
        subscribe(TRANSPORT, "2", "subscription { productChanged }"),
    )
    .await;
    let error = recv(&mut ws).await;
    assert_eq!(error["type"], "error", "{error:#}");
    assert_eq!(error["id"], "2");
    assert_code(&error["payload"], "BAD_USER_INPUT");

    // A field error (it has a path) is a result: `next` with the errors, then `complete`.
    let payload = run(&mut ws, TRANSPORT, "3", "{ node(id: \"garbage\") { id } }").await;
    assert_eq!(payload["errors"][0]["path"], json!(["node"]), "{payload:#}");

    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_without_a_valid_token_is_forbidden() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let alice = app.user("alice").await;
    let (revoked, revoked_id) = new_token(&app, &alice.id, json!({})).await;
    revoke(&app, &revoked_id).await;

    let no_token = [
        json!({ "type": "connection_init" }),
        json!({ "type": "connection_init", "payload": {} }),
        json!({ "type": "connection_init", "payload": { "Authorization": "Basic abc" } }),
    ];
    let bad_tokens = [
        init("dojoql_0000000000000000000000000000000000000000"),
        init(&revoked),
    ];
    for message in no_token.into_iter().chain(bad_tokens) {
        let mut ws = connect(addr, TRANSPORT).await;
        send(&mut ws, message.clone()).await;
        // Nothing (no ack) before the close.
        assert_eq!(closed(&mut ws).await, (4403, vec![]), "{message}");
    }

    // The revoked token's sibling still works: the refusal is about that token only.
    acked(addr, TRANSPORT, &alice.token).await;

    // Legacy: `connection_error` first, then the close.
    for message in [json!({ "type": "connection_init" }), init(&revoked)] {
        let mut ws = connect(addr, LEGACY).await;
        send(&mut ws, message).await;
        let (code, before) = closed(&mut ws).await;
        assert_eq!(code, 4403);
        assert_eq!(before.len(), 1, "{before:?}");
        assert_eq!(before[0]["type"], "connection_error");
        assert!(before[0]["payload"]["message"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_of_either_spelling_or_the_upgrade_header_is_accepted() {
    let app = TestApp::new().await;
    let addr = app.serve().await;

    let mut ws = connect(addr, TRANSPORT).await;
    let bearer = format!("Bearer {}", app.root_token);
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": bearer } }),
    )
    .await;
    assert_eq!(recv(&mut ws).await["type"], "connection_ack");

    // A non-browser client may authenticate on the upgrade request instead.
    let header = format!("Token {}", app.root_token);
    let mut ws = try_connect(addr, Some(TRANSPORT), &[("Authorization", &header)])
        .await
        .unwrap();
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(recv(&mut ws).await["type"], "connection_ack");
    let payload = run(&mut ws, TRANSPORT, "1", ME).await;
    assert_eq!(payload["data"]["me"]["user"]["username"], "tester");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_init_in_time_closes_4408() {
    let app = TestApp::with_config(|c| c.ws_init_timeout = Duration::from_millis(500)).await;
    let addr = app.serve().await;
    for protocol in [TRANSPORT, LEGACY] {
        let mut ws = connect(addr, protocol).await;
        let started = std::time::Instant::now();
        // A ping does not count as initialisation.
        if protocol == TRANSPORT {
            send(&mut ws, json!({ "type": "ping" })).await;
            assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
        }
        assert_eq!(closed(&mut ws).await, (4408, vec![]));
        assert!(started.elapsed() >= Duration::from_millis(400));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_close_the_socket() {
    let app = TestApp::new().await;
    let addr = app.serve().await;

    // subscribe before the acknowledgement: 4401, and the operation does not run.
    for protocol in [TRANSPORT, LEGACY] {
        let before = app.count("product_types").await;
        let mut ws = connect(addr, protocol).await;
        send(&mut ws, subscribe(protocol, "1", CREATE)).await;
        assert_eq!(closed(&mut ws).await, (4401, vec![]), "{protocol}");
        assert_eq!(app.count("product_types").await, before);
    }

    // A second connection_init: 4429.
    for protocol in [TRANSPORT, LEGACY] {
        let mut ws = acked(addr, protocol, &app.root_token).await;
        send(&mut ws, init(&app.root_token)).await;
        assert_eq!(closed(&mut ws).await, (4429, vec![]), "{protocol}");
    }

    // Invalid JSON, an unknown type, a message of the other protocol, a subscribe without
    // id: 4400.
    let invalid = [
        "{not json".to_string(),
        json!({ "type": "bogus" }).to_string(),
        subscribe(LEGACY, "1", ME).to_string(),
        json!({ "type": "subscribe", "payload": { "query": ME } }).to_string(),
    ];
    for text in invalid {
        let mut ws = acked(addr, TRANSPORT, &app.root_token).await;
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(closed(&mut ws).await, (4400, vec![]), "{text}");
    }
    let mut ws = acked(addr, LEGACY, &app.root_token).await;
    send(&mut ws, subscribe(TRANSPORT, "1", ME)).await;
    assert_eq!(closed(&mut ws).await, (4400, vec![]));
}

/// Operations that stay running: with a dataloader delay of a minute, any field loaded through
/// the loader (`me` is) waits that long, so these operations are still running when the
/// following messages arrive, deterministically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_operations_complete_duplicates_and_the_concurrency_cap() {
    let app = TestApp::with_config(|c| c.loader_delay = Duration::from_secs(60)).await;
    let addr = app.serve().await;
    for protocol in [TRANSPORT, LEGACY] {
        let mut ws = acked(addr, protocol, &app.root_token).await;

        // complete (legacy: stop) aborts a running operation and frees its id.
        send(&mut ws, subscribe(protocol, "slow", ME)).await;
        let stop = if protocol == LEGACY {
            "stop"
        } else {
            "complete"
        };
        send(&mut ws, json!({ "type": stop, "id": "slow" })).await;
        if protocol == LEGACY {
            // The legacy protocol confirms the stop.
            assert_eq!(
                recv(&mut ws).await,
                json!({ "type": "complete", "id": "slow" })
            );
        }
        let payload = run(&mut ws, protocol, "slow", "{ __typename }").await;
        assert_eq!(payload["data"]["__typename"], "Query");

        // 100 running operations; the 101st is refused on its own and the socket stays open.
        for i in 0..100 {
            send(&mut ws, subscribe(protocol, &format!("s{i}"), ME)).await;
        }
        send(&mut ws, subscribe(protocol, "s100", ME)).await;
        let refused = recv(&mut ws).await;
        assert_eq!(refused["type"], "error", "{refused:#}");
        assert_eq!(refused["id"], "s100");
        assert_code(&refused["payload"], "BAD_USER_INPUT");
        if protocol == TRANSPORT {
            send(&mut ws, json!({ "type": "ping" })).await;
            assert_eq!(recv(&mut ws).await, json!({ "type": "pong" }));
        }

        // Stopping one makes room for another.
        send(&mut ws, json!({ "type": stop, "id": "s0" })).await;
        if protocol == LEGACY {
            assert_eq!(recv(&mut ws).await["type"], "complete");
        }
        send(&mut ws, subscribe(protocol, "s100", ME)).await;

        // An id that is running: 4409 (with nothing before it, so "s100" was accepted above).
        send(&mut ws, subscribe(protocol, "s1", "{ __typename }")).await;
        assert_eq!(closed(&mut ws).await, (4409, vec![]), "{protocol}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_revoked_after_ack_closes_on_the_next_operation() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let alice = app.user("alice").await;
    for protocol in [TRANSPORT, LEGACY] {
        let before = app.count("product_types").await;
        let (token, token_id) = new_token(&app, &alice.id, json!({})).await;
        let mut ws = acked(addr, protocol, &token).await;
        let payload = run(&mut ws, protocol, "1", ME).await;
        assert_eq!(payload["data"]["me"]["user"]["username"], "alice");

        revoke(&app, &token_id).await;
        send(&mut ws, subscribe(protocol, "2", ME)).await;
        assert_eq!(closed(&mut ws).await, (4403, vec![]), "{protocol}");
        assert_eq!(app.count("product_types").await, before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivated_user_is_refused_on_the_next_operation() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let alice = app.user("alice").await;
    let mut ws = acked(addr, TRANSPORT, &alice.token).await;
    run(&mut ws, TRANSPORT, "1", ME).await;

    app.ok(
        "mutation($id: ID!) { updateUser(input: {id: $id, isActive: false}) { user { id } } }",
        json!({ "id": alice.id }),
    )
    .await;

    send(&mut ws, subscribe(TRANSPORT, "2", ME)).await;
    assert_eq!(closed(&mut ws).await, (4403, vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_closes_when_its_token_expires() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let alice = app.user("alice").await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(3);
    let (token, _) = new_token(
        &app,
        &alice.id,
        json!({ "expiresAt": expires.to_rfc3339() }),
    )
    .await;
    let mut ws = acked(addr, TRANSPORT, &token).await;
    let payload = run(&mut ws, TRANSPORT, "1", ME).await;
    assert_eq!(payload["data"]["me"]["user"]["username"], "alice");
    assert_eq!(closed(&mut ws).await, (4403, vec![]));
    assert!(chrono::Utc::now() >= expires);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_applies_over_websockets() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let product_type = app.product_type("PT").await;
    app.product(&product_type, "P").await;
    let alice = app.user("alice").await;
    let query = "{ products(first: 10) { totalCount } }";

    for protocol in [TRANSPORT, LEGACY] {
        let mut root = acked(addr, protocol, &app.root_token).await;
        let payload = run(&mut root, protocol, "1", query).await;
        assert_eq!(payload["data"]["products"]["totalCount"], 1, "{protocol}");

        // A user without roles sees nothing, and may not create product types.
        let mut ws = acked(addr, protocol, &alice.token).await;
        let payload = run(&mut ws, protocol, "1", query).await;
        assert_eq!(payload["data"]["products"]["totalCount"], 0, "{protocol}");
        let before = app.count("product_types").await;
        let payload = run(&mut ws, protocol, "2", CREATE).await;
        assert_code(&payload, "FORBIDDEN");
        assert_eq!(app.count("product_types").await, before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_unknown_subprotocol_is_refused_with_400() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    for protocol in [None, Some("graphql-sse"), Some("")] {
        let err = try_connect(addr, protocol, &[]).await.err();
        let Some(tungstenite::Error::Http(response)) = err else {
            panic!("expected an HTTP refusal for {protocol:?}, got {err:?}");
        };
        assert_eq!(response.status(), 400, "{protocol:?}");
        let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert_code(&body, "BAD_USER_INPUT");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(TRANSPORT)
        );
    }

    // Offering both picks graphql-transport-ws (checked by `try_connect`).
    let mut ws = try_connect(addr, Some("graphql-ws, graphql-transport-ws"), &[])
        .await
        .unwrap();
    send(&mut ws, init(&app.root_token)).await;
    assert_eq!(recv(&mut ws).await["type"], "connection_ack");
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(recv(&mut ws).await["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_above_max_body_bytes_close_1009() {
    let app = TestApp::with_config(|c| c.max_body_bytes = 4096).await;
    let addr = app.serve().await;
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;

    // Just under the cap is fine.
    let padding = " ".repeat(3000);
    let payload = run(
        &mut ws,
        TRANSPORT,
        "1",
        &format!("{{ __typename {padding}}}"),
    )
    .await;
    assert_eq!(payload["data"]["__typename"], "Query");

    let padding = " ".repeat(5000);
    send(
        &mut ws,
        subscribe(TRANSPORT, "2", &format!("{{ __typename {padding}}}")),
    )
    .await;
    assert_eq!(closed(&mut ws).await, (1009, vec![]));
}
