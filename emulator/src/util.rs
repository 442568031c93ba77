//! Small helpers: time formatting, uid generation, URL decoding, base64.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Formats Unix seconds as RFC 3339 UTC with second precision (`2026-11-21T22:35:26Z`),
/// the way the API server renders `metav1.Time`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Parses the RFC 3339 form produced by [`rfc3339`] (also tolerates fractions and offsets
/// by ignoring them). Returns Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let y = num(0..4)?;
    let mo = num(5..7)?;
    let d = num(8..10)?;
    let h = num(11..13)?;
    let mi = num(14..16)?;
    let se = num(17..19)?;
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Human duration like `kubectl`/the server's `HumanDuration` (e.g. `5s`, `3m2s`, `4h`, `12d`).
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let rs = s % 60;
        return if rs == 0 { format!("{m}m") } else { format!("{m}m{rs}s") };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = s / 3600;
    if h < 8 {
        let rm = m % 60;
        return if rm == 0 { format!("{h}h") } else { format!("{h}h{rm}m") };
    }
    if h < 48 {
        return format!("{h}h");
    }
    let d = h / 24;
    if h < 24 * 8 {
        let rh = h % 24;
        return if rh == 0 { format!("{d}d") } else { format!("{d}d{rh}h") };
    }
    if h < 24 * 365 * 2 {
        return format!("{d}d");
    }
    format!("{}y", d / 365)
}

static RNG_STATE: AtomicU64 = AtomicU64::new(0);
static RNG_SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// A fast non-cryptographic random number (splitmix64), seeded from the clock and pid.
pub fn random_u64() -> u64 {
    let seed = *RNG_SEED.get_or_init(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0x1234_5678)
            ^ ((std::process::id() as u64) << 32)
    });
    let x = seed.wrapping_add(RNG_STATE.fetch_add(1, Ordering::Relaxed).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random RFC 4122 version 4 UUID string.
pub fn new_uid() -> String {
    let a = random_u64();
    let b = random_u64();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The 5-character random suffix for `generateName` (same alphabet as the real server).
pub fn random_suffix() -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = random_u64();
    (0..5)
        .map(|_| {
            let c = ALPHA[(r % ALPHA.len() as u64) as usize] as char;
            r /= ALPHA.len() as u64;
            c
        })
        .collect()
}

/// Percent-decodes a URL component (`+` is a space in query strings).
pub fn url_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| -> Option<u8> {
                    match c {
                        b'0'..=b'9' => Some(c - b'0'),
                        b'a'..=b'f' => Some(c - b'a' + 10),
                        b'A'..=b'F' => Some(c - b'A' + 10),
                        _ => None,
                    }
                };
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into decoded (key, value) pairs, in order.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k, true), url_decode(v, true)),
            None => (url_decode(p, true), String::new()),
        })
        .collect()
}

/// Standard base64 decoding as Go's `encoding/base64.StdEncoding` (padding required).
pub fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| match e {
        base64::DecodeError::InvalidByte(off, _) => format!("illegal base64 data at input byte {off}"),
        base64::DecodeError::InvalidLength(n) => format!("illegal base64 data at input byte {n}"),
        base64::DecodeError::InvalidLastSymbol(off, _) => format!("illegal base64 data at input byte {off}"),
        base64::DecodeError::InvalidPadding => format!("illegal base64 data at input byte {}", s.len()),
    })
}

/// Whether `s` is standard base64 exactly as [`b64_decode`] accepts it (length a multiple of 4,
/// canonical `=` padding, zero trailing bits), without decoding it; the error is
/// [`b64_decode`]'s. Secrets' data is checked on every write, so this is the hot path.
pub fn b64_check(s: &str) -> Result<(), String> {
    static VALID: [bool; 256] = {
        let mut t = [false; 256];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut i = 0;
        while i < alphabet.len() {
            t[alphabet[i] as usize] = true;
            i += 1;
        }
        t
    };
    let b = s.as_bytes();
    let pad = b.iter().rev().take(3).take_while(|&&c| c == b'=').count();
    let body = &b[..b.len() - pad];
    let canonical = b.len().is_multiple_of(4) && pad <= 2 && body.iter().all(|&c| VALID[c as usize]) && {
        // the bits of the last symbol that fall past the data must be zero
        let last = body.last().map(|&c| sextet(c)).unwrap_or(0);
        match pad {
            1 => last & 0b11 == 0,
            2 => last & 0b1111 == 0,
            _ => true,
        }
    };
    if canonical { Ok(()) } else { b64_decode(s).map(|_| ()) }
}

fn sextet(c: u8) -> u8 {
    match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    }
}

/// Length of the decoded form of standard base64 text, without allocating (input must be valid).
pub fn b64_decoded_len(s: &str) -> usize {
    let pad = s.bytes().rev().take_while(|&c| c == b'=').count();
    ((s.len() / 4) * 3).saturating_sub(pad.min(2))
}

pub fn b64_encode(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn b64url_nopad_encode(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn b64url_nopad_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Simple glob match supporting `*` (any run) and `?` (one char).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_roundtrip() {
        let t = 1_795_300_496;
        let s = rfc3339(t);
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn b64_check_accepts_exactly_what_decoding_accepts() {
        // every string of length 0..=8 over symbols covering each class (zero and non-zero
        // trailing bits, padding, a byte outside the alphabet)
        let symbols = ["A", "B", "Q", "g", "/", "+", "=", "-", "\n"];
        let mut inputs = vec![String::new()];
        let mut level = vec![String::new()];
        for _ in 0..6 {
            level = level.iter().flat_map(|p| symbols.iter().map(move |c| format!("{p}{c}"))).collect();
            inputs.extend(level.iter().cloned());
        }
        inputs.extend(["QUJD", "QUI=", "QUJ=", "QQ==", "QR==", "QUJDRA==", "====", "A===", "AAAA===="].map(String::from));
        inputs.push(b64_encode(&(0..=255u8).collect::<Vec<_>>()));
        for s in &inputs {
            assert_eq!(b64_check(s), b64_decode(s).map(|_| ()), "{s:?}");
        }
    }

    #[test]
    fn uid_shape() {
        let u = new_uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(new_uid(), u);
    }

    #[test]
    fn decode_query() {
        let q = parse_query("labelSelector=app%3D%3D%3Dx&limit=2&x");
        assert_eq!(q[0], ("labelSelector".into(), "app===x".into()));
        assert_eq!(q[2], ("x".into(), "".into()));
        assert_eq!(url_decode("%", false), "%");
        assert_eq!(url_decode("%4", false), "%4");
        assert_eq!(url_decode("a%zz", false), "a%zz");
    }

    #[test]
    fn globbing() {
        assert!(glob_match("sh.helm.*", "sh.helm.release.v1.a.v1"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("a*c", "abbbc"));
    }

    #[test]
    fn b64_len() {
        for n in 0..10 {
            let v = vec![7u8; n];
            assert_eq!(b64_decoded_len(&b64_encode(&v)), n);
        }
    }
}
