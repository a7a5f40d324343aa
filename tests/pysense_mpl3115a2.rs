//! MPL3115A2 driver against scripted bus transactions, every case run on the blocking and on
//! the async driver. Register addresses and values are written out here from the datasheet,
//! never taken from the driver.

mod dual;

use dual::{both, done, nack};
use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as Wait};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};
use sensorpub::pysense::mpl3115a2::{Error, Oversampling};
use sensorpub::{Quantity, Sample};

const ADDR: u8 = 0x60;
const STATUS: u8 = 0x00;
const WHO_AM_I: u8 = 0x0C;
const PT_DATA_CFG: u8 = 0x13;
const BAR_IN_MSB: u8 = 0x14;
const CTRL_REG1: u8 = 0x26;

// CTRL_REG1 values: ALT b7, OS b5..3, OST b1, SBYB b0 (always 0: standby, one-shot only).
/// Barometer, OS = 128 (0b111 << 3), standby.
const BARO_OS128: u8 = 0x38;
/// Altimeter, OS = 128, standby.
const ALT_OS128: u8 = 0xB8;
const OST: u8 = 0x02;
/// DREM | PDEFE | TDEFE.
const PT_DATA_CFG_FLAGS: u8 = 0x07;
/// STATUS after a one-shot: PTDR (b3) | PDR (b2) | TDR (b1).
const STATUS_FRESH: u8 = 0x0E;

/// Minimum time between samples at OS = 128, ms (CTRL_REG1 oversampling table).
const OS128_MS: u32 = 512;

/// The transactions of one one-shot measurement with CTRL_REG1 = `ctrl`, OST clearing at the
/// first poll, then the 6-byte burst `burst`.
fn one_shot(ctrl: u8, burst: [u8; 6]) -> Vec<T> {
    vec![
        T::write(ADDR, vec![CTRL_REG1, ctrl | OST]),
        T::write_read(ADDR, vec![CTRL_REG1], vec![ctrl]),
        T::write_read(ADDR, vec![STATUS], burst.to_vec()),
    ]
}

both! {
    blocking: use sensorpub::pysense::mpl3115a2::Mpl3115a2 as Driver;
    asynchronous: use sensorpub::pysense::mpl3115a2::Mpl3115a2Async as Driver;

    fn new_and_destroy_do_no_io() {
        let sensor = Driver::new(Mock::new(&[]), CheckedDelay::new(&[]));
        assert_eq!(sensor.oversampling(), Oversampling::X128);
        done(sensor.destroy());
    }

    fn init_checks_who_am_i_then_configures_standby_barometer_and_data_flags() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, vec![WHO_AM_I], vec![0xC4]),
            // Already in standby (SBYB clear, the power-on value): nothing to stop.
            T::write_read(ADDR, vec![CTRL_REG1], vec![0x00]),
            T::write(ADDR, vec![CTRL_REG1, BARO_OS128]),
            T::write(ADDR, vec![PT_DATA_CFG, PT_DATA_CFG_FLAGS]),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        run!(sensor.init()).unwrap();
        done(sensor.destroy());
    }

    fn init_in_altimeter_mode_sets_alt() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![CTRL_REG1, ALT_OS128]),
            T::write_read(ADDR, vec![WHO_AM_I], vec![0xC4]),
            T::write_read(ADDR, vec![CTRL_REG1], vec![ALT_OS128]),
            T::write(ADDR, vec![CTRL_REG1, ALT_OS128]),
            T::write(ADDR, vec![PT_DATA_CFG, PT_DATA_CFG_FLAGS]),
        ]);
        let sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        let mut sensor = run!(sensor.into_altimeter()).unwrap();
        run!(sensor.init()).unwrap();
        done(sensor.destroy());
    }

    fn init_on_a_chip_left_active_clears_sbyb_alone_before_changing_alt_and_os() {
        // Warm start: other firmware left the chip active as an altimeter at OS = 8
        // (ALT | OS 0b011 << 3 | SBYB = 0x99). ALT and OS may only change in standby.
        let i2c = Mock::new(&[
            T::write_read(ADDR, vec![WHO_AM_I], vec![0xC4]),
            T::write_read(ADDR, vec![CTRL_REG1], vec![0x99]),
            T::write(ADDR, vec![CTRL_REG1, 0x98]),
            T::write(ADDR, vec![CTRL_REG1, BARO_OS128]),
            T::write(ADDR, vec![PT_DATA_CFG, PT_DATA_CFG_FLAGS]),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        run!(sensor.init()).unwrap();
        done(sensor.destroy());
    }

    fn wrong_who_am_i_is_invalid_device_and_nothing_is_written() {
        let i2c = Mock::new(&[T::write_read(ADDR, vec![WHO_AM_I], vec![0xEE])]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(run!(sensor.init()), Err(Error::InvalidDevice { found: 0xEE }));
        done(sensor.destroy());
    }

    fn pressure_is_one_shot_waits_the_conversion_time_and_reads_one_burst() {
        // 101 325.75 Pa (Q18.2 0x62F37 → 62 F3 70), −5.25 °C (Q8.4 0xFAC → FA C0).
        let i2c = Mock::new(&one_shot(BARO_OS128, [STATUS_FRESH, 0x62, 0xF3, 0x70, 0xFA, 0xC0]));
        let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
        let mut sensor = Driver::new(i2c, delay);
        let m = run!(sensor.measure_pressure()).unwrap();
        assert_eq!(m.pressure, 101_325.75);
        assert_eq!(m.temperature, -5.25);
        done(sensor.destroy());
    }

    fn altitude_below_sea_level_after_switching_to_altimeter() {
        let mut script = vec![T::write(ADDR, vec![CTRL_REG1, ALT_OS128])];
        // −10.5 m (Q16.4 −168 = 0xFFF58 → FF F5 80), 23.5625 °C (0x179 → 17 90).
        script.extend(one_shot(ALT_OS128, [STATUS_FRESH, 0xFF, 0xF5, 0x80, 0x17, 0x90]));
        let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
        let sensor = Driver::new(Mock::new(&script), delay);
        let mut sensor = run!(sensor.into_altimeter()).unwrap();
        let m = run!(sensor.measure_altitude()).unwrap();
        assert_eq!(m.altitude, -10.5);
        assert_eq!(m.temperature, 23.5625);
        done(sensor.destroy());
    }

    fn ost_is_polled_until_the_chip_clears_it() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![CTRL_REG1, BARO_OS128 | OST]),
            T::write_read(ADDR, vec![CTRL_REG1], vec![BARO_OS128 | OST]),
            T::write_read(ADDR, vec![CTRL_REG1], vec![BARO_OS128 | OST]),
            T::write_read(ADDR, vec![CTRL_REG1], vec![BARO_OS128]),
            T::write_read(ADDR, vec![STATUS], vec![STATUS_FRESH, 0x62, 0xF3, 0x40, 0x17, 0x90]),
        ]);
        let delay = CheckedDelay::new(&[
            Wait::delay_ms(OS128_MS),
            Wait::delay_ms(10),
            Wait::delay_ms(10),
        ]);
        let mut sensor = Driver::new(i2c, delay);
        assert_eq!(run!(sensor.measure_pressure()).unwrap().pressure, 101_325.0);
        done(sensor.destroy());
    }

    fn oversampling_sets_os_bits_and_the_wait_and_survives_mode_changes() {
        let mut script = vec![
            // OS = 1: OS bits 000.
            T::write(ADDR, vec![CTRL_REG1, 0x00]),
        ];
        script.extend(one_shot(0x00, [STATUS_FRESH, 0x62, 0xF3, 0x40, 0x17, 0x90]));
        script.extend([
            // OS = 16: 100 << 3 = 0x20.
            T::write(ADDR, vec![CTRL_REG1, 0x20]),
            // Into altimeter keeps OS = 16: 0x80 | 0x20.
            T::write(ADDR, vec![CTRL_REG1, 0xA0]),
        ]);
        script.extend(one_shot(0xA0, [STATUS_FRESH, 0x00, 0x7B, 0x70, 0x17, 0x90]));
        // Back to barometer, OS still 16.
        script.push(T::write(ADDR, vec![CTRL_REG1, 0x20]));
        let delay = CheckedDelay::new(&[Wait::delay_ms(6), Wait::delay_ms(66)]);
        let mut sensor = Driver::new(Mock::new(&script), delay);
        run!(sensor.set_oversampling(Oversampling::X1)).unwrap();
        run!(sensor.measure_pressure()).unwrap();
        run!(sensor.set_oversampling(Oversampling::X16)).unwrap();
        let mut sensor = run!(sensor.into_altimeter()).unwrap();
        assert_eq!(sensor.oversampling(), Oversampling::X16);
        assert_eq!(run!(sensor.measure_altitude()).unwrap().altitude, 123.4375);
        let sensor = run!(sensor.into_barometer()).unwrap();
        done(sensor.destroy());
    }

    fn sea_level_pressure_goes_to_bar_in_in_2_pa_units() {
        let i2c = Mock::new(&[
            // 101 760 Pa / 2 = 50 880 = 0xC6C0.
            T::write(ADDR, vec![BAR_IN_MSB, 0xC6, 0xC0]),
            // 101 325 Pa rounds to 50 663 = 0xC5E7 (the power-on value, 101 326 Pa).
            T::write(ADDR, vec![BAR_IN_MSB, 0xC5, 0xE7]),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        run!(sensor.set_sea_level_pressure(101_760)).unwrap();
        run!(sensor.set_sea_level_pressure(101_325)).unwrap();
        done(sensor.destroy());
    }

    fn sea_level_pressure_beyond_bar_in_is_refused_without_io() {
        let mut sensor = Driver::new(Mock::new(&[]), CheckedDelay::new(&[]));
        assert_eq!(
            run!(sensor.set_sea_level_pressure(131_071)),
            Err(Error::InvalidSeaLevelPressure)
        );
        done(sensor.destroy());
    }

    fn failed_mode_change_gives_the_barometer_back() {
        let mut script = vec![T::write(ADDR, vec![CTRL_REG1, ALT_OS128]).with_error(nack())];
        script.extend(one_shot(BARO_OS128, [STATUS_FRESH, 0x62, 0xF3, 0x40, 0x17, 0x90]));
        let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
        let sensor = Driver::new(Mock::new(&script), delay);
        let failed = match run!(sensor.into_altimeter()) {
            Ok(_) => panic!("mode change should fail"),
            Err(failed) => failed,
        };
        assert_eq!(failed.error, Error::I2c(nack()));
        let mut sensor = failed.device;
        assert_eq!(run!(sensor.measure_pressure()).unwrap().pressure, 101_325.0);
        done(sensor.destroy());
    }

    fn failed_mode_change_gives_the_altimeter_back() {
        let script = vec![
            T::write(ADDR, vec![CTRL_REG1, ALT_OS128]),
            T::write(ADDR, vec![CTRL_REG1, BARO_OS128]).with_error(nack()),
        ];
        let sensor = Driver::new(Mock::new(&script), CheckedDelay::new(&[]));
        let sensor = run!(sensor.into_altimeter()).unwrap();
        let failed = match run!(sensor.into_barometer()) {
            Ok(_) => panic!("mode change should fail"),
            Err(failed) => failed,
        };
        assert_eq!(failed.error, Error::I2c(nack()));
        done(failed.device.destroy());
    }

    fn barometer_sample_has_pressure_and_its_own_temperature_key() {
        let i2c = Mock::new(&one_shot(BARO_OS128, [STATUS_FRESH, 0x62, 0xF3, 0x40, 0xFA, 0xC0]));
        let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
        let mut sensor = Driver::new(i2c, delay);
        let sample: Sample<4> = run!(sensor.read()).unwrap();
        assert_eq!(sample.len(), 2);
        assert_eq!(sample.get(Quantity::Pressure), Some(101_325.0));
        let chip_temperature = Quantity::Custom {
            name: "pressure_sensor_temperature",
            unit: "°C",
        };
        assert_eq!(sample.get(chip_temperature), Some(-5.25));
        // The SI7006 owns `temperature` in a PySense sample.
        assert_eq!(sample.get(Quantity::Temperature), None);
        done(sensor.destroy());
    }

    fn altimeter_sample_has_altitude_and_its_own_temperature_key() {
        let mut script = vec![T::write(ADDR, vec![CTRL_REG1, ALT_OS128])];
        script.extend(one_shot(ALT_OS128, [STATUS_FRESH, 0xFE, 0x52, 0x00, 0x17, 0x90]));
        let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
        let sensor = Driver::new(Mock::new(&script), delay);
        let mut sensor = run!(sensor.into_altimeter()).unwrap();
        let sample: Sample<2> = run!(sensor.read()).unwrap();
        assert_eq!(sample.get(Quantity::Altitude), Some(-430.0));
        assert_eq!(
            sample.readings()[1].quantity.name(),
            "pressure_sensor_temperature"
        );
        assert_eq!(sample.get(Quantity::Pressure), None);
        done(sensor.destroy());
    }

    fn a_too_small_sample_is_an_error_not_a_dropped_reading() {
        let i2c = Mock::new(&one_shot(BARO_OS128, [STATUS_FRESH, 0x62, 0xF3, 0x40, 0x17, 0x90]));
        let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
        let mut sensor = Driver::new(i2c, delay);
        let result: Result<Sample<1>, _> = run!(sensor.read());
        assert_eq!(result, Err(Error::SampleFull));
        done(sensor.destroy());
    }

    // --- error paths -------------------------------------------------------------------------

    fn ost_that_never_clears_times_out_after_ten_polls() {
        let mut script = vec![T::write(ADDR, vec![CTRL_REG1, BARO_OS128 | OST])];
        script.extend((0..10).map(|_| T::write_read(ADDR, vec![CTRL_REG1], vec![BARO_OS128 | OST])));
        let mut waits = vec![Wait::delay_ms(OS128_MS)];
        waits.extend((0..9).map(|_| Wait::delay_ms(10)));
        let mut sensor = Driver::new(Mock::new(&script), CheckedDelay::new(&waits));
        assert_eq!(run!(sensor.measure_pressure()), Err(Error::Timeout));
        done(sensor.destroy());
    }

    fn finished_measurement_without_data_ready_flags_is_refused() {
        for status in [0x00, 0x02, 0x04, 0x08] {
            let i2c = Mock::new(&one_shot(BARO_OS128, [status, 0x62, 0xF3, 0x40, 0x17, 0x90]));
            let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
            let mut sensor = Driver::new(i2c, delay);
            assert_eq!(
                run!(sensor.measure_pressure()),
                Err(Error::NoNewData { status }),
                "STATUS {status:#04x}"
            );
            done(sensor.destroy());
        }
    }

    fn absent_chip_nack_on_who_am_i_is_an_i2c_error() {
        let i2c = Mock::new(&[T::write_read(ADDR, vec![WHO_AM_I], vec![0]).with_error(nack())]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(run!(sensor.init()), Err(Error::I2c(nack())));
        done(sensor.destroy());
    }

    fn nack_on_the_data_burst_is_an_i2c_error() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![CTRL_REG1, BARO_OS128 | OST]),
            T::write_read(ADDR, vec![CTRL_REG1], vec![BARO_OS128]),
            T::write_read(ADDR, vec![STATUS], vec![0; 6]).with_error(nack()),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
        let mut sensor = Driver::new(i2c, delay);
        assert_eq!(run!(sensor.measure_pressure()), Err(Error::I2c(nack())));
        done(sensor.destroy());
    }
}

#[test]
fn errors_display_what_went_wrong() {
    let id: Error<ErrorKind> = Error::InvalidDevice { found: 0xEE };
    assert!(id.to_string().contains("0xee"));
    assert!(
        Error::<ErrorKind>::Timeout
            .to_string()
            .contains("did not finish")
    );
    let bus: Error<ErrorKind> = ErrorKind::Bus.into();
    assert_eq!(bus, Error::I2c(ErrorKind::Bus));
}

#[test]
fn oversampling_times_follow_the_datasheet_table() {
    let expected = [
        (Oversampling::X1, 6),
        (Oversampling::X2, 10),
        (Oversampling::X4, 18),
        (Oversampling::X8, 34),
        (Oversampling::X16, 66),
        (Oversampling::X32, 130),
        (Oversampling::X64, 258),
        (Oversampling::X128, 512),
    ];
    for (os, ms) in expected {
        assert_eq!(os.conversion_time_ms(), ms, "{os:?}");
    }
}

#[test]
fn barometer_publishes_pressure_and_chip_temperature_as_distinct_json_keys() {
    use sensorpub::JsonSink;
    use sensorpub::pysense::mpl3115a2::Mpl3115a2Async;

    let i2c = Mock::new(&one_shot(
        BARO_OS128,
        [STATUS_FRESH, 0x62, 0xF3, 0x70, 0xFA, 0xC0],
    ));
    let delay = CheckedDelay::new(&[Wait::delay_ms(OS128_MS)]);
    let mut checks = (i2c.clone(), delay.clone());
    // Shortest round-trip numbers: the quarter-pascal fraction survives exactly.
    let sink = JsonSink::object("pysense/value").unwrap();
    assert_eq!(
        dual::publish_one(Mpl3115a2Async::new(i2c, delay), sink),
        br#"{"pressure":101325.75,"pressure_sensor_temperature":-5.25}"#
    );
    checks.0.done();
    checks.1.done();
}
