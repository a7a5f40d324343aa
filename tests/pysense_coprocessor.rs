//! PySense co-processor driver against mocked bus transactions, blocking and async, and the
//! battery conversion against hand-computed values.
//!
//! Commands, PIC addresses and values are written out here (from Pycom's `pycoproc_2.py` and
//! the PIC16F1 memory map), not taken from the driver.

mod dual;

use dual::{both, done, nack};
use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as D};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as T};
use sensorpub::pysense::coprocessor::{BoardInfo, Error, adc_count, battery_voltage};
use sensorpub::{Quantity, Sample};

const ADDR: u8 = 0x08;
const PEEK: u8 = 0x00;
const POKE: u8 = 0x01;
const MAGIC: u8 = 0x02;
const HW_VER: u8 = 0x10;
const FW_VER: u8 = 0x11;
const PROD_ID: u8 = 0x12;
// PIC memory, little-endian address bytes
const ADRESL: [u8; 2] = [0x9B, 0x00];
const ADRESH: [u8; 2] = [0x9C, 0x00];
const ADCON0: [u8; 2] = [0x9D, 0x00];
const ADCON1: [u8; 2] = [0x9E, 0x00];
const TRISC: [u8; 2] = [0x8E, 0x00];
const LATC: [u8; 2] = [0x0E, 0x01];
const ANSELC: [u8; 2] = [0x8E, 0x01];
/// The first byte of every reply, which is not part of it.
const JUNK: u8 = 0xA5;

/// A command the co-processor finishes at once: the write, then one status read of 0xFF.
fn command(bytes: &[u8]) -> Vec<T> {
    vec![T::write(ADDR, bytes.to_vec()), T::read(ADDR, vec![0xFF])]
}

/// A command with a reply: `reply` comes after the dropped first byte.
fn query(bytes: &[u8], reply: &[u8]) -> Vec<T> {
    let mut t = command(bytes);
    let mut framed = vec![JUNK];
    framed.extend_from_slice(reply);
    t.push(T::read(ADDR, framed));
    t
}

fn peek(address: [u8; 2], value: u8) -> Vec<T> {
    query(&[PEEK, address[0], address[1]], &[value])
}

/// The 10 µs wait before the first status poll, once a command.
fn command_waits(commands: usize) -> Vec<D> {
    vec![D::delay_us(10); commands]
}

fn transactions(parts: &[Vec<T>]) -> Vec<T> {
    parts.concat()
}

/// A co-processor driver (the body's `Coprocessor`) expecting `expected` transactions and
/// `delays`.
macro_rules! pic {
    ($expected:expr, $delays:expr $(,)?) => {
        Coprocessor::new(I2cMock::new($expected), CheckedDelay::new($delays))
    };
}

/// The battery measurement after `enable_battery_adc`: GO set, `busy` polls with
/// GO still set, then ADRESH = 0xC8, ADRESL = 0x40 (count 801).
fn battery_read(busy: usize) -> (Vec<T>, Vec<D>) {
    let mut t = query(&[MAGIC, ADCON0[0], ADCON0[1], 0xFF, 0x02, 0x00], &[0x1B]);
    let mut d = command_waits(1);
    d.push(D::delay_us(50));
    for _ in 0..busy {
        t.extend(peek(ADCON0, 0x1B));
        d.extend(command_waits(1));
        d.push(D::delay_us(100));
    }
    t.extend(peek(ADCON0, 0x19));
    t.extend(peek(ADRESH, 0xC8));
    t.extend(peek(ADRESL, 0x40));
    d.extend(command_waits(3));
    (t, d)
}

fn enable_adc() -> Vec<T> {
    transactions(&[
        command(&[POKE, ANSELC[0], ANSELC[1], 0x04]),
        command(&[POKE, ADCON0[0], ADCON0[1], 0x19]),
        command(&[POKE, ADCON1[0], ADCON1[1], 0x60]),
    ])
}

both! {
    blocking: use sensorpub::pysense::coprocessor::Coprocessor as Coprocessor;
    asynchronous: use sensorpub::pysense::coprocessor::CoprocessorAsync as Coprocessor;

    fn new_does_no_io_and_destroy_returns_the_bus() {
        done(pic!(&[], &[]).destroy());
    }

    fn init_accepts_a_pysense_2_with_firmware_16() {
        let expected = transactions(&[
            query(&[FW_VER], &[16, 0x00]),
            query(&[PROD_ID], &[0x12, 0xF0]),
        ]);
        let mut p = pic!(&expected, &command_waits(2));
        assert_eq!(
            run!(p.init()),
            Ok(BoardInfo {
                product_id: 0xF012,
                firmware: 16
            })
        );
        done(p.destroy());
    }

    fn init_refuses_a_pytrack_2() {
        let expected = transactions(&[
            query(&[FW_VER], &[16, 0x00]),
            query(&[PROD_ID], &[0x13, 0xF0]),
        ]);
        let mut p = pic!(&expected, &command_waits(2));
        assert_eq!(
            run!(p.init()),
            Err(Error::UnsupportedBoard { product_id: 0xF013 })
        );
        done(p.destroy());
    }

    fn init_refuses_firmware_older_than_16() {
        let expected = transactions(&[
            query(&[FW_VER], &[15, 0x00]),
            query(&[PROD_ID], &[0x12, 0xF0]),
        ]);
        let mut p = pic!(&expected, &command_waits(2));
        assert_eq!(
            run!(p.init()),
            Err(Error::FirmwareTooOld { firmware: 15 })
        );
        done(p.destroy());
    }

    fn versions_are_little_endian_after_the_dropped_byte() {
        let expected = transactions(&[
            query(&[HW_VER], &[0x02, 0x01]),
            query(&[FW_VER], &[0x10, 0x00]),
        ]);
        let mut p = pic!(&expected, &command_waits(2));
        assert_eq!(run!(p.hardware_version()), Ok(0x0102));
        assert_eq!(run!(p.firmware_version()), Ok(16));
        done(p.destroy());
    }

    fn a_command_polls_the_status_every_100_us_until_0xff() {
        let expected = vec![
            T::write(ADDR, vec![HW_VER]),
            T::read(ADDR, vec![0x00]),
            T::read(ADDR, vec![0x00]),
            T::read(ADDR, vec![0xFF]),
            T::read(ADDR, vec![JUNK, 0x07, 0x00]),
        ];
        let delays = [D::delay_us(10), D::delay_us(100), D::delay_us(100)];
        let mut p = pic!(&expected, &delays);
        assert_eq!(run!(p.hardware_version()), Ok(7));
        done(p.destroy());
    }

    fn a_command_times_out_after_50_ms_without_0xff() {
        let mut expected = vec![T::write(ADDR, vec![FW_VER])];
        expected.extend(vec![T::read(ADDR, vec![0x00]); 501]);
        let mut delays = command_waits(1);
        delays.extend(vec![D::delay_us(100); 500]);
        let mut p = pic!(&expected, &delays);
        assert_eq!(run!(p.firmware_version()), Err(Error::Timeout));
        done(p.destroy());
    }

    fn a_nack_on_the_command_is_an_i2c_error() {
        let expected = [T::write(ADDR, vec![FW_VER]).with_error(nack())];
        let mut p = pic!(&expected, &[]);
        assert_eq!(run!(p.init()), Err(Error::I2c(nack())));
        done(p.destroy());
    }

    fn a_nack_on_the_reply_is_an_i2c_error() {
        let mut expected = command(&[PROD_ID]);
        expected.push(T::read(ADDR, vec![0; 3]).with_error(nack()));
        let mut p = pic!(&expected, &command_waits(1));
        assert_eq!(run!(p.product_id()), Err(Error::I2c(nack())));
        done(p.destroy());
    }

    fn peek_poke_and_magic_send_the_address_low_byte_first() {
        let expected = transactions(&[
            query(&[PEEK, 0x4C, 0x06], &[0x42]),
            command(&[POKE, 0x0C, 0x02, 0x08]),
            query(&[MAGIC, 0x0E, 0x00, 0xF0, 0x01, 0x02], &[0x55]),
        ]);
        let mut p = pic!(&expected, &command_waits(3));
        assert_eq!(run!(p.peek(0x064C)), Ok(0x42));
        assert_eq!(run!(p.poke(0x020C, 0x08)), Ok(()));
        assert_eq!(run!(p.magic(0x000E, 0xF0, 0x01, 0x02)), Ok(0x55));
        done(p.destroy());
    }

    fn power_on_sets_latc_bit_7_then_makes_rc6_and_rc7_outputs() {
        let expected = transactions(&[
            query(&[MAGIC, LATC[0], LATC[1], 0xFF, 0x80, 0x00], &[0x80]),
            query(&[MAGIC, TRISC[0], TRISC[1], 0x3F, 0x00, 0x00], &[0x3F]),
        ]);
        let mut p = pic!(&expected, &command_waits(2));
        assert_eq!(run!(p.power_on_sensors()), Ok(()));
        done(p.destroy());
    }

    fn power_off_clears_latc_bit_7_only() {
        let expected = query(&[MAGIC, LATC[0], LATC[1], 0x7F, 0x00, 0x00], &[0x00]);
        let mut p = pic!(&expected, &command_waits(1));
        assert_eq!(run!(p.power_off_sensors()), Ok(()));
        done(p.destroy());
    }

    fn power_on_reports_a_nack() {
        let expected = [
            T::write(ADDR, vec![MAGIC, LATC[0], LATC[1], 0xFF, 0x80, 0x00])
                .with_error(nack()),
        ];
        let mut p = pic!(&expected, &[]);
        assert_eq!(run!(p.power_on_sensors()), Err(Error::I2c(nack())));
        done(p.destroy());
    }

    fn enable_battery_adc_selects_an6_and_the_clock() {
        let mut p = pic!(&enable_adc(), &command_waits(3));
        assert_eq!(run!(p.enable_battery_adc()), Ok(()));
        done(p.destroy());
    }

    fn battery_voltage_starts_a_conversion_waits_and_reads_the_result() {
        let (t, d) = battery_read(2);
        let mut expected = enable_adc();
        expected.extend(t);
        let mut delays = command_waits(3);
        delays.extend(d);
        let mut p = pic!(&expected, &delays);
        run!(p.enable_battery_adc()).unwrap();
        let v = run!(p.battery_voltage()).unwrap();
        // 801 · 3.3 · 280 / 1023 / 180 + 0.01
        assert!((v - 4.02935).abs() < 1e-4, "{v}");
        done(p.destroy());
    }

    fn battery_voltage_before_the_adc_is_enabled_is_an_error_without_bus_traffic() {
        let mut p = pic!(&[], &[]);
        assert_eq!(run!(p.battery_voltage()), Err(Error::AdcNotEnabled));
        done(p.destroy());
    }

    fn battery_conversion_that_never_finishes_times_out() {
        let mut expected = enable_adc();
        expected.extend(query(
            &[MAGIC, ADCON0[0], ADCON0[1], 0xFF, 0x02, 0x00],
            &[0x1B],
        ));
        let mut delays = command_waits(4);
        delays.push(D::delay_us(50));
        for _ in 0..100 {
            expected.extend(peek(ADCON0, 0x1B));
            delays.extend(command_waits(1));
            delays.push(D::delay_us(100));
        }
        expected.extend(peek(ADCON0, 0x1B));
        delays.extend(command_waits(1));
        let mut p = pic!(&expected, &delays);
        run!(p.enable_battery_adc()).unwrap();
        assert_eq!(run!(p.battery_voltage()), Err(Error::Timeout));
        done(p.destroy());
    }

    fn sensor_read_gives_the_battery_voltage() {
        let (t, d) = battery_read(0);
        let mut expected = enable_adc();
        expected.extend(t);
        let mut delays = command_waits(3);
        delays.extend(d);
        let mut p = pic!(&expected, &delays);
        run!(p.enable_battery_adc()).unwrap();
        let sample: Sample<1> = run!(p.read()).unwrap();
        let v = sample.get(Quantity::Voltage).unwrap();
        assert!((v - 4.02935).abs() < 1e-4, "{v}");
        done(p.destroy());
    }

    fn sensor_read_into_a_full_sample_is_an_error() {
        let (t, d) = battery_read(0);
        let mut expected = enable_adc();
        expected.extend(t);
        let mut delays = command_waits(3);
        delays.extend(d);
        let mut p = pic!(&expected, &delays);
        run!(p.enable_battery_adc()).unwrap();
        let result: Result<Sample<0>, _> = run!(p.read());
        assert_eq!(result, Err(Error::SampleFull));
        done(p.destroy());
    }
}

mod conversions {
    use super::*;

    #[test]
    fn adc_count_is_left_justified_10_bits() {
        assert_eq!(adc_count(0x00, 0x00), 0);
        assert_eq!(adc_count(0xFF, 0xC0), 1023);
        assert_eq!(adc_count(0xC8, 0x00), 800);
        // the low 6 bits of ADRESL are not part of the result
        assert_eq!(adc_count(0xC8, 0x3F), 800);
        assert_eq!(adc_count(0x01, 0x80), 6);
    }

    #[test]
    fn battery_voltage_formula() {
        assert!((battery_voltage(0) - 0.01).abs() < 1e-6);
        // 1023 counts: 3.3 · 280 / 180 + 0.01
        assert!((battery_voltage(1023) - 5.143333).abs() < 1e-4);
        // 800 counts: 739 200 / 184 140 + 0.01
        assert!((battery_voltage(800) - 4.024329).abs() < 1e-4);
    }
}
