//! The MCP tool table and its one dispatch, generated with syn/quote.
//!
//! Parameter types are read from the progenitor client just generated (never guessed), so a
//! dispatch arm always matches the method it calls.

use super::GenError;
use super::catalog::{self, Annotations, Output};
use super::preflight::Operation;
use super::schema;
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;
use syn::{FnArg, GenericArgument, Ident, ImplItem, Item, Pat, PathArguments, Type};

/// The credits of one operation as the generator holds them.
pub type Credits = catalog::Credits<String, Vec<(String, f64)>>;

/// What our curation says an operation costs: the part the runtime budgets with, and the words
/// only the description carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub credits: Credits,
    /// "free when ...", e.g. nothing is found.
    pub free_when: String,
    /// When the price depends on the plan: the plans that pay nothing.
    pub free_on: String,
    /// Why the cost is not known, when it is not (`known: false` with a `note`).
    pub unknown_note: String,
}
/// One method argument of the generated client.
struct MethodArg {
    ident: Ident,
    /// Owned type to deserialize the argument into.
    owned: Type,
    optional: bool,
    /// How the value is passed: by value, `&v`, `v.as_ref()`, `v.as_deref()`.
    pass: Pass,
}

#[derive(Clone, Copy)]
enum Pass {
    Value,
    Ref,
    AsRef,
    AsDeref,
}

pub struct ToolDef {
    pub op: Operation,
    pub title: String,
    pub description: String,
    /// First sentence, the "give one of" rule and the cost: for small-context clients.
    pub compact_description: String,
    pub input_schema: Value,
    pub output_schema: Value,
    pub output: Output,
    pub any_of_required: Vec<Vec<String>>,
    pub annotations: Annotations,
    pub cost: Cost,
    /// Arguments holding someone's secret (`x-leadmagic-secret-arguments`): kept out of every
    /// output, as the API key is.
    pub secret_arguments: Vec<String>,
    /// Seconds to wait before polling again (`x-leadmagic-poll-after-s`), 0 when not a poll.
    pub poll_after_s: u64,
    /// Largest arguments accepted, as JSON bytes (`x-leadmagic-max-argument-bytes`), 0 = the
    /// transport's cap only.
    pub max_argument_bytes: u64,
    pub sample: (String, String),
    pub body_wrapped: bool,
    /// Ask before running it (`x-leadmagic-confirm`: bulk submissions).
    pub confirm: bool,
    /// A composite's steps (`build/composites.rs`); empty for an operation.
    pub steps: Vec<super::composites::Step>,
    method: Ident,
    args: Vec<(MethodArg, ArgSource)>,
}

impl ToolDef {
    /// A row that calls no client method (a composite), to be filled in by its builder.
    pub fn synthetic(op: Operation) -> Self {
        ToolDef {
            title: String::new(),
            description: String::new(),
            compact_description: String::new(),
            input_schema: Value::Null,
            output_schema: Value::Null,
            output: Output::Object,
            any_of_required: Vec::new(),
            annotations: Annotations {
                read_only: true,
                destructive: false,
                idempotent: true,
                open_world: true,
            },
            cost: cost(&op).unwrap_or_else(|_| unreachable!("no x-leadmagic-credits to read")),
            secret_arguments: Vec::new(),
            poll_after_s: 0,
            max_argument_bytes: 0,
            sample: (String::new(), String::new()),
            body_wrapped: false,
            confirm: false,
            steps: Vec::new(),
            method: quote::format_ident!("{}", op.name),
            args: Vec::new(),
            op,
        }
    }
}

enum ArgSource {
    Param(String),
    Body,
}

pub fn annotations(op: &Operation, warnings: &mut Vec<String>) -> Result<Annotations, GenError> {
    let Some(ext) = op.raw.get("x-leadmagic-annotations") else {
        // No explicit entry: HTTP semantics only (GET is safe, DELETE destroys); anything else is
        // treated as a write that may destroy data, so clients ask before calling it.
        let safe = op.method == "GET" || op.method == "HEAD";
        warnings.push(format!(
            "{} ({} {}) has no x-leadmagic-annotations; hinted as {}",
            op.operation_id,
            op.method,
            op.path,
            if safe {
                "read-only"
            } else {
                "a destructive write"
            }
        ));
        return Ok(Annotations {
            read_only: safe,
            destructive: !safe,
            idempotent: safe || op.method == "DELETE" || op.method == "PUT",
            open_world: true,
        });
    };
    let flag = |key: &str| {
        ext.get(key).and_then(Value::as_bool).ok_or_else(|| {
            GenError::new(
                Some(&op.operation_id),
                format!("{}/x-leadmagic-annotations/{key}", op.pointer),
                format!("x-leadmagic-annotations.{key} is missing or not a boolean"),
                "give all four of readOnly, destructive, idempotent, openWorld",
            )
        })
    };
    Ok(Annotations {
        read_only: flag("readOnly")?,
        destructive: flag("destructive")?,
        idempotent: flag("idempotent")?,
        open_world: flag("openWorld")?,
    })
}

pub fn cost(op: &Operation) -> Result<Cost, GenError> {
    let unknown = |note: String| Cost {
        credits: Credits {
            known: false,
            amount: 0.0,
            per: "call".into(),
            cap_argument: String::new(),
            cap_default: 0.0,
            cap_max: f64::INFINITY,
            price_argument: String::new(),
            prices: Vec::new(),
            surcharge_argument: String::new(),
            surcharge: 0.0,
        },
        free_when: String::new(),
        free_on: String::new(),
        unknown_note: note,
    };
    // A curated "not published": said as such, and budgeted as unbounded.
    if let Some(ext) = op.raw.get("x-leadmagic-credits")
        && ext.get("known") == Some(&Value::Bool(false))
    {
        let note = ext.get("note").and_then(Value::as_str).unwrap_or_default();
        return Ok(unknown(note.to_string()));
    }
    let Some(ext) = op.raw.get("x-leadmagic-credits") else {
        return Ok(unknown(String::new()));
    };
    let bad = |key: &str, what: &str, fix: &str| {
        GenError::new(
            Some(&op.operation_id),
            format!("{}/x-leadmagic-credits/{key}", op.pointer),
            format!("x-leadmagic-credits.{key} {what}"),
            fix,
        )
    };
    let amount = ext
        .get("amount")
        .and_then(Value::as_f64)
        .filter(|a| *a >= 0.0)
        .ok_or_else(|| {
            bad(
                "amount",
                "is missing or negative",
                "give the credits charged per unit, e.g. `amount: 1`",
            )
        })?;
    let text = |k: &str| {
        ext.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let number = |k: &str, default: f64| -> Result<f64, GenError> {
        match ext.get(k) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|n| *n >= 0.0)
                .ok_or_else(|| bad(k, "is not a number of 0 or more", "give a number")),
        }
    };
    let mut prices = Vec::new();
    let mut price_argument = String::new();
    if let Some(by) = ext.get("price_by") {
        price_argument = by
            .get("argument")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(
                    "price_by",
                    "has no `argument`",
                    "name the argument the price depends on",
                )
            })?
            .to_string();
        for (value, price) in by
            .get("prices")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let price = price
                .as_f64()
                .filter(|p| *p >= 0.0 && *p <= amount)
                .ok_or_else(|| {
                    bad(
                        "price_by",
                        &format!("price of `{value}` is not a number between 0 and `amount`"),
                        "`amount` is the highest price; list the others",
                    )
                })?;
            prices.push((value.clone(), price));
        }
    }
    let (surcharge_argument, surcharge) = match ext.get("surcharge") {
        Some(s) => (
            s.get("argument")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad(
                        "surcharge",
                        "has no `argument`",
                        "name the boolean argument",
                    )
                })?
                .to_string(),
            s.get("amount")
                .and_then(Value::as_f64)
                .filter(|a| *a >= 0.0)
                .ok_or_else(|| {
                    bad(
                        "surcharge",
                        "has no `amount`",
                        "give the credits added per unit",
                    )
                })?,
        ),
        None => (String::new(), 0.0),
    };
    let credits = Credits {
        known: true,
        amount,
        per: Some(text("per"))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "call".into()),
        cap_argument: text("cap_argument"),
        // `unbounded`: without the argument the call can bill any number of units.
        cap_default: if ext.get("cap_default").and_then(Value::as_str) == Some("unbounded") {
            f64::INFINITY
        } else {
            number("cap_default", 1.0)?
        },
        cap_max: number("cap_max", f64::INFINITY)?,
        price_argument,
        prices,
        surcharge_argument,
        surcharge,
    };
    Ok(Cost {
        credits,
        free_when: text("free_when"),
        free_on: text("free_on"),
        unknown_note: String::new(),
    })
}

/// The sentence about cost that ends every tool description.
pub fn cost_sentence(cost: &Cost) -> String {
    let c = &cost.credits;
    if !c.known && !cost.unknown_note.is_empty() {
        return format!("Cost: not published by LeadMagic; {}.", cost.unknown_note);
    }
    if !c.known {
        return "Cost: not stated in the API document; assume it is billed.".into();
    }
    if c.amount == 0.0 {
        return "Free.".into();
    }
    let mut s = format!("Cost: {}", c.amount_phrase());
    if c.per != "call" {
        s.push_str(&format!(" per {}", c.per));
    }
    if !c.prices.is_empty() {
        // `items[].product`: "by each item's product".
        let by = match c.price_argument.split_once("[].") {
            Some((array, field)) => {
                format!(
                    "each {}'s {field}",
                    array.strip_suffix('s').unwrap_or(array)
                )
            }
            None => c.price_argument.clone(),
        };
        s.push_str(&format!(" (by {by})"));
    }
    if c.surcharge > 0.0 {
        s.push_str(&format!(
            ", {} more each with {}",
            c.surcharge, c.surcharge_argument
        ));
    }
    if !cost.free_when.is_empty() {
        s.push_str(&format!("; free when {}", cost.free_when));
    }
    if !cost.free_on.is_empty() {
        s.push_str(&format!("; free on {}", cost.free_on));
    }
    s.push('.');
    s
}

/// First paragraph of the operation text, cut at a sentence end near 300 characters.
fn short_description(op: &Operation) -> String {
    let text = op
        .description
        .as_deref()
        .or(op.summary.as_deref())
        .unwrap_or(&op.name);
    let para = text
        .split("\n\n")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if para.chars().count() <= 300 {
        return para;
    }
    let cut: String = para.chars().take(300).collect();
    match cut.rfind(". ") {
        Some(i) => cut[..=i].to_string(),
        None => format!("{}...", cut.trim_end()),
    }
}

fn title(op: &Operation) -> String {
    match &op.summary {
        Some(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            let mut t = op.name.replace('_', " ");
            if let Some(first) = t.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            t
        }
    }
}

/// The "give one of these groups of arguments" rule: `x-leadmagic-one-of` (our curation),
/// else the constraint-only `anyOf`/`oneOf` branches of the request body.
pub fn give_one_of(doc: &Value, op: &Operation) -> Result<Vec<Vec<String>>, GenError> {
    match op.raw.get("x-leadmagic-one-of") {
        Some(groups) => one_of(op, groups),
        None => Ok(op
            .body
            .as_ref()
            .map(|(_, b)| schema::any_of_required(doc, b))
            .unwrap_or_default()),
    }
}

/// `x-leadmagic-one-of`: a list of groups of argument names.
fn one_of(op: &Operation, groups: &Value) -> Result<Vec<Vec<String>>, GenError> {
    let bad = || {
        GenError::new(
            Some(&op.operation_id),
            format!("{}/x-leadmagic-one-of", op.pointer),
            "x-leadmagic-one-of is not a list of lists of argument names",
            "write e.g. `[[company_domain], [company_name]]`",
        )
    };
    groups
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|g| {
            g.as_array()
                .filter(|g| !g.is_empty())
                .ok_or_else(bad)?
                .iter()
                .map(|n| n.as_str().map(str::to_owned).ok_or_else(bad))
                .collect()
        })
        .collect()
}

/// A list of strings in an extension of the operation (empty when absent).
fn strings(op: &Operation, key: &str) -> Result<Vec<String>, GenError> {
    let Some(v) = op.raw.get(key) else {
        return Ok(Vec::new());
    };
    v.as_array()
        .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| {
            GenError::new(
                Some(&op.operation_id),
                format!("{}/{key}", op.pointer),
                format!("{key} is not a list of names"),
                "list argument names",
            )
        })
}

fn groups_sentence(groups: &[Vec<String>]) -> String {
    format!("Give one of: {}.", catalog::alternatives(groups))
}

/// Methods of `impl Client`, keyed by "METHOD path" from their doc comment.
fn client_methods(file: &syn::File) -> Vec<(String, syn::ImplItemFn)> {
    let mut out = Vec::new();
    for item in &file.items {
        let Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some()
            || !matches!(&*imp.self_ty, Type::Path(p) if p.path.is_ident("Client"))
        {
            continue;
        }
        for it in &imp.items {
            let ImplItem::Fn(f) = it else { continue };
            let doc: String = f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .filter_map(|a| match &a.meta {
                    syn::Meta::NameValue(nv) => match &nv.value {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) => Some(s.value()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            if let Some(rest) = doc.split("Sends a `").nth(1) {
                let mut parts = rest.split('`');
                let method = parts.next().unwrap_or_default();
                let path = parts.nth(1).unwrap_or_default();
                out.push((format!("{method} {path}"), f.clone()));
            }
        }
    }
    out
}

fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn method_arg(ident: Ident, ty: &Type) -> MethodArg {
    let (optional, ty) = match option_inner(ty) {
        Some(inner) => (true, inner),
        None => (false, ty),
    };
    let (borrowed, target) = match ty {
        Type::Reference(r) => (true, &*r.elem),
        other => (false, other),
    };
    let (owned, deref_like): (Type, bool) = match target {
        Type::Path(p) if p.path.is_ident("str") => (syn::parse_quote!(::std::string::String), true),
        Type::Slice(s) => {
            let elem = &s.elem;
            (syn::parse_quote!(::std::vec::Vec<#elem>), true)
        }
        other => (other.clone(), false),
    };
    let pass = match (optional, borrowed, deref_like) {
        (_, false, _) => Pass::Value,
        (false, true, _) => Pass::Ref,
        (true, true, true) => Pass::AsDeref,
        (true, true, false) => Pass::AsRef,
    };
    MethodArg {
        ident,
        owned,
        optional,
        pass,
    }
}

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub fn build_tool_defs(
    doc: &Value,
    ops: &[Operation],
    client: &syn::File,
    warnings: &mut Vec<String>,
) -> Result<Vec<ToolDef>, GenError> {
    let methods = client_methods(client);
    let mut defs = Vec::new();
    for op in ops {
        let oid = Some(op.operation_id.as_str());
        let key = format!("{} {}", op.method, op.path);
        let (_, f) = methods.iter().find(|(k, _)| *k == key).ok_or_else(|| {
            GenError::new(
                oid,
                &op.pointer,
                "progenitor generated no method for it",
                "report it",
            )
        })?;
        let mut args = Vec::new();
        for input in f.sig.inputs.iter().skip(1) {
            let FnArg::Typed(pt) = input else { continue };
            let Pat::Ident(pi) = &*pt.pat else { continue };
            let ident = pi.ident.clone();
            let arg = method_arg(ident.clone(), &pt.ty);
            let source = if ident == "body" && op.body.is_some() {
                ArgSource::Body
            } else {
                let p = op
                    .params
                    .iter()
                    .find(|p| normalized(&p.name) == normalized(&ident.to_string()));
                let p = p.ok_or_else(|| {
                    GenError::new(
                        oid,
                        format!("{}/parameters", op.pointer),
                        format!("client argument `{ident}` matches no declared parameter"),
                        "give parameters distinct names (case and punctuation are ignored)",
                    )
                })?;
                ArgSource::Param(p.name.clone())
            };
            args.push((arg, source));
        }
        let cost = cost(op)?;
        let any_of_required = give_one_of(doc, op)?;
        let input_schema = schema::input_schema(doc, op)?;
        for group in &any_of_required {
            for field in group {
                if input_schema
                    .pointer(&format!("/properties/{field}"))
                    .is_none()
                {
                    return Err(GenError::new(
                        oid,
                        format!("{}/x-leadmagic-one-of", op.pointer),
                        format!("`{field}` of a \"give one of\" group is not an argument"),
                        "name arguments the tool takes",
                    ));
                }
            }
        }
        let secret_arguments = strings(op, "x-leadmagic-secret-arguments")?;
        for a in &secret_arguments {
            // `callback.secret`: a field of an object argument.
            let pointer: String = a.split('.').map(|p| format!("/properties/{p}")).collect();
            if input_schema.pointer(&pointer).is_none() {
                return Err(GenError::new(
                    oid,
                    format!("{}/x-leadmagic-secret-arguments", op.pointer),
                    format!("secret argument `{a}` is not an argument"),
                    "name arguments the tool takes",
                ));
            }
        }
        let long = short_description(op);
        let first = match long.find(". ") {
            Some(i) => long[..=i].to_string(),
            None => long.clone(),
        };
        let mut rules = String::new();
        if !any_of_required.is_empty() {
            rules.push(' ');
            rules.push_str(&groups_sentence(&any_of_required));
        }
        rules.push(' ');
        rules.push_str(&cost_sentence(&cost));
        let description = format!("{long}{rules}");
        let compact_description = format!("{first}{rules}");
        defs.push(ToolDef {
            title: title(op),
            description,
            compact_description,
            input_schema,
            output_schema: schema::output_schema(doc, op),
            output: schema::output_kind(doc, op),
            any_of_required,
            annotations: annotations(op, warnings)?,
            cost,
            secret_arguments,
            poll_after_s: op
                .raw
                .get("x-leadmagic-poll-after-s")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            max_argument_bytes: op
                .raw
                .get("x-leadmagic-max-argument-bytes")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            sample: schema::sample_response(doc, op),
            body_wrapped: schema::body_is_wrapped(doc, op),
            confirm: op
                .raw
                .get("x-leadmagic-confirm")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            steps: Vec::new(),
            method: f.sig.ident.clone(),
            args,
            op: op.clone(),
        });
    }
    Ok(defs)
}

fn tool_entry(index: usize, d: &ToolDef) -> TokenStream {
    let name = &d.op.name;
    let operation_id = &d.op.operation_id;
    let title = &d.title;
    let description = &d.description;
    let compact_description = &d.compact_description;
    let toolset = &d.op.toolset;
    let method = &d.op.method;
    let path = &d.op.path;
    let input = d.input_schema.to_string();
    let output = d.output_schema.to_string();
    let groups = d.any_of_required.iter().map(|g| quote!(&[#(#g),*]));
    let Annotations {
        read_only,
        destructive,
        idempotent,
        open_world,
    } = d.annotations;
    // Every field by name: a field added to the shared type fails to compile until it is
    // written here too.
    let catalog::Credits {
        known,
        amount,
        per,
        cap_argument,
        cap_default,
        cap_max,
        price_argument,
        prices,
        surcharge_argument,
        surcharge,
    } = &d.cost.credits;
    let cap_default = if cap_default.is_finite() {
        quote!(#cap_default)
    } else {
        quote!(f64::INFINITY)
    };
    let cap_max = if cap_max.is_finite() {
        quote!(#cap_max)
    } else {
        quote!(f64::INFINITY)
    };
    let prices = prices.iter().map(|(v, p)| quote!((#v, #p)));
    let aliases = &d.op.aliases;
    let secrets = &d.secret_arguments;
    let poll_after_s = d.poll_after_s;
    let max_argument_bytes = d.max_argument_bytes;
    let output_kind = match d.output {
        Output::Object => quote!(Output::Object),
        Output::Wrapped => quote!(Output::Wrapped),
        Output::Text => quote!(Output::Text),
        Output::Empty => quote!(Output::Empty),
    };
    let (content_type, body) = &d.sample;
    // A composite calls no client method of its own.
    let client_method = if d.steps.is_empty() {
        d.method.to_string()
    } else {
        String::new()
    };
    let confirm = d.confirm;
    let steps = super::composites::steps_tokens(&d.steps);
    quote! {
        ToolDef {
            index: #index,
            name: #name,
            operation_id: #operation_id,
            client_method: #client_method,
            title: #title,
            description: #description,
            compact_description: #compact_description,
            toolset: #toolset,
            method: #method,
            path: #path,
            input_schema: #input,
            output_schema: #output,
            any_of_required: &[#(#groups),*],
            annotations: Annotations {
                read_only: #read_only,
                destructive: #destructive,
                idempotent: #idempotent,
                open_world: #open_world,
            },
            credits: Credits {
                known: #known,
                amount: #amount,
                per: #per,
                cap_argument: #cap_argument,
                cap_default: #cap_default,
                cap_max: #cap_max,
                price_argument: #price_argument,
                prices: &[#(#prices),*],
                surcharge_argument: #surcharge_argument,
                surcharge: #surcharge,
            },
            aliases: &[#(#aliases),*],
            secret_arguments: &[#(#secrets),*],
            poll_after_s: #poll_after_s,
            max_argument_bytes: #max_argument_bytes,
            output: #output_kind,
            sample_content_type: #content_type,
            sample_body: #body,
            confirm: #confirm,
            steps: #steps,
        }
    }
}

fn dispatch_arm(index: usize, d: &ToolDef) -> TokenStream {
    let method = &d.method;
    let mut lets = Vec::new();
    let mut passes = Vec::new();
    for (arg, source) in &d.args {
        let ident = &arg.ident;
        let owned = &arg.owned;
        let get = match (source, arg.optional) {
            (ArgSource::Body, _) if d.body_wrapped => quote!(args.required::<#owned>("body")?),
            (ArgSource::Body, _) => quote!(args.body::<#owned>()?),
            (ArgSource::Param(p), false) => quote!(args.required::<#owned>(#p)?),
            (ArgSource::Param(p), true) => quote!(args.optional::<#owned>(#p)?),
        };
        // The body takes every remaining argument, so it is read last.
        lets.push((
            matches!(source, ArgSource::Body),
            quote!(let #ident = #get;),
        ));
        passes.push(match arg.pass {
            Pass::Value => quote!(#ident),
            Pass::Ref => quote!(&#ident),
            Pass::AsRef => quote!(#ident.as_ref()),
            Pass::AsDeref => quote!(#ident.as_deref()),
        });
    }
    lets.sort_by_key(|(is_body, _)| *is_body);
    let lets = lets.into_iter().map(|(_, l)| l);
    quote! {
        #index => {
            #(#lets)*
            client.#method(#(#passes),*).await.map(drop)?;
        }
    }
}

/// A group of tools (`--toolsets`), from `info.x-leadmagic-toolsets` (our curation); toolsets
/// with no entry there are opt-in and described by their name.
pub struct Toolset {
    pub name: String,
    pub default: bool,
    pub description: String,
}

/// The toolsets of these tools, in the order the document's curation lists them (others after,
/// in tool order).
pub fn toolsets(doc: &Value, defs: &[ToolDef]) -> Result<Vec<Toolset>, GenError> {
    let mut out = Vec::new();
    let listed = doc.pointer("/info/x-leadmagic-toolsets");
    for entry in listed.and_then(Value::as_array).into_iter().flatten() {
        let name = entry.get("name").and_then(Value::as_str).ok_or_else(|| {
            GenError::new(
                None,
                "#/info/x-leadmagic-toolsets",
                "a toolset has no name",
                "give each toolset a `name`",
            )
        })?;
        if !defs.iter().any(|d| d.op.toolset == name) {
            return Err(GenError::new(
                None,
                "#/info/x-leadmagic-toolsets",
                format!("toolset `{name}` has no tools"),
                "remove it, or put tools in it with x-leadmagic-toolset",
            ));
        }
        out.push(Toolset {
            name: name.to_string(),
            default: entry
                .get("default")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            description: entry
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        });
    }
    for d in defs {
        if !out.iter().any(|t| t.name == d.op.toolset) {
            out.push(Toolset {
                name: d.op.toolset.clone(),
                // Without curation every toolset is on, as it always was.
                default: listed.is_none(),
                description: String::new(),
            });
        }
    }
    Ok(out)
}

pub fn render(
    defs: &[ToolDef],
    toolsets: &[Toolset],
    prompts: &[super::composites::Prompt],
) -> syn::File {
    let entries = defs.iter().enumerate().map(|(i, d)| tool_entry(i, d));
    let arms = defs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.steps.is_empty())
        .map(|(i, d)| dispatch_arm(i, d));
    let prompts = super::composites::prompts_tokens(prompts);
    let count = defs.len();
    let sets = toolsets.iter().map(|t| {
        let (name, default, description) = (&t.name, t.default, &t.description);
        quote!(ToolsetDef { name: #name, default: #default, description: #description })
    });
    let set_count = toolsets.len();
    syn::parse_quote! {
        /// The toolsets, in the order `--toolsets` documents them.
        pub static TOOLSETS: [ToolsetDef; #set_count] = [#(#sets),*];

        /// Every operation of the document, as an MCP tool, ordered by path then method; then
        /// the composite tools.
        pub static TOOLS: [ToolDef; #count] = [#(#entries),*];

        #prompts

        /// Turn validated arguments into the generated request types and call the typed client,
        /// by the tool's index in `TOOLS`. The raw response is captured by the runtime in the
        /// call's scope.
        pub async fn dispatch(client: &Client, tool: &ToolDef, mut args: Args) -> Result<(), CallError> {
            match tool.index {
                #(#arms)*
                _ => return Err(CallError::UnknownTool),
            }
            Ok(())
        }
    }
}
