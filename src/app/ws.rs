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
//! revoked or expired credential, 4408 no `connection_init` in time, 4409 an operation id that is
//! already running, 4429 a second `connection_init`, 1009 a message above `max_body_bytes`,
//! 1011 the credential could not be checked (database unavailable).
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

use std::{
    borrow::Cow,
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

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
use tokio::{sync::mpsc, task::AbortHandle, time::Instant};

use super::AppState;
use crate::{
    auth::{self, AuthError},
    error as codes,
    events::CredentialWatch,
    graphql,
};

/// The `graphql-ws` library's protocol.
pub const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The legacy `subscriptions-transport-ws` protocol.
pub const LEGACY_WS: &str = "graphql-ws";

/// How long a client has to send `connection_init` after the upgrade.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the legacy protocol's keep-alive (`ka`) is sent.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The most operations one socket may run at the same time.
pub const MAX_OPERATIONS: usize = 100;
/// Messages operations may queue for the socket before they wait for it (backpressure).
const CHANNEL_CAPACITY: usize = 64;
/// How long a closing socket waits for the client to answer its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The initialisation timeout in effect, in milliseconds (see [`set_init_timeout_for_tests`]).
static INIT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(INIT_TIMEOUT.as_millis() as u64);

/// Replaces [`INIT_TIMEOUT`] for every socket opened afterwards, process-wide. For tests only:
/// they shorten it to test the timeout without waiting 10 s.
pub fn set_init_timeout_for_tests(timeout: Duration) {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    INIT_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

fn init_timeout() -> Duration {
    Duration::from_millis(INIT_TIMEOUT_MS.load(Ordering::Relaxed))
}

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
pub async fn handler(
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
            serve(socket, state, protocol, header_credential).await
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
    Close { code: u16, reason: &'static str },
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
        user: i32,
        expires_at: Option<DateTime<Utc>>,
    },
    Close(u16, Cow<'static, str>),
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

/// The state of one socket.
struct Session {
    state: AppState,
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

/// Runs one socket until it closes.
async fn serve(
    mut socket: WebSocket,
    state: AppState,
    protocol: Protocol,
    header_credential: Option<String>,
) {
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    let mut session = Session {
        state,
        protocol,
        header_credential,
        init_received: false,
        credential: None,
        operations: Operations::default(),
        next_serial: 0,
        tx,
    };
    let init_timer = tokio::time::sleep(init_timeout());
    tokio::pin!(init_timer);
    // Armed at the acknowledgement when the token expires.
    let expiry_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(expiry_timer);
    let mut expires_at: Option<DateTime<Utc>> = None;
    let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut acked = false;
    let shutdown = session.state.shutdown.clone();
    // News that the user's credentials changed (a revoked token, a deactivated user) re-checks
    // the credential once the recheck timer fires; news meanwhile is covered by that check.
    let credential_epoch = session.state.events.credential_epoch();
    let mut credentials: Option<CredentialWatch> = None;
    let recheck_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(recheck_timer);
    let mut recheck_due = false;

    let ending: Ending = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    None | Some(Ok(Message::Close(_))) => break None,
                    Some(Err(e)) => {
                        // tungstenite reports a message or frame above the configured maximum as
                        // "Message too long"; anything else means the connection is broken.
                        if e.to_string().contains("Message too long") {
                            break Some((close::MESSAGE_TOO_BIG, "message too big".into()));
                        }
                        tracing::debug!(error = %e, "websocket read failed");
                        break None;
                    }
                    // Websocket-level pings are answered by tungstenite itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                    Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                        Ok(t) => t,
                        Err(_) => break Some((close::BAD_REQUEST, "invalid message received".into())),
                    },
                };
                match session.handle(&mut socket, &text).await {
                    Flow::Continue => {}
                    Flow::Acked { user, expires_at: expiry } => {
                        acked = true;
                        keep_alive.reset();
                        let events = &session.state.events;
                        credentials = Some(events.watch_credentials(user, credential_epoch));
                        if let Some(at) = expiry {
                            expires_at = Some(at);
                            expiry_timer.as_mut().reset(deadline(at));
                        }
                    }
                    Flow::Close(code, reason) => break Some((code, reason)),
                }
            }
            Some(out) = rx.recv() => match out {
                Out::Message { id, serial, text } => {
                    if session.is_current(&id, serial)
                        && socket.send(Message::Text(text.into())).await.is_err()
                    {
                        break None;
                    }
                }
                Out::Finished { id, serial } => {
                    if session.is_current(&id, serial) {
                        session.operations.0.remove(&id);
                    }
                }
                // Even from an operation stopped meanwhile: the credential is bad either way.
                Out::Close { code, reason } => break Some((code, reason.into())),
            },
            () = &mut init_timer, if !acked => {
                break Some((close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
            }
            () = &mut expiry_timer, if expires_at.is_some() => {
                // The timer is capped (see `deadline`): re-arm it if the expiry is further off.
                let at = expires_at.unwrap_or_else(Utc::now);
                if Utc::now() >= at {
                    break Some((close::FORBIDDEN, "Forbidden: token expired".into()));
                }
                expiry_timer.as_mut().reset(deadline(at));
            }
            () = shutdown.cancelled() => {
                break Some((close::GOING_AWAY, "server shutting down".into()));
            }
            told = credential_news(&mut credentials), if !recheck_due => {
                if told {
                    recheck_due = true;
                    let delay = session.state.config.ws_recheck_delay;
                    recheck_timer.as_mut().reset(Instant::now() + delay);
                } else {
                    credentials = None; // no news can come any more
                }
            }
            () = &mut recheck_timer, if recheck_due => {
                recheck_due = false;
                if let Some(watch) = &mut credentials {
                    watch.seen();
                }
                if let Some(credential) = &session.credential {
                    match auth::authenticate(&session.state.db, credential).await {
                        Ok(_) => {}
                        Err(AuthError::Db(e)) => {
                            tracing::warn!(error = %e, "websocket credential re-check failed");
                        }
                        Err(_) => {
                            break Some((close::FORBIDDEN, "Forbidden: invalid, expired or revoked token".into()));
                        }
                    }
                }
            }
            _ = keep_alive.tick(), if acked && protocol == Protocol::Legacy => {
                if send_json(&mut socket, json!({ "type": "ka" })).await.is_err() {
                    break None;
                }
            }
        }
    };

    // Stop every operation before anything else: none may run past the end of the socket.
    drop(session);
    if let Some((code, reason)) = ending {
        let frame = CloseFrame {
            code,
            reason: truncate(&reason, 123).into(),
        };
        if socket.send(Message::Close(Some(frame))).await.is_ok() {
            // Wait for the client's answering close frame (tungstenite ends the stream then), so
            // the close frame is not lost to a connection reset.
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                while let Some(Ok(_)) = socket.recv().await {}
            })
            .await;
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

    /// `connection_init`: authenticates and acknowledges, or closes with 4403.
    async fn init(&mut self, socket: &mut WebSocket, payload: Option<&Value>) -> Flow {
        if self.init_received {
            return Flow::Close(
                close::TOO_MANY_INITS,
                "Too many initialisation requests".into(),
            );
        }
        self.init_received = true;
        let credential = payload_credential(payload).or_else(|| self.header_credential.clone());
        let reason = match &credential {
            None => "Forbidden: send {\"Authorization\": \"Token <key>\"} in connection_init",
            Some(value) => match auth::authenticate(&self.state.db, value).await {
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
                Err(AuthError::Db(e)) => {
                    tracing::warn!(error = %e, "websocket authentication lookup failed");
                    return Flow::Close(close::INTERNAL_ERROR, "try again".into());
                }
                Err(_) => "Forbidden: invalid, expired or revoked token",
            },
        };
        // Legacy clients expect the refusal as a message before the close.
        if self.protocol == Protocol::Legacy {
            let refusal = json!({ "type": "connection_error", "payload": { "message": reason } });
            let _ = send_json(socket, refusal).await;
        }
        Flow::Close(close::FORBIDDEN, reason.into())
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
    protocol: Protocol,
    id: String,
    serial: u64,
    tx: mpsc::Sender<Out>,
}

impl Operation {
    /// Re-authenticates, executes, sends the results and tells the socket loop it is done.
    async fn run(self, credential: String, request: async_graphql::Request) {
        let principal = match auth::authenticate(&self.state.db, &credential).await {
            Ok(p) => p,
            Err(e) => {
                let (code, reason) = match e {
                    AuthError::Db(e) => {
                        tracing::warn!(error = %e, "websocket authentication lookup failed");
                        (close::INTERNAL_ERROR, "try again")
                    }
                    _ => (
                        close::FORBIDDEN,
                        "Forbidden: invalid, expired or revoked token",
                    ),
                };
                let _ = self.tx.send(Out::Close { code, reason }).await;
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
            graphql::prepare_subscription(request, &self.state.db, config.loader_delay, principal)
        } else {
            graphql::prepare(request, &self.state.db, config.loader_delay, principal)
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
