//! dojoql: a GraphQL server for application-security programs.
//!
//! The layers import downward only (see `DESIGN.md` in the shared folder):
//! `main → app → graphql → lifecycle → db → domain`. `domain` is pure rules (severities, SLA
//! deadlines, status invariants, ids); `db` is diesel-async over Postgres and knows nothing of
//! GraphQL or HTTP; `graphql` holds thin resolvers, dataloaders and pagination; `app` wires the
//! axum router, the schema and graceful shutdown. `config`, `error` and `telemetry` are leaves.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
pub mod import;
pub mod service;
pub mod telemetry;
