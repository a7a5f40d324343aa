//! The PySense board as one sensor: power-on, presence, and a whole sample published as JSON,
//! on a simulated PySense bus (tests/pysense_bus: the chips' registers, from the datasheets).

mod dual;
mod pysense_bus;

use dual::{assert_close, both, nack};
use pysense_bus::{Environment, LIS2HH12, LTR329, PySenseBus, crc8};
use sensorpub::pysense::{
    BoardError, InitErrors, Presence, PySense, PySenseAsync, lis2hh12, si7006,
};
use sensorpub::{
    Blocking, JsonSink, MemoryTransport, Publisher, Quantity, Sample, Sensor, SimulatedClock,
};

/// A delay that returns at once; the simulated chips are ready whenever they are asked.
#[derive(Clone)]
struct NoWait;

impl embedded_hal::delay::DelayNs for NoWait {
    fn delay_ns(&mut self, _ns: u32) {}
}

impl embedded_hal_async::delay::DelayNs for NoWait {
    async fn delay_ns(&mut self, _ns: u32) {}
}

both! {
    blocking: use sensorpub::pysense::PySense as Board;
    asynchronous: use sensorpub::pysense::PySenseAsync as Board;

    fn pysense2_sensors_are_absent_until_powered_on() {
        let bus = PySenseBus::pysense2(Environment::default());
        let mut board = Board::new(|| bus.clone(), NoWait);
        assert_eq!(run!(board.init()), Presence::default());
        let unpowered: Result<Sample<10>, _> = run!(board.read());
        assert_eq!(unpowered, Err(BoardError::NoSensor));

        run!(board.power_on_sensors()).unwrap();
        assert!(bus.sensors_powered());
        assert_eq!(run!(board.init()), Presence::ALL);
    }

    fn a_sample_too_small_for_the_board_is_a_typed_error() {
        let bus = PySenseBus::pysense1(Environment::default());
        let mut board = Board::new(|| bus.clone(), NoWait);
        assert_eq!(run!(board.init()), Presence::ALL);
        let small: Result<Sample<4>, _> = run!(board.read());
        // SI7006 (2) and MPL3115A2 (2) fill the 4 slots; the LTR-329's reading has no room.
        assert_eq!(small, Err(BoardError::SampleFull));
    }

    fn a_tilted_board_reads_each_axis_and_the_angles() {
        let env = Environment {
            acceleration: [0.25, -0.5, 0.8],
            ..Environment::default()
        };
        let bus = PySenseBus::pysense1(env);
        let mut board = Board::new(|| bus.clone(), NoWait);
        assert_eq!(run!(board.init()), Presence::ALL);
        let sample: Sample<10> = run!(board.read()).unwrap();
        let get = |q| sample.get(q).unwrap();
        // ±4 g: one count is 0.122 mg (datasheet Table 3).
        assert_close(get(Quantity::AccelerationX), 0.25, 0.000_122);
        assert_close(get(Quantity::AccelerationY), -0.5, 0.000_122);
        assert_close(get(Quantity::AccelerationZ), 0.8, 0.000_122);
        // pitch = −atan2(y, √(x² + z²)), roll = atan2(−x, z), in degrees (Pycom's formulas).
        assert_close(get(Quantity::Pitch), 30.818_19, 0.01);
        assert_close(get(Quantity::Roll), -17.354_02, 0.01);
    }

    fn warm_start_puts_an_active_altimeter_in_standby_before_configuring_the_barometer() {
        // PySense 1 keeps the sensors powered across an MCU reset: other firmware left the
        // MPL3115A2 active as an altimeter. ALT/OS only change in standby (the model ignores
        // them while SBYB is set), so the board must clear SBYB first.
        let env = Environment::default();
        let bus = PySenseBus::pysense1(env).with_mpl3115a2_left_active_as_altimeter();
        let mut board = Board::new(|| bus.clone(), NoWait);
        assert_eq!(run!(board.init()), Presence::ALL);
        assert_eq!(
            bus.mpl3115a2_ctrl_reg1(),
            0x38,
            "barometer (ALT 0), OS = 128, standby"
        );
        let sample: Sample<10> = run!(board.read()).unwrap();
        assert_close(sample.get(Quantity::Pressure).unwrap(), env.pressure, 0.25);
    }

    fn init_keeps_why_each_chip_was_left_out() {
        let bus = PySenseBus::pysense1(Environment::default())
            .with_si7006_id_checksum_corrupted()
            .without(LIS2HH12);
        let mut board = Board::new(|| bus.clone(), NoWait);
        let presence = run!(board.init());
        assert_eq!(
            presence,
            Presence {
                si7006: false,
                mpl3115a2: true,
                ltr329: true,
                lis2hh12: false,
            }
        );
        // SNB = 06 00 FF FF: the checksum over SNB_3..SNB_2 is crc8(06 00), sent with bit 0
        // flipped.
        let computed = crc8(&[0x06, 0x00]);
        assert_eq!(
            board.init_errors(),
            &InitErrors {
                si7006: Some(si7006::Error::Crc {
                    computed,
                    received: computed ^ 1,
                }),
                mpl3115a2: None,
                ltr329: None,
                lis2hh12: Some(lis2hh12::Error::I2c(nack())),
            }
        );
        assert_eq!(board.init_errors().presence(), presence);
    }
}

#[test]
fn a_whole_board_sample_is_published_as_one_json_object() {
    let env = Environment::default();
    let bus = PySenseBus::pysense2(env);
    let mut board = PySenseAsync::new(|| bus.clone(), NoWait);
    let mut buf = [0u8; 512];
    embassy_futures::block_on(async {
        board.power_on_sensors().await.unwrap();
        assert_eq!(board.init().await, Presence::ALL);
        let mut publisher = Publisher::new(
            &mut board,
            JsonSink::object("pysense/value")
                .unwrap()
                .with_decimals(2)
                .unwrap(),
            MemoryTransport::<4, 512>::new(),
            SimulatedClock::new(),
            &mut buf,
        );
        publisher.publish_once::<10>().await.unwrap();
        let sent = &publisher.transport().messages()[0];
        assert_eq!(sent.topic, "pysense/value");
        let json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&sent.payload).unwrap();
        let text = std::str::from_utf8(&sent.payload).unwrap();
        let order = [
            "temperature",
            "humidity",
            "pressure",
            "pressure_sensor_temperature",
            "illuminance",
            "acceleration_x",
            "acceleration_y",
            "acceleration_z",
            "pitch",
            "roll",
        ];
        // Every chip's readings, in board order, and nothing else.
        assert_eq!(json.len(), order.len(), "{text}");
        let positions: Vec<usize> = order
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.is_sorted(), "{text}");
        let near = |key: &str, want: f32, tolerance: f32| {
            let got = json[key].as_f64().unwrap() as f32;
            assert!((got - want).abs() <= tolerance, "{key}: {got} vs {want}");
        };
        // Each chip's resolution bounds how close its reading can be.
        near("temperature", env.temperature, 0.02);
        near("humidity", env.humidity, 0.05);
        near("pressure", env.pressure, 0.25);
        near("pressure_sensor_temperature", env.temperature, 0.07);
        near("acceleration_x", 0.0, 0.001);
        near("acceleration_y", 0.0, 0.001);
        near("acceleration_z", 1.0, 0.001);
        near("pitch", 0.0, 0.01);
        near("roll", 0.0, 0.01);
        assert!(json["illuminance"].as_f64().unwrap() > 0.0);
        // CH0 1000, CH1 500 (ratio 0.33) at 1×, 100 ms: 1.7743 · 1000 + 1.1059 · 500 lx
        // (LTR-303/329 Appendix A), published with two decimals.
        near("illuminance", 2327.25, 0.005);
    });
}

#[test]
fn an_absent_chip_is_left_out_not_sent_as_zero() {
    let bus = PySenseBus::pysense1(Environment::default())
        .without(LTR329)
        .without(LIS2HH12);
    let mut board = Blocking(PySense::new(|| bus.clone(), NoWait));
    assert_eq!(
        board.0.init(),
        Presence {
            si7006: true,
            mpl3115a2: true,
            ltr329: false,
            lis2hh12: false,
        }
    );
    let sample: Sample<10> = embassy_futures::block_on(board.read()).unwrap();
    assert_eq!(sample.len(), 4);
    assert_eq!(sample.get(Quantity::Illuminance), None);
    assert_eq!(sample.get(Quantity::AccelerationX), None);
}
