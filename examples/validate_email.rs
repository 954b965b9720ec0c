//! The typed client without the MCP server: validate one email address.
//! `LEADMAGIC_API_KEY=... cargo run --example validate_email -- jane@example.org`
use leadmagic_mcp::{ApiKey, Config, connect, types};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = connect(&Config::new(ApiKey::new(std::env::var(
        "LEADMAGIC_API_KEY",
    )?)?))?;
    let email = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "jane@example.org".into());
    let body = types::ValidateEmailBody {
        email: email.parse()?,
        first_name: None,
        last_name: None,
    };
    let answer = client.validate_email(&body).await?.into_inner();
    eprintln!(
        "{}: {:?} ({:?} credits)",
        email, answer.email_status, answer.credits_consumed
    );
    Ok(())
}
