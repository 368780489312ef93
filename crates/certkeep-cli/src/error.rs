//! The CLI's failures and how each one ends the process: what is printed to stderr and the exit
//! status (1: the server refused or could not be reached; 2: usage or local problem).

use std::fmt;
use std::process::ExitCode;

use certkeep_api::ClientError;

#[derive(Debug)]
pub enum CliError {
    /// The request failed at or on the way to the server.
    Api(ClientError),
    /// Bad arguments or a local problem (unreadable file, unwritable output).
    Local(String),
    /// The server did what was asked, and its answer is a failure (a test event the receiver
    /// did not accept): exit 1 like a refused request.
    Failed(String),
    /// Stdout was closed by the reader (`certkeep cert list | head`): stop quietly.
    BrokenPipe,
}

impl CliError {
    pub fn local(message: impl Into<String>) -> CliError {
        CliError::Local(message.into())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Api(_) | CliError::Failed(_) => ExitCode::from(1),
            CliError::Local(_) => ExitCode::from(2),
            CliError::BrokenPipe => ExitCode::SUCCESS,
        }
    }

    /// Writing to stdout failed: a closed pipe is not worth a message, anything else is local.
    pub fn stdout(e: std::io::Error) -> CliError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Local(format!("cannot write to stdout: {e}"))
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::Api(e)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The form scripts and people look for: message, stable code, request id for the log.
            CliError::Api(ClientError::Api { body, .. }) => {
                write!(
                    f,
                    "{} ({}, request {})",
                    body.message, body.code, body.request_id
                )
            }
            CliError::Api(other) => write!(f, "{other}"),
            CliError::Local(m) | CliError::Failed(m) => f.write_str(m),
            CliError::BrokenPipe => f.write_str("stdout closed"),
        }
    }
}
