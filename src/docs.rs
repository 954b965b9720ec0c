//! The server's documents, written from the tool table (the contract and our curation) and the
//! runtime's own rules: `leadmagic://docs` and one `leadmagic://tools/{name}` per tool.

use crate::errors::Kind;
use crate::tools::{ArgFrom, TOOLS, TOOLSETS, ToolDef};
use serde_json::Value;
use std::fmt::Write;

pub const DOCS_URI: &str = "leadmagic://docs";
pub const TOOL_URI_TEMPLATE: &str = "leadmagic://tools/{name}";
pub const TOOL_URI_PREFIX: &str = "leadmagic://tools/";

/// Arguments that page through results, by the names LeadMagic uses.
const PAGING: [&str; 5] = ["cursor", "page", "offset", "per_page", "next_cursor"];

/// `leadmagic://docs`: the toolsets this server offers with each tool's cost, how credits are
/// charged, paging, and what each error kind asks of the caller.
pub fn overview(tools: &[&ToolDef]) -> String {
    let mut out = String::from(
        "# LeadMagic tools\n\nB2B data: work emails, mobiles, profiles, companies, jobs, ads. \
         Results are personal data: use them only for the user's stated purpose.\n\n## Toolsets\n",
    );
    for set in TOOLSETS.iter() {
        let in_set: Vec<&&ToolDef> = tools.iter().filter(|t| t.toolset == set.name).collect();
        if in_set.is_empty() {
            let _ = writeln!(
                out,
                "- {} (off; --toolsets {}): {}",
                set.name, set.name, set.description
            );
            continue;
        }
        let _ = writeln!(out, "- {}: {}", set.name, set.description);
        for t in in_set {
            let _ = writeln!(out, "  - {}: {}", t.name, t.cost());
        }
    }
    out.push_str(
        "\n## Credits\n\
         - Each description states its cost; most lookups are free when nothing is found. A \
         repeated call is billed again: reuse results.\n\
         - Before sending, the server reserves the call's worst case (a composite: all its \
         steps) against --max-credits and refuses the call whole if it would not fit.\n\
         - Every result has `_credits`: `used` (as LeadMagic reported it when `reported` is \
         true) and the running total; the sandbox reports `would_cost` and spends nothing.\n\
         - Bulk submissions, destructive tools and calls that may cost more than the \
         confirmation threshold ask first: the user is asked through the client, or the call \
         returns `confirmation_required` with a `confirmation_token` to send with the same \
         arguments once the user agrees.\n\
         - preview_cost prices large work for free.\n",
    );
    let paged: Vec<&str> = tools
        .iter()
        .filter(|t| {
            let schema = crate::validate::input_schema(t);
            PAGING
                .iter()
                .any(|p| schema.pointer(&format!("/properties/{p}")).is_some())
        })
        .map(|t| t.name)
        .collect();
    if !paged.is_empty() {
        let _ = write!(
            out,
            "\n## Paging\nAsk for small pages (a low `limit`/`per_page`): each row may be billed. \
             Go on with `next_cursor` (or the next `page`/`offset`) only while `has_more` says \
             so. Paged tools: {}.\n",
            paged.join(", ")
        );
    }
    out.push_str("\n## Errors (`kind`)\n");
    for (kind, advice) in Kind::ALL {
        let _ = writeln!(out, "- {}: {advice}", kind.name());
    }
    out.push_str(&format!(
        "\nOne tool in depth: {TOOL_URI_TEMPLATE} (arguments, rules, cost, hints).\n"
    ));
    out
}

/// `leadmagic://tools/{name}`: one tool in depth.
pub fn tool(t: &ToolDef) -> String {
    let mut out = format!("# {} ({})\n\n{}\n\n", t.name, t.title, t.description);
    let a = t.annotations;
    let _ = writeln!(out, "- Toolset: {}", t.toolset);
    let _ = writeln!(out, "- Cost: {}", t.cost());
    let _ = writeln!(
        out,
        "- Hints: read-only {}, destructive {}, idempotent {}, open world {}",
        a.read_only, a.destructive, a.idempotent, a.open_world
    );
    if !t.path.is_empty() {
        let _ = writeln!(out, "- LeadMagic endpoint: {} {}", t.method, t.path);
    }
    if !t.any_of_required.is_empty() {
        let _ = writeln!(
            out,
            "- Give one of: {}",
            crate::catalog::alternatives(t.any_of_required)
        );
    }
    let schema = crate::validate::input_schema(t);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(props) = props.filter(|p| !p.is_empty()) {
        out.push_str("\n## Arguments\n");
        for (name, p) in props {
            let kind = p.get("type").and_then(Value::as_str).unwrap_or("any");
            let req = if required.contains(&name.as_str()) {
                ", required"
            } else {
                ""
            };
            let about = p.get("description").and_then(Value::as_str).unwrap_or("");
            let _ = writeln!(out, "- `{name}` ({kind}{req}) {about}");
        }
    }
    if !t.steps.is_empty() {
        out.push_str("\n## Steps\n");
        for s in t.steps {
            let step_tool = &TOOLS[s.tool];
            let mut line = format!("- {}: {} ({})", s.id, step_tool.name, step_tool.cost());
            if !s.for_each.is_empty() {
                let _ = write!(line, ", once per entry of {}", s.for_each);
            }
            if !s.when.is_empty() {
                let _ = write!(line, ", only with {}", s.when);
            }
            let after: Vec<&str> = s
                .args
                .iter()
                .flat_map(|(_, from)| from.iter())
                .filter_map(|f| match f {
                    ArgFrom::Step { step, .. } => Some(t.steps[*step].id),
                    _ => None,
                })
                .collect();
            if !after.is_empty() {
                let _ = write!(line, ", after {}", after.join(", "));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_names_every_enabled_tool_and_every_error_kind() {
        let selection = crate::tools::Selection::default();
        let tools: Vec<&crate::tools::ToolDef> = selection.tools().collect();
        let text = overview(&tools);
        for t in selection.tools() {
            assert!(
                text.contains(&format!("  - {}: {}", t.name, t.cost())),
                "{}",
                t.name
            );
        }
        for (kind, _) in Kind::ALL {
            assert!(text.contains(&format!("- {}: ", kind.name())));
        }
        assert!(text.contains("- bulk (off; --toolsets bulk)"));
    }

    #[test]
    fn a_composite_document_lists_its_steps_in_order() {
        let t = crate::tools::find("enrich_contact").unwrap();
        let text = tool(t);
        let email = text.find("- email: find_work_email").unwrap();
        let validation = text.find("- validation: validate_work_email").unwrap();
        assert!(email < validation, "{text}");
        assert!(
            text.contains("only with include_mobile, after email"),
            "{text}"
        );
    }
}
