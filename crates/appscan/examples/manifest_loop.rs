//! Calls `android::read_manifest` in a loop (profiling aid).
//!
//! Usage: `manifest_loop N FILE`
fn main() {
    let mut a = std::env::args().skip(1);
    let n: usize = a.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let path = a.next().unwrap_or_default();
    let limits = appscan::Limits::default();
    let t = std::time::Instant::now();
    for _ in 0..n {
        let m = appscan::android::read_manifest(path.as_ref(), &limits).expect("manifest");
        std::hint::black_box(m);
    }
    println!("{:?} per call", t.elapsed() / n as u32);
}
