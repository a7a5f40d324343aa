//! minimq's errors in this crate's terms: setup errors as [`MqttConfigError`], connection and
//! publish errors as [`MqttError`], and our [`QoS`] as minimq's.

use crate::message::QoS;
use crate::transport::{MqttConfigError, MqttError, Refusal};
use embedded_io_async::ErrorKind;

/// Our QoS as minimq's.
pub(super) fn minimq_qos(qos: QoS) -> minimq::QoS {
    match qos {
        QoS::AtMostOnce => minimq::QoS::AtMostOnce,
        QoS::AtLeastOnce => minimq::QoS::AtLeastOnce,
    }
}

/// Options minimq cannot store.
pub(super) fn config_error(e: minimq::ConfigError) -> MqttConfigError {
    match e {
        minimq::ConfigError::BufferSplit => MqttConfigError::BufferTooSmall,
        minimq::ConfigError::ClientIdTooLong => MqttConfigError::ClientIdTooLong,
        minimq::ConfigError::TopicTooLong => MqttConfigError::TopicTooLong,
        _ => MqttConfigError::Invalid,
    }
}

/// A failed CONNECT: a refusal in the CONNACK keeps its reason code.
pub(super) fn connect_error<E: embedded_io_async::Error>(e: minimq::Error<E>) -> MqttError {
    match e {
        minimq::Error::Peer(minimq::PeerError::Rejected(code)) => {
            MqttError::Refused(Refusal::from_mqtt5(code.into()))
        }
        other => session_error(other, QoS::AtMostOnce),
    }
}

/// A failure on a live connection (`qos`: of the publish that failed, if one did).
pub(super) fn session_error<E: embedded_io_async::Error>(
    e: minimq::Error<E>,
    qos: QoS,
) -> MqttError {
    match e {
        minimq::Error::Transport(e) => MqttError::Io(e.kind()),
        minimq::Error::WriteZero => MqttError::Io(ErrorKind::WriteZero),
        minimq::Error::Disconnected => MqttError::Closed,
        minimq::Error::Peer(minimq::PeerError::Rejected(code)) => {
            MqttError::PublishRejected(code.into())
        }
        minimq::Error::Resource(_) => MqttError::TooLarge,
        // minimq refuses a QoS above the broker's maximum as an invalid request.
        minimq::Error::InvalidRequest if qos > QoS::AtMostOnce => MqttError::QosNotAllowed,
        _ => MqttError::Protocol,
    }
}
