//! Errors, settings and results of the SI7006 driver.

use core::fmt;

/// Why an SI7006 operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<E> {
    /// The I²C bus failed (a NACK included: the chip is absent, unpowered or still busy).
    I2c(E),
    /// A checksum did not match the bytes it covers: the transfer was corrupted. Retry the read.
    Crc {
        /// The CRC-8 the driver computed over the received data bytes.
        computed: u8,
        /// The checksum byte the chip sent.
        received: u8,
    },
    /// The chip at 0x40 reports a device ID (SNB_3 of its electronic ID) that is not a
    /// Si70xx humidity sensor.
    InvalidDevice {
        /// The device ID byte it reported.
        found: u8,
    },
    /// The [`Sample`](crate::Sample) is too small for the driver's readings: raise its `N`.
    SampleFull,
}

impl<E> From<E> for Error<E> {
    fn from(error: E) -> Self {
        Error::I2c(error)
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "SI7006: I2C bus error: {e:?}"),
            Error::Crc { computed, received } => write!(
                f,
                "SI7006: checksum mismatch (computed {computed:#04x}, received {received:#04x}); retry the read"
            ),
            Error::InvalidDevice { found } => write!(
                f,
                "SI7006: device ID {found:#04x} at 0x40 is not a Si70xx humidity sensor"
            ),
            Error::SampleFull => f.write_str("SI7006: sample too small for its readings; raise N"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

/// Measurement resolution of relative humidity and temperature, bits RES1:RES0 of user
/// register 1. Lower resolution converts faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Resolution {
    /// RH 12 bit, temperature 14 bit (RES = 00): the power-on default.
    #[default]
    Rh12Temp14,
    /// RH 8 bit, temperature 12 bit (RES = 01).
    Rh8Temp12,
    /// RH 10 bit, temperature 13 bit (RES = 10).
    Rh10Temp13,
    /// RH 11 bit, temperature 11 bit (RES = 11).
    Rh11Temp11,
}

impl Resolution {
    /// Maximum humidity conversion time in µs, not counting the temperature conversion that
    /// follows it (Si7021-A20 datasheet Table 2, "Conversion Time").
    pub const fn humidity_conversion_us(self) -> u32 {
        match self {
            Resolution::Rh12Temp14 => 12_000,
            Resolution::Rh11Temp11 => 7_000,
            Resolution::Rh10Temp13 => 4_500,
            Resolution::Rh8Temp12 => 3_100,
        }
    }

    /// Maximum temperature conversion time in µs (Table 2, "Conversion Time").
    pub const fn temperature_conversion_us(self) -> u32 {
        match self {
            Resolution::Rh12Temp14 => 10_800,
            Resolution::Rh10Temp13 => 6_200,
            Resolution::Rh8Temp12 => 3_800,
            Resolution::Rh11Temp11 => 2_400,
        }
    }

    /// Maximum time a humidity measurement takes: the chip measures temperature after
    /// humidity (Table 2, note 1), so tRH + tT.
    pub const fn humidity_measurement_us(self) -> u32 {
        self.humidity_conversion_us() + self.temperature_conversion_us()
    }
}

/// Current through the on-chip heater, `HEATER[3:0]` of the heater control register: level 0
/// draws about 3.1 mA, level 15 about 94.2 mA, roughly 6.1 mA a step (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HeaterCurrent(u8);

impl HeaterCurrent {
    /// The lowest setting (about 3.1 mA), the power-on value.
    pub const MIN: Self = Self(0);
    /// The highest setting (about 94.2 mA).
    pub const MAX: Self = Self(15);

    /// Heater level `level` (0..=15), or `None` if it does not fit the 4-bit field.
    pub const fn new(level: u8) -> Option<Self> {
        if level <= 15 { Some(Self(level)) } else { None }
    }

    /// The level held in the low nibble of a heater control register value.
    pub(crate) const fn from_register(reg: u8) -> Self {
        Self(reg & super::register::HEATER_CURRENT_MASK)
    }

    /// The level, 0..=15.
    pub const fn level(self) -> u8 {
        self.0
    }
}

/// Which member of the Si70xx family answered, from SNB_3 of the electronic ID (§5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeviceId {
    /// Si7006 (0x06), the PySense's sensor.
    Si7006,
    /// Si7013 (0x0D).
    Si7013,
    /// Si7020 (0x14).
    Si7020,
    /// Si7021 (0x15).
    Si7021,
    /// An engineering sample (0x00 or 0xFF).
    EngineeringSample(u8),
    /// Any other value: not a known Si70xx.
    Unknown(u8),
}

impl DeviceId {
    /// Decodes the SNB_3 byte; never fails, unknown values become [`DeviceId::Unknown`].
    pub const fn from_byte(snb_3: u8) -> Self {
        match snb_3 {
            0x06 => DeviceId::Si7006,
            0x0D => DeviceId::Si7013,
            0x14 => DeviceId::Si7020,
            0x15 => DeviceId::Si7021,
            0x00 | 0xFF => DeviceId::EngineeringSample(snb_3),
            other => DeviceId::Unknown(other),
        }
    }

    /// The SNB_3 byte this ID was decoded from.
    pub const fn byte(self) -> u8 {
        match self {
            DeviceId::Si7006 => 0x06,
            DeviceId::Si7013 => 0x0D,
            DeviceId::Si7020 => 0x14,
            DeviceId::Si7021 => 0x15,
            DeviceId::EngineeringSample(b) | DeviceId::Unknown(b) => b,
        }
    }
}

/// The 64-bit electronic serial number, SNA_3 (most significant) to SNB_0 (§5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ElectronicId(pub u64);

impl ElectronicId {
    /// The device ID byte, SNB_3 (bits 31..24 of the serial number).
    pub const fn device_id_byte(self) -> u8 {
        (self.0 >> 24) as u8
    }

    /// Which Si70xx this is.
    pub const fn device(self) -> DeviceId {
        DeviceId::from_byte(self.device_id_byte())
    }
}

/// Firmware revision byte read by `84 B8` (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FirmwareRevision {
    /// Version 1.0 (0xFF).
    V1_0,
    /// Version 2.0 (0x20).
    V2_0,
    /// A byte the datasheet does not list.
    Unknown(u8),
}

impl FirmwareRevision {
    /// Decodes the revision byte; never fails.
    pub const fn from_byte(byte: u8) -> Self {
        match byte {
            0xFF => FirmwareRevision::V1_0,
            0x20 => FirmwareRevision::V2_0,
            other => FirmwareRevision::Unknown(other),
        }
    }
}

/// Relative humidity and the temperature the chip measured with it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Measurement {
    /// Temperature in °C.
    pub temperature: f32,
    /// Relative humidity in %, clamped to 0..=100.
    pub humidity: f32,
}

impl Measurement {
    /// Dew point in °C by the Magnus formula; `None` at 0 % RH, where it is undefined.
    pub fn dew_point(&self) -> Option<f32> {
        super::dew_point(self.temperature, self.humidity)
    }
}
