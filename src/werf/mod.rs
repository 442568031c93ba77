//! werf's naming rules (release and namespace slugs) and werf.yaml.
