//! Topic names are checked when a sink is built: an empty topic, a wildcard, a NUL or more
//! than 65,535 bytes is a typed error before anything connects; a ThingSpeak channel 0 too.

use sensorpub::transport::ThingSpeak;
use sensorpub::{ConfigError, JsonSink, Quantity, ThingSpeakSink, TopicError};

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
            Err(ConfigError::InvalidTopic(error))
        );
        assert_eq!(
            JsonSink::object(topic),
            Err(ConfigError::InvalidTopic(error))
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
        Some(ConfigError::ChannelZero)
    );
    let profile = ThingSpeak::new(0, "id", "user", "secret");
    assert_eq!(profile.sink(&fields).err(), Some(ConfigError::ChannelZero));
    assert!(ThingSpeakSink::new(1, &fields).is_ok());
}

#[test]
fn topic_errors_say_what_is_wrong() {
    let message = ConfigError::InvalidTopic(TopicError::Wildcard { at: 2 }).to_string();
    assert!(message.contains("wildcard"), "{message}");
    assert!(ConfigError::ChannelZero.to_string().contains("channel 0"));
}
