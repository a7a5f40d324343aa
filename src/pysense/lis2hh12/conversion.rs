//! Raw counts to g, tilt angles and die temperature: pure functions, checked without a bus.

use super::types::{Acceleration, FullScale, RawAcceleration};

/// One axis count in g: `raw × sensitivity`, with the sensitivity of the full scale
/// (0.061 / 0.122 / 0.244 mg/LSB).
///
/// ```
/// use sensorpub::pysense::lis2hh12::{acceleration_g, FullScale};
///
/// // 8197 counts at ±4 g ≈ 1.000 g
/// assert!((acceleration_g(8197, FullScale::G4) - 1.000034).abs() < 1e-5);
/// ```
pub fn acceleration_g(raw: i16, full_scale: FullScale) -> f32 {
    f32::from(raw) * full_scale.mg_per_lsb() / 1000.0
}

/// All three axes in g, see [`acceleration_g`].
pub fn acceleration(raw: RawAcceleration, full_scale: FullScale) -> Acceleration {
    Acceleration {
        x: acceleration_g(raw.x, full_scale),
        y: acceleration_g(raw.y, full_scale),
        z: acceleration_g(raw.z, full_scale),
    }
}

/// Pitch in degrees (−90..=90) from the gravity vector: `−atan2(y, √(x² + z²))`.
///
/// The PySense's axis convention, the same formula as Pycom's `LIS2HH12.pitch()`, so values
/// match what Pycom firmware reported on the same board. Positive when the Y axis points down.
/// Only meaningful at rest: any other acceleration tilts the result.
///
/// ```
/// use sensorpub::pysense::lis2hh12::pitch;
///
/// assert_eq!(pitch(0.0, 0.0, 1.0), 0.0);
/// assert!((pitch(0.0, -1.0, 0.0) - 90.0).abs() < 1e-4);
/// ```
pub fn pitch(x: f32, y: f32, z: f32) -> f32 {
    degrees(-libm::atan2f(y, libm::sqrtf(x * x + z * z)))
}

/// Roll in degrees (−180..=180) from the gravity vector: `atan2(−x, z)`.
///
/// Same convention as Pycom's `LIS2HH12.roll()`; 0 lying flat, ±180 upside down. There is no
/// yaw: gravity says nothing about rotation around the vertical, which needs a magnetometer.
///
/// ```
/// use sensorpub::pysense::lis2hh12::roll;
///
/// assert_eq!(roll(0.0, 0.0, 1.0), 0.0);
/// assert!((roll(-1.0, 0.0, 0.0) - 90.0).abs() < 1e-4);
/// ```
pub fn roll(x: f32, _y: f32, z: f32) -> f32 {
    degrees(libm::atan2f(-x, z))
}

/// Die temperature in °C from TEMP_H:TEMP_L as a signed 16-bit value: `raw / 256 + 25`
/// (11-bit left-justified, 8 LSB/°C, 0 at 25 °C; ST's `lis2hh12_from_lsb_to_celsius`). The
/// offset is typical, not calibrated: useful for trends, not as a thermometer.
pub fn temperature_celsius(raw: i16) -> f32 {
    f32::from(raw) / 256.0 + 25.0
}

fn degrees(radians: f32) -> f32 {
    // + 0.0 turns −0.0 (atan2 of −0.0) into 0.0, which would otherwise publish as "-0".
    radians.to_degrees() + 0.0
}
