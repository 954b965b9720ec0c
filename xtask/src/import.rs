//! `cargo xtask import PATH`: LeadMagic's document in, facts only, as the contract.

use crate::generator::import::{Provenance, facts};
use crate::{CONTRACT, OVERLAY, flag, positional, read_document, root};
use std::path::Path;
use std::process::ExitCode;

const HEADER: &str = "# LeadMagic's API contract, facts only: written by `cargo xtask import` from LeadMagic's \
published OpenAPI document (MIT; notice in openapi/README.md). Do not edit by hand: our \
curation is leadmagic.overlay.yaml. Source, version, sha256 and date: x-leadmagic-import.\n";

pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let pos = positional(args, &["--date"]);
    let [source] = pos.as_slice() else {
        return Err("usage: cargo xtask import PATH [--date YYYY-MM-DD]".into());
    };
    let source = Path::new(source);
    let bytes =
        std::fs::read(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref());
    let upstream = read_document(source)?;
    let contract_path = root().join(CONTRACT);
    let previous = contract_path
        .exists()
        .then(|| read_document(&contract_path))
        .transpose()?;
    // The same source imports to the same file: its date stays.
    let same_source = previous
        .as_ref()
        .and_then(|p| p.pointer("/x-leadmagic-import/sha256"))
        .is_some_and(|s| s == sha256.as_str());
    let date = match flag(args, "--date") {
        Some(d) => d.to_string(),
        None if same_source => previous
            .as_ref()
            .and_then(|p| p.pointer("/x-leadmagic-import/imported"))
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_string(),
        None => chrono::Utc::now().format("%Y-%m-%d").to_string(),
    };
    let provenance = Provenance {
        source: source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256,
        date,
    };
    let contract = facts(&upstream, &provenance);
    let text = format!(
        "{HEADER}{}",
        serde_norway::to_string(&contract).map_err(|e| format!("cannot write YAML: {e}"))?
    );
    std::fs::write(&contract_path, text)
        .map_err(|e| format!("cannot write {}: {e}", contract_path.display()))?;
    println!(
        "imported {} (version {}, sha256 {}) into {CONTRACT}",
        provenance.source,
        contract
            .pointer("/info/version")
            .and_then(|v| v.as_str())
            .unwrap_or("?"),
        provenance.sha256
    );
    let overlay_path = root().join(OVERLAY);
    let overlay = overlay_path
        .exists()
        .then(|| read_document(&overlay_path))
        .transpose()?;
    crate::diff::report(
        previous.as_ref(),
        &contract,
        overlay.as_ref(),
        overlay.as_ref(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
