//! Validated node paths.
//!
//! Every path that reaches the tree has been through [`NodePath::parse`], so the rest of
//! the namespace never re-checks syntax and a refused path can never leave a half-made node.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::{Error, PathError};

/// The longest path accepted, in bytes. ZooKeeper bounds paths only through its packet size;
/// a fixed bound keeps a single key from dominating snapshots and watch tables.
pub const MAX_PATH_LEN: usize = 1024;

/// An absolute, validated path such as `/elections/db/ballots/b-0000000001`.
///
/// Cloning is cheap (a shared string) because paths are stored in several ordered maps at
/// once (the tree, the session's ephemerals, the watch tables).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodePath(Arc<str>);

impl NodePath {
    /// Checks `raw` and returns it as a path, or says exactly what is wrong with it.
    ///
    /// Rules: starts with `/`; no empty segment (`//`), no trailing slash (except the root
    /// itself), no `.` or `..` segment, no control characters, at most [`MAX_PATH_LEN`] bytes.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        check_syntax(raw).map_err(|reason| Error::InvalidPath {
            path: raw.escape_debug().to_string(),
            reason,
        })?;
        Ok(NodePath(Arc::from(raw)))
    }

    /// The root of the tree, `/`, which always exists and cannot be deleted.
    pub fn root() -> Self {
        NodePath(Arc::from("/"))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        &*self.0 == "/"
    }

    /// The parent path, or `None` for the root.
    pub fn parent(&self) -> Option<NodePath> {
        parent_of(&self.0).map(|parent| NodePath(Arc::from(parent)))
    }

    /// The last segment (the node's name among its siblings); empty for the root.
    pub fn name(&self) -> &str {
        let cut = self.0.rfind('/').expect("validated paths start with /");
        &self.0[cut + 1..]
    }

    /// The path of the child `name` of this node, validated like any other path; `name`
    /// must be one segment (no `/`).
    pub fn child(&self, name: &str) -> Result<NodePath, Error> {
        // `a/b` would name a grandchild: a peer, ballot or sequential name given as a
        // child must be one segment.
        if name.contains('/') {
            return Err(Error::InvalidPath {
                path: format!("{}/{}", self.0.trim_end_matches('/'), name.escape_debug()),
                reason: PathError::SlashInName,
            });
        }
        if self.is_root() {
            NodePath::parse(&format!("/{name}"))
        } else {
            NodePath::parse(&format!("{}/{name}", self.0))
        }
    }

    /// True if `self` is `other` or lies below it.
    pub fn is_within(&self, other: &NodePath) -> bool {
        other.is_root()
            || (self.0.starts_with(&*other.0)
                && matches!(self.0.as_bytes().get(other.0.len()), None | Some(b'/')))
    }

    /// This path and each of its ancestors up to the root, nearest first.
    pub fn ancestors_inclusive(&self) -> impl Iterator<Item = NodePath> {
        std::iter::successors(Some(self.clone()), NodePath::parent)
    }

    /// [`NodePath::ancestors_inclusive`] as text, building no path: for looking each
    /// ancestor up in a map keyed by paths (see the `Borrow<str>` impl), which every
    /// change does for the subtree watches above it.
    pub fn ancestors_inclusive_str(&self) -> impl Iterator<Item = &str> {
        std::iter::successors(Some(&*self.0), |path| parent_of(path))
    }
}

/// The text of the parent of the valid path `path`, or `None` for the root.
fn parent_of(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    let cut = path.rfind('/').expect("validated paths start with /");
    Some(if cut == 0 { "/" } else { &path[..cut] })
}

/// A path compares, orders and hashes as its text, so maps keyed by paths can be looked
/// up with a `&str`.
impl std::borrow::Borrow<str> for NodePath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

fn check_syntax(raw: &str) -> Result<(), PathError> {
    if raw.is_empty() {
        return Err(PathError::Empty);
    }
    if raw.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong {
            len: raw.len(),
            max: MAX_PATH_LEN,
        });
    }
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if raw.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter);
    }
    if raw == "/" {
        return Ok(());
    }
    if raw.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    for segment in raw[1..].split('/') {
        match segment {
            "" => return Err(PathError::EmptySegment),
            "." | ".." => return Err(PathError::RelativeSegment),
            _ => {}
        }
    }
    Ok(())
}

impl TryFrom<String> for NodePath {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self, Error> {
        NodePath::parse(&raw)
    }
}

impl From<NodePath> for String {
    fn from(path: NodePath) -> String {
        path.0.to_string()
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(raw: &str) -> PathError {
        match NodePath::parse(raw) {
            Err(Error::InvalidPath { reason, .. }) => reason,
            other => panic!("{raw:?} should be invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_ordinary_paths() {
        for raw in [
            "/",
            "/a",
            "/a/b",
            "/elections/db/ballots/b-0000000001",
            "/ü/名前",
        ] {
            assert_eq!(NodePath::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn refuses_each_malformation_with_its_reason() {
        assert_eq!(reason(""), PathError::Empty);
        assert_eq!(reason("a/b"), PathError::NotAbsolute);
        assert_eq!(reason("/a/"), PathError::TrailingSlash);
        assert_eq!(reason("/a//b"), PathError::EmptySegment);
        assert_eq!(reason("/a/../b"), PathError::RelativeSegment);
        assert_eq!(reason("/a/./b"), PathError::RelativeSegment);
        assert_eq!(reason("/a\nb"), PathError::ControlCharacter);
        assert_eq!(reason("/a\u{0}"), PathError::ControlCharacter);
        let long = format!("/{}", "x".repeat(MAX_PATH_LEN));
        assert_eq!(
            reason(&long),
            PathError::TooLong {
                len: MAX_PATH_LEN + 1,
                max: MAX_PATH_LEN
            }
        );
    }

    #[test]
    fn a_child_is_one_segment() {
        let peers = NodePath::parse("/electors/jobs/peers").unwrap();
        assert_eq!(peers.child("a").unwrap().as_str(), "/electors/jobs/peers/a");
        let nested = peers.child("a/b").unwrap_err();
        assert!(nested.to_string().contains("'/'"), "{nested}");
        assert_eq!(NodePath::root().child("x").unwrap().as_str(), "/x");
    }

    #[test]
    fn parent_name_and_ancestry() {
        let p = NodePath::parse("/a/bc/d").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "/a/bc");
        assert_eq!(p.name(), "d");
        assert_eq!(
            NodePath::parse("/a").unwrap().parent(),
            Some(NodePath::root())
        );
        assert_eq!(NodePath::root().parent(), None);
        assert!(p.is_within(&NodePath::parse("/a/bc").unwrap()));
        assert!(p.is_within(&NodePath::root()));
        assert!(!p.is_within(&NodePath::parse("/a/b").unwrap()));
        let chain: Vec<_> = p.ancestors_inclusive().map(String::from).collect();
        assert_eq!(chain, ["/a/bc/d", "/a/bc", "/a", "/"]);
    }

    #[test]
    fn ancestors_as_text_are_the_ancestors() {
        for raw in ["/", "/a", "/a/bc/d", "/ü/名前"] {
            let path = NodePath::parse(raw).unwrap();
            let built: Vec<String> = path.ancestors_inclusive().map(String::from).collect();
            let text: Vec<&str> = path.ancestors_inclusive_str().collect();
            assert_eq!(text, built, "for {raw}");
        }
        // Maps keyed by paths find them by their text.
        let map = std::collections::BTreeMap::from([(NodePath::parse("/a/b").unwrap(), 1)]);
        assert_eq!(map.get("/a/b"), Some(&1));
        assert_eq!(map.get("/a"), None);
    }
}
