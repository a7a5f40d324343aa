//! Logging through defmt when the `defmt` feature is on; nothing at all otherwise, so host
//! and firmware builds without defmt carry no logging code.

/// `defmt::info!` with the `defmt` feature, nothing without it.
macro_rules! log_info {
    ($($arg:tt)*) => {
        #[cfg(feature = "defmt")]
        defmt::info!($($arg)*);
    };
}

/// `defmt::warn!` with the `defmt` feature, nothing without it.
macro_rules! log_warn {
    ($($arg:tt)*) => {
        #[cfg(feature = "defmt")]
        defmt::warn!($($arg)*);
    };
}

pub(crate) use {log_info as info, log_warn as warn};
