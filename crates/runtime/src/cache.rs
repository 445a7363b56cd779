//! Compiled components by content hash, bounded.
//!
//! Compiling a component takes a second of CPU and its machine code tens of megabytes, so
//! a host keeps what it compiled: a redeploy, a restart after a swap back, or a second
//! deployment of the same bytes starts at once. But a host that runs for months sees
//! many versions come and go; keeping every one would grow without end. So the cache
//! keeps every component a deployment or a registered function still uses, and besides
//! those at most [`ComponentCache::idle_capacity`] idle ones, dropping the least recently
//! used idle ones first. Dropping an entry a deployment still holds frees nothing (the
//! deployment holds the code); dropping an idle one frees its memory.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::Component;

use super::compiled::DiskCache;

/// A component's content hash (SHA-256 of its bytes).
pub type Digest = [u8; 32];

/// Idle components a cache keeps by default: room for the versions an operator swaps
/// between and for a test binary's fixtures, small against a host's memory.
pub const IDLE_COMPONENTS: usize = 32;

/// Compiled components by content hash, shareable between runtimes on one engine (a
/// test binary's runtimes, say), so each component is compiled once per process.
///
/// A cache belongs to the engine that compiled its components: share it only between
/// runtimes built on clones of the same [`wasmtime::Engine`].
#[derive(Clone)]
pub struct ComponentCache {
    entries: Arc<Mutex<Entries>>,
    /// Where compiled components outlive the process, if anywhere.
    disk: Option<DiskCache>,
    counts: Arc<Counts>,
}

/// How components came to be held, for metrics and tests.
#[derive(Default)]
struct Counts {
    compiled: AtomicU64,
    loaded: AtomicU64,
    discarded: AtomicU64,
}

struct Entries {
    by_digest: HashMap<Digest, Entry>,
    /// Bumped at every use: the larger, the more recent.
    clock: u64,
    idle_capacity: usize,
}

struct Entry {
    component: Component,
    used: u64,
}

impl Default for ComponentCache {
    fn default() -> Self {
        Self::with_idle_capacity(IDLE_COMPONENTS)
    }
}

impl ComponentCache {
    /// A cache that keeps at most `idle_capacity` components no deployment uses.
    pub fn with_idle_capacity(idle_capacity: usize) -> Self {
        ComponentCache {
            entries: Arc::new(Mutex::new(Entries {
                by_digest: HashMap::new(),
                clock: 0,
                idle_capacity,
            })),
            disk: None,
            counts: Arc::default(),
        }
    }

    /// How many components were compiled from their bytes.
    pub fn compiled(&self) -> u64 {
        self.counts.compiled.load(Ordering::Relaxed)
    }

    /// How many were loaded from the on-disk tier instead of compiled.
    pub fn loaded_from_disk(&self) -> u64 {
        self.counts.loaded.load(Ordering::Relaxed)
    }

    /// How many on-disk entries were found torn, altered or foreign and deleted.
    pub fn discarded_from_disk(&self) -> u64 {
        self.counts.discarded.load(Ordering::Relaxed)
    }

    /// Counts a component obtained by compiling it (`compiled`) or by loading it from disk.
    pub(crate) fn note_obtained(&self, compiled: bool) {
        let counter = if compiled {
            &self.counts.compiled
        } else {
            &self.counts.loaded
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an on-disk entry found bad and deleted.
    pub(crate) fn note_discarded(&self) {
        self.counts.discarded.fetch_add(1, Ordering::Relaxed);
    }

    /// This cache, keeping every component it compiles in `disk` as well and looking
    /// there before compiling, so a restarted host loads instead of compiling.
    pub fn with_disk(mut self, disk: DiskCache) -> Self {
        self.disk = Some(disk);
        self
    }

    /// The on-disk tier, if any.
    pub fn disk(&self) -> Option<&DiskCache> {
        self.disk.as_ref()
    }

    /// How many idle components it keeps at most.
    pub fn idle_capacity(&self) -> usize {
        self.lock().idle_capacity
    }

    /// The number of compiled components held.
    pub fn len(&self) -> usize {
        self.lock().by_digest.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.lock().by_digest.is_empty()
    }

    /// Whether the component compiled from the bytes with this digest is held.
    pub(crate) fn contains(&self, digest: &Digest) -> bool {
        self.lock().by_digest.contains_key(digest)
    }

    /// The component compiled from the bytes with this digest, if held; counts as a use.
    pub(crate) fn get(&self, digest: &Digest) -> Option<Component> {
        let mut entries = self.lock();
        entries.clock += 1;
        let now = entries.clock;
        entries.by_digest.get_mut(digest).map(|entry| {
            entry.used = now;
            entry.component.clone()
        })
    }

    /// Keeps `component` as the compilation of the bytes with this digest.
    pub(crate) fn insert(&self, digest: Digest, component: Component) {
        let mut entries = self.lock();
        entries.clock += 1;
        let used = entries.clock;
        entries.by_digest.insert(digest, Entry { component, used });
    }

    /// Drops the least recently used components not in `in_use` until at most
    /// [`ComponentCache::idle_capacity`] of them are left; returns how many went.
    pub(crate) fn evict_idle(&self, in_use: &HashSet<Digest>) -> usize {
        let mut entries = self.lock();
        let mut idle: Vec<(u64, Digest)> = entries
            .by_digest
            .iter()
            .filter(|(digest, _)| !in_use.contains(*digest))
            .map(|(digest, entry)| (entry.used, *digest))
            .collect();
        let excess = idle.len().saturating_sub(entries.idle_capacity);
        if excess == 0 {
            return 0;
        }
        idle.sort_unstable();
        for (_, digest) in &idle[..excess] {
            entries.by_digest.remove(digest);
        }
        excess
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every update is a single map operation: a panic cannot leave it half done.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
