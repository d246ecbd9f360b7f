//! `cargo bench --bench prep`: rows per second for a clean 1,000,000-row three-column file
//! (target ≥ 1,000,000 rows/s) and peak memory (VmHWM). Prints; asserts nothing about time.
//! `PREP_BENCH_ROWS=100000` makes a smaller file (for profiling under callgrind).

use std::io::Write as _;
use std::time::Instant;

use clap::Parser;
use stagehand::cli::{Cli, Command};
use stagehand::config::Config;
use stagehand::prep;

const DEFAULT_ROWS: usize = 1_000_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of this process (from /proc/self/stat, assuming 100 ticks/s), so
/// the figure can be read on a machine that other jobs keep busy.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn main() {
    let n_rows = std::env::var("PREP_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_ROWS);
    run(n_rows);
}

fn run(n_rows: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("clean.csv");
    // Streamed to disk so the generator does not inflate the peak-memory figure.
    let mut w = std::io::BufWriter::new(std::fs::File::create(&input).expect("create input"));
    for i in 0..n_rows {
        writeln!(w, "Contoso,Laptop 7,PF{i:08}").unwrap();
    }
    w.flush().expect("write input");
    drop(w);
    let size = std::fs::metadata(&input).expect("input").len();
    let rss_before = peak_rss_kib();

    let (t, c) = (Instant::now(), cpu_secs());
    let rows = prep::read_rows(std::slice::from_ref(&input), &prep::ReadOptions::default())
        .expect("open")
        .filter(Result::is_ok)
        .count();
    let read = t.elapsed();
    let read_cpu = cpu_secs().zip(c).map(|(a, b)| a - b);
    assert_eq!(rows, n_rows);

    let out = dir.path().join("out.csv");
    let argv = [
        "stagehand",
        "prep",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let Some(Command::Prep(args)) = Cli::parse_from(argv).command else {
        unreachable!("prep parses")
    };
    let (t, c) = (Instant::now(), cpu_secs());
    let outcome = prep::execute(&args, &Config::default(), false);
    let full = t.elapsed();
    let full_cpu = cpu_secs().zip(c).map(|(a, b)| a - b);
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.summary.rows_written as usize, n_rows);

    let per_sec = |d: std::time::Duration| n_rows as f64 / d.as_secs_f64();
    println!("input: {n_rows} rows, {:.1} MB", size as f64 / 1e6);
    let cpu = |c: Option<f64>| {
        c.map_or("n/a".to_string(), |c| {
            format!(
                "{c:.2} s CPU, {:.0} rows/CPU-s",
                n_rows as f64 / c.max(0.01)
            )
        })
    };
    println!(
        "read+validate only: {:.3} s wall, {:.0} rows/s; {}",
        read.as_secs_f64(),
        per_sec(read),
        cpu(read_cpu)
    );
    println!(
        "full prep (validate, dedupe, write {} files): {:.3} s wall, {:.0} rows/s; {}",
        outcome.summary.outputs.len(),
        full.as_secs_f64(),
        per_sec(full),
        cpu(full_cpu)
    );
    if let (Some(before), Some(peak)) = (rss_before, peak_rss_kib()) {
        println!(
            "peak RSS (VmHWM): {:.1} MB (before runs: {:.1} MB)",
            peak as f64 / 1024.0,
            before as f64 / 1024.0
        );
    }
}
