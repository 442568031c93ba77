//! Hostile records in a real listing: a ~1 MiB gzip bomb inflating to ~700 MiB, JSON nested far
//! deeper than any release, and a manifest inflating past the decompression limit. Each is refused
//! with an error naming the object, the rest is still listed, and the process stays small (peak RSS
//! of the binary measured with /usr/bin/time).

mod common;

use std::io::Write;

use base64::Engine;
use common::{TestCluster, run};
use serde_json::json;

const MIB: usize = 1 << 20;

/// Concatenated gzip members of 8 MiB of zeros each (readers inflate every member).
fn gzip_bomb(members: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; MIB];
    for _ in 0..8 {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap().repeat(members)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn record(c: &TestCluster, ns: &str, name: &str, gz: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.encode(gz);
    c.create_object(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.{name}.v1"),
            "namespace": ns,
            "labels": {"owner": "helm", "name": name, "version": "1", "status": "deployed"},
        },
        "data": {"release": b64.encode(payload.as_bytes())},
    }));
}

fn peak_rss_kib(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in /usr/bin/time output:\n{stderr}"))
}

#[test]
fn bombs_and_giants_are_refused_by_name_within_memory() {
    let c = TestCluster::start();
    let ns = c.namespace("bombs");
    // A healthy release beside the hostile ones.
    let ok = json!({"name": "fine", "namespace": ns, "version": 1, "info": {"status": "deployed", "first_deployed": "2026-01-01T00:00:00Z", "last_deployed": "2026-01-01T00:00:00Z", "deleted": "", "description": "Install complete"}, "chart": {"metadata": {"name": "fine", "version": "1.0.0"}}});
    record(&c, &ns, "fine", &gzip(ok.to_string().as_bytes()));
    // ~720 KiB of gzip inflating to 720 MiB (the Secret's data stays under 1 MiB after base64).
    let bomb = gzip_bomb(90);
    assert!(bomb.len() < 760 * 1024, "bomb is {} bytes", bomb.len());
    record(&c, &ns, "bomb", &bomb);
    // JSON nested 200,000 deep.
    let deep = format!(
        "{{\"name\":\"deep\",\"version\":1,\"info\":{{\"status\":\"deployed\"}},\"config\":{}{}}}",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    record(&c, &ns, "deep", &gzip(deep.as_bytes()));
    // A manifest of 80 MiB: a valid release that inflates past the 64 MiB default limit.
    let mut giant = String::with_capacity(81 * MIB);
    giant.push_str("{\"name\":\"giant\",\"version\":1,\"manifest\":\"");
    giant.extend(std::iter::repeat_n("# filler line of a huge manifest\\n", 80 * MIB / 35));
    giant.push_str("\"}");
    record(&c, &ns, "giant", &gzip(giant.as_bytes()));

    let out = run(std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_kubectl-werf"))
        .args(["releases", "list", "-n", &ns, "-o", "json"])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "list must still succeed:\n{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // The listing decodes only what it shows, skipping the deep values without recursing into them.
    assert_eq!(listed.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect::<Vec<_>>(), ["deep", "fine"]);
    for (name, why) in [("bomb", "exceeds 64 MiB"), ("giant", "exceeds 64 MiB")] {
        let object = format!("{ns}/sh.helm.release.v1.{name}.v1");
        assert!(
            stderr.lines().any(|l| l.contains(&object) && l.contains(why)),
            "{name}: expected a warning naming {object} ({why}):\n{stderr}"
        );
    }
    let rss = peak_rss_kib(&stderr);
    eprintln!("releases list with bombs: peak RSS {} MiB", rss / 1024);
    assert!(rss < 200 * 1024, "peak RSS {rss} KiB: the limit did not hold");

    // Asking for the bomb itself is a one-line error naming it, exit 1.
    let out = run(std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_kubectl-werf"))
        .args(["releases", "status", "bomb", "-n", &ns])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{ns}/sh.helm.release.v1.bomb.v1")) && stderr.contains("exceeds 64 MiB"), "{stderr}");
    let rss = peak_rss_kib(&stderr);
    assert!(rss < 200 * 1024, "peak RSS {rss} KiB");
    // The full decode of the deep record refuses it by name instead of overflowing the stack.
    let out = run(c.werf().args(["releases", "get", "values", "deep", "-n", &ns]));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{ns}/sh.helm.release.v1.deep.v1")) && stderr.contains("json"), "{stderr}");
    // A raised limit is the user's explicit choice: --max-decompressed-mib lets the giant through.
    let out = run(c.werf().args(["releases", "get", "manifest", "giant", "-n", &ns, "--max-decompressed-mib", "128"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.len() > 70 * MIB);
}
