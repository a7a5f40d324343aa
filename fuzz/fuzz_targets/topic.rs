//! Topic validation on arbitrary text: never panics, agrees with a straightforward reading of
//! the rules (MQTT 3.1.1 §4.7, §1.5.3), and every sink constructor agrees with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensorpub::{JsonSink, MAX_TOPIC_LEN, SenmlSink, TopicError, validate_topic_name};

fuzz_target!(|data: &[u8]| {
    let Ok(topic) = std::str::from_utf8(data) else {
        return;
    };
    let got = validate_topic_name(topic);
    let expected = if topic.is_empty() {
        Err(TopicError::Empty)
    } else if topic.len() > MAX_TOPIC_LEN {
        Err(TopicError::TooLong { len: topic.len() })
    } else {
        match topic
            .char_indices()
            .find(|&(_, c)| matches!(c, '#' | '+' | '\0'))
        {
            Some((at, '\0')) => Err(TopicError::Nul { at }),
            Some((at, _)) => Err(TopicError::Wildcard { at }),
            None => Ok(()),
        }
    };
    assert_eq!(got, expected, "{topic:?}");
    // The sinks refuse exactly the topics validation refuses.
    assert_eq!(JsonSink::object(topic).is_ok(), got.is_ok());
    assert_eq!(JsonSink::value(topic).is_ok(), got.is_ok());
    if let Ok(sink) = SenmlSink::new(topic, "apricot") {
        assert!(got.is_ok());
        assert_eq!(sink.topic(), topic);
    }
});
