//! Whole-file scanning on several threads: the file is read in large blocks
//! of complete lines, each block is parsed on a worker thread, and what the
//! caller makes of the events (a [`Sink`]) is merged at the end.
//!
//! Memory is bounded by the number of blocks in flight, not the file size.
//! Results are the same as reading the file line by line with one
//! [`crate::EventReader`]: same events with the same line numbers and byte
//! offsets, same errors, same counters. For that, each block must start
//! with the parser state the previous block ended with. That state is only a
//! header (Zeek TSV `#fields`, tracked as the blocks are read) or a clock
//! that seldom changes (BIND syslog-style times); it is checked after every
//! block, and a file whose state changed unexpectedly is read again in order.
//! Formats that correlate lines (dnsmasq, Pi-hole, Unbound) are always read
//! in order.

use crate::error::{Error, ParseError};
use crate::event::Event;
use crate::format::Format;
use crate::parser::{ParseOptions, Parser};
use crate::stats::ParseStats;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// What the caller does with each event and error of a scan. One sink is made
/// per worker thread; they are merged at the end, in no particular order, so
/// [`Sink::merge`] must not depend on the order (keep "first" things by
/// their line number, sum counters).
pub trait Sink: Send {
    /// An event, with its origin (file, line, offset) set.
    fn event(&mut self, ev: &Event<'_>);
    /// A bad line, located.
    fn error(&mut self, err: ParseError);
    /// Called once when the sink will get no more events or errors, on the
    /// thread that fed it (a worker thread for most sinks), before it is
    /// merged: the place for per-sink work that can run in parallel, such
    /// as sorting. Does nothing by default.
    fn finish(&mut self) {}
    /// Adds another sink's results (from other lines of the same file) to these.
    fn merge(&mut self, other: Self)
    where
        Self: Sized;
}

/// How a scan reads and splits the work.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScanOptions {
    /// Worker threads; 1 parses on the calling thread. Default: the available parallelism.
    pub threads: usize,
    /// Bytes per block (lines are never split). Default 2 MiB.
    pub block_size: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            block_size: 2 << 20,
        }
    }
}

impl ScanOptions {
    /// Sets the number of worker threads (at least 1).
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }
    /// Sets the block size (at least 64 bytes).
    pub fn with_block_size(mut self, n: usize) -> Self {
        self.block_size = n.max(64);
        self
    }
}

/// The outcome of [`scan_log`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Scanned<S> {
    /// The merged sink.
    pub sink: S,
    /// Counters over the whole file.
    pub stats: ParseStats,
    /// The format the file was read as.
    pub format: Format,
    /// Whether the file was parsed in parallel (false: in order on one thread).
    pub parallel: bool,
}

/// Reads a whole log file (format detected unless given) and feeds every
/// event and error to a sink, using several threads when the format allows.
pub fn scan_log<S, N>(
    path: &Path,
    format: Option<Format>,
    opts: &ParseOptions,
    scan: &ScanOptions,
    new_sink: N,
) -> Result<Scanned<S>, Error>
where
    S: Sink,
    N: Fn() -> S + Sync,
{
    let (format, opts, name) = crate::parser::prepare(path, format, opts)?;
    let open = || {
        std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let parser = Parser::new(format, &opts).with_file(name.as_str());
    let block = scan.block_size.max(64);
    let done = |(sink, stats), parallel| Scanned {
        sink,
        stats,
        format,
        parallel,
    };
    if scan.threads > 1 && parser.parallel_safe() {
        if let Some(r) = parallel(open()?, parser.fork(), &opts, block, scan.threads, &new_sink) {
            return Ok(done(r, true));
        }
        // the state changed where it was not expected: read the file again, in order
    }
    Ok(done(sequential(open()?, parser, &opts, block, new_sink()), false))
}

/// Scans any reader in order on the calling thread, in blocks of
/// `block_size` bytes (the single-threaded path of [`scan_log`]).
pub fn scan_reader<R: Read, S: Sink>(
    src: R,
    parser: Parser,
    opts: &ParseOptions,
    block_size: usize,
    sink: S,
) -> (S, ParseStats) {
    sequential(src, parser, opts, block_size.max(64), sink)
}

fn sequential<R: Read, S: Sink>(
    src: R,
    mut parser: Parser,
    opts: &ParseOptions,
    block: usize,
    mut sink: S,
) -> (S, ParseStats) {
    let mut blocks = Blocks::new(src, block, opts.max_line_len);
    let mut buf = Vec::new();
    while let Some(piece) = blocks.next(&mut buf) {
        piece.process(&mut parser, &buf, opts.max_line_len, &mut sink);
    }
    sink.finish();
    (sink, parser.stats().clone())
}

/// A block of work.
struct Job {
    idx: u64,
    buf: Vec<u8>,
    len: usize,
    line0: u64,
    off0: u64,
    start: Arc<Parser>,
}

/// A finished block: its buffer back, and the parser it ended with.
struct Done {
    idx: u64,
    buf: Vec<u8>,
    start: Arc<Parser>,
    end: Parser,
}

enum Msg<S> {
    Block(Box<Done>),
    Sink(S),
}

/// What the reading thread keeps while the workers run.
struct Collect<S> {
    free: Vec<Vec<u8>>,
    check: Checker,
    stats: ParseStats,
    sinks: Vec<S>,
    in_flight: usize,
}

impl<S> Collect<S> {
    fn take(&mut self, m: Msg<S>) {
        match m {
            Msg::Block(d) => {
                self.stats.merge(d.end.stats());
                self.check.add(d.idx, d.start, d.end);
                self.free.push(d.buf);
                self.in_flight -= 1;
            }
            Msg::Sink(s) => self.sinks.push(s),
        }
    }
}

/// Parses blocks on `threads` workers. `None` when a block did not start with
/// the state its predecessor ended with (the results are then unusable).
fn parallel<R: Read, S: Sink, N: Fn() -> S + Sync>(
    src: R,
    mut tracker: Parser,
    opts: &ParseOptions,
    block: usize,
    threads: usize,
    new_sink: &N,
) -> Option<(S, ParseStats)> {
    let max_line = opts.max_line_len;
    let mut blocks = Blocks::new(src, block, max_line);
    let mut buf = Vec::new();
    // The first block in order, here: it holds the header, and its end state
    // is the starting state of every later block (checked).
    let mut own = new_sink();
    let Some(first) = blocks.next(&mut buf) else {
        own.finish();
        return Some((own, tracker.stats().clone()));
    };
    first.process(&mut tracker, &buf, max_line, &mut own);
    own.finish();
    let mut c = Collect {
        free: vec![buf],
        check: Checker::new(&tracker),
        stats: tracker.stats().clone(),
        sinks: vec![own],
        in_flight: 0,
    };
    let mut aside = tracker.fork(); // counts the over-long lines and I/O errors met here
    let mut snapshot = Arc::new(tracker.fork());
    let max_in_flight = threads * 2 + 1;
    let mut idx = 0u64;
    let (job_tx, job_rx) = sync_channel::<Job>(max_in_flight);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|s| {
        let (res_tx, res_rx) = channel::<Msg<S>>();
        for _ in 0..threads {
            let (job_rx, res_tx) = (&job_rx, res_tx.clone());
            s.spawn(move || worker(job_rx, &res_tx, new_sink(), max_line));
        }
        drop(res_tx);
        loop {
            let mut buf = match c.free.pop() {
                Some(b) => b,
                None if c.in_flight < max_in_flight => Vec::new(),
                None => match res_rx.recv() {
                    Ok(m) => {
                        c.take(m);
                        continue;
                    }
                    Err(_) => break,
                },
            };
            let Some(piece) = blocks.next(&mut buf) else { break };
            idx += 1;
            match piece {
                Piece::Lines { len, line0, off0 } => {
                    let start = Arc::clone(&snapshot);
                    if tracker.track_block(&buf[..len]) {
                        snapshot = Arc::new(tracker.fork());
                    }
                    let job = Job {
                        idx,
                        buf,
                        len,
                        line0,
                        off0,
                        start,
                    };
                    if job_tx.send(job).is_err() {
                        break;
                    }
                    c.in_flight += 1;
                }
                other => {
                    // no parser state involved: handled here, counted apart
                    let mut sink = new_sink();
                    other.process(&mut aside, &buf, max_line, &mut sink);
                    sink.finish();
                    c.sinks.push(sink);
                    c.check.skip(idx);
                    c.free.push(buf);
                }
            }
        }
        drop(job_tx);
        while let Ok(m) = res_rx.recv() {
            c.take(m);
        }
    });
    if !c.check.finish(idx) {
        return None;
    }
    c.stats.merge(aside.stats());
    let mut sinks = c.sinks.into_iter();
    let mut sink = sinks.next()?;
    for other in sinks {
        sink.merge(other);
    }
    Some((sink, c.stats))
}

fn worker<S: Sink>(jobs: &Mutex<Receiver<Job>>, results: &Sender<Msg<S>>, mut sink: S, max_line: usize) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => break,
        };
        let Ok(job) = job else { break };
        let mut p = job.start.fork();
        process_lines(&mut p, &job.buf[..job.len], job.line0, job.off0, max_line, &mut sink);
        let done = Done {
            idx: job.idx,
            buf: job.buf,
            start: job.start,
            end: p,
        };
        if results.send(Msg::Block(Box::new(done))).is_err() {
            return;
        }
    }
    sink.finish();
    let _ = results.send(Msg::Sink(sink));
}

/// Checks, block by block in file order, that each block started with the
/// state the one before it ended with.
struct Checker {
    next: u64,
    last_end: Parser,
    pending: BTreeMap<u64, Option<(Arc<Parser>, Parser)>>,
    ok: bool,
}

impl Checker {
    fn new(after_first: &Parser) -> Checker {
        Checker {
            next: 1,
            last_end: after_first.fork(),
            pending: BTreeMap::new(),
            ok: true,
        }
    }

    fn add(&mut self, idx: u64, start: Arc<Parser>, end: Parser) {
        self.pending.insert(idx, Some((start, end)));
        self.drain();
    }

    /// A piece that does not touch the state (an over-long line, an I/O error).
    fn skip(&mut self, idx: u64) {
        self.pending.insert(idx, None);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(entry) = self.pending.remove(&self.next) {
            if let Some((start, end)) = entry {
                if !start.same_state(&self.last_end) {
                    self.ok = false;
                }
                self.last_end = end;
            }
            self.next += 1;
        }
    }

    fn finish(&self, last: u64) -> bool {
        self.ok && self.pending.is_empty() && self.next == last + 1
    }
}

/// A piece of the input: a block of complete lines in the buffer, a line
/// longer than the limit (already skipped), or a read failure.
enum Piece {
    Lines { len: usize, line0: u64, off0: u64 },
    TooLong { len: u64, line_no: u64, offset: u64 },
    Io { err: io::Error, line_no: u64, offset: u64 },
}

impl Piece {
    fn process<S: Sink>(self, parser: &mut Parser, buf: &[u8], max_line: usize, sink: &mut S) {
        match self {
            Piece::Lines { len, line0, off0 } => process_lines(parser, &buf[..len], line0, off0, max_line, sink),
            Piece::TooLong { len, line_no, offset } => sink.error(parser.too_long(len, max_line, line_no, offset)),
            Piece::Io { err, line_no, offset } => sink.error(parser.io_error(&err, line_no, offset)),
        }
    }
}

/// Parses a block of complete lines; `line0` is the number of lines before it.
fn process_lines<S: Sink>(parser: &mut Parser, block: &[u8], line0: u64, off0: u64, max_line: usize, sink: &mut S) {
    // One UTF-8 check for the whole block; lines split at `\n` are then UTF-8 too.
    let text = std::str::from_utf8(block).ok();
    // one event for the whole block, filled in place line after line
    let mut ev = Event::new("", "", "");
    let mut line_no = line0;
    let mut off = off0;
    let mut start = 0usize;
    while start < block.len() {
        let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i + 1);
        line_no += 1;
        let len = end - start;
        let content = len - usize::from(block[end - 1] == b'\n');
        if content > max_line {
            sink.error(parser.too_long(len as u64, max_line, line_no, off));
        } else {
            let r = match text {
                Some(t) => parser.parse_str_into(&t[start..end], line_no, off, &mut ev),
                None => parser.parse_line_into(&block[start..end], line_no, off, &mut ev),
            };
            match r {
                Some(Ok(())) => sink.event(&ev),
                Some(Err(e)) => sink.error(e),
                None => {}
            }
        }
        off += len as u64;
        start = end;
    }
}

/// Newlines in a block (vectorises; faster than iterating matches).
fn count_lines(b: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut chunks = b.chunks_exact(128);
    for c in &mut chunks {
        n += u64::from(c.iter().fold(0u8, |acc, &x| acc + u8::from(x == b'\n')));
    }
    n + chunks.remainder().iter().filter(|&&x| x == b'\n').count() as u64
}

/// Cuts a reader into blocks of complete lines. A line that does not fit a
/// block and is longer than the limit is skipped here, its length counted.
struct Blocks<R> {
    src: R,
    block: usize,
    max_line: usize,
    carry: Vec<u8>,
    line_no: u64,
    offset: u64,
    eof: bool,
    done: bool,
    pending_io: Option<io::Error>,
}

impl<R: Read> Blocks<R> {
    fn new(src: R, block: usize, max_line: usize) -> Self {
        Blocks {
            src,
            block,
            max_line,
            carry: Vec::new(),
            line_no: 0,
            offset: 0,
            eof: false,
            done: false,
            pending_io: None,
        }
    }

    /// Reads into `buf[*n..]` until it is full or the input ends; the error, if any.
    fn fill(&mut self, buf: &mut [u8], n: &mut usize) -> Option<io::Error> {
        while *n < buf.len() && !self.eof {
            match self.src.read(&mut buf[*n..]) {
                Ok(0) => self.eof = true,
                Ok(k) => *n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(e),
            }
        }
        None
    }

    fn lines(&mut self, len: usize, buf: &[u8]) -> Piece {
        let piece = Piece::Lines {
            len,
            line0: self.line_no,
            off0: self.offset,
        };
        self.line_no += count_lines(&buf[..len]);
        if len > 0 && buf[len - 1] != b'\n' {
            self.line_no += 1; // the last line, without a newline
        }
        self.offset += len as u64;
        piece
    }

    /// Like [`crate::EventReader`]: the failure is counted on the next line; the reader ends.
    fn io_piece(&mut self, err: io::Error) -> Piece {
        self.done = true;
        Piece::Io {
            err,
            line_no: self.line_no + 1,
            offset: self.offset,
        }
    }

    /// The next piece; block data goes into `buf`.
    fn next(&mut self, buf: &mut Vec<u8>) -> Option<Piece> {
        if let Some(e) = self.pending_io.take() {
            return Some(self.io_piece(e));
        }
        if self.done {
            return None;
        }
        let mut n = self.carry.len();
        if buf.len() < self.block.max(n + 1) {
            buf.resize(self.block.max(n + 1), 0);
        }
        buf[..n].copy_from_slice(&self.carry);
        self.carry.clear();
        loop {
            if let Some(err) = self.fill(buf, &mut n) {
                // complete lines first, then the failure; a partial line is lost
                return Some(match memchr::memrchr(b'\n', &buf[..n]) {
                    Some(i) => {
                        self.pending_io = Some(err);
                        self.lines(i + 1, buf)
                    }
                    None => self.io_piece(err),
                });
            }
            if self.eof {
                self.done = true;
                return (n > 0).then(|| self.lines(n, buf));
            }
            if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
                self.carry.extend_from_slice(&buf[i + 1..n]);
                return Some(self.lines(i + 1, buf));
            }
            // a full buffer and no newline: one long line
            if n > self.max_line {
                return Some(self.skip_long_line(buf, n as u64));
            }
            let grown = (buf.len() * 2).min(self.max_line + 2).max(n + 1);
            buf.resize(grown, 0);
        }
    }

    /// Reads on to the end of an over-long line of which `len` bytes were read.
    fn skip_long_line(&mut self, buf: &mut [u8], mut len: u64) -> Piece {
        loop {
            let mut n = 0;
            if let Some(err) = self.fill(buf, &mut n) {
                return self.io_piece(err);
            }
            if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
                len += (i + 1) as u64;
                self.carry.extend_from_slice(&buf[i + 1..n]);
                break;
            }
            len += n as u64;
            if self.eof {
                break;
            }
        }
        self.line_no += 1;
        let piece = Piece::TooLong {
            len,
            line_no: self.line_no,
            offset: self.offset,
        };
        self.offset += len;
        piece
    }
}
