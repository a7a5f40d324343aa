//! LTR-329ALS-01 driver against mocked bus transactions, blocking and async, and the lux
//! formula against hand-computed values at each band and band edge.
//!
//! Register addresses and values are written out from the datasheet here, not taken from the
//! driver, so a wrong table in the driver fails these tests.

mod dual;

use dual::{both, done, nack};
use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as D};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as T};
use sensorpub::pysense::ltr329::{
    Config, ConfigError, Error, Gain, IntegrationTime, MeasurementRate, PartId, lux,
};
use sensorpub::{Quantity, Sample};

const ADDR: u8 = 0x29;
const ALS_CONTR: u8 = 0x80;
const ALS_MEAS_RATE: u8 = 0x85;
const PART_ID: u8 = 0x86;
const MANUFAC_ID: u8 = 0x87;
const ALS_DATA_CH1_0: u8 = 0x88;
const ALS_STATUS: u8 = 0x8C;
/// ALS_STATUS with the new-data bit (b2) and gain 1× (b6:4 = 0).
const STATUS_NEW_GAIN1: u8 = 0x04;

fn no_delays() -> CheckedDelay {
    CheckedDelay::new(&[])
}

/// The bytes of a 4-byte burst from 0x88: CH1 low, CH1 high, CH0 low, CH0 high.
fn burst(ch0: u16, ch1: u16) -> Vec<u8> {
    let [c1l, c1h] = ch1.to_le_bytes();
    let [c0l, c0h] = ch0.to_le_bytes();
    vec![c1l, c1h, c0l, c0h]
}

/// What `configure` sends: standby (ALS_CONTR `standby`, the old gain kept), ALS_MEAS_RATE,
/// ALS_CONTR `active`, and after the 10 ms wake-up one 4-byte read from 0x88 that throws away
/// data measured before (ALS_STATUS does not say with which integration time).
fn configure(standby: u8, meas_rate: u8, active: u8) -> Vec<T> {
    vec![
        T::write(ADDR, vec![ALS_CONTR, standby]),
        T::write(ADDR, vec![ALS_MEAS_RATE, meas_rate]),
        T::write(ADDR, vec![ALS_CONTR, active]),
        T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(1234, 567)),
    ]
}

/// A bus mock expecting the transactions of `parts`, in order.
fn mock(parts: &[Vec<T>]) -> I2cMock {
    I2cMock::new(&parts.concat())
}

fn close_to(actual: f32, expected: f32) -> bool {
    (actual - expected).abs() <= 1e-4 * expected.abs().max(1.0)
}

both! {
    blocking: use sensorpub::pysense::ltr329::Ltr329 as Ltr329;
    asynchronous: use sensorpub::pysense::ltr329::Ltr329Async as Ltr329;

    fn new_does_no_io_and_destroy_returns_the_bus() {
        let sensor = Ltr329::new(I2cMock::new(&[]), no_delays());
        done(sensor.destroy());
    }

    fn init_checks_part_id_writes_rate_then_gain_and_waits_10_ms() {
        let i2c = mock(&[
            vec![T::write_read(ADDR, vec![PART_ID], vec![0xA0])],
            // 200 ms (code 2) << 3 | 500 ms (code 3); 8× (code 3) << 2 | active
            configure(0x00, 0x13, 0x0D),
        ]);
        let delay = CheckedDelay::new(&[D::delay_ms(10)]);
        let mut s = Ltr329::new(i2c, delay);
        let config =
            Config::new(Gain::X8, IntegrationTime::Ms200, MeasurementRate::Ms500).unwrap();
        assert_eq!(run!(s.init(config)), Ok(()));
        assert_eq!(s.config(), config);
        done(s.destroy());
    }

    fn init_with_the_default_config_writes_the_reset_values_and_activates() {
        let i2c = mock(&[
            vec![T::write_read(ADDR, vec![PART_ID], vec![0xA0])],
            configure(0x00, 0x03, 0x01),
        ]);
        let mut s = Ltr329::new(i2c, CheckedDelay::new(&[D::delay_ms(10)]));
        assert_eq!(run!(s.init(Config::default())), Ok(()));
        done(s.destroy());
    }

    fn init_96x_50ms_50ms_codes() {
        let i2c = mock(&[
            vec![T::write_read(ADDR, vec![PART_ID], vec![0xA0])],
            // 50 ms integration is code 1, 50 ms rate code 0; 96× is code 7: 7 << 2 | 1
            configure(0x00, 0x08, 0x1D),
        ]);
        let mut s = Ltr329::new(i2c, CheckedDelay::new(&[D::delay_ms(10)]));
        let config =
            Config::new(Gain::X96, IntegrationTime::Ms50, MeasurementRate::Ms50).unwrap();
        assert_eq!(run!(s.init(config)), Ok(()));
        done(s.destroy());
    }

    fn init_refuses_another_part_and_writes_nothing() {
        let i2c = I2cMock::new(&[T::write_read(ADDR, vec![PART_ID], vec![0x92])]);
        let mut s = Ltr329::new(i2c, no_delays());
        assert_eq!(
            run!(s.init(Config::default())),
            Err(Error::InvalidDevice { found: 0x92 })
        );
        done(s.destroy());
    }

    fn init_reports_a_nack_as_i2c_error() {
        let i2c =
            I2cMock::new(&[T::write_read(ADDR, vec![PART_ID], vec![0]).with_error(nack())]);
        let mut s = Ltr329::new(i2c, no_delays());
        assert_eq!(run!(s.init(Config::default())), Err(Error::I2c(nack())));
        done(s.destroy());
    }

    fn part_and_manufacturer_ids() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![PART_ID], vec![0xA0]),
            T::write_read(ADDR, vec![MANUFAC_ID], vec![0x05]),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        assert_eq!(
            run!(s.part_id()),
            Ok(PartId {
                part: 0xA,
                revision: 0
            })
        );
        assert_eq!(run!(s.manufacturer_id()), Ok(0x05));
        done(s.destroy());
    }

    fn standby_clears_the_active_bit_and_keeps_the_gain() {
        let i2c = mock(&[
            vec![T::write_read(ADDR, vec![PART_ID], vec![0xA0])],
            configure(0x00, 0x03, 0x09),
            vec![T::write(ADDR, vec![ALS_CONTR, 0x08])],
        ]);
        let mut s = Ltr329::new(i2c, CheckedDelay::new(&[D::delay_ms(10)]));
        let config =
            Config::new(Gain::X4, IntegrationTime::Ms100, MeasurementRate::Ms500).unwrap();
        assert_eq!(run!(s.init(config)), Ok(()));
        assert_eq!(run!(s.standby()), Ok(()));
        done(s.destroy());
    }

    fn reconfiguring_goes_through_standby_and_drops_data_of_the_old_integration_time() {
        let i2c = mock(&[
            vec![T::write_read(ADDR, vec![PART_ID], vec![0xA0])],
            configure(0x00, 0x03, 0x09),
            // standby keeps 4×; 400 ms (code 3) << 3 | 500 ms; 4× active
            configure(0x08, 0x1B, 0x09),
            vec![
                T::write_read(ADDR, vec![ALS_STATUS], vec![0x00]),
                // new data at 4× (b6:4 = 2), integrated over 400 ms
                T::write_read(ADDR, vec![ALS_STATUS], vec![0x24]),
                T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(4000, 800)),
            ],
        ]);
        let delays = [D::delay_ms(10), D::delay_ms(10), D::delay_ms(10)];
        let mut s = Ltr329::new(i2c, CheckedDelay::new(&delays));
        let at = |integration| Config::new(Gain::X4, integration, MeasurementRate::Ms500).unwrap();
        run!(s.init(at(IntegrationTime::Ms100))).unwrap();
        run!(s.configure(at(IntegrationTime::Ms400))).unwrap();
        let lx = run!(s.read_lux()).unwrap();
        // (1.7743·4000 + 1.1059·800) / 4 (gain) / 4 (400 ms)
        assert!(close_to(lx, 498.8575), "{lx}");
        done(s.destroy());
    }

    fn data_a_failed_configure_could_not_drop_is_dropped_before_the_next_read() {
        let mut script = configure(0x00, 0x03, 0x01);
        script[3] = script[3].clone().with_error(nack());
        let i2c = mock(&[
            vec![T::write_read(ADDR, vec![PART_ID], vec![0xA0])],
            script,
            vec![
                T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(1234, 567)),
                T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
                T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(800, 200)),
            ],
        ]);
        let mut s = Ltr329::new(i2c, CheckedDelay::new(&[D::delay_ms(10)]));
        assert_eq!(run!(s.init(Config::default())), Err(Error::I2c(nack())));
        let lx = run!(s.read_lux()).unwrap();
        assert!(close_to(lx, 1640.62), "{lx}");
        done(s.destroy());
    }

    fn read_checks_status_then_reads_one_4_byte_burst_from_0x88() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(800, 200)),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        let m = run!(s.read_measurement()).unwrap();
        assert_eq!((m.ch0, m.ch1, m.gain), (800, 200, Gain::X1));
        done(s.destroy());
    }

    fn read_lux_uses_the_app_note_formula() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(800, 200)),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        let lx = run!(s.read_lux()).unwrap();
        // 1.7743·800 + 1.1059·200, gain 1, 100 ms
        assert!(close_to(lx, 1640.62), "{lx}");
        done(s.destroy());
    }

    fn read_lux_divides_by_the_gain_the_status_reports() {
        let i2c = I2cMock::new(&[
            // new data, taken at 8× (b6:4 = 3)
            T::write_read(ADDR, vec![ALS_STATUS], vec![0x34]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(800, 200)),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        let lx = run!(s.read_lux()).unwrap();
        assert!(close_to(lx, 1640.62 / 8.0), "{lx}");
        done(s.destroy());
    }

    fn read_lux_at_50_ms_integration_is_twice_the_100_ms_value() {
        let i2c = mock(&[
            vec![T::write_read(ADDR, vec![PART_ID], vec![0xA0])],
            configure(0x00, 0x0B, 0x01),
            vec![T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1])],
            vec![T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(800, 200))],
        ]);
        let mut s = Ltr329::new(i2c, CheckedDelay::new(&[D::delay_ms(10)]));
        let config =
            Config::new(Gain::X1, IntegrationTime::Ms50, MeasurementRate::Ms500).unwrap();
        run!(s.init(config)).unwrap();
        let lx = run!(s.read_lux()).unwrap();
        assert!(close_to(lx, 1640.62 * 2.0), "{lx}");
        done(s.destroy());
    }

    fn read_waits_in_10_ms_steps_until_new_data() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![0x00]),
            T::write_read(ADDR, vec![ALS_STATUS], vec![0x00]),
            T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(10, 2)),
        ]);
        let delay = CheckedDelay::new(&[D::delay_ms(10), D::delay_ms(10)]);
        let mut s = Ltr329::new(i2c, delay);
        let m = run!(s.read_measurement()).unwrap();
        assert_eq!((m.ch0, m.ch1), (10, 2));
        done(s.destroy());
    }

    fn read_times_out_after_two_measurement_periods_without_new_data() {
        // default: 500 ms rate ⇒ 1000 ms in 10 ms steps: 101 polls, 100 waits
        let expected = vec![T::write_read(ADDR, vec![ALS_STATUS], vec![0x00]); 101];
        let i2c = I2cMock::new(&expected);
        let delay = CheckedDelay::new(&vec![D::delay_ms(10); 100]);
        let mut s = Ltr329::new(i2c, delay);
        assert_eq!(run!(s.read_measurement()), Err(Error::Timeout));
        done(s.destroy());
    }

    fn read_refuses_data_flagged_invalid() {
        let i2c = I2cMock::new(&[T::write_read(ADDR, vec![ALS_STATUS], vec![0x84])]);
        let mut s = Ltr329::new(i2c, no_delays());
        assert_eq!(
            run!(s.read_lux()),
            Err(Error::DataInvalid { status: 0x84 })
        );
        done(s.destroy());
    }

    fn read_refuses_a_reserved_gain_code_in_the_status() {
        // b6:4 = 4 is reserved
        let i2c = I2cMock::new(&[T::write_read(ADDR, vec![ALS_STATUS], vec![0x44])]);
        let mut s = Ltr329::new(i2c, no_delays());
        assert_eq!(
            run!(s.read_lux()),
            Err(Error::DataInvalid { status: 0x44 })
        );
        done(s.destroy());
    }

    fn read_refuses_a_saturated_channel() {
        for (ch0, ch1) in [(0xFFFF, 1000), (1000, 0xFFFF), (0xFFFF, 0xFFFF)] {
            let i2c = I2cMock::new(&[
                T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
                T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(ch0, ch1)),
            ]);
            let mut s = Ltr329::new(i2c, no_delays());
            assert_eq!(run!(s.read_lux()), Err(Error::Saturated { ch0, ch1 }));
            done(s.destroy());
        }
    }

    fn read_reports_a_nack_on_the_data_burst() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], vec![0; 4]).with_error(nack()),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        assert_eq!(run!(s.read_lux()), Err(Error::I2c(nack())));
        done(s.destroy());
    }

    fn read_reports_a_nack_on_the_status() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![0]).with_error(nack())
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        assert_eq!(run!(s.read_lux()), Err(Error::I2c(nack())));
        done(s.destroy());
    }

    fn sensor_read_gives_one_illuminance_reading() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(800, 200)),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        let sample: Sample<2> = run!(s.read()).unwrap();
        assert_eq!(sample.len(), 1);
        assert!(close_to(
            sample.get(Quantity::Illuminance).unwrap(),
            1640.62
        ));
        done(s.destroy());
    }

    fn sensor_read_into_a_full_sample_is_an_error_not_a_dropped_reading() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(800, 200)),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        let result: Result<Sample<0>, _> = run!(s.read());
        assert_eq!(result, Err(Error::SampleFull));
        done(s.destroy());
    }

    fn sensor_read_passes_saturation_on_as_an_error() {
        let i2c = I2cMock::new(&[
            T::write_read(ADDR, vec![ALS_STATUS], vec![STATUS_NEW_GAIN1]),
            T::write_read(ADDR, vec![ALS_DATA_CH1_0], burst(0xFFFF, 0xFFFF)),
        ]);
        let mut s = Ltr329::new(i2c, no_delays());
        let result: Result<Sample<1>, _> = run!(s.read());
        assert_eq!(
            result,
            Err(Error::Saturated {
                ch0: 0xFFFF,
                ch1: 0xFFFF
            })
        );
        done(s.destroy());
    }
}

mod formula {
    use super::*;

    fn lux1(ch0: u16, ch1: u16) -> f32 {
        lux(ch0, ch1, Gain::X1, IntegrationTime::Ms100, 1.0)
    }

    #[test]
    fn band_below_0_45() {
        // ratio 0.2
        assert!(close_to(lux1(800, 200), 1.7743 * 800.0 + 1.1059 * 200.0));
        // ratio 0.449, just below the edge
        assert!(close_to(lux1(551, 449), 1474.1884));
    }

    #[test]
    fn ratio_exactly_0_45_is_in_the_second_band() {
        // 4.2785·55 − 1.9548·45
        assert!(close_to(lux1(55, 45), 147.3515), "{}", lux1(55, 45));
    }

    #[test]
    fn band_0_45_to_0_64() {
        // ratio 0.5
        assert!(close_to(lux1(100, 100), 427.85 - 195.48));
        // ratio 0.639, just below the edge
        assert!(close_to(lux1(361, 639), 295.4213));
    }

    #[test]
    fn ratio_exactly_0_64_is_in_the_third_band() {
        // 0.5926·36 + 0.1185·64
        assert!(close_to(lux1(36, 64), 28.9176), "{}", lux1(36, 64));
    }

    #[test]
    fn third_band_adds_the_ch1_term() {
        // The ltr303 crate subtracts here (13.7496); the app note adds.
        assert!(close_to(lux1(151, 849), 190.0891), "{}", lux1(151, 849));
    }

    #[test]
    fn ratio_0_85_and_above_is_zero() {
        assert_eq!(lux1(15, 85), 0.0);
        assert_eq!(lux1(1, 99), 0.0);
        assert_eq!(lux1(0, 100), 0.0);
    }

    #[test]
    fn darkness_is_zero_not_nan() {
        assert_eq!(lux1(0, 0), 0.0);
    }

    #[test]
    fn divided_by_gain_integration_time_and_window_factor() {
        let base = lux1(800, 200);
        assert!(close_to(
            lux(800, 200, Gain::X96, IntegrationTime::Ms400, 1.0),
            base / 96.0 / 4.0
        ));
        assert!(close_to(
            lux(800, 200, Gain::X48, IntegrationTime::Ms150, 1.0),
            base / 48.0 / 1.5
        ));
        assert!(close_to(
            lux(800, 200, Gain::X1, IntegrationTime::Ms100, 2.0),
            base / 2.0
        ));
    }

    #[test]
    fn fifty_ms_integration_is_half_of_100_ms_not_the_same() {
        assert!(close_to(
            lux(800, 200, Gain::X1, IntegrationTime::Ms50, 1.0),
            2.0 * lux1(800, 200)
        ));
    }

    #[test]
    fn integration_time_and_gain_codes_follow_the_datasheet() {
        let codes: Vec<(u32, u8)> = [
            IntegrationTime::Ms50,
            IntegrationTime::Ms100,
            IntegrationTime::Ms150,
            IntegrationTime::Ms200,
            IntegrationTime::Ms250,
            IntegrationTime::Ms300,
            IntegrationTime::Ms350,
            IntegrationTime::Ms400,
        ]
        .iter()
        .map(|t| (t.millis(), t.code()))
        .collect();
        assert_eq!(
            codes,
            [
                (50, 1),
                (100, 0),
                (150, 4),
                (200, 2),
                (250, 5),
                (300, 6),
                (350, 7),
                (400, 3)
            ]
        );
        let gains: Vec<u8> = [Gain::X1, Gain::X2, Gain::X4, Gain::X8, Gain::X48, Gain::X96]
            .iter()
            .map(|g| g.code())
            .collect();
        assert_eq!(gains, [0, 1, 2, 3, 6, 7]);
        assert_eq!(Gain::from_code(4), None);
        assert_eq!(Gain::from_code(5), None);
    }

    #[test]
    fn config_refuses_a_rate_shorter_than_the_integration_time() {
        assert_eq!(
            Config::new(Gain::X1, IntegrationTime::Ms100, MeasurementRate::Ms50),
            Err(ConfigError::RateShorterThanIntegration)
        );
        assert!(Config::new(Gain::X1, IntegrationTime::Ms100, MeasurementRate::Ms100).is_ok());
        assert_eq!(
            Config::default().with_window_factor(0.0),
            Err(ConfigError::InvalidWindowFactor)
        );
        assert_eq!(
            Config::default().with_window_factor(f32::NAN),
            Err(ConfigError::InvalidWindowFactor)
        );
    }
}
