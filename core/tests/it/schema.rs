//! `schema/reports.json` is what `dxforge::schema::reports()` emits: the Python
//! `TypedDict`s and every binding's report checks are built from the committed
//! file, so a report type changed without regenerating it fails here.
//! Regenerate with `DXFORGE_BLESS=1 cargo test -p dxforge --test it schema`.

use std::path::PathBuf;

#[test]
fn committed_report_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/reports.json");
    let mut want = serde_json::to_string_pretty(&dxforge::schema::reports()).unwrap();
    want.push('\n');
    if std::env::var_os("DXFORGE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "schema/reports.json is stale: run `DXFORGE_BLESS=1 cargo test -p dxforge --test it \
         schema`, then `python3 scripts/gen-reports.py` and commit both"
    );
}
