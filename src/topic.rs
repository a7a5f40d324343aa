//! MQTT topic names: [`validate_topic_name`] checks the rules every broker enforces, so a bad
//! topic is refused with a typed [`TopicError`] when a sink is built or before a transport
//! writes a PUBLISH, not by a broker that drops the connection with no reason given.
//!
//! A topic *name* (what a PUBLISH carries) is at least one byte, at most 65,535 bytes of UTF-8
//! (a `&str` already is), holds no wildcard (`#`, `+`: those belong to subscription filters)
//! and no U+0000 (MQTT 3.1.1 §4.7.1, §4.7.3, §1.5.3; MQTT 5 §4.7.1, §4.7.3, §1.5.4).

use core::fmt;

/// The longest topic name, in bytes: its length is a two-byte integer on the wire
/// (MQTT 3.1.1 §1.5.3, MQTT 5 §1.5.4).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Why a topic name cannot be published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TopicError {
    /// The topic is empty; MQTT requires at least one character (§4.7.3).
    Empty,
    /// The topic holds the wildcard `#` or `+` at byte `at`. Wildcards are for subscribing;
    /// a PUBLISH with one is a protocol violation (§4.7.1). Check the device name or channel
    /// that went into the topic.
    Wildcard {
        /// Byte offset of the first wildcard.
        at: usize,
    },
    /// The topic holds U+0000 at byte `at`, which MQTT strings must not contain (§1.5.3).
    Nul {
        /// Byte offset of the first NUL.
        at: usize,
    },
    /// The topic is longer than [`MAX_TOPIC_LEN`] bytes.
    TooLong {
        /// The topic's length in bytes.
        len: usize,
    },
    /// A subscription filter holds a wildcard where MQTT does not allow one: `#` that is
    /// not the whole last level, or `+` that is not a whole level (§4.7.1.2, §4.7.1.3).
    MisplacedWildcard {
        /// Byte offset of the misplaced wildcard.
        at: usize,
    },
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::Empty => f.write_str("the MQTT topic is empty"),
            TopicError::Wildcard { at } => write!(
                f,
                "the MQTT topic holds a wildcard ('#' or '+') at byte {at}: \
                 wildcards are for subscribing, not publishing"
            ),
            TopicError::Nul { at } => {
                write!(f, "the MQTT topic holds a NUL character at byte {at}")
            }
            TopicError::TooLong { len } => write!(
                f,
                "the MQTT topic is {len} bytes long: at most {MAX_TOPIC_LEN} are allowed"
            ),
            TopicError::MisplacedWildcard { at } => write!(
                f,
                "the MQTT topic filter has a misplaced wildcard at byte {at}: '+' must be a \
                 whole level, '#' the whole last level"
            ),
        }
    }
}

impl core::error::Error for TopicError {}

/// Checks that `topic` may be published to: not empty, no `#` or `+`, no NUL, at most
/// [`MAX_TOPIC_LEN`] bytes. The sinks call it when they are built and the MQTT transports
/// before they write a PUBLISH.
///
/// ```
/// use sensorpub::{TopicError, validate_topic_name};
///
/// assert_eq!(validate_topic_name("sensorpub/apricot/value"), Ok(()));
/// assert_eq!(validate_topic_name("a/+/b"), Err(TopicError::Wildcard { at: 2 }));
/// assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
/// ```
pub const fn validate_topic_name(topic: &str) -> Result<(), TopicError> {
    let bytes = topic.as_bytes();
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    if bytes.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong { len: bytes.len() });
    }
    // UTF-8 never uses these ASCII bytes inside a multi-byte character, so a byte scan finds
    // exactly the characters.
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'#' | b'+' => return Err(TopicError::Wildcard { at }),
            0 => return Err(TopicError::Nul { at }),
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

/// Checks that `filter` may be subscribed to: not empty, no NUL, at most
/// [`MAX_TOPIC_LEN`] bytes, and wildcards only where MQTT allows them: `+` as a whole level,
/// `#` as the whole last level (MQTT 3.1.1 §4.7.1, MQTT 5 §4.7.1). Both MQTT transports call
/// it before they subscribe.
///
/// ```
/// use sensorpub::{TopicError, validate_topic_filter};
///
/// assert_eq!(validate_topic_filter("apricot/set/+"), Ok(()));
/// assert_eq!(validate_topic_filter("apricot/#"), Ok(()));
/// assert_eq!(validate_topic_filter("apricot/se#"), Err(TopicError::MisplacedWildcard { at: 10 }));
/// assert_eq!(validate_topic_filter("a/#/b"), Err(TopicError::MisplacedWildcard { at: 2 }));
/// ```
pub const fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    let bytes = filter.as_bytes();
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    if bytes.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong { len: bytes.len() });
    }
    let mut at = 0;
    while at < bytes.len() {
        let starts_level = at == 0 || bytes[at - 1] == b'/';
        let ends_level = at + 1 == bytes.len() || bytes[at + 1] == b'/';
        match bytes[at] {
            b'+' if !(starts_level && ends_level) => {
                return Err(TopicError::MisplacedWildcard { at });
            }
            b'#' if !(starts_level && at + 1 == bytes.len()) => {
                return Err(TopicError::MisplacedWildcard { at });
            }
            0 => return Err(TopicError::Nul { at }),
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn accepts_ordinary_topics() {
        for topic in [
            "a",
            "/",
            "sensorpub/apricot/value",
            "channels/1234567/publish",
            "température/€",
            "$SYS-like/but/not/a/filter",
        ] {
            assert_eq!(validate_topic_name(topic), Ok(()), "{topic}");
        }
    }

    #[test]
    fn refuses_empty() {
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
    }

    #[test]
    fn refuses_wildcards_anywhere() {
        assert_eq!(
            validate_topic_name("#"),
            Err(TopicError::Wildcard { at: 0 })
        );
        assert_eq!(
            validate_topic_name("a/#"),
            Err(TopicError::Wildcard { at: 2 })
        );
        assert_eq!(
            validate_topic_name("a/+/b"),
            Err(TopicError::Wildcard { at: 2 })
        );
        assert_eq!(
            validate_topic_name("sensorpub/dev#1/value"),
            Err(TopicError::Wildcard { at: 13 })
        );
    }

    #[test]
    fn filters_allow_whole_level_wildcards_only() {
        for filter in ["#", "+", "a/+", "+/b", "a/+/b", "a/#", "/#", "+/+/#", "a/b"] {
            assert_eq!(validate_topic_filter(filter), Ok(()), "{filter}");
        }
        for (filter, at) in [("a#", 1), ("a/#/b", 2), ("a/b+", 3), ("+a", 0), ("#/", 0)] {
            assert_eq!(
                validate_topic_filter(filter),
                Err(TopicError::MisplacedWildcard { at }),
                "{filter}"
            );
        }
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_filter("a\0"), Err(TopicError::Nul { at: 1 }));
    }

    #[test]
    fn refuses_nul() {
        assert_eq!(validate_topic_name("a\0b"), Err(TopicError::Nul { at: 1 }));
    }

    #[test]
    fn length_limit_is_65535_bytes() {
        let mut topic = String::new();
        topic.extend(core::iter::repeat_n('t', MAX_TOPIC_LEN));
        assert_eq!(validate_topic_name(&topic), Ok(()));
        topic.push('t');
        assert_eq!(
            validate_topic_name(&topic),
            Err(TopicError::TooLong { len: 65_536 })
        );
        let long = "x".repeat(70_000);
        assert_eq!(
            validate_topic_name(&long),
            Err(TopicError::TooLong { len: 70_000 })
        );
    }
}
