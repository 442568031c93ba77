//! A gzip bomb must be refused quickly and without allocating what it would inflate to.
//!
//! This test binary counts heap allocation (its own global allocator), so it holds only this test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kubectl_werf::storage::codec::{self, CodecError, DecodeLimits};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MIB: usize = 1 << 20;

/// ~1 MiB of gzip inflating to 1 GiB of zeros: a member made by streaming 8 MiB of zeros through the
/// encoder at best compression, repeated 128 times (gzip readers, Go's and ours, read every member).
fn gzip_bomb() -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; MIB];
    for _ in 0..8 {
        enc.write_all(&zeros).unwrap();
    }
    let member = enc.finish().unwrap();
    member.repeat(128)
}

/// Peak heap growth while running `f`.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

#[test]
fn gzip_bomb_is_refused_quickly_without_big_allocation() {
    let t = Instant::now();
    let bomb = gzip_bomb();
    eprintln!("bomb: {} bytes compressed, 1 GiB inflated, built in {:?}", bomb.len(), t.elapsed());
    assert!(bomb.len() < 2 * MIB, "compressed {} bytes", bomb.len());
    let text = codec::encode_base64(&bomb);
    drop(bomb);

    // Default limit (64 MiB), Helm 3 path.
    let start = Instant::now();
    let (res, peak) = peak_during(|| codec::decode_helm3(text.as_bytes(), &DecodeLimits::default()));
    let e = res.unwrap_err();
    let elapsed = start.elapsed();
    eprintln!("refused at the 64 MiB limit after {elapsed:?}, peak heap growth {} MiB", peak / MIB);
    assert!(matches!(e, CodecError::TooLarge { limit } if limit == 64 << 20), "{e:?}");
    assert_eq!(e.to_string(), "decompressed payload exceeds 64 MiB limit");
    // base64-decoded input (~1 MiB) + output up to the limit + inflater state.
    assert!(peak < 64 * MIB + 4 * MIB, "peak {peak}");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");

    // A small configured limit, Helm 2 path: allocation follows the limit, not the bomb.
    let (res, peak) = peak_during(|| codec::decode_helm2(text.as_bytes(), &DecodeLimits { max_decompressed: MIB as u64 }));
    assert!(matches!(res, Err(CodecError::TooLarge { limit }) if limit == MIB as u64));
    eprintln!("1 MiB limit: peak heap growth {} KiB", peak / 1024);
    assert!(peak < 4 * MIB, "peak {peak}");
}
