//! GraphQL over websockets (`GET /graphql/ws`).

use axum::{
    extract::{State, WebSocketUpgrade},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

use super::AppState;

/// Upgrades to a GraphQL websocket.
pub async fn handler(
    State(_state): State<AppState>,
    _headers: HeaderMap,
    _ws: WebSocketUpgrade,
) -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
