//! What users type: `kubectl create KIND ...` (kubectl sends these bodies as protobuf) and `kubectl
//! autoscale`. Each object kubectl meant to send (`--dry-run=client -o json`) must be what the server
//! stored: every field kubectl set is there with its value (a real server adds its defaults besides).

mod common;

use common::{TestCluster, run_ok};
use serde_json::Value;

/// Every field of `sent` (nulls aside: Go's zero structs) is in `stored` with the same value.
fn missing(path: &str, sent: &Value, stored: &Value, out: &mut Vec<String>) {
    match (sent, stored) {
        (Value::Null, _) => {}
        (Value::Object(s), Value::Object(t)) => {
            for (k, v) in s {
                match t.get(k) {
                    Some(tv) => missing(&format!("{path}.{k}"), v, tv, out),
                    None if v.is_null() || v.as_object().is_some_and(|m| m.values().all(Value::is_null)) => {}
                    None => out.push(format!("{path}.{k}: sent {v}, not stored")),
                }
            }
        }
        (Value::Array(s), Value::Array(t)) if s.len() == t.len() => {
            for (i, (a, b)) in s.iter().zip(t).enumerate() {
                missing(&format!("{path}[{i}]"), a, b, out);
            }
        }
        _ if sent == stored => {}
        _ => out.push(format!("{path}: sent {sent}, stored {stored}")),
    }
}

#[test]
fn kubectl_create_of_every_builtin_kind_is_stored_as_sent() {
    let c = TestCluster::start();
    let ns = c.namespace("kubectl-create");
    let cluster_name = |n: &str| format!("{ns}-{n}");
    let (cr, crb, pc) = (cluster_name("cr"), cluster_name("crb"), cluster_name("pc"));
    let sa_subject = format!("--serviceaccount={ns}:sa");
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "deployment",
            "web".into(),
            vec!["deployment", "web", "--image=nginx:1.27", "--port=8080", "--replicas=0"].into_iter().map(String::from).collect(),
        ),
        ("service", "svc".into(), ["service", "clusterip", "svc", "--tcp=80:8080", "--tcp=443:8443"].map(String::from).to_vec()),
        ("service", "np".into(), ["service", "nodeport", "np", "--tcp=80:8080"].map(String::from).to_vec()),
        ("service", "ext".into(), ["service", "externalname", "ext", "--external-name=db.example.com"].map(String::from).to_vec()),
        ("serviceaccount", "sa".into(), ["serviceaccount", "sa"].map(String::from).to_vec()),
        ("job", "job".into(), ["job", "job", "--image=busybox", "--", "sh", "-c", "exit 0"].map(String::from).to_vec()),
        (
            "cronjob",
            "cron".into(),
            ["cronjob", "cron", "--image=busybox", "--schedule=*/5 * * * *", "--restart=OnFailure", "--", "date"]
                .map(String::from)
                .to_vec(),
        ),
        (
            "role",
            "reader".into(),
            ["role", "reader", "--verb=get,list", "--resource=pods,configmaps", "--resource-name=a"].map(String::from).to_vec(),
        ),
        (
            "rolebinding",
            "rb".into(),
            vec![
                "rolebinding".into(),
                "rb".into(),
                "--role=reader".into(),
                "--user=alice".into(),
                "--group=devs".into(),
                sa_subject.clone(),
            ],
        ),
        (
            "clusterrole",
            cr.clone(),
            vec!["clusterrole".into(), cr.clone(), "--verb=get".into(), "--resource=nodes".into(), "--non-resource-url=/healthz".into()],
        ),
        (
            "clusterrolebinding",
            crb.clone(),
            vec!["clusterrolebinding".into(), crb.clone(), format!("--clusterrole={cr}"), "--user=bob".into()],
        ),
        (
            "secret",
            "generic".into(),
            ["secret", "generic", "generic", "--from-literal=user=admin", "--from-literal=empty=", "--type=example.com/kind"]
                .map(String::from)
                .to_vec(),
        ),
        (
            "secret",
            "registry".into(),
            ["secret", "docker-registry", "registry", "--docker-server=r.example.com", "--docker-username=u", "--docker-password=p"]
                .map(String::from)
                .to_vec(),
        ),
        ("configmap", "cfg".into(), ["configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two"].map(String::from).to_vec()),
        (
            "priorityclass",
            pc.clone(),
            vec!["priorityclass".into(), pc.clone(), "--value=7".into(), "--description=test".into(), "--preemption-policy=Never".into()],
        ),
        (
            "resourcequota",
            "quota".into(),
            ["quota", "quota", "--hard=pods=4,requests.cpu=500m", "--scopes=NotBestEffort"].map(String::from).to_vec(),
        ),
        (
            "poddisruptionbudget",
            "pdb".into(),
            ["poddisruptionbudget", "pdb", "--selector=app=web", "--max-unavailable=30%"].map(String::from).to_vec(),
        ),
        (
            "ingress",
            "ing".into(),
            ["ingress", "ing", "--class=nginx", "--rule=a.example.com/api*=svc:80,tls=tls", "--default-backend=svc:443"]
                .map(String::from)
                .to_vec(),
        ),
    ];
    let mut problems = Vec::new();
    for (kind, name, args) in &cases {
        // flags before `--`: what follows it is the container's command
        let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
        let mut dry = c.kubectl();
        dry.arg("create").args(&args[..split]).args(["-n", &ns, "--dry-run=client", "-o", "json"]).args(&args[split..]);
        let sent: Value = serde_json::from_str(&run_ok(&mut dry)).unwrap();
        let mut create = c.kubectl();
        create.arg("create").args(&args[..split]).args(["-n", &ns]).args(&args[split..]);
        run_ok(&mut create);
        let stored: Value = serde_json::from_str(&run_ok(c.kubectl().args(["get", kind, name.as_str(), "-n", &ns, "-o", "json"]))).unwrap();
        missing(&format!("{kind}/{name}"), &sent, &stored, &mut problems);
    }
    // `kubectl autoscale` writes an autoscaling/v1 HPA the same way
    run_ok(c.kubectl().args(["autoscale", "deployment", "web", "-n", &ns, "--min=1", "--max=3", "--cpu-percent=60"]));
    let hpa: Value = serde_json::from_str(&run_ok(c.kubectl().args(["get", "hpa", "web", "-n", &ns, "-o", "json"]))).unwrap();
    assert_eq!((hpa["spec"]["maxReplicas"].as_i64(), hpa["spec"]["minReplicas"].as_i64()), (Some(3), Some(1)), "{hpa}");
    for (kind, name) in [("clusterrolebinding", &crb), ("clusterrole", &cr), ("priorityclass", &pc)] {
        run_ok(c.kubectl().args(["delete", kind, name.as_str()]));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `helm uninstall` deletes its release Secrets through client-go's typed client, whose DeleteOptions body is
/// protobuf too.
#[test]
fn helm_uninstall_deletes_its_records() {
    let c = TestCluster::start();
    let ns = c.namespace("helm-uninstall");
    let chart = c.dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: tiny\nversion: 0.1.0\n").unwrap();
    std::fs::write(chart.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tiny\ndata:\n  a: b\n").unwrap();
    for major in [3, 4] {
        let release = format!("tiny{major}");
        run_ok(c.helm(major).args(["install", &release, chart.to_str().unwrap(), "-n", &ns]));
        run_ok(c.helm(major).args(["uninstall", &release, "-n", &ns]));
        let left = run_ok(c.kubectl().args(["get", "secrets", "-n", &ns, "-l", &format!("name={release}"), "-o", "name"]));
        assert_eq!(left.trim(), "", "helm{major} uninstall left its records");
    }
}
