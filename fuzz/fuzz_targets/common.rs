//! What the sink targets share: an arbitrary sample (any quantities, any `f32` bits, custom
//! quantities with awkward names and units, duplicates, a timestamp or none) and the checks
//! that a number read back is the number encoded.

// Each target uses part of it.
#![allow(dead_code)]

use arbitrary::Arbitrary;
use sensorpub::{Quantity, Reading, Sample};

/// Every built-in quantity and custom ones meant to break encoders: JSON escapes, a name
/// that clashes with a built-in one or with `device`, empty, long and non-ASCII names,
/// registered and unregistered SenML units.
pub const QUANTITIES: [Quantity; 20] = [
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
    Quantity::Custom {
        name: "co2",
        unit: "ppm",
    },
    Quantity::Custom {
        name: "soil",
        unit: "%",
    },
    Quantity::Custom {
        name: "a\"b\\c\n\u{1}",
        unit: "",
    },
    Quantity::Custom {
        name: "temperature",
        unit: "Cel",
    },
    Quantity::Custom {
        name: "device",
        unit: "",
    },
    Quantity::Custom { name: "", unit: "" },
    Quantity::Custom {
        name: "très_long_nom_de_capteur_plus_de_trente_octets",
        unit: "W/m2",
    },
];

/// The capacity of the samples the targets build.
pub const CAPACITY: usize = 8;

#[derive(Arbitrary, Debug, Clone)]
pub struct ArbitrarySample {
    readings: Vec<(u8, u32)>,
    timestamp: Option<u64>,
}

impl ArbitrarySample {
    pub fn build(&self) -> Sample<CAPACITY> {
        let mut sample = Sample::new();
        for &(quantity, bits) in self.readings.iter().take(CAPACITY) {
            let quantity = QUANTITIES[usize::from(quantity) % QUANTITIES.len()];
            // Room for CAPACITY readings: the take above keeps within it.
            sample
                .push(Reading::new(quantity, f32::from_bits(bits)))
                .expect("room for the reading");
        }
        sample.set_timestamp(self.timestamp);
        sample
    }
}

/// `got`, read back from what was written for `value` with `decimals` (or the shortest
/// form), is it: the same `f32` for the shortest form, within half a unit of the last decimal
/// otherwise (plus `f32` rounding).
pub fn assert_close(got: f64, value: f32, decimals: Option<u8>) {
    match decimals {
        None => assert_eq!(got as f32, value, "{got} for {value:e}"),
        Some(d) => {
            let tolerance = 0.5 * 10f64.powi(-i32::from(d)) + f64::from(value.abs()) * 1e-6;
            assert!(
                (got - f64::from(value)).abs() <= tolerance,
                "{got} for {value:e}"
            );
        }
    }
}

/// `text` is a number written for `value`: with exactly `decimals` decimals if given, and
/// reading back as [`assert_close`] says.
pub fn assert_number_text(text: &str, value: f32, decimals: Option<u8>) {
    let got: f64 = text
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a number"));
    if let Some(d) = decimals {
        let (_, fraction) = text.split_once('.').unwrap_or((text, ""));
        if fraction.len() != usize::from(d) {
            // Too large for exact fixed point (|value| × 10^d ≥ 9e15): the shortest form,
            // which is exact, as src/sink/number.rs documents.
            let scaled = f64::from(value.abs()) * 10f64.powi(i32::from(d));
            assert!(scaled >= 8.9e15, "{text}: not {d} decimals");
            return assert_close(got, value, None);
        }
    }
    assert_close(got, value, decimals);
}

/// A short arbitrary topic, or a fixed one when it is not a valid topic name (the topic
/// target fuzzes validation).
pub fn topic_or_default(topic: &str) -> &str {
    if sensorpub::validate_topic_name(topic).is_ok() {
        topic
    } else {
        "t"
    }
}
