//! From a shell line to every simple command it could run.
//!
//! The grammar is brush-parser's (see NOTES.md for why); this module walks
//! its syntax tree and removes quotes the way the shell does. Around the
//! parser sit the guards it needs: a length limit and a nesting limit
//! checked before parsing (brush-parser takes exponential time on unclosed
//! `( ( (` and overflows its stack on very deep input), a bound on how often
//! strings are parsed again (`bash -c "bash -c '…'"`), and a step budget.
//! Whatever cannot be understood is an error — "cannot tell what runs" —
//! never a silent "safe".
//!
//! Also covered here, because only the walk knows the context:
//! - `( ( reboot ) )`, which brush-parser reads as arithmetic;
//! - functions defined in the line (calling one runs its body; a function
//!   calling itself is reported as `<recursive-function>`);
//! - literal assignments earlier in the line (`x=reboot; $x` runs `reboot`);
//! - pipelines (who feeds whose stdin) and here-documents.
//!
//! A fast path handles lines made only of plain words (no quotes, no
//! expansions, no operators), which are most lines typed at a prompt.

use std::collections::HashMap;
use std::rc::Rc;

use brush_parser::ast;
use brush_parser::word::{self as bword, WordPiece, WordPieceWithSource};
use brush_parser::{ParserOptions, TokenizerError};

use crate::command::{Context, Redirect, RedirectKind, SimpleCommand, Span, Word};
use crate::unwrap::{Inner, unwrap};

/// Bounds on the work one line may cause.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes in the whole input.
    pub max_len: usize,
    /// Nesting of brackets and compound commands.
    pub max_depth: usize,
    /// Parentheses still open at the end of the input.
    pub max_unclosed_parens: usize,
    /// Strings parsed again inside strings (`bash -c`, `ssh host '…'`, `$(…)`).
    pub max_reparse_depth: usize,
    /// Simple commands, function calls and re-parses together.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 256 * 1024,
            max_depth: 64,
            max_unclosed_parens: 10,
            max_reparse_depth: 12,
            max_steps: 20_000,
        }
    }
}

/// Why a line could not be understood. Every one of these means "cannot
/// tell what runs": the line is never treated as safe.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the input is {len} bytes long; safe-run checks at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("the line nests more than {max} levels deep")]
    TooDeep { max: usize },
    #[error("the line leaves {count} parentheses open")]
    Unbalanced { count: usize },
    #[error("the line is not finished: {what}")]
    Incomplete { what: String },
    #[error("syntax error at line {line}, column {col}{near}")]
    Syntax {
        line: usize,
        col: usize,
        near: String,
    },
    #[error("too complex to check (more than {max} commands, calls and nested strings)")]
    TooComplex { max: usize },
    #[error("cannot read the word {word:?}: {what}")]
    BadWord { word: String, what: String },
}

impl ParseError {
    /// The line may become valid when more lines are added (an unclosed
    /// quote, `if` without `fi`, a trailing `|`): a prompt asks for more.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, ParseError::Incomplete { .. })
    }
}

/// Every simple command a line could run, in the order they appear.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub commands: Vec<SimpleCommand>,
}

/// Parses one line (or a whole script) with the default limits.
pub fn parse_line(line: &str) -> Result<Script, ParseError> {
    parse_with(line, &Limits::default())
}

/// Parses with explicit limits.
pub fn parse_with(line: &str, limits: &Limits) -> Result<Script, ParseError> {
    let mut walker = Walker {
        limits,
        out: Vec::new(),
        vars: HashMap::new(),
        functions: HashMap::new(),
        call_stack: Vec::new(),
        steps: 0,
        options: ParserOptions::default(),
    };
    let ctx = Ctx::default();
    if line.len() > limits.max_len {
        return Err(ParseError::TooLong {
            len: line.len(),
            max: limits.max_len,
        });
    }
    if let Some(words) = plain_words(line) {
        let argv: Vec<Word> = words
            .into_iter()
            .map(|(t, s)| Word::literal(t, s))
            .collect();
        if !argv.is_empty() {
            let span = (argv[0].span.0, argv[argv.len() - 1].span.1);
            let cmd = SimpleCommand {
                argv,
                span,
                ..SimpleCommand::default()
            };
            walker.emit(cmd, &ctx, 0)?;
        }
    } else {
        walker.walk_text(line, None, &ctx, 0)?;
    }
    Ok(Script {
        commands: walker.out,
    })
}

/// Quotes one word for display the way a shell would read it back.
pub fn quote_word(word: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"_./:=,@%+-^".contains(&b);
    if !word.is_empty() && word.bytes().all(safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// An argv given directly (`safe-run -- PROG ARGS…`): one simple command,
/// no shell involved, but wrappers are still seen through (`sudo reboot`,
/// `bash -c '…'`). Returns the display line (each word quoted as a shell
/// would need) and the commands, with spans into that line.
pub fn parse_argv(argv: &[String]) -> Result<(String, Script), ParseError> {
    let limits = Limits::default();
    let mut line = String::new();
    let mut words = Vec::with_capacity(argv.len());
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let start = line.len();
        line.push_str(&quote_word(a));
        words.push(Word::literal(a, (start, line.len())));
    }
    if line.len() > limits.max_len {
        return Err(ParseError::TooLong {
            len: line.len(),
            max: limits.max_len,
        });
    }
    let mut walker = Walker {
        limits: &limits,
        out: Vec::new(),
        vars: HashMap::new(),
        functions: HashMap::new(),
        call_stack: Vec::new(),
        steps: 0,
        options: ParserOptions::default(),
    };
    if !words.is_empty() {
        let cmd = SimpleCommand {
            span: (0, line.len()),
            argv: words,
            ..SimpleCommand::default()
        };
        walker.emit(cmd, &Ctx::default(), 0)?;
    }
    Ok((
        line,
        Script {
            commands: walker.out,
        },
    ))
}

/// The words of a line made only of plain characters, with their spans, or
/// `None` when the line needs the real parser. Plain means: no quotes,
/// expansions, globs, operators, comments or newlines, and no reserved word
/// or assignment in first position.
fn plain_words(line: &str) -> Option<Vec<(&str, Span)>> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b" \t_./:=,@%+-".contains(&b);
    if !line.bytes().all(plain) {
        return None;
    }
    let mut words = Vec::new();
    let mut start = None;
    for (i, b) in line.bytes().enumerate() {
        match (b == b' ' || b == b'\t', start) {
            (true, Some(s)) => {
                words.push((&line[s..i], (s, i)));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((&line[s..], (s, line.len())));
    }
    if let Some((first, _)) = words.first()
        && (first.contains('=') || RESERVED.contains(first))
    {
        return None;
    }
    Some(words)
}

const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "time", "coproc",
];

/// Checks the length and nesting of `text` before the parser sees it.
fn guard(text: &str, limits: &Limits) -> Result<(), ParseError> {
    if text.len() > limits.max_len {
        return Err(ParseError::TooLong {
            len: text.len(),
            max: limits.max_len,
        });
    }
    // A stack of the quoting and bracket contexts, as the shell nests them:
    // inside double quotes only `$(`, `${` and backquotes open a context,
    // and inside those, quotes start afresh (`"${x:-"a"}"`).
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Frame {
        Double,
        Paren,
        Brace,
        Backquote,
    }
    let too_deep = || ParseError::TooDeep {
        max: limits.max_depth,
    };
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut keywords: usize = 0;
    let mut word_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let quoted = stack.last() == Some(&Frame::Double);
        let next = bytes.get(i + 1).copied();
        match b {
            b'\\' => {
                i += 2;
                word_start = false;
                continue;
            }
            b'\'' if !quoted => {
                // Single quotes: nothing inside counts.
                let close = bytes[i + 1..].iter().position(|c| *c == b'\'');
                i = close.map_or(bytes.len(), |p| i + 2 + p);
                word_start = false;
                continue;
            }
            b'"' if quoted => {
                stack.pop();
            }
            b'"' => stack.push(Frame::Double),
            b'`' if stack.last() == Some(&Frame::Backquote) => {
                stack.pop();
            }
            b'`' => stack.push(Frame::Backquote),
            b'$' if next == Some(b'(') || next == Some(b'{') => {
                stack.push(if next == Some(b'(') {
                    Frame::Paren
                } else {
                    Frame::Brace
                });
                i += 2;
                word_start = true;
                if stack.len() + keywords > limits.max_depth {
                    return Err(too_deep());
                }
                continue;
            }
            _ if quoted => {}
            b'(' => stack.push(Frame::Paren),
            b'{' => stack.push(Frame::Brace),
            b')' if stack.last() == Some(&Frame::Paren) => {
                stack.pop();
            }
            b'}' if stack.last() == Some(&Frame::Brace) => {
                stack.pop();
            }
            _ if word_start && b.is_ascii_alphabetic() => {
                let end = bytes[i..]
                    .iter()
                    .position(|c| !c.is_ascii_alphabetic())
                    .map_or(bytes.len(), |p| i + p);
                let ends_word = bytes.get(end).is_none_or(|c| b" \t\n;&|)".contains(c));
                if ends_word {
                    match &text[i..end] {
                        "if" | "case" | "do" => keywords += 1,
                        "fi" | "esac" | "done" => keywords = keywords.saturating_sub(1),
                        _ => {}
                    }
                }
                i = end;
                word_start = false;
                if stack.len() + keywords > limits.max_depth {
                    return Err(too_deep());
                }
                continue;
            }
            _ => {}
        }
        word_start = b" \t\n;&|(){}`".contains(&b);
        if stack.len() + keywords > limits.max_depth {
            return Err(too_deep());
        }
        i += 1;
    }
    let parens = stack.iter().filter(|f| **f == Frame::Paren).count();
    if parens > limits.max_unclosed_parens {
        return Err(ParseError::Unbalanced { count: parens });
    }
    Ok(())
}

fn parse_program(text: &str, options: &ParserOptions) -> Result<ast::Program, ParseError> {
    // brush-parser can panic on input it did not expect (an `unwrap` on a
    // redirection's fd number above 2^31-1 was found by fuzzing). A panic
    // here would end an operator's login shell, so it is caught, kept off
    // the terminal, and becomes "cannot tell what runs".
    quiet_panics_in_parser();
    let result = std::panic::catch_unwind(|| {
        IN_PARSER.with(|f| f.set(true));
        let mut reader = std::io::Cursor::new(text.as_bytes());
        let mut parser = brush_parser::Parser::new(&mut reader, options);
        let parsed = parser.parse_program();
        IN_PARSER.with(|f| f.set(false));
        parsed
    });
    match result {
        Ok(parsed) => parsed.map_err(|e| convert_error(e, text)),
        Err(_) => {
            IN_PARSER.with(|f| f.set(false));
            Err(ParseError::Syntax {
                line: 1,
                col: 1,
                near: ": the shell parser could not read this line".into(),
            })
        }
    }
}

thread_local! {
    /// Set while brush-parser runs on this thread.
    static IN_PARSER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs, once, a panic hook that stays silent for panics inside the
/// parser (they are caught and reported as parse errors) and otherwise
/// defers to the hook that was there before.
fn quiet_panics_in_parser() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_PARSER.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

fn convert_error(e: brush_parser::ParseError, text: &str) -> ParseError {
    use brush_parser::ParseError as P;
    match e {
        P::ParsingAtEndOfInput => ParseError::Incomplete {
            what: "the command is not complete".into(),
        },
        P::ParsingNear(pos) => {
            let near: String = text.chars().skip(pos.index).take(20).collect();
            let near = near.lines().next().unwrap_or("").to_string();
            ParseError::Syntax {
                line: pos.line,
                col: pos.column,
                near: if near.is_empty() {
                    String::new()
                } else {
                    format!(" near {near:?}")
                },
            }
        }
        P::Tokenizing { inner, position } => {
            let unfinished = matches!(
                inner,
                TokenizerError::UnterminatedEscapeSequence
                    | TokenizerError::UnterminatedSingleQuote(_)
                    | TokenizerError::UnterminatedAnsiCQuote(_)
                    | TokenizerError::UnterminatedDoubleQuote(_)
                    | TokenizerError::UnterminatedBackquote(_)
                    | TokenizerError::UnterminatedExtendedGlob(_)
                    | TokenizerError::UnterminatedVariable
                    | TokenizerError::UnterminatedCommandSubstitution
                    | TokenizerError::UnterminatedExpansion
                    | TokenizerError::UnterminatedHereDocuments(..)
                    | TokenizerError::MissingHereTagForDocumentBody
            );
            if unfinished {
                ParseError::Incomplete {
                    what: inner.to_string(),
                }
            } else {
                let (line, col) = position.map_or((1, 1), |p| (p.line, p.column));
                ParseError::Syntax {
                    line,
                    col,
                    near: format!(": {inner}"),
                }
            }
        }
    }
}

/// How positions in one parsed text map back to the checked line.
struct Src {
    /// Byte offset of every char index, when the text is not ASCII.
    byte_of: Option<Vec<usize>>,
    /// Set for a text that was parsed again from inside a word: every
    /// command found in it is reported at that word's span.
    outer: Option<Span>,
    /// The parsed text itself (empty for a function body walked at a call).
    text: String,
}

impl Src {
    fn new(text: &str, outer: Option<Span>) -> Self {
        let byte_of = (outer.is_none() && !text.is_ascii()).then(|| {
            let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            v.push(text.len());
            v
        });
        Src {
            byte_of,
            outer,
            text: text.to_string(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.byte_of {
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
            None => (0, 0),
        }
    }
}

/// What the walk knows about where it is.
#[derive(Clone, Default)]
struct Ctx {
    via: Vec<String>,
    in_loop: bool,
    remote: bool,
    fleet: bool,
    in_subst: bool,
    loop_vars: Vec<String>,
    stdin_from: Option<String>,
    input: Vec<String>,
    /// Runs once per input item (`xargs`, `parallel`).
    per_item: bool,
}

struct Walker<'l> {
    limits: &'l Limits,
    out: Vec<SimpleCommand>,
    /// Literal values of variables assigned earlier in the line.
    vars: HashMap<String, String>,
    functions: HashMap<String, Rc<ast::FunctionBody>>,
    call_stack: Vec<String>,
    steps: usize,
    options: ParserOptions,
}

type Res = Result<(), ParseError>;

impl Walker<'_> {
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
    fn walk_text(&mut self, text: &str, outer: Option<Span>, ctx: &Ctx, depth: usize) -> Res {
        if depth > self.limits.max_reparse_depth {
            return Err(ParseError::TooDeep {
                max: self.limits.max_reparse_depth,
            });
        }
        self.step()?;
        guard(text, self.limits)?;
        if text.trim().is_empty() {
            return Ok(());
        }
        let program = parse_program(text, &self.options)?;
        let src = Src::new(text, outer);
        for list in &program.complete_commands {
            self.compound_list(list, text, &src, ctx, depth)?;
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
            self.pipeline(&and_or.first, text, src, ctx, depth)?;
            for next in &and_or.additional {
                let (ast::AndOr::And(p) | ast::AndOr::Or(p)) = next;
                self.pipeline(p, text, src, ctx, depth)?;
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
            self.command(cmd, text, src, ctx_for, depth)?;
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
            ast::Command::Function(def) => {
                self.functions
                    .insert(def.fname.value.clone(), Rc::new(def.body.clone()));
                Ok(())
            }
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
            C::Subshell(s) => self.compound_list(&s.list, text, src, ctx, depth),
            C::ForClause(f) => {
                if let Some(values) = &f.values {
                    for v in values {
                        self.expand(v, src, ctx, depth)?;
                    }
                }
                self.vars.remove(&f.variable_name);
                let mut inner = ctx.clone();
                inner.in_loop = true;
                inner.loop_vars.push(f.variable_name.clone());
                self.compound_list(&f.body.list, text, src, &inner, depth)
            }
            C::CaseClause(c) => {
                self.expand(&c.value, src, ctx, depth)?;
                for item in &c.cases {
                    for p in &item.patterns {
                        self.expand(p, src, ctx, depth)?;
                    }
                    if let Some(list) = &item.cmd {
                        self.compound_list(list, text, src, ctx, depth)?;
                    }
                }
                Ok(())
            }
            C::IfClause(i) => {
                self.compound_list(&i.condition, text, src, ctx, depth)?;
                self.compound_list(&i.then, text, src, ctx, depth)?;
                for e in i.elses.iter().flatten() {
                    if let Some(cond) = &e.condition {
                        self.compound_list(cond, text, src, ctx, depth)?;
                    }
                    self.compound_list(&e.body, text, src, ctx, depth)?;
                }
                Ok(())
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                let mut inner = ctx.clone();
                inner.in_loop = true;
                // `while read h; do …; done`: the variables read are unknown.
                self.compound_list(&w.0, text, src, &inner, depth)?;
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
        let mut program_feed: Option<String> = None;
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
                    let value = self.assignment_value(&assignment.value, src, ctx, depth)?;
                    if in_prefix && cmd.argv.is_empty() {
                        if let ast::AssignmentName::VariableName(name) = &assignment.name {
                            cmd.assignments.push((name.clone(), value));
                        }
                    } else {
                        // `export X=1`, `local y=$(…)`: an argument word.
                        let w = self.expand(word, src, ctx, depth)?;
                        if let ast::AssignmentName::VariableName(name) = &assignment.name {
                            self.remember(name, &value);
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
            feeds.insert(0, feed);
        }
        expand_braces_in_program(&mut cmd.argv);

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
        self.compound_list(list, "", src, ctx, depth)
    }

    fn remember(&mut self, name: &str, value: &Word) {
        if value.dynamic || value.glob {
            self.vars.remove(name);
        } else {
            self.vars.insert(name.to_string(), value.text.clone());
        }
    }

    fn assignment_value(
        &mut self,
        value: &ast::AssignmentValue,
        src: &Src,
        ctx: &Ctx,
        depth: usize,
    ) -> Result<Word, ParseError> {
        match value {
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
                        && (t.contains(['*', '?', '['])
                            || (t.contains('{') && t.contains(',') && t.contains('}')))
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
                        } => self.vars.get(name).cloned(),
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
                    let mut inner = ctx.clone();
                    inner.in_subst = true;
                    self.walk_text(s, outer, &inner, depth + 1)?;
                    out.text.push_str(&raw_piece());
                    out.dynamic = true;
                }
                WordPiece::BackquotedCommandSubstitution(s) => {
                    let mut inner = ctx.clone();
                    inner.in_subst = true;
                    let unescaped = unescape_backquoted(s);
                    self.walk_text(&unescaped, outer, &inner, depth + 1)?;
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
                        self.walk_text(inner_text, outer, &inner, depth + 1)?;
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
    fn emit(&mut self, cmd: SimpleCommand, ctx: &Ctx, depth: usize) -> Res {
        self.step()?;
        let Some(first) = cmd.argv.first() else {
            self.push(cmd, ctx);
            return Ok(());
        };
        if !first.dynamic && !first.text.contains('/') {
            let name = first.text.clone();
            if let Some(body) = self.functions.get(&name).cloned() {
                if self.call_stack.contains(&name) {
                    let mut c = ctx.clone();
                    c.via.push("recursive-function".into());
                    let rec = SimpleCommand {
                        argv: vec![first.clone()],
                        span: cmd.span,
                        ..SimpleCommand::default()
                    };
                    self.push(rec, &c);
                    return Ok(());
                }
                self.call_stack.push(name);
                let result = self.function_body(&body, cmd.span, ctx, depth);
                self.call_stack.pop();
                return result;
            }
        }
        let texts: Vec<&str> = cmd.argv.iter().map(|w| w.text.as_str()).collect();
        let Some(u) = unwrap(&texts) else {
            let fed = self.fed_script(&cmd, ctx);
            self.push(cmd.clone(), ctx);
            // `echo reboot | bash`, `ssh host <<EOF … EOF`: a shell reading
            // its commands from stdin runs the text it is fed.
            if let Some((via, remote)) = fed {
                let mut inner = ctx.clone();
                inner.via.push(via);
                inner.remote |= remote;
                inner.fleet |= remote && ctx.in_loop;
                inner.stdin_from = None;
                inner.input = Vec::new();
                let texts: Vec<String> = cmd
                    .context
                    .input
                    .iter()
                    .chain(ctx.input.iter())
                    .cloned()
                    .collect();
                for text in texts {
                    self.walk_text(&text, Some(cmd.span), &inner, depth + 1)?;
                }
            }
            return Ok(());
        };
        let mut inner_ctx = ctx.clone();
        inner_ctx.via.push(u.via.clone());
        inner_ctx.remote |= u.remote;
        inner_ctx.fleet |= u.fleet || (u.remote && ctx.in_loop);
        inner_ctx.in_loop |= u.repeated;
        inner_ctx.per_item |= u.per_item;
        if u.keep_self {
            self.push(cmd.clone(), ctx);
        }
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
                    self.emit(next, &inner_ctx, depth)?;
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
                    self.walk_text(&line, Some(span), &line_ctx, depth + 1)?;
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
                    self.emit(next, &inner_ctx, depth)?;
                }
            }
        }
        Ok(())
    }

    /// The program whose output became `word`, when the word is a command
    /// substitution found since `mark`.
    fn substitution_feed(&self, mark: usize, word: &Word) -> Option<String> {
        if !word.dynamic || !(word.text.starts_with("$(") || word.text.starts_with('`')) {
            return None;
        }
        self.out[mark..]
            .iter()
            .rev()
            .find_map(|c| c.program().filter(|p| !p.is_empty()))
            .map(str::to_string)
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
            text: String::new(),
        };
        self.compound(&body.0, "", &src, ctx, depth)?;
        if let Some(list) = &body.1 {
            self.redirect_only(&list.0, &src, ctx, depth)?;
        }
        Ok(())
    }

    /// Records a command with the walk's context.
    fn push(&mut self, mut cmd: SimpleCommand, ctx: &Ctx) {
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
                && ctx.loop_vars.iter().any(|v| {
                    cmd.argv.iter().skip(1).any(|w| {
                        w.text.contains(&format!("${v}")) || w.text.contains(&format!("${{{v}}}"))
                    })
                });
        self.out.push(cmd);
    }
}

/// Brace expansion of the program word: `{reboot,}` runs `reboot`, and
/// `{echo,reboot}` runs `echo reboot`. Only a word whose every part is
/// known is expanded; anything else stays a run-time (dynamic) program.
fn expand_braces_in_program(argv: &mut Vec<Word>) {
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

/// Appends the expansions of `parts` to every prefix in `out`; `false` when
/// the expansion would be too large to be worth it (more than 64 words).
fn brace_words(parts: &[bword::BraceExpressionOrText], out: &mut Vec<String>) -> bool {
    use bword::{BraceExpressionMember as M, BraceExpressionOrText as B};
    for part in parts {
        let alternatives: Vec<String> = match part {
            B::Text(t) => vec![t.clone()],
            B::Expr(members) => {
                let mut alts = Vec::new();
                for m in members {
                    match m {
                        M::Child(children) => {
                            let mut sub = vec![String::new()];
                            if !brace_words(children, &mut sub) {
                                return false;
                            }
                            alts.extend(sub);
                        }
                        // Sequences (`{1..3}`) only make arguments; keep
                        // them whole rather than enumerate them.
                        _ => return false,
                    }
                }
                alts
            }
        };
        let mut next = Vec::with_capacity(out.len() * alternatives.len());
        for prefix in out.iter() {
            for alt in &alternatives {
                next.push(format!("{prefix}{alt}"));
            }
        }
        if next.len() > 64 {
            return false;
        }
        *out = next;
    }
    true
}

/// The source text of a process substitution, `<(curl …)`, when it is
/// known; `<(…)` otherwise.
fn process_substitution_text(
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

fn span_of_redirects(redirects: &[Redirect]) -> Span {
    let start = redirects.iter().map(|r| r.target.span.0).min().unwrap_or(0);
    let end = redirects.iter().map(|r| r.target.span.1).max().unwrap_or(0);
    (start, end)
}

/// The words inside a parameter expression that are expanded too
/// (`${x:-$(reboot)}`).
fn parameter_words(expr: &bword::ParameterExpr) -> Vec<&str> {
    use bword::ParameterExpr as E;
    let mut out = Vec::new();
    match expr {
        E::UseDefaultValues {
            default_value: v, ..
        }
        | E::AssignDefaultValues {
            default_value: v, ..
        }
        | E::IndicateErrorIfNullOrUnset {
            error_message: v, ..
        }
        | E::UseAlternativeValue {
            alternative_value: v,
            ..
        }
        | E::RemoveSmallestSuffixPattern { pattern: v, .. }
        | E::RemoveLargestSuffixPattern { pattern: v, .. }
        | E::RemoveSmallestPrefixPattern { pattern: v, .. }
        | E::RemoveLargestPrefixPattern { pattern: v, .. } => out.extend(v.as_deref()),
        E::ReplaceSubstring {
            pattern,
            replacement,
            ..
        } => {
            out.push(pattern.as_str());
            out.extend(replacement.as_deref());
        }
        E::Substring { offset, length, .. } => {
            out.push(offset.value.as_str());
            out.extend(length.as_ref().map(|l| l.value.as_str()));
        }
        _ => {}
    }
    out
}

/// `s[start..end]` in chars, as brush-parser's word pieces count them.
fn char_slice(s: &str, start: usize, end: usize) -> String {
    if s.is_ascii() {
        return s.get(start..end).unwrap_or("").to_string();
    }
    s.chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

/// Inside backquotes, `\\`, `` \` `` and `\$` lose their backslash.
fn unescape_backquoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && matches!(n, '\\' | '`' | '$')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Decodes the escapes of a `$'…'` string.
fn ansi_c(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars>, radix: u32, max: usize| {
            let mut v = 0u32;
            let mut n = 0;
            while n < max
                && let Some(d) = chars.peek().and_then(|c| c.to_digit(radix))
            {
                v = v * radix + d;
                chars.next();
                n += 1;
            }
            (v, n)
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'e' | 'E' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' | '\'' | '"' | '?' => out.push(e),
            'x' => {
                let (v, n) = digits(&mut chars, 16, 2);
                if n == 0 {
                    out.push_str("\\x");
                } else {
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
            }
            'u' | 'U' => {
                let (v, n) = digits(&mut chars, 16, if e == 'u' { 4 } else { 8 });
                if n == 0 {
                    out.push('\\');
                    out.push(e);
                } else {
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                let (rest, n) = digits(&mut chars, 8, 2);
                if n > 0 {
                    v = v * 8u32.pow(n as u32) + rest;
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'c' => {
                if let Some(ch) = chars.next() {
                    out.push(char::from_u32((ch as u32) & 0x1f).unwrap_or('\u{fffd}'));
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argvs(line: &str) -> Vec<Vec<String>> {
        parse_line(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .commands
            .iter()
            .map(|c| c.argv_text())
            .collect()
    }

    #[test]
    fn finds_commands_in_every_construct() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("plain", "reboot now", &["reboot now"]),
            ("list", "ls; reboot", &["ls", "reboot"]),
            (
                "and or",
                "true && reboot || halt",
                &["true", "reboot", "halt"],
            ),
            ("pipeline", "ls | grep x", &["ls", "grep x"]),
            ("subshell", "(cd /; reboot)", &["cd /", "reboot"]),
            ("spaced nested subshells", "( ( reboot ) )", &["reboot"]),
            ("touching open, spaced close", "((reboot) )", &["reboot"]),
            (
                "substitution of a subshell",
                "echo $((reboot) )",
                &["reboot", "echo $((reboot) )"],
            ),
            ("brace group", "{ reboot; }", &["reboot"]),
            (
                "command substitution",
                "echo $(reboot)",
                &["reboot", "echo $(reboot)"],
            ),
            (
                "substitution in double quotes",
                "echo \"x $(reboot) y\"",
                &["reboot", "echo x $(reboot) y"],
            ),
            ("backquotes", "echo `reboot`", &["reboot", "echo `reboot`"]),
            (
                "default value",
                "echo ${x:-$(reboot)}",
                &["reboot", "echo ${x:-$(reboot)}"],
            ),
            (
                "process substitution",
                "diff <(reboot) x",
                &["reboot", "diff <(reboot) x"],
            ),
            (
                "if",
                "if true; then reboot; else halt; fi",
                &["true", "reboot", "halt"],
            ),
            ("for", "for h in a b; do reboot; done", &["reboot"]),
            ("while", "while true; do reboot; done", &["true", "reboot"]),
            ("case", "case $x in a) reboot;; esac", &["reboot"]),
            ("function called", "f() { reboot; }; f", &["reboot"]),
            ("function not called", "f() { reboot; }", &[]),
            ("quotes removed", "'re'\"bo\"ot", &["reboot"]),
            ("backslash in name", "r\\eboot", &["reboot"]),
            ("ansi c", "$'\\x72eboot'", &["reboot"]),
            ("assignment then variable", "x=reboot; $x", &["reboot"]),
            ("sudo", "sudo -u root reboot", &["reboot"]),
            ("bash -c list", "bash -c 'ls; reboot'", &["ls", "reboot"]),
            ("nested sh -c", "sh -c \"bash -c 'reboot'\"", &["reboot"]),
            ("ssh remote", "ssh web1 'sudo reboot'", &["reboot"]),
            ("eval", "eval 'reboot'", &["reboot"]),
            (
                "heredoc substitution",
                "cat <<EOF\n$(reboot)\nEOF",
                &["reboot", "cat"],
            ),
            ("comment", "ls # reboot", &["ls"]),
            ("brace expansion of the program", "{reboot,}", &["reboot"]),
            (
                "brace expansion makes arguments",
                "{echo,reboot}",
                &["echo reboot"],
            ),
            (
                "arithmetic with a substitution",
                "echo $(( $(date +%s) + 60 ))",
                &["date +%s", "echo $(( $(date +%s) + 60 ))"],
            ),
            (
                "array subscript substitution",
                "a[$(reboot)]=1",
                &["reboot"],
            ),
            (
                "subscript in an expansion",
                "echo ${x[$(reboot)]}",
                &["reboot", "echo ${x[$(reboot)]}"],
            ),
            (
                "printf escapes fed to sh",
                "printf 'ls\\nreboot\\n' | sh",
                &["printf ls\\nreboot\\n", "sh", "ls", "reboot"],
            ),
            (
                "at reads its stdin",
                "echo reboot | at now",
                &["echo reboot", "at now", "reboot"],
            ),
            (
                "script piped into a shell",
                "echo 'ls; reboot' | bash",
                &["echo ls; reboot", "bash", "ls", "reboot"],
            ),
            (
                "here-document into ssh",
                "ssh web1 <<'EOF'\nsudo reboot\nEOF",
                &["ssh web1", "reboot"],
            ),
            ("arithmetic stays arithmetic", "((i++))", &[]),
            ("newline list", "ls\nreboot", &["ls", "reboot"]),
        ];
        for (name, line, want) in cases {
            let got: Vec<String> = argvs(line).iter().map(|a| a.join(" ")).collect();
            assert_eq!(got, *want, "case {name}: {line:?}");
        }
    }

    #[test]
    fn fork_bomb_is_a_recursive_function() {
        let script = parse_line(":(){ :|:& };:").unwrap();
        assert!(
            script
                .commands
                .iter()
                .any(|c| c.context.via.iter().any(|v| v == "recursive-function"))
        );
    }

    #[test]
    fn spans_are_byte_offsets_even_after_non_ascii_text() {
        let line = "echo é; reboot now";
        let script = parse_line(line).unwrap();
        let reboot = &script.commands[1];
        assert_eq!(&line[reboot.span.0..reboot.span.1], "reboot now");
    }

    #[test]
    fn pipeline_records_who_feeds_stdin() {
        let script = parse_line("curl -s https://x | sudo bash").unwrap();
        let bash = script.commands.last().unwrap();
        assert_eq!(bash.program(), Some("bash"));
        assert_eq!(bash.context.stdin_from.as_deref(), Some("curl"));
        assert_eq!(bash.context.via, vec!["sudo"]);
    }

    #[test]
    fn echo_piped_in_and_heredocs_are_input() {
        let s = parse_line("echo 'DROP TABLE x' | psql").unwrap();
        assert_eq!(s.commands[1].context.input, vec!["DROP TABLE x"]);
        let s = parse_line("psql <<'EOF'\nDROP TABLE x;\nEOF").unwrap();
        assert_eq!(s.commands[0].context.input, vec!["DROP TABLE x;\n"]);
    }

    #[test]
    fn ssh_in_a_loop_is_fleet() {
        let s = parse_line("for h in a b c; do ssh $h reboot; done").unwrap();
        assert!(s.commands[0].context.fleet);
        let s = parse_line("ssh a reboot").unwrap();
        assert!(!s.commands[0].context.fleet && s.commands[0].context.remote);
    }

    #[test]
    fn unfinished_lines_are_incomplete_and_garbage_is_a_syntax_error() {
        for line in ["echo 'abc", "if true; then", "ls |", "echo \"a", "ls \\"] {
            assert!(parse_line(line).unwrap_err().is_incomplete(), "{line:?}");
        }
        let e = parse_line("ls )").unwrap_err();
        assert!(matches!(e, ParseError::Syntax { .. }), "{e:?}");
    }

    #[test]
    fn guard_counts_nesting_inside_quotes_and_expansions() {
        // Regression: a quote inside `${…}` used to be read as closing the
        // outer string, so this nesting went uncounted and overflowed the
        // parser's stack.
        for unit in ["\"}${", "\")$(", "\"$(", "${x:-\"", "`$(\""] {
            let line = unit.repeat(400);
            assert!(parse_line(&line).is_err(), "{unit:?}");
        }
        // Literal brackets in quotes are not nesting.
        assert!(parse_line("echo '((((((((((((((((((((((' \"{{{{{{{{{{{{{{{{{{{{{{{{\"").is_ok());
        assert!(parse_line("case $x in a) ls;; b) ls;; esac").is_ok());
    }

    #[test]
    fn a_panic_inside_the_parser_is_a_parse_error() {
        // Found by fuzzing: brush-parser unwraps a redirection fd that does
        // not fit in an i32.
        for line in ["true 2147483648>x", "echo RAN; true 99999999999<x"] {
            assert!(
                matches!(parse_line(line), Err(ParseError::Syntax { .. })),
                "{line:?}"
            );
        }
        // The parser still works afterwards.
        assert!(parse_line("ls 2>/dev/null").is_ok());
    }

    #[test]
    fn guards_reject_deep_and_unbalanced_input() {
        assert!(matches!(
            parse_line(&"( ".repeat(30)),
            Err(ParseError::Unbalanced { .. })
        ));
        assert!(matches!(
            parse_line(&"{ ".repeat(100_000)),
            Err(ParseError::TooDeep { .. })
        ));
        let long = "a".repeat(300 * 1024);
        assert!(matches!(parse_line(&long), Err(ParseError::TooLong { .. })));
    }

    #[test]
    fn argv_is_one_command_with_wrappers_seen_through() {
        let argv: Vec<String> = ["sudo", "sh", "-c", "ls; reboot"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (line, script) = parse_argv(&argv).unwrap();
        assert_eq!(line, "sudo sh -c 'ls; reboot'");
        let got: Vec<String> = script
            .commands
            .iter()
            .map(|c| c.argv_text().join(" "))
            .collect();
        assert_eq!(got, vec!["ls", "reboot"]);
        // A word with shell syntax is one literal argument, not a pipeline.
        let argv: Vec<String> = ["echo", "a | reboot"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (_, script) = parse_argv(&argv).unwrap();
        assert_eq!(script.commands.len(), 1);
        assert_eq!(quote_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn plain_fast_path_agrees_with_the_parser() {
        for line in [
            "apt-get upgrade -y",
            "  ls   -l  /tmp ",
            "kubectl -n prod get pods",
            "reboot",
        ] {
            let fast = parse_line(line).unwrap();
            let mut w = Walker {
                limits: &Limits::default(),
                out: Vec::new(),
                vars: HashMap::new(),
                functions: HashMap::new(),
                call_stack: Vec::new(),
                steps: 0,
                options: ParserOptions::default(),
            };
            w.walk_text(line, None, &Ctx::default(), 0).unwrap();
            assert_eq!(fast.commands, w.out, "{line:?}");
        }
    }
}
