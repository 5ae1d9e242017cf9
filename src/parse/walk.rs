//! The walk over brush-parser's syntax tree: every simple command a text
//! could run, with the context only the walk knows (pipelines and who feeds
//! whose stdin, loops, functions defined in the line, literal assignments,
//! substitutions, here-documents). Strings that are themselves shell
//! (`bash -c '…'`, `ssh host '…'`) are parsed again through [`Walker::walk_text`],
//! within the re-parse depth and step budget of [`Limits`].

use std::collections::HashMap;
use std::rc::Rc;

use brush_parser::ParserOptions;
use brush_parser::ast;
use brush_parser::word::{self as bword, WordPiece, WordPieceWithSource};

use super::guard::{guard, parse_program, relocate};
use super::path::{
    FILE_OPERAND_PROGRAMS, SHELL_INTERPRETERS, is_operand, looks_like_path, resolve, resolved_form,
    shebang,
};
use super::word::{ansi_c, brace_words, char_slice, parameter_words, unescape_backquoted};
use super::{Limits, ParseError};
use crate::command::{
    Context, Redirect, RedirectKind, SimpleCommand, Span, Target, UNREADABLE_SCRIPT, Word,
};
use crate::context::{LineContext, ScriptText};
use crate::unwrap::{
    HostSpec, Inner, ScriptRun, Unwrapped, cluster_of, generates_shell_setup, script_operand,
    unwrap,
};

/// How positions in one parsed text map back to the checked line.
pub(super) struct Src {
    /// Byte offset of every char index, when the text is not ASCII.
    byte_of: Option<Vec<usize>>,
    /// Set for a text that was parsed again from inside a word: every
    /// command found in it is reported at that word's span.
    outer: Option<Span>,
    /// Where the text starts in the checked line, when it is a verbatim
    /// part of it (the line itself: 0; a `$(…)` inside it: its offset), so
    /// that positions inside it are positions in the line.
    base: usize,
    /// The parsed text itself (empty for a function body walked at a call).
    text: String,
}

impl Src {
    fn new(text: &str, outer: Option<Span>, base: usize) -> Self {
        let byte_of = (outer.is_none() && !text.is_ascii()).then(|| {
            let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            v.push(text.len());
            v
        });
        Src {
            byte_of,
            outer,
            base,
            text: text.to_string(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.base
            + match &self.byte_of {
                Some(map) => map
                    .get(char_index)
                    .copied()
                    .unwrap_or_else(|| map.last().copied().unwrap_or(0)),
                None => char_index,
            }
    }

    fn span(&self, loc: Option<&brush_parser::SourceSpan>) -> Span {
        if let Some(outer) = self.outer {
            return outer;
        }
        match loc {
            Some(l) => (self.byte(l.start.index), self.byte(l.end.index)),
            None => (self.base, self.base),
        }
    }
}

/// What the walk knows about where it is.
#[derive(Clone, Default)]
pub(super) struct Ctx {
    via: Vec<String>,
    in_loop: bool,
    remote: bool,
    fleet: bool,
    in_subst: bool,
    /// The variables of the loops around, each with its items when they
    /// are all known (`for h in a b c`).
    loop_vars: Vec<(String, Option<Vec<String>>)>,
    stdin_from: Option<String>,
    input: Vec<String>,
    /// Runs once per input item (`xargs`, `parallel`).
    per_item: bool,
    /// Within the function body being walked: the command runs in the
    /// background or as a stage of a pipeline, i.e. in a process of its own
    /// next to its caller.
    spawns: bool,
    /// Within the function body being walked: the command runs only when a
    /// test allows it (`&&`, `||`, `if`, `case`, a loop whose items are only
    /// known at run time), so a recursion through it can end.
    conditional: bool,
    /// Where the commands act (another host inside `ssh HOST …`).
    target: Target,
}

/// The program whose output a command substitution in program position
/// runs.
struct Feed {
    program: String,
    /// It is a known shell set-up tool, alone in the substitution.
    shell_setup: bool,
}

/// What a function calling itself amounts to. The distinction is the
/// difference between a fork bomb and an ordinary recursive function
/// (`walk() { for d in "$1"/*; do [ -d "$d" ] && walk "$d"; done; }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recursion {
    /// The call spawns a process of its own (in the background, or as a
    /// pipeline stage) and nothing tests whether to make it: every call
    /// starts at least one more process, without end (`:(){ :|:& };:`,
    /// `f(){ f & f; }; f`). Reported as the `<recursive-function>` program.
    SelfSpawning,
    /// Anything else: guarded by a condition, or recursing in the same
    /// process (which bash ends at its nesting limit). The body has been
    /// walked once; its commands are what the recursion runs.
    Bounded,
}

/// How a function call was made, within the body that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CallSite {
    spawns: bool,
    conditional: bool,
}

impl CallSite {
    fn of(ctx: &Ctx) -> CallSite {
        CallSite {
            spawns: ctx.spawns,
            conditional: ctx.conditional,
        }
    }
}

impl Recursion {
    /// A recursion is the cycle of calls from the function's body back to
    /// it (`f` calling `f`, or `a` calling `b` calling `a`): it spawns
    /// without end when some call of the cycle spawns and none is guarded.
    fn of_cycle(cycle: impl IntoIterator<Item = CallSite>) -> Recursion {
        let mut spawns = false;
        for call in cycle {
            if call.conditional {
                return Recursion::Bounded;
            }
            spawns |= call.spawns;
        }
        if spawns {
            Recursion::SelfSpawning
        } else {
            Recursion::Bounded
        }
    }
}

pub(super) struct Walker<'l> {
    limits: &'l Limits,
    /// Where the line runs (working directory, variables, home, scripts).
    env: &'l LineContext<'l>,
    out: Vec<SimpleCommand>,
    /// Variables assigned in the line, over those of `env`: a literal value,
    /// or `None` once the value is only known at run time.
    vars: HashMap<String, Option<String>>,
    /// The walk is on another host (`ssh host '…'`): the variables, home
    /// and working directory of `env` do not hold there.
    isolated: bool,
    /// The working directory, as `cd` in the line changes it.
    cwd: Option<String>,
    oldpwd: Option<String>,
    /// The scripts being walked (`bash x.sh` inside `. y.sh`), by path.
    scripts: Vec<String>,
    /// The arguments of the script being walked, when all are known: what
    /// `"$@"` in program position runs (`exec "$@"`).
    args: Option<Vec<Word>>,
    /// Function bodies are walked where they are defined (a whole script
    /// checked with `check --file`), and calls only look for recursion.
    at_definition: bool,
    /// With `at_definition`: the calls by literal name each function's
    /// body makes, and how.
    calls: HashMap<String, Vec<(String, CallSite)>>,
    functions: HashMap<String, Rc<ast::FunctionBody>>,
    /// The functions being called, outermost first, each with how its call
    /// was made.
    call_stack: Vec<(String, CallSite)>,
    steps: usize,
    options: ParserOptions,
    /// The checked line, to report errors in strings parsed again at their
    /// place in it.
    root: String,
    /// A script was read into this shell (`.`, `source`): it may have set
    /// variables in ways the walk does not follow (`printf -v`, `let`).
    sourced: bool,
}

pub(super) type Res = Result<(), ParseError>;

/// The walk's state that a child process does not hand back: a subshell,
/// a `$(…)`, a pipeline stage, `bash -c`, a remote command.
struct Saved {
    vars: HashMap<String, Option<String>>,
    isolated: bool,
    cwd: Option<String>,
    oldpwd: Option<String>,
}

impl<'l> Walker<'l> {
    pub(super) fn new(limits: &'l Limits, env: &'l LineContext<'l>) -> Self {
        Walker {
            limits,
            env,
            out: Vec::new(),
            vars: HashMap::new(),
            isolated: false,
            cwd: env.cwd.clone(),
            oldpwd: None,
            scripts: Vec::new(),
            args: None,
            at_definition: false,
            calls: HashMap::new(),
            functions: HashMap::new(),
            call_stack: Vec::new(),
            steps: 0,
            options: ParserOptions::default(),
            root: String::new(),
            sourced: false,
        }
    }

    /// Sets the checked line that error positions refer to.
    pub(super) fn set_root(&mut self, line: &str) {
        self.root = line.to_string();
    }

    pub(super) fn into_commands(self) -> Vec<SimpleCommand> {
        self.out
    }

    /// Walks function bodies where they are defined (`check --file`).
    pub(super) fn walk_functions_at_definition(&mut self) {
        self.at_definition = true;
    }

    /// A variable's value, when it is known: assigned in the line, or
    /// known to the session (`env`). `PWD` is the working directory.
    fn var(&self, name: &str) -> Option<&str> {
        if name == "PWD" {
            return self.cwd.as_deref();
        }
        match self.vars.get(name) {
            Some(value) => value.as_deref(),
            None if self.isolated => None,
            None => self.env.vars.get(name).map(String::as_str),
        }
    }

    /// `${X:-default}`, `${X=default}`: the default, when X is known to
    /// be unset (the place the line runs knows every variable, and neither
    /// it nor the line sets X) and the default is a plain word. Anything
    /// else stays unknown.
    fn default_of_unset(&self, expr: &bword::ParameterExpr, text: &str) -> Option<String> {
        use bword::ParameterExpr as E;
        let (name, default) = match expr {
            E::UseDefaultValues {
                parameter: bword::Parameter::Named(name),
                indirect: false,
                default_value,
                ..
            }
            | E::AssignDefaultValues {
                parameter: bword::Parameter::Named(name),
                indirect: false,
                default_value,
                ..
            } => (name, default_value.as_deref().unwrap_or("")),
            _ => return None,
        };
        // Unset for sure: nothing in the line, or the text being walked,
        // names it except `${NAME…}` expansions — an assignment the walk
        // does not follow (`printf -v X`, `let X=1`, `(( X = 1 ))`,
        // `declare -n`) names it — and no sourced script could have set it.
        // A function body walked at its call has no text of its own here,
        // so it gets no default.
        let unset = self.env.vars_complete
            && !self.isolated
            && !self.sourced
            && !text.is_empty()
            && name != "PWD"
            && !self.vars.contains_key(name.as_str())
            && !self.env.vars.contains_key(name.as_str())
            && !named_outside_expansions(&self.root, name)
            && !named_outside_expansions(text, name);
        let plain = default
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c));
        (unset && plain).then(|| default.to_string())
    }

    /// `$EDITOR`, `"${VISUAL}"` … as the program: the user's own tool (see
    /// [`USER_TOOL_VARIABLES`]), unless the line or a script it sourced may
    /// have set the variable (`read EDITOR`, `printf -v EDITOR …`): then it
    /// is whatever that made it, unknown.
    fn name_the_users_editor(&self, argv: &mut [Word]) {
        let Some(first) = argv.first_mut() else {
            return;
        };
        if !first.dynamic {
            return;
        }
        let bare: String = first
            .text
            .chars()
            .filter(|c| !matches!(c, '"' | '{' | '}'))
            .collect();
        let Some(name) = bare.strip_prefix('$') else {
            return;
        };
        let set_here = self.sourced
            || self.vars.contains_key(name)
            || named_outside_expansions(&self.root, name);
        if set_here {
            return;
        }
        if let Some((_, tool)) = USER_TOOL_VARIABLES.iter().find(|(var, _)| *var == name) {
            *first = Word::literal(tool, first.span);
        }
    }

    /// What `~` means here.
    fn home(&self) -> Option<&str> {
        self.var("HOME")
            .filter(|h| h.starts_with('/'))
            .or(if self.isolated {
                None
            } else {
                self.env.home.as_deref()
            })
    }

    /// The state a child process gets a copy of, to put back after it.
    fn save(&self) -> Saved {
        Saved {
            vars: self.vars.clone(),
            isolated: self.isolated,
            cwd: self.cwd.clone(),
            oldpwd: self.oldpwd.clone(),
        }
    }

    fn restore(&mut self, saved: Saved) {
        self.vars = saved.vars;
        self.isolated = saved.isolated;
        self.cwd = saved.cwd;
        self.oldpwd = saved.oldpwd;
    }

    /// On another host nothing of this one's directory or variables holds.
    fn go_remote(&mut self) {
        self.vars.clear();
        self.isolated = true;
        self.cwd = None;
        self.oldpwd = None;
    }

    /// Walks a text run by a child process (`bash -c`, `$(…)`, a remote
    /// command): what it changes does not come back.
    fn walk_child(
        &mut self,
        text: &str,
        outer: Option<Span>,
        ctx: &Ctx,
        depth: usize,
        remote: bool,
    ) -> Res {
        let saved = self.save();
        if remote {
            self.go_remote();
        }
        let result = self.walk_text(text, outer, ctx, depth);
        self.restore(saved);
        result
    }

    /// A `$(…)` or backquoted substitution: run by a child process, and
    /// reported at its own place in the line when its text is a verbatim
    /// part of it (`skip` is the length of the opening `$(` or `` ` ``).
    #[allow(clippy::too_many_arguments)]
    fn walk_substitution(
        &mut self,
        text: &str,
        raw: &str,
        start_index: usize,
        skip: usize,
        span: Span,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        let mut inner = ctx.clone();
        inner.in_subst = true;
        let base = if src.outer.is_some() {
            None
        } else {
            let in_raw = raw
                .char_indices()
                .nth(start_index)
                .map_or(raw.len(), |(b, _)| b);
            let at = span.0 + in_raw + skip;
            (self.root.get(at..at + text.len()) == Some(text)).then_some(at)
        };
        let saved = self.save();
        let result = match base {
            Some(at) => self.walk_text_at(text, None, at, &inner, depth),
            None => self.walk_text(text, Some(src.outer.unwrap_or(span)), &inner, depth),
        };
        self.restore(saved);
        result
    }

    fn step(&mut self) -> Res {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(ParseError::TooComplex {
                max: self.limits.max_steps,
            });
        }
        Ok(())
    }

    /// Parses `text` and walks it. `outer` is the span of the word it came
    /// from when it is a string parsed again.
    pub(super) fn walk_text(
        &mut self,
        text: &str,
        outer: Option<Span>,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        self.walk_text_at(text, outer, 0, ctx, depth)
    }

    /// As [`Walker::walk_text`]; `base` is where `text` starts in the
    /// checked line when it is a verbatim part of it (and `outer` is
    /// `None`), so its commands are reported at their own place.
    fn walk_text_at(
        &mut self,
        text: &str,
        outer: Option<Span>,
        base: usize,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        let program = self.parse_text(text, depth).map_err(|e| match outer {
            Some(span) => relocate(e, text, span, &self.root),
            None if base > 0 => relocate(e, text, (base, base + text.len()), &self.root),
            None => e,
        })?;
        self.walk_program(
            program.as_ref(),
            text,
            &Src::new(text, outer, base),
            ctx,
            depth,
        )
    }

    /// Walks the text of a script file the line runs; every command in it
    /// is reported at `span`, the command that runs the script. Its parse
    /// errors keep the script's own lines and columns.
    fn walk_script(&mut self, text: &str, span: Span, ctx: &Ctx, depth: usize) -> Res {
        let program = self.parse_text(text, depth)?;
        self.walk_program(
            program.as_ref(),
            text,
            &Src::new(text, Some(span), 0),
            ctx,
            depth,
        )
    }

    /// Parses a text within the limits; `None` for a text with nothing in it.
    fn parse_text(&mut self, text: &str, depth: usize) -> Result<Option<ast::Program>, ParseError> {
        if depth > self.limits.max_reparse_depth {
            return Err(ParseError::TooDeep {
                max: self.limits.max_reparse_depth,
            });
        }
        self.step()?;
        guard(text, self.limits)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        parse_program(text, &self.options).map(Some)
    }

    fn walk_program(
        &mut self,
        program: Option<&ast::Program>,
        text: &str,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        for list in program.iter().flat_map(|p| &p.complete_commands) {
            self.compound_list(list, text, src, ctx, depth)?;
        }
        Ok(())
    }

    fn compound_list(
        &mut self,
        list: &ast::CompoundList,
        text: &str,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        for item in &list.0 {
            let and_or = &item.0;
            let background;
            let ctx = if matches!(item.1, ast::SeparatorOperator::Async) && !ctx.spawns {
                let mut c = ctx.clone();
                c.spawns = true;
                background = c;
                &background
            } else {
                ctx
            };
            self.pipeline(&and_or.first, text, src, ctx, depth)?;
            if and_or.additional.is_empty() {
                continue;
            }
            // `test && cmd`, `cmd || fallback`: run only if the one before
            // succeeded (or failed).
            let mut guarded = ctx.clone();
            guarded.conditional = true;
            for next in &and_or.additional {
                let (ast::AndOr::And(p) | ast::AndOr::Or(p)) = next;
                self.pipeline(p, text, src, &guarded, depth)?;
            }
        }
        Ok(())
    }

    fn pipeline(
        &mut self,
        p: &ast::Pipeline,
        text: &str,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        let mut feed: Option<(String, Vec<String>)> = None;
        let staged;
        let ctx = if p.seq.len() > 1 && !ctx.spawns {
            let mut c = ctx.clone();
            c.spawns = true;
            staged = c;
            &staged
        } else {
            ctx
        };
        for (i, cmd) in p.seq.iter().enumerate() {
            let stage_ctx;
            let ctx_for = if i == 0 {
                ctx
            } else {
                let mut c = ctx.clone();
                if let Some((prog, input)) = feed.take() {
                    c.stdin_from = Some(prog);
                    c.input = input;
                } else {
                    c.stdin_from = None;
                    c.input = Vec::new();
                }
                stage_ctx = c;
                &stage_ctx
            };
            let mark = self.out.len();
            // Each stage of a pipeline runs in a subshell of its own.
            let saved = (p.seq.len() > 1).then(|| self.save());
            let result = self.command(cmd, text, src, ctx_for, depth);
            if let Some(saved) = saved {
                self.restore(saved);
            }
            result?;
            feed = self.out[mark..]
                .iter()
                .rev()
                .find(|c| c.context.in_substitution == ctx.in_subst && !c.argv.is_empty())
                .map(|c| {
                    let prog = c.program().unwrap_or("").to_string();
                    let input = match prog.as_str() {
                        "echo" | "printf" => {
                            let words: Vec<&str> =
                                c.args().iter().map(|w| w.text.as_str()).collect();
                            let text = words.join(" ");
                            // printf and `echo -e` turn `\n` into a line break:
                            // `printf 'ls\nreboot\n' | sh` runs two commands.
                            let escapes = prog == "printf"
                                || words.first().is_some_and(|w| w.starts_with("-e"));
                            vec![if escapes { ansi_c(&text) } else { text }]
                        }
                        "cat" | "tee" => c.context.input.clone(),
                        _ => Vec::new(),
                    };
                    (prog, input)
                });
        }
        Ok(())
    }

    fn command(
        &mut self,
        cmd: &ast::Command,
        text: &str,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        match cmd {
            ast::Command::Simple(sc) => self.simple(sc, src, ctx, depth),
            ast::Command::Compound(cc, redirects) => {
                self.compound(cc, text, src, ctx, depth)?;
                if let Some(list) = redirects {
                    self.redirect_only(&list.0, src, ctx, depth)?;
                }
                Ok(())
            }
            ast::Command::Function(def) => self.define(def, text, src, ctx, depth),
            ast::Command::ExtendedTest(test, redirects) => {
                self.extended_test(&test.expr, src, ctx, depth)?;
                if let Some(list) = redirects {
                    self.redirect_only(&list.0, src, ctx, depth)?;
                }
                Ok(())
            }
        }
    }

    fn extended_test(
        &mut self,
        expr: &ast::ExtendedTestExpr,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        use ast::ExtendedTestExpr as E;
        match expr {
            E::And(a, b) | E::Or(a, b) => {
                self.extended_test(a, src, ctx, depth)?;
                self.extended_test(b, src, ctx, depth)
            }
            E::Not(a) | E::Parenthesized(a) => self.extended_test(a, src, ctx, depth),
            E::UnaryTest(_, w) => self.expand(w, src, ctx, depth).map(drop),
            E::BinaryTest(_, a, b) => {
                self.expand(a, src, ctx, depth)?;
                self.expand(b, src, ctx, depth).map(drop)
            }
        }
    }

    fn compound(
        &mut self,
        cc: &ast::CompoundCommand,
        text: &str,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        use ast::CompoundCommand as C;
        match cc {
            C::Arithmetic(a) => {
                self.arithmetic_command(&a.expr.value, &a.loc, text, src, ctx, depth)
            }
            C::ArithmeticForClause(f) => {
                for e in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    self.scan_text(&e.value, src, ctx, depth, src.span(None))?;
                }
                let mut inner = ctx.clone();
                inner.in_loop = true;
                self.compound_list(&f.body.list, text, src, &inner, depth)
            }
            C::BraceGroup(g) => self.compound_list(&g.list, text, src, ctx, depth),
            C::Subshell(s) => {
                let saved = self.save();
                let result = self.compound_list(&s.list, text, src, ctx, depth);
                self.restore(saved);
                result
            }
            C::ForClause(f) => {
                // A loop over items known only at run time (a glob, "$@",
                // a substitution) may run its body no time at all.
                let mut items = f.values.as_ref().map(|_| Vec::new());
                if let Some(values) = &f.values {
                    for v in values {
                        let w = self.expand(v, src, ctx, depth)?;
                        match &mut items {
                            Some(list) if !w.dynamic && !w.glob => {
                                list.extend(w.text.split_whitespace().map(str::to_string));
                            }
                            _ => items = None,
                        }
                    }
                }
                self.vars.insert(f.variable_name.clone(), None);
                let mut inner = ctx.clone();
                inner.conditional |= items.is_none();
                inner.in_loop = true;
                inner.loop_vars.push((f.variable_name.clone(), items));
                self.compound_list(&f.body.list, text, src, &inner, depth)
            }
            C::CaseClause(c) => {
                self.expand(&c.value, src, ctx, depth)?;
                let mut arm = ctx.clone();
                arm.conditional = true;
                for item in &c.cases {
                    for p in &item.patterns {
                        self.expand(p, src, ctx, depth)?;
                    }
                    if let Some(list) = &item.cmd {
                        self.compound_list(list, text, src, &arm, depth)?;
                    }
                }
                Ok(())
            }
            C::IfClause(i) => {
                self.compound_list(&i.condition, text, src, ctx, depth)?;
                let mut branch = ctx.clone();
                branch.conditional = true;
                self.compound_list(&i.then, text, src, &branch, depth)?;
                for e in i.elses.iter().flatten() {
                    if let Some(cond) = &e.condition {
                        self.compound_list(cond, text, src, &branch, depth)?;
                    }
                    self.compound_list(&e.body, text, src, &branch, depth)?;
                }
                Ok(())
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                let mut inner = ctx.clone();
                inner.in_loop = true;
                // `while read h; do …; done`: the variables read are unknown.
                self.compound_list(&w.0, text, src, &inner, depth)?;
                // `while true`, `while :`, `until false` never stop by
                // themselves: their body is not guarded.
                let endless = match cc {
                    C::WhileClause(_) => is_only_command(&w.0, &["true", ":"]),
                    _ => is_only_command(&w.0, &["false"]),
                };
                inner.conditional |= !endless;
                self.compound_list(&w.1.list, text, src, &inner, depth)
            }
            C::Coprocess(c) => self.command(&c.body, text, src, ctx, depth),
        }
    }

    /// `(( … ))`. Bash reads it as arithmetic only when the two parentheses
    /// touch and the text is a valid expression; otherwise it is nested
    /// subshells (`( ( reboot ) )`), which brush-parser gets wrong.
    fn arithmetic_command(
        &mut self,
        expr: &str,
        loc: &brush_parser::SourceSpan,
        text: &str,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        let source: String = text
            .chars()
            .skip(loc.start.index)
            .take(loc.end.index.saturating_sub(loc.start.index))
            .collect();
        // Both pairs must touch: `((a) )` is two subshells in bash.
        let touching = source.starts_with("((") && source.trim_end().ends_with("))");
        if touching {
            return self.scan_text(expr, src, ctx, depth, src.span(Some(loc)));
        }
        let trimmed = source.trim();
        let inner = trimmed
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or(trimmed);
        let outer = Some(src.outer.unwrap_or_else(|| src.span(Some(loc))));
        self.walk_text(inner, outer, ctx, depth + 1)
    }

    fn simple(&mut self, sc: &ast::SimpleCommand, src: &Src, ctx: &Ctx, depth: usize) -> Res {
        self.step()?;
        use ast::CommandPrefixOrSuffixItem as Item;
        let mut cmd = SimpleCommand::default();
        let mut input = Vec::new();
        // Programs whose output a process substitution hands to this command.
        let mut feeds: Vec<String> = Vec::new();
        let mut program_feed: Option<Feed> = None;
        let mut items: Vec<&Item> = Vec::new();
        if let Some(prefix) = &sc.prefix {
            items.extend(prefix.0.iter());
        }
        let prefix_len = items.len();
        if let Some(suffix) = &sc.suffix {
            items.extend(suffix.0.iter());
        }
        let mut in_prefix = true;
        for (n, item) in items.iter().enumerate() {
            if n == prefix_len {
                if let Some(name) = &sc.word_or_name {
                    let mark = self.out.len();
                    let w = self.expand(name, src, ctx, depth)?;
                    program_feed = self.substitution_feed(mark, &w);
                    cmd.argv.push(w);
                }
                in_prefix = false;
            }
            match item {
                Item::IoRedirect(r) => {
                    if let Some(r) = self.redirect(r, src, ctx, depth, &mut input)? {
                        cmd.redirects.push(r);
                    }
                }
                Item::Word(w) => {
                    let w = self.expand(w, src, ctx, depth)?;
                    cmd.argv.push(w);
                }
                Item::AssignmentWord(assignment, word) => {
                    // `a[$(cmd)]=1`: the subscript is expanded, so it runs.
                    if let ast::AssignmentName::ArrayElementName(_, index) = &assignment.name {
                        let span = src.span(word.loc.as_ref());
                        self.scan_text(index, src, ctx, depth, span)?;
                    }
                    let value = self.assignment_value(&assignment.value, word, src, ctx, depth)?;
                    if in_prefix && cmd.argv.is_empty() {
                        if let ast::AssignmentName::VariableName(name) = &assignment.name {
                            cmd.assignments.push((name.clone(), value));
                        }
                    } else {
                        // `export X=1`, `local y=$(…)`: an argument word.
                        let w = self.expand(word, src, ctx, depth)?;
                        if let ast::AssignmentName::VariableName(name) = &assignment.name {
                            if declares_nameref(&cmd.argv) {
                                // `declare -n R=V`: R stands for whatever V
                                // holds when R is used, not for "V".
                                self.vars.insert(name.clone(), None);
                            } else {
                                self.remember(name, &value);
                            }
                        }
                        cmd.argv.push(w);
                    }
                }
                Item::ProcessSubstitution(kind, sub) => {
                    let mut inner = ctx.clone();
                    inner.in_subst = true;
                    let mark = self.out.len();
                    self.subshell(&sub.list, src, &inner, depth)?;
                    if let Some(feed) = self.out[mark..]
                        .iter()
                        .rev()
                        .find_map(|c| c.program().filter(|p| !p.is_empty()))
                    {
                        feeds.push(feed.to_string());
                    }
                    let span = src.span(Some(&sub.loc));
                    let mut w =
                        Word::literal(&process_substitution_text(src, kind, &sub.loc), span);
                    w.dynamic = true;
                    cmd.argv.push(w);
                }
            }
        }
        if items.len() == prefix_len
            && let Some(name) = &sc.word_or_name
        {
            let mark = self.out.len();
            let w = self.expand(name, src, ctx, depth)?;
            program_feed = self.substitution_feed(mark, &w);
            cmd.argv.push(w);
        }
        // `"$(curl …)"` as the program runs what curl printed, as
        // `curl … | sh` does.
        if let Some(feed) = program_feed {
            if feed.shell_setup && cmd.argv.len() == 1 {
                // `eval "$(ssh-agent -s)"`: runs the set-up code a known
                // tool prints (unwrap::SHELL_SETUP_GENERATORS). The tool
                // itself was found and is judged; what it prints is not an
                // unknown program.
                return Ok(());
            }
            feeds.insert(0, feed.program);
        }
        expand_braces_in_program(&mut cmd.argv);
        // `%1`, `%?string`: a job spec in command position brings that job
        // to the foreground (`fg %…`); its `?` is not a glob.
        if let Some(first) = cmd.argv.first_mut()
            && !first.dynamic
            && first.text.starts_with('%')
        {
            first.glob = false;
        }

        if cmd.argv.is_empty() {
            // Plain assignments change the shell's variables.
            for (name, value) in &cmd.assignments {
                self.remember(name, value);
            }
            if cmd.redirects.iter().any(|r| r.kind.writes()) {
                cmd.span = span_of_redirects(&cmd.redirects);
                cmd.context.input = input;
                self.push(cmd, ctx);
            }
            return Ok(());
        }
        let end = [
            cmd.argv.last().map(|w| w.span.1),
            cmd.redirects.iter().map(|r| r.target.span.1).max(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        cmd.span = (cmd.argv[0].span.0, end.max(cmd.argv[0].span.1));
        cmd.context.input = input;
        // `bash <(curl …)` and `source <(curl …)` run what curl prints, as
        // `curl … | bash` does.
        if ctx.stdin_from.is_none()
            && let Some(feed) = feeds.first()
        {
            let mut fed = ctx.clone();
            fed.stdin_from = Some(feed.clone());
            return self.emit(cmd, &fed, depth);
        }
        self.emit(cmd, ctx, depth)
    }

    fn subshell(&mut self, list: &ast::CompoundList, src: &Src, ctx: &Ctx, depth: usize) -> Res {
        // Process substitutions carry their own syntax tree; their text is
        // only needed for `(( ))`, which cannot start a process substitution.
        let saved = self.save();
        let result = self.compound_list(list, "", src, ctx, depth);
        self.restore(saved);
        result
    }

    fn remember(&mut self, name: &str, value: &Word) {
        let known = (!value.dynamic && !value.glob).then(|| value.text.clone());
        self.vars.insert(name.to_string(), known);
    }

    /// The value of `NAME=value`; `whole` is the whole assignment word,
    /// whose place in the line the value's place is taken from.
    fn assignment_value(
        &mut self,
        value: &ast::AssignmentValue,
        whole: &ast::Word,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Result<Word, ParseError> {
        match value {
            ast::AssignmentValue::Scalar(w) if w.loc.is_none() => {
                // The value's own place, so that `x=$(reboot)` on line 9
                // of a script reports `reboot` on line 9.
                let placed = whole
                    .loc
                    .as_ref()
                    .filter(|_| whole.value.ends_with(&w.value))
                    .map(|loc| {
                        let index = loc.end.index.saturating_sub(w.value.chars().count());
                        let start = brush_parser::SourcePosition {
                            index,
                            ..(*loc.start).clone()
                        };
                        ast::Word {
                            value: w.value.clone(),
                            loc: Some(brush_parser::SourceSpan {
                                start: std::sync::Arc::new(start),
                                end: loc.end.clone(),
                            }),
                        }
                    });
                self.expand(placed.as_ref().unwrap_or(w), src, ctx, depth)
            }
            ast::AssignmentValue::Scalar(w) => self.expand(w, src, ctx, depth),
            ast::AssignmentValue::Array(items) => {
                let mut out = Word::default();
                for (key, w) in items {
                    if let Some(k) = key {
                        self.expand(k, src, ctx, depth)?;
                    }
                    let e = self.expand(w, src, ctx, depth)?;
                    out.span = e.span;
                }
                out.dynamic = true;
                Ok(out)
            }
        }
    }

    fn redirect_only(
        &mut self,
        redirects: &[ast::IoRedirect],
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        let mut input = Vec::new();
        let mut cmd = SimpleCommand::default();
        for r in redirects {
            if let Some(r) = self.redirect(r, src, ctx, depth, &mut input)? {
                cmd.redirects.push(r);
            }
        }
        if cmd.redirects.iter().any(|r| r.kind.writes()) {
            cmd.span = span_of_redirects(&cmd.redirects);
            self.push(cmd, ctx);
        }
        Ok(())
    }

    fn redirect(
        &mut self,
        r: &ast::IoRedirect,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
        input: &mut Vec<String>,
    ) -> Result<Option<Redirect>, ParseError> {
        use ast::IoFileRedirectKind as K;
        use ast::IoFileRedirectTarget as T;
        match r {
            ast::IoRedirect::File(fd, kind, target) => {
                let mut kind = match kind {
                    K::Read => RedirectKind::Read,
                    K::Write | K::Clobber => RedirectKind::Truncate,
                    K::Append => RedirectKind::Append,
                    K::ReadAndWrite => RedirectKind::ReadWrite,
                    K::DuplicateInput | K::DuplicateOutput => RedirectKind::Duplicate,
                };
                let target = match target {
                    T::Filename(w) => self.expand(w, src, ctx, depth)?,
                    T::Fd(n) => {
                        kind = RedirectKind::Duplicate;
                        Word::literal(&n.to_string(), src.span(None))
                    }
                    T::Duplicate(w) => {
                        let w = self.expand(w, src, ctx, depth)?;
                        // `>&file` (no digits) writes to a file, like `&>`.
                        if !w.text.chars().all(|c| c.is_ascii_digit() || c == '-') {
                            kind = RedirectKind::Truncate;
                        } else {
                            kind = RedirectKind::Duplicate;
                        }
                        w
                    }
                    T::ProcessSubstitution(sub_kind, sub) => {
                        let mut inner = ctx.clone();
                        inner.in_subst = true;
                        self.subshell(&sub.list, src, &inner, depth)?;
                        let text = process_substitution_text(src, sub_kind, &sub.loc);
                        let mut w = Word::literal(&text, src.span(Some(&sub.loc)));
                        w.dynamic = true;
                        kind = RedirectKind::Duplicate;
                        w
                    }
                };
                Ok(Some(Redirect {
                    fd: fd.and_then(|f| u32::try_from(f).ok()),
                    kind,
                    target,
                }))
            }
            ast::IoRedirect::HereDocument(_, doc) => {
                if doc.requires_expansion {
                    let pieces =
                        bword::parse_heredoc(&doc.doc.value, &self.options).map_err(|e| {
                            ParseError::BadWord {
                                word: doc.doc.value.chars().take(40).collect(),
                                what: e.to_string(),
                            }
                        })?;
                    let mut scratch = Word::default();
                    let span = src.span(doc.doc.loc.as_ref());
                    self.pieces(
                        &pieces,
                        &doc.doc.value,
                        true,
                        &mut scratch,
                        src,
                        ctx,
                        depth,
                        span,
                    )?;
                }
                input.push(doc.doc.value.clone());
                Ok(None)
            }
            ast::IoRedirect::HereString(_, w) => {
                let w = self.expand(w, src, ctx, depth)?;
                input.push(w.text);
                Ok(None)
            }
            ast::IoRedirect::OutputAndError(w, append) => {
                let target = self.expand(w, src, ctx, depth)?;
                Ok(Some(Redirect {
                    fd: None,
                    kind: if *append {
                        RedirectKind::Append
                    } else {
                        RedirectKind::Truncate
                    },
                    target,
                }))
            }
        }
    }

    /// Quote removal and expansion of one word; commands inside
    /// substitutions are walked on the way.
    fn expand(
        &mut self,
        word: &ast::Word,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Result<Word, ParseError> {
        let span = src.span(word.loc.as_ref());
        let raw = &word.value;
        let mut out = Word {
            span,
            ..Word::default()
        };
        if raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=,@%+-".contains(&b))
        {
            out.text = raw.clone();
            return Ok(out);
        }
        let pieces = bword::parse(raw, &self.options).map_err(|e| ParseError::BadWord {
            word: raw.chars().take(60).collect(),
            what: e.to_string(),
        })?;
        self.pieces(&pieces, raw, false, &mut out, src, ctx, depth, span)?;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn pieces(
        &mut self,
        pieces: &[WordPieceWithSource],
        raw: &str,
        in_double: bool,
        out: &mut Word,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
        span: Span,
    ) -> Res {
        let outer = Some(src.outer.unwrap_or(span));
        for p in pieces {
            let raw_piece = || char_slice(raw, p.start_index, p.end_index);
            match &p.piece {
                WordPiece::Text(t) => {
                    // Globs and brace expansion (`{reboot,}`) change the
                    // words at run time.
                    if !in_double
                        && (is_glob(t) || (t.contains('{') && t.contains(',') && t.contains('}')))
                    {
                        out.glob = true;
                    }
                    out.text.push_str(t);
                }
                WordPiece::SingleQuotedText(t) => out.text.push_str(t),
                WordPiece::AnsiCQuotedText(t) => out.text.push_str(&ansi_c(t)),
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    self.pieces(inner, raw, true, out, src, ctx, depth, span)?;
                }
                WordPiece::TildeExpansion(t) => {
                    use bword::TildeExpr as T;
                    out.text.push('~');
                    match t {
                        T::Home => {}
                        T::UserHome(u) => out.text.push_str(u),
                        T::WorkingDir => out.text.push('+'),
                        T::OldWorkingDir => out.text.push('-'),
                        _ => out.text.push_str(raw_piece().get(1..).unwrap_or("")),
                    }
                }
                WordPiece::ParameterExpansion(expr) => {
                    use bword::ParameterExpr as E;
                    if let E::Parameter {
                        parameter: bword::Parameter::NamedWithIndex { index, .. },
                        ..
                    } = expr
                    {
                        self.scan_text(index, src, ctx, depth, span)?;
                    }
                    let known = match expr {
                        E::Parameter {
                            parameter: bword::Parameter::Named(name),
                            indirect: false,
                        } => self.var(name).map(str::to_string),
                        // `$1` inside a script the line runs with arguments.
                        E::Parameter {
                            parameter: bword::Parameter::Positional(n),
                            indirect: false,
                        } => self.vars.get(&n.to_string()).cloned().flatten(),
                        // `${D:-x}`, `${D:=x}`, `${D:?}` of a variable known
                        // and not empty: its value.
                        E::UseDefaultValues {
                            parameter: bword::Parameter::Named(name),
                            indirect: false,
                            ..
                        }
                        | E::AssignDefaultValues {
                            parameter: bword::Parameter::Named(name),
                            indirect: false,
                            ..
                        }
                        | E::IndicateErrorIfNullOrUnset {
                            parameter: bword::Parameter::Named(name),
                            indirect: false,
                            ..
                        } => self
                            .var(name)
                            .filter(|v| !v.is_empty())
                            .map(str::to_string)
                            .or_else(|| self.default_of_unset(expr, &src.text)),
                        _ => None,
                    };
                    match known {
                        Some(v) => out.text.push_str(&v),
                        None => {
                            out.text.push_str(&raw_piece());
                            out.dynamic = true;
                        }
                    }
                    for s in parameter_words(expr) {
                        self.scan_text(s, src, ctx, depth, span)?;
                    }
                }
                WordPiece::CommandSubstitution(s) => {
                    self.walk_substitution(s, raw, p.start_index, 2, span, src, ctx, depth + 1)?;
                    out.text.push_str(&raw_piece());
                    out.dynamic = true;
                }
                WordPiece::BackquotedCommandSubstitution(s) => {
                    let unescaped = unescape_backquoted(s);
                    self.walk_substitution(
                        &unescaped,
                        raw,
                        p.start_index,
                        1,
                        span,
                        src,
                        ctx,
                        depth + 1,
                    )?;
                    out.text.push_str(&raw_piece());
                    out.dynamic = true;
                }
                WordPiece::EscapeSequence(s) => {
                    let rest = s.strip_prefix('\\').unwrap_or(s);
                    if in_double && !rest.starts_with(['$', '`', '"', '\\', '\n']) {
                        out.text.push_str(s);
                    } else if rest != "\n" {
                        out.text.push_str(rest);
                    }
                }
                WordPiece::ArithmeticExpression(e) => {
                    let piece = raw_piece();
                    if piece.ends_with("))") {
                        self.scan_text(&e.value, src, ctx, depth, span)?;
                    } else {
                        // Not arithmetic: bash reads `$((a) )` as a command
                        // substitution of a subshell.
                        let inner_text = piece
                            .strip_prefix("$(")
                            .and_then(|s| s.strip_suffix(')'))
                            .unwrap_or(&e.value);
                        let mut inner = ctx.clone();
                        inner.in_subst = true;
                        self.walk_child(inner_text, outer, &inner, depth + 1, false)?;
                    }
                    out.text.push_str(&piece);
                    out.dynamic = true;
                }
            }
        }
        Ok(())
    }

    /// Finds the commands inside a text that is expanded but not run as a
    /// command (a default value `${x:-$(…)}`, an arithmetic expression).
    fn scan_text(&mut self, text: &str, src: &Src, ctx: &Ctx, depth: usize, span: Span) -> Res {
        if !text.contains(['$', '`']) {
            return Ok(());
        }
        if depth > self.limits.max_reparse_depth {
            return Err(ParseError::TooDeep {
                max: self.limits.max_reparse_depth,
            });
        }
        let pieces = bword::parse(text, &self.options).map_err(|e| ParseError::BadWord {
            word: text.chars().take(60).collect(),
            what: e.to_string(),
        })?;
        let mut scratch = Word::default();
        self.pieces(
            &pieces,
            text,
            false,
            &mut scratch,
            src,
            ctx,
            depth + 1,
            span,
        )
    }

    /// A simple command found in the line: call a function, see through a
    /// wrapper, or record it.
    pub(super) fn emit(&mut self, mut cmd: SimpleCommand, ctx: &Ctx, depth: usize) -> Res {
        self.step()?;
        // `exec "$@"` in a script run with known arguments runs them.
        if let Some(args) = &self.args
            && cmd
                .argv
                .first()
                .is_some_and(|w| w.dynamic && matches!(w.text.as_str(), "$@" | "$*"))
        {
            cmd.argv.splice(0..1, args.iter().cloned());
        }
        drop_indirect_assignments(&mut cmd.argv);
        self.name_the_users_editor(&mut cmd.argv);
        let Some(first) = cmd.argv.first() else {
            self.push(cmd, ctx);
            return Ok(());
        };
        if !first.dynamic && !first.text.contains('/') {
            let name = first.text.clone();
            if self.at_definition {
                self.note_call(&name, &cmd, ctx);
            }
            if let Some(body) = self.functions.get(&name).cloned() {
                return self.call(&name, &body, &cmd, ctx, depth);
            }
        }
        let (unwrapped, cluster) = {
            let texts: Vec<&str> = cmd.argv.iter().map(|w| w.text.as_str()).collect();
            (unwrap(&texts), self.cluster_target(&cmd, &texts))
        };
        // `kubectl --context prod-eu …` acts on that cluster, and so does
        // what it runs (`kubectl --context prod-eu exec pod -- reboot`).
        let on_cluster;
        let ctx = match cluster {
            Some(target) => {
                let mut c = ctx.clone();
                c.target = target;
                on_cluster = c;
                &on_cluster
            }
            None => ctx,
        };
        let Some(u) = unwrapped else {
            let in_script = !self.scripts.is_empty() || self.at_definition;
            if in_script && cmd.argv.first().is_some_and(is_own_variable) {
                // Inside a script the line runs, a program held in one of
                // the script's own variables (`"$JAVACMD" "$@"`) is the
                // script's business: what can be known was substituted.
                // What it was given (`"$@"`, `$1`) stays unknown. A whole
                // script checked with `check --file` is judged as `bash
                // FILE` would judge it.
                return Ok(());
            }
            let fed = self.fed_script(&cmd, ctx);
            let mut cmd = cmd;
            self.resolve_paths(&mut cmd);
            let script = self.script_run(&cmd);
            self.record(cmd.clone(), ctx);
            self.track_builtin(&cmd);
            // `echo reboot | bash`, `ssh host <<EOF … EOF`: a shell reading
            // its commands from stdin runs the text it is fed.
            if let Some((via, remote)) = fed {
                let mut inner = ctx.clone();
                inner.via.push(via);
                inner.remote |= remote;
                inner.fleet |= remote && ctx.in_loop;
                inner.stdin_from = None;
                inner.input = Vec::new();
                if remote {
                    inner.target = self.remote_target(&cmd, ctx);
                }
                let texts: Vec<String> = cmd
                    .context
                    .input
                    .iter()
                    .chain(ctx.input.iter())
                    .cloned()
                    .collect();
                for text in texts {
                    self.walk_child(&text, Some(cmd.span), &inner, depth + 1, remote)?;
                }
            }
            if let Some(run) = script {
                self.run_script(&cmd, run, ctx, depth)?;
            }
            return Ok(());
        };
        let mut inner_ctx = ctx.clone();
        inner_ctx.via.push(u.via.clone());
        inner_ctx.remote |= u.remote;
        inner_ctx.fleet |= u.fleet || (u.remote && ctx.in_loop);
        inner_ctx.in_loop |= u.repeated;
        inner_ctx.per_item |= u.per_item;
        if let Some(spec) = &u.hosts {
            inner_ctx.target = self.host_target(&cmd, spec, ctx);
        } else if u.fleet {
            // `clush -a`, `pdsh` with its hosts from the environment.
            inner_ctx.target = Target::Hosts(vec!["all".to_string()]);
        }
        if u.keep_self {
            self.push(cmd.clone(), ctx);
        }
        // What runs on another host, or in another user's home, does not
        // see this shell's directory and variables.
        let saved = (u.remote || u.leaves_dir || u.chdir.is_some()).then(|| self.save());
        if u.remote {
            self.go_remote();
        } else if u.leaves_dir {
            self.cwd = None;
            self.oldpwd = None;
        }
        // `env -C /etc rm -rf *`: the inner command starts in that
        // directory (unknown when it is only known at run time).
        if let Some(dir) = u.chdir.as_deref().filter(|_| !u.remote) {
            let known = !dir.contains(['$', '`', '*', '?', '[']);
            let next = known
                .then(|| resolve(dir, self.cwd.as_deref(), self.home()))
                .flatten();
            self.oldpwd = std::mem::replace(&mut self.cwd, next);
        }
        let result = self.run_inner(&cmd, &u, ctx, &inner_ctx, depth);
        if let Some(saved) = saved {
            self.restore(saved);
        }
        result
    }

    /// The commands a wrapper runs.
    fn run_inner(
        &mut self,
        cmd: &SimpleCommand,
        u: &Unwrapped,
        ctx: &Ctx,
        inner_ctx: &Ctx,
        depth: usize,
    ) -> Res {
        for inner in &u.inner {
            match inner {
                Inner::Argv { start, end } => {
                    let argv = cmd.argv[*start..*end].to_vec();
                    let span = (argv[0].span.0, cmd.span.1.max(argv[0].span.1));
                    let next = SimpleCommand {
                        assignments: cmd.assignments.clone(),
                        argv,
                        redirects: cmd.redirects.clone(),
                        span,
                        context: Context {
                            input: cmd.context.input.clone(),
                            ..Context::default()
                        },
                    };
                    self.emit(next, inner_ctx, depth)?;
                }
                Inner::Line { start, end } => {
                    let words = &cmd.argv[*start..*end];
                    let mut line = words
                        .iter()
                        .map(|w| w.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                    for prefix in ["--command=", "--session-command="] {
                        if let Some(rest) = line.strip_prefix(prefix) {
                            line = rest.to_string();
                        }
                    }
                    let span = (words[0].span.0, words[words.len() - 1].span.1);
                    let mut line_ctx = inner_ctx.clone();
                    line_ctx.input.clone_from(&cmd.context.input);
                    if u.via == "eval" {
                        // eval runs its string in this very shell: a `cd`
                        // or an assignment in it holds afterwards.
                        self.walk_text(&line, Some(span), &line_ctx, depth + 1)?;
                    } else {
                        self.walk_child(&line, Some(span), &line_ctx, depth + 1, false)?;
                    }
                    if cmd.redirects.iter().any(|r| r.kind.writes()) {
                        let only = SimpleCommand {
                            redirects: cmd.redirects.clone(),
                            span: cmd.span,
                            ..SimpleCommand::default()
                        };
                        self.push(only, ctx);
                    }
                }
                Inner::Synthetic(words) => {
                    let argv = words.iter().map(|w| Word::literal(w, cmd.span)).collect();
                    let next = SimpleCommand {
                        argv,
                        span: cmd.span,
                        ..SimpleCommand::default()
                    };
                    self.emit(next, inner_ctx, depth)?;
                }
            }
        }
        Ok(())
    }

    /// A call of a function defined in the line: its body runs, reported
    /// at the call. A function that calls itself is a recursion, judged by
    /// [`Recursion::of_cycle`]. When bodies are walked where they are
    /// defined (`check --file`), a call only looks for recursion.
    fn call(
        &mut self,
        name: &str,
        body: &Rc<ast::FunctionBody>,
        cmd: &SimpleCommand,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        if self.at_definition {
            // The body was checked where it is defined, and recursion is
            // found in the call graph (`note_call`).
            return Ok(());
        }
        if let Some(at) = self.call_stack.iter().position(|(n, _)| n == name) {
            let cycle = self.call_stack[at + 1..]
                .iter()
                .map(|(_, call)| *call)
                .chain([CallSite::of(ctx)]);
            if Recursion::of_cycle(cycle) == Recursion::SelfSpawning {
                self.recursive_call(cmd, ctx);
            }
            return Ok(());
        }
        self.call_stack.push((name.to_string(), CallSite::of(ctx)));
        // Whether a call inside the body spawns or is guarded is a
        // property of the body, not of where it was called from.
        let mut body_ctx = ctx.clone();
        body_ctx.spawns = false;
        body_ctx.conditional = false;
        let result = self.function_body(body, cmd.span, &body_ctx, depth);
        self.call_stack.pop();
        result
    }

    /// Records a call of a function that spawns itself without end.
    fn recursive_call(&mut self, cmd: &SimpleCommand, ctx: &Ctx) {
        let mut c = ctx.clone();
        c.via.push("recursive-function".into());
        let rec = SimpleCommand {
            argv: vec![cmd.argv[0].clone()],
            span: cmd.span,
            ..SimpleCommand::default()
        };
        self.push(rec, &c);
    }

    /// In a whole script, where bodies are walked once where they are
    /// defined: a call by a literal name inside a function body is an edge
    /// of the call graph (the callee may be defined later). An edge that
    /// closes a cycle is a recursion, judged as at a call.
    fn note_call(&mut self, name: &str, cmd: &SimpleCommand, ctx: &Ctx) {
        let Some((caller, _)) = self.call_stack.last() else {
            return;
        };
        let caller = caller.clone();
        let site = CallSite::of(ctx);
        let edges = self.calls.entry(caller.clone()).or_default();
        if edges.iter().any(|(n, s)| n == name && *s == site) {
            return;
        }
        edges.push((name.to_string(), site));
        if let Some(path) = self.path_of_calls(name, &caller)
            && Recursion::of_cycle(path.into_iter().chain([site])) == Recursion::SelfSpawning
        {
            self.recursive_call(cmd, ctx);
        }
    }

    /// The calls from `from` that lead to `to` (empty when they are the
    /// same function), taking at each step the call most likely to spawn
    /// without end: unguarded, and spawning if one is.
    fn path_of_calls(&self, from: &str, to: &str) -> Option<Vec<CallSite>> {
        let mut seen: Vec<&str> = vec![from];
        let mut stack: Vec<(&str, Vec<CallSite>)> = vec![(from, Vec::new())];
        while let Some((at, path)) = stack.pop() {
            if at == to {
                return Some(path);
            }
            for (next, _) in self.calls.get(at).into_iter().flatten() {
                if seen.contains(&next.as_str()) {
                    continue;
                }
                seen.push(next);
                let worst = self.calls[at]
                    .iter()
                    .filter(|(n, _)| n == next)
                    .map(|(_, s)| *s)
                    .max_by_key(|s| (!s.conditional, s.spawns));
                let mut longer = path.clone();
                longer.extend(worst);
                stack.push((next, longer));
            }
        }
        None
    }

    /// A function definition: remembered, and in a whole script
    /// (`check --file`) its body is checked where it is written, whether
    /// it is called by a literal name or not.
    fn define(
        &mut self,
        def: &ast::FunctionDefinition,
        text: &str,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        let name = def.fname.value.clone();
        self.functions
            .insert(name.clone(), Rc::new(def.body.clone()));
        if !self.at_definition || self.call_stack.iter().any(|(n, _)| *n == name) {
            return Ok(());
        }
        let saved = self.save();
        self.call_stack.push((name, CallSite::of(ctx)));
        let mut body_ctx = ctx.clone();
        body_ctx.spawns = false;
        body_ctx.conditional = false;
        let mut result = self.compound(&def.body.0, text, src, &body_ctx, depth);
        if result.is_ok()
            && let Some(list) = &def.body.1
        {
            result = self.redirect_only(&list.0, src, &body_ctx, depth);
        }
        self.call_stack.pop();
        self.restore(saved);
        result
    }

    /// The cluster a command acts on, when it names one: kubectl, oc and
    /// helm's `--context`, `--kubeconfig`, or `KUBECONFIG` (assigned
    /// before the command, or known to the session).
    fn cluster_target(&self, cmd: &SimpleCommand, texts: &[&str]) -> Option<Target> {
        let named = |value: &str| {
            if value.contains(['$', '`']) {
                Target::Unknown(value.to_string())
            } else {
                Target::Cluster(value.to_string())
            }
        };
        if let Some(found) = cluster_of(texts) {
            let (Ok(value) | Err(value)) = found;
            return Some(named(value));
        }
        if !matches!(cmd.program(), Some("kubectl" | "oc" | "helm")) {
            return None;
        }
        let assigned = cmd
            .assignments
            .iter()
            .rev()
            .find(|(n, _)| n == "KUBECONFIG")
            .map(|(_, w)| w.text.as_str());
        assigned
            .or_else(|| self.var("KUBECONFIG"))
            .filter(|v| !v.is_empty())
            .map(named)
    }

    /// The hosts a wrapper's words name (`ssh HOST`, `pdsh -w a,b`).
    fn host_target(&self, cmd: &SimpleCommand, spec: &HostSpec, ctx: &Ctx) -> Target {
        match spec {
            HostSpec::Word(i) => match cmd.argv.get(*i) {
                Some(w) => host_of_word(w, ctx),
                None => Target::Unknown(String::new()),
            },
            HostSpec::List { word, from } => {
                let Some(w) = cmd.argv.get(*word) else {
                    return Target::Unknown(String::new());
                };
                let list = w.text.get(*from..).unwrap_or("");
                if w.dynamic {
                    return Target::Unknown(list.to_string());
                }
                let hosts: Vec<String> = list
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect();
                match <[String; 1]>::try_from(hosts) {
                    Ok([one]) => Target::Host(one),
                    Err(many) => Target::Hosts(many),
                }
            }
        }
    }

    /// `ssh [opts] HOST` reading its commands from stdin.
    fn remote_target(&self, cmd: &SimpleCommand, ctx: &Ctx) -> Target {
        let texts: Vec<&str> = cmd.argv.iter().map(|w| w.text.as_str()).collect();
        match crate::unwrap::ssh_host(&texts) {
            Some(i) => self.host_target(cmd, &HostSpec::Word(i), ctx),
            None => Target::Unknown(String::new()),
        }
    }

    /// What the shell's own builtins change for the commands after them:
    /// `cd` and `pushd` the directory, `read` and `unset` variables.
    fn track_builtin(&mut self, cmd: &SimpleCommand) {
        let Some(program) = cmd.program() else { return };
        match program {
            "cd" | "pushd" => {
                let operand = cmd
                    .args()
                    .iter()
                    .find(|w| w.dynamic || w.text == "-" || !w.text.starts_with('-'));
                let next = match operand {
                    None if program == "cd" => self.home().map(str::to_string),
                    None => None,
                    Some(w) if w.dynamic || w.glob => None,
                    Some(w) if w.text == "-" => self.oldpwd.clone(),
                    Some(w) if program == "pushd" && w.text.starts_with('+') => None,
                    Some(w) => resolve(&w.text, self.cwd.as_deref(), self.home()),
                };
                self.oldpwd = std::mem::replace(&mut self.cwd, next);
            }
            "popd" => self.oldpwd = self.cwd.take(),
            "read" | "unset" | "mapfile" | "readarray" | "getopts" | "wait" => {
                for w in cmd.args() {
                    let t = w.text.as_str();
                    if !t.is_empty()
                        && !t.starts_with(|c: char| c.is_ascii_digit())
                        && t.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
                    {
                        self.vars.insert(t.to_string(), None);
                    }
                }
            }
            _ => {}
        }
    }

    /// The script file a command runs, when scripts are read here: `bash
    /// x.sh`, `bash < x.sh`, `. x.sh`, or a program given by path
    /// (`./x.sh`). Scripts on another host cannot be read from this one.
    fn script_run(&self, cmd: &SimpleCommand) -> Option<ScriptCall> {
        if self.env.scripts.is_none() || self.isolated {
            return None;
        }
        let texts: Vec<&str> = cmd.argv.iter().map(|w| w.text.as_str()).collect();
        let texts = texts.as_slice();
        let call = |kind, at: usize| ScriptCall {
            kind,
            word: cmd.argv[at].clone(),
            args: at + 1,
        };
        match script_operand(texts) {
            Some(ScriptRun::Shell(i)) => return Some(call(ScriptKind::Shell, i)),
            Some(ScriptRun::Source(i)) => return Some(call(ScriptKind::Source, i)),
            None => {}
        }
        let first = cmd.argv.first()?;
        if !first.dynamic && !first.glob && first.text.contains('/') {
            return Some(call(ScriptKind::Exec, 0));
        }
        // `bash < x.sh`: a shell reading a script file on its stdin.
        let shell = texts
            .first()
            .is_some_and(|p| SHELL_INTERPRETERS.contains(&crate::command::program_name(p)));
        let operands = cmd
            .args()
            .iter()
            .filter(|w| !w.text.starts_with(['-', '+']));
        if !shell || operands.count() > 0 {
            return None;
        }
        let from = cmd.redirects.iter().rev().find(|r| {
            r.kind == RedirectKind::Read
                && r.fd.is_none_or(|fd| fd == 0)
                && !matches!(
                    r.target.text.as_str(),
                    "/dev/tty" | "/dev/stdin" | "/dev/null"
                )
        })?;
        Some(ScriptCall {
            kind: ScriptKind::Shell,
            word: from.target.clone(),
            args: cmd.argv.len(),
        })
    }

    /// Checks the script a command runs (`bash x.sh`, `. x.sh`, `./x.sh`)
    /// as part of the line; a script that cannot be read is itself a
    /// finding (`<unreadable-script>`), never silently allowed.
    fn run_script(
        &mut self,
        cmd: &SimpleCommand,
        call: ScriptCall,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        let Some(scripts) = self.env.scripts else {
            return Ok(());
        };
        let ScriptCall { kind, word, args } = call;
        let word = &word;
        // `bash <(curl …)`: judged by what feeds it.
        if word.dynamic && word.text.starts_with(['<', '>']) {
            return Ok(());
        }
        if word.dynamic || word.glob {
            return self.unreadable(cmd, word, "its name is only known at run time", ctx);
        }
        if self.scripts.len() >= self.limits.max_script_depth {
            let why = format!(
                "scripts run scripts more than {} deep",
                self.limits.max_script_depth
            );
            return self.unreadable(cmd, word, &why, ctx);
        }
        let Some(path) = resolve(&word.text, self.cwd.as_deref(), self.home()) else {
            return self.unreadable(cmd, word, "the working directory is not known", ctx);
        };
        if self.scripts.contains(&path) {
            // Already being checked: a script that runs itself.
            return Ok(());
        }
        let is_shell = |first_line: &str| {
            kind != ScriptKind::Exec
                || shebang(first_line).is_none_or(|i| SHELL_INTERPRETERS.contains(&i))
        };
        let text = match scripts.read(&path) {
            ScriptText::Text(text) => text,
            ScriptText::TooLarge { first_line, .. } if !is_shell(&first_line) => return Ok(()),
            ScriptText::TooLarge { limit, .. } => {
                let why = format!("it is larger than {} KiB", limit / 1024);
                return self.unreadable(cmd, word, &why, ctx);
            }
            ScriptText::Binary if kind == ScriptKind::Exec => return Ok(()),
            ScriptText::Binary => return self.unreadable(cmd, word, "it is not text", ctx),
            // Made earlier in the line (`curl -o x.sh … && bash x.sh`):
            // what it will hold is unknown.
            ScriptText::Missing if self.made_by_line(&word.text, &path) => {
                let why = "it does not exist yet: the line makes it";
                return self.unreadable(cmd, word, why, ctx);
            }
            // A program that is not there does not run (`./a.out` before
            // it is built, a typo): the shell says so.
            ScriptText::Missing if kind == ScriptKind::Exec => return Ok(()),
            ScriptText::Missing => return self.unreadable(cmd, word, "no such file", ctx),
            ScriptText::Unreadable(why) => return self.unreadable(cmd, word, &why, ctx),
        };
        if !is_shell(text.lines().next().unwrap_or("")) {
            return Ok(());
        }
        let program = if kind == ScriptKind::Exec {
            String::new()
        } else {
            format!("{} ", cmd.program().unwrap_or(""))
        };
        let mut inner = ctx.clone();
        inner.via.push(format!("{program}{}", word.text));
        inner.stdin_from = None;
        inner.input = Vec::new();
        self.scripts.push(path);
        // A new shell process gets its own functions and variables; `.`
        // reads the script into this shell.
        self.sourced |= kind == ScriptKind::Source;
        let saved = (kind != ScriptKind::Source)
            .then(|| (self.save(), std::mem::take(&mut self.functions)));
        let args = cmd.argv.get(args..).unwrap_or(&[]);
        let outer_args = self.args.clone();
        if kind != ScriptKind::Source || !args.is_empty() {
            for n in 1..=9 {
                let value = args
                    .get(n - 1)
                    .filter(|w| !w.dynamic)
                    .map(|w| w.text.clone());
                self.vars.insert(n.to_string(), value);
            }
            self.args = Some(
                args.iter()
                    .map(|w| Word::literal(&w.text, cmd.span))
                    .collect(),
            );
            if args.iter().any(|w| w.dynamic) {
                self.args = None;
            }
        }
        let result = self.walk_script(&text, cmd.span, &inner, depth + 1);
        self.args = outer_args;
        if let Some((vars, functions)) = saved {
            self.restore(vars);
            self.functions = functions;
        }
        self.scripts.pop();
        match result {
            Err(e @ ParseError::TooComplex { .. }) => Err(e),
            Err(e) => {
                let why = format!("it cannot be checked: {e}");
                self.unreadable(cmd, word, &why, ctx)
            }
            Ok(()) => Ok(()),
        }
    }

    /// Does a command found earlier in the line name this file (`curl -o
    /// x.sh`, `> x.sh`, `cp a x.sh`), so that the line may make it?
    fn made_by_line(&self, text: &str, path: &str) -> bool {
        let cwd = self.cwd.as_deref();
        let home = self.home();
        self.out.iter().any(|c| {
            c.args()
                .iter()
                .chain(c.redirects.iter().map(|r| &r.target))
                .any(|w| {
                    w.text == text
                        || w.text.ends_with(&format!("={text}"))
                        || resolve(&w.text, cwd, home).as_deref() == Some(path)
                })
        })
    }

    /// Records that a script the line runs could not be checked.
    fn unreadable(&mut self, cmd: &SimpleCommand, word: &Word, why: &str, ctx: &Ctx) -> Res {
        let argv = vec![
            Word::literal(UNREADABLE_SCRIPT, cmd.span),
            Word::literal(&word.text, word.span),
            Word::literal(why, cmd.span),
        ];
        let found = SimpleCommand {
            argv,
            span: cmd.span,
            ..SimpleCommand::default()
        };
        self.push(found, ctx);
        Ok(())
    }

    /// The program whose output became `word`, when the word is a command
    /// substitution found since `mark`.
    fn substitution_feed(&self, mark: usize, word: &Word) -> Option<Feed> {
        if !word.dynamic || !(word.text.starts_with("$(") || word.text.starts_with('`')) {
            return None;
        }
        let found = &self.out[mark..];
        let program = found
            .iter()
            .rev()
            .find_map(|c| c.program().filter(|p| !p.is_empty()))
            .map(str::to_string)?;
        // The whole word is one substitution holding one command of a
        // known shell set-up tool.
        let whole = (word.text.starts_with("$(") && word.text.ends_with(')'))
            || (word.text.starts_with('`') && word.text.ends_with('`') && word.text.len() > 1);
        let shell_setup = whole
            && found.len() == 1
            && found[0].program().is_some()
            && found[0].argv.iter().all(|w| !w.dynamic && !w.glob)
            && generates_shell_setup(
                &found[0]
                    .argv
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>(),
            );
        Some(Feed {
            program,
            shell_setup,
        })
    }

    /// Does this command run a script fed on its stdin? Returns how to name
    /// it in `via`, and whether it runs on another host.
    fn fed_script(&self, cmd: &SimpleCommand, ctx: &Ctx) -> Option<(String, bool)> {
        if cmd.context.input.is_empty() && ctx.input.is_empty() {
            return None;
        }
        let program = cmd.program()?;
        let positionals = cmd
            .args()
            .iter()
            .filter(|w| !w.text.starts_with('-'))
            .count();
        match program {
            "bash" | "sh" | "dash" | "zsh" | "ksh" | "ash" | "mksh" if positionals == 0 => {
                Some((format!("{program} <stdin"), false))
            }
            // `ssh [opts] host` with no command: the remote shell reads stdin.
            "ssh" => Some(("ssh <stdin".to_string(), true)),
            // `echo reboot | at now`: at and batch run their stdin later.
            "at" | "batch"
                if !cmd
                    .args()
                    .iter()
                    .any(|w| matches!(w.text.as_str(), "-l" | "-r" | "-c" | "-d" | "-f")) =>
            {
                Some((format!("{program} <stdin"), false))
            }
            _ => None,
        }
    }

    fn function_body(
        &mut self,
        body: &ast::FunctionBody,
        span: Span,
        ctx: &Ctx,
        depth: usize,
    ) -> Res {
        // The body's positions are in the line, but the call is what runs
        // it: report its commands at the call.
        let src = Src {
            byte_of: None,
            outer: Some(span),
            base: 0,
            text: String::new(),
        };
        self.compound(&body.0, "", &src, ctx, depth)?;
        if let Some(list) = &body.1 {
            self.redirect_only(&list.0, &src, ctx, depth)?;
        }
        Ok(())
    }

    /// Records a command with the walk's context, its paths resolved.
    fn push(&mut self, mut cmd: SimpleCommand, ctx: &Ctx) {
        self.resolve_paths(&mut cmd);
        self.record(cmd, ctx);
    }

    /// Records a command with the walk's context.
    fn record(&mut self, mut cmd: SimpleCommand, ctx: &Ctx) {
        let c = &mut cmd.context;
        c.via = ctx.via.clone();
        c.in_loop = ctx.in_loop;
        c.remote = ctx.remote;
        c.fleet = ctx.fleet;
        c.in_substitution = ctx.in_subst;
        c.stdin_from = ctx.stdin_from.clone();
        c.input.extend(ctx.input.iter().cloned());
        // `echo now | xargs reboot` runs once: a single known item is no loop.
        let single_item = ctx.input.len() == 1 && ctx.input[0].split_whitespace().count() <= 1;
        c.loop_item = (ctx.per_item && !single_item)
            || ctx.in_loop
                && ctx
                    .loop_vars
                    .iter()
                    .any(|(v, _)| cmd.argv.iter().skip(1).any(|w| mentions_var(&w.text, v)));
        c.target = ctx.target.clone();
        cmd.context.variants = self.loop_variants(&cmd, ctx);
        self.out.push(cmd);
    }

    /// The argv a command has for each item of the loops around it that
    /// it uses, when those items are known (`for d in /etc /usr; do rm -rf
    /// $d; done` is `rm -rf /etc` and `rm -rf /usr`), at most 16, with
    /// their paths resolved.
    fn loop_variants(&self, cmd: &SimpleCommand, ctx: &Ctx) -> Vec<Vec<Word>> {
        const MAX: usize = 16;
        let mut variants: Vec<Vec<Word>> = Vec::new();
        if !ctx.in_loop {
            return variants;
        }
        for (name, items) in ctx.loop_vars.iter().rev() {
            let Some(items) = items else { continue };
            if !cmd
                .argv
                .iter()
                .any(|w| w.dynamic && mentions_var(&w.text, name))
            {
                continue;
            }
            let bases = if variants.is_empty() {
                vec![cmd.argv.clone()]
            } else {
                std::mem::take(&mut variants)
            };
            for base in &bases {
                for item in items.iter().take(MAX.saturating_sub(variants.len())) {
                    let argv = base
                        .iter()
                        .map(|w| {
                            if !w.dynamic || !mentions_var(&w.text, name) {
                                return w.clone();
                            }
                            let text = substitute_var(&w.text, name, item);
                            Word {
                                dynamic: text.contains(['$', '`']),
                                glob: w.glob || is_glob(item),
                                text,
                                span: w.span,
                                path: None,
                            }
                        })
                        .collect();
                    variants.push(argv);
                }
            }
        }
        for argv in &mut variants {
            let mut form = SimpleCommand {
                argv: std::mem::take(argv),
                ..SimpleCommand::default()
            };
            self.resolve_paths(&mut form);
            *argv = form.argv;
        }
        variants
    }

    /// Gives the words that name files their path in this place (the
    /// working directory, the home directory): `rm -rf *` in `/etc`
    /// removes `/etc/*`. For programs whose operands are files every
    /// operand is a path; for others only words shaped like paths.
    fn resolve_paths(&self, cmd: &mut SimpleCommand) {
        let cwd = self.cwd.as_deref();
        let home = self.home();
        let file_program = cmd
            .program()
            .is_some_and(|p| FILE_OPERAND_PROGRAMS.contains(&p) || p.starts_with("mkfs"));
        for (i, w) in cmd.argv.iter_mut().enumerate() {
            if w.dynamic {
                continue;
            }
            let candidate = if i == 0 {
                w.text.contains('/')
            } else if file_program {
                is_operand(&w.text)
            } else {
                looks_like_path(&w.text)
            };
            if candidate {
                w.path = resolved_form(&w.text, cwd, home);
            }
        }
        for r in &mut cmd.redirects {
            let t = &mut r.target;
            if r.kind != RedirectKind::Duplicate && !t.dynamic && is_operand(&t.text) {
                t.path = resolved_form(&t.text, cwd, home);
            }
        }
    }
}

/// A script file a command runs: how, the word naming it, and where the
/// script's arguments start in the command's argv.
struct ScriptCall {
    kind: ScriptKind,
    word: Word,
    args: usize,
}

/// How a command runs a script file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScriptKind {
    /// `bash x.sh`: a new shell reads it.
    Shell,
    /// `. x.sh`: this shell reads it.
    Source,
    /// `./x.sh`: the kernel runs it, through its `#!` interpreter.
    Exec,
}

/// The host a word names: itself when known; each item of the loops
/// around when it is made of their variables (`for h in a b; do ssh $h`);
/// its text as written when only known at run time.
fn host_of_word(w: &Word, ctx: &Ctx) -> Target {
    if !w.dynamic {
        return Target::Host(w.text.clone());
    }
    for (name, items) in ctx.loop_vars.iter().rev() {
        let Some(items) = items else { continue };
        if !mentions_var(&w.text, name) {
            continue;
        }
        let hosts: Vec<String> = items
            .iter()
            .map(|item| substitute_var(&w.text, name, item))
            .collect();
        if hosts.iter().all(|h| !h.contains(['$', '`'])) {
            return Target::Hosts(hosts);
        }
    }
    Target::Unknown(w.text.clone())
}

/// Is the word made of named variables only (`$JAVACMD`, `${tool}`), no
/// command substitution, no positional parameter?
fn is_own_variable(w: &Word) -> bool {
    if !w.dynamic || w.text.contains("$(") || w.text.contains('`') {
        return false;
    }
    w.text.match_indices('$').all(|(i, _)| {
        let rest = &w.text[i + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        rest.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
    })
}

/// `declare -n`, `typeset -n`, `local -n` (the `n` in any cluster of
/// short options) so far in `argv`: the names it assigns are references.
fn declares_nameref(argv: &[Word]) -> bool {
    let declares = argv
        .first()
        .is_some_and(|w| matches!(w.text.as_str(), "declare" | "typeset" | "local"));
    declares
        && argv[1..].iter().any(|w| {
            w.dynamic
                || w.text
                    .strip_prefix('-')
                    .is_some_and(|o| !o.starts_with('-') && o.contains('n'))
        })
}

/// Does `text` name the variable `name` anywhere but in an expansion
/// (`$name`, `${name…}`): as a word, in `name=`, after `printf -v`, in
/// `(( name = 1 ))` — the ways a line can set it?
fn named_outside_expansions(text: &str, name: &str) -> bool {
    let ident = |c: char| c == '_' || c.is_ascii_alphanumeric();
    text.match_indices(name).any(|(i, _)| {
        let before = &text[..i];
        let after = &text[i + name.len()..];
        !before.chars().next_back().is_some_and(ident)
            && !after.chars().next().is_some_and(ident)
            && !before.ends_with("${")
            && !before.ends_with('$')
    })
}

/// Does `text` use the variable `name` (`$name` or `${name}`)?
fn mentions_var(text: &str, name: &str) -> bool {
    let ident = |c: char| c == '_' || c.is_ascii_alphanumeric();
    text.match_indices('$').any(|(i, _)| {
        let rest = &text[i + 1..];
        match rest.strip_prefix('{') {
            Some(braced) => braced
                .strip_prefix(name)
                .is_some_and(|r| r.starts_with('}')),
            None => rest
                .strip_prefix(name)
                .is_some_and(|r| !r.starts_with(ident)),
        }
    })
}

/// `text` with `$name` and `${name}` replaced by `value`.
fn substitute_var(text: &str, name: &str, value: &str) -> String {
    let braced = format!("${{{name}}}");
    let plain = format!("${name}");
    let text = text.replace(&braced, value);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(&plain) {
        let after = &rest[at + plain.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric()) {
            out.push_str(&plain);
        } else {
            out.push_str(value);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Is the list exactly one of these commands, with no arguments (`true`,
/// `:`)?
fn is_only_command(list: &ast::CompoundList, names: &[&str]) -> bool {
    let [item] = list.0.as_slice() else {
        return false;
    };
    let and_or = &item.0;
    let [ast::Command::Simple(sc)] = and_or.first.seq.as_slice() else {
        return false;
    };
    and_or.additional.is_empty()
        && !and_or.first.bang
        && sc.prefix.is_none()
        && sc.suffix.is_none()
        && sc
            .word_or_name
            .as_ref()
            .is_some_and(|w| names.contains(&w.value.as_str()))
}

/// Does unquoted text contain a pattern that pathname expansion would
/// expand? `*` and `?` always are; `[` only opens a bracket expression when
/// a `]` closes it later (`[abc]`, `x[0-9]`). So `[` and `]`, the words of
/// the `test` builtin (`[ -f x ]`), are plain words, as in bash.
fn is_glob(text: &str) -> bool {
    if text.contains(['*', '?']) {
        return true;
    }
    // A `]` right after the `[` (or after `[!`/`[^`) is part of the set.
    text.match_indices('[').any(|(i, _)| {
        let rest = &text[i + 1..];
        let rest = rest.strip_prefix(['!', '^']).unwrap_or(rest);
        let rest = rest.strip_prefix(']').unwrap_or(rest);
        rest.contains(']')
    })
}

/// Brace expansion of the program word: `{reboot,}` runs `reboot`, and
/// `{echo,reboot}` runs `echo reboot`. Only a word whose every part is
/// known is expanded; anything else stays a run-time (dynamic) program.
pub(super) fn expand_braces_in_program(argv: &mut Vec<Word>) {
    let Some(first) = argv.first() else { return };
    if !first.glob
        || first.dynamic
        || first.text.contains(['*', '?', '['])
        || !first.text.contains('{')
    {
        return;
    }
    let Ok(Some(parts)) = bword::parse_brace_expansions(&first.text, &ParserOptions::default())
    else {
        return;
    };
    let mut words = vec![String::new()];
    if !brace_words(&parts, &mut words) {
        return;
    }
    let span = first.span;
    let expanded: Vec<Word> = words
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(|w| Word::literal(&w, span))
        .collect();
    if expanded.is_empty() {
        return;
    }
    argv.splice(0..1, expanded);
}

/// The variables that name the user's own editor or pager, and the
/// Debian alternatives name of the same tool: `sudo $EDITOR FILE` edits
/// FILE with whatever the operator chose, which is `editor` by another
/// name, not an unknown program. Only reached when the place the line runs
/// does not know the variable (a known value is substituted before) and
/// the line does not set it; an unset one would run FILE itself, which is
/// no worse than running it by name.
const USER_TOOL_VARIABLES: &[(&str, &str)] = &[
    ("EDITOR", "editor"),
    ("VISUAL", "editor"),
    ("SUDO_EDITOR", "editor"),
    ("PAGER", "pager"),
    ("MANPAGER", "pager"),
];

/// `eval "$1=\"\$2\""`, `eval ${var}=value`: the idiom for setting a
/// variable whose name is held in another. Under eval the expanded word is
/// an assignment; anywhere else it is a command named `NAME=value`, which
/// does not exist. Either way no program runs, so leading words of that
/// shape are taken as assignments (whose names are unknown), not as a
/// program known only at run time.
pub(super) fn drop_indirect_assignments(argv: &mut Vec<Word>) {
    let lead = argv
        .iter()
        .take_while(|w| w.dynamic && is_indirect_assignment(&w.text))
        .count();
    argv.drain(..lead);
}

/// `$NAME=…`, `${NAME}=…`, `$1=…`, `"$1"=…`: one parameter expansion,
/// then `=`.
fn is_indirect_assignment(text: &str) -> bool {
    let text = text.strip_prefix('"').unwrap_or(text);
    let Some(rest) = text.strip_prefix('$') else {
        return false;
    };
    let name_end = if let Some(braced) = rest.strip_prefix('{') {
        match braced.find('}') {
            Some(close) if close > 0 && braced[..close].chars().all(is_name_char) => close + 2,
            _ => return false,
        }
    } else {
        let n = rest.chars().take_while(|c| is_name_char(*c)).count();
        if n == 0 {
            return false;
        }
        n
    };
    let after = &rest[name_end..];
    let after = after.strip_prefix('"').unwrap_or(after);
    after.starts_with('=')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The source text of a process substitution, `<(curl …)`, when it is
/// known; `<(…)` otherwise.
pub(super) fn process_substitution_text(
    src: &Src,
    kind: &ast::ProcessSubstitutionKind,
    loc: &brush_parser::SourceSpan,
) -> String {
    let sigil = match kind {
        ast::ProcessSubstitutionKind::Read => '<',
        ast::ProcessSubstitutionKind::Write => '>',
    };
    let body = char_slice(&src.text, loc.start.index, loc.end.index);
    let body = body.strip_prefix(['<', '>']).unwrap_or(&body);
    if body.starts_with('(') && body.ends_with(')') {
        format!("{sigil}{body}")
    } else {
        format!("{sigil}(…)")
    }
}

pub(super) fn span_of_redirects(redirects: &[Redirect]) -> Span {
    let start = redirects.iter().map(|r| r.target.span.0).min().unwrap_or(0);
    let end = redirects.iter().map(|r| r.target.span.1).max().unwrap_or(0);
    (start, end)
}
