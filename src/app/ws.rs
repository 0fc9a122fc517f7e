//! GraphQL over websockets (`GET /graphql/ws`), in both subprotocols clients speak:
//!
//! - `graphql-transport-ws`, the protocol of the `graphql-ws` npm library
//!   (<https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>);
//! - `graphql-ws`, the legacy protocol of `subscriptions-transport-ws` (Apollo's old client).
//!
//! The subprotocol is chosen from the `Sec-WebSocket-Protocol` request header (the modern one
//! wins when both are offered); a request offering neither is refused with HTTP 400.
//!
//! **Authentication.** The `connection_init` payload carries what the HTTP `Authorization`
//! header would: `{"Authorization": "Token <key>"}` (or `Bearer <key>`, key spelt `Authorization`
//! or `authorization`). Non-browser clients may send the header on the upgrade request instead;
//! it is used when the payload names no credential. Nothing runs before the connection is
//! acknowledged, and every operation re-authenticates with the same credential first, so a
//! revoked token, a deactivated user or a changed role takes effect on the next operation. A
//! token with an expiry closes the socket when it expires. A socket is also told when its own
//! user's credentials change (a token revoked, the user deactivated): it re-checks its
//! credential `ws_recheck_delay` later (once for a burst of such news) and closes if it fails.
//!
//! **Close codes** (those of `graphql-ws`, used for both subprotocols):
//! 4400 invalid message, 4401 operation before the acknowledgement, 4403 missing, invalid,
//! revoked or expired credential, 4408 no `connection_init` within `WS_INIT_TIMEOUT_MS`, 4409
//! an operation id that is already running, 4429 a second `connection_init`, 1009 a message
//! above `max_body_bytes`, 1011 the credential could not be checked (database unavailable).
//! One mapping from an authentication failure to its close code ([`Refusal`]) serves
//! `connection_init`, every operation and the re-checks.
//!
//! **Structure.** A [`Connection`] owns the socket, its protocol [`Session`] and its timers;
//! [`Connection::run`] waits for the next [`Wakeup`] (a client message, a message of an
//! operation, a timer, credential news, shutdown) and hands it to one `on_…` method.
//!
//! **Execution** goes through the same path as `POST /graphql`: [`graphql::prepare`] and
//! [`graphql::execute`] (cost limits, request timeout, an `extensions.code` on every error).
//! Subscriptions go through [`graphql::execute_stream`] (the same cost limits and error codes,
//! no timeout). Each operation runs on a task of its own that hands its messages to
//! the socket loop through a bounded channel; `complete`/`stop` aborts the task, and closing the
//! socket aborts them all.
//!
//! async-graphql's own websocket types are deliberately not used: they close with other codes,
//! have no initialisation timeout and would bypass [`graphql::execute`].

use std::{borrow::Cow, collections::HashMap, ops::ControlFlow, pin::Pin, time::Duration};

use async_graphql::{
    Value as GqlValue,
    parser::types::{ExecutableDocument, OperationType},
};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{
    sync::mpsc,
    task::AbortHandle,
    time::{Instant, Interval, Sleep},
};

use super::AppState;
use crate::{
    auth::{self, AuthError, Principal},
    db::Db,
    error as codes,
    events::CredentialWatch,
    graphql,
};

/// The `graphql-ws` library's protocol.
const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The legacy `subscriptions-transport-ws` protocol.
const LEGACY_WS: &str = "graphql-ws";

/// How often the legacy protocol's keep-alive (`ka`) is sent.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The most operations one socket may run at the same time.
const MAX_OPERATIONS: usize = 100;
/// Messages operations may queue for the socket before they wait for it (backpressure).
const CHANNEL_CAPACITY: usize = 64;
/// How long a closing socket waits for the client to answer its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Websocket close codes.
mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// The subprotocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws`.
    Transport,
    /// `graphql-ws` (legacy).
    Legacy,
}

impl Protocol {
    /// The type of a message carrying a result.
    fn result_type(self) -> &'static str {
        match self {
            Protocol::Transport => "next",
            Protocol::Legacy => "data",
        }
    }
}

/// Upgrades to a GraphQL websocket, or answers 400 when the client offers neither subprotocol.
pub(crate) async fn handler(
    State(state): State<AppState>,
    slot: Option<axum::Extension<super::ConnectionSlot>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Listed in order of preference: a client offering both gets the modern protocol.
    let ws = ws.protocols([TRANSPORT_WS, LEGACY_WS]);
    let protocol = match ws.selected_protocol().map(|p| p.as_bytes()) {
        Some(p) if p == TRANSPORT_WS.as_bytes() => Protocol::Transport,
        Some(p) if p == LEGACY_WS.as_bytes() => Protocol::Legacy,
        _ => {
            return super::request_error(
                StatusCode::BAD_REQUEST,
                codes::BAD_USER_INPUT,
                format!(
                    "GraphQL over websockets needs the `Sec-WebSocket-Protocol` header set to \
                     `{TRANSPORT_WS}` or `{LEGACY_WS}`"
                ),
            );
        }
    };
    let header_credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let max = state.config.max_body_bytes;
    // tungstenite's default read buffer is 128 KiB per socket, zeroed on first use: 1.5 GB for
    // 10k idle subscribers. Client messages are small (the buffer grows for larger frames).
    ws.read_buffer_size(8 * 1024)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            // The socket keeps its connection's place among `MAX_CONNECTIONS` until it closes.
            let _slot = slot;
            Connection::new(socket, state, protocol, header_credential)
                .run()
                .await
        })
}

/// A message from the client, in either protocol.
#[derive(Debug)]
enum Incoming {
    Init(Option<Value>),
    Ping,
    Pong,
    Subscribe { id: String, payload: Value },
    Complete { id: String },
    Terminate,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TransportMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: Value,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LegacyMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Start {
        id: String,
        payload: Value,
    },
    Stop {
        id: String,
    },
    ConnectionTerminate {},
}

/// Parses a client message of `protocol`; `None` for invalid JSON or a type the protocol lacks.
fn parse_message(protocol: Protocol, text: &str) -> Option<Incoming> {
    Some(match protocol {
        Protocol::Transport => match serde_json::from_str(text).ok()? {
            TransportMessage::ConnectionInit { payload } => Incoming::Init(payload),
            TransportMessage::Ping {} => Incoming::Ping,
            TransportMessage::Pong {} => Incoming::Pong,
            TransportMessage::Subscribe { id, payload } => Incoming::Subscribe { id, payload },
            TransportMessage::Complete { id } => Incoming::Complete { id },
        },
        Protocol::Legacy => match serde_json::from_str(text).ok()? {
            LegacyMessage::ConnectionInit { payload } => Incoming::Init(payload),
            LegacyMessage::Start { id, payload } => Incoming::Subscribe { id, payload },
            LegacyMessage::Stop { id } => Incoming::Complete { id },
            LegacyMessage::ConnectionTerminate {} => Incoming::Terminate,
        },
    })
}

/// What an operation task hands to the socket loop.
enum Out {
    /// A message of operation `id`; dropped when that operation has been stopped meanwhile.
    Message {
        id: String,
        serial: u64,
        text: String,
    },
    /// Operation `id` has sent its last message.
    Finished { id: String, serial: u64 },
    /// The socket must close (the credential failed when the operation re-authenticated).
    Close(Refusal),
}

/// Why the socket loop stopped: a close frame to send, or nothing (the client is gone or has
/// closed).
type Ending = Option<(u16, Cow<'static, str>)>;

/// What handling one client message leads to.
enum Flow {
    Continue,
    /// The connection was acknowledged with a credential of `user` expiring at `expires_at`
    /// (if ever).
    Acked {
        user: crate::domain::ids::UserId,
        expires_at: Option<DateTime<Utc>>,
    },
    Close(u16, Cow<'static, str>),
}

/// How a credential that fails closes the socket: 4403 when it is missing, malformed, invalid,
/// expired or revoked; 1011 when it could not be checked (the database is unavailable), so
/// that the client tries again. The one mapping from an authentication failure to a close
/// code, used by `connection_init`, by every operation and by the re-checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refusal {
    code: u16,
    reason: &'static str,
}

impl Refusal {
    /// `connection_init` named no credential (nor did the upgrade request).
    const NO_CREDENTIAL: Refusal = Refusal {
        code: close::FORBIDDEN,
        reason: "Forbidden: send {\"Authorization\": \"Token <key>\"} in connection_init",
    };

    /// The close an authentication failure leads to.
    fn of(error: &AuthError) -> Refusal {
        match error {
            AuthError::Malformed | AuthError::Invalid => Refusal {
                code: close::FORBIDDEN,
                reason: "Forbidden: invalid, expired or revoked token",
            },
            AuthError::Db(_) => Refusal {
                code: close::INTERNAL_ERROR,
                reason: "try again",
            },
        }
    }

    /// Whether the credential could not be checked (rather than found bad): a re-check that
    /// fails so keeps the socket open.
    fn unchecked(self) -> bool {
        self.code == close::INTERNAL_ERROR
    }

    fn ending(self) -> Ending {
        Some((self.code, self.reason.into()))
    }
}

/// Authenticates a socket's credential; a failure comes as the close it leads to (and is
/// logged when the database failed).
async fn authenticate(db: &Db, credential: &str) -> Result<Principal, Refusal> {
    auth::authenticate(db, credential).await.map_err(|e| {
        if let AuthError::Db(e) = &e {
            tracing::warn!(error = %e, "websocket authentication lookup failed");
        }
        Refusal::of(&e)
    })
}

/// The running operations of a socket, by client id. Dropping it aborts them all, so no
/// operation outlives its socket (whatever way the socket loop ends).
#[derive(Default)]
struct Operations(HashMap<String, (u64, AbortHandle)>);

impl Drop for Operations {
    fn drop(&mut self) {
        for (_, (_, task)) in self.0.drain() {
            task.abort();
        }
    }
}

/// The protocol state of one socket: what its client messages act on.
struct Session {
    state: AppState,
    /// The connection's database handle: what one operation wrote, the next ones read (see
    /// [`crate::db::Db::session`]).
    db: crate::db::Db,
    protocol: Protocol,
    /// The upgrade request's `Authorization` header, used when `connection_init` names none.
    header_credential: Option<String>,
    /// Whether `connection_init` has been received (a second one closes the socket).
    init_received: bool,
    /// The `Authorization` value the connection was acknowledged with; every operation
    /// re-authenticates with it.
    credential: Option<String>,
    operations: Operations,
    /// Numbers operations, so that messages of a stopped operation are not mistaken for those
    /// of a later one reusing its id.
    next_serial: u64,
    tx: mpsc::Sender<Out>,
}

/// One socket: its session, and everything the socket loop waits for besides client messages.
struct Connection {
    socket: WebSocket,
    session: Session,
    /// What the operations hand to the socket loop.
    rx: mpsc::Receiver<Out>,
    timers: Timers,
    /// [`Bus::credential_epoch`](crate::events::Bus::credential_epoch) when the socket opened,
    /// before its credential was checked.
    credential_epoch: u64,
    /// News that the user's credentials changed (a revoked token, a deactivated user), from the
    /// acknowledgement on; `None` before, and once no news can come any more.
    credentials: Option<CredentialWatch>,
}

/// The timers of a socket.
struct Timers {
    /// `connection_init` must come before it fires (`WS_INIT_TIMEOUT_MS`).
    init: Pin<Box<Sleep>>,
    /// Armed at the acknowledgement when the token expires (at `expires_at`, capped: see
    /// [`deadline`]).
    expiry: Pin<Box<Sleep>>,
    expires_at: Option<DateTime<Utc>>,
    /// The legacy protocol's keep-alive, once acknowledged.
    keep_alive: Interval,
    /// Re-checks the credential `ws_recheck_delay` after news that it may have changed; news
    /// meanwhile is covered by that check.
    recheck: Pin<Box<Sleep>>,
    recheck_due: bool,
}

/// What the socket loop wakes up for.
enum Wakeup {
    /// A websocket message from the client, an error, or the end of the stream (`None`).
    Message(Option<Result<Message, axum::Error>>),
    Out(Out),
    Timer(Timer),
    /// News on the credential watch; `false` when none can come any more.
    CredentialNews(bool),
    Shutdown,
}

enum Timer {
    Init,
    Expiry,
    Recheck,
    KeepAlive,
}

impl Connection {
    fn new(
        socket: WebSocket,
        state: AppState,
        protocol: Protocol,
        header_credential: Option<String>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let timers = Timers {
            init: Box::pin(tokio::time::sleep(state.config.ws_init_timeout)),
            expiry: Box::pin(tokio::time::sleep(Duration::ZERO)),
            expires_at: None,
            keep_alive,
            recheck: Box::pin(tokio::time::sleep(Duration::ZERO)),
            recheck_due: false,
        };
        Connection {
            socket,
            credential_epoch: state.events.credential_epoch(),
            session: Session {
                db: state.db.session(),
                state,
                protocol,
                header_credential,
                init_received: false,
                credential: None,
                operations: Operations::default(),
                next_serial: 0,
                tx,
            },
            rx,
            timers,
            credentials: None,
        }
    }

    /// Serves the socket until it closes.
    async fn run(mut self) {
        let ending = loop {
            let flow = match self.next().await {
                Wakeup::Message(incoming) => self.on_message(incoming).await,
                Wakeup::Out(out) => self.on_out(out).await,
                Wakeup::Timer(timer) => self.on_timer(timer).await,
                Wakeup::CredentialNews(told) => {
                    self.on_credential_news(told);
                    ControlFlow::Continue(())
                }
                Wakeup::Shutdown => {
                    ControlFlow::Break(Some((close::GOING_AWAY, "server shutting down".into())))
                }
            };
            if let ControlFlow::Break(ending) = flow {
                break ending;
            }
        };
        self.close(ending).await;
    }

    /// Waits for the next thing to act on.
    async fn next(&mut self) -> Wakeup {
        let acked = self.session.acked();
        let legacy = self.session.protocol == Protocol::Legacy;
        let timers = &mut self.timers;
        tokio::select! {
            incoming = self.socket.recv() => Wakeup::Message(incoming),
            Some(out) = self.rx.recv() => Wakeup::Out(out),
            () = timers.init.as_mut(), if !acked => Wakeup::Timer(Timer::Init),
            () = timers.expiry.as_mut(), if timers.expires_at.is_some() => {
                Wakeup::Timer(Timer::Expiry)
            }
            () = timers.recheck.as_mut(), if timers.recheck_due => Wakeup::Timer(Timer::Recheck),
            _ = timers.keep_alive.tick(), if acked && legacy => Wakeup::Timer(Timer::KeepAlive),
            told = credential_news(&mut self.credentials), if !timers.recheck_due => {
                Wakeup::CredentialNews(told)
            }
            () = self.session.state.shutdown.cancelled() => Wakeup::Shutdown,
        }
    }

    /// A websocket message (or the end of the stream).
    async fn on_message(
        &mut self,
        incoming: Option<Result<Message, axum::Error>>,
    ) -> ControlFlow<Ending> {
        let text = match incoming {
            None | Some(Ok(Message::Close(_))) => return ControlFlow::Break(None),
            Some(Err(e)) => {
                // tungstenite reports a message or frame above the configured maximum as
                // "Message too long"; anything else means the connection is broken.
                if e.to_string().contains("Message too long") {
                    let ending = Some((close::MESSAGE_TOO_BIG, "message too big".into()));
                    return ControlFlow::Break(ending);
                }
                tracing::debug!(error = %e, "websocket read failed");
                return ControlFlow::Break(None);
            }
            // Websocket-level pings are answered by tungstenite itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return ControlFlow::Continue(()),
            Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
            Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                Ok(t) => t,
                Err(_) => {
                    let ending = Some((close::BAD_REQUEST, "invalid message received".into()));
                    return ControlFlow::Break(ending);
                }
            },
        };
        match self.session.handle(&mut self.socket, &text).await {
            Flow::Continue => {}
            Flow::Acked { user, expires_at } => self.on_acked(user, expires_at),
            Flow::Close(code, reason) => return ControlFlow::Break(Some((code, reason))),
        }
        ControlFlow::Continue(())
    }

    /// The connection was acknowledged: keep-alives start, the credential is watched and, when
    /// it expires, the expiry timer armed.
    fn on_acked(&mut self, user: crate::domain::ids::UserId, expires_at: Option<DateTime<Utc>>) {
        self.timers.keep_alive.reset();
        let events = &self.session.state.events;
        self.credentials = Some(events.watch_credentials(user, self.credential_epoch));
        if let Some(at) = expires_at {
            self.timers.expires_at = Some(at);
            self.timers.expiry.as_mut().reset(deadline(at));
        }
    }

    /// A message from an operation.
    async fn on_out(&mut self, out: Out) -> ControlFlow<Ending> {
        match out {
            Out::Message { id, serial, text } => {
                if self.session.is_current(&id, serial)
                    && self.socket.send(Message::Text(text.into())).await.is_err()
                {
                    return ControlFlow::Break(None);
                }
            }
            Out::Finished { id, serial } => {
                if self.session.is_current(&id, serial) {
                    self.session.operations.0.remove(&id);
                }
            }
            // Even from an operation stopped meanwhile: the credential is bad either way.
            Out::Close(refusal) => return ControlFlow::Break(refusal.ending()),
        }
        ControlFlow::Continue(())
    }

    async fn on_timer(&mut self, timer: Timer) -> ControlFlow<Ending> {
        match timer {
            Timer::Init => {
                let reason = "Connection initialisation timeout";
                return ControlFlow::Break(Some((close::INIT_TIMEOUT, reason.into())));
            }
            Timer::Expiry => {
                // The timer is capped (see `deadline`): re-arm it if the expiry is further off.
                let at = self.timers.expires_at.unwrap_or_else(Utc::now);
                if Utc::now() >= at {
                    let ending = Some((close::FORBIDDEN, "Forbidden: token expired".into()));
                    return ControlFlow::Break(ending);
                }
                self.timers.expiry.as_mut().reset(deadline(at));
            }
            Timer::Recheck => {
                self.timers.recheck_due = false;
                if let Some(watch) = &mut self.credentials {
                    watch.seen();
                }
                if let Some(credential) = &self.session.credential {
                    match authenticate(&self.session.state.db, credential).await {
                        // Could not check: the socket stays open until the next news.
                        Ok(_) => {}
                        Err(refusal) if refusal.unchecked() => {}
                        Err(refusal) => return ControlFlow::Break(refusal.ending()),
                    }
                }
            }
            Timer::KeepAlive => {
                if send_json(&mut self.socket, json!({ "type": "ka" }))
                    .await
                    .is_err()
                {
                    return ControlFlow::Break(None);
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// News on the credential watch: re-check once the recheck delay has passed (news meanwhile
    /// is covered by that check).
    fn on_credential_news(&mut self, told: bool) {
        if told {
            self.timers.recheck_due = true;
            let delay = self.session.state.config.ws_recheck_delay;
            self.timers.recheck.as_mut().reset(Instant::now() + delay);
        } else {
            self.credentials = None; // no news can come any more
        }
    }

    /// Stops every operation, then sends the close frame (if any) and waits a little for the
    /// client's answer.
    async fn close(self, ending: Ending) {
        let Connection {
            mut socket,
            session,
            ..
        } = self;
        // Stop every operation before anything else: none may run past the end of the socket.
        drop(session);
        if let Some((code, reason)) = ending {
            let frame = CloseFrame {
                code,
                reason: truncate(&reason, 123).into(),
            };
            if socket.send(Message::Close(Some(frame))).await.is_ok() {
                // Wait for the client's answering close frame (tungstenite ends the stream then),
                // so the close frame is not lost to a connection reset.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(_)) = socket.recv().await {}
                })
                .await;
            }
        }
    }
}

/// Waits for news on the credential watch (never without one); `false` when none can come.
async fn credential_news(watch: &mut Option<CredentialWatch>) -> bool {
    match watch {
        Some(watch) => watch.changed().await,
        None => std::future::pending().await,
    }
}

/// `text` cut to at most `max` bytes on a character boundary (a close reason may have 123).
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The instant `at` is reached, capped at a day ahead (the timer is re-armed then) so that
/// `Instant` arithmetic cannot overflow on far-off expiries.
fn deadline(at: DateTime<Utc>) -> Instant {
    let left = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    Instant::now() + left.min(Duration::from_secs(24 * 3600))
}

async fn send_json(socket: &mut WebSocket, message: Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(message.to_string().into())).await
}

/// The `Authorization` value of a `connection_init` payload.
fn payload_credential(payload: Option<&Value>) -> Option<String> {
    let payload = payload?;
    payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Session {
    /// Whether the connection has been acknowledged.
    fn acked(&self) -> bool {
        self.credential.is_some()
    }

    /// Whether `serial` is the running operation `id` (not one stopped or replaced since).
    fn is_current(&self, id: &str, serial: u64) -> bool {
        self.operations
            .0
            .get(id)
            .is_some_and(|(running, _)| *running == serial)
    }

    /// Handles one client message.
    async fn handle(&mut self, socket: &mut WebSocket, text: &str) -> Flow {
        let Some(message) = parse_message(self.protocol, text) else {
            return Flow::Close(close::BAD_REQUEST, "invalid message received".into());
        };
        match message {
            Incoming::Init(payload) => self.init(socket, payload.as_ref()).await,
            Incoming::Ping => {
                // Allowed at any time, even before the acknowledgement.
                match send_json(socket, json!({ "type": "pong" })).await {
                    Ok(()) => Flow::Continue,
                    Err(_) => Flow::Close(close::NORMAL, "".into()),
                }
            }
            Incoming::Pong => Flow::Continue,
            Incoming::Terminate => Flow::Close(close::NORMAL, "".into()),
            Incoming::Subscribe { id, payload } => self.subscribe(socket, id, payload).await,
            Incoming::Complete { id } => {
                if let Some((_, task)) = self.operations.0.remove(&id) {
                    task.abort();
                    // The legacy protocol confirms a `stop`; graphql-transport-ws sends
                    // nothing after a client's `complete`.
                    if self.protocol == Protocol::Legacy {
                        let _ = send_json(socket, json!({ "type": "complete", "id": id })).await;
                    }
                }
                Flow::Continue
            }
        }
    }

    /// `connection_init`: authenticates and acknowledges, or closes (see [`Refusal`]).
    async fn init(&mut self, socket: &mut WebSocket, payload: Option<&Value>) -> Flow {
        if self.init_received {
            return Flow::Close(
                close::TOO_MANY_INITS,
                "Too many initialisation requests".into(),
            );
        }
        self.init_received = true;
        let credential = payload_credential(payload).or_else(|| self.header_credential.clone());
        let refusal = match &credential {
            None => Refusal::NO_CREDENTIAL,
            Some(value) => match authenticate(&self.state.db, value).await {
                Ok(principal) => {
                    self.credential = credential;
                    let mut sent = send_json(socket, json!({ "type": "connection_ack" })).await;
                    if self.protocol == Protocol::Legacy && sent.is_ok() {
                        // The legacy protocol expects a first keep-alive right away.
                        sent = send_json(socket, json!({ "type": "ka" })).await;
                    }
                    return match sent {
                        Ok(()) => Flow::Acked {
                            user: principal.user_id,
                            expires_at: principal.expires_at,
                        },
                        Err(_) => Flow::Close(close::NORMAL, "".into()),
                    };
                }
                Err(refusal) => refusal,
            },
        };
        // Legacy clients expect a refused credential as a message before the close.
        if self.protocol == Protocol::Legacy && !refusal.unchecked() {
            let message =
                json!({ "type": "connection_error", "payload": { "message": refusal.reason } });
            let _ = send_json(socket, message).await;
        }
        Flow::Close(refusal.code, refusal.reason.into())
    }

    /// `subscribe` (legacy: `start`): starts the operation on a task of its own.
    async fn subscribe(&mut self, socket: &mut WebSocket, id: String, payload: Value) -> Flow {
        let Some(credential) = self.credential.clone() else {
            return Flow::Close(close::UNAUTHORIZED, "Unauthorized".into());
        };
        if self.operations.0.contains_key(&id) {
            return Flow::Close(
                close::SUBSCRIBER_EXISTS,
                format!("Subscriber for {id} already exists").into(),
            );
        }
        let Ok(request) = serde_json::from_value::<async_graphql::Request>(payload) else {
            return Flow::Close(close::BAD_REQUEST, "invalid subscribe payload".into());
        };
        if self.operations.0.len() >= MAX_OPERATIONS {
            // Refuse this operation only; the socket and its other operations go on.
            let errors = json!([{
                "message": format!("at most {MAX_OPERATIONS} operations may run at once on one socket"),
                "extensions": { "code": codes::BAD_USER_INPUT },
            }]);
            let message = json!({ "type": "error", "id": id, "payload": errors });
            return match send_json(socket, message).await {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Close(close::NORMAL, "".into()),
            };
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let operation = Operation {
            state: self.state.clone(),
            db: self.db.clone(),
            protocol: self.protocol,
            id: id.clone(),
            serial,
            tx: self.tx.clone(),
        };
        let task = tokio::spawn(operation.run(credential, request));
        self.operations.0.insert(id, (serial, task.abort_handle()));
        Flow::Continue
    }
}

/// One running operation.
struct Operation {
    state: AppState,
    db: crate::db::Db,
    protocol: Protocol,
    id: String,
    serial: u64,
    tx: mpsc::Sender<Out>,
}

impl Operation {
    /// Re-authenticates, executes, sends the results and tells the socket loop it is done.
    async fn run(self, credential: String, request: async_graphql::Request) {
        let principal = match authenticate(&self.state.db, &credential).await {
            Ok(p) => p,
            Err(refusal) => {
                let _ = self.tx.send(Out::Close(refusal)).await;
                return;
            }
        };
        let config = &self.state.config;
        // A query over the size limit is not parsed here: `execute` refuses it unparsed.
        let doc = (request.query.len() <= config.query_limits.max_query_bytes)
            .then(|| async_graphql::parser::parse_query(&request.query).ok())
            .flatten();
        let is_subscription = doc
            .as_ref()
            .and_then(|d| operation_type(d, request.operation_name.as_deref()))
            == Some(OperationType::Subscription);
        // A subscription's loader does not cache: each event sees objects as they are then.
        let request = if is_subscription {
            graphql::prepare_subscription(request, &self.db, config.loader_delay, principal)
        } else {
            graphql::prepare(request, &self.db, config.loader_delay, principal)
        };

        if !is_subscription {
            let response = graphql::execute(
                &self.state.schema,
                request,
                &config.query_limits,
                config.request_timeout,
            )
            .await;
            if self.respond(response, true).await {
                self.complete().await;
            }
        } else {
            let mut stream =
                graphql::execute_stream(&self.state.schema, request, &config.query_limits);
            let mut first = true;
            let mut go_on = true;
            while go_on && let Some(response) = stream.next().await {
                go_on = self.respond(response, first).await;
                first = false;
            }
            if go_on {
                self.complete().await;
            }
        }
        let _ = self.finished().await;
    }

    /// Sends one response; returns whether the operation goes on. In graphql-transport-ws a
    /// request error (the operation did not run: parse, validation, limits, timeout) as the
    /// first response is an `error` message, which ends the operation without `complete`.
    async fn respond(&self, response: async_graphql::Response, first: bool) -> bool {
        if first && self.protocol == Protocol::Transport && is_request_error(&response) {
            let errors = serde_json::to_value(&response.errors).unwrap_or(Value::Null);
            self.send(json!({ "type": "error", "id": self.id, "payload": errors }))
                .await;
            return false;
        }
        // Serialized once, capped at `max_response_bytes` like an HTTP response.
        let max = self.state.config.max_response_bytes;
        let payload = graphql::encode(&response, max).unwrap_or_else(|| {
            tracing::warn!(max, "websocket response over MAX_RESPONSE_BYTES refused");
            graphql::encode(&graphql::too_large(max), usize::MAX).unwrap_or_default()
        });
        let id = serde_json::to_string(&self.id).unwrap_or_default();
        let mut text = format!(
            r#"{{"type":"{}","id":{id},"payload":"#,
            self.protocol.result_type()
        );
        text.push_str(&String::from_utf8_lossy(&payload));
        text.push('}');
        self.send_text(text).await
    }

    async fn complete(&self) -> bool {
        self.send(json!({ "type": "complete", "id": self.id }))
            .await
    }

    /// Queues a message for the socket; `false` once the socket loop is gone.
    async fn send(&self, message: Value) -> bool {
        self.send_text(message.to_string()).await
    }

    async fn send_text(&self, text: String) -> bool {
        let out = Out::Message {
            id: self.id.clone(),
            serial: self.serial,
            text,
        };
        self.tx.send(out).await.is_ok()
    }

    async fn finished(&self) -> bool {
        let out = Out::Finished {
            id: self.id.clone(),
            serial: self.serial,
        };
        self.tx.send(out).await.is_ok()
    }
}

/// The type of the operation a request selects; `None` when it selects none (execution then
/// reports why).
fn operation_type(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    let mut operations = doc.operations.iter();
    let (_, op) = match name {
        Some(name) => operations.find(|(n, _)| n.is_some_and(|n| n.as_str() == name))?,
        None => {
            let first = operations.next()?;
            if operations.next().is_some() {
                return None;
            }
            first
        }
    };
    Some(op.node.ty)
}

/// A response to an operation that did not run: no data, and only errors without a path
/// (field errors have one).
fn is_request_error(response: &async_graphql::Response) -> bool {
    matches!(response.data, GqlValue::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_messages_of_each_protocol_only() {
        let init = r#"{"type":"connection_init","payload":{"Authorization":"Token x"}}"#;
        assert!(matches!(
            parse_message(Protocol::Transport, init),
            Some(Incoming::Init(Some(_)))
        ));
        assert!(matches!(
            parse_message(Protocol::Legacy, r#"{"type":"connection_init"}"#),
            Some(Incoming::Init(None))
        ));
        let start = r#"{"type":"start","id":"1","payload":{"query":"{a}"}}"#;
        assert!(parse_message(Protocol::Transport, start).is_none());
        assert!(matches!(
            parse_message(Protocol::Legacy, start),
            Some(Incoming::Subscribe { .. })
        ));
        assert!(matches!(
            parse_message(Protocol::Transport, r#"{"type":"pong","payload":{"x":1}}"#),
            Some(Incoming::Pong)
        ));
        assert!(parse_message(Protocol::Transport, "not json").is_none());
        assert!(parse_message(Protocol::Transport, r#"{"type":"subscribe"}"#).is_none());
    }

    #[test]
    fn finds_the_selected_operation_type() {
        let doc = async_graphql::parser::parse_query(
            "query A { a } subscription B { b } mutation C { c }",
        )
        .unwrap();
        assert_eq!(
            operation_type(&doc, Some("B")),
            Some(OperationType::Subscription)
        );
        assert_eq!(
            operation_type(&doc, Some("C")),
            Some(OperationType::Mutation)
        );
        assert_eq!(operation_type(&doc, None), None);
        assert_eq!(operation_type(&doc, Some("D")), None);
        let single = async_graphql::parser::parse_query("subscription { b }").unwrap();
        assert_eq!(
            operation_type(&single, None),
            Some(OperationType::Subscription)
        );
    }

    #[test]
    fn a_bad_credential_closes_4403_and_an_unchecked_one_1011() {
        for bad in [AuthError::Malformed, AuthError::Invalid] {
            let refusal = Refusal::of(&bad);
            assert_eq!(refusal.code, 4403);
            assert!(!refusal.unchecked());
        }
        assert_eq!(Refusal::NO_CREDENTIAL.code, 4403);
        let unchecked = Refusal::of(&AuthError::Db(crate::db::DbError::Unavailable("x".into())));
        assert_eq!((unchecked.code, unchecked.unchecked()), (1011, true));
    }

    #[test]
    fn reads_the_credential_of_either_spelling() {
        assert_eq!(
            payload_credential(Some(&json!({ "authorization": "Token a" }))).as_deref(),
            Some("Token a")
        );
        assert_eq!(
            payload_credential(Some(&json!({ "Authorization": "Bearer b" }))).as_deref(),
            Some("Bearer b")
        );
        assert_eq!(payload_credential(Some(&json!({}))), None);
        assert_eq!(payload_credential(None), None);
    }
}
