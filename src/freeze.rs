//! Change freezes: the windows a site declares (weekly, or dated) and the
//! file an on-call engineer drops to freeze a host now, and whether a
//! freeze is in force at a given time (docs/FREEZES.md).
//!
//! Pure: [`in_force`] is a function of the settings, what the freeze file
//! held (read at the edge, `controls`) and the time, passed in as a
//! `jiff::Zoned` — a weekly window is read in that value's time zone, so
//! tests pass a fixed clock and the session passes the host's local time.
//! What a freeze *does* to a line (refuse it unless break-glass is given)
//! is `gate`'s; reading these settings from the configuration file is
//! `config`'s, which calls [`parse_weekly`] and [`Moment::from_text`].
//!
//! Shaped to fail closed: a window the configuration cannot read does not
//! disappear, it becomes a freeze in force at all times (`unreadable`),
//! and a freeze file that exists but cannot be read freezes the host with
//! a message saying so. Neither locks anyone out: safe lines still run,
//! and break-glass still works.

use std::fmt;
use std::path::PathBuf;

use jiff::Zoned;
use jiff::civil::{self, Weekday};
use jiff::tz::TimeZone;

use crate::verdict::Risk;

/// Where the on-call engineer's freeze file is looked for by default.
pub const DEFAULT_FILE: &str = "/etc/safe-run/freeze";
/// The most of a freeze file that is read (its text is the message).
pub const FILE_MAX: usize = 4096;
/// What an operator types (or passes as `--break-glass`) to run a risky
/// line during a freeze.
pub const BREAK_GLASS: &str = "break-glass";

/// A time of the week: a day, an hour and a minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeekTime {
    pub day: Weekday,
    pub hour: i8,
    pub minute: i8,
}

impl WeekTime {
    /// Minutes since Monday 00:00.
    fn minutes(self) -> i32 {
        i32::from(self.day.to_monday_zero_offset()) * 1440
            + i32::from(self.hour) * 60
            + i32::from(self.minute)
    }
}

impl fmt::Display for WeekTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}",
            DAYS[self.day.to_monday_zero_offset() as usize],
            self.hour,
            self.minute
        )
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One end of a dated window: an instant (written with an offset), or a
/// local date and time read in the host's time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Moment {
    At(jiff::Timestamp),
    Local(civil::DateTime),
}

impl Moment {
    /// Reads `2026-12-24T18:00:00+01:00`, `2026-12-24T18:00:00` (local),
    /// `2026-12-24 18:00` (local) or `2026-12-24` (local; as an `end`, the
    /// end of that day, so a window of dates includes its last date).
    pub fn from_text(text: &str, is_end: bool) -> Result<Moment, String> {
        let text = text.trim();
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Ok(Moment::At(ts));
        }
        let has_time = text.contains(['T', 't', ' ']);
        if let (false, Ok(date)) = (has_time, text.parse::<civil::Date>()) {
            let start = date.to_datetime(civil::Time::midnight());
            return if is_end {
                start
                    .checked_add(jiff::Span::new().days(1))
                    .map(Moment::Local)
                    .map_err(|e| format!("`{text}`: {e}"))
            } else {
                Ok(Moment::Local(start))
            };
        }
        if let Ok(dt) = text.parse::<civil::DateTime>() {
            return Ok(Moment::Local(dt));
        }
        Err(format!(
            "`{text}` is not a date or time: write 2026-12-24, 2026-12-24T18:00:00 (local time) or 2026-12-24T18:00:00+01:00"
        ))
    }

    /// Whether a window from `start` to `end` can never be in force: it
    /// ends before or when it starts. A local time and an instant are
    /// compared as if the local time were UTC, give or take a day (no
    /// time zone is further from UTC), so only a window that is empty
    /// in every time zone is called so. Pure.
    pub fn never_between(start: &Moment, end: &Moment) -> bool {
        use jiff::tz::TimeZone;
        let as_utc = |m: &Moment| match m {
            Moment::At(ts) => Some(*ts),
            Moment::Local(dt) => dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp()),
        };
        match (start, end) {
            (Moment::At(s), Moment::At(e)) => s >= e,
            (Moment::Local(s), Moment::Local(e)) => s >= e,
            _ => match (as_utc(start), as_utc(end)) {
                (Some(s), Some(e)) => s.as_second() >= e.as_second().saturating_add(26 * 3600),
                _ => false,
            },
        }
    }

    /// Whether `now` is at or after this moment.
    fn reached(&self, now: &Zoned) -> bool {
        match self {
            Moment::At(ts) => now.timestamp() >= *ts,
            Moment::Local(dt) => now.datetime() >= *dt,
        }
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Moment::At(ts) => write!(f, "{ts}"),
            Moment::Local(dt) => write!(f, "{}", dt.strftime("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

/// When a window is in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    /// Every week from `start` to `end` (which may be in the next week:
    /// `Fri 16:00 - Mon 08:00`).
    Weekly { start: WeekTime, end: WeekTime },
    /// Once, from `start` to `end`.
    Dated { start: Moment, end: Moment },
}

impl When {
    fn contains(&self, now: &Zoned) -> bool {
        match self {
            When::Weekly { start, end } => {
                let t = WeekTime {
                    day: now.weekday(),
                    hour: now.hour(),
                    minute: now.minute(),
                }
                .minutes();
                let (s, e) = (start.minutes(), end.minutes());
                if s < e {
                    s <= t && t < e
                } else {
                    t >= s || t < e
                }
            }
            When::Dated { start, end } => start.reached(now) && !end.reached(now),
        }
    }

    /// When the window ends, for the operator.
    fn until(&self) -> String {
        match self {
            When::Weekly { end, .. } => end.to_string(),
            When::Dated { end, .. } => end.to_string(),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Weekly { start, end } => write!(f, "{start} - {end}"),
            When::Dated { start, end } => write!(f, "{start} to {end}"),
        }
    }
}

/// A freeze window of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub name: String,
    pub message: String,
    pub when: When,
}

/// `[freeze]`: the windows, the freeze file, what a freeze holds back and
/// what break-glass asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreezeSettings {
    pub windows: Vec<Window>,
    /// The file whose presence freezes the host.
    pub file: PathBuf,
    /// Lines of at least this risk are held back during a freeze.
    pub min_risk: Risk,
    /// Fewest characters of a break-glass reason.
    pub break_glass_reason_min: usize,
    /// `[freeze] timezone`: the zone weekly windows and local dates are
    /// read in; `None`: the system's (`/etc/localtime`), else UTC. Never
    /// `$TZ`, which the person held back by a window may set.
    pub timezone: Option<TimeZone>,
    /// A window or the time zone of the configuration could not be read:
    /// a freeze is in force at all times until it is fixed (the strictest
    /// reading).
    pub unreadable: bool,
}

impl Default for FreezeSettings {
    fn default() -> Self {
        FreezeSettings {
            windows: Vec::new(),
            file: PathBuf::from(DEFAULT_FILE),
            min_risk: Risk::Medium,
            break_glass_reason_min: 40,
            timezone: None,
            unreadable: false,
        }
    }
}

/// What the freeze file held, as the edge read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FreezeFile {
    Absent,
    /// Its text (at most [`FILE_MAX`] bytes of it).
    Present(String),
    /// It exists but cannot be read; why.
    Unreadable(String),
}

/// The freeze in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Freeze {
    /// The window's name, or `freeze file` for the on-call's file.
    pub name: String,
    pub message: String,
    /// When it ends, in words; `None` for the freeze file (until removed).
    pub until: Option<String>,
}

impl Freeze {
    /// `NAME (until …): MESSAGE`, one line, for banners and refusals.
    pub fn describe(&self) -> String {
        let until = match &self.until {
            Some(u) => format!(" (until {u})"),
            None => String::new(),
        };
        let message = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if message.is_empty() {
            format!("{}{until}", self.name)
        } else {
            format!("{}{until}: {message}", self.name)
        }
    }
}

/// The freeze in force at `now`, if any: the freeze file first (an
/// on-call's freeze says the most about now), then a window the
/// configuration could not read, then the first window that holds `now`.
pub fn in_force(settings: &FreezeSettings, file: &FreezeFile, now: &Zoned) -> Option<Freeze> {
    match file {
        FreezeFile::Present(text) => {
            return Some(Freeze {
                name: format!("freeze file {}", settings.file.display()),
                message: if text.trim().is_empty() {
                    "this host is frozen by its freeze file".to_string()
                } else {
                    text.trim().to_string()
                },
                until: None,
            });
        }
        FreezeFile::Unreadable(why) => {
            return Some(Freeze {
                name: format!("freeze file {}", settings.file.display()),
                message: format!(
                    "the freeze file exists but cannot be read ({why}): treated as a freeze"
                ),
                until: None,
            });
        }
        FreezeFile::Absent => {}
    }
    if settings.unreadable {
        return Some(Freeze {
            name: "unreadable freeze window".to_string(),
            message: "a [freeze] window or the [freeze] time zone of the configuration cannot be read, so a freeze is in force until it is fixed (see `safe-run config`)".to_string(),
            until: None,
        });
    }
    settings
        .windows
        .iter()
        .find(|w| w.when.contains(now))
        .map(|w| Freeze {
            name: w.name.clone(),
            message: w.message.clone(),
            until: Some(w.when.until()),
        })
}

/// The time zone the windows are judged in: `configured` (`[freeze]
/// timezone`), else the system's zone from the bytes of `/etc/localtime`
/// (TZif), else UTC. The environment's `TZ` is not an input: sudo keeps
/// it, and anyone may set it to a zone where the weekend is over. Pure.
pub fn zone(configured: Option<&TimeZone>, localtime: Option<&[u8]>) -> TimeZone {
    if let Some(tz) = configured {
        return tz.clone();
    }
    localtime
        .and_then(|bytes| TimeZone::tzif("localtime", bytes).ok())
        .unwrap_or(TimeZone::UTC)
}

/// Whether a line of this risk is held back by a freeze.
pub fn holds(settings: &FreezeSettings, risk: Risk) -> bool {
    risk != Risk::None && risk >= settings.min_risk
}

/// Reads a weekly window: `Fri 16:00 - Mon 08:00` (days by their first
/// three letters or in full, any case; `-`, `–` or `to` between).
pub fn parse_weekly(text: &str) -> Result<When, String> {
    let normal = text.replace(['–', '—'], "-");
    let (a, b) = normal
        .split_once(" to ")
        .or_else(|| normal.split_once('-'))
        .ok_or_else(|| {
            format!("`{text}` is not a weekly window: write it as `Fri 16:00 - Mon 08:00`")
        })?;
    let start = week_time(a)?;
    let end = week_time(b)?;
    if start == end {
        return Err(format!(
            "`{text}` starts and ends at the same time: a freeze that never ends is the freeze file's job"
        ));
    }
    Ok(When::Weekly { start, end })
}

fn week_time(text: &str) -> Result<WeekTime, String> {
    let text = text.trim();
    let (day, time) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("`{text}` is not a day and a time such as `Fri 16:00`"))?;
    let day_lower = day.to_ascii_lowercase();
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let index = FULL
        .iter()
        .position(|full| day_lower.len() >= 3 && full.starts_with(&day_lower))
        .ok_or_else(|| format!("`{day}` is not a day of the week (Mon, Tue, … Sun)"))?;
    let (h, m) = time
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("`{time}` is not a time such as 16:00"))?;
    let hour: i8 = h
        .parse()
        .ok()
        .filter(|h| (0..24).contains(h))
        .ok_or_else(|| format!("`{time}`: the hour must be 0 to 23"))?;
    let minute: i8 = m
        .parse()
        .ok()
        .filter(|m| (0..60).contains(m))
        .ok_or_else(|| format!("`{time}`: the minutes must be 0 to 59"))?;
    let day = Weekday::from_monday_zero_offset(index as i8).map_err(|e| e.to_string())?;
    Ok(WeekTime { day, hour, minute })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed clock: `2026-11-20T17:30` (a Friday) in UTC.
    fn at(text: &str) -> Zoned {
        format!("{text}[UTC]").parse().expect("a fixed time")
    }

    fn weekly(name: &str, spec: &str) -> Window {
        Window {
            name: name.into(),
            message: format!("{name} message"),
            when: parse_weekly(spec).expect("a weekly window"),
        }
    }

    fn settings(windows: Vec<Window>) -> FreezeSettings {
        FreezeSettings {
            windows,
            ..FreezeSettings::default()
        }
    }

    #[test]
    fn a_weekend_window_holds_from_friday_evening_to_monday_morning() {
        let s = settings(vec![weekly("weekend", "Fri 16:00 - Mon 08:00")]);
        let none = FreezeFile::Absent;
        // 2026-11-20 is a Friday.
        for inside in [
            "2026-11-20T16:00:00",
            "2026-11-20T23:59:00",
            "2026-11-22T12:00:00",
            "2026-11-23T07:59:00",
        ] {
            let f = in_force(&s, &none, &at(inside)).unwrap_or_else(|| panic!("{inside}"));
            assert_eq!(f.name, "weekend");
            assert_eq!(f.until.as_deref(), Some("Mon 08:00"));
        }
        for outside in [
            "2026-11-20T15:59:00",
            "2026-11-23T08:00:00",
            "2026-11-25T12:00:00",
        ] {
            assert_eq!(in_force(&s, &none, &at(outside)), None, "{outside}");
        }
    }

    #[test]
    fn a_window_inside_one_week_and_the_clocks_time_zone() {
        let s = settings(vec![weekly("tuesday", "tuesday 09:30 to tue 10:00")]);
        let none = FreezeFile::Absent;
        assert!(in_force(&s, &none, &at("2026-11-24T09:45:00")).is_some());
        assert!(in_force(&s, &none, &at("2026-11-24T10:00:00")).is_none());
        // 08:45 UTC is 09:45 in Paris (UTC+1 in November): the window is
        // read in the clock's own zone.
        let paris: Zoned = "2026-11-24T09:45:00+01:00[Europe/Paris]".parse().unwrap();
        assert!(in_force(&s, &none, &paris).is_some());
    }

    #[test]
    fn a_dated_window_holds_between_its_ends_and_a_date_end_includes_that_day() {
        let holiday = Window {
            name: "year-end".into(),
            message: "No changes over the holidays.".into(),
            when: When::Dated {
                start: Moment::from_text("2026-12-24", false).unwrap(),
                end: Moment::from_text("2026-12-26", true).unwrap(),
            },
        };
        let launch = Window {
            name: "launch".into(),
            message: String::new(),
            when: When::Dated {
                start: Moment::from_text("2026-11-21T10:00:00Z", false).unwrap(),
                end: Moment::from_text("2026-11-21T12:00:00+00:00", true).unwrap(),
            },
        };
        let s = settings(vec![holiday, launch]);
        let none = FreezeFile::Absent;
        assert_eq!(in_force(&s, &none, &at("2026-12-23T23:59:59")), None);
        for inside in ["2026-12-24T00:00:00", "2026-12-26T23:59:00"] {
            let f = in_force(&s, &none, &at(inside)).expect(inside);
            assert_eq!(f.name, "year-end");
            assert!(f.describe().contains("No changes"), "{}", f.describe());
        }
        assert_eq!(in_force(&s, &none, &at("2026-12-27T00:00:00")), None);
        assert_eq!(
            in_force(&s, &none, &at("2026-11-21T11:00:00")).map(|f| f.name),
            Some("launch".into())
        );
        assert_eq!(in_force(&s, &none, &at("2026-11-21T12:00:00")), None);
    }

    #[test]
    fn the_freeze_file_freezes_now_with_its_text_as_the_message() {
        let s = settings(Vec::new());
        let now = at("2026-11-25T12:00:00");
        assert_eq!(in_force(&s, &FreezeFile::Absent, &now), None);
        let f = in_force(
            &s,
            &FreezeFile::Present("INC-7 storage degraded, ask #oncall\n".into()),
            &now,
        )
        .expect("frozen by the file");
        assert!(f.name.contains("freeze file"));
        assert_eq!(f.message, "INC-7 storage degraded, ask #oncall");
        assert_eq!(f.until, None);
        let f = in_force(
            &s,
            &FreezeFile::Unreadable("permission denied".into()),
            &now,
        )
        .expect("an unreadable file freezes too");
        assert!(f.message.contains("permission denied"));
    }

    #[test]
    fn the_zone_is_the_configured_one_else_the_systems_else_utc_never_tz() {
        let paris = TimeZone::get("Europe/Paris").ok();
        let tokyo = TimeZone::fixed(jiff::tz::offset(9));
        // The TZif bytes /etc/localtime would hold on a host set to Paris.
        let paris_bytes = std::fs::read("/usr/share/zoneinfo/Europe/Paris").ok();
        assert_eq!(zone(Some(&tokyo), paris_bytes.as_deref()), tokyo);
        if let (Some(bytes), Some(paris)) = (&paris_bytes, &paris) {
            let chosen = zone(None, Some(bytes));
            let now = jiff::Timestamp::from_second(1_790_000_000).unwrap();
            assert_eq!(
                chosen.to_offset(now),
                paris.to_offset(now),
                "the system's zone"
            );
        }
        // No configured zone and no readable /etc/localtime: UTC, whatever
        // this process's TZ says (TZ is not an input at all).
        assert_eq!(zone(None, None), TimeZone::UTC);
        assert_eq!(zone(None, Some(b"not a tzif file")), TimeZone::UTC);
        // A weekend window judged in the configured zone: Monday 07:30 in
        // Tokyo is Sunday 22:30 UTC — still frozen, though a TZ of UTC
        // would not make it Monday morning anywhere else.
        let s = settings(vec![weekly("weekend", "Fri 16:00 - Mon 08:00")]);
        let at_utc: jiff::Timestamp = "2026-11-22T22:30:00Z".parse().unwrap();
        let tokyo_now = at_utc.to_zoned(zone(Some(&tokyo), None));
        assert!(in_force(&s, &FreezeFile::Absent, &tokyo_now).is_some());
        let monday_late: jiff::Timestamp = "2026-11-23T00:30:00Z".parse().unwrap();
        assert!(
            in_force(
                &s,
                &FreezeFile::Absent,
                &monday_late.to_zoned(tokyo.clone())
            )
            .is_none(),
            "09:30 Monday in Tokyo"
        );
    }

    #[test]
    fn an_unreadable_window_is_a_freeze_at_all_times() {
        let s = FreezeSettings {
            unreadable: true,
            ..FreezeSettings::default()
        };
        assert!(in_force(&s, &FreezeFile::Absent, &at("2026-11-25T12:00:00")).is_some());
    }

    #[test]
    fn weekly_windows_that_do_not_read_say_why() {
        for (bad, says) in [
            ("Fri 16:00", "weekly window"),
            ("Fry 16:00 - Mon 08:00", "day of the week"),
            ("Fri 24:00 - Mon 08:00", "hour"),
            ("Fri 16:60 - Mon 08:00", "minutes"),
            ("Fri 16:00 - Fri 16:00", "same time"),
            ("Fri - Mon", "day and a time"),
        ] {
            let e = parse_weekly(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(Moment::from_text("next friday", false).is_err());
    }

    #[test]
    fn only_lines_at_the_threshold_or_above_are_held() {
        let s = FreezeSettings::default();
        assert!(!holds(&s, Risk::None));
        assert!(!holds(&s, Risk::Low));
        assert!(holds(&s, Risk::Medium));
        assert!(holds(&s, Risk::Critical));
        let low = FreezeSettings {
            min_risk: Risk::Low,
            ..s
        };
        assert!(holds(&low, Risk::Low));
        assert!(!holds(&low, Risk::None));
    }
}
