//! Live subscriptions through real client libraries, over both subprotocols of
//! `GET /graphql/ws`: the npm `graphql-ws` package (`graphql-transport-ws`) and
//! `subscriptions-transport-ws` (the legacy `graphql-ws` subprotocol), both run under Node by
//! `tests/clients/subscribe.mjs` (see its header for its arguments and output). `scripts/test`
//! installs Node and the libraries (`npm ci --prefix tests/clients`).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    task::JoinHandle,
};

use crate::helpers::TestApp;

const CLOSE: &str = "mutation($e: ID!) { closeEngagement(input: {id: $e}) { engagement { id } } }";
const REOPEN: &str =
    "mutation($e: ID!) { reopenEngagement(input: {id: $e}) { engagement { id } } }";

/// How long a client may take to start, connect and subscribe, or to deliver what is awaited.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which library, in which subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Library {
    /// `graphql-ws` (`graphql-transport-ws`).
    GraphqlWs,
    /// `subscriptions-transport-ws` (legacy `graphql-ws`).
    SubscriptionsTransportWs,
}

impl Library {
    /// The script's protocol argument.
    fn arg(self) -> &'static str {
        match self {
            Library::GraphqlWs => "transport",
            Library::SubscriptionsTransportWs => "legacy",
        }
    }
}

/// `tests/clients`, with its libraries installed.
fn clients_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    assert!(
        dir.join("node_modules").is_dir(),
        "{} is missing: run scripts/test, which installs the client libraries \
         (or `npm ci --prefix tests/clients`)",
        dir.join("node_modules").display()
    );
    dir
}

/// The lines a child printed on one stream so far.
type Lines = Arc<Mutex<Vec<String>>>;

/// Collects the lines of `stream` into `lines` until it ends.
fn collect(stream: impl AsyncRead + Unpin + Send + 'static, lines: Lines) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            lines.lock().unwrap().push(line);
        }
    })
}

/// A running `subscribe.mjs`.
struct Client {
    library: Library,
    child: Child,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<JoinHandle<()>>,
}

/// What a finished client printed.
struct Output {
    status: ExitStatus,
    /// One JSON value per stdout line.
    lines: Vec<Value>,
    stderr: String,
}

impl Client {
    /// Starts the script (killed if the test ends first): it exits after `count` results, or
    /// expects the connection to be refused when `count` is `None`.
    fn spawn(
        addr: SocketAddr,
        token: &str,
        library: Library,
        query: &str,
        count: Option<usize>,
    ) -> Self {
        let dir = clients_dir();
        let mut command = Command::new("node");
        command.current_dir(&dir).arg(dir.join("subscribe.mjs"));
        if count.is_none() {
            command.arg("--expect-refusal");
        }
        command
            .arg(format!("ws://{addr}/graphql/ws"))
            .arg(token)
            .arg(library.arg())
            .arg(query)
            .args(count.map(|n| n.to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot run `node`: {e} (run scripts/test, which installs Node and the client libraries)")
        });
        let stdout = Lines::default();
        let stderr = Lines::default();
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Client {
            library,
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// Subscribes with `query` as `token` and waits until the subscription is live on the
    /// server; the client exits after `count` results.
    async fn subscribe(
        app: &TestApp,
        addr: SocketAddr,
        token: &str,
        library: Library,
        query: &str,
        count: usize,
    ) -> Self {
        let bus = &app.state.events;
        let before = bus.receivers();
        let mut client = Self::spawn(addr, token, library, query, Some(count));
        // The subscription holds one receiver of the event broadcast.
        client
            .wait_for("the subscription to be live", |c| {
                c.stderr.lock().unwrap().iter().any(|l| l == "READY") && bus.receivers() > before
            })
            .await;
        client
    }

    /// Waits until `done` holds, failing if the client exits first or it takes too long.
    async fn wait_for(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + CLIENT_TIMEOUT;
        loop {
            if done(self) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the readers take in the last lines before reporting them.
                tokio::time::sleep(Duration::from_millis(100)).await;
                if done(self) {
                    return;
                }
                panic!(
                    "{:?} client exited ({status}) while waiting for {what}\n{}",
                    self.library,
                    self.printed()
                );
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{:?} client: no {what} within {CLIENT_TIMEOUT:?}\n{}",
                    self.library,
                    self.printed()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the client printed `n` results.
    async fn results(&mut self, n: usize) {
        self.wait_for(&format!("{n} results"), |c| {
            c.stdout.lock().unwrap().len() >= n
        })
        .await;
    }

    /// What the client printed so far, for failure messages.
    fn printed(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }

    /// Waits for the client to exit; returns what it printed.
    async fn finish(mut self) -> Output {
        let status = match tokio::time::timeout(CLIENT_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!(
                    "{:?} client did not exit within {CLIENT_TIMEOUT:?}\n{}",
                    self.library,
                    self.printed()
                );
            }
        };
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(CLIENT_TIMEOUT, reader).await;
        }
        let stderr = self.stderr.lock().unwrap().join("\n");
        let lines = self
            .stdout
            .lock()
            .unwrap()
            .iter()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("stdout line is not JSON ({e}): {l}\nstderr:\n{stderr}")
                })
            })
            .collect();
        Output {
            status,
            lines,
            stderr,
        }
    }

    /// Waits for a client that must have succeeded; returns its results.
    async fn succeeded(self) -> Vec<Value> {
        let library = self.library;
        let out = self.finish().await;
        assert!(
            out.status.success(),
            "{library:?} client failed ({})\nstdout:\n{:#?}\nstderr:\n{}",
            out.status,
            out.lines,
            out.stderr
        );
        out.lines
    }
}

/// The numeric value of an `eventId`.
fn event_id(event: &Value) -> i64 {
    event["eventId"]
        .as_str()
        .unwrap_or_else(|| panic!("no eventId in {event}"))
        .parse()
        .unwrap()
}

/// Waits until the app's event bus has no more receivers than `before` (every socket and
/// subscription of a client that exited is dropped).
async fn released(app: &TestApp, before: usize) {
    for _ in 0..500 {
        if app.state.events.receivers() <= before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the server still holds {} receivers of an exited client",
        app.state.events.receivers() - before
    );
}

/// Closes and reopens an engagement under a `engagementStatusChanged` subscription of `library`,
/// checking both events arrive with their fields, in order.
async fn status_changes_through(library: Library) {
    let app = TestApp::with_events(|_| {}).await;
    let h = app.hierarchy().await;
    let addr = app.serve().await;
    let query = format!(
        "subscription {{ engagementStatusChanged(productId: \"{}\") {{ eventId oldStatus newStatus reason engagement {{ name status }} }} }}",
        h.product
    );
    let before = app.state.events.receivers();
    let mut client = Client::subscribe(&app, addr, &app.root_token, library, &query, 2).await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    // The engagement is read when the event is delivered: reopen only after that.
    client.results(1).await;
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    let results = client.succeeded().await;
    // The client is gone: the server let go of its socket and subscription.
    released(&app, before).await;
    assert_eq!(results.len(), 2, "{results:#?}");
    let (first, second) = (
        &results[0]["data"]["engagementStatusChanged"],
        &results[1]["data"]["engagementStatusChanged"],
    );
    assert_eq!(
        results[0],
        json!({ "data": { "engagementStatusChanged": {
            "eventId": first["eventId"], "oldStatus": "IN_PROGRESS", "newStatus": "COMPLETED",
            "reason": "CLOSED", "engagement": { "name": "E", "status": "COMPLETED" } } } })
    );
    assert_eq!(
        results[1],
        json!({ "data": { "engagementStatusChanged": {
            "eventId": second["eventId"], "oldStatus": "COMPLETED", "newStatus": "IN_PROGRESS",
            "reason": "REOPENED", "engagement": { "name": "E", "status": "IN_PROGRESS" } } } })
    );
    assert!(event_id(first) > 0);
    assert!(
        event_id(second) > event_id(first),
        "increasing eventIds: {results:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_ws_library_receives_status_changes() {
    status_changes_through(Library::GraphqlWs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_transport_ws_library_receives_status_changes() {
    status_changes_through(Library::SubscriptionsTransportWs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_libraries_are_refused_with_a_bad_token() {
    let app = TestApp::with_events(|_| {}).await;
    let addr = app.serve().await;
    let query = "subscription { events { eventId } }";
    for library in [Library::GraphqlWs, Library::SubscriptionsTransportWs] {
        let out = Client::spawn(addr, "not-a-token", library, query, None)
            .finish()
            .await;
        assert!(
            out.status.success(),
            "{library:?} client was not refused ({})\nstdout:\n{:#?}\nstderr:\n{}",
            out.status,
            out.lines,
            out.stderr
        );
        assert_eq!(out.lines.len(), 1, "{library:?}: {:#?}", out.lines);
        let refused = &out.lines[0]["refused"];
        assert_eq!(refused["code"], 4403, "{library:?}: {refused:#}");
        assert!(
            refused["reason"].as_str().unwrap().starts_with("Forbidden"),
            "{library:?}: {refused:#}"
        );
        if library == Library::SubscriptionsTransportWs {
            // The legacy protocol also tells why in a `connection_error` first.
            assert!(
                refused["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Forbidden"),
                "{refused:#}"
            );
        }
    }
}

/// The outbox's numbered events after `after`, oldest first, as eventId and kind (waiting until
/// every recorded event is numbered).
async fn numbered_after(app: &TestApp, after: i64) -> Vec<(i64, String)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        seq: String,
        #[diesel(sql_type = Text)]
        kind: String,
    }
    for _ in 0..500 {
        if app.count("event_outbox WHERE seq IS NULL").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.count("event_outbox WHERE seq IS NULL").await,
        0,
        "the relay numbers every event"
    );
    let mut c = app.sql().await;
    diesel::sql_query("SELECT seq::text AS seq, kind FROM event_outbox WHERE seq > $1 ORDER BY seq")
        .bind::<diesel::sql_types::BigInt, _>(after)
        .load::<Row>(&mut c)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq.parse().unwrap(), r.kind))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_ws_library_resumes_after_an_event_id() {
    let app = TestApp::with_events(|_| {}).await;
    let h = app.hierarchy().await;
    let before = numbered_after(&app, 0).await;
    let last_before = before.last().map_or(0, |(seq, _)| *seq);
    // Events while no client is connected.
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    let finding = app.finding(&h.test, "F", "HIGH").await;
    let missed = numbered_after(&app, last_before).await;
    let kinds: Vec<&str> = missed.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ENGAGEMENT_STATUS_CHANGED",
            "ENGAGEMENT_STATUS_CHANGED",
            "FINDING_CREATED"
        ]
    );
    // Resume after the first of them: the other two are replayed, then live ones follow.
    let first = missed[0].0;
    let addr = app.serve().await;
    let query = format!("subscription {{ events(after: \"{first}\") {{ eventId kind }} }}");
    let client =
        Client::subscribe(&app, addr, &app.root_token, Library::GraphqlWs, &query, 4).await;
    app.ok(
        "mutation($f: ID!) { updateFinding(input: {id: $f, active: false}) { finding { id } } }",
        json!({ "f": finding }),
    )
    .await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let results = client.succeeded().await;
    let received: Vec<(i64, String)> = results
        .iter()
        .map(|r| {
            let e = &r["data"]["events"];
            (event_id(e), e["kind"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = numbered_after(&app, first).await;
    let kinds: Vec<&str> = expected.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ENGAGEMENT_STATUS_CHANGED",
            "FINDING_CREATED",
            "FINDING_CHANGED",
            "ENGAGEMENT_STATUS_CHANGED"
        ]
    );
    assert_eq!(
        received, expected,
        "exactly the events after {first}, in order"
    );
}
