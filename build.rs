//! Compiles the shipped rule library (`rules/*.toml`) into the binary.
//!
//! Every file is read and validated with the same code as at run time
//! (`src/rules/spec.rs`, included below), so a shipped rule with a mistake
//! fails the build with `file:line:col: message`. The valid set is written
//! to `$OUT_DIR/rules.bin` as a postcard [`spec::Blob`]: an index of ids
//! and program names plus each rule's own bytes, which `rules::RuleSet`
//! decodes lazily, and each `[[program]]` declaration's bytes under every
//! name it declares. A program is declared once across all the files, and
//! every rule's subcommand words are checked against the declarations of
//! every file, so the files are read twice: declarations first. No TOML is parsed and no regex is compiled at run time
//! for the built-in rules until a line needs them.

#[path = "src/rules/spec.rs"]
#[allow(dead_code)]
mod spec;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::{env, fs, process};

use spec::{Blob, BlobDeclared, BlobProgram, BlobRule, ProgramSpec, RuleSpec};

fn main() {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=src/rules/spec.rs");
    if let Err(message) = run() {
        eprintln!("{message}");
        process::exit(1);
    }
}

/// One shipped rule: its spec's bytes and where it came from.
struct Shipped {
    id: String,
    file: usize,
    line: usize,
    spec: Vec<u8>,
    programs: Vec<String>,
}

fn run() -> Result<(), String> {
    let manifest = env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?;
    let out_dir = env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?;
    let dir = Path::new(&manifest).join("rules");

    let mut files: Vec<String> = Vec::new();
    let mut shipped: Vec<Shipped> = Vec::new();
    let mut first_use: HashMap<String, String> = HashMap::new();
    let mut failures: Vec<String> = Vec::new();

    let mut sources: Vec<(String, String)> = Vec::new();
    for path in toml_files(&dir)? {
        let name = match path.file_name().and_then(|n| n.to_str()) {
            Some(name) => format!("rules/{name}"),
            None => {
                failures.push(format!("{}: file name is not UTF-8", path.display()));
                continue;
            }
        };
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("{name}: cannot read the rule file: {e}"))?;
        sources.push((name, text));
    }

    // Declarations first: one per program name across every file.
    let mut declarations: Vec<ProgramSpec> = Vec::new();
    let mut declared_at: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut declared: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (name, text) in &sources {
        for program in spec::parse_document(text, &[]).programs {
            let bytes = postcard::to_allocvec(&program.spec)
                .map_err(|e| format!("{name}:{}: cannot encode the table: {e}", program.line))?;
            for program_name in &program.spec.programs {
                if let Some((file, line)) = declared_at.get(program_name) {
                    failures.push(format!(
                        "{name}:{}: `{program_name}` is already declared by the [[program]] table at {file}:{line}: one table per program",
                        program.line
                    ));
                    continue;
                }
                declared_at.insert(program_name.clone(), (name.clone(), program.line));
                declared.insert(program_name.clone(), bytes.clone());
            }
            declarations.push(program.spec);
        }
    }

    for (name, text) in &sources {
        // This file's own declarations are found first, so they are not
        // passed again as declarations from elsewhere.
        let elsewhere: Vec<ProgramSpec> = declarations
            .iter()
            .filter(|d| {
                d.programs
                    .iter()
                    .all(|p| declared_at.get(p).is_none_or(|(f, _)| f != name))
            })
            .cloned()
            .collect();
        let parsed = spec::parse_document(text, &elsewhere);
        for error in &parsed.errors {
            failures.push(render(name, text, error));
        }
        let file = files.len();
        files.push(name.clone());
        for rule in parsed.rules {
            let here = format!("{name}:{}", rule.line);
            if let Some(there) = first_use.get(&rule.spec.id) {
                failures.push(format!(
                    "{here}: duplicate id `{}`: {there} already defines it",
                    rule.spec.id
                ));
                continue;
            }
            first_use.insert(rule.spec.id.clone(), here);
            let spec = postcard::to_allocvec(&rule.spec)
                .map_err(|e| format!("{name}:{}: cannot encode the rule: {e}", rule.line))?;
            shipped.push(Shipped {
                id: rule.spec.id.clone(),
                file,
                line: rule.line,
                spec,
                programs: rule.spec.programs.clone(),
            });
        }
    }
    if !failures.is_empty() {
        return Err(format!(
            "{}\nerror: {} problem(s) in the shipped rules (rules/*.toml)",
            failures.join("\n"),
            failures.len()
        ));
    }

    let mut programs: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (index, rule) in shipped.iter().enumerate() {
        let index = u32::try_from(index).map_err(|_| "too many shipped rules")?;
        for program in &rule.programs {
            let list = programs.entry(program.as_str()).or_default();
            if list.last() != Some(&index) {
                list.push(index);
            }
        }
    }
    let encoded: Vec<(&str, Vec<u8>)> = programs
        .iter()
        .map(|(name, indices)| (*name, BlobProgram::encode(indices)))
        .collect();
    let blob = Blob {
        declared: declared
            .iter()
            .map(|(name, spec)| BlobDeclared { name, spec })
            .collect(),
        files: files.iter().map(String::as_str).collect(),
        rules: shipped
            .iter()
            .map(|r| BlobRule {
                id: &r.id,
                file: r.file,
                line: r.line,
                spec: &r.spec,
            })
            .collect(),
        programs: encoded
            .iter()
            .map(|(name, rules)| BlobProgram { name, rules })
            .collect(),
    };
    let bytes =
        postcard::to_allocvec(&blob).map_err(|e| format!("cannot encode the rules: {e}"))?;
    check_round_trip(&bytes, &shipped)?;
    let out = PathBuf::from(out_dir).join("rules.bin");
    fs::write(&out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// The `*.toml` files of `dir`, sorted by name. No directory means no rules.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: cannot list the rules: {e}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: cannot list the rules: {e}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".toml") && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The blob must decode to exactly what was encoded, or the runtime would
/// be left guessing; better to find out here.
fn check_round_trip(bytes: &[u8], shipped: &[Shipped]) -> Result<(), String> {
    let blob: Blob<'_> =
        postcard::from_bytes(bytes).map_err(|e| format!("the rule blob does not decode: {e}"))?;
    if blob.rules.len() != shipped.len() {
        return Err("the rule blob lost rules on the way".into());
    }
    if !blob.programs.is_sorted_by(|a, b| a.name < b.name) {
        return Err("the rule blob's program index is not sorted".into());
    }
    if !blob.declared.is_sorted_by(|a, b| a.name < b.name) {
        return Err("the rule blob's [[program]] declarations are not sorted".into());
    }
    for declared in &blob.declared {
        let spec: ProgramSpec = postcard::from_bytes(declared.spec).map_err(|e| {
            format!(
                "the [[program]] table of `{}` does not decode: {e}",
                declared.name
            )
        })?;
        if !spec.programs.iter().any(|p| p == declared.name) {
            return Err(format!(
                "the [[program]] table of `{}` is stored under the wrong name",
                declared.name
            ));
        }
    }
    for program in &blob.programs {
        for index in program.indices() {
            let rule = shipped
                .get(index)
                .ok_or("the program index names a missing rule")?;
            if !rule.programs.iter().any(|p| p == program.name) {
                return Err(format!(
                    "rule `{}` is indexed under the wrong program",
                    rule.id
                ));
            }
        }
    }
    for (decoded, original) in blob.rules.iter().zip(shipped) {
        let spec: RuleSpec = postcard::from_bytes(decoded.spec)
            .map_err(|e| format!("rule `{}` does not decode: {e}", original.id))?;
        let again = postcard::to_allocvec(&spec).map_err(|e| e.to_string())?;
        if decoded.id != original.id || again != original.spec {
            return Err(format!(
                "rule `{}` changed on the way through the blob",
                original.id
            ));
        }
    }
    Ok(())
}

fn render(file: &str, text: &str, error: &spec::SpecError) -> String {
    let at = spec::locate(text, error.span.start);
    let pad: String = at
        .line_text
        .chars()
        .take(at.col.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!(
        "{file}:{}:{}: {}\n    {}\n    {pad}^",
        at.line, at.col, error.message, at.line_text
    )
}
