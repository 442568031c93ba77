//! Realistic synthetic release records for benchmarks and load tests: the fixture release `shop`
//! (written by real helm 3.17.2) with name, namespace, revision, status, times and values varied,
//! plus an incompressible value so each payload is ~20 KB compressed, like a real chart's.
#![allow(dead_code)]

use kubectl_werf::release::Time;
use kubectl_werf::release::helm3::{Release, Status};
use kubectl_werf::storage::codec::{self, DecodeLimits, LabelStamp};
use serde_json::{Value, json};

/// `shop` revision 2 from the fixture, decoded.
pub fn shop() -> Release {
    let text = std::fs::read_to_string(crate::common::fixture("helm3/fx-helm3-shop-secrets.yaml")).unwrap();
    for o in kubectl_werf::manifest::parse_objects(&text, true) {
        let o = o.unwrap();
        if o.object["metadata"]["name"] == "sh.helm.release.v1.shop.v2" {
            let payload = codec::decode_base64(o.object["data"]["release"].as_str().unwrap().as_bytes()).unwrap();
            return codec::decode_helm3(&payload, &DecodeLimits::default()).unwrap();
        }
    }
    panic!("shop v2 not in the fixture");
}

/// xorshift: deterministic, incompressible enough.
pub fn blob(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % 64) as usize] as char
        })
        .collect()
}

/// The creation time of revision `rev` of release number `i`.
pub fn created_at(i: usize, rev: usize) -> i64 {
    1_790_000_000 + (i * 100 + rev) as i64
}

/// Revision `rev` (of `revisions`) of release number `i`, called `name`, in `namespace`: the last
/// revision is deployed (failed for every 17th release), earlier ones superseded.
pub fn revision(base: &Release, name: &str, namespace: &str, i: usize, rev: usize, revisions: usize) -> Release {
    revision_sized(base, name, namespace, i, rev, revisions, 16_000)
}

/// [`revision`] with `blob_len` incompressible characters (each adds ~0.75 byte to the gzip).
pub fn revision_sized(base: &Release, name: &str, namespace: &str, i: usize, rev: usize, revisions: usize, blob_len: usize) -> Release {
    let mut r = base.clone();
    r.name = name.to_string();
    r.namespace = namespace.to_string();
    r.version = rev as i64;
    r.info.status =
        if rev == revisions { if i.is_multiple_of(17) { Status::Failed } else { Status::Deployed } } else { Status::Superseded };
    r.info.description = if rev == 1 { "Install complete".into() } else { "Upgrade complete".into() };
    r.info.last_deployed = Time::from_unix(created_at(i, rev), (i * 7919 % 1_000_000_000) as i32).unwrap();
    r.info.first_deployed = Time::from_unix(1_790_000_000 + (i * 100) as i64, 0).unwrap();
    r.config.insert("replicaCount".into(), json!(rev));
    r.config.insert("blob".into(), json!(blob((i * 1000 + rev) as u64, blob_len)));
    r
}

/// The Secret helm's Secret driver would store for `r`, created at `created` (unix seconds).
pub fn secret(r: &Release, created: i64) -> Value {
    let payload = codec::encode_helm3(r).unwrap();
    let labels = codec::helm3_labels(r, LabelStamp::Created(created));
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": codec::helm3_object_name(&r.name, r.version), "namespace": r.namespace, "labels": labels},
        "data": {"release": codec::encode_base64(payload.as_bytes())},
    })
}
