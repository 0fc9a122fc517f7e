//! Demo mode: the demo data and the demo logins `serve --demo` prints.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_logins_cover_every_role_and_are_reissued_on_each_start() {
    let app = TestApp::new().await;
    assert!(dojoql::service::demo::load(&app.state.db).await.unwrap());
    assert!(
        !dojoql::service::demo::load(&app.state.db).await.unwrap(),
        "loaded once"
    );
    let first = dojoql::service::demo::logins(&app.state.db).await.unwrap();
    let names: Vec<&str> = first.iter().map(|l| l.username.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin",
            "reader",
            "api_importer",
            "writer",
            "maintainer",
            "owner"
        ]
    );
    let q = "{ me { user { username } } products(first: 100) { totalCount } productTypes(first: 10) { nodes { name myPermissions { role } } } }";
    for login in &first {
        let principal =
            dojoql::auth::authenticate(&app.state.db, &format!("Token {}", login.token))
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", login.username));
        let r = app.gql_as(&principal, q, json!({})).await;
        let d = &r["data"];
        assert_eq!(d["me"]["user"]["username"], login.username.as_str());
        if login.username == "admin" {
            assert_eq!(d["products"]["totalCount"], 4);
        } else {
            assert_eq!(d["products"]["totalCount"], 2, "{}: {d}", login.username);
            assert_eq!(
                d["productTypes"]["nodes"],
                json!([{ "name": "Web Applications", "myPermissions": { "role": login.username.to_uppercase() } }])
            );
        }
    }
    // A restart issues new tokens and retires the old ones.
    let second = dojoql::service::demo::logins(&app.state.db).await.unwrap();
    assert_eq!(second.len(), first.len());
    for (old, new) in first.iter().zip(&second) {
        assert_ne!(old.token, new.token);
        assert!(
            dojoql::auth::authenticate(&app.state.db, &format!("Token {}", old.token))
                .await
                .is_err()
        );
        assert!(
            dojoql::auth::authenticate(&app.state.db, &format!("Token {}", new.token))
                .await
                .is_ok()
        );
    }
}
