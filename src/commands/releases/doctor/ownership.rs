//! Ownership and drift over live objects: filled in by the live-objects checks.
