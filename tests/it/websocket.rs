//! GraphQL over websockets.
