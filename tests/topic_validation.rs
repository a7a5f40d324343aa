//! Topic names are checked when a sink is built: an empty topic, a wildcard, a NUL or more
//! than 65,535 bytes is a typed error before anything connects; a ThingSpeak channel 0 too.
//! The MQTT 5 transport refuses such topics too, before anything reaches the wire (the
//! MQTT 3.1.1 cases are in `mqtt311_protocol_errors.rs`).

mod common;

use sensorpub::{JsonSink, Quantity, SinkConfigError, ThingSpeakSink, TopicError};
use sensorpub::{Message, QoS, Transport};
use sensorpub::{MqttError, MqttOptions, ThingSpeak};

#[test]
fn json_sinks_refuse_topics_that_cannot_be_published_to() {
    let long = "t".repeat(70_000);
    let cases = [
        ("", TopicError::Empty),
        ("sensorpub/#", TopicError::Wildcard { at: 10 }),
        ("a/+/b", TopicError::Wildcard { at: 2 }),
        // A device named "#" in the example's default topic.
        ("sensorpub/#/value", TopicError::Wildcard { at: 10 }),
        ("a\0b", TopicError::Nul { at: 1 }),
        (long.as_str(), TopicError::TooLong { len: 70_000 }),
    ];
    for (topic, error) in cases {
        assert_eq!(
            JsonSink::value(topic),
            Err(SinkConfigError::InvalidTopic(error))
        );
        assert_eq!(
            JsonSink::object(topic),
            Err(SinkConfigError::InvalidTopic(error))
        );
    }
}

#[test]
fn json_sinks_accept_ordinary_topics_up_to_65535_bytes() {
    let longest = "t".repeat(65_535);
    for topic in ["apricot/value", "/", "température", longest.as_str()] {
        assert_eq!(JsonSink::value(topic).map(|s| s.topic()), Ok(topic));
        assert_eq!(JsonSink::object(topic).map(|s| s.topic()), Ok(topic));
    }
}

#[test]
fn thingspeak_channel_0_is_refused() {
    let fields = [(1, Quantity::Value)];
    assert_eq!(
        ThingSpeakSink::new(0, &fields).err(),
        Some(SinkConfigError::ChannelZero)
    );
    let profile = ThingSpeak::new(0, "id", "user", "secret");
    assert_eq!(
        profile.sink(&fields).err(),
        Some(SinkConfigError::ChannelZero)
    );
    assert!(ThingSpeakSink::new(1, &fields).is_ok());
}

#[test]
fn topic_errors_say_what_is_wrong() {
    let message = SinkConfigError::InvalidTopic(TopicError::Wildcard { at: 2 }).to_string();
    assert!(message.contains("wildcard"), "{message}");
    assert!(
        SinkConfigError::ChannelZero
            .to_string()
            .contains("channel 0")
    );
}

#[test]
fn mqtt5_refuses_invalid_topics_before_anything_is_written() {
    let broker = common::TestBroker::start();
    let mut subscriber = broker.subscribe("a/b");
    let long = "t".repeat(70_000);
    let cases = [
        ("", TopicError::Empty),
        ("a/#", TopicError::Wildcard { at: 2 }),
        ("a/+/b", TopicError::Wildcard { at: 2 }),
        ("#", TopicError::Wildcard { at: 0 }),
        ("a\0b", TopicError::Nul { at: 1 }),
        (long.as_str(), TopicError::TooLong { len: 70_000 }),
    ];
    let options = MqttOptions::new("topics-5");
    common::with_mqtt5(broker.port(common::Version::V5), options, async |mqtt| {
        mqtt.connect().await.expect("connect");
        for (topic, error) in cases {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
                let message = Message::new(topic, b"1").with_qos(qos);
                assert_eq!(
                    mqtt.publish(&message).await,
                    Err(MqttError::InvalidTopic(error))
                );
                // Nothing was sent, so the connection is fine.
                assert!(mqtt.is_connected());
            }
        }
        mqtt.publish(&Message::new("a/b", b"ok").with_qos(QoS::AtLeastOnce))
            .await
            .expect("a valid topic");
        mqtt.disconnect().await;
    });
    assert_eq!(subscriber.payloads(1), [b"ok".to_vec()]);
}

#[test]
fn mqtt5_refuses_a_will_or_birth_with_an_invalid_topic_before_connecting() {
    // Nothing listens on port 9: the error must come before any connection attempt.
    let will = MqttOptions::new("hostile").with_will(Message::new("dev/+/status", b"offline"));
    let birth = MqttOptions::new("hostile").with_birth(Message::new("dev/#", b"online"));
    for (options, error) in [
        (will, TopicError::Wildcard { at: 4 }),
        (birth, TopicError::Wildcard { at: 4 }),
    ] {
        let result = common::with_mqtt5(9, options, async |mqtt| mqtt.connect().await);
        assert_eq!(result, Err(MqttError::InvalidTopic(error)));
    }
}
