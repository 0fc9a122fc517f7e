//! The app under test: [`TestApp`] (state, the test superuser, events), its users and tokens,
//! its routers, and serving it on a local port.

use std::sync::Arc;

use axum::{Router, http::HeaderValue};
use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::RunQueryDsl;
use dojoql::{
    app::{self, AppState},
    auth::Principal,
    config::Config,
    db::StatementLog,
};
use serde_json::json;

use super::TestDb;

/// The app on a fresh database. The database field comes last so it drops last.
///
/// Every test app has a superuser, `tester`: [`TestApp::gql`] and its siblings run as it, and
/// [`TestApp::router`] sends its token on requests that carry no `Authorization` header.
/// [`TestApp::raw_router`] is the router as clients see it.
pub struct TestApp {
    pub state: AppState,
    pub root: Principal,
    pub root_token: String,
    /// The event relay and fan-out, when started ([`TestApp::with_events`]).
    pub events: Option<dojoql::events::Running>,
    /// The statement of [`TestApp::snapshot`], built from the catalog on first use.
    pub(super) snapshot_statement: tokio::sync::OnceCell<String>,
    pub db: TestDb,
}

/// Another server process on a test's database (a second replica behind a load balancer).
/// Declare it after its [`TestApp`], so that it stops before the database is dropped.
pub struct Replica {
    pub state: AppState,
    _events: dojoql::events::Running,
}

impl Replica {
    pub fn router(&self) -> Router {
        app::router(self.state.clone())
    }
}

/// A user of a test, with its principal and a token.
#[derive(Clone)]
pub struct TestUser {
    /// The global id.
    pub id: String,
    pub principal: Principal,
    pub token: String,
}

impl TestUser {
    /// The `Authorization` header value of this user.
    pub fn header(&self) -> String {
        format!("Token {}", self.token)
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::on_database(TestDb::new().await, adjust).await
    }

    /// The app on `db`, a migrated database (of another server than the tests' own, say).
    pub async fn on_database(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        dojoql::telemetry::init_for_test();
        let mut config = Config {
            database_url: db.url.clone(),
            redis_url: None,
            redis_prefix: format!("test:{}", db.name),
            pool_size: 4,
            ..Config::default()
        };
        adjust(&mut config);
        let state = AppState::new(config).expect("app state");
        let created = dojoql::auth::create_user_with_token(
            &state.db,
            dojoql::db::user::NewUser {
                username: "tester".into(),
                email: None,
                first_name: None,
                last_name: None,
                is_superuser: true,
            },
            "test",
        )
        .await;
        let (root, root_token) = match created {
            Ok((user, token)) => (Principal::new(user, &[]), token),
            // A test of a broken database configuration: no tester exists there.
            Err(_) => (
                Principal {
                    user_id: 0.into(),
                    username: "tester".into(),
                    is_superuser: true,
                    global_role: None,
                    expires_at: None,
                    token_id: None,
                },
                String::new(),
            ),
        };
        TestApp {
            state,
            root,
            root_token,
            events: None,
            snapshot_statement: tokio::sync::OnceCell::new(),
            db,
        }
    }

    /// An app whose event relay and fan-out run (live subscriptions work), polling the outbox
    /// every 100 ms.
    pub async fn with_events(adjust: impl FnOnce(&mut Config)) -> Self {
        let mut app = Self::with_config(|c| {
            c.event_poll = std::time::Duration::from_millis(100);
            adjust(c);
        })
        .await;
        app.events = Some(
            dojoql::events::start(
                app.state.events.clone(),
                app.state.config.database_url.clone(),
            )
            .await,
        );
        app
    }

    /// Waits until every event recorded so far has been numbered and broadcast by this app's
    /// fan-out (so that a subscription opened next sees only what happens after).
    pub async fn settle_events(&self) {
        #[derive(QueryableByName)]
        struct State {
            #[diesel(sql_type = BigInt)]
            unnumbered: i64,
            #[diesel(sql_type = BigInt)]
            last: i64,
        }
        let mut c = self.sql().await;
        for _ in 0..500 {
            let s: State = diesel::sql_query(
                "SELECT (SELECT count(*) FROM event_outbox WHERE seq IS NULL) AS unnumbered, \
                 (SELECT last_seq FROM event_relay) AS last",
            )
            .get_result(&mut c)
            .await
            .unwrap();
            if s.unnumbered == 0 && self.state.events.last() >= s.last {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the events did not settle");
    }

    /// A second server process on this app's database and Redis (events running).
    pub async fn replica(&self) -> Replica {
        let config = (*self.state.config).clone();
        let state = AppState::new(config).expect("replica state");
        let events =
            dojoql::events::start(state.events.clone(), state.config.database_url.clone()).await;
        Replica {
            state,
            _events: events,
        }
    }

    /// Serves the app on a free local port (for websocket clients); returns the address.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(app::serve_on(listener, self.state.clone()));
        addr
    }

    /// The router, sending the test superuser's token on requests without `Authorization`.
    pub fn router(&self) -> Router {
        let header = HeaderValue::from_str(&format!("Token {}", self.root_token)).unwrap();
        self.raw_router().layer(axum::middleware::map_request(
            move |mut req: axum::extract::Request| {
                let header = header.clone();
                async move {
                    req.headers_mut()
                        .entry(axum::http::header::AUTHORIZATION)
                        .or_insert(header);
                    req
                }
            },
        ))
    }

    /// The router exactly as clients meet it.
    pub fn raw_router(&self) -> Router {
        app::router(self.state.clone())
    }

    /// A new user (created by the test superuser) with an API token; `global_role` is set when
    /// given.
    pub async fn user(&self, username: &str) -> TestUser {
        let d = self
            .ok(
                "mutation($u: String!) { createUser(input: {username: $u}) { user { id } } }",
                json!({ "u": username }),
            )
            .await;
        let id = d["createUser"]["user"]["id"].as_str().unwrap().to_string();
        let d = self
            .ok(
                "mutation($u: ID!) { createApiToken(input: {userId: $u, name: \"test\"}) { token } }",
                json!({ "u": id }),
            )
            .await;
        let token = d["createApiToken"]["token"].as_str().unwrap().to_string();
        let principal = dojoql::auth::authenticate(&self.state.db, &format!("Token {token}"))
            .await
            .unwrap();
        TestUser {
            id,
            principal,
            token,
        }
    }

    /// The user's principal as it is now (roles change; a principal is per request).
    pub async fn refresh(&self, user: &TestUser) -> Principal {
        dojoql::auth::authenticate(&self.state.db, &user.header())
            .await
            .unwrap()
    }

    pub fn statements(&self) -> &Arc<StatementLog> {
        &self.state.db.log
    }
}

/// Serves `router` on a free local port; returns the address.
pub async fn serve_router(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, router).into_future());
    addr
}

/// Waits until `bus` has `n` more receivers than `before` (a subscription holds one).
pub async fn attached(bus: &dojoql::events::Bus, before: usize, n: usize) {
    for _ in 0..300 {
        if bus.receivers() >= before + n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no subscription attached");
}
