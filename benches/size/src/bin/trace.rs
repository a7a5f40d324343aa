//! One encode of each sink (JSON object, bare value, ThingSpeak bulk), then the zmij floors
//! (ThingSpeak, bare, JSON object), each between two marker calls, for an instruction trace:
//! `qemu-system-arm ... -singlestep -d exec,nochain -D trace.log -kernel <elf>`, then map
//! each executed address to its function (see BENCHMARKS.md, "Where the time goes").
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use sensorpub::JsonSink;
use sensorpub_size::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}

/// Start of a traced span.
#[inline(never)]
fn trace_start() {
    black_box(0);
}

/// End of a traced span.
#[inline(never)]
fn trace_end() {
    black_box(1);
}

#[entry]
fn main() -> ! {
    let sample = sample();
    let mut buf = [0u8; BUF];
    let json = json_sink(None);
    let value = black_box(JsonSink::value(JSON_TOPIC).unwrap_or_else(|_| fail()));
    let thingspeak = thingspeak_sink(None);
    trace_start();
    encode(&json, &sample, &mut buf);
    trace_end();
    trace_start();
    encode(&value, &sample, &mut buf);
    trace_end();
    trace_start();
    encode(&thingspeak, &sample, &mut buf);
    trace_end();
    let mut arr = [0u8; BUF];
    trace_start();
    thingspeak_zmij_floor(&mut arr, black_box(TEMPERATURE), black_box(HUMIDITY));
    trace_end();
    trace_start();
    bare_zmij(&mut arr, black_box(TEMPERATURE));
    trace_end();
    trace_start();
    zmij_floor(&mut arr, black_box(TEMPERATURE), black_box(HUMIDITY));
    trace_end();
    debug::exit(debug::EXIT_SUCCESS);
    loop {}
}
