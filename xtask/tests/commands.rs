//! The commands as a maintainer runs them: `diff` on LeadMagic's document and on a copy with one
//! operation changed reports that change, classified, and exits 1; the same document twice
//! reports no change and exits 0. Reads the document from ../shared (absent: says so; in CI,
//! where LEADMAGIC_TEST_NO_SKIP is set, fails).

use std::path::PathBuf;
use std::process::Command;

fn upstream() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/leadmagic-api/upstream/leadmagic-openapi-3.1-v1.4.35.yaml");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("LEADMAGIC_TEST_NO_SKIP").is_none(),
        "{} is absent",
        path.display()
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("SKIPPED: {} is absent\n", path.display()).as_bytes(),
    );
    None
}

fn xtask(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn diff_reports_one_changed_operation_classified() {
    let Some(doc) = upstream() else { return };
    let doc = doc.to_str().unwrap();
    let overlay = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/leadmagic.overlay.yaml"
    );
    let (code, text) = xtask(&[
        "diff",
        doc,
        doc,
        "--old-overlay",
        overlay,
        "--new-overlay",
        overlay,
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no change (90 tools)"), "{text}");

    // One operation changed: email validation now requires first_name (a field our overlay
    // declares for it).
    let original = std::fs::read_to_string(doc).unwrap();
    let needle = "              required:\n                - email\n";
    assert_eq!(
        original.matches(needle).count(),
        1,
        "the fixture edit must apply once"
    );
    let changed = original.replacen(
        needle,
        "              required:\n                - email\n                - first_name\n",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("changed.yaml");
    std::fs::write(&copy, changed).unwrap();
    let (code, text) = xtask(&[
        "diff",
        doc,
        copy.to_str().unwrap(),
        "--old-overlay",
        overlay,
        "--new-overlay",
        overlay,
    ]);
    assert_eq!(code, 1, "a breaking change exits 1: {text}");
    assert!(
        text.contains("BREAKING") && text.contains("validate_work_email"),
        "{text}"
    );
    assert!(text.contains("breaking: 1 for agents"), "{text}");
}
