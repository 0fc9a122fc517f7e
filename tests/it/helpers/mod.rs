//! Test harness: a fresh database per test (cloned from a migrated template), the app built on
//! it, and small GraphQL helpers.
//!
//! The template is named after a hash of `migrations/`, so an edited migration never reuses a
//! stale template. It is built once per run under a Postgres advisory lock, which keeps this safe
//! both for `cargo test` (threads) and `cargo nextest` (one process per test). Each test's
//! database is dropped `WITH (FORCE)` when its `TestApp` drops; databases left by crashed runs
//! (their process is gone) are swept when the template is first checked.

#![allow(dead_code)]

pub mod ws;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, http::HeaderValue};
use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use dojoql::{
    app::{self, AppState},
    auth::Principal,
    config::Config,
    db::StatementLog,
    graphql,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// The admin URL tests create databases through.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn server_url(db: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database name");
    format!("{base}/{db}")
}

fn template_name() -> String {
    let mut hasher = Sha256::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = walk(&dir);
    entries.sort();
    for path in entries {
        hasher.update(
            path.strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(std::fs::read(&path).unwrap());
    }
    format!("dojoql_tpl_{}", &format!("{:x}", hasher.finalize())[..16])
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

const LOCK_KEY: i64 = 0x646f_6a6f_716c;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach Postgres at {}: {e} (run scripts/test)",
                admin_url()
            )
        })
}

async fn ensure_template() -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut c = admin().await;
            c.batch_execute(&format!("SELECT pg_advisory_lock({LOCK_KEY})"))
                .await
                .unwrap();
            sweep(&mut c).await;
            let exists: Vec<Name> =
                diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
                    .bind::<diesel::sql_types::Text, _>(&name)
                    .load(&mut c)
                    .await
                    .unwrap();
            if exists.is_empty() {
                let building = format!("{name}_building");
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                    .await
                    .unwrap();
                c.batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .unwrap();
                dojoql::db::migrate(&server_url(&building))
                    .await
                    .expect("migrate template");
                c.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .await
                    .unwrap();
            }
            c.batch_execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
                .await
                .unwrap();
            name
        })
        .await
        .clone()
}

/// Drops test databases whose process has exited (a crashed or killed run skips its cleanup).
async fn sweep(c: &mut AsyncPgConnection) {
    let names: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'dojoql_test_%'")
            .load(c)
            .await
            .unwrap();
    for n in names {
        let pid = n
            .datname
            .split('_')
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = c
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    n.datname
                ))
                .await;
        }
    }
}

/// A database of one test; dropped with the test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let template = ensure_template().await;
        let name = format!(
            "dojoql_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand_suffix()
        );
        let mut c = admin().await;
        c.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .unwrap();
        TestDb {
            url: server_url(&name),
            name,
        }
    }
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    (h.finish() % 1_000_000) as u32
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = AsyncPgConnection::establish(&admin_url()).await {
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

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
        dojoql::telemetry::init_for_test();
        let db = TestDb::new().await;
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

    /// Executes a GraphQL operation through the schema as the test superuser; returns the
    /// whole response as JSON.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(&self.root.clone(), query, variables).await
    }

    /// Like [`Self::ok`], as `user` (its current roles).
    pub async fn ok_as(&self, user: &TestUser, query: &str, variables: Value) -> Value {
        let r = self
            .gql_as(&self.refresh(user).await, query, variables)
            .await;
        assert!(
            r.get("errors").is_none(),
            "unexpected errors for {}: {:#}",
            user.principal.username,
            r["errors"]
        );
        r["data"].clone()
    }

    /// Executes a GraphQL operation as `principal`.
    pub async fn gql_as(&self, principal: &Principal, query: &str, variables: Value) -> Value {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        self.execute_as(principal, request).await
    }

    /// Executes a prepared request as `principal`, the way the HTTP handler does.
    async fn execute_as(&self, principal: &Principal, request: async_graphql::Request) -> Value {
        let request = graphql::prepare(
            request,
            &self.state.db,
            self.state.config.loader_delay,
            principal.clone(),
        );
        serde_json::to_value(
            graphql::execute(
                &self.state.schema,
                request,
                &self.state.config.query_limits,
                self.state.config.request_timeout,
            )
            .await,
        )
        .unwrap()
    }

    /// Like [`Self::gql`], asserting there are no errors; returns `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let r = self.gql(query, variables).await;
        assert!(
            r.get("errors").is_none(),
            "unexpected errors: {:#}",
            r["errors"]
        );
        r["data"].clone()
    }

    /// Like [`Self::gql`], asserting there is an error; returns the first error's code.
    pub async fn err(&self, query: &str, variables: Value) -> String {
        let r = self.gql(query, variables).await;
        let errors = r
            .get("errors")
            .and_then(|e| e.as_array())
            .unwrap_or_else(|| panic!("expected an error, got {r:#}"));
        errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without code: {r:#}"))
            .to_string()
    }

    /// Like [`Self::err`], as `user` (its current roles): the first error's code.
    pub async fn err_as(&self, user: &TestUser, query: &str, variables: Value) -> String {
        let r = self
            .gql_as(&self.refresh(user).await, query, variables)
            .await;
        r["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {r:#}"))
            .to_string()
    }

    /// Like [`Self::ok`]; returns the string at the JSON `pointer` into `data` (e.g.
    /// `/createGroup/group/id`).
    pub async fn ok_id(&self, query: &str, variables: Value, pointer: &str) -> String {
        let d = self.ok(query, variables).await;
        d.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {d}"))
            .to_string()
    }

    /// Grants `user` (a global id) `role` on `product`; returns the membership id.
    pub async fn grant_product(&self, product: &str, user: &str, role: &str) -> String {
        self.ok_id(
            "mutation($p: ID!, $u: ID!, $r: Role!) { addProductMember(input: {productId: $p, userId: $u, role: $r}) { membership { id } } }",
            json!({ "p": product, "u": user, "r": role }),
            "/addProductMember/membership/id",
        )
        .await
    }

    /// A direct connection to this test's database (for assertions that bypass the API).
    pub async fn sql(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.db.url).await.unwrap()
    }

    /// `SELECT count(*) FROM <from>`.
    pub async fn count(&self, from: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut c = self.sql().await;
        diesel::sql_query(format!("SELECT count(*) AS n FROM {from}"))
            .get_result::<N>(&mut c)
            .await
            .unwrap()
            .n
    }

    /// The rows of `query` as JSON text, ordered by `id`.
    pub async fn dump(&self, query: &str) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dump: String,
        }
        let mut c = self.sql().await;
        diesel::sql_query(format!(
            "SELECT COALESCE(json_agg(t ORDER BY t.id)::text, '[]') AS dump FROM ({query}) t"
        ))
        .get_result::<Dump>(&mut c)
        .await
        .unwrap()
        .dump
    }

    /// Every row of every table, as JSON text, in one statement: equal snapshots mean an
    /// unchanged database.
    pub async fn snapshot(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dump: String,
        }
        let parts: Vec<String> = SNAPSHOT_TABLES
            .iter()
            .map(|t| {
                format!(
                    "'{t}: ' || COALESCE((SELECT json_agg(x ORDER BY x.id) FROM {t} x)::text, '[]')"
                )
            })
            .collect();
        let mut c = self.sql().await;
        diesel::sql_query(format!(
            "SELECT concat_ws(E'\\n', {}) AS dump",
            parts.join(", ")
        ))
        .get_result::<Dump>(&mut c)
        .await
        .unwrap()
        .dump
    }

    /// Runs `query` as `principal` with one uploaded file bound to the variable `$f`.
    pub async fn gql_upload_as(
        &self,
        principal: &Principal,
        query: &str,
        variables: Value,
        bytes: &[u8],
    ) -> Value {
        use std::io::{Seek, Write};
        let mut file = tempfile_in_target();
        file.write_all(bytes).unwrap();
        file.rewind().unwrap();
        let mut request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        request.set_upload(
            "variables.f",
            async_graphql::UploadValue {
                filename: "proof.txt".into(),
                content_type: Some("text/plain".into()),
                content: file,
            },
        );
        self.execute_as(principal, request).await
    }

    /// `slaExpirationDate` of a product's findings, in creation order.
    pub async fn sla_dates(&self, product: &str) -> Vec<Value> {
        let d = self
            .ok(
                "query($id: ID!) { node(id: $id) { ... on Product { findings(first: 10) { nodes { slaExpirationDate } } } } }",
                json!({ "id": product }),
            )
            .await;
        d["node"]["findings"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["slaExpirationDate"].clone())
            .collect()
    }

    // ---- builders (all through the API) ----

    pub async fn product_type(&self, name: &str) -> String {
        self.ok_id(
            "mutation($n: String!) { createProductType(input: {name: $n}) { productType { id } } }",
            json!({ "n": name }),
            "/createProductType/productType/id",
        )
        .await
    }

    pub async fn product(&self, product_type: &str, name: &str) -> String {
        self.ok_id(
            "mutation($pt: ID!, $n: String!) { createProduct(input: {name: $n, description: \"d\", productTypeId: $pt}) { product { id } } }",
            json!({ "pt": product_type, "n": name }),
            "/createProduct/product/id",
        )
        .await
    }

    pub async fn engagement(&self, product: &str, name: &str) -> String {
        self.engagement_with(product, name, json!({})).await
    }

    /// An engagement with extra input fields merged in (e.g. `{"status": "COMPLETED"}`).
    pub async fn engagement_with(&self, product: &str, name: &str, extra: Value) -> String {
        let mut input = json!({
            "productId": product, "name": name, "engagementType": "INTERACTIVE", "status": "IN_PROGRESS",
            "targetStart": "2026-01-01", "targetEnd": "2026-02-01"
        });
        merge(&mut input, extra);
        self.ok_id(
            "mutation($i: CreateEngagementInput!) { createEngagement(input: $i) { engagement { id } } }",
            json!({ "i": input }),
            "/createEngagement/engagement/id",
        )
        .await
    }

    pub async fn test(&self, engagement: &str, title: &str) -> String {
        self.ok_id(
            "mutation($e: ID!, $t: String!) { createTest(input: {engagementId: $e, title: $t, testType: \"Manual Code Review\", targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}) { test { id } } }",
            json!({ "e": engagement, "t": title }),
            "/createTest/test/id",
        )
        .await
    }

    pub async fn finding(&self, test: &str, title: &str, severity: &str) -> String {
        self.finding_with(test, title, severity, json!({})).await
    }

    /// A finding with extra input fields merged in (e.g. `{"verified": true}`).
    pub async fn finding_with(
        &self,
        test: &str,
        title: &str,
        severity: &str,
        extra: Value,
    ) -> String {
        let mut input =
            json!({ "testId": test, "title": title, "severity": severity, "description": "d" });
        merge(&mut input, extra);
        self.ok_id(
            "mutation($i: CreateFindingInput!) { createFinding(input: $i) { finding { id } } }",
            json!({ "i": input }),
            "/createFinding/finding/id",
        )
        .await
    }

    /// product type → product → engagement → test; returns their ids.
    pub async fn hierarchy(&self) -> Hierarchy {
        let product_type = self.product_type("PT").await;
        let product = self.product(&product_type, "P").await;
        let engagement = self.engagement(&product, "E").await;
        let test = self.test(&engagement, "T").await;
        Hierarchy {
            product_type,
            product,
            engagement,
            test,
        }
    }
}

/// Asserts, for each `(field, ids in ascending order)`, that `list(orderBy)` returns that order
/// with `ASC` and with the default direction, and the reverse with `DESC`.
pub async fn assert_orders(
    orders: Vec<(&str, Vec<String>)>,
    list: impl AsyncFn(Value) -> Vec<String>,
) {
    for (field, asc) in orders {
        assert_eq!(
            list(json!({ "field": field, "direction": "ASC" })).await,
            asc,
            "{field} ASC"
        );
        assert_eq!(
            list(json!({ "field": field })).await,
            asc,
            "{field} default"
        );
        let desc: Vec<String> = asc.iter().rev().cloned().collect();
        assert_eq!(
            list(json!({ "field": field, "direction": "DESC" })).await,
            desc,
            "{field} DESC"
        );
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

/// Every table a snapshot covers.
const SNAPSHOT_TABLES: &[&str] = &[
    "users",
    "api_tokens",
    "groups",
    "group_members",
    "memberships",
    "sla_configurations",
    "development_environments",
    "test_types",
    "product_types",
    "products",
    "engagements",
    "tests",
    "findings",
    "notes",
    "files",
    "event_outbox",
    "notification_settings",
    "system_settings",
];

/// A new anonymous file (removed when closed) for uploads.
fn tempfile_in_target() -> std::fs::File {
    let path = std::env::temp_dir().join(format!(
        "dojoql-upload-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

/// Ids of a minimal hierarchy.
pub struct Hierarchy {
    pub product_type: String,
    pub product: String,
    pub engagement: String,
    pub test: String,
}

/// Shallow-merges the fields of `extra` into `base` (both JSON objects).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// The `databaseId` inside a global id.
pub fn db_id(global: &str) -> i32 {
    dojoql::domain::ids::decode(global).unwrap().1
}
