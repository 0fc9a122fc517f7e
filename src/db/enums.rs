//! Text-column conversions for the domain enumerations (stored as their SCREAMING_CASE names).

use std::io::Write;

use diesel::{
    deserialize::{self, FromSql},
    pg::{Pg, PgValue},
    serialize::{self, IsNull, Output, ToSql},
    sql_types::Text,
};

use crate::domain::{
    BusinessCriticality, EngagementStatus, EngagementType, Lifecycle, Origin, Platform, Role,
    Severity,
    events::{EventKind, StatusChangeReason},
    import::{ImportAction, ImportKind},
};

macro_rules! text_sql {
    ($($t:ty),+ $(,)?) => {$(
        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $t {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                Ok(std::str::from_utf8(bytes.as_bytes())?.parse::<$t>()?)
            }
        }
    )+};
}

text_sql!(
    Severity,
    EngagementType,
    EngagementStatus,
    BusinessCriticality,
    Platform,
    Lifecycle,
    Origin,
    Role,
    EventKind,
    StatusChangeReason,
    ImportAction,
    ImportKind
);
