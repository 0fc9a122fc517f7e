//! The client-facing error type and its policy.
//!
//! Lower layers return narrow errors (`diesel` results, `db::DbError`, validation errors); the
//! service tier turns them into a [`ServiceError`], and the API layers show it: GraphQL as an
//! error whose `extensions.code` is one of the constants below (`graphql::context`), REST with
//! the matching HTTP status. An internal error is logged with its whole cause chain, and the
//! client sees only `INTERNAL` and a generic message.

pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const CONFLICT: &str = "CONFLICT";
pub const ENGAGEMENT_COMPLETED: &str = "ENGAGEMENT_COMPLETED";
pub const PARSE_ERROR: &str = "PARSE_ERROR";
pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
pub const INTERNAL: &str = "INTERNAL";
pub const LAGGED: &str = "LAGGED";
/// The response would exceed `MAX_RESPONSE_BYTES`.
pub const RESPONSE_TOO_LARGE: &str = "RESPONSE_TOO_LARGE";

/// An error a client can act on, sorted by who is at fault.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display` type into
/// an error *without* a code, so `ServiceError` converts only through its own `From` impl (in
/// `graphql::context`).
#[derive(Debug)]
pub enum ServiceError {
    // The caller's input.
    BadUserInput(String),
    NotFound(String),
    Conflict(String),
    EngagementCompleted(String),
    ParseError(String),
    PayloadTooLarge(String),
    // The caller's identity.
    Unauthenticated,
    Forbidden(String),
    // Ours.
    ServiceUnavailable,
    /// A subscription fell behind; the last event id it received, to resume from.
    Lagged(Option<i64>),
    Internal(anyhow::Error),
}

impl ServiceError {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Self::BadUserInput(msg.into())
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            Self::BadUserInput(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::EngagementCompleted(m)
            | Self::ParseError(m)
            | Self::PayloadTooLarge(m)
            | Self::Forbidden(m) => m.clone(),
            Self::Unauthenticated => "authentication required".into(),
            Self::ServiceUnavailable => "the service is temporarily unavailable, try again".into(),
            Self::Lagged(_) => {
                "the subscription fell behind the event stream: resubscribe with `after: lastEventId`"
                    .into()
            }
            Self::Internal(_) => "internal error".into(),
        }
    }

    /// The `extensions.code` this error carries.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) => BAD_USER_INPUT,
            Self::NotFound(_) => NOT_FOUND,
            Self::Conflict(_) => CONFLICT,
            Self::EngagementCompleted(_) => ENGAGEMENT_COMPLETED,
            Self::ParseError(_) => PARSE_ERROR,
            Self::PayloadTooLarge(_) => PAYLOAD_TOO_LARGE,
            Self::Unauthenticated => UNAUTHENTICATED,
            Self::Forbidden(_) => FORBIDDEN,
            Self::ServiceUnavailable => SERVICE_UNAVAILABLE,
            Self::Lagged(_) => LAGGED,
            Self::Internal(_) => INTERNAL,
        }
    }
}

/// The result type of resolvers and services.
pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(e: ServiceError) -> (String, String) {
        let g: async_graphql::Error = e.into();
        let code = g
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .map(|v| v.to_string())
            .unwrap_or_default();
        (code, g.message)
    }

    #[test]
    fn every_error_carries_its_code() {
        assert_eq!(
            code_of(ServiceError::bad_input("x")).0,
            "\"BAD_USER_INPUT\""
        );
        assert_eq!(
            code_of(ServiceError::not_found("Product 3")).1,
            "Product 3 not found"
        );
        assert_eq!(
            code_of(ServiceError::Conflict("dup".into())).0,
            "\"CONFLICT\""
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let (code, msg) = code_of(ServiceError::internal(anyhow::anyhow!(
            "relation \"x\" does not exist"
        )));
        assert_eq!(code, "\"INTERNAL\"");
        assert_eq!(msg, "internal error");
    }
}
