//! Errors of the sinks: [`SinkConfigError`] when a sink is built, [`EncodeError`] per sample.

use crate::reading::Quantity;
use crate::topic::TopicError;
use core::fmt;

/// A sink's configuration is invalid; returned when the sink is built, before any I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SinkConfigError {
    /// A ThingSpeak field number outside `1..=8`.
    FieldOutOfRange {
        /// The number given.
        field: u8,
    },
    /// Two readings were mapped to the same ThingSpeak field.
    DuplicateField {
        /// The field given twice.
        field: u8,
    },
    /// More decimals than [`MAX_DECIMALS`](crate::sink::MAX_DECIMALS).
    TooManyDecimals {
        /// The number given.
        decimals: u8,
    },
    /// A JSON key holds `"`, `\` or a control character. Keys are written
    /// verbatim, so these would make the output invalid JSON.
    InvalidKey,
    /// A ThingSpeak latitude, longitude or elevation that is NaN or infinite.
    NonFiniteLocation,
    /// A ThingSpeak status longer than 255 bytes (ThingSpeak's limit for one field).
    StatusTooLong,
    /// A SenML device name that is empty, does not start with a letter or digit, or holds a
    /// character other than `A-Z a-z 0-9 - : . / _` (RFC 8428 section 4.5.1).
    InvalidName,
    /// The topic is not one a message can be published to (empty, a wildcard, NUL, too long).
    InvalidTopic(TopicError),
    /// ThingSpeak channel 0: channel ids start at 1 (copy it from the channel's page).
    ChannelZero,
}

impl fmt::Display for SinkConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkConfigError::FieldOutOfRange { field } => {
                write!(f, "ThingSpeak field {field} is out of range: use 1..=8")
            }
            SinkConfigError::DuplicateField { field } => {
                write!(
                    f,
                    "ThingSpeak field {field} is mapped twice: give each reading its own field"
                )
            }
            SinkConfigError::TooManyDecimals { decimals } => {
                write!(
                    f,
                    "{decimals} decimals requested: at most {} are supported",
                    super::MAX_DECIMALS
                )
            }
            SinkConfigError::InvalidKey => {
                f.write_str("JSON key contains '\"', '\\' or a control character")
            }
            SinkConfigError::NonFiniteLocation => {
                f.write_str("ThingSpeak latitude, longitude or elevation is not a finite number")
            }
            SinkConfigError::StatusTooLong => {
                f.write_str("ThingSpeak status is longer than 255 bytes")
            }
            SinkConfigError::InvalidName => f.write_str(
                "SenML name must start with a letter or digit and hold only A-Z a-z 0-9 - : . / _",
            ),
            SinkConfigError::InvalidTopic(e) => e.fmt(f),
            SinkConfigError::ChannelZero => {
                f.write_str("ThingSpeak channel 0 does not exist: channel ids start at 1")
            }
        }
    }
}

impl core::error::Error for SinkConfigError {}

impl From<TopicError> for SinkConfigError {
    fn from(e: TopicError) -> Self {
        SinkConfigError::InvalidTopic(e)
    }
}

/// A sample could not be encoded; no message was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The buffer cannot hold the payload (and, for a ThingSpeak field message, its topic):
    /// give the publisher a bigger buffer.
    BufferTooSmall,
    /// A reading is NaN or infinite. JSON has no such numbers and ThingSpeak would store
    /// garbage, so the sample is refused instead; check the sensor.
    NonFinite {
        /// The quantity whose value was not finite.
        quantity: Quantity,
    },
    /// The sample holds nothing this sink sends (no reading, or none mapped to a field).
    NothingToSend,
    /// Two readings would be written under the same JSON key; the object would be ambiguous.
    /// Give one of them another quantity or key.
    DuplicateKey {
        /// The quantity of the second reading with that key.
        quantity: Quantity,
    },
    /// `index` is not below [`Sink::message_count`](crate::Sink::message_count).
    NoSuchMessage,
    /// The rate limit forbids a message now (ThingSpeak: 15 s between updates on a free
    /// account). Wait `retry_in_ms`; [`Publisher`](crate::Publisher) does this by itself.
    TooSoon {
        /// Milliseconds until the next message is allowed.
        retry_in_ms: u64,
    },
    /// SenML: a [`Quantity::Custom`] name is empty or holds a character SenML names may not
    /// (only `A-Z a-z 0-9 - : . / _`).
    InvalidName {
        /// The quantity with that name.
        quantity: Quantity,
    },
    /// SenML: a [`Quantity::Custom`] unit is not in RFC 8428's unit registry (section 12.1),
    /// so a SenML consumer could not interpret it. Use a registered symbol or none (`""`).
    UnregisteredUnit {
        /// The quantity with that unit.
        quantity: Quantity,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall => f.write_str("buffer too small for the message"),
            EncodeError::NonFinite { quantity } => {
                write!(f, "{quantity} is not a finite number; nothing was sent")
            }
            EncodeError::NothingToSend => f.write_str("sample holds no reading this sink sends"),
            EncodeError::DuplicateKey { quantity } => {
                write!(
                    f,
                    "{quantity} would repeat a JSON key already in the object"
                )
            }
            EncodeError::NoSuchMessage => f.write_str("message index beyond the sample's messages"),
            EncodeError::TooSoon { retry_in_ms } => {
                write!(f, "rate limit: next message allowed in {retry_in_ms} ms")
            }
            EncodeError::InvalidName { quantity } => {
                write!(f, "{quantity} is not a valid SenML name")
            }
            EncodeError::UnregisteredUnit { quantity } => {
                write!(f, "the unit of {quantity} is not a registered SenML unit")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

/// Checks a JSON key given by the user: refuses what would need escaping, so a key is written
/// as given (and `JsonSink` can copy it verbatim).
pub(crate) fn check_key(key: &str) -> Result<(), SinkConfigError> {
    if key.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(SinkConfigError::InvalidKey);
    }
    Ok(())
}
