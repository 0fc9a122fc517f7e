//! Product types and products: creating them (a product type's creator becomes its OWNER),
//! changing them, and moving a product to another product type. Their deletes cascade with
//! everything below them and live with the other deletes.

use super::{
    ServiceError, ServiceResult,
    access::{self, AccessChange, Grant},
    write,
};
use crate::{
    auth::Principal,
    db::{
        Db,
        authz::Target,
        finding::{self, SlaScope},
        membership::{Member, On},
        product::{self, NewProduct, Product, ProductChanges},
        product_type::{self, NewProductType, ProductType, ProductTypeChanges},
    },
    domain::{
        Role,
        ids::{ProductId, ProductTypeId},
        rbac::Permission,
    },
};

/// Creates a product type; the creator becomes its OWNER (a superuser needs no membership).
/// Needs a global MAINTAINER or OWNER role, or a superuser.
#[tracing::instrument(skip_all)]
pub async fn create_product_type(
    db: &Db,
    principal: &Principal,
    new: NewProductType,
) -> ServiceResult<ProductType> {
    if !principal.may_add_product_types() {
        return Err(ServiceError::Forbidden(
            "creating product types needs a global MAINTAINER or OWNER role".into(),
        ));
    }
    write(db, principal, "ProductType", vec![], move |c, p| {
        Box::pin(async move {
            let row = product_type::create(c, new).await?;
            if !p.is_superuser {
                let owner = Grant {
                    on: On::ProductType(row.id),
                    member: Member::User(p.user_id),
                    role: Role::Owner,
                };
                access::grant_as_system(c, owner).await?;
            }
            Ok(row)
        })
    })
    .await
}

/// Changes product type `id` (PRODUCT_TYPE_EDIT).
#[tracing::instrument(skip_all, fields(product_type = %id))]
pub async fn update_product_type(
    db: &Db,
    principal: &Principal,
    id: ProductTypeId,
    changes: ProductTypeChanges,
) -> ServiceResult<ProductType> {
    write(
        db,
        principal,
        "ProductType",
        vec![(Target::ProductType(id), Permission::ProductTypeEdit)],
        move |c, _| Box::pin(product_type::update(c, id, changes)),
    )
    .await
}

/// Creates a product in a product type (PRODUCT_TYPE_ADD_PRODUCT there).
#[tracing::instrument(skip_all, fields(product_type = %new.product_type_id))]
pub async fn create_product(
    db: &Db,
    principal: &Principal,
    new: NewProduct,
) -> ServiceResult<Product> {
    write(
        db,
        principal,
        "ProductType",
        vec![(
            Target::ProductType(new.product_type_id),
            Permission::ProductTypeAddProduct,
        )],
        move |c, _| Box::pin(product::create(c, new)),
    )
    .await
}

/// Changes product `id` (PRODUCT_EDIT). Moving it to another product type needs the right to
/// add products there too, and changes who inherits roles on it (`ACCESS_CHANGED`); another SLA
/// configuration recomputes its findings' SLA deadlines, in the same transaction.
#[tracing::instrument(skip_all, fields(product = %id))]
pub async fn update_product(
    db: &Db,
    principal: &Principal,
    id: ProductId,
    changes: ProductChanges,
) -> ServiceResult<Product> {
    let mut checks = vec![(Target::Product(id), Permission::ProductEdit)];
    if let Some(pt) = changes.product_type_id {
        checks.push((Target::ProductType(pt), Permission::ProductTypeAddProduct));
    }
    write(db, principal, "Product", checks, move |c, _| {
        Box::pin(async move {
            let sla_changed = changes.sla_configuration_id.is_some();
            // The product type before the change, when it may move (locked until the commit).
            let was_in = match changes.product_type_id {
                Some(_) => product::product_type_for_update(c, id).await?,
                None => None,
            };
            let product = product::update(c, id, changes).await?;
            if was_in.is_some_and(|pt| pt != product.product_type_id) {
                // Roles inherited from the product type change with it.
                access::record_access_changed(c, AccessChange::ProductMoved(id)).await?;
            }
            if sla_changed {
                finding::recompute_sla(c, SlaScope::Product(id)).await?;
            }
            Ok(product)
        })
    })
    .await
}
