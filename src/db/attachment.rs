//! What a note or file is attached to (an engagement, a test or a finding), shared by
//! [`super::note`] and [`super::file`].

use diesel::{OptionalExtension, QueryableByName, sql_types::Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{DbError, QueryResult, sql::Sql};

/// What a note or file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attachment {
    Engagement(i32),
    Test(i32),
    Finding(i32),
}

impl Attachment {
    pub fn id(self) -> i32 {
        match self {
            Attachment::Engagement(id) | Attachment::Test(id) | Attachment::Finding(id) => id,
        }
    }

    /// The column holding this kind of parent.
    pub fn column(self) -> &'static str {
        match self {
            Attachment::Engagement(_) => "engagement_id",
            Attachment::Test(_) => "test_id",
            Attachment::Finding(_) => "finding_id",
        }
    }

    /// The parent columns (engagement, test, finding) of a row attached here.
    pub fn ids(self) -> (Option<i32>, Option<i32>, Option<i32>) {
        match self {
            Attachment::Engagement(id) => (Some(id), None, None),
            Attachment::Test(id) => (None, Some(id), None),
            Attachment::Finding(id) => (None, None, Some(id)),
        }
    }

    /// The ids of `parents` by kind: engagements, tests, findings.
    pub fn split(parents: &[Attachment]) -> (Vec<i32>, Vec<i32>, Vec<i32>) {
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
        engagement: Option<i32>,
        test: Option<i32>,
        finding: Option<i32>,
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
        sql.bind::<Integer, _>(self.id()).push(" FOR SHARE");
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
