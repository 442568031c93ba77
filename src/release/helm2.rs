//! Helm 2 (Tiller) release messages: `hapi.release`, `hapi.chart` and `google.protobuf` types.
//!
//! Declared with `prost` derive from the field numbers of the hapi `.proto` files (no protoc).
//! Decoding skips (drops) unknown fields, keeps out-of-range enum values as their raw `i32` (the
//! `*_name` helpers give Tiller's names for known values), accepts repeated enums both packed and
//! unpacked, and reads negative hook weights (10-byte varints). Encoding writes repeated enums
//! packed, as Go's protobuf does for proto3.

use std::collections::BTreeMap;

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    /// Converts to a Helm 3 time (UTC); the all-zero timestamp (Unix epoch) is kept as an instant.
    pub fn to_time(&self) -> Option<super::Time> {
        super::Time::from_unix(self.seconds, self.nanos)
    }

    /// From a Helm 3 time; zero forms give `None`.
    pub fn from_time(t: &super::Time) -> Option<Timestamp> {
        let i = t.instant()?;
        Some(Timestamp { seconds: i.as_second(), nanos: i.subsec_nanosecond() })
    }
}

/// `google.protobuf.Any`; in `Chart.files` the type URL is the file's path and the value its bytes.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `hapi.release.Release`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Release {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub info: Option<Info>,
    #[prost(message, optional, tag = "3")]
    pub chart: Option<Chart>,
    #[prost(message, optional, tag = "4")]
    pub config: Option<Config>,
    #[prost(string, tag = "5")]
    pub manifest: String,
    #[prost(message, repeated, tag = "6")]
    pub hooks: Vec<Hook>,
    #[prost(int32, tag = "7")]
    pub version: i32,
    #[prost(string, tag = "8")]
    pub namespace: String,
}

impl Release {
    /// The status code, `Unknown` when there is no info/status.
    pub fn status_code(&self) -> i32 {
        self.info.as_ref().and_then(|i| i.status.as_ref()).map_or(0, |s| s.code)
    }

    /// The status code name as Tiller writes it in the `STATUS` label (`DEPLOYED`, …).
    pub fn status_name(&self) -> &'static str {
        status_code_name(self.status_code())
    }
}

/// `hapi.release.Info`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Info {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "2")]
    pub first_deployed: Option<Timestamp>,
    #[prost(message, optional, tag = "3")]
    pub last_deployed: Option<Timestamp>,
    #[prost(message, optional, tag = "4")]
    pub deleted: Option<Timestamp>,
    #[prost(string, tag = "5")]
    pub description: String,
}

/// `hapi.release.Status` (field 2, the removed `details`, is skipped as unknown).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(enumeration = "StatusCode", tag = "1")]
    pub code: i32,
    #[prost(string, tag = "3")]
    pub resources: String,
    #[prost(string, tag = "4")]
    pub notes: String,
    #[prost(message, optional, tag = "5")]
    pub last_test_suite_run: Option<TestSuite>,
}

/// `hapi.release.Status.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum StatusCode {
    Unknown = 0,
    Deployed = 1,
    Deleted = 2,
    Superseded = 3,
    Failed = 4,
    Deleting = 5,
    PendingInstall = 6,
    PendingUpgrade = 7,
    PendingRollback = 8,
}

/// `hapi.release.TestSuite`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TestSuite {
    #[prost(message, optional, tag = "1")]
    pub started_at: Option<Timestamp>,
    #[prost(message, optional, tag = "2")]
    pub completed_at: Option<Timestamp>,
    #[prost(message, repeated, tag = "3")]
    pub results: Vec<TestRun>,
}

/// `hapi.release.TestRun`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TestRun {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(enumeration = "TestRunStatus", tag = "2")]
    pub status: i32,
    #[prost(string, tag = "3")]
    pub info: String,
    #[prost(message, optional, tag = "4")]
    pub started_at: Option<Timestamp>,
    #[prost(message, optional, tag = "5")]
    pub completed_at: Option<Timestamp>,
}

/// `hapi.release.TestRun.Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TestRunStatus {
    Unknown = 0,
    Success = 1,
    Failure = 2,
    Running = 3,
}

/// `hapi.release.Hook`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Hook {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub kind: String,
    #[prost(string, tag = "3")]
    pub path: String,
    #[prost(string, tag = "4")]
    pub manifest: String,
    #[prost(enumeration = "HookEvent", repeated, tag = "5")]
    pub events: Vec<i32>,
    #[prost(message, optional, tag = "6")]
    pub last_run: Option<Timestamp>,
    #[prost(int32, tag = "7")]
    pub weight: i32,
    #[prost(enumeration = "HookDeletePolicy", repeated, tag = "8")]
    pub delete_policies: Vec<i32>,
    #[prost(int64, tag = "9")]
    pub delete_timeout: i64,
}

/// `hapi.release.Hook.Event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum HookEvent {
    Unknown = 0,
    PreInstall = 1,
    PostInstall = 2,
    PreDelete = 3,
    PostDelete = 4,
    PreUpgrade = 5,
    PostUpgrade = 6,
    PreRollback = 7,
    PostRollback = 8,
    ReleaseTestSuccess = 9,
    ReleaseTestFailure = 10,
    CrdInstall = 11,
}

/// `hapi.release.Hook.DeletePolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum HookDeletePolicy {
    Succeeded = 0,
    Failed = 1,
    BeforeHookCreation = 2,
}

/// `hapi.chart.Chart`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chart {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<Metadata>,
    #[prost(message, repeated, tag = "2")]
    pub templates: Vec<Template>,
    /// Subcharts.
    #[prost(message, repeated, tag = "3")]
    pub dependencies: Vec<Chart>,
    #[prost(message, optional, tag = "4")]
    pub values: Option<Config>,
    #[prost(message, repeated, tag = "5")]
    pub files: Vec<Any>,
}

/// `hapi.chart.Config`: values as YAML text (`"{}\n"` when empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Config {
    #[prost(string, tag = "1")]
    pub raw: String,
    /// Unused by Tiller; kept so nothing is lost.
    #[prost(btree_map = "string, message", tag = "2")]
    pub values: BTreeMap<String, ConfigValue>,
}

/// `hapi.chart.Value`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ConfigValue {
    #[prost(string, tag = "1")]
    pub value: String,
}

/// `hapi.chart.Template`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Template {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// `hapi.chart.Metadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub home: String,
    #[prost(string, repeated, tag = "3")]
    pub sources: Vec<String>,
    #[prost(string, tag = "4")]
    pub version: String,
    #[prost(string, tag = "5")]
    pub description: String,
    #[prost(string, repeated, tag = "6")]
    pub keywords: Vec<String>,
    #[prost(message, repeated, tag = "7")]
    pub maintainers: Vec<Maintainer>,
    #[prost(string, tag = "8")]
    pub engine: String,
    #[prost(string, tag = "9")]
    pub icon: String,
    #[prost(string, tag = "10")]
    pub api_version: String,
    #[prost(string, tag = "11")]
    pub condition: String,
    #[prost(string, tag = "12")]
    pub tags: String,
    #[prost(string, tag = "13")]
    pub app_version: String,
    #[prost(bool, tag = "14")]
    pub deprecated: bool,
    #[prost(string, tag = "15")]
    pub tiller_version: String,
    #[prost(btree_map = "string, string", tag = "16")]
    pub annotations: BTreeMap<String, String>,
    #[prost(string, tag = "17")]
    pub kube_version: String,
}

/// `hapi.chart.Maintainer`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Maintainer {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub email: String,
    #[prost(string, tag = "3")]
    pub url: String,
}

/// Tiller's name for a status code (`DEPLOYED`, `PENDING_UPGRADE`, …); `UNKNOWN` for out-of-range values.
pub fn status_code_name(code: i32) -> &'static str {
    match StatusCode::try_from(code) {
        Ok(StatusCode::Unknown) | Err(_) => "UNKNOWN",
        Ok(StatusCode::Deployed) => "DEPLOYED",
        Ok(StatusCode::Deleted) => "DELETED",
        Ok(StatusCode::Superseded) => "SUPERSEDED",
        Ok(StatusCode::Failed) => "FAILED",
        Ok(StatusCode::Deleting) => "DELETING",
        Ok(StatusCode::PendingInstall) => "PENDING_INSTALL",
        Ok(StatusCode::PendingUpgrade) => "PENDING_UPGRADE",
        Ok(StatusCode::PendingRollback) => "PENDING_ROLLBACK",
    }
}

/// Parses a Tiller status code name (as in the `STATUS` label).
pub fn status_code_from_name(name: &str) -> Option<StatusCode> {
    Some(match name {
        "UNKNOWN" => StatusCode::Unknown,
        "DEPLOYED" => StatusCode::Deployed,
        "DELETED" => StatusCode::Deleted,
        "SUPERSEDED" => StatusCode::Superseded,
        "FAILED" => StatusCode::Failed,
        "DELETING" => StatusCode::Deleting,
        "PENDING_INSTALL" => StatusCode::PendingInstall,
        "PENDING_UPGRADE" => StatusCode::PendingUpgrade,
        "PENDING_ROLLBACK" => StatusCode::PendingRollback,
        _ => return None,
    })
}

/// Name of a hook event (`PRE_INSTALL`, `RELEASE_TEST_SUCCESS`, …); `None` for out-of-range values.
pub fn hook_event_name(event: i32) -> Option<&'static str> {
    Some(match HookEvent::try_from(event).ok()? {
        HookEvent::Unknown => "UNKNOWN",
        HookEvent::PreInstall => "PRE_INSTALL",
        HookEvent::PostInstall => "POST_INSTALL",
        HookEvent::PreDelete => "PRE_DELETE",
        HookEvent::PostDelete => "POST_DELETE",
        HookEvent::PreUpgrade => "PRE_UPGRADE",
        HookEvent::PostUpgrade => "POST_UPGRADE",
        HookEvent::PreRollback => "PRE_ROLLBACK",
        HookEvent::PostRollback => "POST_ROLLBACK",
        HookEvent::ReleaseTestSuccess => "RELEASE_TEST_SUCCESS",
        HookEvent::ReleaseTestFailure => "RELEASE_TEST_FAILURE",
        HookEvent::CrdInstall => "CRD_INSTALL",
    })
}

/// Name of a hook delete policy (`SUCCEEDED`, `FAILED`, `BEFORE_HOOK_CREATION`); `None` if out of range.
pub fn hook_delete_policy_name(policy: i32) -> Option<&'static str> {
    Some(match HookDeletePolicy::try_from(policy).ok()? {
        HookDeletePolicy::Succeeded => "SUCCEEDED",
        HookDeletePolicy::Failed => "FAILED",
        HookDeletePolicy::BeforeHookCreation => "BEFORE_HOOK_CREATION",
    })
}

/// Name of a test run status (`UNKNOWN`, `SUCCESS`, `FAILURE`, `RUNNING`); `None` if out of range.
pub fn test_run_status_name(status: i32) -> Option<&'static str> {
    Some(match TestRunStatus::try_from(status).ok()? {
        TestRunStatus::Unknown => "UNKNOWN",
        TestRunStatus::Success => "SUCCESS",
        TestRunStatus::Failure => "FAILURE",
        TestRunStatus::Running => "RUNNING",
    })
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn key(field: u32, wire: u8, out: &mut Vec<u8>) {
        varint(u64::from(field << 3 | u32::from(wire)), out);
    }

    fn len_delim(field: u32, body: &[u8], out: &mut Vec<u8>) {
        key(field, 2, out);
        varint(body.len() as u64, out);
        out.extend_from_slice(body);
    }

    #[test]
    fn repeated_enums_packed_and_unpacked() {
        // events = [PRE_INSTALL, RELEASE_TEST_SUCCESS] unpacked, delete_policies packed [FAILED, BEFORE_HOOK_CREATION]
        let mut unpacked = Vec::new();
        len_delim(1, b"h", &mut unpacked);
        key(5, 0, &mut unpacked);
        varint(1, &mut unpacked);
        key(5, 0, &mut unpacked);
        varint(9, &mut unpacked);
        len_delim(8, &[1, 2], &mut unpacked);
        let h = Hook::decode(&unpacked[..]).unwrap();
        assert_eq!(h.events, vec![1, 9]);
        assert_eq!(h.delete_policies, vec![1, 2]);

        let mut packed = Vec::new();
        len_delim(1, b"h", &mut packed);
        len_delim(5, &[1, 9], &mut packed);
        key(8, 0, &mut packed);
        varint(1, &mut packed);
        key(8, 0, &mut packed);
        varint(2, &mut packed);
        assert_eq!(Hook::decode(&packed[..]).unwrap(), h);
        // Mixed: a packed run followed by an unpacked element appends.
        let mut mixed = packed.clone();
        key(5, 0, &mut mixed);
        varint(3, &mut mixed);
        assert_eq!(Hook::decode(&mixed[..]).unwrap().events, vec![1, 9, 3]);
        // Our encoding is packed.
        let enc = h.encode_to_vec();
        assert!(enc.windows(4).any(|w| w == [0x2a, 2, 1, 9]), "{enc:x?}");
    }

    #[test]
    fn negative_weight_and_out_of_range_enums() {
        let h = Hook { name: "w".into(), weight: -5, events: vec![42], ..Default::default() };
        let enc = h.encode_to_vec();
        // a negative int32 is a 10-byte varint
        let i = enc.iter().position(|&b| b == 0x38).unwrap();
        assert_eq!(enc[i + 1..i + 11], [0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        let back = Hook::decode(&enc[..]).unwrap();
        assert_eq!(back.weight, -5);
        assert_eq!(back.events, vec![42]);
        assert_eq!(hook_event_name(42), None);
        let st = Status { code: 99, ..Default::default() };
        let back = Status::decode(&st.encode_to_vec()[..]).unwrap();
        assert_eq!(back.code, 99);
        assert_eq!(status_code_name(99), "UNKNOWN");
    }

    #[test]
    fn unknown_fields_skipped() {
        let mut buf = Vec::new();
        len_delim(1, b"rel", &mut buf);
        // unknown varint, fixed64, fixed32 and length-delimited fields
        key(99, 0, &mut buf);
        varint(12345, &mut buf);
        key(100, 1, &mut buf);
        buf.extend_from_slice(&[0; 8]);
        key(101, 5, &mut buf);
        buf.extend_from_slice(&[0; 4]);
        len_delim(102, b"whatever", &mut buf);
        // Status with removed field 2 (details: google.protobuf.Any)
        let mut status = Vec::new();
        key(1, 0, &mut status);
        varint(3, &mut status);
        len_delim(2, b"\x0a\x03abc", &mut status);
        len_delim(4, b"notes", &mut status);
        let mut info = Vec::new();
        len_delim(1, &status, &mut info);
        len_delim(2, &info, &mut buf);
        key(7, 0, &mut buf);
        varint(4, &mut buf);
        let r = Release::decode(&buf[..]).unwrap();
        assert_eq!(r.name, "rel");
        assert_eq!(r.version, 4);
        assert_eq!(r.status_name(), "SUPERSEDED");
        assert_eq!(r.info.unwrap().status.unwrap().notes, "notes");
    }

    #[test]
    fn names_round_trip() {
        for c in 0..=8 {
            assert_eq!(status_code_from_name(status_code_name(c)).unwrap() as i32, c);
        }
        assert_eq!(hook_delete_policy_name(2), Some("BEFORE_HOOK_CREATION"));
        assert_eq!(test_run_status_name(1), Some("SUCCESS"));
    }
}
