//! Token lineage: a token created through a token never outlives it. It inherits the parent's
//! expiry, may not ask for a later one, and is revoked with it (transitively). Tokens created
//! without a token (`create-user`, the tests' own principals) have no parent.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use diesel_async::SimpleAsyncConnection;
use dojoql::{
    auth::{self, Principal},
    domain::ids::{NodeKind, encode},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, db_id, error_code};

const CREATE: &str = "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id expiresAt revokedAt } } }";
const REVOKE: &str =
    "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } } }";

/// A token made by `creator` for `user` (a global id): its secret and global id, or the error.
async fn create_as(
    app: &TestApp,
    creator: &Principal,
    user: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(String, String, Option<DateTime<Utc>>), Value> {
    let mut input = json!({ "userId": user, "name": "derived" });
    if let Some(e) = expires_at {
        input["expiresAt"] = json!(e.to_rfc3339());
    }
    let r = app.gql_as(creator, CREATE, json!({ "i": input })).await;
    if error_code(&r).is_some() {
        // Every error carries the same code (checked): the first stands for them all.
        return Err(r["errors"][0].clone());
    }
    let t = &r["data"]["createApiToken"];
    let expiry = t["apiToken"]["expiresAt"]
        .as_str()
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
    Ok((
        t["token"].as_str().unwrap().to_string(),
        t["apiToken"]["id"].as_str().unwrap().to_string(),
        expiry,
    ))
}

/// The principal a token authenticates as, or `None` when it is refused.
async fn login(app: &TestApp, token: &str) -> Option<Principal> {
    auth::authenticate(&app.state.db, &format!("Token {token}"))
        .await
        .ok()
}

/// The parent recorded for a token (a global id).
async fn parent_of(app: &TestApp, token: &str) -> Value {
    let dump = app
        .dump(&format!(
            "SELECT id, created_by_token_id FROM api_tokens WHERE id = {}",
            db_id(token)
        ))
        .await;
    serde_json::from_str::<Value>(&dump).unwrap()[0]["created_by_token_id"].clone()
}

/// In an hour, to the second (as the API answers it).
fn in_an_hour() -> DateTime<Utc> {
    let t = Utc::now() + Duration::hours(1);
    DateTime::parse_from_rfc3339(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_of_an_expiring_token_inherits_its_expiry_and_expires_with_it() {
    let app = TestApp::new().await;
    let alice = app.user("alice").await;
    let expiry = in_an_hour();
    let (parent, parent_id, e) = create_as(&app, &app.root, &alice.id, Some(expiry))
        .await
        .unwrap();
    assert_eq!(e, Some(expiry));
    let through_parent = login(&app, &parent).await.unwrap();
    assert_eq!(through_parent.token_id, Some(db_id(&parent_id).into()));

    // Without expiresAt the child (and its own child) get the parent's expiry, not none.
    let (child, child_id, e) = create_as(&app, &through_parent, &alice.id, None)
        .await
        .unwrap();
    assert_eq!(e, Some(expiry), "the child inherits the parent's expiry");
    assert_eq!(parent_of(&app, &child_id).await, json!(db_id(&parent_id)));
    let through_child = login(&app, &child).await.unwrap();
    let (grandchild, grandchild_id, e) = create_as(&app, &through_child, &alice.id, None)
        .await
        .unwrap();
    assert_eq!(e, Some(expiry));
    assert_eq!(
        parent_of(&app, &grandchild_id).await,
        json!(db_id(&child_id))
    );
    // An earlier expiry is fine.
    let earlier = expiry - Duration::minutes(30);
    let (_, _, e) = create_as(&app, &through_parent, &alice.id, Some(earlier))
        .await
        .unwrap();
    assert_eq!(e, Some(earlier));
    for token in [&parent, &child, &grandchild] {
        assert!(login(&app, token).await.is_some());
    }

    // Two hours pass (every stored expiry moves two hours closer): the parent has expired,
    // and so has everything created through it; alice's token without expiry still works.
    app.sql()
        .await
        .batch_execute(
            "UPDATE api_tokens SET expires_at = expires_at - interval '2 hours' \
             WHERE expires_at IS NOT NULL",
        )
        .await
        .unwrap();
    for token in [&parent, &child, &grandchild] {
        assert!(
            login(&app, token).await.is_none(),
            "a token outlived the token it was created through"
        );
    }
    assert!(login(&app, &alice.token).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_expiry_than_the_parents_is_refused_and_nothing_is_written() {
    let app = TestApp::new().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let expiry = in_an_hour();
    let (parent, _, _) = create_as(&app, &app.root, &alice.id, Some(expiry))
        .await
        .unwrap();
    let through_parent = login(&app, &parent).await.unwrap();
    let before = app.snapshot().await;
    let refused = create_as(
        &app,
        &through_parent,
        &alice.id,
        Some(expiry + Duration::minutes(1)),
    )
    .await
    .unwrap_err();
    assert_eq!(refused["extensions"]["code"], "BAD_USER_INPUT");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains(&expiry.to_rfc3339_opts(SecondsFormat::Secs, true)),
        "the message names the parent's expiry: {message}"
    );
    assert_eq!(app.snapshot().await, before, "a refused token was written");

    // A superuser acting through an expiring token is bound the same way, also when it makes
    // a token for another user.
    let tester = encode(NodeKind::User, app.root.user_id.get());
    let (root_token, _, _) = create_as(&app, &app.root, &tester, Some(expiry))
        .await
        .unwrap();
    let through_root = login(&app, &root_token).await.unwrap();
    assert!(through_root.is_superuser);
    let before = app.snapshot().await;
    let refused = create_as(
        &app,
        &through_root,
        &bob.id,
        Some(expiry + Duration::days(1)),
    )
    .await
    .unwrap_err();
    assert_eq!(refused["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(app.snapshot().await, before, "a refused token was written");
    let (_, bobs, e) = create_as(&app, &through_root, &bob.id, None).await.unwrap();
    assert_eq!(e, Some(expiry), "bob's token expires with the superuser's");
    assert_eq!(
        parent_of(&app, &bobs).await,
        json!(through_root.token_id.unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_revokes_everything_created_through_it() {
    let app = TestApp::new().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    // alice's token A → B → C, and A → B2; bob's token made by a superuser through S, and
    // alice's own token U made without a parent.
    let (a, a_id, _) = create_as(&app, &app.root, &alice.id, None).await.unwrap();
    let through_a = login(&app, &a).await.unwrap();
    let (b, b_id, _) = create_as(&app, &through_a, &alice.id, None).await.unwrap();
    let (c, _, _) = create_as(&app, &login(&app, &b).await.unwrap(), &alice.id, None)
        .await
        .unwrap();
    let (b2, _, _) = create_as(&app, &through_a, &alice.id, None).await.unwrap();
    let tester = encode(NodeKind::User, app.root.user_id.get());
    let (s, s_id, _) = create_as(&app, &app.root, &tester, None).await.unwrap();
    let (bobs, _, _) = create_as(&app, &login(&app, &s).await.unwrap(), &bob.id, None)
        .await
        .unwrap();
    let u = alice.token.clone();

    // Revoking B (as alice, through A) revokes B and C only.
    let r = app.gql_as(&through_a, REVOKE, json!({ "id": b_id })).await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["revokeApiToken"]["apiToken"]["id"], json!(b_id));
    for (token, works) in [
        (&a, true),
        (&b, false),
        (&c, false),
        (&b2, true),
        (&u, true),
    ] {
        assert_eq!(login(&app, token).await.is_some(), works);
    }
    // Revoking a revoked token again keeps its revocation time.
    let revoked_at = app
        .dump(&format!(
            "SELECT id, revoked_at FROM api_tokens WHERE id = {}",
            db_id(&b_id)
        ))
        .await;
    app.ok(REVOKE, json!({ "id": b_id })).await;
    assert_eq!(
        app.dump(&format!(
            "SELECT id, revoked_at FROM api_tokens WHERE id = {}",
            db_id(&b_id)
        ))
        .await,
        revoked_at
    );

    // Revoking A takes B2 with it; alice's parentless token stays.
    app.ok(REVOKE, json!({ "id": a_id })).await;
    for (token, works) in [(&a, false), (&b2, false), (&u, true), (&bobs, true)] {
        assert_eq!(login(&app, token).await.is_some(), works);
    }
    // Revoking the superuser's token S revokes bob's token made through it.
    app.ok(REVOKE, json!({ "id": s_id })).await;
    assert!(login(&app, &bobs).await.is_none());
    assert!(login(&app, &u).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_meanwhile_creates_nothing() {
    let app = TestApp::new().await;
    let alice = app.user("alice").await;
    let (a, a_id, _) = create_as(&app, &app.root, &alice.id, None).await.unwrap();
    // The principal was authenticated before the revocation commits.
    let through_a = login(&app, &a).await.unwrap();
    app.ok(REVOKE, json!({ "id": a_id })).await;
    let before = app.snapshot().await;
    let refused = create_as(&app, &through_a, &alice.id, None)
        .await
        .unwrap_err();
    assert_eq!(refused["extensions"]["code"], "FORBIDDEN");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_created_without_a_token_have_no_parent() {
    let app = TestApp::new().await;
    // The test superuser's principal carries no token: no inherited expiry, any expiry allowed.
    assert_eq!(app.root.token_id, None);
    let alice = app.user("alice").await;
    let (_, id, e) = create_as(&app, &app.root, &alice.id, None).await.unwrap();
    assert_eq!(e, None);
    assert_eq!(parent_of(&app, &id).await, Value::Null);
    let far = "2999-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let (_, _, e) = create_as(&app, &app.root, &alice.id, Some(far))
        .await
        .unwrap();
    assert_eq!(e, Some(far));
    // A token without expiry passes none on; create-user's bootstrap token has no parent.
    let through_alice = login(&app, &alice.token).await.unwrap();
    let (_, id, e) = create_as(&app, &through_alice, &alice.id, Some(far))
        .await
        .unwrap();
    assert_eq!(e, Some(far));
    assert_eq!(
        parent_of(&app, &id).await,
        json!(through_alice.token_id.unwrap())
    );
    assert_eq!(
        app.count("api_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'tester' AND t.created_by_token_id IS NULL")
            .await,
        1
    );
}
