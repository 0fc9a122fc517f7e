//! What a note or file is attached to (an engagement, a test or a finding), shared by
//! [`super::note`] and [`super::file`].

use diesel::{OptionalExtension, QueryableByName, sql_types::Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{DbError, QueryResult, sql::Sql};
use crate::domain::ids::{EngagementId, FindingId, TestId};

/// What a note or file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attachment {
    Engagement(EngagementId),
    Test(TestId),
    Finding(FindingId),
}

impl Attachment {
    /// The parent's database id (its kind is the variant's).
    fn raw_id(self) -> i32 {
        match self {
            Attachment::Engagement(id) => id.get(),
            Attachment::Test(id) => id.get(),
            Attachment::Finding(id) => id.get(),
        }
    }

    /// The parent columns (engagement, test, finding) of a row attached here.
    pub fn ids(self) -> (Option<EngagementId>, Option<TestId>, Option<FindingId>) {
        match self {
            Attachment::Engagement(id) => (Some(id), None, None),
            Attachment::Test(id) => (None, Some(id), None),
            Attachment::Finding(id) => (None, None, Some(id)),
        }
    }

    /// The ids of `parents` by kind: engagements, tests, findings.
    pub fn split(parents: &[Attachment]) -> (Vec<EngagementId>, Vec<TestId>, Vec<FindingId>) {
        let (mut e, mut t, mut f) = (Vec::new(), Vec::new(), Vec::new());
        for p in parents {
            match p {
                Attachment::Engagement(id) => e.push(*id),
                Attachment::Test(id) => t.push(*id),
                Attachment::Finding(id) => f.push(*id),
            }
        }
        (e, t, f)
    }

    pub fn from_ids(
        engagement: Option<EngagementId>,
        test: Option<TestId>,
        finding: Option<FindingId>,
    ) -> Option<Self> {
        match (engagement, test, finding) {
            (Some(id), _, _) => Some(Attachment::Engagement(id)),
            (_, Some(id), _) => Some(Attachment::Test(id)),
            (_, _, Some(id)) => Some(Attachment::Finding(id)),
            _ => None,
        }
    }

    /// Fails with `ParentNotFound` unless the parent exists (and share-locks it).
    pub async fn lock(self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        let (table, what) = match self {
            Attachment::Engagement(_) => ("engagements", "engagement"),
            Attachment::Test(_) => ("tests", "test"),
            Attachment::Finding(_) => ("findings", "finding"),
        };
        let mut sql = Sql::new(&format!("SELECT id FROM {table} WHERE id = "));
        sql.bind::<Integer, _>(self.raw_id()).push(" FOR SHARE");
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = Integer)]
            #[allow(dead_code)]
            id: i32,
        }
        sql.build()
            .get_result::<Id>(conn)
            .await
            .optional()?
            .ok_or(DbError::ParentNotFound(what))?;
        Ok(())
    }
}
