//! Builders for the hierarchy (product type → product → engagement → test → finding) and for
//! memberships, all through the API as the test superuser; each returns the new global id.

use serde_json::{Value, json};

use super::TestApp;

/// Ids of a minimal hierarchy.
pub struct Hierarchy {
    pub product_type: String,
    pub product: String,
    pub engagement: String,
    pub test: String,
}

impl TestApp {
    pub async fn product_type(&self, name: &str) -> String {
        self.ok_id(
            "mutation($n: String!) { createProductType(input: {name: $n}) { productType { id } } }",
            json!({ "n": name }),
            "/createProductType/productType/id",
        )
        .await
    }

    pub async fn product(&self, product_type: &str, name: &str) -> String {
        self.ok_id(
            "mutation($pt: ID!, $n: String!) { createProduct(input: {name: $n, description: \"d\", productTypeId: $pt}) { product { id } } }",
            json!({ "pt": product_type, "n": name }),
            "/createProduct/product/id",
        )
        .await
    }

    pub async fn engagement(&self, product: &str, name: &str) -> String {
        self.engagement_with(product, name, json!({})).await
    }

    /// An engagement with extra input fields merged in (e.g. `{"status": "COMPLETED"}`).
    pub async fn engagement_with(&self, product: &str, name: &str, extra: Value) -> String {
        let mut input = json!({
            "productId": product, "name": name, "engagementType": "INTERACTIVE", "status": "IN_PROGRESS",
            "targetStart": "2026-01-01", "targetEnd": "2026-02-01"
        });
        merge(&mut input, extra);
        self.ok_id(
            "mutation($i: CreateEngagementInput!) { createEngagement(input: $i) { engagement { id } } }",
            json!({ "i": input }),
            "/createEngagement/engagement/id",
        )
        .await
    }

    pub async fn test(&self, engagement: &str, title: &str) -> String {
        self.ok_id(
            "mutation($e: ID!, $t: String!) { createTest(input: {engagementId: $e, title: $t, testType: \"Manual Code Review\", targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}) { test { id } } }",
            json!({ "e": engagement, "t": title }),
            "/createTest/test/id",
        )
        .await
    }

    pub async fn finding(&self, test: &str, title: &str, severity: &str) -> String {
        self.finding_with(test, title, severity, json!({})).await
    }

    /// A finding with extra input fields merged in (e.g. `{"verified": true}`).
    pub async fn finding_with(
        &self,
        test: &str,
        title: &str,
        severity: &str,
        extra: Value,
    ) -> String {
        let mut input =
            json!({ "testId": test, "title": title, "severity": severity, "description": "d" });
        merge(&mut input, extra);
        self.ok_id(
            "mutation($i: CreateFindingInput!) { createFinding(input: $i) { finding { id } } }",
            json!({ "i": input }),
            "/createFinding/finding/id",
        )
        .await
    }

    /// product type → product → engagement → test; returns their ids.
    pub async fn hierarchy(&self) -> Hierarchy {
        let product_type = self.product_type("PT").await;
        let product = self.product(&product_type, "P").await;
        let engagement = self.engagement(&product, "E").await;
        let test = self.test(&engagement, "T").await;
        Hierarchy {
            product_type,
            product,
            engagement,
            test,
        }
    }

    /// Grants `user` (a global id) `role` on `product`; returns the membership id.
    pub async fn grant_product(&self, product: &str, user: &str, role: &str) -> String {
        self.ok_id(
            "mutation($p: ID!, $u: ID!, $r: Role!) { addProductMember(input: {productId: $p, userId: $u, role: $r}) { membership { id } } }",
            json!({ "p": product, "u": user, "r": role }),
            "/addProductMember/membership/id",
        )
        .await
    }
}

/// Shallow-merges the fields of `extra` into `base` (both JSON objects).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}
