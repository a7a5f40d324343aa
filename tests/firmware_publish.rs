//! The example firmware's publish loop ([`sensorpub::station`]) run on the host: the same
//! function the ESP32 runs, over std's network stack, against an MQTT broker in this process
//! (127.0.0.1) and a simulated PySense bus. What a subscriber receives is what a device would
//! have published.

mod pysense_bus;

use embedded_hal::i2c::I2c;
use pysense_bus::{COPROCESSOR, Environment, PySenseBus, SI7006};

#[test]
fn pysense2_sensors_answer_only_after_the_coprocessor_powers_them() {
    let mut bus = PySenseBus::pysense2(Environment::default());
    let mut reply = [0u8; 3];
    assert!(bus.write_read(SI7006, &[0xE3], &mut reply).is_err());
    // TRISC (0x08E) bit 7 an output, then LATC (0x10E) bit 7 high, by MAGIC AND / OR.
    bus.write(COPROCESSOR, &[0x02, 0x8E, 0x00, 0x7F, 0x00, 0x00])
        .unwrap();
    bus.write(COPROCESSOR, &[0x02, 0x0E, 0x01, 0xFF, 0x80, 0x00])
        .unwrap();
    assert!(bus.sensors_powered());
    bus.write_read(SI7006, &[0xE3], &mut reply).unwrap();
    let code = u16::from_be_bytes([reply[0], reply[1]]);
    let celsius = 175.72 * f32::from(code) / 65_536.0 - 46.85;
    assert!((celsius - 21.5).abs() < 0.01, "{celsius}");
    assert_eq!(pysense_bus::crc8(&reply[..2]), reply[2]);
}
