//! The co-processor driver, written once and generated twice by `maybe-async-cfg`: the
//! `asynchronous` module as written (embedded-hal-async) and the `blocking` module with
//! `async`/`.await` removed and the traits swapped for embedded-hal's.

#[maybe_async_cfg::maybe(
    idents(
        embedded_hal_async(sync = "embedded_hal", async),
        Sensor(sync = "BlockingSensor", async),
        Coprocessor(sync, async = "CoprocessorAsync")
    ),
    sync(self = "blocking"),
    async(self = "asynchronous")
)]
/// The co-processor driver: `Coprocessor` in `blocking` on embedded-hal 1.0, `CoprocessorAsync` in `asynchronous` on
/// embedded-hal-async 1.0. Both have the same methods.
pub mod asynchronous {
    use embedded_hal_async::{delay::DelayNs, i2c::I2c};

    use super::super::conversion::{adc_count, battery_voltage};
    use super::super::register::{
        ADC_FIRST_POLL_US, ADC_POLLS, ADDRESS, BitFlags, COMMAND_POLLS, Command, FIRST_POLL_US,
        MIN_FIRMWARE_PYSENSE_2, Memory, POLL_US, PRODUCT_ID_PYSENSE_2, READY,
    };
    use super::super::types::{BoardInfo, Error};
    use crate::{Quantity, Reading, Sample, Sensor};

    /// The PySense's PIC co-processor at 0x08.
    #[derive(Debug)]
    pub struct Coprocessor<I2C, D> {
        i2c: I2C,
        delay: D,
        adc_enabled: bool,
    }

    impl<I2C: I2c, D: DelayNs> Coprocessor<I2C, D> {
        /// A driver on `i2c`, waiting with `delay`. Does no I/O.
        pub fn new(i2c: I2C, delay: D) -> Self {
            Self {
                i2c,
                delay,
                adc_enabled: false,
            }
        }

        /// Gives the bus and the delay back.
        pub fn destroy(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// Checks that this is a PySense 2 with firmware 16 or newer (PROD_ID 0xF012), as
        /// Pycom's `pycoproc_2.py` does before touching its memory.
        pub async fn init(&mut self) -> Result<BoardInfo, Error<I2C::Error>> {
            let firmware = self.firmware_version().await?;
            let product_id = self.product_id().await?;
            if product_id != PRODUCT_ID_PYSENSE_2 {
                return Err(Error::UnsupportedBoard { product_id });
            }
            if firmware < MIN_FIRMWARE_PYSENSE_2 {
                return Err(Error::FirmwareTooOld { firmware });
            }
            Ok(BoardInfo {
                product_id,
                firmware,
            })
        }

        /// HW_VER: the board's hardware version.
        pub async fn hardware_version(&mut self) -> Result<u16, Error<I2C::Error>> {
            self.read_u16(Command::HW_VER).await
        }

        /// FW_VER: the co-processor firmware version.
        pub async fn firmware_version(&mut self) -> Result<u16, Error<I2C::Error>> {
            self.read_u16(Command::FW_VER).await
        }

        /// PROD_ID: the board's USB product id (0xF012 PySense 2, 0xF013 Pytrack 2).
        pub async fn product_id(&mut self) -> Result<u16, Error<I2C::Error>> {
            self.read_u16(Command::PROD_ID).await
        }

        /// Powers the PySense 2's sensors: drives LATC bit 7 (PWR_CTRL) high, then makes RC6
        /// and RC7 outputs (TRISC bits 6 and 7 cleared).
        ///
        /// The latch is set before the pin becomes an output so the pin goes straight to high.
        /// The sensors answer only after their start-up time: wait at least 100 ms (LTR-329;
        /// SI7006 needs up to 80 ms) before initialising them.
        pub async fn power_on_sensors(&mut self) -> Result<(), Error<I2C::Error>> {
            self.magic(Memory::LATC, 0xFF, BitFlags::LATC_PWR_CTRL, 0)
                .await?;
            self.magic(Memory::TRISC, BitFlags::TRISC_KEEP_ALL_BUT_RC6_RC7, 0, 0)
                .await?;
            Ok(())
        }

        /// Switches the sensors' supply off (LATC bit 7 low). Drivers of the powered-off
        /// sensors must be initialised again after [`Self::power_on_sensors`].
        pub async fn power_off_sensors(&mut self) -> Result<(), Error<I2C::Error>> {
            self.magic(Memory::LATC, !BitFlags::LATC_PWR_CTRL, 0, 0)
                .await?;
            Ok(())
        }

        /// Sets up the ADC for the battery: RC2 analog (ANSELC), channel AN6 and ADC on
        /// (ADCON0), Fosc/64 conversion clock (ADCON1).
        pub async fn enable_battery_adc(&mut self) -> Result<(), Error<I2C::Error>> {
            self.poke(Memory::ANSELC, BitFlags::ANSELC_RC2_ANALOG)
                .await?;
            self.poke(Memory::ADCON0, BitFlags::ADCON0_AN6_ON).await?;
            self.poke(Memory::ADCON1, BitFlags::ADCON1_FOSC_64).await?;
            self.adc_enabled = true;
            Ok(())
        }

        /// Measures the battery: starts a conversion (GO), waits for it to finish (bounded,
        /// [`Error::Timeout`]), reads ADRESH then ADRESL and converts with
        /// [`battery_voltage`](super::super::battery_voltage).
        pub async fn battery_voltage(&mut self) -> Result<f32, Error<I2C::Error>> {
            if !self.adc_enabled {
                return Err(Error::AdcNotEnabled);
            }
            self.magic(Memory::ADCON0, 0xFF, BitFlags::ADCON0_GO, 0)
                .await?;
            self.delay.delay_us(ADC_FIRST_POLL_US).await;
            let mut attempt = 0;
            while self.peek(Memory::ADCON0).await? & BitFlags::ADCON0_GO != 0 {
                if attempt == ADC_POLLS {
                    return Err(Error::Timeout);
                }
                attempt += 1;
                self.delay.delay_us(POLL_US).await;
            }
            let high = self.peek(Memory::ADRESH).await?;
            let low = self.peek(Memory::ADRESL).await?;
            Ok(battery_voltage(adc_count(high, low)))
        }

        /// PEEK: reads one byte of PIC memory.
        pub async fn peek(&mut self, address: u16) -> Result<u8, Error<I2C::Error>> {
            let [low, high] = address.to_le_bytes();
            self.command(&[Command::PEEK, low, high]).await?;
            let mut framed = [0u8; 2];
            self.read_reply(&mut framed).await?;
            Ok(framed[1])
        }

        /// POKE: writes one byte of PIC memory.
        pub async fn poke(&mut self, address: u16, value: u8) -> Result<(), Error<I2C::Error>> {
            let [low, high] = address.to_le_bytes();
            self.command(&[Command::POKE, low, high, value]).await
        }

        /// MAGIC: `memory = ((memory & and) | or) ^ xor` in one command; returns the byte the
        /// co-processor answers.
        pub async fn magic(
            &mut self,
            address: u16,
            and: u8,
            or: u8,
            xor: u8,
        ) -> Result<u8, Error<I2C::Error>> {
            let [low, high] = address.to_le_bytes();
            self.command(&[Command::MAGIC, low, high, and, or, xor])
                .await?;
            let mut framed = [0u8; 2];
            self.read_reply(&mut framed).await?;
            Ok(framed[1])
        }

        async fn read_u16(&mut self, command: u8) -> Result<u16, Error<I2C::Error>> {
            self.command(&[command]).await?;
            let mut framed = [0u8; 3];
            self.read_reply(&mut framed).await?;
            Ok(u16::from_le_bytes([framed[1], framed[2]]))
        }

        /// Sends a command and polls the 1-byte status until the co-processor answers 0xFF
        /// (done): 10 µs, then every 100 µs, for at most 50 ms.
        async fn command(&mut self, bytes: &[u8]) -> Result<(), Error<I2C::Error>> {
            self.i2c.write(ADDRESS, bytes).await?;
            self.delay.delay_us(FIRST_POLL_US).await;
            let mut attempt = 0;
            loop {
                let mut status = [0u8];
                self.i2c.read(ADDRESS, &mut status).await?;
                if status[0] == READY {
                    return Ok(());
                }
                if attempt == COMMAND_POLLS {
                    return Err(Error::Timeout);
                }
                attempt += 1;
                self.delay.delay_us(POLL_US).await;
            }
        }

        /// Reads a reply into `framed[1..]`: the co-processor sends one byte first that is not
        /// part of the reply, so `framed` is one byte longer than the reply and its first byte
        /// is dropped.
        async fn read_reply(&mut self, framed: &mut [u8]) -> Result<(), Error<I2C::Error>> {
            self.i2c.read(ADDRESS, framed).await?;
            Ok(())
        }
    }

    /// One reading, [`Quantity::Voltage`]: the battery in V. Call
    /// `enable_battery_adc` once first.
    impl<I2C: I2c, D: DelayNs, const N: usize> Sensor<N> for Coprocessor<I2C, D> {
        type Error = Error<I2C::Error>;

        async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
            let volts = self.battery_voltage().await?;
            let mut sample = Sample::new();
            sample
                .push(Reading::new(Quantity::Voltage, volts))
                .map_err(|_| Error::SampleFull)?;
            Ok(sample)
        }
    }
}
