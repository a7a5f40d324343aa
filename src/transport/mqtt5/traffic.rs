//! Traffic accounting: an I/O wrapper that remembers whether the broker sent anything since
//! our last write.
//!
//! minimq reports a keep-alive ping left unanswered (its PINGRESP wait, 5 s) and a broker
//! that closed the connection alike, as `Disconnected`. What was seen on the wire tells them
//! apart: a write with nothing read since is a broker that stopped answering
//! ([`MqttError::Timeout`]); anything read (an end of stream, a DISCONNECT) is a broker that
//! closed ([`MqttError::Closed`]).

use crate::transport::MqttError;
use core::cell::Cell;
use embedded_io_async::{ErrorType, Read, Write};

/// What one connection's I/O has seen.
pub(super) struct Traffic {
    /// Whether the last I/O was a write (nothing read since, not even the end of stream).
    unanswered: Cell<bool>,
}

impl Traffic {
    /// No traffic yet.
    pub(super) const fn new() -> Self {
        Self {
            unanswered: Cell::new(false),
        }
    }

    /// `io`, with its reads and writes noted here.
    pub(super) fn count<IO>(&self, io: IO) -> Counted<'_, IO> {
        self.unanswered.set(false);
        Counted { io, traffic: self }
    }

    /// Why a connection minimq reported closed ended: [`MqttError::Timeout`] if the broker
    /// sent nothing after our last write, otherwise `error` as it is.
    pub(super) fn explain(&self, error: MqttError) -> MqttError {
        if error == MqttError::Closed && self.unanswered.get() {
            MqttError::Timeout
        } else {
            error
        }
    }
}

/// A connection whose reads and writes are noted in a [`Traffic`].
pub(super) struct Counted<'t, IO> {
    io: IO,
    traffic: &'t Traffic,
}

impl<IO: ErrorType> ErrorType for Counted<'_, IO> {
    type Error = IO::Error;
}

impl<IO: Read> Read for Counted<'_, IO> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.io.read(buf).await?;
        self.traffic.unanswered.set(false);
        Ok(n)
    }
}

impl<IO: Write> Write for Counted<'_, IO> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = self.io.write(buf).await?;
        self.traffic.unanswered.set(true);
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.io.flush().await
    }
}
