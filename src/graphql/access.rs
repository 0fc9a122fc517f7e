//! Access control in the API: roles and permissions, groups, memberships on product types and
//! products, global roles, what the caller may do where (`myPermissions`, `me`), and the
//! mutations that manage all of it. The rules (who may grant OWNER, the last OWNER stays, …)
//! are in `service::access`.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::{db, loader, map_db, principal},
    enums::OrderDirection,
    ids, input, load,
    loaders::GroupMembersOf,
    pagination::{self, Connection},
    permissions::{MyPermissions, my_permissions},
    product::Product,
    product_type::ProductType,
    reference::User,
};
use crate::{
    db::{
        authz::Anchor,
        group as groups,
        membership::{self as rows, Member, On},
        page::ListArgs,
        user as users,
    },
    domain::{
        self,
        ids::{GroupId, MembershipId, ProductId, ProductTypeId, UserId},
        rbac,
    },
    error::{ServiceError, ServiceResult},
    service::access::{self as service, Grant, RoleHolder},
};

/// An access role, lowest first. Roles only add: where several apply, the caller may do
/// whatever any of them allows.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::Role")]
pub enum Role {
    /// View; add notes.
    Reader,
    /// View; add and edit engagements, edit tests, import scans (no notes).
    ApiImporter,
    /// Reader and API importer, plus add tests and findings, edit findings and notes.
    Writer,
    /// Writer, plus edit the product (type), manage members, delete below the product.
    Maintainer,
    /// Everything, including granting OWNER and deleting the product (type).
    Owner,
}

/// Defines the API's `Permission` enum from the domain's list.
macro_rules! api_permission_enum {
    ($($name:ident),+ $(,)?) => {
        /// A permission of the role matrix (DefectDojo 2.x).
        #[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
        #[graphql(remote = "rbac::Permission")]
        pub enum Permission {
            $($name),+
        }
    };
}

crate::with_permissions!(api_permission_enum);

/// A role on a product type (and so on all its products) or on a product, held by a user or a
/// group.
#[derive(Clone)]
pub struct Membership(pub rows::Membership);

#[Object]
impl Membership {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    /// The member, when it is a user.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.user_id).await
    }
    /// The member, when it is a group (null also when the caller may not see the group).
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Group>> {
        load::group(ctx, self.0.group_id).await
    }
    /// The product type the role is held on (null for a product membership, or when the
    /// caller may not see it).
    async fn product_type(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProductType>> {
        match self.0.product_type_id {
            Some(id) => load::product_type(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The product the role is held on (null for a product type membership).
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        match self.0.product_id {
            Some(id) => load::product(ctx, id).await,
            None => Ok(None),
        }
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
}

/// A group of users. Roles granted to a group apply to all its members.
#[derive(Clone)]
pub struct Group(pub groups::Group);

#[Object]
impl Group {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// A role the group's members hold on every product type and product.
    async fn global_role(&self) -> Option<Role> {
        self.0.global_role.map(Into::into)
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    /// The group's members with their role inside the group.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<GroupMember>> {
        let rows = loader(ctx)
            .load_one(GroupMembersOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(pagination::take_first(rows, first)?
            .into_iter()
            .map(GroupMember)
            .collect())
    }
    /// What the caller may do with this group.
    async fn my_permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<MyPermissions> {
        my_permissions(ctx, Anchor::Group(self.0.id)).await
    }
}

/// A user's place in a group; the role governs managing the group.
#[derive(Clone)]
pub struct GroupMember(pub groups::GroupMember);

#[Object]
impl GroupMember {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, Some(self.0.user_id)).await
    }
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Group>> {
        load::group(ctx, Some(self.0.group_id)).await
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
}

/// The authenticated caller.
pub struct Me {
    pub user: User,
}

#[Object]
impl Me {
    async fn user(&self) -> &User {
        &self.user
    }
    /// The highest global role of the caller and its groups.
    async fn global_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Role>> {
        Ok(principal(ctx)?.global_role.map(Into::into))
    }
    /// Every membership that applies to the caller: its own and its groups'.
    async fn roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Membership>> {
        let user = principal(ctx)?.user_id;
        let rows = db(ctx)
            .read(async move |c| rows::applying_to(c, user).await)
            .await
            .map_err(map_db("User"))?;
        Ok(pagination::take_first(rows, first)?
            .into_iter()
            .map(Membership)
            .collect())
    }
    /// The groups the caller belongs to.
    async fn groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Group>> {
        let user = principal(ctx)?.user_id;
        let rows = db(ctx)
            .read(async move |c| groups::of_user(c, user).await)
            .await
            .map_err(map_db("User"))?;
        Ok(pagination::take_first(rows, first)?
            .into_iter()
            .map(Group)
            .collect())
    }
}

/// Filter for group lists.
#[derive(InputObject, Default)]
pub struct GroupFilter {
    /// Case-insensitive substring of the name.
    name_contains: Option<String>,
}

/// Sort keys of group lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "groups::GroupOrder")]
pub enum GroupOrderField {
    Id,
    Name,
}

/// How to sort groups.
#[derive(InputObject)]
pub struct GroupOrder {
    field: GroupOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

crate::order_input!(GroupOrder => groups::GroupOrder);

#[derive(InputObject)]
pub struct AddProductTypeMemberInput {
    product_type_id: ID,
    /// A user (give this or `groupId`).
    user_id: Option<ID>,
    /// A group (give this or `userId`).
    group_id: Option<ID>,
    role: Role,
}

#[derive(InputObject)]
pub struct AddProductMemberInput {
    product_id: ID,
    /// A user (give this or `groupId`).
    user_id: Option<ID>,
    /// A group (give this or `userId`).
    group_id: Option<ID>,
    role: Role,
}

#[derive(InputObject)]
pub struct UpdateMemberInput {
    /// A membership id.
    id: ID,
    role: Role,
}

#[derive(SimpleObject)]
pub struct MembershipPayload {
    membership: Membership,
}

#[derive(SimpleObject)]
pub struct RemoveMemberPayload {
    /// The id of the removed membership.
    removed_id: ID,
}

#[derive(InputObject)]
pub struct CreateGroupInput {
    name: String,
    description: Option<String>,
}

#[derive(SimpleObject)]
pub struct GroupPayload {
    group: Group,
}

#[derive(InputObject)]
pub struct AddGroupMemberInput {
    group_id: ID,
    user_id: ID,
    role: Role,
}

#[derive(SimpleObject)]
pub struct GroupMemberPayload {
    group_member: GroupMember,
}

#[derive(InputObject)]
pub struct RemoveGroupMemberInput {
    group_id: ID,
    user_id: ID,
}

#[derive(SimpleObject)]
pub struct RemoveGroupMemberPayload {
    /// The id of the removed group membership.
    removed_id: ID,
}

#[derive(InputObject)]
pub struct SetGlobalRoleInput {
    /// A user (give this or `groupId`).
    user_id: Option<ID>,
    /// A group (give this or `userId`).
    group_id: Option<ID>,
    /// `null` removes the global role.
    role: Option<Role>,
}

#[derive(SimpleObject)]
pub struct SetGlobalRolePayload {
    user: Option<User>,
    group: Option<Group>,
}

/// Fields left out stay as they are; `null` clears a nullable field.
#[derive(InputObject)]
pub struct UpdateUserInput {
    id: ID,
    /// The user itself or a superuser.
    first_name: MaybeUndefined<String>,
    /// The user itself or a superuser.
    last_name: MaybeUndefined<String>,
    /// The user itself or a superuser.
    email: MaybeUndefined<String>,
    /// Superusers only.
    is_active: Option<bool>,
    /// Superusers only.
    is_superuser: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateUserPayload {
    user: User,
}

/// Exactly one of a user id and a group id.
fn member(user: &Option<ID>, group: &Option<ID>) -> ServiceResult<Member> {
    match (user, group) {
        (Some(u), None) => Ok(Member::User(ids::decode::<UserId>(u)?)),
        (None, Some(g)) => Ok(Member::Group(ids::decode::<GroupId>(g)?)),
        _ => Err(ServiceError::bad_input(
            "give exactly one of userId and groupId",
        )),
    }
}

impl TryFrom<AddProductTypeMemberInput> for Grant {
    type Error = ServiceError;

    fn try_from(input: AddProductTypeMemberInput) -> ServiceResult<Self> {
        Ok(Grant {
            on: On::ProductType(ids::decode::<ProductTypeId>(&input.product_type_id)?),
            member: member(&input.user_id, &input.group_id)?,
            role: input.role.into(),
        })
    }
}

impl TryFrom<AddProductMemberInput> for Grant {
    type Error = ServiceError;

    fn try_from(input: AddProductMemberInput) -> ServiceResult<Self> {
        Ok(Grant {
            on: On::Product(ids::decode::<ProductId>(&input.product_id)?),
            member: member(&input.user_id, &input.group_id)?,
            role: input.role.into(),
        })
    }
}

impl TryFrom<CreateGroupInput> for groups::NewGroup {
    type Error = ServiceError;

    fn try_from(input: CreateGroupInput) -> ServiceResult<Self> {
        input::check_len(
            "description",
            input.description.as_deref(),
            groups::DESCRIPTION_MAX,
        )?;
        Ok(Self {
            name: domain::clean_name("name", &input.name, groups::NAME_MAX)?,
            description: input.description,
        })
    }
}

impl TryFrom<UpdateUserInput> for users::UserChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateUserInput) -> ServiceResult<Self> {
        input::check_lengths(&[
            (
                "firstName",
                input.first_name.value().map(String::as_str),
                users::NAME_MAX,
            ),
            (
                "lastName",
                input.last_name.value().map(String::as_str),
                users::NAME_MAX,
            ),
            (
                "email",
                input.email.value().map(String::as_str),
                users::EMAIL_MAX,
            ),
        ])?;
        Ok(Self {
            email: input::maybe(input.email),
            first_name: input::maybe(input.first_name),
            last_name: input::maybe(input.last_name),
            is_active: input.is_active,
            is_superuser: input.is_superuser,
        })
    }
}

#[derive(Default)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// Groups: every group for superusers, the caller's own groups for everyone else.
    async fn groups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<GroupFilter>,
        order_by: Option<GroupOrder>,
    ) -> async_graphql::Result<Connection<Group>> {
        let args = ListArgs {
            filter: groups::GroupFilter {
                name_contains: filter.and_then(|f| f.name_contains),
            },
            sort: GroupOrder::sort(order_by),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, Group).await
    }
}

#[derive(Default)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Grants a user or group a role on a product type and all its products. Needs
    /// PRODUCT_TYPE_MANAGE_MEMBERS there; granting OWNER needs PRODUCT_TYPE_MEMBER_ADD_OWNER.
    async fn add_product_type_member(
        &self,
        ctx: &Context<'_>,
        input: AddProductTypeMemberInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let grant = input.try_into()?;
        let row = service::add_member(db(ctx), principal(ctx)?, grant).await?;
        Ok(MembershipPayload {
            membership: Membership(row),
        })
    }

    /// Grants a user or group a role on a product. Needs PRODUCT_MANAGE_MEMBERS there; granting
    /// OWNER needs PRODUCT_MEMBER_ADD_OWNER.
    async fn add_product_member(
        &self,
        ctx: &Context<'_>,
        input: AddProductMemberInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let grant = input.try_into()?;
        let row = service::add_member(db(ctx), principal(ctx)?, grant).await?;
        Ok(MembershipPayload {
            membership: Membership(row),
        })
    }

    /// Changes the role of a membership. Giving or taking away OWNER needs the add-owner
    /// permission; the last OWNER cannot be demoted (CONFLICT).
    async fn update_member(
        &self,
        ctx: &Context<'_>,
        input: UpdateMemberInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let id = ids::decode::<MembershipId>(&input.id)?;
        let row = service::update_member(db(ctx), principal(ctx)?, id, input.role.into()).await?;
        Ok(MembershipPayload {
            membership: Membership(row),
        })
    }

    /// Removes a membership. Needs the `*_MEMBER_DELETE` permission (anyone may remove their
    /// own membership); removing an OWNER needs the add-owner permission; the last OWNER cannot
    /// be removed (CONFLICT).
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        input: input::IdInput,
    ) -> async_graphql::Result<RemoveMemberPayload> {
        let id = ids::decode::<MembershipId>(&input.id)?;
        service::remove_member(db(ctx), principal(ctx)?, id).await?;
        Ok(RemoveMemberPayload {
            removed_id: input.id,
        })
    }

    /// Creates a group; the creator becomes its OWNER. Needs a global MAINTAINER or OWNER role,
    /// or a superuser.
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        input: CreateGroupInput,
    ) -> async_graphql::Result<GroupPayload> {
        let new = input.try_into()?;
        let row = service::create_group(db(ctx), principal(ctx)?, new).await?;
        Ok(GroupPayload { group: Group(row) })
    }

    /// Adds a user to a group. Needs GROUP_MANAGE_MEMBERS (a MAINTAINER of the group); adding
    /// an OWNER needs GROUP_ADD_OWNER.
    async fn add_group_member(
        &self,
        ctx: &Context<'_>,
        input: AddGroupMemberInput,
    ) -> async_graphql::Result<GroupMemberPayload> {
        let group = ids::decode::<GroupId>(&input.group_id)?;
        let user = ids::decode::<UserId>(&input.user_id)?;
        let role = input.role.into();
        let row = service::add_group_member(db(ctx), principal(ctx)?, group, user, role).await?;
        Ok(GroupMemberPayload {
            group_member: GroupMember(row),
        })
    }

    /// Removes a user from a group. Needs GROUP_MEMBER_DELETE (anyone may leave a group);
    /// removing an OWNER needs GROUP_ADD_OWNER; the last OWNER cannot leave (CONFLICT).
    async fn remove_group_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveGroupMemberInput,
    ) -> async_graphql::Result<RemoveGroupMemberPayload> {
        let group = ids::decode::<GroupId>(&input.group_id)?;
        let user = ids::decode::<UserId>(&input.user_id)?;
        let removed = service::remove_group_member(db(ctx), principal(ctx)?, group, user).await?;
        Ok(RemoveGroupMemberPayload {
            removed_id: ids::encode(removed.id),
        })
    }

    /// Sets or removes the global role of a user or a group. Superusers only.
    async fn set_global_role(
        &self,
        ctx: &Context<'_>,
        input: SetGlobalRoleInput,
    ) -> async_graphql::Result<SetGlobalRolePayload> {
        let who = member(&input.user_id, &input.group_id)?;
        let role = input.role.map(Into::into);
        let holder = service::set_global_role(db(ctx), principal(ctx)?, who, role).await?;
        Ok(match holder {
            RoleHolder::User(u) => SetGlobalRolePayload {
                user: Some(User(u)),
                group: None,
            },
            RoleHolder::Group(g) => SetGlobalRolePayload {
                user: None,
                group: Some(Group(g)),
            },
        })
    }

    /// Changes a user. A user may change its own names and email; only superusers change other
    /// users, and the active and superuser flags.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> async_graphql::Result<UpdateUserPayload> {
        let id = ids::decode::<UserId>(&input.id)?;
        let changes = input.try_into()?;
        let row = service::update_user(db(ctx), principal(ctx)?, id, changes).await?;
        Ok(UpdateUserPayload { user: User(row) })
    }
}
