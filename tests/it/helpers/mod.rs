//! Test harness, one module per concern:
//!
//! - [`db`]: a fresh database per test, cloned from a migrated template, and direct SQL on it;
//! - [`app`]: [`TestApp`] (the app on that database), its users, tokens, routers and serving;
//! - [`gql`]: GraphQL through the schema and the assertions on its responses;
//! - [`fixtures`]: builders of the product hierarchy and memberships;
//! - [`snapshot`]: whole-database snapshots for "writes nothing" assertions, and insta
//!   snapshots of responses with ids, timestamps and event ids redacted;
//! - [`ws`]: a websocket client for `/graphql/ws`.
//!
//! Everything a test module needs is re-exported here: `use crate::helpers::{TestApp, ...}`.

#![allow(dead_code)]

pub mod app;
pub mod cluster;
pub mod db;
pub mod fixtures;
pub mod gql;
pub mod snapshot;
pub mod ws;

pub use app::{Replica, TestApp, TestUser, attached, serve_router};
pub use db::{TestDb, admin_url};
pub use fixtures::{Hierarchy, merge};
pub use gql::{assert_code, assert_orders, db_id, error_code};
pub(crate) use snapshot::assert_json_snapshot;
