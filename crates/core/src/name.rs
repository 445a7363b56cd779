//! The one rule every name a user gives follows: elections, electors, lease peers and
//! deployments. A name is one path segment (so it maps to exactly one folder of the
//! namespace, and nothing can be nested under it by a `/`), printable, and short enough
//! to show and to key by.

use crate::namespace::Error;

/// Longest name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Checks `name` as a name of `kind` (`election`, `peer`, `deployment`): non-empty, at
/// most [`MAX_NAME_LEN`] bytes, no `/`, no control characters, and not `.` or `..`.
/// The refusal is [`Error::Invalid`], naming the kind, the name and the rule broken, so
/// every kind of name is refused the same way (the API's 400 `invalid`).
pub fn check(kind: &str, name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "the name is empty"
    } else if name.len() > MAX_NAME_LEN {
        "the name is longer than 128 bytes"
    } else if name.contains('/') {
        "the name contains '/'"
    } else if name.chars().any(char::is_control) {
        "the name contains a control character"
    } else if name == "." || name == ".." {
        "the name is '.' or '..'"
    } else {
        return Ok(());
    };
    Err(Error::Invalid {
        subject: format!("{kind} {:?}", name.escape_debug().to_string()),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_named_and_good_names_pass() {
        for good in ["db", "leader-1", "a.b", "ünïcode", "x y", &"n".repeat(128)] {
            assert_eq!(check("election", good), Ok(()), "{good:?}");
        }
        let bad = [
            ("", "empty"),
            (&"n".repeat(129) as &str, "longer than 128"),
            ("a/b", "'/'"),
            ("tab\there", "control character"),
            ("..", "'..'"),
        ];
        for (name, rule) in bad {
            let refused = check("peer", name).unwrap_err().to_string();
            assert!(
                refused.contains(rule) && refused.contains("peer"),
                "{refused}"
            );
        }
    }
}
