//! Reading and printing `[freeze] windows`: the one setting of the file
//! that is a list of tables (`[[freeze.windows]]`, or inline tables), so it
//! gets a reader of its own beside the scalar readers of `config`.
//!
//! Every window is checked on its own and every problem is reported at its
//! `file:line:col`; the windows that read stay in force, and `config`
//! turns the setting's strictest reading on for the rest (a freeze at all
//! times, `freeze::FreezeSettings::unreadable`): a window the site meant
//! to declare never silently vanishes. The meaning of a window is
//! `freeze`'s.

use toml::de::DeValue;

use super::{Bad, Field, a_type, text_problem, toml_str};
use crate::freeze::{Moment, When, Window, parse_weekly};

const KEYS: &[&str] = &["name", "message", "weekly", "start", "end"];

impl Field<'_, '_> {
    /// The windows that read, and a problem for each part that does not.
    pub(super) fn freeze_windows(&self) -> (Vec<Window>, Vec<Bad>) {
        let Some(items) = self.value.get_ref().as_array() else {
            return (
                Vec::new(),
                vec![self.wrong("a list of tables ([[freeze.windows]])")],
            );
        };
        let mut windows = Vec::new();
        let mut bad = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = |span: std::ops::Range<usize>, message: String| Bad {
                span,
                message: format!("window {} of `{}`: {message}", i + 1, self.name),
            };
            let DeValue::Table(table) = item.get_ref() else {
                bad.push(at(
                    item.span(),
                    format!(
                        "must be a table with a name, not {}",
                        a_type(item.get_ref())
                    ),
                ));
                continue;
            };
            let mut name = None;
            let mut message = String::new();
            let mut weekly = None;
            let mut start = None;
            let mut end = None;
            let mut ok = true;
            for (key, value) in table {
                let key_name: &str = key.get_ref();
                let text = match value.get_ref() {
                    DeValue::String(s) => match text_problem(s) {
                        Some(problem) => {
                            bad.push(at(value.span(), format!("`{key_name}`: {problem}")));
                            ok = false;
                            continue;
                        }
                        None => s.to_string(),
                    },
                    DeValue::Datetime(d) if matches!(key_name, "start" | "end") => d.to_string(),
                    other => {
                        bad.push(at(
                            value.span(),
                            format!("`{key_name}` must be a string, not {}", a_type(other)),
                        ));
                        ok = false;
                        continue;
                    }
                };
                match key_name {
                    "name" if text.trim().is_empty() => {
                        bad.push(at(value.span(), "the name cannot be empty".into()));
                        ok = false;
                    }
                    "name" => name = Some(text),
                    "message" => message = text,
                    "weekly" => match parse_weekly(&text) {
                        Ok(when) => weekly = Some(when),
                        Err(e) => {
                            bad.push(at(value.span(), e));
                            ok = false;
                        }
                    },
                    "start" | "end" => match Moment::from_text(&text, key_name == "end") {
                        Ok(m) if key_name == "start" => start = Some(m),
                        Ok(m) => end = Some(m),
                        Err(e) => {
                            bad.push(at(value.span(), e));
                            ok = false;
                        }
                    },
                    other => {
                        bad.push(at(
                            key.span(),
                            format!(
                                "unknown key `{other}` (expected {})",
                                KEYS.iter()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                        ok = false;
                    }
                }
            }
            if !ok {
                continue;
            }
            let when = match (weekly, start, end) {
                (Some(w), None, None) => w,
                (None, Some(start), Some(end)) if Moment::never_between(&start, &end) => {
                    // A window that ends before it starts is never in force:
                    // a freeze the site meant to declare would silently not
                    // be, so it is refused like any unreadable window.
                    bad.push(at(
                        item.span(),
                        format!(
                            "it ends ({end}) before or when it starts ({start}): it would never be in force"
                        ),
                    ));
                    continue;
                }
                (None, Some(start), Some(end)) => When::Dated { start, end },
                (Some(_), _, _) => {
                    bad.push(at(
                        item.span(),
                        "give either `weekly` or `start` and `end`, not both".into(),
                    ));
                    continue;
                }
                _ => {
                    bad.push(at(
                        item.span(),
                        "say when: `weekly = \"Fri 16:00 - Mon 08:00\"`, or `start` and `end`"
                            .into(),
                    ));
                    continue;
                }
            };
            let Some(name) = name else {
                bad.push(at(item.span(), "a window needs a `name`".into()));
                continue;
            };
            windows.push(Window {
                name,
                message,
                when,
            });
        }
        (windows, bad)
    }
}

/// The windows as a TOML list of inline tables, for `safe-run config`.
pub(super) fn freeze_windows_toml(windows: &[Window]) -> String {
    let items: Vec<String> = windows
        .iter()
        .map(|w| {
            let when = match &w.when {
                When::Weekly { .. } => format!("weekly = {}", toml_str(&w.when.to_string())),
                When::Dated { start, end } => format!(
                    "start = {}, end = {}",
                    toml_str(&start.to_string()),
                    toml_str(&end.to_string())
                ),
            };
            format!(
                "{{ name = {}, {when}, message = {} }}",
                toml_str(&w.name),
                toml_str(&w.message)
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Loaded};
    use crate::freeze::When;
    use std::path::Path;

    #[test]
    fn windows_read_from_tables_and_print_back_the_same() {
        let text = r#"
[[freeze.windows]]
name = "weekend"
weekly = "Fri 16:00 - Mon 08:00"
message = "No changes over the weekend."

[[freeze.windows]]
name = "year-end"
start = 2026-12-24
end = 2026-12-26T18:00:00+01:00
"#;
        let config = Config::from_toml(text, "c.toml").expect("valid");
        let w = &config.freeze.windows;
        assert_eq!(w.len(), 2);
        assert!(matches!(w[0].when, When::Weekly { .. }));
        assert_eq!(w[1].name, "year-end");
        let printed = crate::config::render(&Loaded::from_toml(text, Path::new("c.toml")).unwrap());
        let line = printed
            .lines()
            .find(|l| l.starts_with("windows = "))
            .expect("windows printed");
        let again = format!("[freeze]\n{}\n", line.split("  #").next().unwrap());
        let reread = Config::from_toml(&again, "again.toml").expect("the printed form reads");
        assert_eq!(reread.freeze.windows, config.freeze.windows);
    }

    #[test]
    fn a_broken_window_is_reported_where_it_is_and_freezes_while_the_rest_stay() {
        let text = r#"
[[freeze.windows]]
name = "weekend"
weekly = "Fri 16:00 - Mon 08:00"

[[freeze.windows]]
name = "typo"
weekly = "Fry 16:00 - Mon 08:00"
"#;
        let (loaded, errors) = Loaded::read_toml(text, Path::new("c.toml"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = errors[0].to_string();
        assert!(e.contains("c.toml:8:10"), "{e}");
        assert!(e.contains("window 2"), "{e}");
        assert_eq!(loaded.config.freeze.windows.len(), 1);
        assert!(loaded.config.freeze.unreadable, "the strictest reading");
        assert!(
            loaded
                .strict_settings()
                .iter()
                .any(|s| s.starts_with("freeze.windows"))
        );
    }

    #[test]
    fn a_dated_window_that_ends_before_it_starts_is_refused_where_it_is() {
        let text = "[freeze]\nwindows = [\n  { name = \"late\", start = 2026-12-26, end = 2026-12-24 },\n]\n";
        let (loaded, errors) = Loaded::read_toml(text, Path::new("c.toml"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = errors[0].to_string();
        assert!(e.contains("c.toml:3:3") && e.contains("window 1"), "{e}");
        assert!(loaded.config.freeze.unreadable, "the strictest reading");
        // A window of one day (a date is the whole day as an end) reads.
        let one_day =
            "[freeze]\nwindows = [{ name = \"d\", start = 2026-12-24, end = 2026-12-24 }]";
        assert!(Config::from_toml(one_day, "c.toml").is_ok());
    }

    #[test]
    fn the_freeze_time_zone_reads_by_its_iana_name_or_freezes_where_it_is_wrong() {
        let c = Config::from_toml("[freeze]\ntimezone = \"UTC\"\n", "c.toml").expect("valid");
        assert_eq!(
            c.freeze.timezone.as_ref().and_then(|tz| tz.iana_name()),
            Some("UTC")
        );
        let (loaded, errors) = Loaded::read_toml(
            "[freeze]\ntimezone = \"Mars/Olympus\"\n",
            Path::new("c.toml"),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = errors[0].to_string();
        assert!(e.contains("c.toml:2:12") && e.contains("IANA"), "{e}");
        assert!(loaded.config.freeze.unreadable, "the strictest reading");
        assert_eq!(loaded.config.freeze.timezone, None);
    }

    #[test]
    fn a_window_needs_a_name_and_one_way_of_saying_when() {
        for (text, says) in [
            (
                "[freeze]\nwindows = [{ weekly = \"Fri 16:00 - Mon 08:00\" }]",
                "needs a `name`",
            ),
            ("[freeze]\nwindows = [{ name = \"x\" }]", "say when"),
            (
                "[freeze]\nwindows = [{ name = \"x\", start = 2026-12-24 }]",
                "say when",
            ),
            (
                "[freeze]\nwindows = [{ name = \"x\", weekly = \"Fri 16:00 - Mon 08:00\", start = 2026-12-24, end = 2026-12-25 }]",
                "not both",
            ),
            (
                "[freeze]\nwindows = [{ name = \"x\", when = \"now\" }]",
                "unknown key `when`",
            ),
            ("[freeze]\nwindows = \"weekend\"", "a list of tables"),
            (
                "[freeze]\nwindows = [{ name = \"x\", start = 2026-12-26, end = 2026-12-24 }]",
                "before or when it starts",
            ),
            (
                "[freeze]\nwindows = [{ name = \"x\", start = \"2026-12-24T18:00:00Z\", end = \"2026-12-24T18:00:00+00:00\" }]",
                "before or when it starts",
            ),
            (
                "[freeze]\nwindows = [{ name = \"x\", start = 2026-12-28, end = \"2026-12-24T18:00:00Z\" }]",
                "before or when it starts",
            ),
            ("[freeze]\nmin_risk = \"none\"", "every line"),
        ] {
            let e = Config::from_toml(text, "c.toml").expect_err(text);
            let all: String = e.iter().map(|e| e.to_string()).collect();
            assert!(all.contains(says), "{text}: {all}");
        }
    }
}
