//! The helm3- and helm4-written fixture releases the `releases list|history|status|get` tests seed
//! (tests/cluster_releases_list.rs, tests/cluster_releases_history_status_get.rs).

use std::collections::BTreeMap;

use super::{TestCluster, fixture};

pub const HELM3_FILES: [&str; 4] = ["shop-secrets", "cart-configmaps", "stuck-secrets", "big-secrets"];

/// Two namespaces holding the helm3- and helm4-written fixtures (payload namespaces stay fx-helm3/4).
pub fn seed_helm3(c: &TestCluster) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for (tag, fx) in [("h3", "fx-helm3"), ("h4", "fx-helm4")] {
        let ns = c.namespace(&format!("rel-{tag}"));
        let map = BTreeMap::from([(fx, ns.as_str())]);
        for f in HELM3_FILES {
            c.seed_file(&fixture(&format!("helm3/{fx}-{f}.yaml")), &map);
        }
        out.push((ns, fx));
    }
    out
}
