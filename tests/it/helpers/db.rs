//! The test's own database: a template migrated once per run, cloned per test, dropped with the
//! test; and a direct connection for assertions that bypass the API.
//!
//! The template is named after a hash of `migrations/`, so an edited migration never reuses a
//! stale template. It is built once per run under a Postgres advisory lock, which keeps this safe
//! both for `cargo test` (threads) and `cargo nextest` (one process per test). Each test's
//! database is dropped `WITH (FORCE)` when its `TestApp` drops; databases left by crashed runs
//! (their process is gone) are swept when the template is first checked.

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::TestApp;

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

impl TestApp {
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
}
