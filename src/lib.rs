//! dojoql: a GraphQL server for application-security programs.
//!
//! The layering, stated once (README and `DESIGN.md` repeat this sentence): imports go
//! `main → app → graphql → service → {auth, events, import} → db → domain`, with `config`, `error` and `telemetry` as leaves any layer may use; a layer may skip the ones below it (GraphQL reads go straight to `db` through dataloaders), never import one above it, and every write goes through `service`.
//!
//! - `domain`: pure rules and types (severities, SLA deadlines, status invariants, overdue,
//!   dedup hash codes, import outcomes, ids, the role matrix). No I/O.
//! - `db`: diesel-async queries over Postgres, one file per entity; knows nothing of GraphQL,
//!   HTTP, permissions or events as business rules (it writes the outbox rows it is handed).
//! - `auth`: tokens, principals and the permission check (`auth::access::require`).
//! - `events`: the outbox relay, the Redis/in-process fan-out and per-event access checks.
//! - `import`: scanner report parsers (bytes in, `domain::report` out; no database).
//! - `service`: every operation as a plain `async fn(db, &Principal, input)` — permission checks,
//!   one transaction, outbox events, typed result: `access`, `products`, `reference`, `settings`,
//!   `lifecycle`, `jobs` (the periodic engagement jobs), `demo` (demo data), and later `import`
//!   and `metrics`.
//! - `graphql`: thin resolvers (decode, call one service function, map), dataloaders,
//!   pagination, query limits. `app`: the axum router, websockets, multipart uploads, serving.

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
