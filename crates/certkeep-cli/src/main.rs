//! `certkeep`: the operator CLI over the certkeep REST API. Every command is one call (or a
//! page walk) through the typed client in `certkeep-api`; this binary parses the command line,
//! reads local inputs, and renders results as tables or as the API's JSON.

mod args;
mod audit;
mod cert;
mod channel;
mod error;
mod input;
mod order;
mod output;
mod token;

use std::process::ExitCode;

use certkeep_api::{Client, ClientError};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        // Help and version exit 0, usage errors 2: clap's own convention matches ours.
        Err(e) => e.exit(),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let url = cli.global.url.clone();
    let result = token_from(&cli, &matches).and_then(|token| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::local(format!("cannot start the async runtime: {e}")))?;
        runtime.block_on(run(cli, token))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match &e {
                CliError::BrokenPipe => {}
                CliError::Api(ClientError::Transport(m)) => {
                    output::note(&format!("error: cannot reach the server at {url}: {m}"));
                }
                other => output::note(&format!("error: {other}")),
            }
            e.exit_code()
        }
    }
}

/// The token to send. The command line beats the environment; two sources at the same level
/// are refused rather than silently picking one.
fn token_from(cli: &Cli, matches: &clap::ArgMatches) -> Result<Option<String>, CliError> {
    let from_cli = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let g = &cli.global;
    let (token_cli, file_cli) = (from_cli("token"), from_cli("token_file"));
    if token_cli && file_cli {
        return Err(CliError::local(
            "give either --token or --token-file, not both",
        ));
    }
    if token_cli {
        return Ok(g.token.clone());
    }
    if let (true, Some(path)) = (file_cli, &g.token_file) {
        return input::read_token_file(path).map(Some);
    }
    match (&g.token, &g.token_file) {
        (Some(_), Some(_)) => Err(CliError::local(
            "both CERTKEEP_TOKEN and CERTKEEP_TOKEN_FILE are set: unset one",
        )),
        (Some(t), None) => Ok(Some(t.clone())),
        (None, Some(path)) => input::read_token_file(path).map(Some),
        (None, None) => Ok(None),
    }
}

async fn run(cli: Cli, token: Option<String>) -> Result<(), CliError> {
    let url = &cli.global.url;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CliError::local(format!(
            "--url `{url}` is not an http:// or https:// URL"
        )));
    }
    let ca = match &cli.global.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            CliError::local(format!("cannot read the CA file {}: {e}", path.display()))
        })?),
        None => None,
    };
    let client = Client::with_ca(&cli.global.url, token, ca.as_deref())?;
    let output = cli.global.output;
    match cli.command {
        Command::Cert(cmd) => cert::run(&client, output, cmd).await,
        Command::Token(cmd) => token::run(&client, output, cmd).await,
        Command::Audit(cmd) => audit::run(&client, output, cmd).await,
        Command::Channel(cmd) => channel::run(&client, output, cmd).await,
        Command::Order(cmd) => order::run(&client, output, cmd).await,
        Command::Acme(cmd) => order::run_acme(&client, output, cmd).await,
    }
}
