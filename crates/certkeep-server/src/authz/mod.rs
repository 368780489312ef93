//! Who may do what. API tokens are 256-bit random secrets shown once and stored as SHA-256
//! (an indexed lookup; a slow KDF buys nothing for secrets of that entropy). A token carries a
//! role (Reader < Writer < Manager < Admin) for all certificates or for one group.

use base64::Engine;
use certkeep_api::Role;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Prefix of every token secret, so scanners and humans recognise one.
pub const TOKEN_PREFIX: &str = "ck_";

/// The authenticated caller of a use-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: Uuid,
    pub role: Role,
    /// When set, the token only reaches certificates (and tokens) of this group.
    pub group: Option<String>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.role >= role
    }

    /// Whether the caller may touch an object that belongs to `group`.
    pub fn reaches_group(&self, group: Option<&str>) -> bool {
        match &self.group {
            None => true,
            Some(mine) => group == Some(mine.as_str()),
        }
    }

    /// Refuse unless the caller has `role` and reaches `group`.
    pub fn require(&self, role: Role, group: Option<&str>, what: &str) -> Result<()> {
        if !self.has_role(role) {
            return Err(Error::Forbidden(format!(
                "{what} needs the {} role; this token has {}",
                role.as_str(),
                self.role.as_str()
            )));
        }
        if !self.reaches_group(group) {
            return Err(Error::Forbidden(format!(
                "{what}: this token is limited to group {:?}",
                self.group.as_deref().unwrap_or_default()
            )));
        }
        Ok(())
    }
}

/// A freshly generated token: the secret (shown once), its stored hash, its display prefix.
pub struct NewSecret {
    pub secret: String,
    pub hash: String,
    pub prefix: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

pub fn generate_secret() -> Result<NewSecret> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw)
        .map_err(|_| Error::Internal("cannot generate a token".into()))?;
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let prefix = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    Ok(NewSecret {
        hash: hash_secret(&secret),
        prefix,
        secret,
    })
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn roles_are_ordered_and_groups_scope() {
        let p = Principal {
            token_id: Uuid::nil(),
            role: Role::Writer,
            group: Some("web".into()),
        };
        assert!(p.has_role(Role::Reader) && p.has_role(Role::Writer));
        assert!(!p.has_role(Role::Manager));
        assert!(p.require(Role::Reader, Some("web"), "x").is_ok());
        assert!(p.require(Role::Reader, Some("db"), "x").is_err());
        assert!(p.require(Role::Reader, None, "x").is_err());
        let e = p
            .require(Role::Admin, Some("web"), "token.create")
            .unwrap_err();
        assert!(e.to_string().contains("admin"), "{e}");
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX) && a.secret.len() == 46);
        assert_eq!(a.hash, hash_secret(&a.secret));
        assert!(!a.hash.contains(&a.secret));
        assert!(a.secret.starts_with(&a.prefix));
    }
}
