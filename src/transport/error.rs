//! Errors of the MQTT transports: [`MqttConfigError`] when a transport is set up, before any
//! I/O; [`MqttError`] when connecting or publishing; [`Refusal`] for a CONNACK that says no.

use super::connect::ConnectError;
use crate::topic::TopicError;
use core::fmt;
use embedded_io_async::ErrorKind;

/// The broker refused the connection in its CONNACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Refusal {
    /// MQTT 3.1.1 return code 1: the broker does not speak protocol level 4; try MQTT 5.
    ProtocolVersion,
    /// MQTT 3.1.1 return code 2: the client id is not allowed (too long, wrong characters,
    /// or, on ThingSpeak, not an MQTT device's id).
    IdentifierRejected,
    /// MQTT 3.1.1 return code 3: the MQTT service is down; try again later.
    ServerUnavailable,
    /// MQTT 3.1.1 return code 4: the user name or password is malformed.
    BadUsernameOrPassword,
    /// MQTT 3.1.1 return code 5: not authorized.
    ///
    /// **On ThingSpeak** this means one of: the MQTT device's client id, user name or
    /// password is wrong (copy all three from the device's page again); the device is not
    /// allowed to publish to this channel; or the CONNECT carried a Will or
    /// CleanSession = 0, both of which ThingSpeak refuses (its profile in this crate sends
    /// neither).
    NotAuthorized,
    /// MQTT 5 reason code 0x9C, "use another server": the broker sends its clients
    /// elsewhere (MQTT 5 §4.11). The Server Reference property that may name the other
    /// server is not read (minimq 0.13 does not pass it on); the transport's next connect
    /// tries the next broker of its list ([`MqttOptions::with_fallbacks`]).
    ///
    /// [`MqttOptions::with_fallbacks`]: crate::MqttOptions::with_fallbacks
    UseAnotherServer,
    /// MQTT 5 reason code 0x9D, "server moved": as
    /// [`UseAnotherServer`](Self::UseAnotherServer), for good.
    ServerMoved,
    /// An MQTT 5 CONNACK reason code (0x80 and above, MQTT 5 §3.2.2.2), e.g. 0x86 bad user
    /// name or password, 0x87 not authorized, 0x84 unsupported protocol version.
    Reason(u8),
}

impl Refusal {
    /// The refusal an MQTT 5 CONNACK reason `code` (0x80 and above) stands for.
    pub(crate) fn from_mqtt5(code: u8) -> Self {
        match code {
            USE_ANOTHER_SERVER => Refusal::UseAnotherServer,
            SERVER_MOVED => Refusal::ServerMoved,
            code => Refusal::Reason(code),
        }
    }
}

/// MQTT 5 reason code "Use another server" (§2.4, Table 2-6).
const USE_ANOTHER_SERVER: u8 = 0x9c;
/// MQTT 5 reason code "Server moved" (§2.4, Table 2-6).
const SERVER_MOVED: u8 = 0x9d;

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ProtocolVersion => f.write_str("unacceptable protocol version (code 1)"),
            Refusal::IdentifierRejected => f.write_str("client identifier rejected (code 2)"),
            Refusal::ServerUnavailable => f.write_str("server unavailable (code 3)"),
            Refusal::BadUsernameOrPassword => f.write_str("bad user name or password (code 4)"),
            Refusal::NotAuthorized => f.write_str(
                "not authorized (code 5; on ThingSpeak: wrong MQTT-device credentials, or a Will or CleanSession=0 was sent)",
            ),
            Refusal::UseAnotherServer => f.write_str(
                "use another server (MQTT 5 reason code 0x9c): trying the next broker of the list",
            ),
            Refusal::ServerMoved => f.write_str(
                "server moved (MQTT 5 reason code 0x9d): trying the next broker of the list",
            ),
            Refusal::Reason(code) => match reason_name(*code) {
                Some(name) => write!(f, "{name} (MQTT 5 reason code {code:#04x})"),
                None => write!(f, "MQTT 5 reason code {code:#04x}"),
            },
        }
    }
}

/// The meaning of the MQTT 5 CONNACK reason codes users meet (MQTT 5 §3.2.2.2, Table 3-1).
fn reason_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x84 => "unsupported protocol version",
        0x85 => "client identifier not valid",
        0x86 => "bad user name or password",
        0x87 => "not authorized",
        0x88 => "server unavailable",
        0x89 => "server busy",
        0x8A => "banned",
        0x8C => "bad authentication method",
        0x95 => "packet too large",
        0x97 => "quota exceeded",
        0x9F => "connection rate exceeded",
        _ => return None,
    })
}

/// Connecting to the broker or delivering a message failed.
///
/// After every variant but [`QosNotAllowed`](MqttError::QosNotAllowed),
/// [`TooLarge`](MqttError::TooLarge) and [`InvalidTopic`](MqttError::InvalidTopic) (nothing
/// was sent for those) the connection is closed (`is_connected()` is `false`): call `connect`
/// again, which opens a new connection, then send the message again (at-least-once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum MqttError {
    /// The TCP connection could not be opened.
    Connect(ConnectError),
    /// The broker answered CONNECT with a refusal.
    Refused(Refusal),
    /// `publish` or `poll` before a successful `connect`.
    NotConnected,
    /// Reading or writing the connection failed.
    Io(ErrorKind),
    /// The broker closed the connection.
    Closed,
    /// The broker did not answer in time (CONNACK, PUBACK or PINGRESP): the link is taken
    /// as dead.
    Timeout,
    /// The broker sent a packet that is malformed or makes no sense now.
    Protocol,
    /// The broker refused a QoS 1 publish in its PUBACK (MQTT 5 reason code, e.g. 0x87 not
    /// authorized, 0x90 topic name invalid).
    PublishRejected(u8),
    /// The broker refused a subscription in its SUBACK (MQTT 3.1.1: 0x80; MQTT 5: the
    /// reason code, e.g. 0x87 not authorized, 0x8F topic filter invalid). `connect` fails
    /// with it and closes the connection.
    SubscribeRejected(u8),
    /// The message's QoS is above the connection's maximum (ThingSpeak: QoS 0 only).
    /// Nothing was sent.
    QosNotAllowed,
    /// The topic plus payload do not fit the transport's buffers. Nothing was sent: give the
    /// transport bigger buffers.
    TooLarge,
    /// The message's topic cannot be published to (empty, a wildcard, NUL, too long; see
    /// [`validate_topic_name`](crate::validate_topic_name)). Nothing was sent.
    InvalidTopic(TopicError),
    /// The TLS handshake failed (feature `tls`): the broker is not the one trusted, or does
    /// not speak TLS 1.3, or wants a client certificate. Nothing was sent over MQTT.
    #[cfg(feature = "tls")]
    Tls(super::tls::TlsError),
}

impl MqttError {
    /// Whether the message is longer than the transport's buffers hold
    /// ([`TooLarge`](Self::TooLarge)): it can never be sent with them.
    pub const fn is_too_large(&self) -> bool {
        matches!(self, MqttError::TooLarge)
    }

    /// Whether the error is the message's, not the connection's: sending the same message
    /// again can never succeed, while other messages still can. [`TooLarge`](Self::TooLarge),
    /// [`InvalidTopic`](Self::InvalidTopic) and [`QosNotAllowed`](Self::QosNotAllowed): nothing
    /// was sent and the connection is still open. Every other error is transient: reconnect
    /// and send again (a refused or lost connection, a timeout, a broker's refusal in a
    /// PUBACK, which may be lifted).
    pub const fn is_permanent(&self) -> bool {
        matches!(
            self,
            MqttError::TooLarge | MqttError::InvalidTopic(_) | MqttError::QosNotAllowed
        )
    }
}

impl fmt::Display for MqttError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MqttError::Connect(e) => write!(f, "cannot reach the broker: {e}"),
            MqttError::Refused(r) => write!(f, "the broker refused the connection: {r}"),
            MqttError::NotConnected => f.write_str("not connected: call connect first"),
            MqttError::Io(kind) => write!(f, "connection to the broker failed: {kind}"),
            MqttError::Closed => f.write_str("the broker closed the connection"),
            MqttError::Timeout => f.write_str("the broker did not answer in time"),
            MqttError::Protocol => f.write_str("the broker sent an invalid or unexpected packet"),
            MqttError::PublishRejected(code) => {
                write!(
                    f,
                    "the broker refused the message (reason code {code:#04x})"
                )
            }
            MqttError::SubscribeRejected(code) => {
                write!(
                    f,
                    "the broker refused a subscription (return code {code:#04x})"
                )
            }
            MqttError::QosNotAllowed => {
                f.write_str("QoS above what this connection allows (ThingSpeak: QoS 0 only)")
            }
            MqttError::TooLarge => {
                f.write_str("topic and payload do not fit the transport's buffers")
            }
            MqttError::InvalidTopic(e) => write!(f, "nothing was sent: {e}"),
            #[cfg(feature = "tls")]
            MqttError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for MqttError {}

impl From<TopicError> for MqttError {
    fn from(e: TopicError) -> Self {
        MqttError::InvalidTopic(e)
    }
}

impl From<ConnectError> for MqttError {
    fn from(e: ConnectError) -> Self {
        MqttError::Connect(e)
    }
}

/// A transport's configuration is invalid; returned when it is built, before any I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum MqttConfigError {
    /// The buffer is smaller than the receive part asked for, or too small for CONNECT.
    BufferTooSmall,
    /// The client id is longer than the transport stores (minimq: 64 bytes).
    ClientIdTooLong,
    /// The will's topic is longer than the transport stores (minimq: 128 bytes).
    TopicTooLong,
    /// A will on a connection that must not have one: ThingSpeak answers CONNECT with a will
    /// by refusing it (CONNACK 5).
    WillNotAllowed,
    /// QoS above what the service accepts: ThingSpeak accepts QoS 0 only.
    QosNotAllowed,
    /// The options are not valid MQTT (e.g. a will at QoS 2).
    Invalid,
}

impl fmt::Display for MqttConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MqttConfigError::BufferTooSmall => "MQTT buffer too small: give the transport more",
            MqttConfigError::ClientIdTooLong => "MQTT client id too long (at most 64 bytes)",
            MqttConfigError::TopicTooLong => "will topic too long (at most 128 bytes)",
            MqttConfigError::WillNotAllowed => "ThingSpeak refuses a Will (CONNACK 5): remove it",
            MqttConfigError::QosNotAllowed => "ThingSpeak accepts QoS 0 only",
            MqttConfigError::Invalid => "invalid MQTT options",
        })
    }
}

impl core::error::Error for MqttConfigError {}

#[cfg(feature = "tls")]
impl From<super::tls::TlsError> for MqttError {
    fn from(e: super::tls::TlsError) -> Self {
        MqttError::Tls(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_of_the_message_itself_are_permanent() {
        let permanent = [
            MqttError::TooLarge,
            MqttError::InvalidTopic(TopicError::Empty),
            MqttError::QosNotAllowed,
        ];
        let transient = [
            MqttError::Connect(ConnectError::Timeout),
            MqttError::Refused(Refusal::NotAuthorized),
            MqttError::NotConnected,
            MqttError::Io(ErrorKind::ConnectionReset),
            MqttError::Closed,
            MqttError::Timeout,
            MqttError::Protocol,
            MqttError::PublishRejected(0x87),
            MqttError::SubscribeRejected(0x80),
        ];
        assert!(permanent.iter().all(MqttError::is_permanent));
        assert!(!transient.iter().any(MqttError::is_permanent));
        assert!(MqttError::TooLarge.is_too_large());
        assert!(!MqttError::QosNotAllowed.is_too_large());
    }
}
