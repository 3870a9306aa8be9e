//! Following a growing log file the way `tail -F` does, without losing lines
//! across rotation, truncation or a restart.
//!
//! A [`Tailer`] is polled: each [`Tailer::poll`] reads what was appended
//! since the last call and hands over complete lines with their line number
//! and byte offset. It notices:
//!
//! - **rotation by rename** (logrotate's default `create`, `named`'s
//!   `versions`): the path now names another file (device/inode changed).
//!   The old file is drained first — daemons keep writing to it until they
//!   reopen their log — until it has been quiet for the grace period, then
//!   the new file is read from its start. Lines stay in order.
//! - **truncation** (`copytruncate`): the file got shorter than what was
//!   read; reading restarts at offset 0.
//! - **a missing file**: nothing is read until it appears.
//!
//! [`Tailer::position`] is what to save; a tailer made with that position
//! resumes exactly there after a restart. If the file was rotated while
//! nothing was following it, the rotated file (same directory, a name
//! starting with the file's name, same inode: `query.log.1`) is found and
//! its rest read before the new file.
//!
//! Each file read gets a new [`TailLine::generation`], so the caller can
//! start a fresh parser (a Zeek header, dnsmasq's query correlation) when it
//! changes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Where reading stopped in one file: enough to resume after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub ino: u64,
    /// Bytes consumed (always at a line boundary).
    pub offset: u64,
    /// Lines consumed.
    pub line: u64,
}

/// Where to start in a file met for the first time (no saved position).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// Read the whole file (nothing is missed). The default.
    #[default]
    Beginning,
    /// Only what is appended from now on.
    End,
}

/// One complete line handed over by [`Tailer::poll`].
#[derive(Debug)]
pub struct TailLine<'a> {
    /// The line, without its `\n`.
    pub bytes: &'a [u8],
    /// 1-based line number in its file.
    pub line_no: u64,
    /// Byte offset of the line's start in its file.
    pub offset: u64,
    /// Which file (counts up on every rotation or truncation).
    pub generation: u64,
}

/// Counters of one tailer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TailStats {
    /// Lines handed over.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Rotations followed.
    pub rotations: u64,
    /// Truncations noticed.
    pub truncations: u64,
    /// Lines longer than the limit, cut and handed over in pieces.
    pub overlong: u64,
}

type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> FileId {
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> FileId {
    (0, 0)
}

struct Open {
    file: File,
    id: FileId,
    offset: u64,
    line: u64,
    partial: Vec<u8>,
    generation: u64,
}

/// Follows one path. See the module documentation.
pub struct Tailer {
    path: PathBuf,
    start: Start,
    saved: Option<Position>,
    current: Option<Open>,
    /// The path named another file when this was set: drain `current` until quiet, then switch.
    draining_since: Option<Instant>,
    grace: Duration,
    max_line: usize,
    next_generation: u64,
    /// The file was missing at the first look: when it appears, read it whole.
    appeared_later: bool,
    stats: TailStats,
    buf: Vec<u8>,
}

impl Tailer {
    /// Follows `path`, resuming at `saved` when it still names the same file.
    pub fn new(path: impl Into<PathBuf>, start: Start, saved: Option<Position>) -> Tailer {
        Tailer {
            path: path.into(),
            start,
            saved,
            current: None,
            draining_since: None,
            grace: Duration::from_secs(5),
            max_line: 1 << 20,
            next_generation: 0,
            appeared_later: false,
            stats: TailStats::default(),
            buf: vec![0; 64 * 1024],
        }
    }

    /// How long a rotated file is still read after its last new line (default 5 s).
    pub fn with_rotate_grace(mut self, grace: Duration) -> Tailer {
        self.grace = grace;
        self
    }

    /// Longest line kept whole (default 1 MiB); longer ones are handed over in pieces.
    pub fn with_max_line(mut self, n: usize) -> Tailer {
        self.max_line = n.max(1);
        self
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters so far.
    pub fn stats(&self) -> TailStats {
        self.stats
    }

    /// The position to save, once a file has been opened.
    pub fn position(&self) -> Option<Position> {
        match &self.current {
            Some(o) => Some(Position {
                dev: o.id.0,
                ino: o.id.1,
                offset: o.offset,
                line: o.line,
            }),
            None => self.saved,
        }
    }

    /// Reads what is new and calls `f` for every complete line. Returns the
    /// number of lines handed over. An error opening or reading the file is
    /// returned; the tailer stays usable and retries on the next call.
    pub fn poll(&mut self, f: &mut dyn FnMut(TailLine<'_>)) -> io::Result<usize> {
        let mut n = 0;
        // bounded: at most a drain, a switch and a read of the new file
        for _ in 0..4 {
            if self.current.is_none() && !self.open_first()? {
                return Ok(n);
            }
            let got = self.read_available(f)?;
            n += got;
            match self.check_path()? {
                PathState::Same => return Ok(n),
                PathState::Truncated => {
                    self.stats.truncations += 1;
                    self.restart_current()?;
                }
                PathState::Replaced => {
                    let now = Instant::now();
                    let since = match self.draining_since {
                        Some(s) if got == 0 => s,
                        _ => now,
                    };
                    self.draining_since = Some(since);
                    if now.duration_since(since) < self.grace {
                        return Ok(n);
                    }
                    // the old file is quiet: its last partial line is complete
                    n += self.finish_current(f);
                    self.stats.rotations += 1;
                    self.current = None;
                    self.draining_since = None;
                    self.saved = None;
                    self.open_path(0)?;
                }
                PathState::Missing => return Ok(n),
            }
        }
        Ok(n)
    }

    /// Opens the file for the first time, honouring the saved position.
    fn open_first(&mut self) -> io::Result<bool> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.appeared_later = true;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let id = file_id(&meta);
        match self.saved {
            Some(p) if (p.dev, p.ino) == id && p.offset <= meta.len() => {
                self.open_at(&self.path.clone(), id, p.offset, p.line)?;
            }
            Some(p) => {
                // rotated while nobody followed it: finish the old file first
                if let Some(old) = self.find_rotated((p.dev, p.ino)) {
                    let len = std::fs::metadata(&old)?.len();
                    if p.offset <= len {
                        self.open_at(&old, (p.dev, p.ino), p.offset, p.line)?;
                        self.draining_since = Some(Instant::now() - self.grace);
                        return Ok(true);
                    }
                }
                self.open_path(0)?;
            }
            None if self.start == Start::End && !self.appeared_later => self.open_path(meta.len())?,
            None => self.open_path(0)?,
        }
        Ok(true)
    }

    /// Opens whatever the path names now, at `at` (0, or its end).
    fn open_path(&mut self, at: u64) -> io::Result<()> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let at = at.min(meta.len());
        let line = if at == 0 { 0 } else { count_lines(&file, at)? };
        self.install(file, file_id(&meta), at, line)
    }

    fn open_at(&mut self, path: &Path, id: FileId, offset: u64, line: u64) -> io::Result<()> {
        let file = File::open(path)?;
        if file_id(&file.metadata()?) != id {
            // replaced between stat and open: read the new one from the start
            return self.open_path(0);
        }
        self.install(file, id, offset, line)
    }

    fn install(&mut self, mut file: File, id: FileId, offset: u64, line: u64) -> io::Result<()> {
        file.seek(SeekFrom::Start(offset))?;
        let generation = self.next_generation;
        self.next_generation += 1;
        self.current = Some(Open {
            file,
            id,
            offset,
            line,
            partial: Vec::new(),
            generation,
        });
        Ok(())
    }

    fn restart_current(&mut self) -> io::Result<()> {
        if let Some(o) = self.current.as_mut() {
            o.file.seek(SeekFrom::Start(0))?;
            o.offset = 0;
            o.line = 0;
            o.partial.clear();
            o.generation = self.next_generation;
            self.next_generation += 1;
        }
        Ok(())
    }

    fn find_rotated(&self, id: FileId) -> Option<PathBuf> {
        let name = self.path.file_name()?.to_str()?.to_string();
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut found = Vec::new();
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            let n = e.file_name();
            let Some(n) = n.to_str() else { continue };
            if n != name && n.starts_with(&name) {
                if let Ok(m) = e.metadata() {
                    if file_id(&m) == id {
                        found.push(e.path());
                    }
                }
            }
        }
        found.into_iter().next()
    }

    fn read_available(&mut self, f: &mut dyn FnMut(TailLine<'_>)) -> io::Result<usize> {
        let Some(o) = self.current.as_mut() else {
            return Ok(0);
        };
        let mut n = 0;
        loop {
            let got = match o.file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(g) => g,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.stats.bytes += got as u64;
            let mut chunk = &self.buf[..got];
            while let Some(nl) = memchr::memchr(b'\n', chunk) {
                if o.partial.is_empty() {
                    emit(o, &chunk[..nl], nl as u64 + 1, f);
                } else {
                    let mut line = std::mem::take(&mut o.partial);
                    line.extend_from_slice(&chunk[..nl]);
                    let consumed = line.len() as u64 + 1;
                    emit(o, &line, consumed, f);
                    line.clear();
                    o.partial = line;
                }
                n += 1;
                chunk = &chunk[nl + 1..];
            }
            o.partial.extend_from_slice(chunk);
            if o.partial.len() > self.max_line {
                self.stats.overlong += 1;
                let line = std::mem::take(&mut o.partial);
                emit(o, &line, line.len() as u64, f);
                n += 1;
            }
        }
        self.stats.lines += n as u64;
        Ok(n)
    }

    /// Hands over the last line of a file that will not grow any more.
    fn finish_current(&mut self, f: &mut dyn FnMut(TailLine<'_>)) -> usize {
        let Some(o) = self.current.as_mut() else {
            return 0;
        };
        if o.partial.is_empty() {
            return 0;
        }
        let line = std::mem::take(&mut o.partial);
        emit(o, &line, line.len() as u64, f);
        self.stats.lines += 1;
        1
    }

    fn check_path(&mut self) -> io::Result<PathState> {
        let Some(o) = self.current.as_ref() else {
            return Ok(PathState::Missing);
        };
        match std::fs::metadata(&self.path) {
            Ok(m) if file_id(&m) != o.id => Ok(PathState::Replaced),
            Ok(m) if m.len() < o.offset + o.partial.len() as u64 => Ok(PathState::Truncated),
            Ok(_) => Ok(PathState::Same),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(PathState::Missing),
            Err(e) => Err(e),
        }
    }
}

enum PathState {
    Same,
    Truncated,
    Replaced,
    Missing,
}

/// Hands one line over and advances the position past `consumed` bytes.
fn emit(o: &mut Open, line: &[u8], consumed: u64, f: &mut dyn FnMut(TailLine<'_>)) {
    o.line += 1;
    f(TailLine {
        bytes: line,
        line_no: o.line,
        offset: o.offset,
        generation: o.generation,
    });
    o.offset += consumed;
}

/// Newlines in the first `upto` bytes of `file` (the line number to go on from).
fn count_lines(file: &File, upto: u64) -> io::Result<u64> {
    let mut r = file.try_clone()?;
    r.seek(SeekFrom::Start(0))?;
    let mut left = upto;
    let mut buf = vec![0; 256 * 1024];
    let mut lines = 0u64;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = r.read(&mut buf[..want])?;
        if got == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
        left -= got as u64;
    }
    Ok(lines)
}

/// Saved positions of several followed files, by path.
pub type Positions = BTreeMap<String, Position>;

/// Reads a positions file written by [`save_positions`]; a missing file is empty.
pub fn load_positions(path: &Path) -> io::Result<Positions> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a positions file: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Positions::new()),
        Err(e) => Err(e),
    }
}

/// Writes positions atomically (a temporary file, synced, then renamed), so a
/// crash leaves the old or the new file, never half of one.
pub fn save_positions(path: &Path, positions: &Positions) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec_pretty(positions).map_err(io::Error::other)?;
    {
        let mut f = File::create(&tmp)?;
        io::Write::write_all(&mut f, &body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(t: &mut Tailer) -> Vec<(String, u64, u64, u64)> {
        let mut out = Vec::new();
        t.poll(&mut |l| {
            out.push((
                String::from_utf8_lossy(l.bytes).into_owned(),
                l.line_no,
                l.offset,
                l.generation,
            ))
        })
        .expect("poll");
        out
    }

    fn append(p: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .expect("open");
        f.write_all(s.as_bytes()).expect("write");
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("aw-tail-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    fn lines(v: &[(String, u64, u64, u64)]) -> Vec<&str> {
        v.iter().map(|x| x.0.as_str()).collect()
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let d = tmpdir("partial");
        let p = d.join("a.log");
        append(&p, "one\ntw");
        let mut t = Tailer::new(&p, Start::Beginning, None);
        assert_eq!(collect(&mut t), vec![("one".into(), 1, 0, 0)]);
        append(&p, "o\nthree\n");
        assert_eq!(
            collect(&mut t),
            vec![("two".into(), 2, 4, 0), ("three".into(), 3, 8, 0)]
        );
        assert_eq!(t.position().map(|p| (p.offset, p.line)), Some((14, 3)));
        assert!(collect(&mut t).is_empty());
    }

    #[test]
    fn start_at_end_skips_old_lines_but_counts_them() {
        let d = tmpdir("end");
        let p = d.join("a.log");
        append(&p, "old1\nold2\n");
        let mut t = Tailer::new(&p, Start::End, None);
        assert!(collect(&mut t).is_empty());
        append(&p, "new\n");
        assert_eq!(collect(&mut t), vec![("new".into(), 3, 10, 0)]);
    }

    #[test]
    fn missing_file_is_waited_for() {
        let d = tmpdir("missing");
        let p = d.join("later.log");
        let mut t = Tailer::new(&p, Start::End, None);
        assert!(collect(&mut t).is_empty());
        append(&p, "first\n");
        // a file created after the start is new: read whole even with start = end
        assert_eq!(lines(&collect(&mut t)), vec!["first"]);
        append(&p, "second\n");
        assert_eq!(lines(&collect(&mut t)), vec!["second"]);
    }

    #[test]
    fn rename_rotation_drains_the_old_file_then_reads_the_new_one() {
        let d = tmpdir("rotate");
        let p = d.join("q.log");
        append(&p, "a\n");
        let mut t = Tailer::new(&p, Start::Beginning, None).with_rotate_grace(Duration::ZERO);
        assert_eq!(lines(&collect(&mut t)), vec!["a"]);
        append(&p, "b\n");
        std::fs::rename(&p, d.join("q.log.1")).expect("rename");
        // the daemon still writes to the old file before it reopens
        append(&d.join("q.log.1"), "c\nd-no-newline");
        append(&p, "e\n");
        let got = collect(&mut t);
        assert_eq!(lines(&got), vec!["b", "c", "d-no-newline", "e"]);
        assert_eq!(got[3].1, 1, "the new file's lines are numbered from 1");
        assert_ne!(got[3].3, got[0].3, "a new generation for the new file");
        assert_eq!(t.stats().rotations, 1);
    }

    #[test]
    fn rotated_file_is_drained_until_quiet() {
        let d = tmpdir("grace");
        let p = d.join("q.log");
        append(&p, "a\n");
        let mut t = Tailer::new(&p, Start::Beginning, None).with_rotate_grace(Duration::from_secs(3600));
        collect(&mut t);
        std::fs::rename(&p, d.join("q.log.1")).expect("rename");
        append(&p, "new\n");
        append(&d.join("q.log.1"), "late\n");
        assert_eq!(
            lines(&collect(&mut t)),
            vec!["late"],
            "still on the old file within the grace period"
        );
    }

    #[test]
    fn truncation_restarts_at_zero() {
        let d = tmpdir("trunc");
        let p = d.join("t.log");
        append(&p, "aaaa\nbbbb\n");
        let mut t = Tailer::new(&p, Start::Beginning, None);
        assert_eq!(collect(&mut t).len(), 2);
        std::fs::File::create(&p).expect("truncate");
        append(&p, "c\n");
        let got = collect(&mut t);
        assert_eq!(lines(&got), vec!["c"]);
        assert_eq!((got[0].1, got[0].2), (1, 0));
        assert_eq!(t.stats().truncations, 1);
    }

    #[test]
    fn resumes_from_a_saved_position_and_finds_the_rotated_file() {
        let d = tmpdir("resume");
        let p = d.join("r.log");
        append(&p, "1\n2\n");
        let mut t = Tailer::new(&p, Start::Beginning, None);
        collect(&mut t);
        let pos = t.position().expect("pos");
        let mut saved = Positions::new();
        saved.insert(p.display().to_string(), pos);
        let store = d.join("positions.json");
        save_positions(&store, &saved).expect("save");
        drop(t);

        // same file grew while we were down
        append(&p, "3\n");
        let loaded = load_positions(&store).expect("load");
        let mut t = Tailer::new(&p, Start::Beginning, loaded.get(&p.display().to_string()).copied());
        let got = collect(&mut t);
        assert_eq!(lines(&got), vec!["3"]);
        assert_eq!(got[0].1, 3);
        let pos = t.position().expect("pos");
        drop(t);

        // it grew and was rotated while we were down
        append(&p, "4\n");
        std::fs::rename(&p, d.join("r.log.1")).expect("rename");
        append(&p, "5\n");
        let mut t = Tailer::new(&p, Start::Beginning, Some(pos)).with_rotate_grace(Duration::ZERO);
        assert_eq!(lines(&collect(&mut t)), vec!["4", "5"]);
    }

    #[test]
    fn overlong_lines_come_in_pieces() {
        let d = tmpdir("long");
        let p = d.join("l.log");
        append(&p, &"x".repeat(100));
        let mut t = Tailer::new(&p, Start::Beginning, None).with_max_line(10);
        let got = collect(&mut t);
        assert_eq!(got.len(), 1, "a line without end past the limit is handed over");
        assert_eq!(t.stats().overlong, 1);
        append(&p, "\nshort\n");
        let got = collect(&mut t);
        assert_eq!(lines(&got), vec!["", "short"]);
        assert_eq!(got[1].2, 101, "offsets stay exact");
    }

    #[test]
    fn a_damaged_positions_file_is_an_error_not_a_panic() {
        let d = tmpdir("badpos");
        let f = d.join("p.json");
        std::fs::write(&f, b"{not json").expect("write");
        let e = load_positions(&f).expect_err("damaged");
        assert!(e.to_string().contains("not a positions file"), "{e}");
    }
}
