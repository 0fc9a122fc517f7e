//! Ids: the typed database id of each kind of object ([`ProductId`], [`EngagementId`], …), and
//! the opaque global ids the API shows (Relay Global Object Identification:
//! `base64("Kind:databaseId")`).
//!
//! A typed id names one kind of object, so a product id cannot be passed where an engagement id
//! is expected. The ids derive diesel's `AsExpression`/`FromSqlRow` markers (rows hold them
//! directly; they are stored in `INTEGER` columns); their SQL conversions live in `db::ids`.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};

/// Every kind of object that has a global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    ProductType,
    Product,
    Engagement,
    Test,
    Finding,
    User,
    SlaConfiguration,
    TestType,
    DevelopmentEnvironment,
    Note,
    File,
    ApiToken,
    Group,
    GroupMember,
    Membership,
}

impl NodeKind {
    pub const ALL: &'static [NodeKind] = &[
        NodeKind::ProductType,
        NodeKind::Product,
        NodeKind::Engagement,
        NodeKind::Test,
        NodeKind::Finding,
        NodeKind::User,
        NodeKind::SlaConfiguration,
        NodeKind::TestType,
        NodeKind::DevelopmentEnvironment,
        NodeKind::Note,
        NodeKind::File,
        NodeKind::ApiToken,
        NodeKind::Group,
        NodeKind::GroupMember,
        NodeKind::Membership,
    ];

    /// The GraphQL type name, which is also the prefix inside the id.
    pub fn type_name(self) -> &'static str {
        match self {
            NodeKind::ProductType => "ProductType",
            NodeKind::Product => "Product",
            NodeKind::Engagement => "Engagement",
            NodeKind::Test => "Test",
            NodeKind::Finding => "Finding",
            NodeKind::User => "User",
            NodeKind::SlaConfiguration => "SlaConfiguration",
            NodeKind::TestType => "TestType",
            NodeKind::DevelopmentEnvironment => "DevelopmentEnvironment",
            NodeKind::Note => "Note",
            NodeKind::File => "File",
            NodeKind::ApiToken => "ApiToken",
            NodeKind::Group => "Group",
            NodeKind::GroupMember => "GroupMember",
            NodeKind::Membership => "Membership",
        }
    }
}

/// The database id of one kind of object.
pub trait TypedId:
    Copy + Eq + Ord + std::hash::Hash + fmt::Debug + fmt::Display + Send + Sync + 'static
{
    /// The kind of object the id names (the prefix of its global id).
    const KIND: NodeKind;
    fn new(id: i32) -> Self;
    fn get(self) -> i32;
}

/// Defines a typed id per kind of object: a transparent `i32` (the same in JSON and SQL), and
/// [`AnyId`], the typed id of any kind.
macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident => $kind:ident;)+) => {
        /// The typed id of an object of any kind (what a global id of unknown kind names).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AnyId {
            $($kind($name)),+
        }

        impl AnyId {
            /// The typed id of kind `kind` with database id `id`.
            pub fn new(kind: NodeKind, id: i32) -> Self {
                match kind {
                    $(NodeKind::$kind => AnyId::$kind($name(id))),+
                }
            }

            pub fn kind(self) -> NodeKind {
                match self {
                    $(AnyId::$kind(_) => NodeKind::$kind),+
                }
            }
        }
    $(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize,
                 diesel::AsExpression, diesel::FromSqlRow)]
        #[serde(transparent)]
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pub struct $name(i32);

        impl $name {
            pub const fn new(id: i32) -> Self {
                Self(id)
            }

            /// The database id.
            pub const fn get(self) -> i32 {
                self.0
            }
        }

        impl TypedId for $name {
            const KIND: NodeKind = NodeKind::$kind;
            fn new(id: i32) -> Self {
                Self(id)
            }
            fn get(self) -> i32 {
                self.0
            }
        }

        impl From<i32> for $name {
            fn from(id: i32) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i32 {
            fn from(id: $name) -> i32 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

typed_ids! {
    ProductTypeId => ProductType;
    ProductId => Product;
    EngagementId => Engagement;
    TestId => Test;
    FindingId => Finding;
    UserId => User;
    SlaConfigurationId => SlaConfiguration;
    TestTypeId => TestType;
    DevelopmentEnvironmentId => DevelopmentEnvironment;
    NoteId => Note;
    FileId => File;
    ApiTokenId => ApiToken;
    GroupId => Group;
    GroupMemberId => GroupMember;
    MembershipId => Membership;
}

/// An id that does not decode to `Kind:positive integer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid id")]
pub struct BadId(pub String);

/// Encodes a global id.
pub fn encode(kind: NodeKind, id: i32) -> String {
    STANDARD.encode(format!("{}:{id}", kind.type_name()))
}

/// Decodes a global id of any kind.
pub fn decode(raw: &str) -> Result<(NodeKind, i32), BadId> {
    let bad = || BadId(raw.chars().take(80).collect());
    let bytes = STANDARD.decode(raw.trim()).map_err(|_| bad())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    let (kind, id) = text.split_once(':').ok_or_else(bad)?;
    let kind = NodeKind::ALL
        .iter()
        .copied()
        .find(|k| k.type_name() == kind)
        .ok_or_else(bad)?;
    let id: i32 = id.parse().map_err(|_| bad())?;
    if id <= 0 {
        return Err(bad());
    }
    Ok((kind, id))
}

/// Decodes a global id that must be of `kind`.
pub fn decode_as(kind: NodeKind, raw: &str) -> Result<i32, BadId> {
    match decode(raw)? {
        (k, id) if k == kind => Ok(id),
        _ => Err(BadId(raw.chars().take(80).collect())),
    }
}

/// Encodes the global id of a typed id.
pub fn encode_id<T: TypedId>(id: T) -> String {
    encode(T::KIND, id.get())
}

/// Decodes a global id that must name a `T` (its kind is `T::KIND`).
pub fn decode_id<T: TypedId>(raw: &str) -> Result<T, BadId> {
    decode_as(T::KIND, raw).map(T::new)
}

/// Decodes a global id of any kind into the typed id of its kind.
pub fn decode_any(raw: &str) -> Result<AnyId, BadId> {
    decode(raw).map(|(kind, id)| AnyId::new(kind, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for k in NodeKind::ALL {
            assert_eq!(decode(&encode(*k, 42)).unwrap(), (*k, 42));
        }
        assert_eq!(
            decode_as(NodeKind::Product, &encode(NodeKind::Product, 7)),
            Ok(7)
        );
        assert!(decode_as(NodeKind::Test, &encode(NodeKind::Product, 7)).is_err());
        assert_eq!(
            decode_id::<ProductId>(&encode_id(ProductId::new(7))),
            Ok(ProductId::new(7))
        );
        assert!(decode_id::<TestId>(&encode_id(ProductId::new(7))).is_err());
        assert_eq!(
            decode_any(&encode_id(TestId::new(7))),
            Ok(AnyId::Test(TestId::new(7)))
        );
        for k in NodeKind::ALL {
            assert_eq!(AnyId::new(*k, 1).kind(), *k);
        }
        assert_eq!(serde_json::to_value(UserId::new(3)).unwrap(), 3);
        assert!(decode("not base64!").is_err());
        assert!(decode(&STANDARD.encode("Product:-1")).is_err());
        assert!(decode(&STANDARD.encode("Nope:1")).is_err());
    }
}
