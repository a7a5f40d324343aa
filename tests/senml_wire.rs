//! The SenML sink's bytes, read back as RFC 8428 says a consumer reads them: a JSON array of
//! records whose base fields resolve into full records (section 4.6), with the field types of
//! section 5 and the units of the section 12.1 registry. The checker below is written from the
//! RFC and trusts nothing of the sink's own tables.

use proptest::prelude::*;
use sensorpub::MAX_DECIMALS;
use sensorpub::{EncodeError, Quantity, Reading, Sample, SenmlSink, Sink, SinkConfigError};
use serde_json::Value;

/// RFC 8428 section 12.1: the SenML units registry as the RFC publishes it.
const REGISTERED_UNITS: &[&str] = &[
    "m", "kg", "g", "s", "A", "K", "cd", "mol", "Hz", "rad", "sr", "N", "Pa", "J", "W", "C", "V",
    "F", "Ohm", "S", "Wb", "T", "H", "Cel", "lm", "lx", "Bq", "Gy", "Sv", "kat", "m2", "m3", "l",
    "m/s", "m/s2", "m3/s", "l/s", "W/m2", "cd/m2", "bit", "bit/s", "lat", "lon", "pH", "dB", "dBW",
    "Bspl", "count", "/", "%", "%RH", "%EL", "EL", "1/s", "1/min", "beat/min", "beats", "S/m",
];

/// A record after resolution (RFC 8428 section 4.6): no base fields, absolute name and time.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    name: String,
    unit: Option<String>,
    value: f64,
    /// Seconds; 0 when neither `bt` nor `t` was given ("roughly now", section 4.5.3).
    time: f64,
}

/// RFC 8428 section 4.5.1: a resolved name holds only `A-Z a-z 0-9 - : . / _` and starts
/// with a letter or a digit.
fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-:./_".contains(&b))
}

/// Parses `payload` as a SenML JSON pack and resolves its records, or says which rule of
/// RFC 8428 it breaks. Only numeric values are accepted: that is all this crate sends.
fn resolve(payload: &[u8]) -> Result<Vec<Resolved>, String> {
    let pack: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    // Section 5: the pack is a JSON array of records, each a JSON object.
    let records = pack.as_array().ok_or("a pack is a JSON array")?;
    let (mut base_name, mut base_time, mut base_unit) = (String::new(), 0.0f64, None::<String>);
    let mut resolved = Vec::new();
    for record in records {
        let record = record.as_object().ok_or("a record is a JSON object")?;
        let (mut name, mut time, mut unit, mut value) = (None, 0.0f64, None, None);
        for (label, field) in record {
            // Section 5, Table 1: each label with its JSON type.
            let string = || {
                field
                    .as_str()
                    .map(str::to_owned)
                    .ok_or(format!("{label} is a string"))
            };
            let number = || field.as_f64().ok_or(format!("{label} is a number"));
            match label.as_str() {
                "bn" => base_name = string()?,
                "bt" => base_time = number()?,
                "bu" => base_unit = Some(string()?),
                "bver" => {
                    let version = field.as_u64().ok_or("bver is a positive integer")?;
                    if version < 10 {
                        return Err(format!("bver {version} is below SenML's 10"));
                    }
                }
                "n" => name = Some(string()?),
                "t" => time = number()?,
                "u" => unit = Some(string()?),
                "v" => value = Some(number()?),
                "bv" | "bs" | "s" | "vs" | "vb" | "vd" | "ut" => {
                    return Err(format!(
                        "{label}: this crate sends only plain numeric values"
                    ));
                }
                // Section 4.4: a label ending in '_' must be understood; others are unknown.
                other => return Err(format!("unknown label {other:?}")),
            }
        }
        // Section 4.5.1: the name is the base name followed by the name.
        let full_name = format!("{base_name}{}", name.unwrap_or_default());
        if !valid_name(&full_name) {
            return Err(format!("resolved name {full_name:?} breaks section 4.5.1"));
        }
        // Section 4.5.2 and 12.1: a unit, if any, is a registered one.
        let unit = unit.or_else(|| base_unit.clone());
        if let Some(u) = unit.as_deref().filter(|u| !REGISTERED_UNITS.contains(u)) {
            return Err(format!("unit {u:?} is not in RFC 8428's registry"));
        }
        // Section 4.3: a record holds a value (or a sum; we send none).
        let value = value.ok_or("a record without a value")?;
        resolved.push(Resolved {
            name: full_name,
            unit,
            value,
            time: base_time + time,
        });
    }
    Ok(resolved)
}

/// What a reading must resolve to, from the RFC's table and the conversions the sink
/// documents (g → m/s² by standard gravity, degrees → radians), computed in f64, and whether
/// the value was converted (the sink converts in f32, one rounding more: see [`close`]).
fn expected_unit_and_value(reading: &Reading) -> (Option<&'static str>, f64, bool) {
    let v = f64::from(reading.value);
    let (unit, value, converted) = match reading.quantity {
        Quantity::Temperature | Quantity::DewPoint => (Some("Cel"), v, false),
        Quantity::Humidity => (Some("%RH"), v, false),
        Quantity::Pressure => (Some("Pa"), v, false),
        Quantity::Altitude => (Some("m"), v, false),
        Quantity::Illuminance => (Some("lx"), v, false),
        Quantity::Voltage => (Some("V"), v, false),
        Quantity::AccelerationX | Quantity::AccelerationY | Quantity::AccelerationZ => {
            (Some("m/s2"), v * 9.80665, true)
        }
        Quantity::Pitch | Quantity::Roll => (Some("rad"), v.to_radians(), true),
        Quantity::Value => (None, v, false),
        Quantity::Custom { unit: "", .. } => (None, v, false),
        Quantity::Custom { unit, .. } => (Some(unit), v, false),
        _ => unreachable!("a quantity this test does not know"),
    };
    (unit, value, converted)
}

/// `got` is `want` as an f32 reads it: exactly when the value was not converted; within the
/// three roundings of an f32 conversion (constant, product, and 2^-24 each) when it was.
fn close(got: f64, want: f64, converted: bool) -> bool {
    if !converted {
        // The shortest text reads back as the very same f32.
        return got as f32 == want as f32;
    }
    (got - want).abs() <= want.abs() * 4.0 * f64::from(f32::EPSILON) + f64::from(f32::MIN_POSITIVE)
}

/// Whether the sink should refuse the reading as non-finite: NaN, infinite, or beyond f32
/// once converted.
fn overflows(reading: &Reading) -> bool {
    let (_, value, _) = expected_unit_and_value(reading);
    !value.is_finite() || value.abs() > f64::from(f32::MAX) * (1.0 - 4.0 * f64::from(f32::EPSILON))
}

const ALL: [Quantity; 13] = [
    Quantity::Temperature,
    Quantity::Humidity,
    Quantity::Pressure,
    Quantity::Altitude,
    Quantity::Illuminance,
    Quantity::AccelerationX,
    Quantity::AccelerationY,
    Quantity::AccelerationZ,
    Quantity::Pitch,
    Quantity::Roll,
    Quantity::DewPoint,
    Quantity::Voltage,
    Quantity::Value,
];

fn sample_of(values: &[(Quantity, f32)], timestamp: Option<u64>) -> Sample<16> {
    let readings: Vec<Reading> = values.iter().map(|&(q, v)| Reading::new(q, v)).collect();
    let mut sample = Sample::from_readings(&readings).unwrap();
    sample.set_timestamp(timestamp);
    sample
}

fn encode(sink: &mut SenmlSink<'_>, sample: &Sample<16>) -> (String, String) {
    let mut buf = [0u8; 1024];
    let msg = sink.encode(sample, 0, 0, &mut buf).unwrap();
    (
        msg.topic.to_owned(),
        String::from_utf8(msg.payload.to_vec()).unwrap(),
    )
}

/// A PySense board's sample, one reading of every built-in quantity.
fn board_sample() -> Sample<16> {
    let values = [
        21.53, 45.2, 101_325.0, 123.5, 310.0, -0.5, 0.0, 1.0, 90.0, -45.0, 9.25, 4.1, 742.0,
    ];
    let pairs: Vec<(Quantity, f32)> = ALL.iter().copied().zip(values).collect();
    sample_of(&pairs, Some(1_764_400_000))
}

#[test]
fn a_board_sample_has_these_exact_bytes() {
    let (topic, payload) = encode(
        &mut SenmlSink::new("apricot/senml", "apricot").unwrap(),
        &board_sample(),
    );
    assert_eq!(topic, "apricot/senml");
    assert_eq!(
        payload,
        concat!(
            r#"[{"bn":"apricot:","bt":1764400000,"n":"temperature","u":"Cel","v":21.53},"#,
            r#"{"n":"humidity","u":"%RH","v":45.2},"#,
            r#"{"n":"pressure","u":"Pa","v":101325},"#,
            r#"{"n":"altitude","u":"m","v":123.5},"#,
            r#"{"n":"illuminance","u":"lx","v":310},"#,
            r#"{"n":"acceleration_x","u":"m/s2","v":-4.903325},"#,
            r#"{"n":"acceleration_y","u":"m/s2","v":0},"#,
            r#"{"n":"acceleration_z","u":"m/s2","v":9.80665},"#,
            r#"{"n":"pitch","u":"rad","v":1.5707964},"#,
            r#"{"n":"roll","u":"rad","v":-0.7853982},"#,
            r#"{"n":"dew_point","u":"Cel","v":9.25},"#,
            r#"{"n":"voltage","u":"V","v":4.1},"#,
            r#"{"n":"value","v":742}]"#,
        )
    );
}

#[test]
fn every_record_resolves_to_the_device_the_time_and_a_registered_unit() {
    let sample = board_sample();
    let (_, payload) = encode(
        &mut SenmlSink::new("t", "urn:dev:mac:0024befffe804ff1").unwrap(),
        &sample,
    );
    let records = resolve(payload.as_bytes()).unwrap();
    assert_eq!(records.len(), sample.len());
    for (record, reading) in records.iter().zip(sample.readings()) {
        let (unit, value, converted) = expected_unit_and_value(reading);
        assert_eq!(
            record.name,
            format!("urn:dev:mac:0024befffe804ff1:{}", reading.quantity.name())
        );
        assert_eq!(record.unit.as_deref(), unit);
        assert!(
            close(record.value, value, converted),
            "{}: {} vs {value}",
            record.name,
            record.value
        );
        assert_eq!(record.time, 1_764_400_000.0);
    }
}

#[test]
fn without_a_timestamp_no_time_is_sent_and_records_mean_now() {
    let sample = sample_of(
        &[(Quantity::Temperature, 20.0), (Quantity::Humidity, 50.0)],
        None,
    );
    let (_, payload) = encode(&mut SenmlSink::new("t", "apricot").unwrap(), &sample);
    assert_eq!(
        payload,
        r#"[{"bn":"apricot:","n":"temperature","u":"Cel","v":20},{"n":"humidity","u":"%RH","v":50}]"#
    );
    let records = resolve(payload.as_bytes()).unwrap();
    assert!(records.iter().all(|r| r.time == 0.0));
}

#[test]
fn fixed_decimals_apply_after_the_conversion() {
    let sample = sample_of(
        &[(Quantity::AccelerationZ, 1.0), (Quantity::Humidity, 45.2)],
        None,
    );
    let mut sink = SenmlSink::new("t", "a").unwrap().with_decimals(2).unwrap();
    let (_, payload) = encode(&mut sink, &sample);
    assert_eq!(
        payload,
        r#"[{"bn":"a:","n":"acceleration_z","u":"m/s2","v":9.81},{"n":"humidity","u":"%RH","v":45.20}]"#
    );
    assert_eq!(
        SenmlSink::new("t", "a")
            .unwrap()
            .with_decimals(MAX_DECIMALS + 1),
        Err(SinkConfigError::TooManyDecimals {
            decimals: MAX_DECIMALS + 1
        })
    );
}

#[test]
fn every_buffer_shorter_than_the_output_is_a_typed_error() {
    let sample = board_sample();
    let sink = SenmlSink::new("apricot/senml", "apricot").unwrap();
    let mut big = [0u8; 1024];
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

#[test]
fn custom_quantities_keep_registered_units_and_are_refused_otherwise() {
    let watts = Quantity::Custom {
        name: "power",
        unit: "W",
    };
    let plain = Quantity::Custom {
        name: "ticks",
        unit: "",
    };
    let sample = sample_of(&[(watts, 12.5), (plain, 3.0)], None);
    let (_, payload) = encode(&mut SenmlSink::new("t", "a").unwrap(), &sample);
    assert_eq!(
        payload,
        r#"[{"bn":"a:","n":"power","u":"W","v":12.5},{"n":"ticks","v":3}]"#
    );
    resolve(payload.as_bytes()).unwrap();

    let mut buf = [0u8; 256];
    let fahrenheit = Quantity::Custom {
        name: "t",
        unit: "°F",
    };
    // `deg` came with RFC 8798: an RFC 8428 consumer does not know it.
    let degrees = Quantity::Custom {
        name: "heading",
        unit: "deg",
    };
    for quantity in [fahrenheit, degrees] {
        assert_eq!(
            SenmlSink::new("t", "a").unwrap().encode(
                &sample_of(&[(quantity, 1.0)], None),
                0,
                0,
                &mut buf
            ),
            Err(EncodeError::UnregisteredUnit { quantity })
        );
    }
    for name in ["", "with space", "quote\"", "ünï"] {
        let quantity = Quantity::Custom { name, unit: "" };
        assert_eq!(
            SenmlSink::new("t", "a").unwrap().encode(
                &sample_of(&[(quantity, 1.0)], None),
                0,
                0,
                &mut buf
            ),
            Err(EncodeError::InvalidName { quantity })
        );
    }
}

#[test]
fn non_finite_values_and_overflowing_conversions_are_refused() {
    let mut buf = [0u8; 256];
    let sink = SenmlSink::new("t", "a").unwrap();
    for (quantity, value) in [
        (Quantity::Temperature, f32::NAN),
        (Quantity::Humidity, f32::INFINITY),
        // Finite in g, beyond f32 in m/s².
        (Quantity::AccelerationX, 3.0e38),
    ] {
        let sample = sample_of(&[(Quantity::Pressure, 1.0), (quantity, value)], None);
        assert_eq!(
            sink.encode(&sample, 0, 0, &mut buf),
            Err(EncodeError::NonFinite { quantity })
        );
    }
}

#[test]
fn an_empty_sample_is_no_message() {
    let sample = Sample::<16>::new();
    let sink = SenmlSink::new("t", "a").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(sink.message_count(&sample), 0);
    assert_eq!(
        sink.encode(&sample, 0, 0, &mut buf),
        Err(EncodeError::NothingToSend)
    );
    let one = sample_of(&[(Quantity::Value, 1.0)], None);
    assert_eq!(sink.message_count(&one), 1);
    assert_eq!(
        sink.encode(&one, 1, 0, &mut buf),
        Err(EncodeError::NoSuchMessage)
    );
}

#[test]
fn device_names_that_make_invalid_senml_names_are_refused() {
    for device in ["", "_x", ":x", "my device", "a\"b", "a\\b", "ä"] {
        assert_eq!(
            SenmlSink::new("t", device),
            Err(SinkConfigError::InvalidName),
            "{device:?}"
        );
    }
    for device in [
        "apricot",
        "0xdead",
        "urn:dev:mac:0024befffe804ff1",
        "lab/node-1.a_b",
    ] {
        assert!(SenmlSink::new("t", device).is_ok(), "{device:?}");
    }
}

#[test]
fn the_checker_rejects_what_rfc_8428_forbids() {
    for bad in [
        r#"{"n":"a","v":1}"#,                  // not an array
        r#"[{"n":"a","v":"1"}]"#,              // v is a number
        r#"[{"bn":1,"n":"a","v":1}]"#,         // bn is a string
        r#"[{"n":"a"}]"#,                      // no value
        r#"[{"n":"_a","v":1}]"#,               // name starts with '_'
        r#"[{"n":"a b","v":1}]"#,              // space in a name
        r#"[{"n":"a","u":"g","v":1,"x_":2}]"#, // must-understand label
        r#"[{"n":"a","u":"deg","v":1}]"#,      // not in RFC 8428's registry
        r#"[{"n":"a","u":"°C","v":1}]"#,
    ] {
        assert!(resolve(bad.as_bytes()).is_err(), "{bad}");
    }
    // Base fields carry over to later records (section 4.5).
    let ok = resolve(br#"[{"bn":"d:","bt":100,"n":"a","v":1},{"n":"b","t":5,"v":2}]"#).unwrap();
    assert_eq!(ok[1].name, "d:b");
    assert_eq!(ok[1].time, 105.0);
}

// ---- property: any sample, any buffer ------------------------------------------------------

/// Custom quantities, good and bad, all `'static`.
const CUSTOM: [Quantity; 5] = [
    Quantity::Custom {
        name: "power",
        unit: "W",
    },
    Quantity::Custom {
        name: "ticks",
        unit: "",
    },
    Quantity::Custom {
        name: "co2",
        unit: "ppm",
    },
    Quantity::Custom {
        name: "bad name",
        unit: "count",
    },
    Quantity::Custom {
        name: "flow",
        unit: "l/s",
    },
];

fn any_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => any::<f32>(),
        12 => -1.0e6f32..1.0e6f32,
        1 => Just(f32::NAN),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(-0.0f32),
    ]
}

fn any_quantity() -> impl Strategy<Value = Quantity> {
    prop_oneof![
        12 => proptest::sample::select(&ALL[..]),
        1 => proptest::sample::select(&CUSTOM[..]),
    ]
}

fn any_sample() -> impl Strategy<Value = Sample<16>> {
    (
        proptest::collection::vec((any_quantity(), any_value()), 0..=16),
        proptest::option::of(0u64..=4_102_444_800),
    )
        .prop_map(|(pairs, timestamp)| sample_of(&pairs, timestamp))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_ok_resolves_to_the_sample_and_every_error_is_justified(
        sample in any_sample(),
        len in 0usize..700,
        decimals in proptest::option::of(0u8..=MAX_DECIMALS),
    ) {
        let mut sink = SenmlSink::new("node/senml", "node-7").unwrap();
        if let Some(d) = decimals {
            sink = sink.with_decimals(d).unwrap();
        }
        let mut buf = vec![0u8; len];
        match sink.encode(&sample, 0, 0, &mut buf) {
            Ok(msg) => {
                prop_assert_eq!(msg.topic, "node/senml");
                let records = resolve(msg.payload).map_err(TestCaseError::fail)?;
                prop_assert_eq!(records.len(), sample.len());
                for (record, reading) in records.iter().zip(sample.readings()) {
                    let (unit, value, converted) = expected_unit_and_value(reading);
                    prop_assert_eq!(&record.name, &format!("node-7:{}", reading.quantity.name()));
                    prop_assert_eq!(record.unit.as_deref(), unit);
                    prop_assert_eq!(record.time, sample.timestamp().unwrap_or(0) as f64);
                    match decimals {
                        None => prop_assert!(close(record.value, value, converted),
                            "{} vs {}", record.value, value),
                        Some(d) => {
                            let tolerance = 0.5 * 10f64.powi(-i32::from(d)) + value.abs() * 1e-6;
                            prop_assert!((record.value - value).abs() <= tolerance,
                                "{} vs {}", record.value, value);
                        }
                    }
                }
            }
            Err(EncodeError::BufferTooSmall) => {
                let mut big = vec![0u8; 4096];
                let msg = sink.encode(&sample, 0, 0, &mut big).expect("fits in 4 KiB");
                prop_assert!(msg.payload.len() > len);
            }
            Err(EncodeError::NonFinite { quantity }) => {
                let reading = sample.readings().iter().find(|r| r.quantity == quantity);
                let reading = reading.expect("the refused quantity is in the sample");
                let refused = sample.readings().iter().any(|r| r.quantity == quantity && overflows(r));
                prop_assert!(refused, "{:?} was finite: {:?}", quantity, reading);
            }
            Err(EncodeError::NothingToSend) => prop_assert!(sample.is_empty()),
            Err(EncodeError::InvalidName { quantity }) => {
                prop_assert!(sample.get(quantity).is_some());
                let name = format!("node-7:{}", quantity.name());
                prop_assert!(!valid_name(&name));
            }
            Err(EncodeError::UnregisteredUnit { quantity }) => {
                prop_assert!(sample.get(quantity).is_some());
                prop_assert!(!REGISTERED_UNITS.contains(&quantity.unit()));
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
