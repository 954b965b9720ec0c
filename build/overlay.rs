//! Our curation, an OpenAPI Overlay 1.0 document, applied to LeadMagic's contract with
//! roas-overlay (the spec's JSONPath targets and merge rules). An action whose target matches
//! nothing is an error naming the action: the contract moved and the curation must follow.

use super::GenError;
use enumset::EnumSet;
use roas_overlay::apply::{Apply, ApplyOptions};
use roas_overlay::v1_0::Overlay;
use serde_json::Value;

/// One action of an overlay and how many nodes of the contract it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub index: usize,
    pub target: String,
    pub matched: usize,
}

fn parse(overlay: &Value) -> Result<Overlay, GenError> {
    serde_json::from_value(overlay.clone()).map_err(|e| {
        GenError::new(
            None,
            "overlay",
            format!("not an OpenAPI Overlay 1.0 document: {e}"),
            "start it with `overlay: 1.0.0`, an `info` (title, version) and `actions`",
        )
    })
}

/// Apply `overlay` to `contract`; every action must match at least one node.
pub fn apply(contract: &Value, overlay: &Value) -> Result<Value, GenError> {
    let overlay = parse(overlay)?;
    let mut doc = contract.clone();
    overlay
        .apply(&mut doc, EnumSet::only(ApplyOptions::ErrorOnZeroMatch))
        .map_err(|e| {
            GenError::new(
                None,
                format!("overlay actions[{}]", e.action_index),
                format!("action with target `{}` failed: {}", e.target, e.kind),
                "the contract changed under this action: point its target at the new place, \
                 or remove the action (`cargo xtask import` lists every such action)",
            )
        })?;
    Ok(doc)
}

/// Apply `overlay` as far as it goes, and report each action's matches (zero-match actions are
/// skipped, not errors): what `cargo xtask import` shows after a new contract.
pub fn apply_reporting(
    contract: &Value,
    overlay: &Value,
) -> Result<(Value, Vec<Matched>), GenError> {
    let overlay = parse(overlay)?;
    let mut doc = contract.clone();
    let report = overlay.apply(&mut doc, EnumSet::empty()).map_err(|e| {
        GenError::new(
            None,
            format!("overlay actions[{}]", e.action_index),
            format!("action with target `{}` failed: {}", e.target, e.kind),
            "fix the action",
        )
    })?;
    let matched = report
        .actions
        .iter()
        .map(|a| Matched {
            index: a.index,
            target: a.target.clone(),
            matched: a.matched,
        })
        .collect();
    Ok((doc, matched))
}
