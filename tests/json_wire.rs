//! The JSON sink's bytes, read back the way a subscriber would: with a real JSON parser.

use sensorpub::{EncodeError, JsonSink, Quantity, Reading, Sample, Sink, SinkConfigError};
use serde_json::Value;

const QUANTITIES: [Quantity; 8] = [
    Quantity::Temperature,
    Quantity::Humidity,
    Quantity::Pressure,
    Quantity::Altitude,
    Quantity::Illuminance,
    Quantity::AccelerationX,
    Quantity::AccelerationY,
    Quantity::AccelerationZ,
];

fn sample_of(values: &[(Quantity, f32)]) -> Sample<8> {
    let readings: Vec<Reading> = values.iter().map(|&(q, v)| Reading::new(q, v)).collect();
    Sample::from_readings(&readings).unwrap()
}

fn encode_to_string(sink: &mut JsonSink<'_>, sample: &Sample<8>) -> (String, String) {
    let mut buf = [0u8; 512];
    let msg = sink.encode(sample, 0, 0, &mut buf).unwrap();
    (
        msg.topic.to_owned(),
        String::from_utf8(msg.payload.to_vec()).unwrap(),
    )
}

#[test]
fn object_parses_back_to_the_sample_for_one_to_eight_readings() {
    let values = [21.53, 45.2, 101_325.0, -12.25, 0.001, -0.98, 1.0e-3, 3.0e7];
    for n in 1..=8 {
        let pairs: Vec<(Quantity, f32)> = QUANTITIES.iter().copied().zip(values).take(n).collect();
        let sample = sample_of(&pairs);
        let (_, payload) = encode_to_string(&mut JsonSink::object("t").unwrap(), &sample);
        let parsed: serde_json::Map<String, Value> = serde_json::from_str(&payload).unwrap();
        assert_eq!(parsed.len(), n, "{payload}");
        for (quantity, value) in pairs {
            let got = parsed[quantity.name()].as_f64().unwrap() as f32;
            assert_eq!(got, value, "{quantity} in {payload}");
        }
    }
}

#[test]
fn object_keeps_reading_order_and_exact_bytes() {
    let sample = sample_of(&[(Quantity::Temperature, 21.53), (Quantity::Humidity, 45.2)]);
    let (topic, payload) =
        encode_to_string(&mut JsonSink::object("apricot/value").unwrap(), &sample);
    assert_eq!(topic, "apricot/value");
    assert_eq!(payload, r#"{"temperature":21.53,"humidity":45.2}"#);
}

#[test]
fn bare_value_matches_ujson_dumps_of_the_lab_numbers() {
    // The lab publishes `ujson.dumps(math.floor(r * 1000))`: a Python int, printed in decimal.
    for n in 0..1000 {
        let sample = sample_of(&[(Quantity::Value, n as f32)]);
        let (_, payload) =
            encode_to_string(&mut JsonSink::value("apricot/value").unwrap(), &sample);
        assert_eq!(payload, n.to_string());
    }
    // Python's repr of the same floats (shortest round-trip text).
    for (value, ujson) in [
        (21.53f32, "21.53"),
        (45.2, "45.2"),
        (-3.5, "-3.5"),
        (0.1, "0.1"),
    ] {
        let sample = sample_of(&[(Quantity::Temperature, value)]);
        let (_, payload) = encode_to_string(&mut JsonSink::value("t").unwrap(), &sample);
        assert_eq!(payload, ujson);
    }
}

#[test]
fn bare_value_of_a_chosen_quantity() {
    let sample = sample_of(&[(Quantity::Temperature, 21.5), (Quantity::Humidity, 45.0)]);
    let (_, payload) = encode_to_string(
        &mut JsonSink::value("t").unwrap().of(Quantity::Humidity),
        &sample,
    );
    assert_eq!(payload, "45");
    let sink = JsonSink::value("t").unwrap().of(Quantity::Pressure);
    let mut buf = [0u8; 64];
    assert_eq!(
        sink.encode(&sample, 0, 0, &mut buf),
        Err(EncodeError::NothingToSend)
    );
}

#[test]
fn renamed_keys_fixed_decimals_and_device_id() {
    let sample = sample_of(&[(Quantity::Temperature, 21.5), (Quantity::Humidity, 45.257)]);
    let keys = [(Quantity::Temperature, "t"), (Quantity::Humidity, "rh")];
    let mut sink = JsonSink::object("x")
        .unwrap()
        .with_keys(&keys)
        .unwrap()
        .with_decimals(2)
        .unwrap()
        .with_device("dev \"quoted\"");
    let (_, payload) = encode_to_string(&mut sink, &sample);
    assert_eq!(
        payload,
        r#"{"device":"dev \"quoted\"","t":21.50,"rh":45.26}"#
    );
    let parsed: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(parsed["device"], "dev \"quoted\"");
}

#[test]
fn invalid_configuration_is_refused_when_built() {
    let bad_keys = [(Quantity::Temperature, "a\"b")];
    assert_eq!(
        JsonSink::object("x").unwrap().with_keys(&bad_keys).err(),
        Some(SinkConfigError::InvalidKey)
    );
    let control = [(Quantity::Temperature, "a\nb")];
    assert_eq!(
        JsonSink::object("x").unwrap().with_keys(&control).err(),
        Some(SinkConfigError::InvalidKey)
    );
    assert_eq!(
        JsonSink::object("x").unwrap().with_decimals(7).err(),
        Some(SinkConfigError::TooManyDecimals { decimals: 7 })
    );
}

#[test]
fn non_finite_values_are_a_typed_error_never_null() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let sample = sample_of(&[(Quantity::Temperature, 21.0), (Quantity::Humidity, bad)]);
        let mut buf = [0u8; 128];
        for sink in [
            JsonSink::object("t").unwrap(),
            JsonSink::value("t").unwrap().of(Quantity::Humidity),
        ] {
            assert_eq!(
                sink.encode(&sample, 0, 0, &mut buf),
                Err(EncodeError::NonFinite {
                    quantity: Quantity::Humidity
                })
            );
        }
    }
}

#[test]
fn duplicate_keys_are_refused() {
    let sample = sample_of(&[(Quantity::Temperature, 1.0), (Quantity::Temperature, 2.0)]);
    let mut buf = [0u8; 128];
    assert_eq!(
        JsonSink::object("t")
            .unwrap()
            .encode(&sample, 0, 0, &mut buf),
        Err(EncodeError::DuplicateKey {
            quantity: Quantity::Temperature
        })
    );
    // A renamed key may not collide with the device id either.
    let keys = [(Quantity::Humidity, "device")];
    let sample = sample_of(&[(Quantity::Humidity, 1.0)]);
    let sink = JsonSink::object("t")
        .unwrap()
        .with_keys(&keys)
        .unwrap()
        .with_device("d");
    assert_eq!(
        sink.encode(&sample, 0, 0, &mut buf),
        Err(EncodeError::DuplicateKey {
            quantity: Quantity::Humidity
        })
    );
}

/// Duplicates are found while the object is written (a bit per built-in quantity until a
/// custom one comes, then string compares); the content error still wins over a short buffer
/// and over a NaN that comes later.
#[test]
fn duplicates_found_while_writing_are_the_same_errors() {
    let sink = JsonSink::object("t").unwrap();
    let custom_temperature = Quantity::Custom {
        name: "temperature",
        unit: "",
    };
    let other = Quantity::Custom {
        name: "x",
        unit: "",
    };
    let mut buf = [0u8; 128];
    let cases: [(&[(Quantity, f32)], Quantity); 5] = [
        // A custom quantity whose name is a built-in one, after it.
        (
            &[(Quantity::Temperature, 1.0), (custom_temperature, 2.0)],
            custom_temperature,
        ),
        // ... and before it: the built-in key is then compared as a string too.
        (
            &[(custom_temperature, 1.0), (Quantity::Temperature, 2.0)],
            Quantity::Temperature,
        ),
        // Built-in duplicates after a custom quantity: compared as strings.
        (
            &[
                (other, 1.0),
                (Quantity::Humidity, 2.0),
                (Quantity::Humidity, 3.0),
            ],
            Quantity::Humidity,
        ),
        // The duplicate comes before a NaN: the first bad reading is reported.
        (
            &[
                (Quantity::Humidity, 1.0),
                (Quantity::Humidity, 2.0),
                (Quantity::Pressure, f32::NAN),
            ],
            Quantity::Humidity,
        ),
        (
            &[
                (Quantity::Pressure, 1.0),
                (Quantity::Voltage, 2.0),
                (Quantity::Pressure, 3.0),
            ],
            Quantity::Pressure,
        ),
    ];
    for (readings, quantity) in cases {
        let sample = sample_of(readings);
        let want = Err(EncodeError::DuplicateKey { quantity });
        assert_eq!(sink.encode(&sample, 0, 0, &mut buf), want, "{readings:?}");
        // A buffer too short for the first key: the content error still wins.
        assert_eq!(
            sink.encode(&sample, 0, 0, &mut [0u8; 3]),
            want,
            "{readings:?}"
        );
    }
    // A NaN before a duplicate is the first bad reading.
    let sample = sample_of(&[(Quantity::Pressure, f32::NAN), (Quantity::Pressure, 1.0)]);
    assert_eq!(
        sink.encode(&sample, 0, 0, &mut buf),
        Err(EncodeError::NonFinite {
            quantity: Quantity::Pressure
        })
    );
}

#[test]
fn every_buffer_shorter_than_the_output_is_a_typed_error() {
    let sample = sample_of(&[(Quantity::Temperature, 21.53), (Quantity::Humidity, 45.2)]);
    let sinks = [
        JsonSink::object("apricot/value").unwrap(),
        JsonSink::value("apricot/value").unwrap(),
        JsonSink::object("apricot/value")
            .unwrap()
            .with_device("apricot")
            .with_decimals(3)
            .unwrap(),
    ];
    for sink in sinks {
        let mut big = [0u8; 256];
        let needed = {
            let msg = sink.encode(&sample, 0, 0, &mut big).unwrap();
            // The topic is the sink's own: only the payload goes into the buffer.
            msg.payload.len()
        };
        for len in 0..needed {
            let mut buf = vec![0u8; len];
            assert_eq!(
                sink.encode(&sample, 0, 0, &mut buf),
                Err(EncodeError::BufferTooSmall),
                "buffer of {len} bytes, output needs {needed}"
            );
        }
        let mut exact = vec![0u8; needed];
        assert!(sink.encode(&sample, 0, 0, &mut exact).is_ok());
    }
}

#[test]
fn only_message_zero_exists() {
    let sample = sample_of(&[(Quantity::Temperature, 1.0)]);
    let sink = JsonSink::object("t").unwrap();
    assert_eq!(sink.message_count(&sample), 1);
    let mut buf = [0u8; 64];
    assert_eq!(
        sink.encode(&sample, 1, 0, &mut buf),
        Err(EncodeError::NoSuchMessage)
    );
}

#[test]
fn an_empty_sample_sends_nothing() {
    let sample = Sample::<8>::new();
    let mut buf = [0u8; 64];
    for sink in [
        JsonSink::object("t").unwrap().with_device("d"),
        JsonSink::value("t").unwrap(),
    ] {
        assert_eq!(
            sink.encode(&sample, 0, 0, &mut buf),
            Err(EncodeError::NothingToSend)
        );
    }
}
