//! Giving memory back after a crowd of streams leaves.
//!
//! Each open event or timeline stream holds connection buffers and its share of the
//! events in flight. When the streams close the code frees all of it, but glibc's malloc
//! keeps freed memory in its per-thread arenas instead of returning it to the system:
//! measured with `ballot bench events`, 2,000 streams took the host from 60 MB to 160 MB,
//! and it stayed at 161 MB after they closed; asking malloc to trim brought it to 51 MB.
//! So a thread of its own asks malloc to trim once many streams have closed since it
//! last did. A host whose streams stay open never trims, and pays nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Streams closed since the last trim.
static CLOSED_STREAMS: AtomicU64 = AtomicU64::new(0);

/// How often the trimmer looks at the count.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Streams that must have closed for a trim to be worth its pass over the heap.
const TRIM_AFTER_STREAMS: u64 = 64;

/// Counts a stream as closed when dropped: held by each event and timeline stream.
pub struct StreamGuard(());

impl StreamGuard {
    /// A guard for a stream that just opened.
    pub fn new() -> Self {
        StreamGuard(())
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        CLOSED_STREAMS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts the trimmer thread (on glibc; elsewhere the allocator is left to itself).
pub fn start_trimming() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::thread::Builder::new()
            .name("ballot-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(LOOK_EVERY);
                    if CLOSED_STREAMS.load(Ordering::Relaxed) >= TRIM_AFTER_STREAMS {
                        let closed = CLOSED_STREAMS.swap(0, Ordering::Relaxed);
                        // SAFETY: malloc_trim takes a plain size and only touches
                        // malloc's own state, under malloc's own locks.
                        let released = unsafe { libc::malloc_trim(0) };
                        tracing::debug!(closed, released, "asked malloc to give back memory");
                    }
                }
            });
        if let Err(error) = started {
            tracing::warn!(%error, "could not start the memory trimmer");
        }
    }
}
