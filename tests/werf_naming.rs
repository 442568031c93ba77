//! werf.yaml meta parsing and release/namespace resolution.

use std::path::{Path, PathBuf};

use kubectl_werf::names::NameError;
use kubectl_werf::werf::template::Template;
use kubectl_werf::werf::{
    NameSource, NamingError, NamingInput, ResolvedNames, TemplateError, WerfConfigError, discover_werf_config, parse_werf_config,
    resolve_names,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn project(p: &str, env: Option<&str>) -> NamingInput {
    NamingInput { project: Some(p.into()), env: env.map(Into::into), ..NamingInput::default() }
}

fn resolve(input: NamingInput) -> ResolvedNames {
    resolve_names(&input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

/// werf's own slugs of `input` from its reference vectors (tests/data/werf-slug-vectors.tsv): the Helm release
/// and the Kubernetes namespace. Expected names come from there, never from our slug functions.
fn werf_vector(input: &str) -> (String, String) {
    include_str!("data/werf-slug-vectors.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[0] == input).then(|| (f[1].to_string(), f[2].to_string()))
        })
        .unwrap_or_else(|| panic!("no werf vector row for {input:?}"))
}

// ---------- werf.yaml parsing ----------

#[test]
fn minimal_meta_section_defaults() {
    let c = parse_werf_config("project: myapp\nconfigVersion: 1\n").unwrap();
    assert_eq!(c.project, "myapp");
    assert_eq!(c.helm_release, None);
    assert!(c.helm_release_slug);
    assert_eq!(c.namespace, None);
    assert!(c.namespace_slug);
}

#[test]
fn literal_deploy_settings() {
    let c = parse_werf_config(
        "project: myapp\nconfigVersion: 1\ndeploy:\n  helmRelease: fixed-release\n  \
         helmReleaseSlug: false\n  namespace: fixed-ns\n  namespaceSlug: false\n",
    )
    .unwrap();
    assert_eq!(c.helm_release.as_ref().map(Template::source), Some("fixed-release"));
    assert!(!c.helm_release_slug);
    assert_eq!(c.namespace.as_ref().map(Template::source), Some("fixed-ns"));
    assert!(!c.namespace_slug);
}

#[test]
fn placeholder_deploy_settings() {
    let c = parse_werf_config(
        "project: myapp\nconfigVersion: 1\ndeploy:\n  helmRelease: \"[[ project ]]-[[ env ]]-[[namespace]]\"\n  \
         namespace: \"[[project]]-ns-[[ env ]]\"\n",
    )
    .unwrap();
    assert_eq!(c.helm_release.unwrap().source(), "[[ project ]]-[[ env ]]-[[namespace]]");
    assert_eq!(c.namespace.unwrap().source(), "[[project]]-ns-[[ env ]]");
}

#[test]
fn multi_document_with_go_templates_elsewhere() {
    let text = r#"# comment before
project: multi
configVersion: 1
deploy:
  helmRelease: "[[ project ]]-app-[[ env ]]"
---
{{ $base := "alpine:3.19" }}
image: backend
from: {{ $base }}
shell:
  install:
  {{- range $i := until 3 }}
  - echo {{ $i }}
  {{- end }}
---
image: frontend
dockerfile: Dockerfile
"#;
    let c = parse_werf_config(text).unwrap();
    assert_eq!(c.project, "multi");
    assert_eq!(c.helm_release.unwrap().source(), "[[ project ]]-app-[[ env ]]");
}

#[test]
fn meta_section_need_not_be_first_document() {
    let text = "---\n# only a comment\n---\nproject: second\nconfigVersion: 1\n---\nimage: x\n";
    assert_eq!(parse_werf_config(text).unwrap().project, "second");
}

#[test]
fn missing_project_is_an_error() {
    assert_eq!(parse_werf_config("configVersion: 1\n---\nimage: x\n"), Err(WerfConfigError::NoMetaSection));
    assert_eq!(parse_werf_config(""), Err(WerfConfigError::NoMetaSection));
    assert_eq!(parse_werf_config("project: \"\"\nconfigVersion: 1\n"), Err(WerfConfigError::EmptyProject));
}

#[test]
fn go_template_in_meta_fields_is_an_error() {
    let e = parse_werf_config("project: '{{ env \"P\" }}'\nconfigVersion: 1\n").unwrap_err();
    assert_eq!(e, WerfConfigError::GoTemplateInField { field: "project" });
    assert!(e.to_string().contains("`project`"), "{e}");

    let e = parse_werf_config("project: p\ndeploy:\n  helmRelease: '{{ .Env }}-x'\n").unwrap_err();
    assert_eq!(e, WerfConfigError::GoTemplateInField { field: "deploy.helmRelease" });

    // Unquoted Go template breaks YAML parsing of the meta document itself.
    let e = parse_werf_config("project: {{ env \"P\" }}\nconfigVersion: 1\n").unwrap_err();
    assert!(matches!(e, WerfConfigError::GoTemplateInMeta | WerfConfigError::GoTemplateInField { .. }), "{e:?}");
    let e = parse_werf_config("{{ if true }}\nproject: p\n{{ end }}\n").unwrap_err();
    assert_eq!(e, WerfConfigError::GoTemplateInMeta);
    assert!(e.to_string().contains("Go-template"), "{e}");
}

#[test]
fn unsupported_placeholder_is_named() {
    let e = parse_werf_config("project: p\ndeploy:\n  namespace: \"[[ .Values.ns ]]\"\n").unwrap_err();
    assert_eq!(
        e,
        WerfConfigError::Template { field: "deploy.namespace", error: TemplateError::UnsupportedPlaceholder("[[ .Values.ns ]]".into()) }
    );
    let msg = e.to_string();
    assert!(msg.contains("deploy.namespace") && msg.contains("[[ .Values.ns ]]"), "{msg}");

    let e = parse_werf_config("project: p\ndeploy:\n  helmRelease: \"[[ project ]\"\n").unwrap_err();
    assert!(matches!(e, WerfConfigError::Template { error: TemplateError::Unclosed(_), .. }));
}

#[test]
fn invalid_yaml_and_types() {
    let e = parse_werf_config("project: p\ndeploy:\n  helmReleaseSlug: maybe\n").unwrap_err();
    assert!(matches!(e, WerfConfigError::Yaml(_)), "{e:?}");
    let e = parse_werf_config("project: [a, b]\n").unwrap_err();
    assert!(matches!(e, WerfConfigError::Yaml(_)), "{e:?}");
}

#[test]
fn yaml_errors_point_at_file_lines() {
    let text = "image: a\n---\n\nproject: p\ndeploy:\n  namespaceSlug: sometimes\n";
    let e = parse_werf_config(text).unwrap_err();
    let WerfConfigError::Yaml(msg) = &e else { panic!("{e:?}") };
    assert!(msg.contains("line 6"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn unknown_meta_fields_are_ignored() {
    let c = parse_werf_config("project: p\nconfigVersion: 1\nbuild:\n  platform: [linux/amd64]\ngitWorktree:\n  forceShallowClone: true\n")
        .unwrap();
    assert_eq!(c.project, "p");
}

#[test]
fn discovery_prefers_werf_yaml() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(discover_werf_config(dir.path()), None);
    let yml = write(dir.path(), "werf.yml", "project: b\n");
    assert_eq!(discover_werf_config(dir.path()), Some(yml));
    let yaml = write(dir.path(), "werf.yaml", "project: a\n");
    assert_eq!(discover_werf_config(dir.path()), Some(yaml));
}

// ---------- resolution from flags ----------

#[test]
fn project_and_env() {
    let r = resolve(project("myapp", Some("production")));
    assert_eq!(r.release, "myapp-production");
    assert_eq!(r.namespace.as_deref(), Some("myapp-production"));
    assert_eq!(r.source, NameSource::ProjectFlag);
    assert_eq!(r.project.as_deref(), Some("myapp"));
    assert_eq!(r.env.as_deref(), Some("production"));
    assert_eq!(r.werf_config, None);
}

#[test]
fn project_without_env_is_project_alone() {
    let r = resolve(project("myapp", None));
    assert_eq!(r.release, "myapp");
    assert_eq!(r.namespace.as_deref(), Some("myapp"));
    // An empty env (e.g. WERF_ENV="") counts as no env.
    let r = resolve(project("myapp", Some("")));
    assert_eq!(r.release, "myapp");
    assert_eq!(r.env, None);
}

#[test]
fn project_and_env_are_slugged() {
    let r = resolve(project("symfony-demo", Some("Stage")));
    assert_eq!(r.release, "symfony-demo-stage-76d45ee1");
    assert_eq!(r.namespace.as_deref(), Some("symfony-demo-stage-76d45ee1"));
    let r = resolve(project("release", Some("name")));
    assert_eq!(r.release, "release-name");
    let r = resolve(project("php_fpm_exporter-monitoring", Some("dev-encrypt-1")));
    assert_eq!((r.release, r.namespace.unwrap()), werf_vector("php_fpm_exporter-monitoring-dev-encrypt-1"));
    // Dots differ between the two rules.
    let r = resolve(project("release.name", None));
    assert_eq!(r.release, "release.name");
    assert_eq!(r.namespace.as_deref(), Some("release-name-2164be04"));
}

#[test]
fn no_slug_validates_release_instead() {
    let mut input = project("myapp", Some("prod"));
    input.no_slug = true;
    assert_eq!(resolve(input.clone()).release, "myapp-prod");

    input.env = Some("Prod".into());
    let e = resolve_names(&input).unwrap_err();
    assert!(matches!(&e, NamingError::Invalid { error: NameError::ReleaseName { name, .. }, .. } if name == "myapp-Prod"), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("--no-slug") && msg.contains("\"myapp-Prod\""), "{msg}");

    // --no-slug concerns the release only: the namespace is still slugged.
    let mut input = project("release.name", None);
    input.no_slug = true;
    let r = resolve(input);
    assert_eq!(r.release, "release.name");
    assert_eq!(r.namespace, Some(werf_vector("release.name").1));
}

#[test]
fn release_flag_used_as_given() {
    let r = resolve(NamingInput { release: Some("legacy.release-1".into()), ..NamingInput::default() });
    assert_eq!(r.release, "legacy.release-1");
    assert_eq!(r.namespace, None);
    assert_eq!(r.source, NameSource::ReleaseFlag);

    // Even with a project, --release wins and is never slugged.
    let mut input = project("other", Some("prod"));
    input.release = Some("explicit".into());
    let r = resolve(input);
    assert_eq!(r.release, "explicit");
    assert_eq!(r.namespace.as_deref(), Some("other-prod"));
    assert_eq!(r.source, NameSource::ReleaseFlag);
}

#[test]
fn release_flag_is_validated() {
    for bad in ["My_Release", "", &"r".repeat(54), "-x"] {
        let e = resolve_names(&NamingInput { release: Some(bad.to_string()), ..NamingInput::default() }).unwrap_err();
        assert!(
            matches!(&e, NamingError::Invalid { context, error: NameError::ReleaseName { .. } } if context == "--release"),
            "{bad:?}: {e:?}"
        );
        assert!(e.to_string().starts_with("--release: invalid release name"), "{e}");
    }
}

#[test]
fn namespace_flag_wins_and_is_validated() {
    let mut input = project("myapp", Some("prod"));
    input.namespace = Some("custom".into());
    let r = resolve(input.clone());
    assert_eq!(r.namespace.as_deref(), Some("custom"));
    assert_eq!(r.release, "myapp-prod");

    input.namespace = Some("Bad.NS".into());
    let e = resolve_names(&input).unwrap_err();
    assert!(e.to_string().starts_with("--namespace: invalid namespace name \"Bad.NS\""), "{e}");
}

#[test]
fn missing_project_and_release() {
    let e = resolve_names(&NamingInput::default()).unwrap_err();
    assert_eq!(e, NamingError::MissingTarget);
    assert!(e.to_string().starts_with("--project or --release is required"), "{e}");
    let e = resolve_names(&NamingInput { env: Some("prod".into()), ..NamingInput::default() }).unwrap_err();
    assert_eq!(e, NamingError::MissingTarget);
    assert_eq!(resolve_names(&project("  ", None)), Err(NamingError::EmptyProject));
}

// ---------- resolution with werf.yaml ----------

#[test]
fn werf_yaml_project_with_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "werf.yaml", "project: shop\nconfigVersion: 1\n");
    let r = resolve(NamingInput { env: Some("staging".into()), werf_config: Some(path.clone()), ..NamingInput::default() });
    assert_eq!(r.release, "shop-staging");
    assert_eq!(r.namespace.as_deref(), Some("shop-staging"));
    assert_eq!(r.source, NameSource::WerfConfig);
    assert_eq!(r.project.as_deref(), Some("shop"));
    assert_eq!(r.werf_config, Some(path));
}

#[test]
fn werf_config_may_be_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "werf.yaml", "project: shop\n");
    let r = resolve(NamingInput { werf_config: Some(dir.path().to_path_buf()), ..NamingInput::default() });
    assert_eq!(r.release, "shop");
    assert_eq!(r.werf_config, Some(path));

    let empty = tempfile::tempdir().unwrap();
    let e = resolve_names(&NamingInput { werf_config: Some(empty.path().to_path_buf()), ..NamingInput::default() }).unwrap_err();
    assert!(e.to_string().contains("no werf.yaml"), "{e}");
}

#[test]
fn werf_yaml_templates() {
    let dir = tempfile::tempdir().unwrap();
    // The namespace renders to the werf vector input `My_Project-Prod`; the release follows the slugged namespace.
    let path = write(
        dir.path(),
        "werf.yaml",
        "project: My_Project\nconfigVersion: 1\ndeploy:\n  namespace: \"[[ project ]]-[[ env ]]\"\n  \
         helmRelease: \"[[ namespace ]]-rel\"\n",
    );
    let r = resolve(NamingInput { env: Some("Prod".into()), werf_config: Some(path.clone()), ..NamingInput::default() });
    assert_eq!(r.namespace, Some(werf_vector("My_Project-Prod").1));
    assert_eq!(r.release, format!("{}-rel", werf_vector("My_Project-Prod").1), "a valid rendered release is kept as it is");
    // A release rendered from the namespace to the vector input `myapp-review/feature_login`.
    let two = write(
        dir.path(),
        "two.yaml",
        "project: myapp\ndeploy:\n  namespace: \"[[ project ]]-[[ env ]]\"\n  helmRelease: \"[[ namespace ]]/feature_login\"\n",
    );
    let r = resolve(NamingInput { env: Some("review".into()), werf_config: Some(two), ..NamingInput::default() });
    assert_eq!(r.namespace.as_deref(), Some("myapp-review"));
    assert_eq!(r.release, werf_vector("myapp-review/feature_login").0);

    // [[ namespace ]] in the release template follows an explicit --namespace.
    let r = resolve(NamingInput {
        env: Some("prod".into()),
        namespace: Some("given".into()),
        werf_config: Some(path),
        ..NamingInput::default()
    });
    assert_eq!(r.release, "given-rel");
}

#[test]
fn explicit_template_with_empty_env_renders_literally() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "werf.yaml", "project: app\ndeploy:\n  helmRelease: \"[[ project ]]-[[ env ]]\"\n");
    let r = resolve(NamingInput { werf_config: Some(path), ..NamingInput::default() });
    // "app-" is not a valid name, so werf slugs it.
    assert_eq!(r.release, werf_vector("app-").0);
    // The namespace uses the default template, which drops the empty env.
    assert_eq!(r.namespace.as_deref(), Some("app"));
}

#[test]
fn werf_yaml_slug_switches() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "werf.yaml",
        "project: App\ndeploy:\n  helmRelease: literal.release\n  helmReleaseSlug: false\n  \
         namespace: \"[[ project ]]\"\n  namespaceSlug: false\n",
    );
    let e = resolve_names(&NamingInput { werf_config: Some(path.clone()), ..NamingInput::default() }).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("namespace \"App\"") && msg.contains("deploy.namespaceSlug: false"), "{msg}");

    let r = resolve(NamingInput { namespace: Some("ns".into()), werf_config: Some(path), ..NamingInput::default() });
    assert_eq!(r.release, "literal.release");
    assert_eq!(r.namespace.as_deref(), Some("ns"));
}

#[test]
fn helm_release_slug_false_rejects_invalid_release() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "werf.yaml", "project: App\ndeploy:\n  helmReleaseSlug: false\n");
    let e = resolve_names(&NamingInput { werf_config: Some(path), ..NamingInput::default() }).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("deploy.helmReleaseSlug: false") && msg.contains("\"App\""), "{msg}");
}

#[test]
fn flags_override_werf_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "werf.yaml", "project: fromfile\ndeploy:\n  helmRelease: \"[[ project ]]-x-[[ env ]]\"\n");
    // --project replaces werf.yaml's project; werf.yaml's template still applies.
    let r = resolve(NamingInput {
        project: Some("fromflag".into()),
        env: Some("dev".into()),
        werf_config: Some(path.clone()),
        ..NamingInput::default()
    });
    assert_eq!(r.release, "fromflag-x-dev");
    assert_eq!(r.namespace.as_deref(), Some("fromflag-dev"));
    assert_eq!(r.source, NameSource::ProjectFlag);

    // --release and --namespace together never read werf.yaml.
    let broken = write(dir.path(), "broken.yaml", "not: [valid\n");
    let r = resolve(NamingInput {
        release: Some("r".into()),
        namespace: Some("n".into()),
        werf_config: Some(broken),
        ..NamingInput::default()
    });
    assert_eq!((r.release.as_str(), r.namespace.as_deref()), ("r", Some("n")));
    assert_eq!(r.werf_config, None);

    // --release alone still takes the namespace from werf.yaml.
    let r = resolve(NamingInput { release: Some("r".into()), env: Some("dev".into()), werf_config: Some(path), ..NamingInput::default() });
    assert_eq!(r.namespace.as_deref(), Some("fromfile-dev"));
    assert_eq!(r.project.as_deref(), Some("fromfile"));
}

#[test]
fn werf_yaml_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "werf.yaml", "configVersion: 1\n");
    let e = resolve_names(&NamingInput { werf_config: Some(path.clone()), ..NamingInput::default() }).unwrap_err();
    assert!(matches!(&e, NamingError::WerfConfig { error: WerfConfigError::NoMetaSection, .. }));
    assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");

    let missing = dir.path().join("nope.yaml");
    let e = resolve_names(&NamingInput { werf_config: Some(missing), ..NamingInput::default() }).unwrap_err();
    assert!(e.to_string().contains("nope.yaml: cannot read"), "{e}");

    let path = write(dir.path(), "werf.yaml", "project: p\ndeploy:\n  helmRelease: \"[[ .Release ]]\"\n");
    let e = resolve_names(&NamingInput { werf_config: Some(path), ..NamingInput::default() }).unwrap_err();
    assert!(e.to_string().contains("[[ .Release ]]"), "{e}");
}

#[test]
fn empty_rendered_names_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "werf.yaml", "project: p\ndeploy:\n  helmRelease: \"[[ env ]]\"\n");
    let e = resolve_names(&NamingInput { werf_config: Some(path), ..NamingInput::default() }).unwrap_err();
    assert!(matches!(e, NamingError::EmptyRendered { what: "release", .. }), "{e:?}");

    let path = write(dir.path(), "werf.yaml", "project: p\ndeploy:\n  namespace: \"[[ namespace ]]\"\n");
    let e = resolve_names(&NamingInput { werf_config: Some(path), ..NamingInput::default() }).unwrap_err();
    assert!(matches!(e, NamingError::Template { what: "namespace", error: TemplateError::NamespaceInNamespace, .. }), "{e:?}");
}
