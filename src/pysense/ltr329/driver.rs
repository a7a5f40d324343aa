//! The LTR-329 driver, written once and generated twice by `maybe-async-cfg`: the
//! `asynchronous` module as written (embedded-hal-async) and the `blocking` module with
//! `async`/`.await` removed and the traits swapped for embedded-hal's.

#[maybe_async_cfg::maybe(
    idents(
        embedded_hal_async(sync = "embedded_hal", async),
        Sensor(sync = "BlockingSensor", async),
        Ltr329(sync, async = "Ltr329Async")
    ),
    sync(self = "blocking"),
    async(self = "asynchronous")
)]
/// The LTR-329 driver: `Ltr329` in `blocking` on embedded-hal 1.0, `Ltr329Async` in `asynchronous` on embedded-hal-async
/// 1.0. Both have the same methods.
pub mod asynchronous {
    use embedded_hal_async::{delay::DelayNs, i2c::I2c};

    use super::super::conversion::lux;
    use super::super::register::{
        ADDRESS, BitFlags, NEW_DATA_POLL_MS, PART_ID_VALUE, Register, STANDBY_TO_ACTIVE_MS,
    };
    use super::super::types::{Config, Error, Gain, Measurement, PartId};
    use crate::{Quantity, Reading, Sample, Sensor};

    /// LTR-329ALS-01 ambient light sensor at 0x29.
    ///
    /// Holds a copy of the configuration it wrote, so it never reads a register back to change
    /// one field.
    #[derive(Debug)]
    pub struct Ltr329<I2C, D> {
        i2c: I2C,
        delay: D,
        config: Config,
        /// The data registers may hold a measurement taken with other settings: drop it
        /// before the next read (set until `configure` has dropped it).
        stale: bool,
    }

    impl<I2C: I2c, D: DelayNs> Ltr329<I2C, D> {
        /// A driver on `i2c`, waiting with `delay`. Does no I/O; call [`Self::init`] next,
        /// at least 100 ms after the chip was powered (datasheet start-up time).
        pub fn new(i2c: I2C, delay: D) -> Self {
            Self {
                i2c,
                delay,
                config: Config::default(),
                stale: false,
            }
        }

        /// Gives the bus and the delay back.
        pub fn destroy(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// The configuration last written to the chip (the default before [`Self::init`]).
        pub fn config(&self) -> Config {
            self.config
        }

        /// Checks the part number, writes `config` and makes the chip active.
        ///
        /// [`Error::InvalidDevice`] if PART_ID's part number is not 0xA.
        pub async fn init(&mut self, config: Config) -> Result<(), Error<I2C::Error>> {
            let id = self.part_id().await?;
            if id.part != PART_ID_VALUE >> 4 {
                return Err(Error::InvalidDevice {
                    found: (id.part << 4) | id.revision,
                });
            }
            self.configure(config).await
        }

        /// Reads PART_ID (0x86): part number 0xA and revision 0 on an LTR-329ALS-01.
        pub async fn part_id(&mut self) -> Result<PartId, Error<I2C::Error>> {
            let id = self.read_register(Register::PART_ID).await?;
            Ok(PartId {
                part: id >> 4,
                revision: id & 0x0F,
            })
        }

        /// Reads MANUFAC_ID (0x87): 0x05 for Lite-On.
        pub async fn manufacturer_id(&mut self) -> Result<u8, Error<I2C::Error>> {
            self.read_register(Register::MANUFAC_ID).await
        }

        /// Puts the chip in standby, writes the measurement rate and integration time, makes
        /// it active with the gain, waits the 10 ms standby-to-active time and discards the
        /// data measured before.
        ///
        /// ALS_STATUS says which gain the data was taken with, but not which integration time:
        /// data flagged new when the integration time changes was measured with the old one,
        /// and dividing it by the new one is wrong (1000 lx reads 250 after switching from 100
        /// to 400 ms). So the change is made in standby, so no measurement straddles it; the
        /// data registers are read once after waking, which clears the new-data flag (the
        /// first measurement at the new settings needs the wake-up time plus at least 50 ms of
        /// integration, so it cannot be the one discarded); and the next read waits for a
        /// measurement taken entirely with `config`. The same covers a warm start, a chip left
        /// active by other firmware (on a PySense 1 the sensors stay powered across an MCU
        /// reset).
        pub async fn configure(&mut self, config: Config) -> Result<(), Error<I2C::Error>> {
            self.stale = true;
            self.standby().await?;
            let meas_rate = (config.integration_time().code() << BitFlags::INTEGRATION_SHIFT)
                | config.rate().code();
            self.write_register(Register::ALS_MEAS_RATE, meas_rate)
                .await?;
            self.config = config;
            self.activate().await?;
            self.drop_pending_data().await
        }

        /// Reads the data registers once and throws the data away, which clears ALS_STATUS's
        /// new-data flag.
        async fn drop_pending_data(&mut self) -> Result<(), Error<I2C::Error>> {
            let mut old = [0u8; 4];
            self.i2c
                .write_read(ADDRESS, &[Register::ALS_DATA_CH1_0], &mut old)
                .await?;
            self.stale = false;
            Ok(())
        }

        /// Makes the chip active with the configured gain and waits the 10 ms it takes to
        /// leave standby.
        pub async fn activate(&mut self) -> Result<(), Error<I2C::Error>> {
            let contr = (self.config.gain().code() << BitFlags::GAIN_SHIFT) | BitFlags::ACTIVE;
            self.write_register(Register::ALS_CONTR, contr).await?;
            self.delay.delay_ms(STANDBY_TO_ACTIVE_MS).await;
            Ok(())
        }

        /// Puts the chip in standby (no measurements, lowest current); [`Self::activate`]
        /// wakes it.
        pub async fn standby(&mut self) -> Result<(), Error<I2C::Error>> {
            let contr = self.config.gain().code() << BitFlags::GAIN_SHIFT;
            self.write_register(Register::ALS_CONTR, contr).await?;
            Ok(())
        }

        /// Waits for a new measurement and reads both channels in one burst.
        ///
        /// Polls ALS_STATUS every 10 ms for the new-data flag, for at most two measurement
        /// periods ([`Error::Timeout`]); refuses data the chip flags invalid
        /// ([`Error::DataInvalid`]) and saturated channels ([`Error::Saturated`]).
        pub async fn read_measurement(&mut self) -> Result<Measurement, Error<I2C::Error>> {
            if self.stale {
                self.drop_pending_data().await?;
            }
            let period = if self.config.rate().millis() > self.config.integration_time().millis() {
                self.config.rate().millis()
            } else {
                self.config.integration_time().millis()
            };
            let polls = 2 * period / NEW_DATA_POLL_MS;
            let mut attempt = 0;
            let status = loop {
                let status = self.read_register(Register::ALS_STATUS).await?;
                if status & BitFlags::DATA_INVALID != 0 {
                    return Err(Error::DataInvalid { status });
                }
                if status & BitFlags::NEW_DATA != 0 {
                    break status;
                }
                if attempt == polls {
                    return Err(Error::Timeout);
                }
                attempt += 1;
                self.delay.delay_ms(NEW_DATA_POLL_MS).await;
            };
            let gain_code = (status >> BitFlags::STATUS_GAIN_SHIFT) & BitFlags::STATUS_GAIN_MASK;
            let gain = Gain::from_code(gain_code).ok_or(Error::DataInvalid { status })?;

            // One burst, CH1 first: the chip locks the data registers from the first byte to
            // 0x8B, so the two channels come from the same integration.
            let mut data = [0u8; 4];
            self.i2c
                .write_read(ADDRESS, &[Register::ALS_DATA_CH1_0], &mut data)
                .await?;
            let ch1 = u16::from_le_bytes([data[0], data[1]]);
            let ch0 = u16::from_le_bytes([data[2], data[3]]);
            if ch0 == u16::MAX || ch1 == u16::MAX {
                return Err(Error::Saturated { ch0, ch1 });
            }
            Ok(Measurement {
                ch0,
                ch1,
                gain,
                integration_time: self.config.integration_time(),
            })
        }

        /// Reads a measurement and converts it with [`lux`](super::super::lux), using the gain
        /// the data was taken with and the configured window factor.
        pub async fn read_lux(&mut self) -> Result<f32, Error<I2C::Error>> {
            let m = self.read_measurement().await?;
            Ok(lux(
                m.ch0,
                m.ch1,
                m.gain,
                m.integration_time,
                self.config.window_factor(),
            ))
        }

        async fn read_register(&mut self, register: u8) -> Result<u8, Error<I2C::Error>> {
            let mut value = [0u8];
            self.i2c
                .write_read(ADDRESS, &[register], &mut value)
                .await?;
            Ok(value[0])
        }

        async fn write_register(
            &mut self,
            register: u8,
            value: u8,
        ) -> Result<(), Error<I2C::Error>> {
            self.i2c.write(ADDRESS, &[register, value]).await?;
            Ok(())
        }
    }

    /// One reading, [`Quantity::Illuminance`] in lux.
    impl<I2C: I2c, D: DelayNs, const N: usize> Sensor<N> for Ltr329<I2C, D> {
        type Error = Error<I2C::Error>;

        async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
            let lux = self.read_lux().await?;
            let mut sample = Sample::new();
            sample
                .push(Reading::new(Quantity::Illuminance, lux))
                .map_err(|_| Error::SampleFull)?;
            Ok(sample)
        }
    }
}
