//! The lux formula of Lite-On's "LTR-303/329 Appendix A" (Ver 1.0, 22 Feb 2013), as a pure
//! function so it can be checked without a bus.

use super::types::{Gain, IntegrationTime};

/// Illuminance in lux from the two channel counts.
///
/// With `ratio = CH1 / (CH0 + CH1)` the app note picks one of four bands:
///
/// | ratio | lux × gain × ALS_INT × PFactor |
/// |---|---|
/// | < 0.45 | 1.7743·CH0 + 1.1059·CH1 |
/// | 0.45 ≤ ratio < 0.64 | 4.2785·CH0 − 1.9548·CH1 |
/// | 0.64 ≤ ratio < 0.85 | 0.5926·CH0 **+** 0.1185·CH1 |
/// | ≥ 0.85 | 0 (infrared only: no visible light) |
///
/// `ALS_INT` is the integration time in units of 100 ms ([`IntegrationTime::als_int`]: 50 ms
/// is 0.5); `window_factor` is the app note's PFactor, 1 without a window. Darkness (both
/// channels 0) is 0 lx. The band is chosen with exact integer arithmetic, so a ratio of
/// exactly 0.45 is in the second band as the app note says.
///
/// Saturation (0xFFFF) is not detected here: the driver refuses such data with
/// `Error::Saturated` before converting.
///
/// ```
/// use sensorpub::pysense::ltr329::{lux, Gain, IntegrationTime};
///
/// // ratio 0.2: 1.7743·800 + 1.1059·200 = 1640.62
/// let lx = lux(800, 200, Gain::X1, IntegrationTime::Ms100, 1.0);
/// assert!((lx - 1640.62).abs() < 0.01);
/// ```
pub fn lux(
    ch0: u16,
    ch1: u16,
    gain: Gain,
    integration_time: IntegrationTime,
    window_factor: f32,
) -> f32 {
    let (c0, c1) = (f32::from(ch0), f32::from(ch1));
    // ratio < a/100  ⇔  100·CH1 < a·(CH0 + CH1), exact in u32 for any u16 counts.
    let sum = u32::from(ch0) + u32::from(ch1);
    let below = |percent: u32| 100 * u32::from(ch1) < percent * sum;
    let weighted = if sum == 0 {
        0.0
    } else if below(45) {
        1.7743 * c0 + 1.1059 * c1
    } else if below(64) {
        4.2785 * c0 - 1.9548 * c1
    } else if below(85) {
        0.5926 * c0 + 0.1185 * c1
    } else {
        0.0
    };
    weighted / gain.factor() / integration_time.als_int() / window_factor
}
