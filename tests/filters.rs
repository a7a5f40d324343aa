//! Filters seen from outside: each one's output over a scripted sequence of samples, on the
//! simulated clock, and a filtered-out sample going through the publishers as "nothing to
//! send", not as an error.

use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;
use sensorpub::{
    Backoff, BackoffConfig, Calibrate, Clamp, Delta, ExponentialMovingAverage, FilterError,
    JsonSink, MemoryTransport, MessageQueue, MockError, MockSensor, MovingAverage, Publisher,
    Quantity, Reading, ResilientPublisher, Sample, Sensor, SimulatedClock, Throttle,
};

const T: Quantity = Quantity::Temperature;
const H: Quantity = Quantity::Humidity;

/// One sample a value: a temperature, and a humidity that filters on T must leave alone.
fn script(temperatures: &[f32]) -> Vec<Result<Sample<4>, MockError>> {
    temperatures
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let mut s =
                Sample::from_readings(&[Reading::new(T, t), Reading::new(H, 40.0 + i as f32)])
                    .unwrap();
            s.set_timestamp(Some(1_000 + i as u64));
            Ok(s)
        })
        .collect()
}

/// Reads `sensor` `count` times; the temperature each sample carries (None: filtered out).
/// Checks on the way that the humidity and the timestamp passed through untouched.
fn temperatures<S: Sensor<4, Error = MockError>>(sensor: &mut S, count: usize) -> Vec<Option<f32>> {
    (0..count)
        .map(|i| {
            let sample = embassy_futures::block_on(sensor.read()).unwrap();
            assert_eq!(
                sample.get(H),
                Some(40.0 + i as f32),
                "humidity of sample {i}"
            );
            assert_eq!(sample.timestamp(), Some(1_000 + i as u64));
            sample.get(T)
        })
        .collect()
}

#[test]
fn moving_average_is_the_mean_of_the_last_w_values() {
    let script = script(&[10.0, 20.0, 30.0, 40.0, 50.0, 0.0]);
    let mut sensor = MovingAverage::<_, 3>::new(MockSensor::new(&script), T);
    assert_eq!(
        temperatures(&mut sensor, 6),
        [
            Some(10.0),
            Some(15.0),
            Some(20.0),
            Some(30.0),
            Some(40.0),
            Some(30.0)
        ]
    );
}

#[test]
fn moving_average_of_one_passes_values_and_reset_starts_a_new_window() {
    let script = script(&[10.0, 20.0, 30.0]);
    let mut sensor = MovingAverage::<_, 1>::new(MockSensor::new(&script), T);
    assert_eq!(
        temperatures(&mut sensor, 3),
        [Some(10.0), Some(20.0), Some(30.0)]
    );

    let mut sensor = MovingAverage::<_, 4>::new(MockSensor::new(&script), T);
    let first = embassy_futures::block_on(sensor.read()).unwrap();
    assert_eq!(first.get(T), Some(10.0));
    sensor.reset();
    let second = embassy_futures::block_on(sensor.read()).unwrap();
    assert_eq!(second.get(T), Some(20.0));
}

#[test]
fn a_non_finite_reading_passes_through_and_does_not_enter_the_window() {
    let script = script(&[10.0, f32::NAN, 20.0]);
    let mut sensor = MovingAverage::<_, 3>::new(MockSensor::new(&script), T);
    let got = temperatures(&mut sensor, 3);
    assert_eq!(got[0], Some(10.0));
    assert!(got[1].is_some_and(f32::is_nan));
    assert_eq!(got[2], Some(15.0)); // (10 + 20) / 2: the NaN was not counted
}

#[test]
fn exponential_moving_average_weighs_the_new_value_by_alpha() {
    let script = script(&[0.0, 100.0, 100.0, 100.0]);
    let mut sensor = ExponentialMovingAverage::new(MockSensor::new(&script), T, 0.25).unwrap();
    assert_eq!(
        temperatures(&mut sensor, 4),
        [Some(0.0), Some(25.0), Some(43.75), Some(57.8125)]
    );
}

#[test]
fn exponential_moving_average_refuses_alpha_outside_zero_to_one() {
    for alpha in [0.0, -0.5, 1.5] {
        assert_eq!(
            ExponentialMovingAverage::new((), T, alpha).unwrap_err(),
            FilterError::AlphaOutOfRange,
            "{alpha}"
        );
    }
    assert_eq!(
        ExponentialMovingAverage::new((), T, f32::NAN).unwrap_err(),
        FilterError::NotFinite
    );
    assert!(ExponentialMovingAverage::new((), T, 1.0).is_ok());
}

#[test]
fn delta_absolute_publishes_only_moves_of_at_least_the_threshold() {
    // Compared with the last *published* value, so a slow drift still goes out.
    let script = script(&[20.0, 20.2, 20.4, 20.5, 20.5, 19.9, 20.0]);
    let mut sensor = Delta::absolute(MockSensor::new(&script), T, 0.5).unwrap();
    assert_eq!(
        temperatures(&mut sensor, 7),
        [Some(20.0), None, None, Some(20.5), None, Some(19.9), None]
    );
}

#[test]
fn delta_zero_publishes_every_change_and_nothing_else() {
    let script = script(&[1.0, 1.0, 2.0, 2.0, 1.0]);
    let mut sensor = Delta::absolute(MockSensor::new(&script), T, 0.0).unwrap();
    assert_eq!(
        temperatures(&mut sensor, 5),
        [Some(1.0), None, Some(2.0), None, Some(1.0)]
    );
}

#[test]
fn delta_percent_is_relative_to_the_last_published_value() {
    let script = script(&[100.0, 109.0, 110.0, 120.0, 121.0, 0.0, 0.001]);
    let mut sensor = Delta::percent(MockSensor::new(&script), T, 10.0).unwrap();
    assert_eq!(
        temperatures(&mut sensor, 7),
        // 110 is 10 % of 100 away; 120 is under 10 % of 110 away, 121 is exactly 10 %; after
        // a 0 any change counts.
        [
            Some(100.0),
            None,
            Some(110.0),
            None,
            Some(121.0),
            Some(0.0),
            Some(0.001)
        ]
    );
}

#[test]
fn delta_refuses_negative_and_non_finite_thresholds() {
    assert_eq!(
        Delta::absolute((), T, -1.0).unwrap_err(),
        FilterError::NegativeThreshold
    );
    assert_eq!(
        Delta::percent((), T, f32::INFINITY).unwrap_err(),
        FilterError::NotFinite
    );
}

#[test]
fn heartbeat_publishes_an_unchanged_value_once_the_period_has_passed() {
    let script = script(&[20.0, 20.0, 20.0, 20.0, 25.0, 25.0, 25.0]);
    let clock = SimulatedClock::new();
    let mut sensor = Delta::absolute(MockSensor::new(&script), T, 1.0)
        .unwrap()
        .with_heartbeat(&clock, 60_000);
    let mut read = |advance_ms: u64| {
        clock.advance_ms(advance_ms);
        embassy_futures::block_on(sensor.read()).unwrap().get(T)
    };
    assert_eq!(read(0), Some(20.0)); // t = 0: first
    assert_eq!(read(30_000), None); // t = 30 s: unchanged, heartbeat not due
    assert_eq!(read(29_999), None); // t = 59.999 s
    assert_eq!(read(1), Some(20.0)); // t = 60 s: heartbeat
    assert_eq!(read(10_000), Some(25.0)); // t = 70 s: a change, which restarts the period
    assert_eq!(read(59_999), None); // t = 129.999 s
    assert_eq!(read(1), Some(25.0)); // t = 130 s
}

#[test]
fn throttle_lets_one_value_through_per_period() {
    let script = script(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let clock = SimulatedClock::new();
    let mut sensor = Throttle::new(MockSensor::new(&script), T, &clock, 5_000);
    let got: Vec<Option<f32>> = [0, 2_000, 2_999, 1, 4_999, 5_000]
        .iter()
        .map(|&advance| {
            clock.advance_ms(advance);
            embassy_futures::block_on(sensor.read()).unwrap().get(T)
        })
        .collect();
    // t = 0, 2, 4.999, 5, 9.999, 14.999 s; held-back readings do not restart the period.
    assert_eq!(got, [Some(1.0), None, None, Some(4.0), None, Some(6.0)]);
}

#[test]
fn calibrate_applies_multiply_then_offset() {
    let script = script(&[10.0, -4.0]);
    let mut sensor = Calibrate::linear(MockSensor::new(&script), T, 2.0, 1.0).unwrap();
    assert_eq!(temperatures(&mut sensor, 2), [Some(21.0), Some(-7.0)]);
    assert_eq!(
        Calibrate::linear((), T, f32::NAN, 0.0).unwrap_err(),
        FilterError::NotFinite
    );
}

#[test]
fn calibrate_from_points_maps_each_point_onto_its_true_value() {
    let script = script(&[2.0, 12.0, 7.0]);
    let sensor =
        Calibrate::from_points(MockSensor::new(&script), T, (2.0, 0.0), (12.0, 100.0)).unwrap();
    assert_eq!(sensor.coefficients(), (10.0, -20.0));
    let mut sensor = sensor;
    assert_eq!(
        temperatures(&mut sensor, 3),
        [Some(0.0), Some(100.0), Some(50.0)]
    );
    assert_eq!(
        Calibrate::from_points((), T, (1.0, 0.0), (1.0, 5.0)).unwrap_err(),
        FilterError::SamePoints
    );
}

#[test]
fn clamp_moves_values_to_the_bounds_or_drops_them() {
    let script = script(&[-5.0, 0.0, 50.0, 100.0, 105.0]);
    let mut sensor = Clamp::new(MockSensor::new(&script), T, 0.0, 100.0).unwrap();
    assert_eq!(
        temperatures(&mut sensor, 5),
        [Some(0.0), Some(0.0), Some(50.0), Some(100.0), Some(100.0)]
    );
    let mut sensor = Clamp::new(MockSensor::new(&script), T, 0.0, 100.0)
        .unwrap()
        .dropping_out_of_range();
    assert_eq!(
        temperatures(&mut sensor, 5),
        [None, Some(0.0), Some(50.0), Some(100.0), None]
    );
    assert_eq!(
        Clamp::new((), T, 2.0, 1.0).unwrap_err(),
        FilterError::EmptyRange
    );
    assert_eq!(
        Clamp::new((), T, f32::NAN, 1.0).unwrap_err(),
        FilterError::NotFinite
    );
}

#[test]
fn filters_compose_and_each_acts_on_its_own_quantity() {
    // Calibrate humidity, average temperature over 2, then publish temperature changes >= 1.
    let script = script(&[10.0, 10.0, 12.0, 12.0]);
    let calibrated = Calibrate::linear(MockSensor::new(&script), H, 1.0, 0.5).unwrap();
    let averaged = MovingAverage::<_, 2>::new(calibrated, T);
    let mut sensor = Delta::absolute(averaged, T, 1.0).unwrap();
    let samples: Vec<Sample<4>> = (0..4)
        .map(|_| embassy_futures::block_on(sensor.read()).unwrap())
        .collect();
    let t: Vec<Option<f32>> = samples.iter().map(|s| s.get(T)).collect();
    let h: Vec<Option<f32>> = samples.iter().map(|s| s.get(H)).collect();
    // Averages 10, 10, 11, 12: the delta lets 10, 11 and 12 out.
    assert_eq!(t, [Some(10.0), None, Some(11.0), Some(12.0)]);
    assert_eq!(h, [Some(40.5), Some(41.5), Some(42.5), Some(43.5)]);
}

#[test]
fn a_sensor_error_passes_through_a_filter_and_leaves_its_state() {
    let mut steps = script(&[20.0]);
    steps.push(Err(MockError::Scripted(9)));
    steps.extend(script(&[20.1]));
    let mut sensor = Delta::absolute(MockSensor::new(&steps), T, 0.5).unwrap();
    assert_eq!(
        embassy_futures::block_on(sensor.read()).unwrap().get(T),
        Some(20.0)
    );
    assert_eq!(
        embassy_futures::block_on(sensor.read()),
        Err(MockError::Scripted(9))
    );
    // Still compared with 20.0.
    assert_eq!(
        embassy_futures::block_on(sensor.read()).unwrap().get(T),
        None
    );
}

/// A temperature-only sample: once the delta holds it back, the sample is empty.
fn temperature_only(values: &[f32]) -> Vec<Result<Sample<1>, MockError>> {
    values
        .iter()
        .map(|&t| Ok(Sample::from_readings(&[Reading::new(T, t)]).unwrap()))
        .collect()
}

#[test]
fn a_filtered_out_sample_publishes_nothing_and_is_not_an_error() {
    let script = temperature_only(&[20.0, 20.1, 21.0]);
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        Delta::absolute(MockSensor::new(&script), T, 0.5).unwrap(),
        JsonSink::object("apricot/value").unwrap(),
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    let sent: Vec<usize> = (0..3)
        .map(|_| embassy_futures::block_on(publisher.publish_once()).unwrap())
        .collect();
    assert_eq!(sent, [1, 0, 1]);
    let payloads: Vec<&[u8]> = publisher
        .transport()
        .messages()
        .iter()
        .map(|m| &m.payload[..])
        .collect();
    assert_eq!(
        payloads,
        [&br#"{"temperature":20}"#[..], br#"{"temperature":21}"#]
    );
    assert_eq!(publisher.transport().attempts(), 2);
}

#[test]
fn a_throttle_on_the_publishers_clock_thins_a_fast_loop() {
    // Read every second, publish at most every 5 s: one clock, shared by reference.
    let script = temperature_only(&[20.0]);
    let clock = SimulatedClock::new();
    let mut buf = [0u8; 64];
    let mut publisher = Publisher::new(
        Throttle::new(MockSensor::new(&script).repeating(), T, &clock, 5_000),
        JsonSink::value("apricot/value").unwrap(),
        MemoryTransport::<8, 64>::new(),
        &clock,
        &mut buf,
    );
    embassy_futures::block_on(publisher.run_for(1_000, 12)).unwrap();
    // Reads at 0, 1, …, 11 s; published at 0, 5 and 10 s.
    assert_eq!(publisher.transport().messages().len(), 3);
    assert_eq!(sensorpub::Clock::now_ms(&mut &clock), 11_000);
}

#[test]
fn the_resilient_publisher_also_takes_a_filtered_out_sample_as_nothing_to_send() {
    let script = temperature_only(&[20.0, 20.0, 22.0]);
    let mut buf = [0u8; 64];
    let publisher = Publisher::new(
        Delta::absolute(MockSensor::new(&script), T, 0.5).unwrap(),
        JsonSink::value("apricot/value").unwrap(),
        MemoryTransport::<4, 64>::new(),
        SimulatedClock::new(),
        &mut buf,
    );
    let backoff = Backoff::new(
        BackoffConfig::new(500, 30_000).unwrap(),
        XorShiftRng::seed_from_u64(1),
    );
    let mut publisher = ResilientPublisher::new(publisher, backoff, MessageQueue::<4, 256>::new());
    let sent: Vec<usize> = (0..3)
        .map(|_| embassy_futures::block_on(publisher.publish_once()).unwrap())
        .collect();
    assert_eq!(sent, [1, 0, 1]);
    let payloads: Vec<&[u8]> = publisher
        .transport()
        .messages()
        .iter()
        .map(|m| &m.payload[..])
        .collect();
    assert_eq!(payloads, [&b"20"[..], b"22"]);
}
