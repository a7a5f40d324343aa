//! A loopback MQTT 3.1.1 broker that plays ThingSpeak: it accepts only a client that presents
//! the channel's password (CONNACK 0), refuses anyone else (CONNACK 5, not authorized), takes
//! QoS 0 PUBLISHes and records their topic and payload, answers PINGREQ, and can be "away"
//! (it then closes every connection, new or open, before answering).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

/// The ThingSpeak-like broker; runs until the test process ends.
pub struct ThingSpeakLike {
    port: u16,
    away: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    published: mpsc::Receiver<(String, Vec<u8>)>,
}

impl ThingSpeakLike {
    /// Listens on a free 127.0.0.1 port for clients presenting `password`.
    pub fn start(password: &'static [u8]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, published) = mpsc::channel();
        let away = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (away_, open_) = (Arc::clone(&away), Arc::clone(&open));
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                if away_.load(Ordering::SeqCst) {
                    let _ = stream.shutdown(Shutdown::Both);
                    continue;
                }
                if let Ok(copy) = stream.try_clone() {
                    open_.lock().expect("open connections").push(copy);
                }
                let tx = tx.clone();
                thread::spawn(move || connection(stream, password, &tx));
            }
        });
        Self {
            port,
            away,
            open,
            published,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Goes away: open connections are closed, new ones closed before CONNACK.
    pub fn go_away(&self) {
        self.away.store(true, Ordering::SeqCst);
        for stream in self.open.lock().expect("open connections").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Comes back: connections are served again.
    pub fn come_back(&self) {
        self.away.store(false, Ordering::SeqCst);
    }

    /// Every `(topic, payload)` published so far (waits `settle` for stragglers).
    pub fn published(&self, settle: Duration) -> Vec<(String, Vec<u8>)> {
        let mut all = Vec::new();
        while let Ok(message) = self.published.recv_timeout(settle) {
            all.push(message);
        }
        all
    }
}

fn connection(mut stream: TcpStream, password: &[u8], published: &mpsc::Sender<(String, Vec<u8>)>) {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 2048];
    let mut connected = false;
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
        for packet in take_packets(&mut bytes) {
            match packet[0] >> 4 {
                1 if !connected => {
                    // CONNECT: the password is the last field of the payload (§3.1.3.5).
                    if packet.ends_with(password) {
                        connected = true;
                        let _ = stream.write_all(&[0x20, 0x02, 0x00, 0x00]);
                    } else {
                        let _ = stream.write_all(&[0x20, 0x02, 0x00, 0x05]);
                        return;
                    }
                }
                3 if connected => {
                    let length_bytes =
                        packet[1..].iter().take_while(|b| *b & 0x80 != 0).count() + 1;
                    let body = &packet[1 + length_bytes..];
                    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let topic = String::from_utf8_lossy(&body[2..2 + topic_len]).into_owned();
                    assert_eq!(packet[0] & 0b0110, 0, "ThingSpeak takes QoS 0 only");
                    let _ = published.send((topic, body[2 + topic_len..].to_vec()));
                }
                12 => {
                    let _ = stream.write_all(&[0xd0, 0x00]); // PINGRESP
                }
                _ => return, // DISCONNECT, or anything a strict broker ends on
            }
        }
    }
}

/// Removes and returns the whole packets at the start of `bytes` (§2.2.3 lengths).
fn take_packets(bytes: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    loop {
        let mut remaining = 0usize;
        let mut total = None;
        for i in 0..4 {
            let Some(&byte) = bytes.get(1 + i) else { break };
            remaining |= usize::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                total = Some(2 + i + remaining);
                break;
            }
        }
        match total {
            Some(total) if bytes.len() >= total => packets.push(bytes.drain(..total).collect()),
            _ => return packets,
        }
    }
}
