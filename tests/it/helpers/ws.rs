//! A websocket client for tests: connect to `/graphql/ws` in either subprotocol, send, and read
//! frames with a timeout (a broken server fails a test instead of hanging it).

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const TRANSPORT: &str = "graphql-transport-ws";
pub const LEGACY: &str = "graphql-ws";
/// A safety net for reads (the server answers in milliseconds).
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens `/graphql/ws` offering `protocol` (no `Sec-WebSocket-Protocol` header when `None`),
/// with extra request headers.
pub async fn try_connect(
    addr: SocketAddr,
    protocol: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    let (ws, response) = tokio_tungstenite::connect_async(request).await?;
    if let Some(p) = protocol {
        // The server answers with the protocol it chose (the first offered one it speaks).
        let chosen = response.headers()["Sec-WebSocket-Protocol"]
            .to_str()
            .unwrap();
        assert!(p.split(',').any(|offered| offered.trim() == chosen));
    }
    Ok(ws)
}

pub async fn connect(addr: SocketAddr, protocol: &str) -> Ws {
    try_connect(addr, Some(protocol), &[]).await.unwrap()
}

pub async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// A frame from the server: a JSON message, or the close code.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Closed(Option<u16>),
}

/// The next frame, skipping the legacy protocol's keep-alives.
pub async fn next_frame(ws: &mut Ws) -> Frame {
    loop {
        let next = tokio::time::timeout(READ_TIMEOUT, ws.next())
            .await
            .expect("no message from the server in time");
        match next {
            None => return Frame::Closed(None),
            Some(Err(e)) => panic!("websocket error: {e}"),
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] != "ka" {
                    return Frame::Json(v);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Frame::Closed(frame.map(|f| u16::from(f.code)));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// The next JSON message; panics if the socket closes instead.
pub async fn recv(ws: &mut Ws) -> Value {
    match next_frame(ws).await {
        Frame::Json(v) => v,
        Frame::Closed(code) => panic!("socket closed ({code:?}) where a message was expected"),
    }
}

/// Reads until the server closes; returns the close code and the messages received before.
pub async fn closed(ws: &mut Ws) -> (u16, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        match next_frame(ws).await {
            Frame::Json(v) => before.push(v),
            Frame::Closed(code) => return (code.expect("a close frame with a code"), before),
        }
    }
}

pub fn init(token: &str) -> Value {
    json!({ "type": "connection_init", "payload": { "Authorization": format!("Token {token}") } })
}

/// Opens a socket and has it acknowledged with `token`.
pub async fn acked(addr: SocketAddr, protocol: &str, token: &str) -> Ws {
    let mut ws = connect(addr, protocol).await;
    send(&mut ws, init(token)).await;
    assert_eq!(recv(&mut ws).await, json!({ "type": "connection_ack" }));
    ws
}

pub fn subscribe(protocol: &str, id: &str, query: &str) -> Value {
    let kind = if protocol == LEGACY {
        "start"
    } else {
        "subscribe"
    };
    json!({ "type": kind, "id": id, "payload": { "query": query, "variables": {} } })
}

/// Runs one single-response operation; returns its payload after checking the result message
/// type, the id and the `complete` that follows.
pub async fn run(ws: &mut Ws, protocol: &str, id: &str, query: &str) -> Value {
    send(ws, subscribe(protocol, id, query)).await;
    let result = recv(ws).await;
    let expected = if protocol == LEGACY { "data" } else { "next" };
    assert_eq!(result["type"], expected, "{result:#}");
    assert_eq!(result["id"], id);
    assert_eq!(
        recv(ws).await,
        json!({ "type": "complete", "id": id }),
        "after {result:#}"
    );
    result["payload"].clone()
}
