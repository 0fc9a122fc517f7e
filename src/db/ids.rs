//! Integer-column conversions for the typed ids of `domain::ids` (stored as `INTEGER`).

use std::io::Write;

use diesel::{
    deserialize::{self, FromSql},
    pg::{Pg, PgValue},
    serialize::{self, IsNull, Output, ToSql},
    sql_types::Integer,
};

use crate::domain::ids::{
    ApiTokenId, DevelopmentEnvironmentId, EngagementId, FileId, FindingId, GroupId, GroupMemberId,
    MembershipId, NoteId, ProductId, ProductTypeId, SlaConfigurationId, TestId, TestTypeId, UserId,
};

macro_rules! integer_sql {
    ($($t:ty),+ $(,)?) => {$(
        impl ToSql<Integer, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(&self.get().to_be_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Integer, Pg> for $t {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                <i32 as FromSql<Integer, Pg>>::from_sql(bytes).map(<$t>::new)
            }
        }
    )+};
}

integer_sql!(
    ProductTypeId,
    ProductId,
    EngagementId,
    TestId,
    FindingId,
    UserId,
    SlaConfigurationId,
    TestTypeId,
    DevelopmentEnvironmentId,
    NoteId,
    FileId,
    ApiTokenId,
    GroupId,
    GroupMemberId,
    MembershipId,
);
