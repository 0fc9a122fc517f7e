//! The permission matrix of DefectDojo 2.x's role-based access control (reference §7.1), as pure
//! data: which [`Role`] grants which [`Permission`]. Roles only add: a caller holding several
//! applicable roles has every permission any of them grants.
//!
//! The matrix is not a pure ladder: an API_IMPORTER may add and edit engagements and import scans
//! but, unlike a READER, may not add notes or view groups.

use super::Role;

/// Calls `$then!` with every permission name, in declaration order: the one list from which
/// both [`Permission`] and the API's `Permission` enum are made.
#[macro_export]
macro_rules! with_permissions {
    ($then:ident) => {
        $then! {
            ProductTypeView,
            ProductTypeAddProduct,
            ProductTypeEdit,
            ProductTypeManageMembers,
            ProductTypeMemberDelete,
            ProductTypeMemberAddOwner,
            ProductTypeDelete,
            ProductView,
            ProductEdit,
            ProductManageMembers,
            ProductMemberDelete,
            ProductMemberAddOwner,
            ProductConfigureNotifications,
            ProductDelete,
            EngagementView,
            EngagementAdd,
            EngagementEdit,
            EngagementDelete,
            TestView,
            TestAdd,
            TestEdit,
            TestDelete,
            FindingView,
            FindingAdd,
            FindingEdit,
            FindingDelete,
            ImportScanResult,
            RiskAcceptance,
            NoteAdd,
            NoteEdit,
            NoteDelete,
            GroupView,
            GroupEdit,
            GroupManageMembers,
            GroupMemberDelete,
            GroupAddOwner,
            GroupDelete,
        }
    };
}

/// Defines [`Permission`] and [`Permission::ALL`] from the list.
macro_rules! permission_enum {
    ($($name:ident),+ $(,)?) => {
        /// Something a role may allow on a product type, a product (and everything below it)
        /// or a group.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            $($name),+
        }

        impl Permission {
            /// Every permission, in declaration order.
            pub const ALL: &'static [Permission] = &[$(Permission::$name),+];
        }
    };
}

with_permissions!(permission_enum);

/// The columns of the matrix: the set of roles that hold a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// Every role.
    Everyone,
    /// Every role but API_IMPORTER.
    NotImporter,
    /// API_IMPORTER and above.
    Importer,
    Writer,
    Maintainer,
    Owner,
}

impl Permission {
    fn column(self) -> Column {
        use Permission::*;
        match self {
            ProductTypeView | ProductView | EngagementView | TestView | FindingView => {
                Column::Everyone
            }
            GroupView | NoteAdd => Column::NotImporter,
            EngagementAdd | EngagementEdit | TestEdit | ImportScanResult => Column::Importer,
            RiskAcceptance | TestAdd | FindingAdd | FindingEdit | NoteEdit => Column::Writer,
            ProductTypeAddProduct
            | ProductTypeEdit
            | ProductTypeManageMembers
            | ProductTypeMemberDelete
            | ProductEdit
            | ProductManageMembers
            | ProductMemberDelete
            | ProductConfigureNotifications
            | EngagementDelete
            | TestDelete
            | FindingDelete
            | NoteDelete
            | GroupEdit
            | GroupManageMembers
            | GroupMemberDelete => Column::Maintainer,
            ProductTypeDelete
            | ProductDelete
            | ProductTypeMemberAddOwner
            | ProductMemberAddOwner
            | GroupAddOwner
            | GroupDelete => Column::Owner,
        }
    }

    /// The permission that shows a private note to others than its author: editing notes on
    /// its product (WRITER and above), as DefectDojo shows private notes only to their author
    /// and to users with edit rights on the object. Superusers see every note.
    pub const READ_PRIVATE_NOTES: Permission = Permission::NoteEdit;

    /// Whether this permission concerns a product type itself (checked against roles on the
    /// product type), rather than a product and what lies below it.
    pub fn on_product_type(self) -> bool {
        use Permission::*;
        matches!(
            self,
            ProductTypeView
                | ProductTypeAddProduct
                | ProductTypeEdit
                | ProductTypeManageMembers
                | ProductTypeMemberDelete
                | ProductTypeMemberAddOwner
                | ProductTypeDelete
        )
    }

    /// Whether this permission concerns a group.
    pub fn on_group(self) -> bool {
        use Permission::*;
        matches!(
            self,
            GroupView
                | GroupEdit
                | GroupManageMembers
                | GroupMemberDelete
                | GroupAddOwner
                | GroupDelete
        )
    }
}

impl Role {
    /// Whether this role grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match permission.column() {
            Column::Everyone => true,
            Column::NotImporter => self != Role::ApiImporter,
            Column::Importer => self >= Role::ApiImporter,
            Column::Writer => self >= Role::Writer,
            Column::Maintainer => self >= Role::Maintainer,
            Column::Owner => self == Role::Owner,
        }
    }

    /// Whether this role, held as a *global* role, allows creating product types (reference
    /// §7.1: global Maintainer and Owner get `Product_Type_Add`).
    pub fn may_add_product_types(self) -> bool {
        self >= Role::Maintainer
    }
}

/// Whether any of `roles` allows `permission` (roles only add).
pub fn any_allows(roles: &[Role], permission: Permission) -> bool {
    roles.iter().any(|r| r.allows(permission))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission as P;
    use Role::*;

    /// The matrix of reference §7.1, row by row: the roles that hold each permission.
    const MATRIX: &[(&[Permission], &[Role])] = &[
        (
            &[
                P::ProductTypeView,
                P::ProductView,
                P::EngagementView,
                P::TestView,
                P::FindingView,
            ],
            &[Reader, ApiImporter, Writer, Maintainer, Owner],
        ),
        (
            &[P::GroupView, P::NoteAdd],
            &[Reader, Writer, Maintainer, Owner],
        ),
        (
            &[
                P::EngagementAdd,
                P::EngagementEdit,
                P::TestEdit,
                P::ImportScanResult,
            ],
            &[ApiImporter, Writer, Maintainer, Owner],
        ),
        (
            &[
                P::RiskAcceptance,
                P::TestAdd,
                P::FindingAdd,
                P::FindingEdit,
                P::NoteEdit,
            ],
            &[Writer, Maintainer, Owner],
        ),
        (
            &[
                P::ProductTypeAddProduct,
                P::ProductTypeEdit,
                P::ProductTypeManageMembers,
                P::ProductTypeMemberDelete,
                P::ProductEdit,
                P::ProductManageMembers,
                P::ProductMemberDelete,
                P::ProductConfigureNotifications,
                P::EngagementDelete,
                P::TestDelete,
                P::FindingDelete,
                P::NoteDelete,
                P::GroupEdit,
                P::GroupManageMembers,
                P::GroupMemberDelete,
            ],
            &[Maintainer, Owner],
        ),
        (
            &[
                P::ProductTypeDelete,
                P::ProductDelete,
                P::ProductTypeMemberAddOwner,
                P::ProductMemberAddOwner,
                P::GroupAddOwner,
                P::GroupDelete,
            ],
            &[Owner],
        ),
    ];

    #[test]
    fn roles_grant_exactly_the_reference_matrix() {
        let mut seen = 0;
        for (permissions, holders) in MATRIX {
            for p in *permissions {
                seen += 1;
                for role in Role::ALL {
                    assert_eq!(role.allows(*p), holders.contains(role), "{role} and {p:?}");
                }
            }
        }
        assert_eq!(
            seen,
            Permission::ALL.len(),
            "every permission has a matrix row"
        );
    }

    #[test]
    fn roles_only_add() {
        assert!(!ApiImporter.allows(P::NoteAdd));
        assert!(any_allows(&[ApiImporter, Reader], P::NoteAdd));
        assert!(any_allows(&[ApiImporter, Reader], P::EngagementAdd));
        assert!(!any_allows(&[], P::ProductView));
        assert_eq!([Reader, Owner, Writer].iter().max(), Some(&Owner));
    }
}
