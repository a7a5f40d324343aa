//! The LIS2HH12 driver, written once and generated twice by `maybe-async-cfg`: the
//! `asynchronous` module as written (embedded-hal-async) and the `blocking` module with
//! `async`/`.await` removed and the traits swapped for embedded-hal's.

#[maybe_async_cfg::maybe(
    idents(
        embedded_hal_async(sync = "embedded_hal", async),
        Sensor(sync = "BlockingSensor", async),
        Lis2hh12(sync, async = "Lis2hh12Async")
    ),
    sync(self = "blocking"),
    async(self = "asynchronous")
)]
/// The LIS2HH12 driver: `Lis2hh12` in `blocking` on embedded-hal 1.0, `Lis2hh12Async` in `asynchronous` on
/// embedded-hal-async 1.0. Both have the same methods.
pub mod asynchronous {
    use embedded_hal_async::{delay::DelayNs, i2c::I2c};

    use super::super::conversion::{acceleration, pitch, roll, temperature_celsius};
    use super::super::register::{ADDRESS, BitFlags, DATA_READY_POLL_US, Register, WHO_AM_I_VALUE};
    use super::super::types::{Acceleration, Config, Error, RawAcceleration};
    use crate::{Quantity, Reading, Sample, Sensor};

    /// LIS2HH12 accelerometer at 0x1E.
    ///
    /// The driver owns CTRL1 and CTRL4 whole and keeps their value in its [`Config`] (a shadow
    /// copy): every change writes the full register, never a read-modify-write. That keeps the
    /// bus traffic fixed (one write a change), and the bits it does not expose (HR, bandwidth,
    /// I2C_DISABLE, SIM) stay at their reset value 0.
    #[derive(Debug)]
    pub struct Lis2hh12<I2C, D> {
        i2c: I2C,
        delay: D,
        config: Config,
        running: bool,
        /// The output registers may hold a sample taken at another full scale: drop it
        /// before the next read (set when the drop after a CTRL4 write failed).
        stale: bool,
    }

    impl<I2C: I2c, D: DelayNs> Lis2hh12<I2C, D> {
        /// A driver on `i2c`, waiting with `delay`. Does no I/O; call [`Self::init`] next.
        pub fn new(i2c: I2C, delay: D) -> Self {
            Self {
                i2c,
                delay,
                config: Config::default(),
                running: false,
                stale: false,
            }
        }

        /// Gives the bus and the delay back.
        pub fn destroy(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// The configuration last written (the default before [`Self::init`]).
        pub fn config(&self) -> Config {
            self.config
        }

        /// Checks WHO_AM_I, then writes CTRL4 (full scale, address auto-increment), discards
        /// any sample still pending from before (see [`Self::set_full_scale`]; on a PySense 1
        /// the chip stays powered across an MCU reset), and writes CTRL1 (data rate, block data
        /// update, X/Y/Z enabled), which starts sampling.
        ///
        /// [`Error::InvalidDevice`] if WHO_AM_I is not 0x41.
        pub async fn init(&mut self, config: Config) -> Result<(), Error<I2C::Error>> {
            let found = self.who_am_i().await?;
            if found != WHO_AM_I_VALUE {
                return Err(Error::InvalidDevice { found });
            }
            self.write_ctrl4(config.full_scale).await?;
            self.config.data_rate = config.data_rate;
            self.write_ctrl1(true).await
        }

        /// Reads WHO_AM_I (0x0F): 0x41 on a LIS2HH12.
        pub async fn who_am_i(&mut self) -> Result<u8, Error<I2C::Error>> {
            let mut value = [0u8];
            self.i2c
                .write_read(ADDRESS, &[Register::WHO_AM_I], &mut value)
                .await?;
            Ok(value[0])
        }

        /// Changes the output data rate (one CTRL1 write); starts sampling if powered down.
        pub async fn set_data_rate(
            &mut self,
            data_rate: super::super::DataRate,
        ) -> Result<(), Error<I2C::Error>> {
            self.config.data_rate = data_rate;
            self.write_ctrl1(true).await
        }

        /// Changes the full scale: one CTRL4 write, then one 6-byte read of the output
        /// registers that throws the pending sample away.
        ///
        /// The output registers keep the last sample's raw counts, taken at the old scale,
        /// until the next sample replaces them, and STATUS ZYXDA stays set until they are read
        /// (datasheet § 7, STATUS and OUT_X..OUT_Z). Converting those counts with the new
        /// sensitivity would report (0.1, −0.25, 0.5) g for (0.2, −0.5, 1.0) g after ±4 → ±2 g.
        /// Reading them once right after the change clears ZYXDA, so the next read waits for a
        /// sample the chip took at the new scale. The chip says nothing about a sample's scale,
        /// so discarding is the only safe choice; it costs at most one output period.
        pub async fn set_full_scale(
            &mut self,
            full_scale: super::super::FullScale,
        ) -> Result<(), Error<I2C::Error>> {
            self.write_ctrl4(full_scale).await
        }

        /// Stops sampling (ODR 0, a few µA); [`Self::set_data_rate`] or [`Self::init`] start
        /// it again. Reads in between fail with [`Error::PoweredDown`] without bus traffic.
        pub async fn power_down(&mut self) -> Result<(), Error<I2C::Error>> {
            self.write_ctrl1(false).await
        }

        /// Waits for a new sample (STATUS ZYXDA) and reads X, Y and Z in one 6-byte burst from
        /// OUT_X_L.
        ///
        /// Polls STATUS every 1 ms for at most two output periods, then [`Error::Timeout`].
        pub async fn read_raw(&mut self) -> Result<RawAcceleration, Error<I2C::Error>> {
            if !self.running {
                return Err(Error::PoweredDown);
            }
            if self.stale {
                self.drop_pending_sample().await?;
            }
            let polls = (2 * self.config.data_rate.period_us()).div_ceil(DATA_READY_POLL_US);
            let mut attempt = 0;
            loop {
                let mut status = [0u8];
                self.i2c
                    .write_read(ADDRESS, &[Register::STATUS], &mut status)
                    .await?;
                if status[0] & BitFlags::ZYXDA != 0 {
                    break;
                }
                if attempt == polls {
                    return Err(Error::Timeout);
                }
                attempt += 1;
                self.delay.delay_us(DATA_READY_POLL_US).await;
            }
            let mut out = [0u8; 6];
            self.i2c
                .write_read(ADDRESS, &[Register::OUT_X_L], &mut out)
                .await?;
            Ok(RawAcceleration {
                x: i16::from_le_bytes([out[0], out[1]]),
                y: i16::from_le_bytes([out[2], out[3]]),
                z: i16::from_le_bytes([out[4], out[5]]),
            })
        }

        /// A new sample in g, with the sensitivity of the configured full scale.
        pub async fn acceleration(&mut self) -> Result<Acceleration, Error<I2C::Error>> {
            let raw = self.read_raw().await?;
            Ok(acceleration(raw, self.config.full_scale))
        }

        /// The die temperature in °C (TEMP_L/TEMP_H in one 2-byte read), reported as
        /// [`TEMPERATURE_QUANTITY`](super::super::TEMPERATURE_QUANTITY) when published.
        pub async fn temperature(&mut self) -> Result<f32, Error<I2C::Error>> {
            let mut raw = [0u8; 2];
            self.i2c
                .write_read(ADDRESS, &[Register::TEMP_L], &mut raw)
                .await?;
            Ok(temperature_celsius(i16::from_le_bytes(raw)))
        }

        async fn write_ctrl1(&mut self, running: bool) -> Result<(), Error<I2C::Error>> {
            let odr = if running {
                self.config.data_rate.code()
            } else {
                0
            };
            let ctrl1 = (odr << BitFlags::ODR_SHIFT) | BitFlags::BDU | BitFlags::XYZ_ENABLE;
            self.i2c.write(ADDRESS, &[Register::CTRL1, ctrl1]).await?;
            self.running = running;
            Ok(())
        }

        /// Writes CTRL4 and discards the sample pending from before it (see
        /// [`Self::set_full_scale`]). The driver's full scale changes only once the chip has
        /// taken the write, so a failed write never converts with a scale the chip lacks.
        async fn write_ctrl4(
            &mut self,
            full_scale: super::super::FullScale,
        ) -> Result<(), Error<I2C::Error>> {
            let ctrl4 = (full_scale.code() << BitFlags::FS_SHIFT) | BitFlags::IF_ADD_INC;
            self.i2c.write(ADDRESS, &[Register::CTRL4, ctrl4]).await?;
            self.config.full_scale = full_scale;
            self.stale = true;
            self.drop_pending_sample().await
        }

        /// Reads the output registers once and throws the sample away, which clears ZYXDA.
        async fn drop_pending_sample(&mut self) -> Result<(), Error<I2C::Error>> {
            let mut old = [0u8; 6];
            self.i2c
                .write_read(ADDRESS, &[Register::OUT_X_L], &mut old)
                .await?;
            self.stale = false;
            Ok(())
        }
    }

    /// Five readings: [`Quantity::AccelerationX`], `Y`, `Z` in g, then [`Quantity::Pitch`]
    /// and [`Quantity::Roll`] in degrees, all from one sample.
    impl<I2C: I2c, D: DelayNs, const N: usize> Sensor<N> for Lis2hh12<I2C, D> {
        type Error = Error<I2C::Error>;

        async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
            let a = self.acceleration().await?;
            Sample::from_readings(&[
                Reading::new(Quantity::AccelerationX, a.x),
                Reading::new(Quantity::AccelerationY, a.y),
                Reading::new(Quantity::AccelerationZ, a.z),
                Reading::new(Quantity::Pitch, pitch(a.x, a.y, a.z)),
                Reading::new(Quantity::Roll, roll(a.x, a.y, a.z)),
            ])
            .map_err(|_| Error::SampleFull)
        }
    }
}
