//! Measures bulk leaf generation, the benchmark filler's path:
//! `cargo run --release -p certkeep-testkit --example bulk_rate [COUNT]`.

use std::time::Instant;

use certkeep_testkit::{Ca, KeyKind, KeyPool, LeafSpec};
use time::{Duration, OffsetDateTime};

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let now = OffsetDateTime::now_utc();
    let (nb, na) = (now - Duration::days(1), now + Duration::days(90));
    let root = Ca::new_root(KeyKind::EcP256, "Bulk Root", nb, now + Duration::days(3650))?;
    let ca = root.intermediate(
        KeyKind::EcP256,
        "Bulk Issuing CA",
        nb,
        now + Duration::days(1825),
    )?;

    let start = Instant::now();
    for i in 0..count {
        let spec = LeafSpec::new(&format!("host{i}.bulk.example.com"), nb, na);
        std::hint::black_box(ca.leaf(&spec)?);
    }
    let fresh = start.elapsed();

    let start = Instant::now();
    let mut pool = KeyPool::generate(KeyKind::Rsa2048, 8)?;
    let pool_time = start.elapsed();
    let start = Instant::now();
    for i in 0..count {
        let spec = LeafSpec::new(&format!("rsa{i}.bulk.example.com"), nb, na);
        std::hint::black_box(ca.leaf_with_key(&spec, pool.next_key())?);
    }
    let pooled = start.elapsed();

    println!(
        "{count} leaves, fresh P-256 keys: {:.1} µs/leaf ({:.0}/s)",
        fresh.as_secs_f64() * 1e6 / count as f64,
        count as f64 / fresh.as_secs_f64()
    );
    println!(
        "{count} leaves, pool of 8 RSA-2048 keys (pool built in {:.2} s): {:.1} µs/leaf ({:.0}/s)",
        pool_time.as_secs_f64(),
        pooled.as_secs_f64() * 1e6 / count as f64,
        count as f64 / pooled.as_secs_f64()
    );
    Ok(())
}
