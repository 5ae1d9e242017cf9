//! The rustyline glue of the interactive shell: one `Helper` that hints,
//! highlights, validates and completes.
//!
//! Thin on purpose — the decisions live in `hint` (what a line would do,
//! and how to say it), `parse` (whether the input is finished) and
//! `complete`. What this adds is the cache: rustyline asks for the hint,
//! then whether to repaint, then the highlighted line, all for the same
//! buffer, and the line is classified once for the three.
//!
//! The prompt is given to rustyline as `(plain, styled)`: rustyline measures
//! the plain one (so line editing knows where the cursor is) and shows the
//! styled one through `highlight_prompt` — or the plain one when colours
//! are off (NO_COLOR, `color = "never"`, not a terminal).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hint, Hinter};
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{
    Cmd, ConditionalEventHandler, Context, Editor, Event, EventContext, EventHandler, Helper,
    KeyCode, KeyEvent, Modifiers, RepeatCount,
};

use crate::context::LineContext;
use crate::parse::parse_line;
use crate::rules::RuleSet;
use crate::script_files::ScriptFiles;
use crate::shell::complete;
use crate::shell::expand::{Definitions, checked_text};
use crate::shell::hint::{self, Assessment, Tone};
use crate::shell::state::ShellState;
use crate::term::paint;

/// The hint shown after the cursor. Unlike a history hint, it is never
/// inserted into the line (right arrow does not accept it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskHint {
    text: String,
}

impl Hint for RiskHint {
    fn display(&self) -> &str {
        &self.text
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

/// The fewest columns worth showing a hint in.
const MIN_HINT_COLUMNS: usize = 8;

/// The helper the editor is built with.
pub struct ShellHelper<'r> {
    rules: &'r RuleSet,
    files: FilenameCompleter,
    /// The last buffer classified, and what it would do.
    last: RefCell<Option<(String, Assessment)>>,
    /// Terminal width, updated before each prompt.
    pub columns: Cell<usize>,
    /// Width of the prompt's last line, updated before each prompt.
    pub prompt_width: Cell<usize>,
    /// The shell's PATH, for completing program names.
    pub path: RefCell<Option<OsString>>,
    /// Whether to paint the line and the hint (rustyline only asks when
    /// its own colour mode allows; this follows the session's NO_COLOR).
    pub color: Cell<bool>,
    /// The session's environment (`$VAR` completion, bash completion).
    pub env: RefCell<BTreeMap<OsString, OsString>>,
    /// The session's aliases and functions: the hint judges a line
    /// through them, as Enter will.
    pub defs: RefCell<Definitions>,
    /// Where the next line runs (directory, variables, scripts read from
    /// the file system): the hint judges a line there, as Enter will.
    place: RefCell<LineContext<'static>>,
}

impl<'r> ShellHelper<'r> {
    pub fn new(rules: &'r RuleSet) -> ShellHelper<'r> {
        ShellHelper {
            rules,
            files: FilenameCompleter::new(),
            last: RefCell::new(None),
            columns: Cell::new(80),
            prompt_width: Cell::new(0),
            path: RefCell::new(None),
            color: Cell::new(true),
            env: RefCell::new(BTreeMap::new()),
            defs: RefCell::new(Definitions::default()),
            place: RefCell::new(LineContext::default()),
        }
    }

    /// Takes the session's state before a prompt: its environment,
    /// aliases and functions, and the place the next line runs in. What
    /// was assessed in another place is forgotten.
    pub fn follow(&self, state: &ShellState) {
        *self.path.borrow_mut() = state.var("PATH").map(|p| p.to_os_string());
        *self.env.borrow_mut() = state.env().clone();
        *self.defs.borrow_mut() = state.defs.clone();
        *self.place.borrow_mut() = state.place(&ScriptFiles::DEFAULT);
        *self.last.borrow_mut() = None;
    }

    /// What `line` would do, classified at most once per buffer.
    pub fn assessment(&self, line: &str) -> Assessment {
        if let Some((text, a)) = self.last.borrow().as_ref()
            && text == line
        {
            return a.clone();
        }
        let place = self.place.borrow();
        let a = match checked_text(line, &self.defs.borrow()) {
            // Judged through the session's aliases and functions; what is
            // marked cannot be pointed at in the typed line.
            Some(text) => match hint::assess(&text, self.rules, &place) {
                hint::Assessment::Findings(mut v) => {
                    for f in &mut v.findings {
                        f.span = (0, 0);
                    }
                    hint::Assessment::Findings(v)
                }
                other => other,
            },
            None => hint::assess(line, self.rules, &place),
        };
        *self.last.borrow_mut() = Some((line.to_string(), a.clone()));
        a
    }

    /// The columns left after the end of the buffer on its last row.
    fn room_after(&self, line: &str) -> usize {
        let columns = self.columns.get().max(1);
        let last = line.rsplit('\n').next().unwrap_or("");
        let lead = if line.contains('\n') {
            0
        } else {
            self.prompt_width.get()
        };
        let used = (lead + hint::display_width(last)) % columns;
        // One column stays free so the cursor never wraps onto a new row.
        columns.saturating_sub(used).saturating_sub(1)
    }

    fn tone(&self) -> Tone {
        self.last
            .borrow()
            .as_ref()
            .map_or(Tone::Notice, |(_, a)| a.tone())
    }
}

impl Helper for ShellHelper<'_> {}

impl Hinter for ShellHelper<'_> {
    type Hint = RiskHint;

    fn hint(&self, line: &str, _pos: usize, _ctx: &Context<'_>) -> Option<RiskHint> {
        let room = self.room_after(line);
        if room < MIN_HINT_COLUMNS {
            return None;
        }
        let a = self.assessment(line);
        hint::hint_text(&a, room).map(|text| RiskHint { text })
    }
}

impl Highlighter for ShellHelper<'_> {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color.get() {
            return Cow::Borrowed(line);
        }
        let a = self.assessment(line);
        let ranges = hint::marked_ranges(line, a.findings());
        if ranges.is_empty() {
            return Cow::Borrowed(line);
        }
        Cow::Owned(hint::paint_ranges(line, &ranges, a.tone().sgr()))
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        // `prompt` is the styled half of the `(plain, styled)` pair: shown
        // as it is. A prompt of rustyline's own (reverse search) is plain.
        Cow::Borrowed(prompt)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if !self.color.get() {
            return Cow::Borrowed(hint);
        }
        Cow::Owned(paint::paint(true, self.tone().sgr(), hint))
    }

    fn highlight_char(&self, line: &str, _pos: usize, kind: CmdKind) -> bool {
        // Repaint on every key while something is marked, so the marks
        // follow the typing.
        self.color.get()
            && kind != CmdKind::ForcedRefresh
            && !self.assessment(line).findings().is_empty()
    }
}

impl Validator for ShellHelper<'_> {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(match parse_line(ctx.input()) {
            Err(e) if e.is_incomplete() => ValidationResult::Incomplete,
            // A real error is shown by the pipeline when the line is run:
            // it is refused there, with the reason, and logged.
            _ => ValidationResult::Valid(None),
        })
    }
}

impl Completer for ShellHelper<'_> {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let path = self.path.borrow();
        let env = self.env.borrow();
        Ok(complete::complete(
            &self.files,
            path.as_deref(),
            &env,
            line,
            pos,
        ))
    }
}

/// What a key asked the loop to do after `readline` returns.
#[derive(Clone, Debug, Default)]
pub struct Requests {
    /// The last line run, for Alt-. (its last word).
    pub last_line: String,
    /// Ctrl-X Ctrl-E: the buffer to edit in `$EDITOR`.
    pub edit: Option<String>,
}

/// Alt-. inserts the last word of the previous line.
struct LastArg(Arc<Mutex<Requests>>);

impl ConditionalEventHandler for LastArg {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, _: &EventContext) -> Option<Cmd> {
        let r = self.0.lock().ok()?;
        let word = last_word(&r.last_line)?;
        Some(Cmd::Insert(1, word.to_string()))
    }
}

/// Ctrl-X Ctrl-E: leaves `readline` with the buffer, to be edited.
struct EditInEditor(Arc<Mutex<Requests>>);

impl ConditionalEventHandler for EditInEditor {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        if let Ok(mut r) = self.0.lock() {
            r.edit = Some(ctx.line().to_string());
        }
        Some(Cmd::Interrupt)
    }
}

/// The last shell word of `line` (quotes kept), as bash's `!$` / Alt-.
pub fn last_word(line: &str) -> Option<&str> {
    line.split_whitespace().last()
}

/// Binds the keys that need the loop: Alt-. and Ctrl-X Ctrl-E.
pub fn bind_keys(editor: &mut Editor<ShellHelper<'_>, FileHistory>) -> Arc<Mutex<Requests>> {
    let requests = Arc::new(Mutex::new(Requests::default()));
    editor.bind_sequence(
        KeyEvent(KeyCode::Char('.'), Modifiers::ALT),
        EventHandler::Conditional(Box::new(LastArg(Arc::clone(&requests)))),
    );
    editor.bind_sequence(
        Event::KeySeq(vec![KeyEvent::ctrl('X'), KeyEvent::ctrl('E')]),
        EventHandler::Conditional(Box::new(EditInEditor(Arc::clone(&requests)))),
    );
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_for_the_hint_follows_the_prompt_and_the_last_row() {
        let rules = RuleSet::new();
        let h = ShellHelper::new(&rules);
        h.columns.set(40);
        h.prompt_width.set(10);
        assert_eq!(h.room_after("abc"), 40 - 13 - 1);
        assert_eq!(h.room_after("echo \"a\nbc"), 40 - 2 - 1, "last row only");
        assert_eq!(
            h.room_after(&"x".repeat(30)),
            39,
            "a full row: the next one is free"
        );
        h.columns.set(0);
        assert_eq!(h.room_after("abc"), 0);
    }

    #[test]
    fn the_hint_judges_a_line_with_the_sessions_variables() {
        let rules = RuleSet::builtin();
        let h = ShellHelper::new(&rules);
        let quiet = ShellState::new([("D".into(), "/tmp/safe-run-scratch".into())]);
        h.follow(&quiet);
        let here = h.assessment("rm -rf $D/");
        let etc = ShellState::new([("D".into(), "/etc".into())]);
        h.follow(&etc);
        let there = h.assessment("rm -rf $D/");
        let risk = |a: &Assessment| match a {
            Assessment::Findings(v) => v.risk,
            _ => crate::verdict::Risk::None,
        };
        assert_eq!(
            risk(&there),
            crate::verdict::Risk::Critical,
            "D=/etc: {there:?}"
        );
        assert!(risk(&here) < risk(&there), "D=/tmp/…: {here:?}");
    }

    #[test]
    fn a_buffer_is_classified_once() {
        let rules = RuleSet::builtin();
        let h = ShellHelper::new(&rules);
        let a = h.assessment("reboot");
        assert!(matches!(a, Assessment::Findings(_)), "{a:?}");
        assert!(h.highlight_char("reboot", 6, CmdKind::Other));
        assert!(!h.highlight_char("reboot", 6, CmdKind::ForcedRefresh));
        let painted = h.highlight("reboot", 6);
        assert!(painted.contains("\x1b["), "{painted:?}");
        assert_eq!(h.highlight("ls", 2), "ls");
        h.color.set(false);
        assert_eq!(h.highlight("reboot", 6), "reboot");
        assert_eq!(h.highlight_hint("  ⚠ x"), "  ⚠ x");
    }
}
