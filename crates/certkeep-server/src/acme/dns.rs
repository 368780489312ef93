//! DNS-01 through RFC 2136: TXT records added and removed with TSIG-signed dynamic updates
//! sent to the zone's primary, and the propagation check that asks every authoritative
//! nameserver of the zone directly (no recursive cache in between) until all of them serve
//! the record, with a growing pause between rounds and a deadline. A CNAME at
//! `_acme-challenge.<domain>` is followed, so delegated validation names work. Questions go
//! over UDP, and again over TCP when the answer comes back truncated (a name with many TXT
//! values, large NS sets).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::proto::op::ResponseCode;
use hickory_net::proto::rr::rdata::TXT;
use hickory_net::proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_net::proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use zeroize::Zeroizing;

/// TTL of the challenge records: short, they live for minutes.
const RECORD_TTL: u32 = 60;
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest CNAME chain followed from `_acme-challenge.<domain>`.
const MAX_CNAME_HOPS: usize = 8;

/// Where certkeep asks DNS questions: a recursive resolver (for the zone's NS set and CNAMEs)
/// and the port authoritative nameservers listen on (53 outside tests).
#[derive(Debug, Clone, Copy)]
pub struct Lookup {
    pub resolver: SocketAddr,
    pub nameserver_port: u16,
}

/// An RFC 2136 provider, secret unsealed for the duration of an order.
pub struct Rfc2136 {
    /// `host:port` of the primary.
    pub server: String,
    pub zone: Name,
    pub key_name: Name,
    pub algorithm: certkeep_api::TsigAlgorithm,
    pub secret: Zeroizing<Vec<u8>>,
}

/// `Ok` when `name` lies in `zone`, else why the provider cannot serve it.
pub fn check_in_zone(zone: &Name, name: &Name) -> Result<(), String> {
    if zone.zone_of(name) {
        Ok(())
    } else {
        Err(format!(
            "the record {name} is outside the provider's zone {zone}"
        ))
    }
}

/// Parse a DNS name given by a user, as a fully qualified name.
pub fn parse_name(field: &str, s: &str) -> Result<Name, String> {
    let t = s.trim().trim_end_matches('.');
    if t.is_empty() {
        return Err(format!("`{field}` is empty"));
    }
    let mut n =
        Name::from_ascii(t).map_err(|e| format!("`{field}` {s:?} is not a DNS name: {e}"))?;
    n.set_fqdn(true);
    Ok(n)
}

fn tsig_algorithm(a: certkeep_api::TsigAlgorithm) -> TsigAlgorithm {
    match a {
        certkeep_api::TsigAlgorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
        certkeep_api::TsigAlgorithm::HmacSha384 => TsigAlgorithm::HmacSha384,
        certkeep_api::TsigAlgorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
    }
}

async fn connect(server: SocketAddr, signer: Option<TSigner>) -> Client<TokioRuntimeProvider> {
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(QUERY_TIMEOUT))
        .with_signer(signer)
        .build();
    let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
    tokio::spawn(bg);
    client
}

/// The first address `host:port` (port 53 when absent) resolves to.
pub async fn socket_addr(hostport: &str) -> Result<SocketAddr, String> {
    let with_port = if hostport.parse::<SocketAddr>().is_ok()
        || hostport
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        hostport.to_string()
    } else {
        format!("{}:53", hostport.trim_matches(['[', ']']))
    };
    tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| format!("cannot resolve DNS server {hostport:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("DNS server {hostport:?} has no address"))
}

impl Rfc2136 {
    async fn client(&self) -> Result<Client<TokioRuntimeProvider>, String> {
        let signer = TSigner::new(
            self.secret.to_vec(),
            tsig_algorithm(self.algorithm),
            self.key_name.clone(),
            300,
        )
        .map_err(|e| format!("TSIG key {} cannot sign: {e}", self.key_name))?;
        Ok(connect(socket_addr(&self.server).await?, Some(signer)).await)
    }

    fn record(name: &Name, value: &str) -> Record {
        Record::from_rdata(
            name.clone(),
            RECORD_TTL,
            RData::TXT(TXT::new(vec![value.to_string()])),
        )
    }

    /// Add the TXT value `value` at `name` (other values there stay).
    pub async fn add_txt(&self, name: &Name, value: &str) -> Result<(), String> {
        check_in_zone(&self.zone, name)?;
        let mut client = self.client().await?;
        let resp = client
            .append(Self::record(name, value), self.zone.clone(), false)
            .await
            .map_err(|e| format!("RFC 2136 update of {name} at {} failed: {e}", self.server))?;
        match resp.metadata.response_code {
            ResponseCode::NoError => Ok(()),
            code => Err(format!(
                "the DNS server {} refused the update of {name} in zone {}: {code}",
                self.server, self.zone
            )),
        }
    }

    /// Remove the TXT value `value` at `name`.
    pub async fn remove_txt(&self, name: &Name, value: &str) -> Result<(), String> {
        check_in_zone(&self.zone, name)?;
        let mut client = self.client().await?;
        let resp = client
            .delete_by_rdata(Self::record(name, value), self.zone.clone())
            .await
            .map_err(|e| format!("RFC 2136 removal of {name} at {} failed: {e}", self.server))?;
        match resp.metadata.response_code {
            ResponseCode::NoError => Ok(()),
            code => Err(format!(
                "the DNS server {} refused the removal of {name}: {code}",
                self.server
            )),
        }
    }
}

/// A client asking `server` over TCP.
async fn connect_tcp(server: SocketAddr) -> Result<Client<TokioRuntimeProvider>, String> {
    let (stream, sender) = TcpClientStream::new(
        server,
        None,
        Some(QUERY_TIMEOUT),
        TokioRuntimeProvider::default(),
    );
    let stream = stream
        .await
        .map_err(|e| format!("cannot connect to {server} over TCP: {e}"))?;
    let (client, bg) = Client::<TokioRuntimeProvider>::with_timeout(stream, sender, QUERY_TIMEOUT);
    tokio::spawn(bg);
    Ok(client)
}

async fn query(server: SocketAddr, name: &Name, rtype: RecordType) -> Result<Vec<RData>, String> {
    let failed = |over: &str, e: &dyn std::fmt::Display| {
        format!("{rtype} query for {name} at {server} ({over}) failed: {e}")
    };
    let mut client = connect(server, None).await;
    let mut resp = client
        .query(name.clone(), DNSClass::IN, rtype)
        .await
        .map_err(|e| failed("UDP", &e))?;
    // A truncated answer may lack the very record looked for: ask again where it fits.
    if resp.metadata.truncation {
        resp = connect_tcp(server)
            .await?
            .query(name.clone(), DNSClass::IN, rtype)
            .await
            .map_err(|e| failed("TCP", &e))?;
    }
    match resp.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => Ok(resp
            .answers
            .iter()
            .filter(|r| r.name == *name || rtype == RecordType::CNAME)
            .map(|r| r.data.clone())
            .collect()),
        code => Err(format!(
            "{rtype} query for {name} at {server} answered {code}"
        )),
    }
}

/// Where the record for `name` really lives: the end of its CNAME chain.
pub async fn follow_cname(lookup: &Lookup, name: &Name) -> Result<Name, String> {
    let mut current = name.clone();
    for _ in 0..MAX_CNAME_HOPS {
        let answers = query(lookup.resolver, &current, RecordType::CNAME).await?;
        match answers.iter().find_map(|d| match d {
            RData::CNAME(c) => Some(c.0.clone()),
            _ => None,
        }) {
            Some(next) => current = next,
            None => return Ok(current),
        }
    }
    Err(format!(
        "{name} has a CNAME chain longer than {MAX_CNAME_HOPS}"
    ))
}

/// The addresses of the zone's authoritative nameservers.
async fn authoritative_servers(lookup: &Lookup, zone: &Name) -> Result<Vec<SocketAddr>, String> {
    let ns: Vec<Name> = query(lookup.resolver, zone, RecordType::NS)
        .await?
        .into_iter()
        .filter_map(|d| match d {
            RData::NS(n) => Some(n.0),
            _ => None,
        })
        .collect();
    if ns.is_empty() {
        return Err(format!("the zone {zone} has no NS records"));
    }
    let mut out = Vec::new();
    for n in &ns {
        for rtype in [RecordType::A, RecordType::AAAA] {
            for d in query(lookup.resolver, n, rtype).await? {
                match d {
                    RData::A(a) => out.push(SocketAddr::from((a.0, lookup.nameserver_port))),
                    RData::AAAA(a) => out.push(SocketAddr::from((a.0, lookup.nameserver_port))),
                    _ => {}
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!("the nameservers of {zone} have no addresses"));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn serves(answers: &[RData], value: &str) -> bool {
    answers.iter().any(|d| match d {
        RData::TXT(t) => {
            t.txt_data
                .iter()
                .map(|s| String::from_utf8_lossy(s))
                .collect::<String>()
                == value
        }
        _ => false,
    })
}

/// Wait until every authoritative nameserver of `zone` serves TXT `value` at `name`, asking
/// again after 0.5 s, then 1.5 times longer each round (at most 10 s), until `timeout`.
pub async fn wait_propagated(
    lookup: &Lookup,
    zone: &Name,
    name: &Name,
    value: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(500);
    loop {
        let servers = authoritative_servers(lookup, zone).await;
        let missing: Vec<String> = match &servers {
            Ok(list) => {
                let mut missing = Vec::new();
                for s in list {
                    match query(*s, name, RecordType::TXT).await {
                        Ok(a) if serves(&a, value) => {}
                        Ok(_) => missing.push(format!("{s} does not serve it yet")),
                        Err(e) => missing.push(e),
                    }
                }
                missing
            }
            Err(e) => vec![e.clone()],
        };
        if missing.is_empty() {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        if now + pause > deadline {
            return Err(format!(
                "the TXT record {name} did not appear on every authoritative nameserver of {zone} within {}s: {}",
                timeout.as_secs(),
                missing.join("; ")
            ));
        }
        tokio::time::sleep(pause).await;
        pause = pause.mul_f64(1.5).min(Duration::from_secs(10));
    }
}
