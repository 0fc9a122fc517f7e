//! `schema.graphql` is the SDL exported from the code: this test fails when it is out of date.
//! Regenerate with `UPDATE_SCHEMA=1 cargo test --test it schema_sdl` (or `dojoql export-schema`).

#[test]
fn schema_graphql_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let exported = dojoql::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &exported).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == exported,
        "schema.graphql is out of date: run `UPDATE_SCHEMA=1 cargo test --test it schema_sdl` and commit it"
    );
}
