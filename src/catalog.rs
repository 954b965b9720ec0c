//! What the generator writes and the runtime reads, defined once. `build/mod.rs` includes this
//! file, so the generated tool table is checked by the compiler against these very types, and
//! the wording a description and an error share comes from one function.

/// Behaviour hints for clients, decided per operation by our curation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// How a 2xx body becomes `structuredContent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A JSON object, passed through whole.
    Object,
    /// A JSON array (or any other value), wrapped as `{"items": [...]}`.
    Wrapped,
    /// Text (CSV, event stream): `{"content_type", "text", "truncated"}`.
    Text,
    /// No body.
    Empty,
}

/// What a call costs, from `x-leadmagic-credits`: the parts the runtime budgets with. The
/// generator holds it with owned text, the generated table with `&'static` text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Credits<Text = &'static str, Prices = &'static [(&'static str, f64)]> {
    /// False when the document states no cost (then the call is assumed billed).
    pub known: bool,
    /// Credits per unit; the highest when the price depends on an argument.
    pub amount: f64,
    /// "call", or the unit billed, e.g. "employee returned".
    pub per: Text,
    /// The argument that caps billed units (e.g. `limit`, or an array whose length counts),
    /// the server's default for it, and the most units one call can bill.
    pub cap_argument: Text,
    pub cap_default: f64,
    pub cap_max: f64,
    /// The price per unit by the value of this argument (`product`), or summed over the
    /// elements of an array argument (`items[].product`); `amount` for values not listed.
    pub price_argument: Text,
    pub prices: Prices,
    /// Credits added per unit when this boolean argument is true.
    pub surcharge_argument: Text,
    pub surcharge: f64,
}

impl<Text: AsRef<str>, Prices: AsRef<[(Text, f64)]>> Credits<Text, Prices> {
    /// The amount in words: "1 credit", "5 credits", or "up to 5 credits" when the price
    /// depends on an argument.
    pub(crate) fn amount_phrase(&self) -> String {
        let up_to = if self.prices.as_ref().is_empty() {
            ""
        } else {
            "up to "
        };
        let unit = if self.amount == 1.0 {
            "credit"
        } else {
            "credits"
        };
        format!("{up_to}{} {unit}", self.amount)
    }
}

/// "Give one of these groups of arguments", in words: `email, first_name + last_name`.
pub fn alternatives<Group: AsRef<[Name]>, Name: AsRef<str>>(groups: &[Group]) -> String {
    groups
        .iter()
        .map(|g| {
            g.as_ref()
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parameter a path segment stands for: `{id}` is `id`; a literal segment is `None`.
pub fn path_param(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

/// The parameters of a path template, in order: `/v1/jobs/{id}/status` has `id`.
pub fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(path_param)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_wording() {
        let mut c: Credits = Credits {
            known: true,
            amount: 1.0,
            per: "call",
            cap_argument: "",
            cap_default: 1.0,
            cap_max: f64::INFINITY,
            price_argument: "",
            prices: &[],
            surcharge_argument: "",
            surcharge: 0.0,
        };
        assert_eq!(c.amount_phrase(), "1 credit");
        c.amount = 2.5;
        c.prices = &[("basic", 1.0)];
        assert_eq!(c.amount_phrase(), "up to 2.5 credits");
        assert_eq!(
            alternatives(&[&["email"][..], &["first_name", "last_name"]]),
            "email, first_name + last_name"
        );
        assert_eq!(
            path_params("/v1/jobs/{id}/x/{part}").collect::<Vec<_>>(),
            ["id", "part"]
        );
        assert_eq!(path_param("{id"), None);
    }
}
