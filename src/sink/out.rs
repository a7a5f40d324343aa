//! [`Out`]: the one writer every sink encodes through, so pieces, numbers and JSON strings are
//! written the same way, each write checked against the room left.

use super::error::EncodeError;
use super::number::{self, Refused, Style};
use crate::reading::Quantity;

/// Writes into the space after the topic in the caller's buffer.
pub(crate) struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Out<'b> {
    /// An empty writer over `buf`.
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Appends `bytes`, or [`EncodeError::BufferTooSmall`] (and nothing) when they do not fit.
    #[inline(always)]
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.len + bytes.len();
        let slot = self
            .buf
            .get_mut(self.len..end)
            .ok_or(EncodeError::BufferTooSmall)?;
        copy(slot, bytes);
        self.len = end;
        Ok(())
    }

    /// [`push`](Self::push) out of line, for pieces off the hot path (options, escapes, rare
    /// fields): one shared copy of the writer instead of one inlined at every such call.
    #[inline(never)]
    pub(crate) fn push_rare(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.push(bytes)
    }

    /// Appends one byte: a separator or a bracket, without a library copy.
    #[inline(always)]
    pub(crate) fn byte(&mut self, byte: u8) -> Result<(), EncodeError> {
        let slot = self
            .buf
            .get_mut(self.len)
            .ok_or(EncodeError::BufferTooSmall)?;
        *slot = byte;
        self.len += 1;
        Ok(())
    }

    /// Appends `value` in `style`; [`EncodeError::NonFinite`] naming `quantity` for NaN or
    /// ±infinity (callers check first, so this is a guard, not a path). Inlined: out of
    /// line saves about 570 bytes of flash and costs 26–60 instructions a message.
    #[inline(always)]
    pub(crate) fn number(
        &mut self,
        value: f32,
        style: &Style,
        quantity: Quantity,
    ) -> Result<(), EncodeError> {
        let rest = self
            .buf
            .get_mut(self.len..)
            .ok_or(EncodeError::BufferTooSmall)?;
        match number::write(value, style, rest) {
            Ok(len) => {
                self.len += len;
                Ok(())
            }
            Err(Refused::NonFinite) => Err(EncodeError::NonFinite { quantity }),
            Err(Refused::NoRoom) => Err(EncodeError::BufferTooSmall),
        }
    }

    /// Appends `text` as a JSON string, quotes included: `"` and `\` escaped with a
    /// backslash, `\b \t \n \f \r` in their short forms, other control characters as
    /// `\u00XX` (upper-case hex), everything else verbatim (valid UTF-8 needs no escape).
    pub(crate) fn json_string(&mut self, text: &str) -> Result<(), EncodeError> {
        self.byte(b'"')?;
        for &b in text.as_bytes() {
            // Tested first, without a 256-entry table: nearly every byte needs no escape.
            if b >= 0x20 && b != b'"' && b != b'\\' {
                self.byte(b)?;
                continue;
            }
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                b'\t' => b't',
                b'\n' => b'n',
                0x0C => b'f',
                b'\r' => b'r',
                _ => 0,
            };
            if short != 0 {
                self.push_rare(&[b'\\', short])?;
            } else {
                let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]];
                self.push_rare(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]])?;
            }
        }
        self.byte(b'"')
    }

    /// Appends `text` percent-encoded as a form value: RFC 3986's unreserved characters
    /// (`A–Z a–z 0–9 - . _ ~`) as they are, every other byte as `%XX` (upper-case hex), so
    /// the value is safe whatever decoder reads it (`&`, `=`, `+`, space, non-ASCII, …).
    /// Nothing is written past the room left; what fitted stays (the caller fails the message).
    pub(crate) fn form_value(&mut self, text: &[u8]) -> Result<(), EncodeError> {
        for &b in text {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                self.byte(b)?;
            } else {
                self.push_rare(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]])?;
            }
        }
        Ok(())
    }

    /// True while nothing has been written.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub(crate) fn into_written(self) -> &'b [u8] {
        let Self { buf, len } = self;
        &buf[..len]
    }
}

/// Upper-case hex digits, for `\u00XX` and `%XX`.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Longest piece [`copy`] moves word by word; longer ones go to `memcpy`.
const SMALL_COPY: usize = 16;

/// Copies `src` into `dst` (same length). Pieces here are a few bytes at any alignment, where
/// the library `memcpy` falls back to bytes after a dozen instructions of set-up; a Cortex-M4
/// loads and stores unaligned words, so short pieces go four bytes at a time, the last word
/// overlapping the one before it (a byte loop for the tail would become a `memcpy` call).
#[inline(always)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    let len = src.len();
    if len > SMALL_COPY || dst.len() != len {
        dst.copy_from_slice(src);
        return;
    }
    if len >= 4 {
        let mut at = 0;
        while at + 4 < len {
            word(dst, src, at);
            at += 4;
        }
        word(dst, src, len - 4);
    } else if len >= 2 {
        // 2 or 3 bytes: two half-words, overlapping for 3.
        half(dst, src, 0);
        half(dst, src, len - 2);
    } else if len == 1 {
        dst[0] = src[0];
    }
}

/// Copies the four bytes at `at` (one unaligned load and store on a Cortex-M4).
#[inline(always)]
fn word(dst: &mut [u8], src: &[u8], at: usize) {
    if let (Some(d), Some(s)) = (dst.get_mut(at..at + 4), src.get(at..at + 4)) {
        d.copy_from_slice(&[s[0], s[1], s[2], s[3]]);
    }
}

/// Copies the two bytes at `at`.
#[inline(always)]
fn half(dst: &mut [u8], src: &[u8], at: usize) {
    if let (Some(d), Some(s)) = (dst.get_mut(at..at + 2), src.get(at..at + 2)) {
        d.copy_from_slice(&[s[0], s[1]]);
    }
}

/// True when JSON needs no escape in `text` (no `"`, `\` or control character U+0000–U+001F):
/// such a text is its own escaped form. A `const fn`, so sinks decide once, when built.
pub(crate) const fn json_plain(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' || b == b'\\' || b < 0x20 {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> std::string::String {
        let mut buf = [0u8; 64];
        let mut out = Out::new(&mut buf);
        out.json_string(text).unwrap();
        std::string::String::from_utf8(out.into_written().to_vec()).unwrap()
    }

    #[test]
    fn json_strings_escape_like_serde_json_core() {
        assert_eq!(json("apricot"), r#""apricot""#);
        assert_eq!(json("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json("\u{8}\t\n\u{c}\r"), r#""\b\t\n\f\r""#);
        assert_eq!(json("\u{0}\u{1f}x"), r#""\u0000\u001Fx""#);
        assert_eq!(json("é°C"), "\"é°C\"");
        assert_eq!(json(""), r#""""#);
    }

    #[test]
    fn json_strings_agree_with_serde_json_for_every_ascii_byte() {
        for b in 0u8..0x80 {
            let text = std::format!("a{}b", b as char);
            // serde_json escapes the same set; its hex is lower case.
            let want = serde_json::to_string(&text).unwrap();
            assert_eq!(json(&text).to_lowercase(), want.to_lowercase(), "byte {b}");
        }
    }

    /// Every byte value, against RFC 3986's rule written out: unreserved as it is, the rest
    /// `%XX` in upper case (what the percent-encoding crate wrote here before).
    #[test]
    fn form_values_percent_encode_all_but_unreserved_bytes() {
        for b in 0..=255u8 {
            let mut buf = [0u8; 8];
            let mut out = Out::new(&mut buf);
            out.form_value(&[b]).unwrap();
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            let want = if unreserved {
                std::vec![b]
            } else {
                std::format!("%{b:02X}").into_bytes()
            };
            assert_eq!(out.into_written(), &want[..], "byte {b:#04x}");
        }
        let mut buf = [0u8; 64];
        let mut out = Out::new(&mut buf);
        out.form_value("ok & warm °C".as_bytes()).unwrap();
        assert_eq!(out.into_written(), b"ok%20%26%20warm%20%C2%B0C");
        let mut short = [0u8; 4];
        let mut out = Out::new(&mut short);
        assert_eq!(out.form_value(b"a&b"), Err(EncodeError::BufferTooSmall));
    }

    #[test]
    fn plain_means_no_escape_needed() {
        assert!(json_plain("temperature"));
        assert!(json_plain("é°C"));
        for bad in ["a\"", "\\", "\n", "\u{1f}"] {
            assert!(!json_plain(bad), "{bad:?}");
        }
    }

    /// Every length up to past the word-copy limit, at every offset of a source word: the
    /// overlapping last word and half-words must still give exactly the source.
    #[test]
    fn copy_gives_the_source_for_every_short_length() {
        let text: std::vec::Vec<u8> = (1..=24).collect();
        for offset in 0..4 {
            for len in 0..=SMALL_COPY + 4 {
                let src = &text[offset..offset + len];
                let mut dst = [0u8; 24];
                copy(&mut dst[..len], src);
                assert_eq!(&dst[..len], src, "offset {offset}, length {len}");
                assert!(dst[len..].iter().all(|&b| b == 0), "wrote past {len}");
            }
        }
    }

    #[test]
    fn a_write_that_does_not_fit_writes_nothing() {
        let mut buf = [0u8; 3];
        let mut out = Out::new(&mut buf);
        out.push(b"ab").unwrap();
        assert_eq!(out.push(b"cd"), Err(EncodeError::BufferTooSmall));
        out.byte(b'c').unwrap();
        assert_eq!(out.byte(b'd'), Err(EncodeError::BufferTooSmall));
        assert_eq!(out.into_written(), b"abc");
    }
}
