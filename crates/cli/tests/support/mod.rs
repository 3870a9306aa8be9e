//! Helpers shared by the CLI integration tests: run the real binary, read its
//! output, make a fresh temporary directory.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `appwarden ARGS…` to completion.
pub fn appwarden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_appwarden"))
        .args(args)
        .output()
        .expect("run appwarden")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An empty directory unique to this test process and `name`.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("appwarden-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// A BIND query-log line (`print-time`, category and severity) for `name` asked by `client`.
pub fn bind_query(n: u32, client: &str, name: &str) -> String {
    format!(
        "22-Nov-2026 02:54:{:02}.317 queries: info: client @0x7f01 {client}#5{n:04} ({name}): query: {name} IN A +E(0)K (192.0.2.53)\n",
        n % 60
    )
}

/// Appends `s` to the file `p` (created if missing), as a daemon writing its log.
pub fn append(p: &std::path::Path, s: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .expect("open");
    f.write_all(s.as_bytes()).expect("append");
}
