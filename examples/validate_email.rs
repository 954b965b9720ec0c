//! The typed client without the MCP server: validate one email address.
//! `LEADMAGIC_API_KEY=... cargo run --example validate_email -- jane@example.org`
use leadmagic_mcp::{Config, connect, types};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Display, not Debug: `main` returning an error would print its Debug form.
            eprintln!("validate_email: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The key from LEADMAGIC_API_KEY or ./.env, as the server reads it.
    let client = connect(&Config::from_env(false, false)?)?;
    let email = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "jane@example.org".into());
    let body = types::EmailValidationBody {
        email: email.parse()?,
        first_name: None,
        last_name: None,
    };
    let answer = client.email_validation(&body).await?.into_inner();
    eprintln!(
        "{}: {:?} ({:?} credits)",
        email, answer.email_status, answer.credits_consumed
    );
    Ok(())
}
