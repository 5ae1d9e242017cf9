//! Times `check --file` in-process, one file at a time, without the
//! process start-up: reads paths from stdin (one a line), prints
//! `MICROSECONDS PATH` for each, warm (rules decoded on a first pass).
//! Used by scripts/debian-scripts.sh for the time per file.
use std::io::{self, BufRead, Write};
use std::time::Instant;

use safe_run::cmd::check::check_script;
use safe_run::policy::Policy;
use safe_run::rules::RuleSet;
use safe_run::term::paint::Style;

fn main() -> io::Result<()> {
    let rules = RuleSet::builtin();
    let paths: Vec<String> = io::stdin().lock().lines().collect::<Result<_, _>>()?;
    let texts: Vec<(String, String)> = paths
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            Some((p, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect();
    let mut sink = io::sink();
    let mut out = io::stdout().lock();
    for pass in 0..2 {
        for (path, text) in &texts {
            let start = Instant::now();
            check_script(
                &rules,
                &Policy::default(),
                path,
                text,
                true,
                Style::default(),
                &mut sink,
            )?;
            if pass == 1 {
                writeln!(out, "{} {path}", start.elapsed().as_micros())?;
            }
        }
    }
    Ok(())
}
