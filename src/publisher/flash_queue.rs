//! [`FlashQueue`]: the outage queue on NOR flash, so that readings survive resets, brown-outs,
//! power cuts and deep sleep.
//!
//! The messages live in a [`sequential_storage`] queue (wear-levelled over the caller's flash
//! range, power-fail safe: every item carries a CRC, and an operation the power cut short is
//! repaired when the queue is next used). Each message is one item, a record of this layout
//! (little-endian):
//!
//! ```text
//! 0      1      2         6           8              8 + topic_len
//! | 0xA1 | opts | hold_ms | topic_len | topic (UTF-8) | payload |
//! ```
//!
//! `opts`: bits 0-1 the QoS (0 or 1), bit 2 the retain flag. `hold_ms` is how long the next
//! message must wait after this one reached the broker (a sink's rate limit), so a backlog is
//! replayed at the sink's pace after a reboot too. The sample's time travels in the payload
//! the sink wrote (ThingSpeak's `created_at`, the JSON sink's `"time"` option), so a message
//! sent an hour late still says when it was measured.

use super::queue::{OutageQueue, QueueError};
use crate::message::{Message, QoS};
use core::fmt;
use core::ops::Range;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::queue::{QueueConfig, QueueStorage};

/// First byte of every record: marks the layout above (version 1).
const MAGIC: u8 = 0xA1;
/// Bytes before the topic in a record.
const HEADER: usize = 8;

/// A record buffer aligned for flash drivers that need word-aligned writes.
#[repr(C, align(4))]
struct Aligned<const N: usize>([u8; N]);

/// The messages of the storage.
type Storage<F> = QueueStorage<F, Cache<Uncached, Uncached, Uncached>>;

/// An [`OutageQueue`] on NOR flash: messages are stored before they are sent and removed only
/// after the transport returned `Ok`, so a message, once stored, is delivered or still stored
/// whatever happens to the power.
///
/// - **Flash.** Any [`MultiwriteNorFlash`] of `embedded-storage-async` (the queue clears a
///   delivered item's CRC in place); the caller picks the range (`flash_range`, on erase-page
///   boundaries, at least one page; two or more let wear levelling work) and so the page size
///   and capacity. An item never spans pages: a message must fit one page.
/// - **`BUF`**: the largest record, in bytes: 8 + topic + payload. Give it the publisher's
///   encode buffer size plus 8. It is the only RAM the queue takes besides the flash driver.
/// - **Order.** Oldest first, as stored; after a reboot the same order, from the flash alone.
/// - **Full.** A store that finds no room removes the oldest message (the first one
///   sequential-storage's iterator yields, i.e. the oldest page's first live item: the queue
///   writes pages in a ring and never reorders, so after a reboot "oldest" is found from the
///   page states on the flash, with no clock), counts it in [`dropped`](Self::dropped), and
///   tries again. The count is kept in RAM since [`open`](Self::open): a reset or deep sleep
///   starts it at 0 (a battery node adds it up in RAM that deep sleep keeps, as the station's
///   `WakeState::dropped` does).
/// - **Power cuts.** A cut during a store leaves the message stored or not (the publisher
///   gets [`QueueError::Flash`] and the sample is the caller's); a cut between a delivery and
///   its removal sends the message again after the reboot (at least once, as at QoS 1).
///
/// ```
/// # use sensorpub::{FlashQueue, Message, OutageQueue};
/// # async fn demo<F: embedded_storage_async::nor_flash::MultiwriteNorFlash>(flash: F)
/// #     -> Result<(), sensorpub::QueueError> {
/// // Two 4 KiB pages at 0x3000 of the caller's flash; records up to 256 bytes.
/// let mut queue = FlashQueue::<_, 256>::open(flash, 0x3000..0x5000).await?;
/// queue.store(&Message::new("apricot/value", b"21.5"), 0).await?;
/// // ...after a reset, `open` over the same range finds the message again.
/// # Ok(()) }
/// ```
pub struct FlashQueue<F: MultiwriteNorFlash, const BUF: usize> {
    storage: Storage<F>,
    buf: Aligned<BUF>,
    /// The oldest record's length while `buf` holds it (read once, sent, then removed).
    front: Option<usize>,
    len: usize,
    dropped: u32,
}

impl<F: MultiwriteNorFlash, const BUF: usize> FlashQueue<F, BUF> {
    /// Opens the queue kept in `flash_range` of `flash`, with every message an earlier run
    /// left there (an erased range is an empty queue). Counts the stored messages, reading
    /// the range once.
    ///
    /// Errors: [`QueueError::BadRange`] for a range off the erase pages,
    /// [`QueueError::Flash`], [`QueueError::Corrupted`], and [`QueueError::TooLarge`] when a
    /// stored record is larger than `BUF` (written with a larger `BUF`).
    pub async fn open(flash: F, flash_range: Range<u32>) -> Result<Self, QueueError> {
        const {
            assert!(
                BUF > HEADER,
                "a FlashQueue's BUF must exceed the 8-byte record header"
            );
        }
        let config = QueueConfig::try_new(flash_range).map_err(|_| QueueError::BadRange)?;
        let mut queue = Self {
            storage: QueueStorage::new(flash, config, Cache::new_uncached()),
            buf: Aligned([0; BUF]),
            front: None,
            len: 0,
            dropped: 0,
        };
        queue.len = queue.count().await?;
        Ok(queue)
    }

    /// Counts the stored messages.
    async fn count(&mut self) -> Result<usize, QueueError> {
        let mut iter = self.storage.iter().await.map_err(storage_error::<_, BUF>)?;
        let mut count = 0;
        while iter
            .next(&mut self.buf.0)
            .await
            .map_err(storage_error::<_, BUF>)?
            .is_some()
        {
            count += 1;
        }
        Ok(count)
    }

    /// After a failed flash operation the item may or may not be there: count again, so that
    /// [`len`](Self::len) stays what the flash holds. A flash that still fails leaves the
    /// count as it was (the next open counts again).
    async fn recount(&mut self) {
        self.front = None;
        if let Ok(count) = self.count().await {
            self.len = count;
        }
    }

    /// How many messages are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no message is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many messages were dropped, oldest first, to make room (or because a stored item
    /// was not a record of this queue), since [`open`](Self::open).
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Erases the whole range: every stored message is gone (not counted as dropped).
    pub async fn clear(&mut self) -> Result<(), QueueError> {
        self.front = None;
        self.storage
            .erase_all()
            .await
            .map_err(storage_error::<_, BUF>)?;
        self.len = 0;
        Ok(())
    }

    /// The flash, e.g. to read or write outside the queue's range. Changing the range's
    /// contents behind the queue is at your own risk.
    pub fn flash(&mut self) -> &mut F {
        self.storage.flash()
    }

    /// Gives the flash back (e.g. to open the queue again, as after a reboot).
    pub fn into_flash(self) -> F {
        self.storage.destroy().0
    }

    /// Writes `message` as a record into `buf`; returns the record's length.
    fn encode(&mut self, message: &Message<'_>, hold_ms: u32) -> Result<usize, QueueError> {
        let len = HEADER + message.topic.len() + message.payload.len();
        let too_large = QueueError::TooLarge { len, capacity: BUF };
        let topic_len = u16::try_from(message.topic.len()).map_err(|_| too_large)?;
        let record = self.buf.0.get_mut(..len).ok_or(too_large)?;
        self.front = None;
        let qos = match message.qos {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => 1,
        };
        record[0] = MAGIC;
        record[1] = qos | (u8::from(message.retain) << 2);
        record[2..6].copy_from_slice(&hold_ms.to_le_bytes());
        record[6..8].copy_from_slice(&topic_len.to_le_bytes());
        let (topic, payload) = record[HEADER..].split_at_mut(message.topic.len());
        topic.copy_from_slice(message.topic.as_bytes());
        payload.copy_from_slice(message.payload);
        Ok(len)
    }

    /// Removes the oldest item, delivered or dropped; `false` if there was none.
    async fn pop(&mut self) -> Result<bool, QueueError> {
        self.front = None;
        let popped = match self.storage.pop(&mut self.buf.0).await {
            Ok(popped) => popped.is_some(),
            Err(error) => {
                self.recount().await;
                return Err(storage_error::<_, BUF>(error));
            }
        };
        if popped {
            self.len = self.len.saturating_sub(1);
        } else {
            self.len = 0;
        }
        Ok(popped)
    }

    /// Drops the oldest item to make room (or because it is not a record), counted.
    async fn drop_oldest(&mut self) -> Result<bool, QueueError> {
        let popped = self.pop().await?;
        if popped {
            self.dropped = self.dropped.saturating_add(1);
        }
        Ok(popped)
    }
}

impl<F: MultiwriteNorFlash, const BUF: usize> OutageQueue for FlashQueue<F, BUF> {
    async fn store(&mut self, message: &Message<'_>, hold_ms: u32) -> Result<usize, QueueError> {
        let mut dropped = 0;
        loop {
            let len = self.encode(message, hold_ms)?;
            match self.storage.push(&self.buf.0[..len], false).await {
                Ok(()) => break,
                Err(sequential_storage::Error::FullStorage) => {
                    // `drop_oldest` reads into `buf`: the record is written again above.
                    if !self.drop_oldest().await? {
                        // Full with nothing stored: the range cannot hold this record.
                        return Err(QueueError::TooLarge { len, capacity: BUF });
                    }
                    dropped += 1;
                }
                Err(sequential_storage::Error::ItemTooBig) => {
                    // The page, less its two state words and the item's header.
                    let word = F::READ_SIZE.max(F::WRITE_SIZE);
                    let overhead = Storage::<F>::item_overhead_size() as usize + 2 * word;
                    return Err(QueueError::TooLarge {
                        len,
                        capacity: F::ERASE_SIZE.saturating_sub(overhead).min(BUF),
                    });
                }
                Err(error) => {
                    self.recount().await;
                    return Err(storage_error::<_, BUF>(error));
                }
            }
        }
        if dropped > 0 {
            crate::log::warn!(
                "flash queue full: dropped the {=usize} oldest messages",
                dropped
            );
        }
        self.len = self.len.saturating_add(1);
        Ok(dropped)
    }

    async fn oldest(&mut self) -> Result<Option<(Message<'_>, u32)>, QueueError> {
        loop {
            let len = match self.front {
                Some(len) => len,
                None => {
                    let peeked = self
                        .storage
                        .peek(&mut self.buf.0)
                        .await
                        .map_err(storage_error::<_, BUF>)?;
                    match peeked {
                        Some(record) => {
                            let len = record.len();
                            self.front = Some(len);
                            len
                        }
                        None => {
                            self.len = 0;
                            return Ok(None);
                        }
                    }
                }
            };
            if decode(&self.buf.0[..len]).is_some() {
                return Ok(decode(&self.buf.0[..len]));
            }
            // Not one of our records (another layout, another user of the range): it can
            // never be sent, so it must not block the queue.
            crate::log::warn!("flash queue: dropped an item that is not a message record");
            self.drop_oldest().await?;
        }
    }

    /// Walks the flash from the oldest record to the `index`-th (sequential-storage's queue
    /// iterator, which reads without popping). A record that is not a message ends the
    /// walk (`None`): [`oldest`](OutageQueue::oldest) drops it when it reaches the front.
    async fn peek(&mut self, index: usize) -> Result<Option<(Message<'_>, u32)>, QueueError> {
        if index == 0 {
            return self.oldest().await;
        }
        // `buf` is about to hold another record than the oldest.
        self.front = None;
        let mut found = None;
        {
            let mut iter = self.storage.iter().await.map_err(storage_error::<_, BUF>)?;
            for i in 0..=index {
                let entry = iter
                    .next(&mut self.buf.0)
                    .await
                    .map_err(storage_error::<_, BUF>)?;
                match entry {
                    Some(entry) if i == index => found = Some(entry.len()),
                    Some(_) => {}
                    None => break,
                }
            }
        }
        Ok(found.and_then(|len| decode(&self.buf.0[..len])))
    }

    async fn remove_oldest(&mut self) -> Result<bool, QueueError> {
        self.pop().await
    }

    fn len(&self) -> usize {
        self.len
    }

    fn dropped(&self) -> u32 {
        self.dropped
    }
}

/// The message a record holds and its `hold_ms`; `None` if it is not a valid record.
fn decode(record: &[u8]) -> Option<(Message<'_>, u32)> {
    let (header, rest) = record.split_first_chunk::<HEADER>()?;
    let [magic, opts, h0, h1, h2, h3, t0, t1] = *header;
    if magic != MAGIC || opts & !0b111 != 0 {
        return None;
    }
    let qos = match opts & 0b11 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => return None,
    };
    let hold_ms = u32::from_le_bytes([h0, h1, h2, h3]);
    let (topic, payload) = rest.split_at_checked(usize::from(u16::from_le_bytes([t0, t1])))?;
    let topic = core::str::from_utf8(topic).ok()?;
    let message = Message::new(topic, payload)
        .with_qos(qos)
        .with_retain(opts & 0b100 != 0);
    Some((message, hold_ms))
}

/// The queue's error for a sequential-storage error.
fn storage_error<E, const BUF: usize>(error: sequential_storage::Error<E>) -> QueueError {
    match error {
        sequential_storage::Error::Storage { .. } => QueueError::Flash,
        sequential_storage::Error::BufferTooSmall(len) => {
            QueueError::TooLarge { len, capacity: BUF }
        }
        _ => QueueError::Corrupted,
    }
}

impl<F: MultiwriteNorFlash, const BUF: usize> fmt::Debug for FlashQueue<F, BUF> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlashQueue")
            .field("flash_range", &self.storage.flash_range())
            .field("len", &self.len)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embassy_futures::block_on;
    use sequential_storage::mock_flash::{MockFlashBase, WriteCountCheck};
    use std::vec::Vec;

    /// Four pages of 256 bytes, 4-byte words.
    type Flash = MockFlashBase<4, 4, 64>;

    fn flash() -> Flash {
        Flash::new(WriteCountCheck::Twice, None, true)
    }

    fn open(flash: &mut Flash) -> FlashQueue<&mut Flash, 128> {
        block_on(FlashQueue::open(flash, Flash::FULL_FLASH_RANGE)).unwrap()
    }

    fn payloads<F: MultiwriteNorFlash, const B: usize>(
        queue: &mut FlashQueue<F, B>,
    ) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        block_on(async {
            while let Some((message, _)) = queue.oldest().await.unwrap() {
                all.push(message.payload.to_vec());
                queue.remove_oldest().await.unwrap();
            }
        });
        all
    }

    #[test]
    fn keeps_messages_in_order_with_their_options_and_hold() {
        let mut flash = flash();
        let mut queue = open(&mut flash);
        block_on(async {
            let first = Message::new("a/b", b"1").with_qos(QoS::AtLeastOnce);
            let second = Message::new("c", b"22").with_retain(true);
            assert_eq!(queue.store(&first, 15_000).await, Ok(0));
            assert_eq!(queue.store(&second, 0).await, Ok(0));
            assert_eq!(OutageQueue::len(&queue), 2);
            assert_eq!(queue.oldest().await, Ok(Some((first, 15_000))));
            // Reading the oldest does not remove it.
            assert_eq!(queue.oldest().await, Ok(Some((first, 15_000))));
            assert_eq!(queue.remove_oldest().await, Ok(true));
            assert_eq!(queue.oldest().await, Ok(Some((second, 0))));
            assert_eq!(queue.remove_oldest().await, Ok(true));
            assert_eq!(queue.oldest().await, Ok(None));
            assert_eq!(queue.remove_oldest().await, Ok(false));
            assert!(OutageQueue::is_empty(&queue));
            assert_eq!(OutageQueue::dropped(&queue), 0);
        });
    }

    #[test]
    fn peek_reads_the_ith_message_without_removing_any() {
        let mut flash = flash();
        let mut queue = open(&mut flash);
        block_on(async {
            let messages = [
                Message::new("a", b"1").with_qos(QoS::AtLeastOnce),
                Message::new("b", b"22"),
                Message::new("c", b"333").with_retain(true),
            ];
            for (hold, message) in messages.iter().enumerate() {
                queue.store(message, hold as u32).await.unwrap();
            }
            assert_eq!(queue.peek(2).await, Ok(Some((messages[2], 2))));
            assert_eq!(queue.peek(1).await, Ok(Some((messages[1], 1))));
            // The oldest is read again after `buf` held another record.
            assert_eq!(queue.oldest().await, Ok(Some((messages[0], 0))));
            assert_eq!(queue.peek(0).await, Ok(Some((messages[0], 0))));
            assert_eq!(queue.peek(3).await, Ok(None));
            assert_eq!(OutageQueue::len(&queue), 3);
            assert_eq!(queue.remove_oldest().await, Ok(true));
            assert_eq!(queue.peek(1).await, Ok(Some((messages[2], 2))));
            assert_eq!(queue.oldest().await, Ok(Some((messages[1], 1))));
        });
    }

    #[test]
    fn messages_survive_a_reopen_in_order() {
        let mut flash = flash();
        {
            let mut queue = open(&mut flash);
            block_on(async {
                for p in [b"1", b"2", b"3"] {
                    queue.store(&Message::new("t", p), 7).await.unwrap();
                }
                // Delivered: removed before the "reset".
                assert_eq!(queue.remove_oldest().await, Ok(true));
            });
        }
        let mut queue = open(&mut flash);
        assert_eq!(queue.len(), 2, "counted from the flash on open");
        assert_eq!(payloads(&mut queue), [b"2".to_vec(), b"3".to_vec()]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_every_one() {
        let mut flash = flash();
        let mut queue = open(&mut flash);
        let payload = [b'x'; 40];
        let mut dropped = 0;
        let stored = 60u8;
        block_on(async {
            for i in 0..stored {
                let mut p = payload;
                p[0] = i;
                dropped += queue.store(&Message::new("t", &p), 0).await.unwrap();
            }
        });
        assert!(dropped > 0, "1 KiB cannot hold 60 records of 52 bytes");
        assert_eq!(queue.dropped() as usize, dropped);
        assert_eq!(queue.len() + dropped, usize::from(stored));
        // What is left is the newest messages, in order, with nothing missing between them.
        let left: Vec<u8> = payloads(&mut queue).iter().map(|p| p[0]).collect();
        let first = stored - u8::try_from(left.len()).unwrap();
        assert_eq!(left, (first..stored).collect::<Vec<u8>>());
    }

    #[test]
    fn a_message_larger_than_the_buffer_is_refused_and_nothing_is_dropped() {
        let mut flash = flash();
        let mut queue = open(&mut flash);
        block_on(async {
            queue.store(&Message::new("t", b"1"), 0).await.unwrap();
            let big = [0u8; 121];
            assert_eq!(
                queue.store(&Message::new("t", &big), 0).await,
                Err(QueueError::TooLarge {
                    len: 130,
                    capacity: 128
                })
            );
        });
        assert_eq!(queue.dropped(), 0);
        assert_eq!(payloads(&mut queue), [b"1".to_vec()]);
    }

    #[test]
    fn an_item_that_is_not_a_record_is_dropped_counted_not_sent() {
        let mut flash = flash();
        block_on(async {
            let mut storage = QueueStorage::new(
                &mut flash,
                QueueConfig::new(Flash::FULL_FLASH_RANGE),
                Cache::new_uncached(),
            );
            // The mock, as some flash drivers, wants word-aligned buffers.
            let item = Aligned(*b"not a record");
            storage.push(&item.0, false).await.unwrap();
        });
        let mut queue = open(&mut flash);
        block_on(queue.store(&Message::new("t", b"ok"), 0)).unwrap();
        assert_eq!(payloads(&mut queue), [b"ok".to_vec()]);
        assert_eq!(queue.dropped(), 1);
    }

    #[test]
    fn after_a_failed_store_or_removal_len_is_what_the_flash_holds() {
        // The power is cut after each byte of a store, then of a removal; the queue's count
        // must match what opening the flash afresh finds (the record may be whole even when
        // the write reported the cut: its last byte was padding).
        let message = Message::new("t", b"payload of some length");
        let mut failures = 0;
        for removal in [false, true] {
            for cut in 0..120 {
                let mut flash = flash();
                let mut queue = open(&mut flash);
                block_on(async {
                    queue.store(&message, 0).await.unwrap();
                    queue.flash().bytes_until_shutoff = Some(cut);
                    let result = if removal {
                        queue.remove_oldest().await.map(|_| 0)
                    } else {
                        queue.store(&message, 0).await
                    };
                    queue.flash().bytes_until_shutoff = None;
                    if result.is_err() {
                        failures += 1;
                        assert_eq!(result, Err(QueueError::Flash));
                    }
                });
                let len = queue.len();
                let _ = queue.into_flash();
                assert_eq!(open(&mut flash).len(), len, "cut after {cut} bytes");
            }
        }
        assert!(failures > 20, "the cuts hit the operations: {failures}");
    }

    #[test]
    fn a_range_off_the_pages_is_refused() {
        let mut flash = flash();
        let result = block_on(FlashQueue::<_, 64>::open(&mut flash, 4..1024));
        assert_eq!(result.err(), Some(QueueError::BadRange));
    }

    #[test]
    fn records_decode_only_if_well_formed() {
        assert_eq!(decode(&[MAGIC, 0, 0, 0, 0, 0, 1]), None, "short header");
        assert_eq!(decode(&[MAGIC, 2, 0, 0, 0, 0, 0, 0]), None, "QoS 2");
        assert_eq!(
            decode(&[MAGIC, 8, 0, 0, 0, 0, 0, 0]),
            None,
            "unknown option"
        );
        assert_eq!(decode(&[0xA2, 0, 0, 0, 0, 0, 0, 0]), None, "other layout");
        assert_eq!(
            decode(&[MAGIC, 0, 0, 0, 0, 0, 2, 0, b'a']),
            None,
            "topic past the end"
        );
        assert_eq!(
            decode(&[MAGIC, 0, 0, 0, 0, 0, 1, 0, 0xFF]),
            None,
            "topic not UTF-8"
        );
        assert_eq!(
            decode(&[MAGIC, 0b101, 1, 2, 0, 0, 1, 0, b'a', b'9']),
            Some((
                Message::new("a", b"9")
                    .with_qos(QoS::AtLeastOnce)
                    .with_retain(true),
                0x0201
            ))
        );
    }
}
