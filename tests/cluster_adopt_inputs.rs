//! `adopt`'s inputs are checked before anything is read or changed (issue 19 item 13): a file that is
//! not Kubernetes YAML is an error, kinds the server does not serve fail the `--dry-run` preflight,
//! and invalid object names are invalid, never "missing; Helm will create it".

mod common;

use std::process::Output;

use common::{TestCluster, run};

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn adopt_refuses_inputs_that_are_not_what_they_claim() {
    let c = TestCluster::start();
    let ns = c.namespace("adopt-inputs");
    let dir = c.dir.path();

    // A values file is not a manifest.
    let values = dir.join("values.yaml");
    std::fs::write(&values, "replicaCount: 2\nimage:\n  tag: \"1.0\"\n").unwrap();
    let out = run(c.werf().args(["adopt", "-f"]).arg(&values).args(["--release", "app", "-n", &ns, "--dry-run"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not Kubernetes YAML"), "{}", text(&out));
    let notes = dir.join("NOTES.txt");
    std::fs::write(&notes, "Thank you for installing shop.\nVisit http://example.com\n").unwrap();
    let out = run(c.werf().args(["adopt", "-f"]).arg(&notes).args(["--release", "app", "-n", &ns, "--dry-run"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // A kind the server does not serve: reported, and the preflight fails (Helm would fail too).
    let manifest = dir.join("manifest.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\napiVersion: gadgets.example.com/v1\nkind: Gadget\nmetadata:\n  name: g1\n",
    )
    .unwrap();
    let out = run(c.werf().args(["adopt", "-f"]).arg(&manifest).args(["--release", "app", "-n", &ns, "--dry-run"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Gadget"), "{}", text(&out));

    // Invalid names: a usage error for an argument, an invalid object in a manifest.
    let out = run(c.werf().args(["adopt", "cm/Bad_Name", "--release", "app", "-n", &ns, "--dry-run"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("invalid name \"Bad_Name\""), "{}", text(&out));
    assert!(!text(&out).contains("Helm will create it"), "{}", text(&out));
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n").unwrap();
    let out = run(c.werf().args(["adopt", "-f"]).arg(&bad).args(["--release", "app", "-n", &ns, "--dry-run"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("invalid name \"Bad_Name\"") && !text(&out).contains("missing"), "{}", text(&out));

    // A good manifest still passes the preflight.
    let good = dir.join("good.yaml");
    std::fs::write(&good, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n").unwrap();
    let out = run(c.werf().args(["adopt", "-f"]).arg(&good).args(["--release", "app", "-n", &ns, "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
