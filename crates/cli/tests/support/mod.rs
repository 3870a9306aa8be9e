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
