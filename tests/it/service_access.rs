//! The access and product operations of the service tier run without GraphQL: a caller with a
//! database handle and a principal (REST, the CLI, a job) gets the same checks, rules and
//! events as the mutations.

use chrono::SubsecRound;
use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;

use dojoql::{
    db::{
        membership::{Member, On},
        product_type::NewProductType,
    },
    domain::Role,
    error::ServiceError,
    service::{access, products},
};

use crate::helpers::{TestApp, db_id};

fn new_type(name: &str) -> NewProductType {
    NewProductType {
        name: name.into(),
        description: None,
        critical_product: false,
        key_product: false,
    }
}

/// The payloads of the `ACCESS_CHANGED` events recorded so far, oldest first.
async fn access_events(app: &TestApp) -> Vec<serde_json::Value> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        payload: String,
    }
    let mut c = app.sql().await;
    diesel::sql_query(
        "SELECT payload::text AS payload FROM event_outbox WHERE kind = 'ACCESS_CHANGED' ORDER BY id",
    )
    .load::<Row>(&mut c)
    .await
    .unwrap()
    .into_iter()
    .map(|r| serde_json::from_str(&r.payload).unwrap())
    .collect()
}

#[tokio::test]
async fn a_product_type_created_through_the_service_has_its_creator_as_last_owner() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let alice = app.user("alice").await;
    let uid = dojoql::domain::ids::UserId::new(db_id(&alice.id));

    // Without a global MAINTAINER role: refused before anything is written.
    let refused = products::create_product_type(db, &alice.principal, new_type("Web")).await;
    assert!(matches!(refused, Err(ServiceError::Forbidden(_))));
    access::set_global_role(db, &app.root, Member::User(uid), Some(Role::Maintainer))
        .await
        .unwrap();
    let alice_now = app.refresh(&alice).await;
    let before = access_events(&app).await.len();

    let pt = products::create_product_type(db, &alice_now, new_type("Web"))
        .await
        .unwrap();

    // The OWNER grant was announced, naming alice.
    let events = access_events(&app).await;
    assert_eq!(events.len(), before + 1, "{events:#?}");
    assert!(events[before].to_string().contains(&uid.to_string()));
    // Alice is the only OWNER: she cannot leave it without one.
    let mut c = app.sql().await;
    let members = dojoql::db::membership::of_targets(&mut c, &[On::ProductType(pt.id)])
        .await
        .unwrap()
        .remove(&On::ProductType(pt.id))
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].user_id, members[0].role),
        (Some(uid), Role::Owner)
    );
    let last = access::remove_member(db, &alice_now, members[0].id).await;
    assert!(matches!(last, Err(ServiceError::Conflict(_))), "{last:?}");
    let demote = access::update_member(db, &alice_now, members[0].id, Role::Reader).await;
    assert!(
        matches!(demote, Err(ServiceError::Conflict(_))),
        "{demote:?}"
    );
}

#[tokio::test]
async fn a_token_created_through_the_service_never_outlives_the_callers_token() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let bob = app.user("bob").await;
    let mut caller = bob.principal.clone();
    // Whole seconds: the database keeps microseconds.
    let parent_expiry = (chrono::Utc::now() + chrono::Duration::hours(1)).trunc_subsecs(0);
    caller.expires_at = Some(parent_expiry);

    let later = access::NewToken {
        user_id: caller.user_id,
        name: "ci".into(),
        expires_at: Some(parent_expiry + chrono::Duration::hours(1)),
    };
    let refused = access::create_api_token(db, &caller, later).await;
    assert!(
        matches!(refused, Err(ServiceError::BadUserInput(_))),
        "{refused:?}"
    );

    let inherited = access::NewToken {
        user_id: caller.user_id,
        name: "ci".into(),
        expires_at: None,
    };
    let created = access::create_api_token(db, &caller, inherited)
        .await
        .unwrap();
    assert_eq!(created.row.expires_at, Some(parent_expiry));
    assert_eq!(created.row.created_by_token_id, caller.token_id);

    // Revoking the parent revokes the child; another user's token is NOT_FOUND.
    let carol = app.user("carol").await;
    let probe = access::revoke_api_token(db, &carol.principal, created.row.id).await;
    assert!(matches!(probe, Err(ServiceError::NotFound(_))), "{probe:?}");
    let parent = caller.token_id.unwrap();
    access::revoke_api_token(db, &caller, parent).await.unwrap();
    let mut c = app.sql().await;
    let child = dojoql::db::api_token::by_ids(&mut c, &[created.row.id])
        .await
        .unwrap();
    assert!(child[0].revoked_at.is_some());
}
