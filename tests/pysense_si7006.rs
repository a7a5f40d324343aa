//! SI7006 driver against scripted bus transactions, every case run on the blocking and on the
//! async driver. Command bytes, register values and checksums are written out here from the
//! datasheet (checksums computed by hand with CRC-8 0x31 / init 0x00), never taken from the
//! driver.

mod dual;

use dual::{assert_close, both, done, nack};
use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as Wait};
use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};
use sensorpub::pysense::si7006::{
    DeviceId, ElectronicId, Error, FirmwareRevision, HeaterCurrent, Resolution,
};
use sensorpub::{Quantity, Sample};

const ADDR: u8 = 0x40;
const MEASURE_RH_NO_HOLD: u8 = 0xF5;
const MEASURE_T_NO_HOLD: u8 = 0xF3;
const READ_T_FROM_PREVIOUS_RH: u8 = 0xE0;
const RESET: u8 = 0xFE;
const WRITE_USER_REG1: u8 = 0xE6;
const READ_USER_REG1: u8 = 0xE7;
const WRITE_HEATER: u8 = 0x51;
const READ_HEATER: u8 = 0x11;
const READ_ID_1: [u8; 2] = [0xFA, 0x0F];
const READ_ID_2: [u8; 2] = [0xFC, 0xC9];
const READ_FIRMWARE: [u8; 2] = [0x84, 0xB8];
/// User register 1 after power-on (RES = 00, VDDS = 0, HTRE = 0, reserved bits 0x3A).
const USER_REG1_DEFAULT: u8 = 0x3A;

// Maximum conversion times, Si7021-A20 datasheet Table 2, in µs.
const T_14BIT_US: u32 = 10_800;
const RH_12BIT_US: u32 = 12_000;
const T_11BIT_US: u32 = 2_400;
const RH_11BIT_US: u32 = 7_000;
const RH_8BIT_US: u32 = 3_100;
const T_12BIT_US: u32 = 3_800;
const RESET_US: u32 = 15_000;

/// First electronic-ID transfer for SNA = 12 34 56 78: each CRC runs over SNA_3..SNA_k.
const ID_1: [u8; 8] = [0x12, 0x21, 0x34, 0xB6, 0x56, 0xC1, 0x78, 0x37];
/// Second transfer for SNB = 06 9A BC DE (an Si7006): CRCs over SNB_3..2 and SNB_3..0.
const ID_2_SI7006: [u8; 6] = [0x06, 0x9A, 0xB8, 0xBC, 0xDE, 0x98];
/// Second transfer for SNB = 42 9A BC DE: valid checksums, unknown device ID 0x42.
const ID_2_UNKNOWN: [u8; 6] = [0x42, 0x9A, 0xB2, 0xBC, 0xDE, 0x76];
/// Second transfer for SNB = 15 9A BC DE: an Si7021.
const ID_2_SI7021: [u8; 6] = [0x15, 0x9A, 0xFB, 0xBC, 0xDE, 0x3C];

both! {
    blocking: use sensorpub::pysense::si7006::Si7006 as Driver;
    asynchronous: use sensorpub::pysense::si7006::Si7006Async as Driver;

    fn new_and_destroy_do_no_io() {
        let sensor = Driver::new(Mock::new(&[]), CheckedDelay::new(&[]));
        assert_eq!(sensor.resolution(), Resolution::Rh12Temp14);
        done(sensor.destroy());
    }

    fn temperature_uses_no_hold_command_waits_max_time_and_checks_crc() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_T_NO_HOLD]),
            T::read(ADDR, vec![0x66, 0x40, 0x32]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        let t = run!(sensor.measure_temperature()).unwrap();
        // 175.72 · 0x6640 / 65536 − 46.85
        assert_close(t, 23.335, 0.001);
        done(sensor.destroy());
    }

    fn humidity_waits_for_rh_plus_temperature_conversion_and_masks_status_bits() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            // 0x7C82: status bits 10 at the bottom; the value is 0x7C80.
            T::read(ADDR, vec![0x7C, 0x82, 0x97]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        let rh = run!(sensor.measure_humidity()).unwrap();
        // 125 · 0x7C80 / 65536 − 6 = 54.791
        assert_close(rh, 54.791, 0.001);
        done(sensor.destroy());
    }

    fn humidity_above_100_percent_is_clamped() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0xFF, 0xFE, 0x1C]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        assert_eq!(run!(sensor.measure_humidity()).unwrap(), 100.0);
        done(sensor.destroy());
    }

    fn humidity_below_0_percent_is_clamped() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0x00, 0x02, 0x62]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        assert_eq!(run!(sensor.measure_humidity()).unwrap(), 0.0);
        done(sensor.destroy());
    }

    fn temperature_of_last_humidity_reads_e0_without_crc_or_wait() {
        let i2c = Mock::new(&[T::write_read(ADDR, vec![READ_T_FROM_PREVIOUS_RH], vec![0x66, 0x40])]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_close(run!(sensor.temperature_of_last_humidity()).unwrap(), 23.335, 0.001);
        done(sensor.destroy());
    }

    fn measure_both_needs_one_conversion() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0x7C, 0x82, 0x97]),
            T::write_read(ADDR, vec![READ_T_FROM_PREVIOUS_RH], vec![0x66, 0x40]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        let m = run!(sensor.measure_both()).unwrap();
        assert_close(m.temperature, 23.335, 0.001);
        assert_close(m.humidity, 54.791, 0.001);
        // Magnus: γ = ln(0.54791) + 17.62·23.335/266.455 = 0.94152 → Td = 13.73 °C
        assert_close(m.dew_point().unwrap(), 13.73, 0.01);
        done(sensor.destroy());
    }

    fn sensor_read_gives_temperature_and_humidity_in_one_sample() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0x7C, 0x82, 0x97]),
            T::write_read(ADDR, vec![READ_T_FROM_PREVIOUS_RH], vec![0x66, 0x40]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        let sample: Sample<4> = run!(sensor.read()).unwrap();
        assert_eq!(sample.len(), 2);
        assert_close(sample.get(Quantity::Temperature).unwrap(), 23.335, 0.001);
        assert_close(sample.get(Quantity::Humidity).unwrap(), 54.791, 0.001);
        done(sensor.destroy());
    }

    fn sensor_read_into_a_too_small_sample_is_an_error_not_a_dropped_reading() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0x7C, 0x82, 0x97]),
            T::write_read(ADDR, vec![READ_T_FROM_PREVIOUS_RH], vec![0x66, 0x40]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        let result: Result<Sample<1>, _> = run!(sensor.read());
        assert_eq!(result, Err(Error::SampleFull));
        done(sensor.destroy());
    }

    fn init_checks_the_id_and_learns_the_resolution_used_for_waits() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, READ_ID_1.to_vec(), ID_1.to_vec()),
            T::write_read(ADDR, READ_ID_2.to_vec(), ID_2_SI7006.to_vec()),
            // RES1 = RES0 = 1: RH 11 bit, temperature 11 bit.
            T::write_read(ADDR, vec![READ_USER_REG1], vec![USER_REG1_DEFAULT | 0x81]),
            T::write(ADDR, vec![MEASURE_T_NO_HOLD]),
            T::read(ADDR, vec![0x66, 0x40, 0x32]),
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0x7C, 0x82, 0x97]),
        ]);
        let delay = CheckedDelay::new(&[
            Wait::delay_us(T_11BIT_US),
            Wait::delay_us(RH_11BIT_US + T_11BIT_US),
        ]);
        let mut sensor = Driver::new(i2c, delay);
        let id = run!(sensor.init()).unwrap();
        assert_eq!(id, ElectronicId(0x1234_5678_069A_BCDE));
        assert_eq!(id.device(), DeviceId::Si7006);
        assert_eq!(sensor.resolution(), Resolution::Rh11Temp11);
        run!(sensor.measure_temperature()).unwrap();
        run!(sensor.measure_humidity()).unwrap();
        done(sensor.destroy());
    }

    fn init_accepts_another_si70xx() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, READ_ID_1.to_vec(), ID_1.to_vec()),
            T::write_read(ADDR, READ_ID_2.to_vec(), ID_2_SI7021.to_vec()),
            T::write_read(ADDR, vec![READ_USER_REG1], vec![USER_REG1_DEFAULT]),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(run!(sensor.init()).unwrap().device(), DeviceId::Si7021);
        done(sensor.destroy());
    }

    fn init_rejects_an_unknown_device_id() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, READ_ID_1.to_vec(), ID_1.to_vec()),
            T::write_read(ADDR, READ_ID_2.to_vec(), ID_2_UNKNOWN.to_vec()),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(run!(sensor.init()), Err(Error::InvalidDevice { found: 0x42 }));
        done(sensor.destroy());
    }

    fn unknown_device_id_is_reported_as_a_value_not_a_panic() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, READ_ID_1.to_vec(), ID_1.to_vec()),
            T::write_read(ADDR, READ_ID_2.to_vec(), ID_2_UNKNOWN.to_vec()),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        let id = run!(sensor.electronic_id()).unwrap();
        assert_eq!(id.device(), DeviceId::Unknown(0x42));
        assert_eq!(id.device_id_byte(), 0x42);
        done(sensor.destroy());
    }

    fn electronic_id_reads_both_halves_and_drops_the_interleaved_crcs() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, READ_ID_1.to_vec(), ID_1.to_vec()),
            T::write_read(ADDR, READ_ID_2.to_vec(), ID_2_SI7006.to_vec()),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        let id = run!(sensor.electronic_id()).unwrap();
        assert_eq!(id.0, 0x1234_5678_069A_BCDE);
        assert_eq!(id.device(), DeviceId::Si7006);
        done(sensor.destroy());
    }

    fn reset_waits_15_ms_and_restores_the_default_resolution() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, vec![READ_USER_REG1], vec![USER_REG1_DEFAULT]),
            T::write(ADDR, vec![WRITE_USER_REG1, USER_REG1_DEFAULT | 0x01]),
            T::write(ADDR, vec![RESET]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RESET_US)]);
        let mut sensor = Driver::new(i2c, delay);
        run!(sensor.set_resolution(Resolution::Rh8Temp12)).unwrap();
        assert_eq!(sensor.resolution(), Resolution::Rh8Temp12);
        run!(sensor.reset()).unwrap();
        assert_eq!(sensor.resolution(), Resolution::Rh12Temp14);
        done(sensor.destroy());
    }

    fn set_resolution_read_modify_writes_res1_d7_and_res0_d0() {
        let i2c = Mock::new(&[
            // Every other bit (VDDS, HTRE, reserved) set: all must survive.
            T::write_read(ADDR, vec![READ_USER_REG1], vec![0x7E]),
            T::write(ADDR, vec![WRITE_USER_REG1, 0xFF]),
            T::write_read(ADDR, vec![READ_USER_REG1], vec![0xFF]),
            T::write(ADDR, vec![WRITE_USER_REG1, 0xFE]),
            T::write_read(ADDR, vec![READ_USER_REG1], vec![0xFE]),
            T::write(ADDR, vec![WRITE_USER_REG1, 0x7F]),
            T::write_read(ADDR, vec![READ_USER_REG1], vec![0x7F]),
            T::write(ADDR, vec![WRITE_USER_REG1, 0x7E]),
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0x7C, 0x82, 0x97]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        run!(sensor.set_resolution(Resolution::Rh11Temp11)).unwrap();
        run!(sensor.set_resolution(Resolution::Rh10Temp13)).unwrap();
        run!(sensor.set_resolution(Resolution::Rh8Temp12)).unwrap();
        run!(sensor.set_resolution(Resolution::Rh12Temp14)).unwrap();
        run!(sensor.measure_humidity()).unwrap();
        done(sensor.destroy());
    }

    fn measurement_waits_follow_the_set_resolution() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, vec![READ_USER_REG1], vec![USER_REG1_DEFAULT]),
            T::write(ADDR, vec![WRITE_USER_REG1, 0x3B]),
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0x7C, 0x82, 0x97]),
            T::write(ADDR, vec![MEASURE_T_NO_HOLD]),
            T::read(ADDR, vec![0x66, 0x40, 0x32]),
        ]);
        let delay = CheckedDelay::new(&[
            Wait::delay_us(RH_8BIT_US + T_12BIT_US),
            Wait::delay_us(T_12BIT_US),
        ]);
        let mut sensor = Driver::new(i2c, delay);
        run!(sensor.set_resolution(Resolution::Rh8Temp12)).unwrap();
        run!(sensor.measure_humidity()).unwrap();
        run!(sensor.measure_temperature()).unwrap();
        done(sensor.destroy());
    }

    fn heater_enable_and_disable_touch_only_htre_d2() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, vec![READ_USER_REG1], vec![USER_REG1_DEFAULT]),
            T::write(ADDR, vec![WRITE_USER_REG1, 0x3E]),
            T::write_read(ADDR, vec![READ_USER_REG1], vec![0xFF]),
            T::write(ADDR, vec![WRITE_USER_REG1, 0xFB]),
            T::write_read(ADDR, vec![READ_USER_REG1], vec![0x3E]),
            T::write_read(ADDR, vec![READ_USER_REG1], vec![0xFB]),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        run!(sensor.set_heater(true)).unwrap();
        run!(sensor.set_heater(false)).unwrap();
        assert!(run!(sensor.heater_enabled()).unwrap());
        assert!(!run!(sensor.heater_enabled()).unwrap());
        done(sensor.destroy());
    }

    fn heater_current_read_modify_writes_the_low_nibble() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, vec![READ_HEATER], vec![0xA0]),
            T::write(ADDR, vec![WRITE_HEATER, 0xA9]),
            T::write_read(ADDR, vec![READ_HEATER], vec![0xA7]),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        run!(sensor.set_heater_current(HeaterCurrent::new(9).unwrap())).unwrap();
        assert_eq!(run!(sensor.heater_current()).unwrap().level(), 7);
        done(sensor.destroy());
    }

    fn firmware_revision_decodes_1_0_and_2_0() {
        let i2c = Mock::new(&[
            T::write_read(ADDR, READ_FIRMWARE.to_vec(), vec![0xFF]),
            T::write_read(ADDR, READ_FIRMWARE.to_vec(), vec![0x20]),
            T::write_read(ADDR, READ_FIRMWARE.to_vec(), vec![0x31]),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(run!(sensor.firmware_revision()).unwrap(), FirmwareRevision::V1_0);
        assert_eq!(run!(sensor.firmware_revision()).unwrap(), FirmwareRevision::V2_0);
        assert_eq!(run!(sensor.firmware_revision()).unwrap(), FirmwareRevision::Unknown(0x31));
        done(sensor.destroy());
    }

    // --- error paths -------------------------------------------------------------------------

    fn absent_chip_nack_on_the_command_is_an_i2c_error() {
        let i2c = Mock::new(&[T::write(ADDR, vec![MEASURE_T_NO_HOLD]).with_error(nack())]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(run!(sensor.measure_temperature()), Err(Error::I2c(nack())));
        done(sensor.destroy());
    }

    fn nack_on_the_result_read_is_an_i2c_error() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            T::read(ADDR, vec![0, 0, 0]).with_error(nack()),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        assert_eq!(run!(sensor.measure_humidity()), Err(Error::I2c(nack())));
        done(sensor.destroy());
    }

    fn temperature_crc_mismatch_is_reported() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_T_NO_HOLD]),
            T::read(ADDR, vec![0x66, 0x40, 0x33]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        assert_eq!(
            run!(sensor.measure_temperature()),
            Err(Error::Crc { computed: 0x32, received: 0x33 })
        );
        done(sensor.destroy());
    }

    fn humidity_crc_mismatch_is_reported() {
        let i2c = Mock::new(&[
            T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
            // One bit flipped in the LSB on the wire: 0x83 instead of 0x82.
            T::read(ADDR, vec![0x7C, 0x83, 0x97]),
        ]);
        let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
        let mut sensor = Driver::new(i2c, delay);
        assert!(matches!(
            run!(sensor.measure_humidity()),
            Err(Error::Crc { received: 0x97, .. })
        ));
        done(sensor.destroy());
    }

    fn every_crc_of_the_first_id_read_is_checked() {
        for crc_at in [1usize, 3, 5, 7] {
            let mut corrupted = ID_1;
            corrupted[crc_at] ^= 0x01;
            let i2c = Mock::new(&[T::write_read(ADDR, READ_ID_1.to_vec(), corrupted.to_vec())]);
            let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
            let result = run!(sensor.electronic_id());
            assert_eq!(
                result,
                Err(Error::Crc { computed: ID_1[crc_at], received: ID_1[crc_at] ^ 0x01 }),
                "CRC byte {crc_at}"
            );
            done(sensor.destroy());
        }
    }

    fn every_crc_of_the_second_id_read_is_checked() {
        for crc_at in [2usize, 5] {
            let mut corrupted = ID_2_SI7006;
            corrupted[crc_at] ^= 0x80;
            let i2c = Mock::new(&[
                T::write_read(ADDR, READ_ID_1.to_vec(), ID_1.to_vec()),
                T::write_read(ADDR, READ_ID_2.to_vec(), corrupted.to_vec()),
            ]);
            let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
            let result = run!(sensor.electronic_id());
            assert_eq!(
                result,
                Err(Error::Crc { computed: ID_2_SI7006[crc_at], received: ID_2_SI7006[crc_at] ^ 0x80 }),
                "CRC byte {crc_at}"
            );
            done(sensor.destroy());
        }
    }

    fn a_serial_byte_corrupted_in_the_id_is_caught_by_the_running_crc() {
        let mut corrupted = ID_1;
        corrupted[2] ^= 0x10; // SNA_2
        let i2c = Mock::new(&[T::write_read(ADDR, READ_ID_1.to_vec(), corrupted.to_vec())]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert!(matches!(run!(sensor.electronic_id()), Err(Error::Crc { received: 0xB6, .. })));
        done(sensor.destroy());
    }

    fn per_byte_crcs_are_not_mistaken_for_the_running_crc() {
        // A first read whose CRCs each cover one byte only (not what the chip sends): the
        // second CRC, over SNA_3..SNA_2, must not match CRC(SNA_2) = 0x01.
        let per_byte = [0x12, 0x21, 0x34, 0x01, 0x56, 0xD8, 0x78, 0x41];
        let i2c = Mock::new(&[T::write_read(ADDR, READ_ID_1.to_vec(), per_byte.to_vec())]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(
            run!(sensor.electronic_id()),
            Err(Error::Crc { computed: 0xB6, received: 0x01 })
        );
        done(sensor.destroy());
    }

    fn second_id_crc_over_the_last_pair_only_is_rejected() {
        // CRC over SNB_1..SNB_0 alone (0x3E) instead of SNB_3..SNB_0 (0x98).
        let pairwise = [0x06, 0x9A, 0xB8, 0xBC, 0xDE, 0x3E];
        let i2c = Mock::new(&[
            T::write_read(ADDR, READ_ID_1.to_vec(), ID_1.to_vec()),
            T::write_read(ADDR, READ_ID_2.to_vec(), pairwise.to_vec()),
        ]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(
            run!(sensor.electronic_id()),
            Err(Error::Crc { computed: 0x98, received: 0x3E })
        );
        done(sensor.destroy());
    }

    fn nack_during_init_is_an_i2c_error() {
        let i2c = Mock::new(&[T::write_read(ADDR, READ_ID_1.to_vec(), vec![0; 8]).with_error(nack())]);
        let mut sensor = Driver::new(i2c, CheckedDelay::new(&[]));
        assert_eq!(run!(sensor.init()), Err(Error::I2c(nack())));
        done(sensor.destroy());
    }
}

#[test]
fn errors_display_what_went_wrong() {
    let crc: Error<ErrorKind> = Error::Crc {
        computed: 0x32,
        received: 0x33,
    };
    assert!(crc.to_string().contains("0x32"));
    assert!(crc.to_string().contains("0x33"));
    let id: Error<ErrorKind> = Error::InvalidDevice { found: 0x42 };
    assert!(id.to_string().contains("0x42"));
    let bus: Error<ErrorKind> = ErrorKind::Bus.into();
    assert_eq!(bus, Error::I2c(ErrorKind::Bus));
}

#[test]
fn heater_current_rejects_levels_beyond_the_4_bit_field() {
    assert_eq!(HeaterCurrent::new(15), Some(HeaterCurrent::MAX));
    assert_eq!(HeaterCurrent::new(16), None);
}

/// The humidity transfer and its temperature, as the chip answers one `Sensor::read`.
fn one_sample_script() -> Vec<T> {
    vec![
        T::write(ADDR, vec![MEASURE_RH_NO_HOLD]),
        T::read(ADDR, vec![0x7C, 0x82, 0x97]),
        T::write_read(ADDR, vec![READ_T_FROM_PREVIOUS_RH], vec![0x66, 0x40]),
    ]
}

#[test]
fn async_driver_publishes_through_a_publisher_as_json() {
    use sensorpub::JsonSink;
    use sensorpub::pysense::si7006::Si7006Async;

    let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
    let i2c = Mock::new(&one_sample_script());
    let mut checks = (i2c.clone(), delay.clone());
    let sink = JsonSink::object("pysense/value")
        .unwrap()
        .with_decimals(2)
        .unwrap();
    assert_eq!(
        dual::publish_one(Si7006Async::new(i2c, delay), sink),
        br#"{"temperature":23.34,"humidity":54.79}"#
    );
    checks.0.done();
    checks.1.done();
}

#[test]
fn blocking_driver_publishes_through_the_blocking_adapter() {
    use sensorpub::pysense::si7006::Si7006;
    use sensorpub::{Blocking, JsonSink};

    let delay = CheckedDelay::new(&[Wait::delay_us(RH_12BIT_US + T_14BIT_US)]);
    let i2c = Mock::new(&one_sample_script());
    let mut checks = (i2c.clone(), delay.clone());
    let sink = JsonSink::object("pysense/value")
        .unwrap()
        .with_decimals(1)
        .unwrap();
    assert_eq!(
        dual::publish_one(Blocking(Si7006::new(i2c, delay)), sink),
        br#"{"temperature":23.3,"humidity":54.8}"#
    );
    checks.0.done();
    checks.1.done();
}
