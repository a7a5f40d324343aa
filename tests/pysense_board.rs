//! The PySense board as one sensor: power-on, presence, and a whole sample published as JSON,
//! on a simulated PySense bus (tests/pysense_bus: the chips' registers, from the datasheets).

mod pysense_bus;

use pysense_bus::{Environment, LIS2HH12, LTR329, PySenseBus};
use sensorpub::pysense::{BoardError, Presence, PySense, PySenseAsync};
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

#[test]
fn pysense2_sensors_are_absent_until_powered_on() {
    let bus = PySenseBus::pysense2(Environment::default());
    let mut board = PySense::new(|| bus.clone(), NoWait);
    assert_eq!(board.init(), Presence::default());
    let unpowered: Result<Sample<10>, _> = sensorpub::BlockingSensor::read(&mut board);
    assert_eq!(unpowered, Err(BoardError::NoSensor));

    board.power_on_sensors().unwrap();
    assert!(bus.sensors_powered());
    assert_eq!(board.init(), Presence::ALL);
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
        let mut publisher = Publisher::<_, _, _, _, 10>::new(
            &mut board,
            JsonSink::object("pysense/value")
                .unwrap()
                .with_decimals(2)
                .unwrap(),
            MemoryTransport::<4, 512>::new(),
            SimulatedClock::new(),
            &mut buf,
        );
        publisher.publish_once().await.unwrap();
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
        near("acceleration_z", 1.0, 0.001);
        near("pitch", 0.0, 0.01);
        near("roll", 0.0, 0.01);
        assert!(json["illuminance"].as_f64().unwrap() > 0.0);
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

#[test]
fn a_sample_too_small_for_the_board_is_a_typed_error() {
    let bus = PySenseBus::pysense1(Environment::default());
    let mut board = PySense::new(|| bus.clone(), NoWait);
    assert_eq!(board.init(), Presence::ALL);
    let small: Result<Sample<4>, _> = sensorpub::BlockingSensor::read(&mut board);
    // SI7006 (2) and MPL3115A2 (2) fill the 4 slots; the LTR-329's reading has no room.
    assert_eq!(small, Err(BoardError::SampleFull));
}
