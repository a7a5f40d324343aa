//! Instruction counts of MQTT 5 publishes on an emulated Cortex-M4F (QEMU `mps2-an386`):
//! the `Mqtt5` handle, its runner and minimq, over a stand-in network that answers at once
//! (CONNACK after CONNECT, PUBACK after each QoS 1 PUBLISH), so what is counted is this
//! crate's and minimq's work per message, not a network's. Calibrated as `qemu` is (a loop of
//! 100 NOPs against an empty loop); instruction counts, not cycles.
//!
//! Also the peak stack of connect + one QoS 0 and one QoS 1 `publish_once` (MockSensor →
//! `JsonSink` → the `Mqtt5` handle, its runner joined): the stack below `main`'s frame is
//! painted with a pattern first, and afterwards the deepest word no longer holding it marks
//! the peak. The caller's buffers (`Mqtt5Buffers`, the publisher's buffer) are locals of
//! `main` and not counted; everything below (block_on, the handle's and the runner's futures,
//! minimq, the sink) is.
//!
//! `cargo run --release --features mqtt --bin qemu_mqtt`
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::future::poll_fn;
use core::hint::black_box;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::task::Poll;
use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embassy_futures::block_on;
use embassy_futures::select::{Either, select};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttOptions};
use sensorpub::{Message, MockSensor, Publisher, QoS, SimulatedClock, Transport};
use sensorpub_size::*;

/// Publishes per measured span.
const ITERATIONS: u32 = 10_000;
/// Peak-stack ceiling, bytes: the peak measured now (3,260) plus about 10 %, so a regression
/// fails the run. Issue 16's target (3 KiB) is printed beside it.
const STACK_BUDGET: usize = 3_600;
/// Issue 16's peak-stack target, printed for comparison (not enforced).
const STACK_TARGET: usize = 3_072;
/// Instruction ceilings of one MQTT 5 publish, QoS 0 and QoS 1: the counts now (3,163 and
/// 6,441) plus about 10 %, so a regression (say, the runner's idle read started and abandoned
/// again for every request: +525) fails the run.
const PUBLISH_BUDGETS: [u64; 2] = [3_500, 7_100];
/// SysTick's reload value: the full 24-bit range.
const SYST_MAX: u32 = 0x00FF_FFFF;
/// CONNACK, reason 0 success, no properties (MQTT 5 §3.2).
const CONNACK: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("FAIL: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}

/// A network whose one connection answers what the client sends, at once.
struct Net {
    inbox: RefCell<heapless::Deque<u8, 64>>,
}

struct Connection<'n> {
    inbox: &'n RefCell<heapless::Deque<u8, 64>>,
}

impl ErrorType for Connection<'_> {
    type Error = ErrorKind;
}

impl Read for Connection<'_> {
    /// What the broker answered so far; pending (forever) when it has nothing to say.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        poll_fn(|_| {
            let mut inbox = self.inbox.borrow_mut();
            if inbox.is_empty() {
                return Poll::Pending;
            }
            let mut n = 0;
            while n < buf.len() {
                let Some(byte) = inbox.pop_front() else { break };
                buf[n] = byte;
                n += 1;
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl Write for Connection<'_> {
    /// Takes each packet whole; answers a QoS 1 PUBLISH with its PUBACK.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        consume(buf);
        if buf
            .first()
            .is_some_and(|b| b >> 4 == 3 && (b >> 1) & 3 == 1)
        {
            // Remaining length (1 or 2 bytes here), topic length, topic, packet id.
            let mut at = 1;
            while buf.get(at).is_some_and(|b| b & 0x80 != 0) {
                at += 1;
            }
            at += 1;
            let topic = usize::from(buf[at]) << 8 | usize::from(buf[at + 1]);
            let id = at + 2 + topic;
            let mut inbox = self.inbox.borrow_mut();
            for byte in [0x40, 0x02, buf[id], buf[id + 1]] {
                if inbox.push_back(byte).is_err() {
                    fail();
                }
            }
        }
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl TcpConnect for Net {
    type Error = ErrorKind;
    type Connection<'a> = Connection<'a>;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Connection<'a>, ErrorKind> {
        black_box(remote);
        let mut inbox = self.inbox.borrow_mut();
        inbox.clear();
        for byte in CONNACK {
            if inbox.push_back(byte).is_err() {
                fail();
            }
        }
        Ok(Connection { inbox: &self.inbox })
    }
}

impl Dns for Net {
    type Error = ErrorKind;

    async fn get_host_by_name(&self, _: &str, _: AddrType) -> Result<IpAddr, ErrorKind> {
        Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::Unsupported)
    }
}

/// Written over the unused stack before the measured run.
const PAINT: u32 = 0x5AA5_C33C;
/// How far below the painting function's frame the paint reaches: far more than any run here.
const PAINT_DEPTH: usize = 32 * 1024;

unsafe extern "C" {
    /// End of `.bss` (cortex-m-rt's linker script): the stack may not grow below it.
    static __sheap: u32;
}

/// Paints the free stack below this function's frame (a few words under the caller's);
/// returns the stack pointer, from which [`stack_used`] measures.
#[inline(never)]
fn paint_stack() -> usize {
    let sp = cortex_m::register::msp::read() as usize;
    let floor = (&raw const __sheap) as usize;
    let bottom = sp.saturating_sub(PAINT_DEPTH).max(floor);
    let mut word = bottom;
    // The top 64 bytes stay unpainted: a shrink-wrapped prologue may push this function's
    // return address below the stack pointer read above.
    while word < sp - 64 {
        // SAFETY: between the end of .bss and this frame, 4-byte aligned: unused stack.
        unsafe { (word as *mut u32).write_volatile(PAINT) };
        word += 4;
    }
    sp
}

/// Runs `f` in a frame of its own, below the caller's: what `f` keeps on the stack (the
/// futures it builds) is counted by [`stack_used`].
#[inline(never)]
fn beneath<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Bytes of stack used below `top` since [`paint_stack`]: the deepest overwritten word.
fn stack_used(top: usize) -> usize {
    let floor = (&raw const __sheap) as usize;
    let mut word = top.saturating_sub(PAINT_DEPTH).max(floor);
    // SAFETY: the words painted above, read back.
    while word < top && unsafe { (word as *const u32).read_volatile() } == PAINT {
        word += 4;
    }
    top - word
}

/// embassy-time's clock stands still: no keep-alive ping falls due, no timeout passes.
/// `embassy_futures::block_on` polls in a loop, so no wake-up is needed.
struct Frozen;

impl embassy_time_driver::Driver for Frozen {
    fn now(&self) -> u64 {
        black_box(0)
    }

    fn schedule_wake(&self, at: u64, _: &core::task::Waker) {
        black_box(at);
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: Frozen = Frozen);

macro_rules! nop10 {
    () => {
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
        cortex_m::asm::nop();
    };
}

/// SysTick ticks since `start` (it counts down).
fn since(start: u32) -> u32 {
    start.wrapping_sub(SYST::get_current()) & SYST_MAX
}

/// SysTick ticks spent running `work` `ITERATIONS` times.
fn ticks(mut work: impl FnMut()) -> u32 {
    let start = SYST::get_current();
    for i in 0..ITERATIONS {
        black_box(i);
        work();
    }
    since(start)
}

/// True when a `publish_once` did not publish exactly one message.
fn not_exactly_one<E>(published: Result<usize, E>) -> bool {
    !matches!(published, Ok(1))
}

/// `ITERATIONS` publishes of `message`; SysTick ticks they took.
async fn publishes<T: Transport>(transport: &mut T, message: &Message<'_>) -> u32 {
    let start = SYST::get_current();
    for i in 0..ITERATIONS {
        black_box(i);
        if transport.publish(black_box(message)).await.is_err() {
            fail();
        }
    }
    since(start)
}

#[entry]
fn main() -> ! {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail()
    };
    let mut syst = peripherals.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYST_MAX);
    syst.clear_current();
    syst.enable_counter();

    let empty = ticks(|| {});
    let nops = ticks(|| {
        nop10!();
        nop10!();
        nop10!();
        nop10!();
        nop10!();
        nop10!();
        nop10!();
        nop10!();
        nop10!();
        nop10!();
    });

    let net = Net {
        inbox: RefCell::new(heapless::Deque::new()),
    };
    let message = Message::new(JSON_TOPIC, JSON_OBJECT);
    let acked = message.with_qos(QoS::AtLeastOnce);

    let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
    let broker = Broker::new("127.0.0.1", 1883);
    let Ok((mut mqtt, mut runner)) =
        Mqtt5::new(&net, broker, MqttOptions::new("apricot"), &mut buffers)
    else {
        fail()
    };
    let script = [Ok(sample())];
    let mut publish_buf = [0u8; BUF];
    let top = paint_stack();
    let ((qos0, qos1, peak), future_size) = beneath(|| {
        let measured = async {
            if mqtt.connect().await.is_err() {
                fail();
            }
            // One publisher per QoS, each in its own scope: rebinding one publisher with
            // `with_qos` would keep both bindings in this future.
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
                let mut publisher = Publisher::new(
                    MockSensor::new(&script).repeating(),
                    json_sink(None),
                    &mut mqtt,
                    SimulatedClock::new(),
                    &mut publish_buf,
                )
                .with_qos(qos);
                if not_exactly_one(publisher.publish_once().await) {
                    fail();
                }
            }
            let peak = stack_used(top);
            let qos0 = publishes(&mut mqtt, &message).await;
            let qos1 = publishes(&mut mqtt, &acked).await;
            (qos0, qos1, peak)
        };
        let both = select(runner.run(), measured);
        let future_size = core::mem::size_of_val(&both);
        match block_on(both) {
            Either::First(never) => never,
            Either::Second(spans) => (spans, future_size),
        }
    });
    hprintln!(
        "peak stack, connect + one QoS 0 and one QoS 1 publish_once: {} B \
         (of which the runner + publishing future {} B; Mqtt5Buffers {} B not counted)",
        peak,
        future_size,
        core::mem::size_of::<Mqtt5Buffers<256, 768, 256>>()
    );
    // A second figure, not a replacement: a firmware that spawns the runner and the
    // publishing code as tasks keeps their futures in static memory, so its stack holds only
    // the poll frames.
    hprintln!(
        "peak stack without the futures' state (static tasks): {} B",
        peak.saturating_sub(future_size)
    );

    let stack_ok = peak <= STACK_BUDGET;
    hprintln!(
        "ceiling peak stack {} <= {}: {} (issue 16 target {}: {})",
        peak,
        STACK_BUDGET,
        if stack_ok { "ok" } else { "EXCEEDED" },
        STACK_TARGET,
        if peak <= STACK_TARGET {
            "met"
        } else {
            "not met"
        }
    );
    if !stack_ok {
        debug::exit(debug::EXIT_FAILURE);
    }

    // 100 NOPs a call at 1 instruction each: instructions per tick, in thousandths.
    let per_100 = u64::from(nops.saturating_sub(empty).max(1));
    let mut within = true;
    for ((name, span), budget) in [("QoS 0", qos0), ("QoS 1", qos1)]
        .into_iter()
        .zip(PUBLISH_BUDGETS)
    {
        let work = u64::from(span.saturating_sub(empty));
        let tenths = work * 1000 / per_100;
        let ok = tenths <= budget * 10;
        within &= ok;
        hprintln!(
            "MQTT 5 publish {} ({} B payload): {}.{} instructions (ceiling {}: {})",
            name,
            JSON_OBJECT.len(),
            tenths / 10,
            tenths % 10,
            budget,
            if ok { "ok" } else { "EXCEEDED" }
        );
    }
    debug::exit(if within {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {}
}
