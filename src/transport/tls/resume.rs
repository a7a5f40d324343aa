//! Makes embedded-tls's reads survive being cancelled.
//!
//! embedded-tls 0.19 reads a record's 5-byte header into a local variable, then the body into
//! its record buffer (`record_reader.rs`): a read future dropped while it waits for more bytes
//! loses the header bytes already taken from the socket, and the next read starts in the
//! middle of a record. minimq's `poll` is dropped that way whenever the runner stops watching
//! an idle connection to serve a request, and a record split across TCP segments is then cut.
//!
//! [`Resumable`] sits between embedded-tls and the socket. It follows the record framing of
//! the bytes it hands out (embedded-tls never asks across a record boundary) and keeps the
//! current record's header. When told that the last read was abandoned, it hands that
//! header out again: embedded-tls reads the header afresh and continues the body where its
//! record buffer stopped (the body bytes it already has are counted there).

use core::cell::Cell;
use embedded_io_async::{ErrorType, Read, Write};

/// A TLS record header: type, version (2), length (2).
const HEADER: usize = 5;

/// The socket under embedded-tls, with the current record's header kept for a restart.
pub(crate) struct Resumable<'f, S> {
    socket: S,
    header: [u8; HEADER],
    /// Header bytes of the current record handed out.
    header_len: usize,
    /// Body bytes of the current record not handed out yet.
    body_left: usize,
    /// Header bytes to hand out again, from `header[replayed..header_len]`.
    replaying: bool,
    replayed: usize,
    /// Set by the reader when its last read was abandoned.
    restart: &'f Cell<bool>,
}

impl<'f, S> Resumable<'f, S> {
    pub(crate) fn new(socket: S, restart: &'f Cell<bool>) -> Self {
        Self {
            socket,
            header: [0; HEADER],
            header_len: 0,
            body_left: 0,
            replaying: false,
            replayed: 0,
            restart,
        }
    }

    /// Notes `bytes` handed out from the socket.
    fn account(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.header_len < HEADER {
                self.header[self.header_len] = byte;
                self.header_len += 1;
                if self.header_len == HEADER {
                    self.body_left =
                        usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                }
            } else {
                self.body_left = self.body_left.saturating_sub(1);
            }
            if self.header_len == HEADER && self.body_left == 0 {
                self.header_len = 0;
            }
        }
    }
}

impl<S: ErrorType> ErrorType for Resumable<'_, S> {
    type Error = S::Error;
}

impl<S: Read> Read for Resumable<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.restart.replace(false) && self.header_len > 0 {
            self.replaying = true;
            self.replayed = 0;
        }
        if self.replaying {
            let header = &self.header[self.replayed..self.header_len];
            let n = header.len().min(buf.len());
            buf[..n].copy_from_slice(&header[..n]);
            self.replayed += n;
            if self.replayed == self.header_len {
                self.replaying = false;
            }
            return Ok(n);
        }
        let n = self.socket.read(buf).await?;
        self.account(&buf[..n]);
        Ok(n)
    }
}

impl<S: Write> Write for Resumable<'_, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.socket.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.socket.flush().await
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// A socket that hands out its bytes in the chunks given.
    struct Chunks(Vec<Vec<u8>>);

    impl ErrorType for Chunks {
        type Error = core::convert::Infallible;
    }

    impl Read for Chunks {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let Some(chunk) = self.0.first_mut() else {
                return Ok(0);
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    fn read(r: &mut Resumable<'_, Chunks>, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        let n = embassy_futures::block_on(r.read(&mut buf)).unwrap_or(0);
        buf.truncate(n);
        buf
    }

    const RECORD: [u8; 9] = [23, 3, 3, 0, 4, 10, 11, 12, 13];

    #[test]
    fn an_abandoned_header_is_handed_out_again() {
        let restart = Cell::new(false);
        let mut r = Resumable::new(
            Chunks(vec![RECORD[..3].to_vec(), RECORD[3..].to_vec()]),
            &restart,
        );
        assert_eq!(read(&mut r, 5), RECORD[..3]);
        // The reader gave up waiting for the rest of the header, and starts again.
        restart.set(true);
        assert_eq!(read(&mut r, 5), RECORD[..3]);
        assert_eq!(read(&mut r, 2), RECORD[3..5]);
        assert_eq!(read(&mut r, 4), RECORD[5..]);
    }

    #[test]
    fn a_header_is_replayed_mid_body_and_the_body_goes_on() {
        let restart = Cell::new(false);
        let next = [23, 3, 3, 0, 1, 99];
        let chunks = vec![RECORD[..7].to_vec(), RECORD[7..].to_vec(), next.to_vec()];
        let mut r = Resumable::new(Chunks(chunks), &restart);
        assert_eq!(read(&mut r, 5), RECORD[..5]);
        assert_eq!(read(&mut r, 4), RECORD[5..7]);
        restart.set(true);
        // The header again; the body's first two bytes are in embedded-tls's buffer already.
        assert_eq!(read(&mut r, 5), RECORD[..5]);
        assert_eq!(read(&mut r, 2), RECORD[7..]);
        // A restart at a record boundary replays nothing.
        restart.set(true);
        assert_eq!(read(&mut r, 5), next[..5]);
        assert_eq!(read(&mut r, 1), next[5..]);
    }
}
