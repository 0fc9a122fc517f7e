//! Opaque global ids (Relay Global Object Identification): `base64("Kind:databaseId")`.

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
        assert!(decode("not base64!").is_err());
        assert!(decode(&STANDARD.encode("Product:-1")).is_err());
        assert!(decode(&STANDARD.encode("Nope:1")).is_err());
    }
}
