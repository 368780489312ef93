//! The one domain error. It knows nothing of HTTP: each surface (JSON API, CLI-admin) maps it
//! exhaustively. Messages carry their evidence and never secrets or key material.

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request is malformed or names something impossible (400).
    #[error("{0}")]
    InvalidInput(String),
    /// An input is larger than allowed (413).
    #[error("{0}")]
    TooLarge(String),
    /// No valid credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the right (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// A dependency (database) is unreachable or overloaded; retrying may succeed (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or a broken invariant (500). Logged with the request id.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::pki::PkiError> for Error {
    fn from(e: crate::pki::PkiError) -> Self {
        Error::InvalidInput(e.to_string())
    }
}
