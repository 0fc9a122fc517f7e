//! Query analysis before execution: what a document may cost, computed in time linear in its
//! size, before async-graphql validates it and before any SQL runs.
//!
//! - **Rows** (`max_nodes`), GitHub-style: every list field may return up to its limit of items
//!   *for each* item of its parent, so a query's node count is the sum over its list fields of
//!   the product of the limits above and at them. A connection counts its page (`first`/`last`,
//!   100 when absent); `nodes(ids:)` counts its ids; a plain list of objects counts its `first`
//!   argument (or the fixed bound its writes enforce). Which fields are lists comes from the
//!   schema itself ([`CostModel`]), so a new list field is counted without anyone remembering to;
//!   a test fails when a plain list has no bound in [`PLAIN_LISTS`].
//! - **Size**: selections after expanding every fragment spread (`max_selections`), aliases,
//!   root fields and field depth. async-graphql's own validation expands fragments inline, so
//!   bounding the expanded size here bounds its work too.
//! - **Shape**: fragment cycles and unused fragments are refused (validation would refuse them
//!   anyway, but only after expanding them), a subscription selects exactly one root field (the
//!   spec's "single root field" rule), and no text input carries U+0000 (Postgres cannot store
//!   it).
//!
//! Each fragment is summarized once and its summary reused wherever it is spread, so a document
//! whose fragments fan out exponentially (`F0 { ...F1 ...F1 }`, `F1 { ...F2 ...F2 }`, …) costs
//! as many steps as it has characters; the expanded counts saturate and the document is refused.
//! A hard cap on steps bounds the walk whatever the document.
//!
//! This runs on the parsed document in [`super::execute`] rather than as an async-graphql
//! `Extension`, so that field resolution keeps its no-extension fast path.

use std::{
    collections::{HashMap, HashSet},
    sync::LazyLock,
};

use async_graphql::{
    Value, Variables,
    parser::types::{
        BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
        TypeKind, TypeSystemDefinition,
    },
};
use async_graphql_value::Value as AstValue;

pub use crate::config::QueryLimits;

/// Steps the walk may take before it gives up (each selection, argument value and variable
/// value is one step). A document within the body limit stays far below this unless it is
/// built to make analysis slow.
const MAX_STEPS: u64 = 4_000_000;

/// How many items a list field may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A Relay connection: `first`/`last` (1..=100), 100 when absent.
    Page,
    /// `nodes`/`edges` of a connection: the connection's page, counted there.
    PageItems,
    /// As many as the list argument of this name holds.
    Ids(&'static str),
    /// A plain list taking `first`: `default` items when absent, at most `max`.
    First { default: u64, max: u64 },
    /// A plain list never longer than this (its writes enforce it, or the model does).
    Fixed(u64),
}

/// The most items a plain list of objects returns when asked for none in particular, and the
/// most it may be asked for (`first`).
pub const LIST_DEFAULT: u64 = 100;
pub const LIST_MAX: u64 = 1000;
const FIRST: Bound = Bound::First {
    default: LIST_DEFAULT,
    max: LIST_MAX,
};

/// The bound of every list of objects that is not a connection: (type, field, bound).
pub const PLAIN_LISTS: &[(&str, &str, Bound)] = &[
    ("Query", "nodes", Bound::Ids("ids")),
    ("Engagement", "notes", FIRST),
    ("Engagement", "files", FIRST),
    ("Test", "notes", FIRST),
    ("Test", "files", FIRST),
    ("Finding", "notes", FIRST),
    ("Finding", "files", FIRST),
    ("Product", "members", FIRST),
    ("ProductType", "members", FIRST),
    ("Group", "members", FIRST),
    ("Me", "roles", FIRST),
    ("Finding", "endpoints", FIRST),
    ("Test", "imports", FIRST),
    ("TestImport", "findings", FIRST),
    ("Me", "groups", FIRST),
    // Writes cap a product's technologies (see `domain::MAX_LIST_ITEMS`).
    (
        "Product",
        "technologies",
        Bound::Fixed(crate::domain::MAX_LIST_ITEMS as u64),
    ),
    // One entry per kind of object a delete can remove.
    ("DeletePreview", "counts", Bound::Fixed(16)),
    // One entry per changed field of a finding.
    ("FindingChangedEvent", "changes", Bound::Fixed(64)),
];

/// What the analysis needs to know of one field.
#[derive(Debug, Clone)]
struct FieldInfo {
    /// The named type the field returns (lists and non-null unwrapped).
    ty: String,
    /// `Some` for a field that returns many objects.
    bound: Option<Bound>,
}

/// The schema as the analysis sees it: for every object and interface type, which of its fields
/// return lists and how long they may be. Built once from the exported SDL.
#[derive(Debug)]
pub struct CostModel {
    types: HashMap<String, HashMap<String, FieldInfo>>,
    query: String,
    mutation: String,
    subscription: String,
    /// Lists of objects with no bound in [`PLAIN_LISTS`] (counted as [`LIST_MAX`]; a test
    /// keeps this empty).
    pub unbounded: Vec<String>,
}

/// The model of this server's schema.
pub fn model() -> &'static CostModel {
    static MODEL: LazyLock<CostModel> = LazyLock::new(|| CostModel::from_sdl(&super::sdl()));
    &MODEL
}

fn named(ty: &Type) -> (&str, bool) {
    match &ty.base {
        BaseType::Named(n) => (n.as_str(), false),
        BaseType::List(inner) => (named(inner).0, true),
    }
}

impl CostModel {
    /// The model of the schema `sdl` (plus the introspection types).
    pub fn from_sdl(sdl: &str) -> Self {
        let doc = async_graphql::parser::parse_schema(sdl).expect("the exported SDL parses");
        let mut composite = HashSet::new();
        let (mut query, mut mutation, mut subscription) = (
            "Query".to_string(),
            "Mutation".to_string(),
            "Subscription".to_string(),
        );
        let mut counts = IntrospectionCounts::default();
        for def in &doc.definitions {
            match def {
                TypeSystemDefinition::Type(t) => {
                    counts.types += 1;
                    let t = &t.node;
                    match &t.kind {
                        TypeKind::Object(o) => {
                            composite.insert(t.name.node.to_string());
                            counts.fields = counts.fields.max(o.fields.len());
                            for f in &o.fields {
                                counts.args = counts.args.max(f.node.arguments.len());
                            }
                        }
                        TypeKind::Interface(i) => {
                            composite.insert(t.name.node.to_string());
                            counts.fields = counts.fields.max(i.fields.len());
                        }
                        TypeKind::Union(_) => {
                            composite.insert(t.name.node.to_string());
                        }
                        TypeKind::Enum(e) => counts.fields = counts.fields.max(e.values.len()),
                        TypeKind::InputObject(i) => {
                            counts.fields = counts.fields.max(i.fields.len())
                        }
                        TypeKind::Scalar => {}
                    }
                }
                TypeSystemDefinition::Schema(s) => {
                    let s = &s.node;
                    if let Some(q) = &s.query {
                        query = q.node.to_string();
                    }
                    if let Some(m) = &s.mutation {
                        mutation = m.node.to_string();
                    }
                    if let Some(x) = &s.subscription {
                        subscription = x.node.to_string();
                    }
                }
                TypeSystemDefinition::Directive(d) => {
                    counts.directives += 1;
                    counts.args = counts.args.max(d.node.arguments.len());
                }
            }
        }
        let mut types: HashMap<String, HashMap<String, FieldInfo>> = HashMap::new();
        let mut unbounded = Vec::new();
        for def in &doc.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let t = &t.node;
            let fields = match &t.kind {
                TypeKind::Object(o) => &o.fields,
                TypeKind::Interface(i) => &i.fields,
                _ => continue,
            };
            let owner = t.name.node.as_str();
            let entry = types.entry(owner.to_string()).or_default();
            for f in fields {
                let f = &f.node;
                let name = f.name.node.as_str();
                let (ty, list) = named(&f.ty.node);
                let bound = if !composite.contains(ty) {
                    None
                } else if list
                    && owner.ends_with("Connection")
                    && (name == "nodes" || name == "edges")
                {
                    Some(Bound::PageItems)
                } else if list {
                    let known = PLAIN_LISTS
                        .iter()
                        .find(|(o, n, _)| *o == owner && *n == name)
                        .map(|(_, _, b)| *b);
                    if known.is_none() {
                        unbounded.push(format!("{owner}.{name}"));
                    }
                    Some(known.unwrap_or(Bound::Fixed(LIST_MAX)))
                } else if ty.ends_with("Connection") {
                    Some(Bound::Page)
                } else {
                    None
                };
                entry.insert(
                    name.to_string(),
                    FieldInfo {
                        ty: ty.to_string(),
                        bound,
                    },
                );
            }
        }
        counts.add_to(&mut types, &query);
        CostModel {
            types,
            query,
            mutation,
            subscription,
            unbounded,
        }
    }

    fn field(&self, ty: &str, name: &str) -> Option<&FieldInfo> {
        self.types.get(ty)?.get(name)
    }

    /// The list fields of the model with their bounds, as `Type.field` (for tests and docs).
    pub fn lists(&self) -> Vec<(String, Bound)> {
        let mut out: Vec<_> = self
            .types
            .iter()
            .flat_map(|(t, fields)| {
                fields
                    .iter()
                    .filter_map(move |(f, i)| i.bound.map(|b| (format!("{t}.{f}"), b)))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// The sizes the introspection lists are bounded by: this schema's own counts.
#[derive(Default)]
struct IntrospectionCounts {
    types: usize,
    fields: usize,
    args: usize,
    directives: usize,
}

impl IntrospectionCounts {
    /// Adds the introspection types (`__schema`, `__type`) to the model, so that a circular
    /// introspection query (`types { fields { type { fields { … } } } }`) is counted like any
    /// other nested list.
    fn add_to(&self, types: &mut HashMap<String, HashMap<String, FieldInfo>>, query: &str) {
        // Builtin types (scalars, introspection types) come on top of the SDL's.
        let all_types = Bound::Fixed(self.types as u64 + 16);
        let members = Bound::Fixed(self.fields.max(16) as u64);
        let args = Bound::Fixed(self.args.max(4) as u64);
        let directives = Bound::Fixed(self.directives.max(8) as u64);
        let table: &[(&str, &str, &str, Option<Bound>)] = &[
            ("__Schema", "types", "__Type", Some(all_types)),
            ("__Schema", "queryType", "__Type", None),
            ("__Schema", "mutationType", "__Type", None),
            ("__Schema", "subscriptionType", "__Type", None),
            ("__Schema", "directives", "__Directive", Some(directives)),
            ("__Type", "fields", "__Field", Some(members)),
            ("__Type", "interfaces", "__Type", Some(all_types)),
            ("__Type", "possibleTypes", "__Type", Some(all_types)),
            ("__Type", "enumValues", "__EnumValue", Some(members)),
            ("__Type", "inputFields", "__InputValue", Some(members)),
            ("__Type", "ofType", "__Type", None),
            ("__Field", "args", "__InputValue", Some(args)),
            ("__Field", "type", "__Type", None),
            ("__InputValue", "type", "__Type", None),
            ("__Directive", "args", "__InputValue", Some(args)),
        ];
        for (owner, name, ty, bound) in table {
            types.entry(owner.to_string()).or_default().insert(
                name.to_string(),
                FieldInfo {
                    ty: ty.to_string(),
                    bound: *bound,
                },
            );
        }
        let root = types.entry(query.to_string()).or_default();
        for (name, ty) in [("__schema", "__Schema"), ("__type", "__Type")] {
            root.insert(
                name.to_string(),
                FieldInfo {
                    ty: ty.to_string(),
                    bound: None,
                },
            );
        }
    }
}

/// What the analysis counted (for the largest operation where operations differ, summed over
/// operations for `selections`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub nodes: u64,
    pub aliases: u64,
    pub root_fields: u64,
    pub depth: u64,
    pub selections: u64,
}

/// The counts of one selection set, fragments expanded, as if its parent were one object.
#[derive(Debug, Default, Clone, Copy)]
struct Summary {
    nodes: u64,
    aliases: u64,
    selections: u64,
    /// Fields at the set's own level (through fragments): root fields at the root.
    fields: u64,
    depth: u64,
}

impl Summary {
    fn add(&mut self, other: &Summary) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.selections = self.selections.saturating_add(other.selections);
        self.fields = self.fields.saturating_add(other.fields);
        self.depth = self.depth.max(other.depth);
    }
}

struct Walk<'a> {
    model: &'a CostModel,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Summaries of the fragments done so far.
    done: HashMap<&'a str, Summary>,
    /// Fragments being summarized (a spread of one of these is a cycle).
    active: Vec<&'a str>,
    steps: u64,
    /// The first reason to refuse the document that the walk itself found.
    refusal: Option<String>,
}

impl<'a> Walk<'a> {
    fn refuse(&mut self, reason: String) {
        if self.refusal.is_none() {
            self.refusal = Some(reason);
        }
    }

    /// Counts one step; `false` once the walk has taken too many.
    fn step(&mut self) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            self.refuse("the query is too large to analyse".to_string());
            return false;
        }
        true
    }

    fn set(&mut self, set: &'a SelectionSet, ty: Option<&'a str>) -> Summary {
        let mut sum = Summary::default();
        for item in &set.items {
            if self.refusal.is_some() || !self.step() {
                break;
            }
            match &item.node {
                Selection::Field(f) => sum.add(&self.field(&f.node, ty)),
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let on = fragment
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(ty);
                    let mut inner = self.set(&fragment.selection_set.node, on);
                    inner.selections = inner.selections.saturating_add(1);
                    sum.add(&inner);
                }
                Selection::FragmentSpread(spread) => {
                    let mut inner = self.fragment(spread.node.fragment_name.node.as_str());
                    inner.selections = inner.selections.saturating_add(1);
                    sum.add(&inner);
                }
            }
        }
        sum
    }

    fn field(&mut self, f: &'a Field, ty: Option<&'a str>) -> Summary {
        for (_, value) in &f.arguments {
            self.check_text(&value.node);
        }
        let info = ty.and_then(|t| self.model.field(t, f.name.node.as_str()));
        let (size, counted) = match info.and_then(|i| i.bound) {
            None | Some(Bound::PageItems) => (1, 0),
            Some(bound) => {
                let n = self.size(bound, f);
                (n, n)
            }
        };
        let child = if f.selection_set.node.items.is_empty() {
            Summary::default()
        } else {
            self.set(
                &f.selection_set.node,
                info.map(|i| i.ty.as_str()).or(Some("")),
            )
        };
        Summary {
            nodes: counted.saturating_add(size.saturating_mul(child.nodes)),
            aliases: child.aliases.saturating_add(u64::from(f.alias.is_some())),
            selections: child.selections.saturating_add(1),
            fields: 1,
            depth: child.depth.saturating_add(1),
        }
    }

    fn fragment(&mut self, name: &'a str) -> Summary {
        if let Some(done) = self.done.get(name) {
            return *done;
        }
        if self.active.contains(&name) {
            self.refuse(format!(
                "fragment \"{name}\" spreads itself (a fragment cycle)"
            ));
            return Summary::default();
        }
        let Some((key, def)) = self.doc.fragments.get_key_value(name) else {
            // Unknown fragment: validation reports it.
            return Summary::default();
        };
        self.active.push(key.as_str());
        let on = def.node.type_condition.node.on.node.as_str();
        let sum = self.set(&def.node.selection_set.node, Some(on));
        self.active.pop();
        self.done.insert(key.as_str(), sum);
        sum
    }

    /// How many items `f` may return under `bound`.
    fn size(&mut self, bound: Bound, f: &Field) -> u64 {
        match bound {
            Bound::PageItems => 1,
            Bound::Fixed(n) => n,
            Bound::Page => {
                let mut size = None;
                for name in ["first", "last"] {
                    if let Some(n) = self.number(f, name) {
                        // Out-of-range sizes are refused by the resolver; count them as 100.
                        let n = n.filter(|n| (1..=100).contains(n)).unwrap_or(100);
                        size = Some(size.map_or(n, |s: u64| s.max(n)));
                    }
                }
                size.unwrap_or(100)
            }
            Bound::First { default, max } => match self.number(f, "first") {
                None => default,
                Some(n) => n.filter(|n| (1..=max).contains(n)).unwrap_or(max),
            },
            Bound::Ids(arg) => {
                let Some(value) = f.get_argument(arg) else {
                    return 0;
                };
                match &value.node {
                    AstValue::List(items) => items.len() as u64,
                    AstValue::Variable(v) => match self.variables.get(v) {
                        Some(Value::List(items)) => items.len() as u64,
                        Some(Value::Null) | None => 0,
                        Some(_) => 1,
                    },
                    AstValue::Null => 0,
                    _ => 1,
                }
            }
        }
    }

    /// The argument `name` of `f` as a number: `None` when absent or null, `Some(None)` when
    /// present but not a whole number that fits.
    fn number(&self, f: &Field, name: &str) -> Option<Option<u64>> {
        let value = f.get_argument(name)?;
        let n = match &value.node {
            AstValue::Variable(v) => match self.variables.get(v) {
                None | Some(Value::Null) => return None,
                Some(Value::Number(n)) => n.as_u64(),
                Some(_) => None,
            },
            AstValue::Null => return None,
            AstValue::Number(n) => n.as_u64(),
            _ => None,
        };
        Some(n)
    }

    /// Refuses string literals with U+0000 anywhere in an argument value.
    fn check_text(&mut self, value: &AstValue) {
        if !self.step() {
            return;
        }
        match value {
            AstValue::String(s) if s.contains('\0') => self.refuse(NUL_MESSAGE.to_string()),
            AstValue::List(items) => items.iter().for_each(|v| self.check_text(v)),
            AstValue::Object(fields) => fields.values().for_each(|v| self.check_text(v)),
            _ => {}
        }
    }

    /// Refuses variable values with U+0000 in any string.
    fn check_variable(&mut self, value: &Value) {
        if !self.step() {
            return;
        }
        match value {
            Value::String(s) if s.contains('\0') => self.refuse(NUL_MESSAGE.to_string()),
            Value::List(items) => items.iter().for_each(|v| self.check_variable(v)),
            Value::Object(fields) => fields.values().for_each(|v| self.check_variable(v)),
            _ => {}
        }
    }
}

const NUL_MESSAGE: &str = "text must not contain the NUL character (U+0000)";

/// Analyses every operation of `doc`: its cost, or why it is refused (a fragment cycle, an unused
/// fragment, a subscription with several root fields, a NUL character, too much work).
pub fn analyse(
    model: &CostModel,
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Result<Cost, String> {
    let mut walk = Walk {
        model,
        doc,
        variables,
        done: HashMap::new(),
        active: Vec::new(),
        steps: 0,
        refusal: None,
    };
    for (_, value) in variables.iter() {
        walk.check_variable(value);
    }
    let mut cost = Cost::default();
    for (_, op) in doc.operations.iter() {
        let op = &op.node;
        for v in &op.variable_definitions {
            if let Some(default) = &v.node.default_value {
                walk.check_variable(&default.node);
            }
        }
        let root = match op.ty {
            OperationType::Query => model.query.as_str(),
            OperationType::Mutation => model.mutation.as_str(),
            OperationType::Subscription => model.subscription.as_str(),
        };
        let sum = walk.set(&op.selection_set.node, Some(root));
        if op.ty == OperationType::Subscription && sum.fields != 1 && walk.refusal.is_none() {
            walk.refuse(format!(
                "a subscription must select exactly one root field, not {}",
                sum.fields
            ));
        }
        cost.nodes = cost.nodes.max(sum.nodes);
        cost.aliases = cost.aliases.max(sum.aliases);
        cost.root_fields = cost.root_fields.max(sum.fields);
        cost.depth = cost.depth.max(sum.depth);
        cost.selections = cost.selections.saturating_add(sum.selections);
    }
    if walk.refusal.is_none()
        && let Some(unused) = doc
            .fragments
            .keys()
            .find(|name| !walk.done.contains_key(name.as_str()))
    {
        walk.refuse(format!("fragment \"{unused}\" is never used"));
    }
    match walk.refusal {
        Some(reason) => Err(reason),
        None => Ok(cost),
    }
}

/// Refuses a query text longer than `limits.max_query_bytes` (before it is parsed).
pub fn check_length(query: &str, limits: &QueryLimits) -> Result<(), String> {
    if query.len() > limits.max_query_bytes {
        return Err(format!(
            "the query is {} bytes long, more than the limit of {}",
            query.len(),
            limits.max_query_bytes
        ));
    }
    Ok(())
}

/// Refuses a document over `limits` or refused by [`analyse`], naming the reason.
pub fn check(
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &QueryLimits,
) -> Result<Cost, String> {
    check_with(model(), doc, variables, limits)
}

/// [`check`] against another model (tests).
pub fn check_with(
    model: &CostModel,
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &QueryLimits,
) -> Result<Cost, String> {
    let c = analyse(model, doc, variables)?;
    let over = |n: u64, limit: usize| n > limit as u64;
    // Counts saturate: a document built to explode reaches u64::MAX, which says nothing useful.
    let n = |n: u64| {
        if n == u64::MAX {
            "more than 10^19".to_string()
        } else {
            n.to_string()
        }
    };
    if over(c.selections, limits.max_selections) {
        return Err(format!(
            "the query has {} selections once its fragments are expanded, more than the limit of {}",
            n(c.selections),
            limits.max_selections
        ));
    }
    if over(c.depth, limits.max_depth) {
        return Err(format!(
            "the query nests {} fields deep, more than the limit of {}",
            n(c.depth),
            limits.max_depth
        ));
    }
    if c.nodes > limits.max_nodes {
        return Err(format!(
            "the query may return up to {} nodes, more than the limit of {}: ask for smaller pages (first/last) or fewer ids",
            n(c.nodes),
            limits.max_nodes
        ));
    }
    if over(c.aliases, limits.max_aliases) {
        return Err(format!(
            "the query has {} aliases, more than the limit of {}",
            n(c.aliases),
            limits.max_aliases
        ));
    }
    if over(c.root_fields, limits.max_root_fields) {
        return Err(format!(
            "the query has {} root fields, more than the limit of {}",
            n(c.root_fields),
            limits.max_root_fields
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(q: &str) -> Cost {
        analyse(
            model(),
            &async_graphql::parser::parse_query(q).unwrap(),
            &Variables::default(),
        )
        .unwrap()
    }

    fn refusal(q: &str) -> String {
        check(
            &async_graphql::parser::parse_query(q).unwrap(),
            &Variables::default(),
            &QueryLimits::default(),
        )
        .unwrap_err()
    }

    #[test]
    fn counts_nodes_like_github() {
        assert_eq!(
            cost_of("{ products(first: 10) { nodes { name } } }").nodes,
            10
        );
        assert_eq!(
            cost_of(
                "{ products(first: 10) { nodes { engagements(first: 5) { nodes { name } } } } }"
            )
            .nodes,
            10 + 50
        );
        assert_eq!(
            cost_of("{ products { totalCount } }").nodes,
            100,
            "no first/last → 100"
        );
        let four = "{ productTypes(first:100){nodes{products(first:100){nodes{engagements(first:100){nodes{findings(first:100){nodes{id}}}}}}}}}";
        assert!(cost_of(four).nodes > 100_000_000);
    }

    #[test]
    fn counts_plain_lists_and_ids() {
        let q = r#"{ nodes(ids: ["a", "b", "c"]) { ... on Finding { notes { text } files(first: 5) { filename } } } }"#;
        assert_eq!(cost_of(q).nodes, 3 + 3 * (LIST_DEFAULT + 5));
        let doc =
            async_graphql::parser::parse_query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }")
                .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "ids": vec!["a"; 40] }));
        assert_eq!(analyse(model(), &doc, &vars).unwrap().nodes, 40);
        // The attack of the report: 100 ids → product → 100 findings → product → 100 findings.
        let ids = format!("[{}]", vec!["\"RmluZGluZzox\""; 100].join(","));
        let inner = "product { findings(first: 100) { nodes { product { findings(first: 100) { nodes { id title } } } } } }";
        let q = format!(
            "{{ {} }}",
            (0..4)
                .map(|i| format!("a{i}: nodes(ids: {ids}) {{ ... on Finding {{ {inner} }} }}"))
                .collect::<String>()
        );
        assert!(refusal(&q).contains("nodes"), "{}", refusal(&q));
        // Introspection lists count too: circular introspection is refused.
        let circular = "{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }";
        assert!(refusal(circular).contains("nodes"));
    }

    #[test]
    fn expands_fragments_and_counts_aliases() {
        let q = "query { a: products(first: 2) { ...P } b: products(first: 3) { ...P } }
                 fragment P on ProductConnection { nodes { tests(first: 10) { totalCount } } }";
        let c = cost_of(q);
        assert_eq!(c.nodes, 2 + 20 + 3 + 30);
        assert_eq!((c.aliases, c.root_fields), (2, 2));
        let cycle = "{ products { ...A } } fragment A on ProductConnection { ...B } fragment B on ProductConnection { ...A }";
        assert!(refusal(cycle).contains("cycle"));
        let unused = "{ products { totalCount } } fragment A on ProductConnection { totalCount }";
        assert!(refusal(unused).contains("never used"));
    }

    #[test]
    fn fan_out_fragments_are_summarized_once() {
        // 60 levels of two spreads each: 2^60 expanded fields, analysed in microseconds.
        let mut q = String::from("{ ...F0 }");
        for i in 0..60 {
            q.push_str(&format!(
                " fragment F{i} on Query {{ ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        q.push_str(" fragment F60 on Query { __typename }");
        let doc = async_graphql::parser::parse_query(&q).unwrap();
        let started = std::time::Instant::now();
        let c = analyse(model(), &doc, &Variables::default()).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert!(c.selections > 1 << 40 && c.root_fields > 1 << 40);
        assert!(refusal(&q).contains("selections"));
    }

    #[test]
    fn reads_page_sizes_from_variables() {
        let doc = async_graphql::parser::parse_query(
            "query($n: Int) { products(first: $n) { totalCount } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "n": 7 }));
        assert_eq!(analyse(model(), &doc, &vars).unwrap().nodes, 7);
    }

    #[test]
    fn refuses_nul_and_multi_root_subscriptions() {
        assert!(
            refusal(r#"{ findings(filter: {titleContains: "a\u0000b"}) { totalCount } }"#)
                .contains("U+0000")
        );
        let doc = async_graphql::parser::parse_query(
            "query($t: String) { findings(filter: {titleContains: $t}) { totalCount } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "t": "x\u{0}" }));
        assert!(analyse(model(), &doc, &vars).is_err());
        assert!(
            refusal("subscription { events { eventId } findingsImported { eventId } }")
                .contains("exactly one root field")
        );
        assert!(
            refusal("subscription { ...S } fragment S on SubscriptionRoot { events { eventId } __typename }")
                .contains("exactly one root field")
        );
    }

    #[test]
    fn every_plain_list_has_a_bound() {
        let m = model();
        assert!(
            m.unbounded.is_empty(),
            "lists without a bound: {:?}",
            m.unbounded
        );
        let lists = m.lists();
        assert!(
            lists
                .iter()
                .any(|(f, b)| f == "Query.products" && *b == Bound::Page)
        );
        assert!(
            lists
                .iter()
                .any(|(f, b)| f == "Query.nodes" && *b == Bound::Ids("ids"))
        );
        for (owner, name, _) in PLAIN_LISTS {
            let field = format!("{owner}.{name}");
            assert!(
                lists.iter().any(|(f, _)| *f == field),
                "{field} is in PLAIN_LISTS but not a list of objects in the schema"
            );
        }
    }
}
