//! Periodic jobs: announce engagements that became overdue (`ENGAGEMENT_OVERDUE`, once each;
//! DESIGN.md, Domain decisions → Engagement) and, when the system setting `engagementAutoClose`
//! is on, close IN_PROGRESS engagements whose target end is more than `engagementAutoCloseDays`
//! days past (`ENGAGEMENT_STATUS_CHANGED`, reason AUTO_CLOSED); and fold the per-product finding
//! counters' delta rows (`db::counts::compact`). The engagement
//! rules themselves are lifecycle operations (`lifecycle::engagement::announce_overdue_in`,
//! `auto_close_in`); this module runs them as the system, on a schedule.
//!
//! Every replica runs the loop; a Postgres advisory lock lets exactly one run a round at a
//! time (the others skip it). A round is one transaction, and takes "today" as an argument so
//! tests control the clock.

use std::time::Duration;

use chrono::NaiveDate;
use tokio::task::JoinHandle;

use super::{ServiceResult, lifecycle::engagement, map_db};
use crate::db::{self, Db, advisory, system_settings};

/// The advisory lock of a job round.
const JOBS_LOCK: i64 = 0x646f_6a6f_6a6f_6273;

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// False when another replica was running a round (this one skipped).
    pub ran: bool,
    pub overdue: usize,
    pub auto_closed: usize,
    /// Delta rows of the per-product finding counters folded away.
    pub counters_compacted: i64,
}

/// Runs one round as of `today`.
#[tracing::instrument(skip_all, fields(%today))]
pub async fn run_once(db: &Db, today: NaiveDate) -> ServiceResult<Round> {
    db.write(move |c| {
        Box::pin(async move {
            if !advisory::try_xact_lock(c, JOBS_LOCK).await? {
                return Ok(Round::default());
            }
            let settings = system_settings::get(c).await?;
            let overdue = engagement::announce_overdue_in(c, today).await?;
            let auto_closed = if settings.engagement_auto_close {
                engagement::auto_close_in(c, today, settings.engagement_auto_close_days).await?
            } else {
                0
            };
            let counters_compacted = db::counts::compact(c).await?;
            Ok(Round {
                ran: true,
                overdue,
                auto_closed,
                counters_compacted,
            })
        })
    })
    .await
    .map_err(map_db("system settings"))
}

/// Runs a round every `interval` (as of the server's current UTC date).
pub fn start(db: Db, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&db, db::today()).await {
                Ok(r) if r.overdue + r.auto_closed > 0 => {
                    tracing::info!(
                        overdue = r.overdue,
                        auto_closed = r.auto_closed,
                        "engagement jobs"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "engagement jobs failed"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}
