//! LIS2HH12 driver against mocked bus transactions, blocking and async, and the conversions
//! against hand-computed values.
//!
//! Register addresses and values are written out from the datasheet here, not taken from the
//! driver, so a wrong table in the driver fails these tests.

mod dual;

use dual::{both, done, nack};
use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as D};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as T};
use sensorpub::pysense::lis2hh12::{
    Config, DataRate, Error, FullScale, RawAcceleration, TEMPERATURE_QUANTITY, acceleration_g,
    pitch, roll, temperature_celsius,
};
use sensorpub::{Quantity, Sample};

const ADDR: u8 = 0x1E;
const TEMP_L: u8 = 0x0B;
const WHO_AM_I: u8 = 0x0F;
const CTRL1: u8 = 0x20;
const CTRL4: u8 = 0x23;
const STATUS: u8 = 0x27;
const OUT_X_L: u8 = 0x28;
/// STATUS with ZYXDA (b3).
const ZYXDA: u8 = 0x08;
/// CTRL1 at 50 Hz: ODR 2 << 4 | BDU (b3) | Z, Y, X enabled.
const CTRL1_50HZ: u8 = 0x2F;
/// CTRL4 at ±4 g: FS 0b10 << 4 | IF_ADD_INC (b2).
const CTRL4_4G: u8 = 0x24;

fn no_delays() -> CheckedDelay {
    CheckedDelay::new(&[])
}

/// CTRL4, then the 6-byte read that throws away a sample taken before it (at another scale).
fn full_scale_change(ctrl4: u8) -> Vec<T> {
    vec![
        T::write(ADDR, vec![CTRL4, ctrl4]),
        T::write_read(ADDR, vec![OUT_X_L], vec![0x55; 6]),
    ]
}

fn init_transactions(ctrl4: u8, ctrl1: u8) -> Vec<T> {
    let mut t = vec![T::write_read(ADDR, vec![WHO_AM_I], vec![0x41])];
    t.extend(full_scale_change(ctrl4));
    t.push(T::write(ADDR, vec![CTRL1, ctrl1]));
    t
}

/// X = 0, Y = −8197, Z = 8197 counts, little-endian: about 0 g, −1 g, +1 g at ±4 g.
fn tilted_45_degrees() -> Vec<u8> {
    vec![0x00, 0x00, 0xFB, 0xDF, 0x05, 0x20]
}

fn close_to(actual: f32, expected: f32, tolerance: f32) -> bool {
    (actual - expected).abs() <= tolerance
}

/// A driver (the body's `Lis2hh12`) already initialised at 50 Hz, ±4 g, then expecting `more`
/// transactions and `delays`.
macro_rules! started {
    ($more:expr, $delays:expr $(,)?) => {{
        let mut expected = init_transactions(CTRL4_4G, CTRL1_50HZ);
        expected.extend_from_slice($more);
        let mut s = Lis2hh12::new(I2cMock::new(&expected), CheckedDelay::new($delays));
        run!(s.init(Config::default())).unwrap();
        s
    }};
}

both! {
    blocking: use sensorpub::pysense::lis2hh12::Lis2hh12 as Lis2hh12;
    asynchronous: use sensorpub::pysense::lis2hh12::Lis2hh12Async as Lis2hh12;

    fn new_does_no_io_and_destroy_returns_the_bus() {
        done(Lis2hh12::new(I2cMock::new(&[]), no_delays()).destroy());
    }

    fn init_checks_who_am_i_then_writes_ctrl4_and_ctrl1_with_bdu() {
        let i2c = I2cMock::new(&init_transactions(CTRL4_4G, CTRL1_50HZ));
        let mut s = Lis2hh12::new(i2c, no_delays());
        assert_eq!(run!(s.init(Config::default())), Ok(()));
        done(s.destroy());
    }

    fn init_encodes_every_rate_and_scale() {
        let cases = [
            (DataRate::Hz10, FullScale::G2, 0x1F, 0x04),
            (DataRate::Hz100, FullScale::G8, 0x3F, 0x34),
            (DataRate::Hz200, FullScale::G4, 0x4F, 0x24),
            (DataRate::Hz400, FullScale::G2, 0x5F, 0x04),
            (DataRate::Hz800, FullScale::G8, 0x6F, 0x34),
        ];
        for (data_rate, full_scale, ctrl1, ctrl4) in cases {
            let i2c = I2cMock::new(&init_transactions(ctrl4, ctrl1));
            let mut s = Lis2hh12::new(i2c, no_delays());
            let config = Config {
                data_rate,
                full_scale,
            };
            assert_eq!(run!(s.init(config)), Ok(()));
            assert_eq!(s.config(), config);
            done(s.destroy());
        }
    }

    fn init_refuses_another_chip_and_writes_nothing() {
        let i2c = I2cMock::new(&[T::write_read(ADDR, vec![WHO_AM_I], vec![0x33])]);
        let mut s = Lis2hh12::new(i2c, no_delays());
        assert_eq!(
            run!(s.init(Config::default())),
            Err(Error::InvalidDevice { found: 0x33 })
        );
        done(s.destroy());
    }

    fn init_reports_a_nack_as_i2c_error() {
        let i2c =
            I2cMock::new(
                &[T::write_read(ADDR, vec![WHO_AM_I], vec![0]).with_error(nack())],
            );
        let mut s = Lis2hh12::new(i2c, no_delays());
        assert_eq!(run!(s.init(Config::default())), Err(Error::I2c(nack())));
        done(s.destroy());
    }

    fn init_reports_a_nack_on_a_control_write() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![WHO_AM_I], vec![0x41]),
            T::write(ADDR, vec![CTRL4, CTRL4_4G]).with_error(nack()),
        ]);
        let mut s = Lis2hh12::new(i2c, no_delays());
        assert_eq!(run!(s.init(Config::default())), Err(Error::I2c(nack())));
        done(s.destroy());
    }

    fn changing_rate_or_scale_writes_the_whole_register_without_reading_it() {
        let mut more = full_scale_change(0x34);
        more.push(T::write(ADDR, vec![CTRL1, 0x3F]));
        let mut s = started!(&more, &[]);
        assert_eq!(run!(s.set_full_scale(FullScale::G8)), Ok(()));
        assert_eq!(run!(s.set_data_rate(DataRate::Hz100)), Ok(()));
        done(s.destroy());
    }

    fn read_waits_for_zyxda_then_reads_six_bytes_from_out_x_l() {
        let mut s = started!(
            &[
                T::write_read(ADDR, vec![STATUS], vec![0x00]),
                T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
                T::write_read(ADDR, vec![OUT_X_L], tilted_45_degrees()),
            ],
            &[D::delay_us(1000)],
        );
        assert_eq!(
            run!(s.read_raw()),
            Ok(RawAcceleration {
                x: 0,
                y: -8197,
                z: 8197
            })
        );
        done(s.destroy());
    }

    fn acceleration_uses_the_sensitivity_of_the_full_scale() {
        let mut more = full_scale_change(0x04);
        more.extend([
            T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
            // X = 16393 counts at 0.061 mg/LSB
            T::write_read(ADDR, vec![OUT_X_L], vec![0x09, 0x40, 0, 0, 0, 0]),
        ]);
        let mut s = started!(&more, &[]);
        run!(s.set_full_scale(FullScale::G2)).unwrap();
        let a = run!(s.acceleration()).unwrap();
        assert!(close_to(a.x, 16393.0 * 0.061 / 1000.0, 1e-6), "{a:?}");
        assert_eq!((a.y, a.z), (0.0, 0.0));
        done(s.destroy());
    }

    fn a_full_scale_change_drops_the_pending_sample_and_waits_for_the_next() {
        let mut more = full_scale_change(0x04);
        more.extend([
            // the old sample was read and dropped: ZYXDA is clear until the next one
            T::write_read(ADDR, vec![STATUS], vec![0x00]),
            T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
            // X = 3279 counts at ±2 g: 3279 · 0.061 mg = 0.200019 g
            T::write_read(ADDR, vec![OUT_X_L], vec![0xCF, 0x0C, 0, 0, 0, 0]),
        ]);
        let mut s = started!(&more, &[D::delay_us(1000)]);
        run!(s.set_full_scale(FullScale::G2)).unwrap();
        let a = run!(s.acceleration()).unwrap();
        assert!(close_to(a.x, 0.200_019, 1e-6), "{a:?}");
        done(s.destroy());
    }

    fn a_failed_drop_after_a_full_scale_change_is_retried_before_the_next_read() {
        let mut s = started!(
            &[
                T::write(ADDR, vec![CTRL4, 0x04]),
                T::write_read(ADDR, vec![OUT_X_L], vec![0; 6]).with_error(nack()),
                T::write_read(ADDR, vec![OUT_X_L], vec![0x55; 6]),
                T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
                T::write_read(ADDR, vec![OUT_X_L], vec![0xCF, 0x0C, 0, 0, 0, 0]),
            ],
            &[],
        );
        assert_eq!(run!(s.set_full_scale(FullScale::G2)), Err(Error::I2c(nack())));
        let a = run!(s.acceleration()).unwrap();
        assert!(close_to(a.x, 0.200_019, 1e-6), "{a:?}");
        done(s.destroy());
    }

    fn a_refused_full_scale_write_keeps_converting_with_the_old_scale() {
        let mut s = started!(
            &[
                T::write(ADDR, vec![CTRL4, 0x04]).with_error(nack()),
                T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
                // X = 1639 counts at ±4 g: 1639 · 0.122 mg = 0.199958 g
                T::write_read(ADDR, vec![OUT_X_L], vec![0x67, 0x06, 0, 0, 0, 0]),
            ],
            &[],
        );
        assert_eq!(run!(s.set_full_scale(FullScale::G2)), Err(Error::I2c(nack())));
        assert_eq!(s.config().full_scale, FullScale::G4);
        let a = run!(s.acceleration()).unwrap();
        assert!(close_to(a.x, 0.199_958, 1e-6), "{a:?}");
        done(s.destroy());
    }

    fn read_times_out_after_two_output_periods() {
        // 50 Hz: 2 × 20 ms in 1 ms steps = 41 polls, 40 waits
        let polls = vec![T::write_read(ADDR, vec![STATUS], vec![0x00]); 41];
        let mut s = started!(&polls, &vec![D::delay_us(1000); 40]);
        assert_eq!(run!(s.read_raw()), Err(Error::Timeout));
        done(s.destroy());
    }

    fn read_reports_a_nack_on_the_burst() {
        let mut s = started!(
            &[
                T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
                T::write_read(ADDR, vec![OUT_X_L], vec![0; 6]).with_error(nack()),
            ],
            &[],
        );
        assert_eq!(run!(s.acceleration()), Err(Error::I2c(nack())));
        done(s.destroy());
    }

    fn read_after_power_down_is_an_error_without_bus_traffic() {
        let mut s = started!(&[T::write(ADDR, vec![CTRL1, 0x0F])], &[]);
        assert_eq!(run!(s.power_down()), Ok(()));
        assert_eq!(run!(s.read_raw()), Err(Error::PoweredDown));
        done(s.destroy());
    }

    fn read_before_init_is_an_error_without_bus_traffic() {
        let mut s = Lis2hh12::new(I2cMock::new(&[]), no_delays());
        assert_eq!(run!(s.read_raw()), Err(Error::PoweredDown));
        done(s.destroy());
    }

    fn temperature_reads_temp_l_and_temp_h_in_one_read() {
        let mut s = started!(
            &[
                T::write_read(ADDR, vec![TEMP_L], vec![0x00, 0x01]),
                T::write_read(ADDR, vec![TEMP_L], vec![0x00, 0xFF]),
            ],
            &[],
        );
        assert_eq!(run!(s.temperature()), Ok(26.0));
        assert_eq!(run!(s.temperature()), Ok(24.0));
        done(s.destroy());
    }

    fn sensor_read_gives_acceleration_pitch_and_roll() {
        let mut s = started!(
            &[
                T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
                T::write_read(ADDR, vec![OUT_X_L], tilted_45_degrees()),
            ],
            &[],
        );
        let sample: Sample<5> = run!(s.read()).unwrap();
        let quantities: Vec<Quantity> =
            sample.readings().iter().map(|r| r.quantity).collect();
        assert_eq!(
            quantities,
            [
                Quantity::AccelerationX,
                Quantity::AccelerationY,
                Quantity::AccelerationZ,
                Quantity::Pitch,
                Quantity::Roll
            ]
        );
        let g = 8197.0 * 0.122 / 1000.0;
        assert_eq!(sample.get(Quantity::AccelerationX), Some(0.0));
        assert!(close_to(
            sample.get(Quantity::AccelerationY).unwrap(),
            -g,
            1e-6
        ));
        assert!(close_to(
            sample.get(Quantity::AccelerationZ).unwrap(),
            g,
            1e-6
        ));
        assert!(close_to(sample.get(Quantity::Pitch).unwrap(), 45.0, 1e-4));
        assert_eq!(sample.get(Quantity::Roll), Some(0.0));
        done(s.destroy());
    }

    fn sensor_read_into_a_small_sample_is_an_error_not_a_dropped_reading() {
        let mut s = started!(
            &[
                T::write_read(ADDR, vec![STATUS], vec![ZYXDA]),
                T::write_read(ADDR, vec![OUT_X_L], tilted_45_degrees()),
            ],
            &[],
        );
        let result: Result<Sample<4>, _> = run!(s.read());
        assert_eq!(result, Err(Error::SampleFull));
        done(s.destroy());
    }
}

mod conversions {
    use super::*;

    #[test]
    fn sensitivity_per_full_scale() {
        assert!(close_to(acceleration_g(1000, FullScale::G2), 0.061, 1e-7));
        assert!(close_to(acceleration_g(1000, FullScale::G4), 0.122, 1e-7));
        assert!(close_to(acceleration_g(1000, FullScale::G8), 0.244, 1e-7));
        assert!(close_to(
            acceleration_g(-32768, FullScale::G2),
            -1.998848,
            1e-6
        ));
        assert!(close_to(
            acceleration_g(32767, FullScale::G8),
            7.995148,
            1e-5
        ));
    }

    #[test]
    fn full_scale_codes_skip_the_reserved_01() {
        let codes: Vec<u8> = [FullScale::G2, FullScale::G4, FullScale::G8]
            .iter()
            .map(|f| f.code())
            .collect();
        assert_eq!(codes, [0b00, 0b10, 0b11]);
    }

    #[test]
    fn flat_is_zero_pitch_and_zero_roll_not_negative_zero() {
        let (p, r) = (pitch(0.0, 0.0, 1.0), roll(0.0, 0.0, 1.0));
        assert_eq!((p, r), (0.0, 0.0));
        assert!(p.is_sign_positive() && r.is_sign_positive());
    }

    #[test]
    fn roll_follows_atan2_of_minus_x_and_z() {
        let h = core::f32::consts::FRAC_1_SQRT_2;
        assert!(close_to(roll(-h, 0.0, h), 45.0, 1e-4));
        assert!(close_to(roll(1.0, 0.0, 0.0), -90.0, 1e-4));
        assert!(close_to(roll(0.0, 0.0, -1.0).abs(), 180.0, 1e-4));
        // roll ignores y
        assert_eq!(roll(-h, 0.3, h), roll(-h, -0.9, h));
    }

    #[test]
    fn pitch_is_minus_atan2_of_y_and_the_xz_magnitude() {
        assert!(close_to(pitch(0.0, 0.5, 0.75f32.sqrt()), -30.0, 1e-4));
        assert!(close_to(pitch(0.6, 0.0, 0.8), 0.0, 1e-6));
        assert!(close_to(pitch(0.0, -1.0, 0.0), 90.0, 1e-4));
        // the xz magnitude, not z alone: tilting about y does not change pitch
        assert!(close_to(pitch(0.8, 0.5, 0.0), pitch(0.0, 0.5, 0.8), 1e-5));
    }

    #[test]
    fn temperature_is_raw_over_256_plus_25() {
        assert_eq!(temperature_celsius(0), 25.0);
        assert_eq!(temperature_celsius(256 * 10), 35.0);
        assert_eq!(temperature_celsius(-256 * 5), 20.0);
        assert_eq!(temperature_celsius(128), 25.5);
    }

    #[test]
    fn temperature_quantity_does_not_collide_with_the_si7006_key() {
        assert_eq!(TEMPERATURE_QUANTITY.name(), "accelerometer_temperature");
        assert_eq!(TEMPERATURE_QUANTITY.unit(), "°C");
        assert_ne!(TEMPERATURE_QUANTITY.name(), Quantity::Temperature.name());
    }

    #[test]
    fn data_rate_codes_and_periods() {
        let rates = [
            DataRate::Hz10,
            DataRate::Hz50,
            DataRate::Hz100,
            DataRate::Hz200,
            DataRate::Hz400,
            DataRate::Hz800,
        ];
        let codes: Vec<u8> = rates.iter().map(|r| r.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
        assert_eq!(DataRate::Hz800.period_us(), 1250);
    }
}
