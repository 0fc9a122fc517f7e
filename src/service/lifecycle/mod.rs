//! The lifecycle of what lives below products: engagements (create, update, close, reopen,
//! copy, the overdue and auto-close rules of the periodic jobs), tests, findings (status and
//! duplicate rules, SLA deadlines, change events), notes and files, and cascading deletes with
//! their previews.
//!
//! Each operation is a plain `async fn (db, &Principal, typed input) -> ServiceResult<row>`:
//! it checks its permissions and writes, with its outbox events, in one transaction
//! ([`super::write`]). Operations that another operation or a trusted server-side caller (the
//! demo loader, scan import, the jobs) runs inside its own transaction also exist as a
//! connection-level step, named `…_in` (`engagement::create_in`, `finding::create_in`, …): the
//! checked function is that step plus its permission checks. Rules shared by several entities
//! (an engagement must be open to receive tests and findings; a move re-computes the SLA
//! deadlines of what moved) live in the entity module that owns the rule and are called from
//! the others; `db` below holds only the statements.

pub mod attachment;
pub mod delete;
pub mod engagement;
pub mod finding;
pub mod test;
