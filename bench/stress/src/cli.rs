//! The command line: how long to run, and whether this process is the
//! supervisor or the workload child it re-executes.

use std::time::Duration;

/// Shortest run: two CPU profile cycles of 5 s.
pub(crate) const MIN_SECONDS: u64 = 10;
/// Longest run: a day.
pub(crate) const MAX_SECONDS: u64 = 24 * 3600;

pub(crate) const USAGE: &str = "usage: rustprof-stress [--minutes N | --seconds N]   (default: --minutes 10)";

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Print the usage and exit 0.
    Help,
    /// Supervise a workload child for this long.
    Supervise(Duration),
    /// Be the workload child (internal: the supervisor passes `--child SECONDS`).
    Child(Duration),
}

/// Parses the arguments after the program name. The error is one line naming
/// the argument and the problem.
pub(crate) fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Mode, String> {
    let mut args = args.into_iter();
    let mut duration: Option<(String, Duration)> = None;
    let mut child = false;
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let per_unit = match flag.as_str() {
            "-h" | "--help" => return Ok(Mode::Help),
            "--minutes" => 60,
            "--seconds" => 1,
            "--child" => {
                child = true;
                1
            }
            _ => return Err(format!("unknown argument {a:?} ({USAGE})")),
        };
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        if let Some((prev, _)) = &duration {
            return Err(format!("{flag} given after {prev}: give one duration"));
        }
        let n: u64 = value.parse().map_err(|_| format!("{flag}: {value:?} is not a whole number"))?;
        let secs =
            n.checked_mul(per_unit).filter(|s| (MIN_SECONDS..=MAX_SECONDS).contains(s)).ok_or_else(|| {
                format!(
                    "{flag} {value}: the run must last from {MIN_SECONDS} seconds to {} hours",
                    MAX_SECONDS / 3600
                )
            })?;
        duration = Some((flag, Duration::from_secs(secs)));
    }
    let d = duration.map_or(Duration::from_secs(600), |(_, d)| d);
    Ok(if child { Mode::Child(d) } else { Mode::Supervise(d) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Mode, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn durations() {
        assert_eq!(p(&[]), Ok(Mode::Supervise(Duration::from_secs(600))));
        assert_eq!(p(&["--minutes", "2"]), Ok(Mode::Supervise(Duration::from_secs(120))));
        assert_eq!(p(&["--minutes=3"]), Ok(Mode::Supervise(Duration::from_secs(180))));
        assert_eq!(p(&["--seconds", "45"]), Ok(Mode::Supervise(Duration::from_secs(45))));
        assert_eq!(p(&["--child", "30"]), Ok(Mode::Child(Duration::from_secs(30))));
        assert_eq!(p(&["--help"]), Ok(Mode::Help));
    }

    #[test]
    fn bad_input_is_one_line_naming_it() {
        for (args, needle) in [
            (&["--minutes", "ten"][..], "\"ten\" is not a whole number"),
            (&["--minutes", "-1"][..], "\"-1\" is not a whole number"),
            (&["--minutes"][..], "--minutes needs a value"),
            (&["--seconds", "5"][..], "from 10 seconds"),
            (&["--minutes", "0"][..], "from 10 seconds"),
            (&["--minutes", "99999999999999999999"][..], "is not a whole number"),
            (&["--minutes", "307445734561825861"][..], "to 24 hours"),
            (&["--minutes", "2", "--seconds", "30"][..], "give one duration"),
            (&["--hours", "1"][..], "unknown argument \"--hours\""),
            (&["5"][..], "unknown argument \"5\""),
        ] {
            let e = p(args).expect_err(needle);
            assert!(e.contains(needle), "{args:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
