//! Query cost limits checked before execution, GitHub-style: every connection may return up to
//! `first`/`last` nodes (100 when neither is given) for *each* node of its parent, so a query's
//! node budget is the sum over its connections of the product of the page sizes above and at
//! them. Also caps on aliases and root fields. Fragments are expanded; a fragment cycle stops the
//! walk (validation then reports it).
//!
//! This runs on the parsed document in [`super::execute`] rather than as an async-graphql
//! `Extension`, so that field resolution keeps its no-extension fast path.

use async_graphql::{
    Name, Value, Variables,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use async_graphql_value::Value as AstValue;

/// Fields that return a connection (checked against the schema by a test).
pub const CONNECTION_FIELDS: &[&str] = &[
    "productTypes",
    "products",
    "engagements",
    "tests",
    "findings",
    "users",
    "slaConfigurations",
    "testTypes",
    "developmentEnvironments",
    "duplicates",
    "groups",
];

/// The limits; every one is configurable (see `Config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most nodes a query may ask for (sum over connections of the product of page sizes).
    pub max_nodes: u64,
    pub max_aliases: usize,
    pub max_root_fields: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        // 2M nodes admits the dashboard (first: 100 on three nested levels ≈ 1.01M) and refuses
        // four nested levels of 100 (≈ 100M).
        Self {
            max_nodes: 2_000_000,
            max_aliases: 30,
            max_root_fields: 20,
        }
    }
}

/// What the walk counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub nodes: u64,
    pub aliases: usize,
    pub root_fields: usize,
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    cost: Cost,
    fragments: Vec<&'a Name>,
}

fn page_size(field: &async_graphql::parser::types::Field, variables: &Variables) -> u64 {
    let mut size = None;
    for (name, value) in &field.arguments {
        if name.node == "first" || name.node == "last" {
            let number = match &value.node {
                AstValue::Variable(var) => match variables.get(var) {
                    Some(Value::Number(n)) => Some(n.clone()),
                    _ => None,
                },
                AstValue::Number(n) => Some(n.clone()),
                _ => None,
            };
            if let Some(n) = number {
                // Out-of-range sizes are refused later by argument validation; count them as 100.
                let n = n.as_u64().filter(|n| (1..=100).contains(n)).unwrap_or(100);
                size = Some(size.map_or(n, |s: u64| s.max(n)));
            }
        }
    }
    size.unwrap_or(100)
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, multiplier: u64, root: bool) {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    if root {
                        self.cost.root_fields += 1;
                    }
                    if f.alias.is_some() {
                        self.cost.aliases += 1;
                    }
                    let mut m = multiplier;
                    if CONNECTION_FIELDS.contains(&f.name.node.as_str()) {
                        m = multiplier.saturating_mul(page_size(f, self.variables));
                        self.cost.nodes = self.cost.nodes.saturating_add(m);
                    }
                    self.selection_set(&f.selection_set.node, m, false);
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node, multiplier, root)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if self.fragments.contains(&name) || self.fragments.len() > 64 {
                        continue;
                    }
                    if let Some(def) = self.doc.fragments.get(name) {
                        self.fragments.push(name);
                        self.selection_set(&def.node.selection_set.node, multiplier, root);
                        self.fragments.pop();
                    }
                }
            }
        }
    }
}

/// The cost of every operation in `doc` (the largest one counts).
pub fn cost(doc: &ExecutableDocument, variables: &Variables) -> Cost {
    let mut worst = Cost::default();
    for (_, op) in doc.operations.iter() {
        let mut walk = Walk {
            doc,
            variables,
            cost: Cost::default(),
            fragments: Vec::new(),
        };
        walk.selection_set(&op.node.selection_set.node, 1, true);
        worst.nodes = worst.nodes.max(walk.cost.nodes);
        worst.aliases = worst.aliases.max(walk.cost.aliases);
        worst.root_fields = worst.root_fields.max(walk.cost.root_fields);
    }
    worst
}

/// Refuses a document over `limits`, naming the limit.
pub fn check(
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &QueryLimits,
) -> Result<Cost, String> {
    let c = cost(doc, variables);
    if c.nodes > limits.max_nodes {
        return Err(format!(
            "the query may return up to {} nodes, more than the limit of {}: ask for smaller pages (first/last)",
            c.nodes, limits.max_nodes
        ));
    }
    if c.aliases > limits.max_aliases {
        return Err(format!(
            "the query has {} aliases, more than the limit of {}",
            c.aliases, limits.max_aliases
        ));
    }
    if c.root_fields > limits.max_root_fields {
        return Err(format!(
            "the query has {} root fields, more than the limit of {}",
            c.root_fields, limits.max_root_fields
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(q: &str) -> Cost {
        cost(
            &async_graphql::parser::parse_query(q).unwrap(),
            &Variables::default(),
        )
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
    fn expands_fragments_and_counts_aliases() {
        let q = "query { a: products(first: 2) { ...P } b: products(first: 3) { ...P } }
                 fragment P on ProductConnection { nodes { tests(first: 10) { totalCount } } }";
        let c = cost_of(q);
        assert_eq!(c.nodes, 2 + 20 + 3 + 30);
        assert_eq!((c.aliases, c.root_fields), (2, 2));
        let cycle = "{ products { ...A } } fragment A on ProductConnection { ...B } fragment B on ProductConnection { ...A }";
        assert_eq!(cost_of(cycle).nodes, 100);
    }

    #[test]
    fn reads_page_sizes_from_variables() {
        let doc = async_graphql::parser::parse_query(
            "query($n: Int) { products(first: $n) { totalCount } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "n": 7 }));
        assert_eq!(cost(&doc, &vars).nodes, 7);
    }
}
