//! Decode throughput on the Helm 3/4 fixture payloads (a `harness = false` bench, built with the bench
//! profile, i.e. release):
//!
//! ```text
//! cargo bench --bench decode
//! ```

#[path = "../tests/release_fixtures/mod.rs"]
mod release_fixtures;

use std::hint::black_box;
use std::time::{Duration, Instant};

use kubectl_werf::storage::codec::{self, DecodeLimits};

fn measure(label: &str, payloads: &[Vec<u8>], stored_bytes: usize, json_bytes: usize, mut f: impl FnMut(&[u8])) -> f64 {
    // warm up
    for p in payloads {
        f(p);
    }
    let budget = Duration::from_secs(2);
    let start = Instant::now();
    let mut rounds = 0u64;
    while start.elapsed() < budget {
        for p in payloads {
            f(p);
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = |n: usize| (n as f64 * rounds as f64) / secs / 1e6;
    let per_record = secs * 1e6 / (rounds as f64 * payloads.len() as f64);
    println!(
        "{label:<28} {:>8.1} MB/s stored payload  {:>8.1} MB/s JSON  {:>8.1} µs/record  ({rounds} rounds)",
        mb(stored_bytes),
        mb(json_bytes),
        per_record
    );
    mb(stored_bytes)
}

fn main() {
    helm3_decode_throughput();
}

fn helm3_decode_throughput() {
    let limits = DecodeLimits::default();
    let payloads: Vec<Vec<u8>> = release_fixtures::load("helm3").into_iter().map(|r| r.payload).collect();
    let stored: usize = payloads.iter().map(Vec::len).sum();
    let gz: usize = payloads.iter().map(|p| codec::decode_base64(p).unwrap().len()).sum();
    let json: usize = payloads.iter().map(|p| codec::decode_payload(p, &limits).unwrap().len()).sum();
    println!(
        "{} Helm 3/4 records: {:.1} KB base64 text, {:.1} KB gzip, {:.1} KB JSON",
        payloads.len(),
        stored as f64 / 1e3,
        gz as f64 / 1e3,
        json as f64 / 1e3
    );
    measure("base64 + gunzip only", &payloads, stored, json, |p| {
        black_box(codec::decode_payload(p, &limits).unwrap());
    });
    let full = measure("full decode (Release)", &payloads, stored, json, |p| {
        black_box(codec::decode_helm3(p, &limits).unwrap());
    });
    let summary = measure("summary decode", &payloads, stored, json, |p| {
        black_box(codec::decode_helm3_summary(p, &limits).unwrap());
    });
    measure("serde_json::Value decode", &payloads, stored, json, |p| {
        black_box(codec::decode_helm3_value(p, &limits).unwrap());
    });
    let releases: Vec<_> = payloads.iter().map(|p| codec::decode_helm3(p, &limits).unwrap()).collect();
    let mut i = 0;
    let n = releases.len();
    measure("encode (JSON+gzip9+base64)", &payloads, stored, json, |_| {
        black_box(codec::encode_helm3(&releases[i % n]).unwrap());
        i += 1;
    });
    println!("summary / full speed-up: {:.2}x", summary / full);
    assert!(summary > full, "summary decode must be faster than full decode");
}
