//! The streaming front door: [`Parser`] turns lines into events for one
//! format; [`EventReader`] feeds it from any `Read` with flat memory.

use crate::error::{ErrorKind, LineError, ParseError};
use crate::event::Event;
use crate::format::Format;
use crate::parse::bind::BindParser;
use crate::parse::dnsmasq::{DnsmasqParser, Flavor};
use crate::parse::unbound::UnboundParser;
use crate::parse::zeek::{ZeekJsonParser, ZeekLog, ZeekTsvParser};
use crate::parse::{adguard, blocky, squid, suricata, Ctx, Filled};
use crate::stats::ParseStats;
use std::io::{self, Read};
use std::sync::Arc;

/// Knobs for parsing. `Default` reads times without a zone as UTC and
/// assumes the current year for syslog-style times that omit it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Year for `Mmm dd HH:MM:SS` times (dnsmasq, Pi-hole, Unbound ascii).
    /// Default: the current UTC year. Rolls over when the log goes Dec → Jan.
    pub year: i32,
    /// Offset east of UTC, in seconds, for times written without a zone. Default 0.
    pub utc_offset_secs: i32,
    /// The Zeek stream when the file does not say (`#path` / `_path`). Default: inferred.
    pub zeek_log: Option<ZeekLog>,
    /// Longest line [`EventReader`] accepts; longer ones are skipped and
    /// reported as [`ErrorKind::LineTooLong`]. Default 1 MiB.
    pub max_line_len: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let year = crate::time::Timestamp::from_unix_secs(now).to_civil().year;
        ParseOptions {
            year,
            utc_offset_secs: 0,
            zeek_log: None,
            max_line_len: 1 << 20,
        }
    }
}

impl ParseOptions {
    /// Sets the assumed year.
    pub fn with_year(mut self, year: i32) -> Self {
        self.year = year;
        self
    }
    /// Sets the offset for zone-less times.
    pub fn with_utc_offset(mut self, secs: i32) -> Self {
        self.utc_offset_secs = secs;
        self
    }
    /// Sets the Zeek stream.
    pub fn with_zeek_log(mut self, log: ZeekLog) -> Self {
        self.zeek_log = Some(log);
        self
    }
    /// Takes the Zeek stream from a file name such as `dns.log` or `ssl.2026-11-22.json`.
    pub fn with_file_hint(mut self, file_name: &str) -> Self {
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let stem = base.split('.').next().unwrap_or("");
        let log = ZeekLog::from_path(stem);
        if log != ZeekLog::Other && self.zeek_log.is_none() {
            self.zeek_log = Some(log);
        }
        self
    }
    /// Sets the line-length limit.
    pub fn with_max_line_len(mut self, n: usize) -> Self {
        self.max_line_len = n.max(64);
        self
    }
}

#[derive(Debug, Clone)]
enum State {
    Bind(BindParser),
    Unbound(UnboundParser),
    Dnsmasq(Box<DnsmasqParser>),
    AdGuard,
    Blocky,
    ZeekTsv(ZeekTsvParser),
    ZeekJson(ZeekJsonParser),
    Suricata,
    SquidNative,
    SquidCombined,
    NotALog,
}

/// Parses one file's lines in one format, keeping the per-file state
/// (Zeek header, dnsmasq query correlation, year roll-over) and the counters.
#[derive(Debug, Clone)]
pub struct Parser {
    format: Format,
    ctx: Ctx,
    state: State,
    stats: ParseStats,
    file: Option<Arc<str>>,
}

impl Parser {
    /// A parser for `format`. Identity formats (leases, static map) are not
    /// logs: their lines are skipped here; read them with [`crate::identity`].
    pub fn new(format: Format, opts: &ParseOptions) -> Self {
        let ctx = Ctx {
            year: opts.year,
            utc_offset: opts.utc_offset_secs,
        };
        let state = match format {
            Format::BindQuery => State::Bind(BindParser::new(&ctx)),
            Format::Unbound => State::Unbound(UnboundParser::new(&ctx)),
            Format::Dnsmasq => State::Dnsmasq(Box::new(DnsmasqParser::new(&ctx, Flavor::Dnsmasq))),
            Format::Pihole => State::Dnsmasq(Box::new(DnsmasqParser::new(&ctx, Flavor::Pihole))),
            Format::AdGuard => State::AdGuard,
            Format::Blocky => State::Blocky,
            Format::ZeekTsv => State::ZeekTsv(ZeekTsvParser::new(opts.zeek_log)),
            Format::ZeekJson => State::ZeekJson(ZeekJsonParser::new(opts.zeek_log)),
            Format::SuricataEve => State::Suricata,
            Format::SquidNative => State::SquidNative,
            Format::SquidCombined => State::SquidCombined,
            Format::DnsmasqLeases | Format::DhcpdLeases | Format::StaticMap => State::NotALog,
        };
        Parser {
            format,
            ctx,
            state,
            stats: ParseStats::default(),
            file: None,
        }
    }

    /// Names the file, so every event's `event.original` points into it.
    pub fn with_file(mut self, path: impl Into<Arc<str>>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// The format this parser reads.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Counters so far.
    pub fn stats(&self) -> &ParseStats {
        &self.stats
    }

    /// Parses one line (without or with its trailing `\n` / `\r\n`).
    /// `None` means the line was skipped (blank, header, not an event).
    /// Errors are counted and returned; the parser stays usable.
    pub fn parse_line<'a>(
        &mut self,
        line: &'a [u8],
        line_no: u64,
        byte_offset: u64,
    ) -> Option<Result<Event<'a>, ParseError>> {
        let mut ev = Event::new("", "", "");
        self.parse_line_into(line, line_no, byte_offset, &mut ev)
            .map(|r| r.map(|()| ev))
    }

    /// [`Parser::parse_line`] into an event that is reused from line to line
    /// (no event is built or moved per line; the answers keep their allocation).
    /// On `Some(Ok(()))` `ev` is the line's event; otherwise its content is unspecified.
    pub(crate) fn parse_line_into<'a>(
        &mut self,
        line: &'a [u8],
        line_no: u64,
        byte_offset: u64,
        ev: &mut Event<'a>,
    ) -> Option<Result<(), ParseError>> {
        self.stats.lines += 1;
        self.stats.bytes += line.len() as u64;
        let line = trim_eol(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            self.stats.record_skip("blank");
            return None;
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                let err = LineError::new(
                    "line",
                    ErrorKind::Utf8,
                    format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
                )
                .at(self.format, line_no, byte_offset);
                self.stats.record_error(&err);
                return Some(Err(err));
            }
        };
        self.parse_text_into(text, line_no, byte_offset, ev)
    }

    /// [`Parser::parse_line_into`] for a line already known to be UTF-8 (a
    /// block checked as a whole).
    pub(crate) fn parse_str_into<'a>(
        &mut self,
        line: &'a str,
        line_no: u64,
        byte_offset: u64,
        ev: &mut Event<'a>,
    ) -> Option<Result<(), ParseError>> {
        self.stats.lines += 1;
        self.stats.bytes += line.len() as u64;
        let line = trim_eol_str(line);
        if line.bytes().all(|b| b.is_ascii_whitespace()) {
            self.stats.record_skip("blank");
            return None;
        }
        self.parse_text_into(line, line_no, byte_offset, ev)
    }

    fn parse_text_into<'a>(
        &mut self,
        text: &'a str,
        line_no: u64,
        byte_offset: u64,
        ev: &mut Event<'a>,
    ) -> Option<Result<(), ParseError>> {
        let ctx = self.ctx;
        let res = match &mut self.state {
            State::Bind(p) => p.parse_into(text, &ctx, ev),
            State::ZeekTsv(p) => p.parse_into(text, ev),
            State::Unbound(p) => p.parse(text, &ctx).map(|o| o.fill(ev)),
            State::Dnsmasq(p) => p.parse(text, &ctx).map(|o| o.fill(ev)),
            State::AdGuard => adguard::parse(text).map(|o| o.fill(ev)),
            State::Blocky => blocky::parse(text, &ctx).map(|o| o.fill(ev)),
            State::ZeekJson(p) => p.parse(text).map(|o| o.fill(ev)),
            State::Suricata => suricata::parse(text).map(|o| o.fill(ev)),
            State::SquidNative => squid::parse_native(text).map(|o| o.fill(ev)),
            State::SquidCombined => squid::parse_combined(text, &ctx).map(|o| o.fill(ev)),
            State::NotALog => Ok(Filled::Skip("identity_source")),
        };
        match res {
            Ok(Filled::Event) => {
                self.stats.events += 1;
                if ev.timestamp.is_none() && matches!(self.format, Format::ZeekTsv | Format::ZeekJson) {
                    self.stats.masked_timestamps += 1;
                }
                // an event reused from line to line keeps the file: no reference count per line
                let same_file = match (&ev.original.file, &self.file) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !same_file {
                    ev.original.file.clone_from(&self.file);
                }
                ev.original.line = line_no;
                ev.original.offset = byte_offset;
                Some(Ok(()))
            }
            Ok(Filled::Skip(why)) => {
                self.stats.record_skip(why);
                None
            }
            Err(e) => {
                let err = e.at(self.format, line_no, byte_offset);
                self.stats.record_error(&err);
                Some(Err(err))
            }
        }
    }

    /// Whether lines can be parsed out of order, in blocks on several
    /// threads: the state carried from line to line is only the file's
    /// header (Zeek TSV) or a clock that rarely changes (BIND syslog-style
    /// times). Formats that correlate lines (dnsmasq, Pi-hole, Unbound) are
    /// read in order.
    pub(crate) fn parallel_safe(&self) -> bool {
        matches!(
            self.state,
            State::Bind(_)
                | State::ZeekTsv(_)
                | State::ZeekJson(_)
                | State::AdGuard
                | State::Blocky
                | State::Suricata
                | State::SquidNative
                | State::SquidCombined
                | State::NotALog
        )
    }

    /// Whether two parsers of the same file carry the same line-to-line
    /// state (header, clock), i.e. would parse the next line the same way.
    pub(crate) fn same_state(&self, other: &Parser) -> bool {
        match (&self.state, &other.state) {
            (State::Bind(a), State::Bind(b)) => a == b,
            (State::ZeekTsv(a), State::ZeekTsv(b)) => a == b,
            (State::ZeekJson(a), State::ZeekJson(b)) => a == b,
            (State::AdGuard, State::AdGuard)
            | (State::Blocky, State::Blocky)
            | (State::Suricata, State::Suricata)
            | (State::SquidNative, State::SquidNative)
            | (State::SquidCombined, State::SquidCombined)
            | (State::NotALog, State::NotALog) => true,
            // dnsmasq and Unbound correlate lines: never assumed equal
            _ => false,
        }
    }

    /// A copy with the same state and zeroed counters, with its own copy of
    /// the file name (so threads do not share one reference count per event).
    pub(crate) fn fork(&self) -> Parser {
        Parser {
            format: self.format,
            ctx: self.ctx,
            state: self.state.clone(),
            stats: ParseStats::default(),
            file: self.file.as_deref().map(Arc::from),
        }
    }

    /// Applies the state-changing lines of a block (Zeek TSV `#` header
    /// lines) without parsing the rest, so the state at the block's end is
    /// known without parsing it.
    /// Returns whether it met such a line.
    pub(crate) fn track_block(&mut self, block: &[u8]) -> bool {
        let State::ZeekTsv(p) = &mut self.state else {
            return false;
        };
        let mut seen = false;
        let mut apply = |start: usize| {
            seen = true;
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            if let Ok(text) = std::str::from_utf8(trim_eol(&block[start..end])) {
                let _ = p.header(text);
            }
        };
        if block.first() == Some(&b'#') {
            apply(0);
        }
        for i in memchr::memmem::find_iter(block, b"\n#") {
            apply(i + 1);
        }
        seen
    }

    /// Counts and returns the error for a line longer than the limit.
    pub(crate) fn too_long(&mut self, len: u64, max_line: usize, line_no: u64, offset: u64) -> ParseError {
        let err = LineError::new("line", ErrorKind::LineTooLong, format!("{len} bytes, limit {max_line}")).at(
            self.format,
            line_no,
            offset,
        );
        self.stats.lines += 1;
        self.stats.bytes += len;
        self.stats.record_error(&err);
        err
    }

    /// Counts and returns an I/O failure at `line_no`.
    pub(crate) fn io_error(&mut self, e: &io::Error, line_no: u64, offset: u64) -> ParseError {
        let err = LineError::new("input", ErrorKind::Io, e.to_string()).at(self.format, line_no, offset);
        self.stats.record_error(&err);
        err
    }

    /// Parses a whole in-memory text, line by line (a convenience for tests
    /// and small inputs; use [`EventReader`] for files).
    pub fn parse_all<'a>(&mut self, text: &'a [u8]) -> Vec<Result<Event<'a>, ParseError>> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        for (i, line) in text.split_inclusive(|b| *b == b'\n').enumerate() {
            if let Some(r) = self.parse_line(line, i as u64 + 1, offset) {
                out.push(r);
            }
            offset += line.len() as u64;
        }
        out
    }
}

fn trim_eol_str(l: &str) -> &str {
    let l = l.strip_suffix('\n').unwrap_or(l);
    l.strip_suffix('\r').unwrap_or(l)
}

fn trim_eol(mut l: &[u8]) -> &[u8] {
    if let [rest @ .., b'\n'] = l {
        l = rest;
    }
    if let [rest @ .., b'\r'] = l {
        l = rest;
    }
    l
}

/// One step of an [`EventReader`]: an event borrowing the reader's buffer,
/// a counted error, or a skipped line.
#[derive(Debug)]
// Events are moved, not boxed: a Box would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
pub enum Step<'a> {
    /// A parsed event, valid until the next call.
    Event(Event<'a>),
    /// A bad line (or an I/O failure, after which the reader ends).
    Error(ParseError),
    /// A blank, header or non-event line.
    Skipped,
}

/// Reads lines from any `Read` into a reused buffer and parses them. Memory
/// is bounded by the longest accepted line, not the file.
///
/// Use [`EventReader::next_step`] / [`EventReader::for_each_event`] for zero-copy
/// events, or iterate for owned ones.
pub struct EventReader<R> {
    parser: Parser,
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    line_no: u64,
    offset: u64,
    eof: bool,
    max_line: usize,
}

impl<R: Read> EventReader<R> {
    /// Wraps `src` (no need for a `BufReader`: the reader buffers itself).
    pub fn new(src: R, parser: Parser, opts: &ParseOptions) -> Self {
        EventReader {
            parser,
            src,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            line_no: 0,
            offset: 0,
            eof: false,
            max_line: opts.max_line_len,
        }
    }

    /// The parser (and through it, the stats).
    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// Counters so far.
    pub fn stats(&self) -> &ParseStats {
        self.parser.stats()
    }

    /// Finds the next line; returns its range in `buf`, or an error step.
    fn next_line(&mut self) -> Option<Result<(usize, usize), ParseError>> {
        let mut discarding = false;
        let mut discarded = 0u64;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let s = self.start;
                let e = s + i + 1;
                self.start = e;
                if discarding || e - s > self.max_line + 1 {
                    return Some(Err(self.too_long(discarded + (e - s) as u64)));
                }
                return Some(Ok((s, e)));
            }
            if self.eof {
                if self.start < self.end {
                    let s = self.start;
                    self.start = self.end;
                    if discarding || self.end - s > self.max_line {
                        return Some(Err(self.too_long(discarded + (self.end - s) as u64)));
                    }
                    return Some(Ok((s, self.end)));
                }
                if discarding {
                    return Some(Err(self.too_long(discarded)));
                }
                return None;
            }
            // Need more bytes: compact, grow within the limit, or start discarding.
            let pending = self.end - self.start;
            if pending > self.max_line {
                discarding = true;
                discarded += pending as u64;
                self.start = 0;
                self.end = 0;
            } else if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.start = 0;
                self.end = pending;
            }
            if self.end == self.buf.len() {
                let new_len = (self.buf.len() * 2).min(self.max_line + 2).max(self.end + 1);
                self.buf.resize(new_len, 0);
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.start = self.end;
                    self.line_no += 1;
                    return Some(Err(self.parser.io_error(&e, self.line_no, self.offset)));
                }
            }
        }
    }

    fn too_long(&mut self, len: u64) -> ParseError {
        self.line_no += 1;
        let err = self.parser.too_long(len, self.max_line, self.line_no, self.offset);
        self.offset += len;
        err
    }

    /// Reads and parses one line. `None` at the end of input.
    pub fn next_step(&mut self) -> Option<Step<'_>> {
        let (s, e) = match self.next_line()? {
            Ok(r) => r,
            Err(err) => return Some(Step::Error(err)),
        };
        self.line_no += 1;
        let off = self.offset;
        self.offset += (e - s) as u64;
        Some(match self.parser.parse_line(&self.buf[s..e], self.line_no, off) {
            Some(Ok(ev)) => Step::Event(ev),
            Some(Err(err)) => Step::Error(err),
            None => Step::Skipped,
        })
    }

    /// Calls `f` with every event or error until the input ends; events
    /// borrow the buffer (zero-copy).
    pub fn for_each_event<F: FnMut(Result<Event<'_>, ParseError>)>(&mut self, mut f: F) {
        while let Some(step) = self.next_step() {
            match step {
                Step::Event(ev) => f(Ok(ev)),
                Step::Error(e) => f(Err(e)),
                Step::Skipped => {}
            }
        }
    }
}

impl<R: Read> Iterator for EventReader<R> {
    type Item = Result<Event<'static>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_step()? {
                Step::Event(ev) => return Some(Ok(ev.into_owned())),
                Step::Error(e) => return Some(Err(e)),
                Step::Skipped => {}
            }
        }
    }
}

/// Opens a file, detects its format from the first lines and name (unless
/// given), and returns a reader over it.
pub fn open_log(
    path: &std::path::Path,
    format: Option<Format>,
    opts: &ParseOptions,
) -> Result<EventReader<std::fs::File>, crate::Error> {
    let (format, opts, name) = prepare(path, format, opts)?;
    let file = std::fs::File::open(path).map_err(|source| crate::Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let parser = Parser::new(format, &opts).with_file(name);
    Ok(EventReader::new(file, parser, &opts))
}

/// The format of a file (detected from its first lines and name unless
/// given), the options with the file's Zeek stream hint, and its name.
pub(crate) fn prepare(
    path: &std::path::Path,
    format: Option<Format>,
    opts: &ParseOptions,
) -> Result<(Format, ParseOptions, String), crate::Error> {
    let io_err = |source| crate::Error::Io {
        path: path.display().to_string(),
        source,
    };
    let name = path.to_string_lossy().into_owned();
    let format = match format {
        Some(f) => f,
        None => {
            let mut head = vec![0u8; 16 * 1024];
            let mut f = std::fs::File::open(path).map_err(io_err)?;
            let mut n = 0;
            while n < head.len() {
                match f.read(&mut head[n..]).map_err(io_err)? {
                    0 => break,
                    k => n += k,
                }
            }
            let lines: Vec<&[u8]> = head[..n].split(|b| *b == b'\n').take(16).collect();
            crate::format::detect(&lines, Some(&name)).ok_or_else(|| {
                io_err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "could not detect the log format",
                ))
            })?
        }
    };
    let opts = opts.clone().with_file_hint(&name);
    Ok((format, opts, name))
}
