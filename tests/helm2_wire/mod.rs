//! An independent reader of Helm 2 (Tiller) release records, for tests that must not judge the product by
//! its own decoder: base64, gunzip, then the protobuf wire format read field by field from the field numbers
//! of `hapi.release.Release` (../shared/reference/helm-storage.md). It shares no code with `src/` and covers
//! only the fields tests compare.
#![allow(dead_code)]

use std::io::Read;

use base64::Engine;

/// One field: its number and raw value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = buf[*pos];
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return out;
        }
    }
    panic!("varint longer than 10 bytes");
}

fn fields(buf: &[u8]) -> Vec<(u64, Wire<'_>)> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos);
        let value = match key & 7 {
            0 => Wire::Varint(varint(buf, &mut pos)),
            1 => {
                pos += 8;
                Wire::Fixed
            }
            2 => {
                let len = varint(buf, &mut pos) as usize;
                pos += len;
                Wire::Bytes(&buf[pos - len..pos])
            }
            5 => {
                pos += 4;
                Wire::Fixed
            }
            t => panic!("wire type {t}"),
        };
        out.push((key >> 3, value));
    }
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8 string field")
}

/// Seconds and nanoseconds of a `google.protobuf.Timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    pub seconds: i64,
    pub nanos: i32,
}

fn time(b: &[u8]) -> Time {
    let mut t = Time::default();
    for (n, w) in fields(b) {
        match (n, w) {
            (1, Wire::Varint(v)) => t.seconds = v as i64,
            (2, Wire::Varint(v)) => t.nanos = v as i32,
            _ => {}
        }
    }
    t
}

#[derive(Debug, Default)]
pub struct Hook {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub manifest: String,
    pub events: Vec<u64>,
    pub last_run: Option<Time>,
    pub weight: i32,
    pub delete_policies: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Chart {
    pub name: String,
    pub version: String,
    pub description: String,
    pub api_version: String,
    pub app_version: String,
    /// Name and data; `None` when the record has no data field (Go then holds a nil slice).
    pub templates: Vec<(String, Option<Vec<u8>>)>,
    pub values_raw: String,
    pub files: Vec<(String, Option<Vec<u8>>)>,
    pub subcharts: usize,
}

/// One result of the last test suite run.
#[derive(Debug, Default)]
pub struct TestRun {
    pub name: String,
    /// UNKNOWN=0 SUCCESS=1 FAILURE=2 RUNNING=3
    pub status: u64,
    pub started_at: Option<Time>,
    pub completed_at: Option<Time>,
}

#[derive(Debug, Default)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub version: i64,
    pub manifest: String,
    pub status_code: u64,
    pub notes: String,
    pub description: String,
    pub first_deployed: Option<Time>,
    pub last_deployed: Option<Time>,
    pub deleted: Option<Time>,
    pub config_raw: String,
    pub chart: Chart,
    pub hooks: Vec<Hook>,
    /// The results of `info.status.last_test_suite_run`.
    pub test_results: Vec<TestRun>,
}

/// Repeated enums: packed (one length-delimited field) or one varint per value.
fn enums(w: Wire<'_>, out: &mut Vec<u64>) {
    match w {
        Wire::Varint(v) => out.push(v),
        Wire::Bytes(b) => {
            let mut pos = 0;
            while pos < b.len() {
                out.push(varint(b, &mut pos));
            }
        }
        Wire::Fixed => panic!("fixed-width enum"),
    }
}

fn config_raw(b: &[u8]) -> String {
    fields(b).into_iter().find_map(|(n, w)| if let (1, Wire::Bytes(r)) = (n, w) { Some(text(r)) } else { None }).unwrap_or_default()
}

fn chart(b: &[u8]) -> Chart {
    let mut c = Chart::default();
    for (n, w) in fields(b) {
        let Wire::Bytes(b) = w else { continue };
        match n {
            1 => {
                for (m, w) in fields(b) {
                    let Wire::Bytes(v) = w else { continue };
                    match m {
                        1 => c.name = text(v),
                        4 => c.version = text(v),
                        5 => c.description = text(v),
                        10 => c.api_version = text(v),
                        13 => c.app_version = text(v),
                        _ => {}
                    }
                }
            }
            2 => {
                let (mut name, mut data) = (String::new(), None);
                for (m, w) in fields(b) {
                    match (m, w) {
                        (1, Wire::Bytes(v)) => name = text(v),
                        (2, Wire::Bytes(v)) => data = Some(v.to_vec()),
                        _ => {}
                    }
                }
                c.templates.push((name, data));
            }
            3 => c.subcharts += 1,
            4 => c.values_raw = config_raw(b),
            5 => {
                let (mut name, mut data) = (String::new(), None);
                for (m, w) in fields(b) {
                    match (m, w) {
                        (1, Wire::Bytes(v)) => name = text(v),
                        (2, Wire::Bytes(v)) => data = Some(v.to_vec()),
                        _ => {}
                    }
                }
                c.files.push((name, data));
            }
            _ => {}
        }
    }
    c
}

fn hook(b: &[u8]) -> Hook {
    let mut h = Hook::default();
    for (n, w) in fields(b) {
        match (n, w) {
            (1, Wire::Bytes(v)) => h.name = text(v),
            (2, Wire::Bytes(v)) => h.kind = text(v),
            (3, Wire::Bytes(v)) => h.path = text(v),
            (4, Wire::Bytes(v)) => h.manifest = text(v),
            (5, w) => enums(w, &mut h.events),
            (6, Wire::Bytes(v)) => h.last_run = Some(time(v)),
            // int32: a negative weight is sign-extended to 64 bits on the wire.
            (7, Wire::Varint(v)) => h.weight = v as i64 as i32,
            (8, w) => enums(w, &mut h.delete_policies),
            _ => {}
        }
    }
    h
}

fn test_results(suite: &[u8]) -> Vec<TestRun> {
    let mut out = Vec::new();
    for (n, w) in fields(suite) {
        let (3, Wire::Bytes(b)) = (n, w) else { continue };
        let mut run = TestRun::default();
        for (m, w) in fields(b) {
            match (m, w) {
                (1, Wire::Bytes(v)) => run.name = text(v),
                (2, Wire::Varint(v)) => run.status = v,
                (4, Wire::Bytes(v)) => run.started_at = Some(time(v)),
                (5, Wire::Bytes(v)) => run.completed_at = Some(time(v)),
                _ => {}
            }
        }
        out.push(run);
    }
    out
}

/// Decode a record's payload as the drivers store it: the base64 text (a Secret's own base64 layer removed).
pub fn decode(payload: &[u8]) -> Release {
    let compressed = base64::engine::general_purpose::STANDARD.decode(payload.trim_ascii()).expect("base64 payload");
    let raw = if compressed.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut out).expect("gzip payload");
        out
    } else {
        compressed
    };
    let mut r = Release::default();
    for (n, w) in fields(&raw) {
        match (n, w) {
            (1, Wire::Bytes(v)) => r.name = text(v),
            (2, Wire::Bytes(info)) => {
                for (m, w) in fields(info) {
                    let Wire::Bytes(v) = w else { continue };
                    match m {
                        1 => {
                            for (k, w) in fields(v) {
                                match (k, w) {
                                    (1, Wire::Varint(code)) => r.status_code = code,
                                    (4, Wire::Bytes(notes)) => r.notes = text(notes),
                                    (5, Wire::Bytes(suite)) => r.test_results = test_results(suite),
                                    _ => {}
                                }
                            }
                        }
                        2 => r.first_deployed = Some(time(v)),
                        3 => r.last_deployed = Some(time(v)),
                        4 => r.deleted = Some(time(v)),
                        5 => r.description = text(v),
                        _ => {}
                    }
                }
            }
            (3, Wire::Bytes(v)) => r.chart = chart(v),
            (4, Wire::Bytes(v)) => r.config_raw = config_raw(v),
            (5, Wire::Bytes(v)) => r.manifest = text(v),
            (6, Wire::Bytes(v)) => r.hooks.push(hook(v)),
            (7, Wire::Varint(v)) => r.version = v as i64,
            (8, Wire::Bytes(v)) => r.namespace = text(v),
            _ => {}
        }
    }
    r
}

/// Helm 3's name for a Helm 2 status code (the mapping helm-2to3 applies).
pub fn status_name(code: u64) -> &'static str {
    match code {
        1 => "deployed",
        2 => "uninstalled",
        3 => "superseded",
        4 => "failed",
        5 => "uninstalling",
        6 => "pending-install",
        7 => "pending-upgrade",
        8 => "pending-rollback",
        _ => "unknown",
    }
}

/// Helm 3's name for a Helm 2 hook event.
pub fn event_name(code: u64) -> &'static str {
    match code {
        1 => "pre-install",
        2 => "post-install",
        3 => "pre-delete",
        4 => "post-delete",
        5 => "pre-upgrade",
        6 => "post-upgrade",
        7 => "pre-rollback",
        8 => "post-rollback",
        9 | 10 => "test",
        11 => "crd-install",
        _ => "unknown",
    }
}
