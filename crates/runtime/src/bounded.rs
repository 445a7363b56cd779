//! What the runtime keeps for people to read (its timeline and guests' log lines), kept in
//! bounded memory: a host that runs for months, or a guest that logs in a loop, must not
//! grow without limit. Old entries go first; what was dropped is counted, not hidden.

use std::collections::{HashMap, VecDeque};

/// The newest `cap` items of a sequence, each numbered from 0 in arrival order, so a reader
/// can follow it by number ([`Ring::from`]) even after old items were dropped.
#[derive(Debug)]
pub(crate) struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
    /// The number of the oldest item kept (= how many were dropped).
    first: u64,
}

impl<T: Clone> Ring<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Ring {
            items: VecDeque::new(),
            cap: cap.max(1),
            first: 0,
        }
    }

    /// Appends `item`, dropping the oldest at the cap; returns the item's number.
    pub(crate) fn push(&mut self, item: T) -> u64 {
        if self.items.len() == self.cap {
            self.items.pop_front();
            self.first += 1;
        }
        self.items.push_back(item);
        self.next() - 1
    }

    /// The number the next item will get: a cursor for [`Ring::from`].
    pub(crate) fn next(&self) -> u64 {
        self.first + self.items.len() as u64
    }

    /// Every kept item numbered `cursor` or later.
    pub(crate) fn from(&self, cursor: u64) -> Vec<T> {
        let skip = cursor.saturating_sub(self.first) as usize;
        self.items.iter().skip(skip).cloned().collect()
    }

    /// How many items were dropped at the cap.
    pub(crate) fn dropped(&self) -> u64 {
        self.first
    }
}

/// Guests' log lines, per deployment, each deployment's capped in bytes: a guest that logs
/// in a loop overwrites its own oldest lines and no one else's.
#[derive(Debug)]
pub(crate) struct LogBuffer {
    per_deployment_bytes: usize,
    next: u64,
    deployments: HashMap<String, Lines>,
    dropped: u64,
}

#[derive(Debug, Default)]
struct Lines {
    lines: VecDeque<(u64, String)>,
    bytes: usize,
}

impl LogBuffer {
    pub(crate) fn new(per_deployment_bytes: usize) -> Self {
        LogBuffer {
            per_deployment_bytes,
            next: 0,
            deployments: HashMap::new(),
            dropped: 0,
        }
    }

    /// Keeps `line` for `deployment`, dropping that deployment's oldest lines past its cap.
    pub(crate) fn push(&mut self, deployment: &str, line: &str) {
        let kept = match self.deployments.get_mut(deployment) {
            Some(kept) => kept,
            None => self.deployments.entry(deployment.to_string()).or_default(),
        };
        kept.lines.push_back((self.next, line.to_string()));
        kept.bytes += line.len();
        self.next += 1;
        while kept.bytes > self.per_deployment_bytes && kept.lines.len() > 1 {
            if let Some((_, old)) = kept.lines.pop_front() {
                kept.bytes -= old.len();
                self.dropped += 1;
            }
        }
    }

    /// Lets `deployment`'s lines go: it was undeployed, and its memory comes back.
    pub(crate) fn forget(&mut self, deployment: &str) {
        self.deployments.remove(deployment);
    }

    /// Counts a line dropped before it was kept (by a quota).
    pub(crate) fn note_dropped(&mut self) {
        self.dropped += 1;
    }

    /// Every kept line, oldest first across deployments: (deployment, line).
    pub(crate) fn all(&self) -> Vec<(String, String)> {
        let mut all: Vec<(u64, &str, &str)> = self
            .deployments
            .iter()
            .flat_map(|(name, kept)| {
                kept.lines
                    .iter()
                    .map(move |(seq, line)| (*seq, name.as_str(), line.as_str()))
            })
            .collect();
        all.sort_unstable_by_key(|(seq, _, _)| *seq);
        all.into_iter()
            .map(|(_, name, line)| (name.to_string(), line.to_string()))
            .collect()
    }

    /// `deployment`'s kept lines numbered `after` or later, oldest first: (number, line).
    pub(crate) fn lines_of(&self, deployment: &str, after: u64) -> Vec<(u64, String)> {
        self.deployments
            .get(deployment)
            .map(|kept| {
                kept.lines
                    .iter()
                    .filter(|(seq, _)| *seq >= after)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The number the next line will get: a cursor for following from now.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Bytes of log text kept, across deployments.
    pub(crate) fn bytes(&self) -> usize {
        self.deployments.values().map(|kept| kept.bytes).sum()
    }

    /// Lines dropped at a deployment's cap or by a quota.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deployments_lines_follow_by_number() {
        let mut logs = LogBuffer::new(1 << 10);
        logs.push("a", "one");
        logs.push("b", "other");
        logs.push("a", "two");
        assert_eq!(
            logs.lines_of("a", 0),
            [(0, "one".to_string()), (2, "two".to_string())]
        );
        assert_eq!(logs.lines_of("a", 1), [(2, "two".to_string())]);
        assert!(logs.lines_of("a", logs.next()).is_empty());
        assert!(logs.lines_of("nobody", 0).is_empty());
    }

    #[test]
    fn a_ring_keeps_the_newest_and_follows_by_number() {
        let mut ring = Ring::new(3);
        for i in 0..5 {
            assert_eq!(ring.push(i), i as u64);
        }
        assert_eq!(ring.from(0), vec![2, 3, 4]);
        assert_eq!(ring.from(4), vec![4]);
        assert_eq!(ring.from(5), Vec::<i32>::new());
        assert_eq!((ring.next(), ring.dropped()), (5, 2));
    }

    #[test]
    fn a_chatty_deployment_overwrites_only_its_own_lines() {
        let mut logs = LogBuffer::new(10);
        logs.push("quiet", "hello");
        for i in 0..100 {
            logs.push("chatty", &format!("line {i:02}"));
        }
        let all = logs.all();
        assert_eq!(all[0], ("quiet".to_string(), "hello".to_string()));
        assert_eq!(all.last().unwrap().1, "line 99");
        assert!(logs.bytes() <= 10 + 5, "{}", logs.bytes());
        assert_eq!(logs.dropped(), 99);
    }
}
