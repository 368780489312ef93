//! Leaf selection and chain ordering over the certificates of one import. Links are issuer →
//! subject name (raw DER bytes) with AKI/SKI agreement; signatures are checked only to break
//! ties. Gaps are reported, not fatal.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use super::PkiError;
use super::info::name_to_string;

/// One certificate of the import with the facts linking needs.
pub(crate) struct Node<'a> {
    pub origin: String,
    pub der: &'a [u8],
    pub cert: X509Certificate<'a>,
    pub ski: Option<&'a [u8]>,
    pub aki: Option<&'a [u8]>,
    pub is_ca: bool,
}

impl<'a> Node<'a> {
    pub fn new(origin: String, der: &'a [u8], cert: X509Certificate<'a>) -> Self {
        let mut ski = None;
        let mut aki = None;
        let mut is_ca = false;
        for ext in cert.tbs_certificate.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) if ski.is_none() => ski = Some(k.0),
                ParsedExtension::AuthorityKeyIdentifier(a) if aki.is_none() => {
                    aki = a.key_identifier.as_ref().map(|k| k.0);
                }
                ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
                _ => {}
            }
        }
        Node {
            origin,
            der,
            cert,
            ski,
            aki,
            is_ca,
        }
    }

    pub fn subject(&self) -> String {
        name_to_string(&self.cert.tbs_certificate.subject)
    }

    pub fn issuer(&self) -> String {
        name_to_string(&self.cert.tbs_certificate.issuer)
    }

    fn subject_raw(&self) -> &[u8] {
        self.cert.tbs_certificate.subject.as_raw()
    }

    fn issuer_raw(&self) -> &[u8] {
        self.cert.tbs_certificate.issuer.as_raw()
    }

    pub fn spki_raw(&self) -> &[u8] {
        self.cert.tbs_certificate.subject_pki.raw
    }

    /// Issued by itself: same name, and no AKI pointing at another key.
    pub fn self_signed(&self) -> bool {
        self.subject_raw() == self.issuer_raw()
            && match (self.aki, self.ski) {
                (Some(a), Some(s)) => a == s,
                _ => true,
            }
    }
}

/// Whether `parent`'s name (and key id, when both carry one) is `child`'s issuer.
pub(crate) fn issued(child: &Node<'_>, parent: &Node<'_>) -> bool {
    child.issuer_raw() == parent.subject_raw()
        && match (child.aki, parent.ski) {
            (Some(a), Some(s)) => a == s,
            _ => true,
        }
}

fn signed_by(child: &Node<'_>, parent: &Node<'_>) -> bool {
    child
        .cert
        .verify_signature(Some(&parent.cert.tbs_certificate.subject_pki))
        .is_ok()
}

/// Without a private key: the certificate that issued no other given certificate, an
/// end-entity one preferred. Two unrelated candidates are refused.
pub(crate) fn pick_leaf(nodes: &[Node<'_>]) -> Result<usize, PkiError> {
    let issued_something = |i: usize| {
        nodes
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && issued(other, &nodes[i]) && !other.self_signed())
    };
    let candidates: Vec<usize> = (0..nodes.len()).filter(|i| !issued_something(*i)).collect();
    let end_entity: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|i| !nodes[*i].is_ca)
        .collect();
    let pool = if end_entity.is_empty() {
        candidates
    } else {
        end_entity
    };
    match pool.as_slice() {
        [] => Ok(0),
        [one] => Ok(*one),
        [a, b, ..] => Err(PkiError::Invalid(format!(
            "cannot tell which certificate is the leaf: '{}' ({}) and '{}' ({}) are unrelated; \
             import them separately, or give the private key",
            nodes[*a].subject(),
            nodes[*a].origin,
            nodes[*b].subject(),
            nodes[*b].origin
        ))),
    }
}

/// The chain above `leaf`, leaf excluded, leaf→root, then the certificates that did not link.
pub(crate) struct Ordered {
    pub chain: Vec<usize>,
    pub complete: bool,
    pub issues: Vec<String>,
}

/// Walks up from `start` through `pool` (consuming it); returns the path without `start`.
fn walk_up(nodes: &[Node<'_>], start: usize, pool: &mut Vec<usize>) -> Vec<usize> {
    let mut path = Vec::new();
    let mut current = start;
    while !nodes[current].self_signed() {
        let mut parents: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|p| issued(&nodes[current], &nodes[*p]))
            .collect();
        if parents.len() > 1 {
            let verified: Vec<usize> = parents
                .iter()
                .copied()
                .filter(|p| signed_by(&nodes[current], &nodes[*p]))
                .collect();
            if !verified.is_empty() {
                parents = verified;
            }
        }
        if parents.len() > 1 {
            // Cross-signed twins: prefer the one that leads further (has its own parent).
            if let Some(pos) = parents.iter().position(|p| {
                !nodes[*p].self_signed()
                    && pool
                        .iter()
                        .any(|q| q != p && issued(&nodes[*p], &nodes[*q]))
            }) {
                parents.swap(0, pos);
            }
        }
        let Some(&parent) = parents.first() else {
            break;
        };
        pool.retain(|p| *p != parent);
        path.push(parent);
        current = parent;
    }
    path
}

pub(crate) fn order(nodes: &[Node<'_>], leaf: usize) -> Ordered {
    let mut pool: Vec<usize> = (0..nodes.len()).filter(|i| *i != leaf).collect();
    let mut chain = walk_up(nodes, leaf, &mut pool);
    let mut issues = Vec::new();
    if pool.is_empty() {
        return Ordered {
            chain,
            complete: true,
            issues,
        };
    }
    // Certificates for the same CA name and key as one in the chain (cross-signed or
    // re-issued CA certificates) are alternatives, not gaps.
    let (alternates, unlinked): (Vec<usize>, Vec<usize>) = pool.iter().partition(|i| {
        chain.iter().chain(std::iter::once(&leaf)).any(|c| {
            nodes[*c].subject_raw() == nodes[**i].subject_raw()
                && nodes[*c].spki_raw() == nodes[**i].spki_raw()
        })
    });
    let last = chain.last().copied().unwrap_or(leaf);
    let complete = unlinked.is_empty();
    if !complete && !nodes[last].self_signed() {
        issues.push(format!(
            "no issuer given for '{}' (issued by '{}')",
            nodes[last].subject(),
            nodes[last].issuer()
        ));
    }
    // Best-effort order among the rest: bottom-most first, then up their own links.
    for (group, is_alternate) in [(alternates, true), (unlinked, false)] {
        let mut rest = group;
        while !rest.is_empty() {
            let bottom_pos = rest
                .iter()
                .position(|i| {
                    !rest.iter().any(|j| {
                        j != i && issued(&nodes[*j], &nodes[*i]) && !nodes[*j].self_signed()
                    })
                })
                .unwrap_or(0);
            let bottom = rest.remove(bottom_pos);
            let path = walk_up(nodes, bottom, &mut rest);
            for i in std::iter::once(bottom).chain(path) {
                if is_alternate {
                    issues.push(format!(
                        "'{}' (issued by '{}') is another certificate for a CA already in the chain",
                        nodes[i].subject(),
                        nodes[i].issuer()
                    ));
                } else {
                    issues.push(format!(
                        "'{}' is not linked to the leaf's chain",
                        nodes[i].subject()
                    ));
                }
                chain.push(i);
            }
        }
    }
    Ordered {
        chain,
        complete,
        issues,
    }
}
