//! The integration test binary: every test talks to a real Postgres through its own database.

mod helpers;

mod access;
mod access_events;
mod auth;
mod client_libraries;
mod dataloader;
mod delete;
mod demo;
mod engagement;
mod errors;
mod events;
mod finding;
mod hardening;
mod harness;
mod http;
mod import;
mod lifecycle;
mod limits;
mod notes_files;
mod notifications;
mod pagination;
mod parsers;
mod private_notes;
mod product;
mod product_type;
mod rbac;
mod reference;
mod schema_rs;
mod schema_sdl;
mod service_access;
mod test_entity;
mod test_types;
mod token_lineage;
mod visibility;
mod websocket;
