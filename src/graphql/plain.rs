//! Lists whose items show only plain fields, resolved without async-graphql's machinery per
//! field.
//!
//! async-graphql resolves every field of every list item as a future of its own (boxed, joined,
//! with a context each): for a page of 5,000 findings with seven fields that is 40,000 futures,
//! most of the server's CPU on a large nested read. A field that takes no arguments and shows a
//! value of the row it is on ([`Plain::plain`]) needs none of that: [`Nodes`] builds such items'
//! values directly, in selection order, and hands any other selection (arguments, directives,
//! fragments, object fields) to async-graphql's own list resolution. (Per-field extension hooks
//! are skipped on this path: the schema installs none, see `graphql::execute`.) The
//! values are the ones the resolvers give (the test `projection::finding_lists_read_only_the_
//! columns_they_show` compares every field of a list with the same finding read by `node`).

use std::borrow::Cow;

use async_graphql::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry::Registry,
    resolver_utils::resolve_list,
};

/// An object whose plain fields can be read without resolving it.
pub trait Plain: OutputType {
    /// The value of the field named `field` when it takes no arguments and shows what the row
    /// holds (as its resolver would give it); `None` for any other field.
    fn plain(&self, _field: &str) -> Option<Value> {
        None
    }

    /// The value of a field with a selection of its own (`field`, in the request `ctx`) when
    /// the request already holds it (see `pagination::Preloaded`); `None` otherwise.
    fn plain_object(&self, _field: &Field, _ctx: &ContextSelectionSet<'_>) -> Option<Value> {
        None
    }
}

/// An object of the leaf fields that `value` gives, for `selection` (`__typename` is
/// `typename`); `None` when the selection holds anything else.
pub fn leaf_object(
    selection: &async_graphql::parser::types::SelectionSet,
    typename: &str,
    value: impl Fn(&str) -> Option<Value>,
) -> Option<Value> {
    let mut object = IndexMap::with_capacity(selection.items.len());
    for item in &selection.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.arguments.is_empty()
            || !field.directives.is_empty()
            || !field.selection_set.node.items.is_empty()
        {
            return None;
        }
        let name = field.name.node.as_str();
        let v = if name == "__typename" {
            Value::String(typename.to_string())
        } else {
            value(name)?
        };
        object.entry(field.response_key().node.clone()).or_insert(v);
    }
    Some(Value::Object(object))
}

/// The `nodes` of a connection: `[T!]!`, resolved directly when every selected field is plain.
pub struct Nodes<'a, T>(pub &'a [T]);

impl<T: Plain> OutputType for Nodes<'_, T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match plain_values(self.0, ctx) {
            Some(values) => Ok(Value::List(values)),
            None => resolve_list(ctx, field, self.0, Some(self.0.len())).await,
        }
    }
}

/// The items' values when the selection is made of plain fields and `__typename` only.
fn plain_values<T: Plain>(items: &[T], ctx: &ContextSelectionSet<'_>) -> Option<Vec<Value>> {
    let mut fields: Vec<&Field> = Vec::with_capacity(ctx.item.node.items.len());
    for selection in &ctx.item.node.items {
        let Selection::Field(field) = &selection.node else {
            return None;
        };
        let field = &field.node;
        if !field.arguments.is_empty() || !field.directives.is_empty() {
            return None;
        }
        fields.push(field);
    }
    // The executor merges the selections of one response key; leave that to it.
    if fields.iter().enumerate().any(|(i, f)| {
        !f.selection_set.node.items.is_empty()
            && fields[..i]
                .iter()
                .any(|g| g.response_key().node == f.response_key().node)
    }) {
        return None;
    }
    let typename = T::type_name();
    let value = |item: &T, field: &Field| {
        let name = field.name.node.as_str();
        if !field.selection_set.node.items.is_empty() {
            item.plain_object(field, ctx)
        } else if name == "__typename" {
            Some(Value::String(typename.to_string()))
        } else {
            item.plain(name)
        }
    };
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        let mut object = IndexMap::with_capacity(fields.len());
        for field in &fields {
            let key = &field.response_key().node;
            if !object.contains_key(key) {
                // A field that is not plain for this item sends the whole list to the executor.
                object.insert(key.clone(), value(item, field)?);
            }
        }
        values.push(Value::Object(object));
    }
    Some(values)
}
