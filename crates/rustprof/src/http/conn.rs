//! One connection: reading the request before its deadline, answering, and
//! writing the body as it is produced (chunked for HTTP/1.1) within the write
//! deadline; and the answer to connections over the limit.

use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use super::handlers::{self, Body, Ctx, Response};
use super::limits::Counters;
use super::request::{self, BadRequest};

/// The server's per-connection limits.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) write_timeout: Duration,
}

/// Bytes buffered before they go to the connection.
const BUFFER: usize = 64 * 1024;

/// Serves one request on a connection, then closes it.
pub(crate) fn serve(mut stream: TcpStream, ctx: &Ctx, limits: &Limits) {
    let deadline = Instant::now() + limits.request_timeout;
    let _ = stream.set_nodelay(true);
    let c = &ctx.counters;
    let req = match request::read(&mut stream, deadline) {
        Ok(r) => r,
        Err(BadRequest::Closed) => return,
        Err(e) => {
            Counters::bump(if matches!(e, BadRequest::Timeout) { &c.timed_out } else { &c.bad });
            let r = handlers::error(e.status(), &e.to_string());
            let _ = write_response(&mut stream, r, false, true, Instant::now() + limits.write_timeout);
            linger(&stream);
            return;
        }
    };
    let head = req.method == "HEAD";
    let http11 = !req.http10;
    let fd = stream.as_raw_fd();
    let gone = move || client_gone(fd);
    let resp = handlers::handle(&req, ctx, &gone);
    drop(req);
    match resp.status {
        499 => {
            Counters::bump(&c.canceled);
            return;
        }
        503 => Counters::bump(&c.busy),
        _ => {}
    }
    let streamed = matches!(resp.body, Body::Stream(_));
    let written = write_response(&mut stream, resp, head, http11, Instant::now() + limits.write_timeout);
    if streamed {
        release_freed_memory();
    }
    match written {
        Ok(()) => Counters::bump(&c.served),
        Err(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => {
            Counters::bump(&c.timed_out)
        }
        Err(_) => Counters::bump(&c.canceled),
    }
    linger(&stream);
}

/// Gives the memory a profile took back to the system: glibc keeps what
/// threads freed in their arenas, and a profile is megabytes freed at once on
/// a short-lived thread. (A no-op for memory of other allocators.)
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free memory of glibc's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Ends the response cleanly: no more writes, and whatever the client still
/// sends is read (briefly), so that closing does not reset the connection.
fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 4096];
    let mut s = stream;
    for _ in 0..16 {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
}

/// Whether the client closed its side or reset the connection (a request in
/// progress then stops, as Go's handlers do when the request context ends).
fn client_gone(fd: i32) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: a peek of one byte into a local buffer, on a socket this
    // connection owns for as long as the closure that calls this lives.
    let n = unsafe { libc::recv(fd, b.as_mut_ptr().cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    if n == 0 {
        return true;
    }
    n < 0 && {
        let e = io::Error::last_os_error();
        !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
    }
}

/// A writer that gives every write at most the time left until `deadline`.
struct Deadline<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "response not taken in time"));
        }
        self.stream.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
        let mut s = self.stream;
        s.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// HTTP/1.1 chunked transfer coding.
struct Chunked<W: Write>(W);

impl<W: Write> Write for Chunked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        write!(self.0, "{:x}\r\n", buf.len())?;
        self.0.write_all(buf)?;
        self.0.write_all(b"\r\n")?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn write_response(
    stream: &mut TcpStream,
    r: Response,
    head: bool,
    http11: bool,
    deadline: Instant,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(BUFFER, Deadline { stream, deadline });
    write!(out, "HTTP/1.1 {} {}\r\n", r.status, handlers::reason(r.status))?;
    for (k, v) in &r.headers {
        write!(out, "{k}: {v}\r\n")?;
    }
    match r.body {
        Body::Bytes(b) => {
            write!(out, "Content-Length: {}\r\nConnection: close\r\n\r\n", b.len())?;
            if !head {
                out.write_all(&b)?;
            }
        }
        Body::Stream(_) if head => write!(out, "Connection: close\r\n\r\n")?,
        Body::Stream(w) if http11 => {
            write!(out, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
            {
                // Chunks of the buffer's size, not of each small write.
                let mut chunks = BufWriter::with_capacity(BUFFER, Chunked(&mut out));
                w(&mut chunks)?;
                chunks.flush()?;
            }
            out.write_all(b"0\r\n\r\n")?;
        }
        // HTTP/1.0: the body ends with the connection.
        Body::Stream(w) => {
            write!(out, "Connection: close\r\n\r\n")?;
            w(&mut out)?;
        }
    }
    out.flush()
}

/// Connections over the limit waiting to be closed cleanly.
const REJECT_QUEUE: usize = 1024;
/// How long a rejected connection is read from before it is closed.
const REJECT_LINGER: Duration = Duration::from_secs(2);

/// The thread that closes rejected connections once their clients have sent
/// their requests and gone (closing a socket with unread data sends a reset,
/// which the client sees instead of the 503).
pub(crate) struct Rejecter(SyncSender<TcpStream>);

impl Rejecter {
    pub(crate) fn start() -> Option<Rejecter> {
        let (tx, rx) = sync_channel(REJECT_QUEUE);
        crate::heap::spawn_own("rustprof-http-r", move || drain(rx)).ok()?;
        Some(Rejecter(tx))
    }
}

/// Answers a connection over the limit with a 503 at once (it fits in a fresh
/// socket's buffer), then leaves it to the rejecter to read and close.
pub(crate) fn reject(stream: TcpStream, rejecter: Option<&Rejecter>) {
    let r = handlers::error(503, "too many connections (Options::max_connections)").with("Retry-After", "1");
    let mut s = &stream;
    let _ = stream.set_nonblocking(true);
    let mut head = format!("HTTP/1.1 503 {}\r\n", handlers::reason(503));
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = match &r.body {
        Body::Bytes(b) => b.as_slice(),
        Body::Stream(_) => &[],
    };
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let _ = s.write_all(&bytes);
    let _ = stream.shutdown(Shutdown::Write);
    if let Some(rej) = rejecter {
        match rej.0.try_send(stream) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            // Too many at once: this one is closed now.
            Err(TrySendError::Full(_)) => {}
        }
    }
}

fn drain(rx: Receiver<TcpStream>) {
    let mut open: Vec<(TcpStream, Instant)> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // New connections: wait for one when there is nothing to do.
        if open.is_empty() {
            match rx.recv() {
                Ok(s) => open.push((s, Instant::now() + REJECT_LINGER)),
                Err(_) => return,
            }
        }
        while let Ok(s) = rx.try_recv() {
            open.push((s, Instant::now() + REJECT_LINGER));
        }
        let mut fds: Vec<libc::pollfd> = open
            .iter()
            .map(|(s, _)| libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20) };
        let now = Instant::now();
        let mut i = 0;
        open.retain(|(s, until)| {
            let ready = fds[i].revents != 0;
            i += 1;
            if now >= *until {
                return false;
            }
            if !ready {
                return true;
            }
            let mut s = s;
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
        });
    }
}
