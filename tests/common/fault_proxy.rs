//! A fault-injecting HTTP proxy for the loopback S3 server: Tarn talks to the proxy (through
//! `AWS_ENDPOINT_URL`), the proxy forwards to the server and, as a flaky network or an overloaded
//! S3 would, answers some requests with `503 SlowDown`, resets connections, cuts responses short
//! or delays them.
//!
//! The proxy is plain threads and blocking sockets, one request per connection: it adds
//! `Connection: close` to every forwarded request (the header is not signed by SigV4), so each
//! connection carries exactly one request and faults are counted per request.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requests {
    /// Every request.
    All,
    /// Uploads only (`PUT`, and `POST` other than the bulk delete `POST ?delete`): the requests
    /// that write data, not the ones that clean it up.
    Uploads,
}

impl Requests {
    fn matches(self, request_line: &str) -> bool {
        let mut words = request_line.split(' ');
        let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
        match self {
            Requests::All => true,
            Requests::Uploads => method == "PUT" || (method == "POST" && !target.contains("?delete")),
        }
    }
}

/// The faults to inject; change them at any time with [`FaultProxy::set`].
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Added before each response is forwarded.
    pub latency: Duration,
    /// This many matching requests (after `pass_first` passed) get `503 SlowDown`.
    pub unavailable: usize,
    /// This many matching requests (after `pass_first` passed) have their connection reset
    /// (closed with the request unread, so the kernel sends RST) before any response byte.
    pub resets: usize,
    /// This many responses are cut after `cut_after_bytes` bytes (the connection closes mid-body).
    pub cut_responses: usize,
    pub cut_after_bytes: usize,
    /// Which requests `unavailable` and `resets` apply to.
    pub requests: Requests,
    /// This many matching requests pass untouched before `unavailable` and `resets` start.
    pub pass_first: usize,
}

impl Faults {
    /// No faults: a transparent proxy.
    pub fn none() -> Faults {
        Faults {
            latency: Duration::ZERO,
            unavailable: 0,
            resets: 0,
            cut_responses: 0,
            cut_after_bytes: 0,
            requests: Requests::All,
            pass_first: 0,
        }
    }
}

/// What the proxy did, for the test's figures and assertions.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub requests: AtomicUsize,
    pub unavailable: AtomicUsize,
    pub resets: AtomicUsize,
    pub cut: AtomicUsize,
    /// Server-side copies forwarded (`PUT` with `x-amz-copy-source`: the first half of a rename).
    pub copies: AtomicUsize,
    /// Matching requests seen (drives `pass_first`).
    matched: AtomicUsize,
}

/// A running proxy; its accept thread lives as long as the test process (a test starts few).
pub struct FaultProxy {
    endpoint: String,
    faults: Arc<Mutex<Faults>>,
    counts: Arc<FaultCounts>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy's loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let faults = Arc::new(Mutex::new(Faults::none()));
        let counts = Arc::new(FaultCounts::default());
        let (f, c) = (faults.clone(), counts.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (f, c, upstream) = (f.clone(), c.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &f, &c);
                });
            }
        });
        FaultProxy { endpoint, faults, counts }
    }

    /// The URL to give Tarn as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Replaces the faults (and restarts `pass_first` counting).
    pub fn set(&self, faults: Faults) {
        *self.faults.lock().expect("faults lock: no holder panics") = faults;
        self.counts.matched.store(0, Ordering::SeqCst);
    }

    pub fn counts(&self) -> &FaultCounts {
        &self.counts
    }
}

/// What to do with one request.
enum Decision {
    Forward { cut_after: Option<usize> },
    Unavailable,
    Reset,
}

/// Takes one unit from `budget` if it has any left.
fn take(budget: &mut usize) -> bool {
    if *budget > 0 {
        *budget -= 1;
        true
    } else {
        false
    }
}

fn decide(request_line: &str, faults: &Mutex<Faults>, counts: &FaultCounts) -> Decision {
    let mut f = faults.lock().expect("faults lock: no holder panics");
    if f.requests.matches(request_line) {
        let seen = counts.matched.fetch_add(1, Ordering::SeqCst);
        if seen >= f.pass_first {
            if take(&mut f.resets) {
                return Decision::Reset;
            }
            if take(&mut f.unavailable) {
                return Decision::Unavailable;
            }
        }
    }
    let cut_after = take(&mut f.cut_responses).then_some(f.cut_after_bytes);
    Decision::Forward { cut_after }
}

fn serve(mut client: TcpStream, upstream: &str, faults: &Mutex<Faults>, counts: &FaultCounts) -> std::io::Result<()> {
    // Read the request line first: a reset decided on it leaves the headers unread, and unread
    // bytes in the receive buffer make the close send RST instead of FIN.
    let mut head = Vec::new();
    read_until(&mut client, &mut head, b"\r\n")?;
    if head.is_empty() {
        return Ok(());
    }
    counts.requests.fetch_add(1, Ordering::SeqCst);
    let request_line = String::from_utf8_lossy(&head).trim_end().to_string();
    let latency = faults.lock().expect("faults lock: no holder panics").latency;
    let decision = decide(&request_line, faults, counts);
    if let Decision::Reset = decision {
        counts.resets.fetch_add(1, Ordering::SeqCst);
        drop(client);
        return Ok(());
    }
    read_until(&mut client, &mut head, b"\r\n\r\n")?;
    let text = String::from_utf8_lossy(&head).to_string();
    if text.to_ascii_lowercase().contains("\r\nx-amz-copy-source:") {
        counts.copies.fetch_add(1, Ordering::SeqCst);
    }
    match decision {
        Decision::Reset => Ok(()),
        Decision::Unavailable => {
            counts.unavailable.fetch_add(1, Ordering::SeqCst);
            skip_body(&mut client, &text)?;
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                        <Message>Please reduce your request rate.</Message></Error>";
            let response = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(response.as_bytes())?;
            client.shutdown(Shutdown::Write)
        }
        Decision::Forward { cut_after } => {
            let mut server = TcpStream::connect(upstream)?;
            let forwarded = text.trim_end_matches("\r\n").to_string() + "\r\nConnection: close\r\n\r\n";
            server.write_all(forwarded.as_bytes())?;
            let mut to_server = client.try_clone()?;
            let mut server_in = server.try_clone()?;
            // The body (if any) streams to the server while the response streams back.
            let upload = std::thread::spawn(move || {
                let _ = std::io::copy(&mut to_server, &mut server_in);
                let _ = server_in.shutdown(Shutdown::Write);
            });
            std::thread::sleep(latency);
            let mut sent = 0usize;
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = server.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                let n = match cut_after {
                    Some(limit) if sent + n >= limit => {
                        client.write_all(&buf[..limit - sent])?;
                        counts.cut.fetch_add(1, Ordering::SeqCst);
                        let _ = client.shutdown(Shutdown::Both);
                        let _ = server.shutdown(Shutdown::Both);
                        let _ = upload.join();
                        return Ok(());
                    }
                    _ => n,
                };
                client.write_all(&buf[..n])?;
                sent += n;
            }
            let _ = client.shutdown(Shutdown::Both);
            let _ = upload.join();
            Ok(())
        }
    }
}

/// Reads and drops a request body of `Content-Length` bytes, so that closing the connection after
/// a 503 is a clean FIN the client reads the answer before.
fn skip_body(client: &mut TcpStream, head: &str) -> std::io::Result<()> {
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<u64>().ok())?
        })
        .unwrap_or(0);
    std::io::copy(&mut Read::by_ref(client).take(length), &mut std::io::sink())?;
    Ok(())
}

/// Appends bytes from `stream` to `buf` one at a time until `buf` ends with `end` or the stream
/// ends (the request head is small; nothing after it is consumed).
fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, end: &[u8]) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    while !buf.ends_with(end) {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        buf.push(byte[0]);
    }
    Ok(())
}
