//! From the file paths traces carry to the files of the project here, for the front doors
//! that match them in Rust (the language server, the MCP server). Neovim's plugin does the same in
//! `lua/vitals/paths.lua` (it needs buffers and treesitter); the two keep the same rules
//! and are held to the same cases by `tests/nvim/spec/annotate_spec.lua` and the tests
//! below.
//!
//! A path is matched by its suffix relative to the project's root (`/app/shop/orders.py`
//! is `shop/orders.py` here), after the `path_mappings` option has rewritten its prefix
//! (`{ "/app/": "~/src/shop/" }`, the longest prefix winning). A location known only by
//! its function is found by a pattern: a definition keyword, then the name and `(`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::analysis::calls::CodeLocation;
use crate::render::annotations::Annotation;

/// Matches the code locations of traces against one file of the project.
pub struct FileMatcher<'a> {
    /// The file, absolute and normalized.
    absolute: String,
    /// The project's root, normalized, without a trailing slash.
    root: String,
    mappings: &'a BTreeMap<String, String>,
}

impl<'a> FileMatcher<'a> {
    pub fn new(absolute: &str, root: &str, mappings: &'a BTreeMap<String, String>) -> Self {
        FileMatcher { absolute: normalize(absolute), root: normalize(root), mappings }
    }

    /// Whether a trace's path stands for this file: the same file after mapping, or a
    /// suffix of it relative to the root.
    pub fn matches(&self, path: &str) -> bool {
        let mapped = normalize(&mapped(&literal(path), self.mappings));
        if mapped == self.absolute {
            return true;
        }
        let Some(relative) = self.absolute.strip_prefix(&format!("{}/", self.root)) else {
            return false;
        };
        mapped == relative || mapped.ends_with(&format!("/{relative}"))
    }

    /// The 0-based line of `lines` a location belongs on, or `None` when it is about
    /// another file (or a function not defined here). A line number past the end is the
    /// last line, as Neovim clamps it.
    pub fn line_of(&self, code: &CodeLocation, lines: &[&str]) -> Option<usize> {
        if let Some(path) = &code.filepath {
            if !self.matches(path) {
                return None;
            }
            if let Some(lineno) = code.lineno {
                let last = lines.len().max(1) as i64;
                return Some((lineno.clamp(1, last) - 1) as usize);
            }
        }
        find_definition(lines, code.function.as_deref()?)
    }

    /// The annotations that belong to this file, by 0-based line of its `lines`, in the
    /// order given (a line's timing first, then its findings, worst first). Each path is
    /// matched once and each function looked up once.
    pub fn place<'n>(&self, annotations: &'n [Annotation], lines: &[&str]) -> BTreeMap<usize, Vec<&'n Annotation>> {
        let mut matched: HashMap<&str, bool> = HashMap::new();
        let mut defined: HashMap<&str, Option<usize>> = HashMap::new();
        let mut placed: BTreeMap<usize, Vec<&Annotation>> = BTreeMap::new();
        for annotation in annotations {
            let code = &annotation.code;
            if let Some(path) = code.filepath.as_deref()
                && !*matched.entry(path).or_insert_with(|| self.matches(path))
            {
                continue;
            }
            let line = match (&code.filepath, code.lineno, code.function.as_deref()) {
                (Some(_), Some(_), _) => self.line_of(code, lines),
                (_, _, Some(function)) => *defined.entry(function).or_insert_with(|| find_definition(lines, function)),
                _ => None,
            };
            if let Some(line) = line {
                placed.entry(line).or_default().push(annotation);
            }
        }
        placed
    }
}

/// The local file a trace's path stands for, if it exists here: the path after
/// `path_mappings`, or else the longest of its tails that names a file under `root`.
/// Trace data is not trusted: a path that leads elsewhere (`/etc/passwd`, `../../secret`,
/// `~/.bashrc`, a symlink pointing out) is never returned unless a mapping the user
/// configured leads there. The same rules as `local_file` in `lua/vitals/paths.lua`.
pub fn local_file(path: &str, root: &str, mappings: &BTreeMap<String, String>) -> Option<PathBuf> {
    let root = normalize(root);
    let trusted: Vec<PathBuf> = std::iter::once(root.clone())
        .chain(mappings.values().map(|to| normalize(&expand(to))))
        .map(|folder| std::fs::canonicalize(&folder).unwrap_or_else(|_| PathBuf::from(folder)))
        .collect();
    let allowed = |candidate: &str| -> Option<PathBuf> {
        let absolute = match candidate.starts_with('/') {
            true => normalize(candidate),
            false => normalize(&format!("{root}/{candidate}")),
        };
        // Where the file really is, symlinks followed: it must still be inside.
        let real = std::fs::canonicalize(&absolute).ok().filter(|real| real.is_file())?;
        trusted.iter().any(|folder| real.starts_with(folder)).then(|| PathBuf::from(absolute))
    };
    let mapped = mapped(&literal(path), mappings);
    if let Some(found) = allowed(&mapped) {
        return Some(found);
    }
    let parts: Vec<&str> = mapped.split('/').filter(|p| !p.is_empty()).collect();
    (0..parts.len()).find_map(|first| allowed(&parts[first..].join("/")))
}

/// The path with the first matching `path_mappings` prefix replaced (longest prefix wins).
/// The user's target may use `~` and `$VARS`; the rest comes from the trace and stays literal.
fn mapped(path: &str, mappings: &BTreeMap<String, String>) -> String {
    let best = mappings.keys().filter(|from| path.starts_with(from.as_str())).max_by_key(|from| from.len());
    match best {
        None => path.to_string(),
        Some(from) => {
            format!("{}/{}", normalize(&expand(&mappings[from])), path[from.len()..].trim_start_matches('/'))
        }
    }
}

/// A path from trace data as plain text: backslashes become slashes and nothing is
/// expanded, since `~` and `$HOME` in a trace would otherwise name the user's home. A
/// leading `~` (and the user name after it) is dropped, leaving the tail to match under
/// the root.
fn literal(path: &str) -> String {
    let path = path.replace('\\', "/");
    match path.strip_prefix('~') {
        Some(rest) => rest.split_once('/').map(|(_, tail)| tail.trim_start_matches('/')).unwrap_or("").to_string(),
        None => path,
    }
}

/// `~` and `$VAR`/`${VAR}` of a path the user wrote, as Neovim's `vim.fs.normalize` expands them.
fn expand(path: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let path = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
        _ => path.to_string(),
    };
    let mut out = String::new();
    let mut rest = path.as_str();
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = match after.strip_prefix('{').and_then(|a| a.split_once('}')) {
            Some((name, tail)) => (name, tail),
            None => {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        match std::env::var(name) {
            Ok(value) if !name.is_empty() => out.push_str(&value),
            _ => out.push_str(&rest[at..rest.len() - tail.len()]),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Slashes only, no doubled slashes, `.` and `..` resolved, no trailing slash (as
/// `vim.fs.normalize` leaves a path, without expanding anything).
pub fn normalize(path: &str) -> String {
    let path = path.replace('\\', "/");
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if absolute { format!("/{joined}") } else { joined }
}

/// The last part of a function name: `Orders.load` → `load`, `shop::load` → `load`.
fn short_name(name: &str) -> &str {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let trimmed = name.trim_end_matches(|c: char| !word(c));
    let start = trimmed.rfind(|c: char| !word(c)).map(|i| i + trimmed[i..].chars().next().map_or(1, char::len_utf8));
    match &trimmed[start.unwrap_or(0)..] {
        "" => name,
        short => short,
    }
}

const DEFINITION_KEYWORDS: &[&str] = &["def", "func", "function", "fn", "fun", "sub"];

/// The 0-based line defining a function: a definition keyword as a word (of letters and
/// digits), and the name as a word (underscores included) followed by `(`, `<`, `=` or `:`.
pub fn find_definition(lines: &[&str], name: &str) -> Option<usize> {
    let wanted = short_name(name);
    let alphanumeric = |c: char| c.is_ascii_alphanumeric();
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    lines.iter().position(|line| {
        DEFINITION_KEYWORDS.iter().any(|keyword| has_word(line, keyword, alphanumeric, |_| true))
            && has_word(line, wanted, name_char, |after| after.trim_start().starts_with(['(', '<', '=', ':']))
    })
}

/// Whether `word` stands in `line` as a whole word (not inside a longer one, as
/// `is_word` tells), with what follows it accepted by `then`.
fn has_word(line: &str, word: &str, is_word: impl Fn(char) -> bool, then: impl Fn(&str) -> bool) -> bool {
    if word.is_empty() {
        return false;
    }
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = &line[at + word.len()..];
        !before.is_some_and(&is_word) && !after.chars().next().is_some_and(&is_word) && then(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of code_jump_spec.lua: the file a path names under the root, and never
    /// one outside it, whatever the trace says.
    #[test]
    fn a_trace_path_never_leads_out_of_the_project() {
        let parent = tempfile::tempdir().unwrap();
        let project = parent.path().join("project");
        std::fs::create_dir_all(project.join("web/handlers")).unwrap();
        std::fs::write(project.join("web/handlers/orders.py"), "# orders").unwrap();
        std::fs::write(parent.path().join("outside.py"), "# outside").unwrap();
        std::fs::create_dir_all(parent.path().join("vendor")).unwrap();
        std::fs::write(parent.path().join("vendor/lib.py"), "# outside").unwrap();
        std::os::unix::fs::symlink(parent.path().join("outside.py"), project.join("web/link.py")).unwrap();
        std::os::unix::fs::symlink(parent.path().join("vendor"), project.join("vendor")).unwrap();
        let root = project.display().to_string();
        let none = BTreeMap::new();
        let orders = format!("{root}/web/handlers/orders.py");
        for path in ["/app/web/handlers/orders.py", "web/handlers/orders.py", "$HOME/web/handlers/orders.py"] {
            assert_eq!(local_file(path, &root, &none), Some(PathBuf::from(&orders)), "{path}");
        }
        for path in ["~/outside.py", "../outside.py", "web/link.py", "/app/vendor/lib.py", "/etc/passwd", "web"] {
            assert_eq!(local_file(path, &root, &none), None, "{path} led out");
        }
        let vendor = mappings(&[("/app/vendor/", &parent.path().join("vendor").display().to_string())]);
        assert!(local_file("/app/vendor/lib.py", &root, &vendor).is_some(), "a mapping the user made is trusted");
    }

    fn mappings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    /// The cases of annotate_spec.lua: container paths suffix-matched, a path that needs a
    /// mapping, a location known only by function.
    #[test]
    fn the_cases_neovim_matches() {
        let map = mappings(&[("/build/x/", "/work/p/")]);
        let orders = FileMatcher::new("/work/p/shop/orders.py", "/work/p", &map);
        assert!(orders.matches("/app/shop/orders.py"));
        assert!(orders.matches("shop/orders.py"));
        assert!(!orders.matches("/app/shop/cart.py"));
        assert!(!orders.matches("/app/myshop/orders.py"), "a suffix counts from a folder boundary");
        let pricing = FileMatcher::new("/work/p/lib/pricing.py", "/work/p", &map);
        assert!(pricing.matches("/build/x/lib/pricing.py"), "mapped");
        assert!(pricing.matches("C:\\build\\lib\\pricing.py"), "backslashes are separators");
        assert!(FileMatcher::new("/elsewhere/lib/pricing.py", "/work/p", &map).matches("/elsewhere/lib/pricing.py"));
        assert!(!FileMatcher::new("/elsewhere/lib/pricing.py", "/work/p", &map).matches("lib/pricing.py"));
        let lines = ["# line 1", "import x", "def load_user(user_id):", "    load_user(1)"];
        let by_function = CodeLocation { function: Some("shop.users.load_user".into()), ..CodeLocation::default() };
        assert_eq!(orders.line_of(&by_function, &lines), Some(2));
        let at_99 = CodeLocation { filepath: Some("/app/shop/orders.py".into()), lineno: Some(99), function: None };
        assert_eq!(orders.line_of(&at_99, &lines), Some(3), "past the end: the last line");
    }

    #[test]
    fn the_longest_mapping_wins_and_targets_expand_home() {
        let home = std::env::var("HOME").unwrap_or_default();
        let map = mappings(&[("/app/", "/a/"), ("/app/shop/", "~/src/shop/")]);
        assert_eq!(mapped("/app/shop/orders.py", &map), format!("{home}/src/shop/orders.py"));
        assert_eq!(mapped("/app/x.py", &map), "/a/x.py");
        assert_eq!(literal("~/shop/orders.py"), "shop/orders.py", "a trace's ~ is not this user's home");
        assert_eq!(literal("~bob/shop/orders.py"), "shop/orders.py");
        assert_eq!(normalize("/a//b/./c/../d/"), "/a/b/d");
    }

    #[test]
    fn definitions_by_pattern() {
        let lines = ["fn main() {", "    undefined_load();", "pub async fn load<T>(x: T) {", "function load = 1"];
        assert_eq!(find_definition(&lines, "shop::load"), Some(2));
        assert_eq!(find_definition(&lines, "Orders.main"), Some(0));
        assert_eq!(find_definition(&["local function  helper (a)"], "helper"), Some(0));
        assert_eq!(find_definition(&["define helper(a)"], "helper"), None, "define is not a keyword");
        assert_eq!(find_definition(&["def helpers(a)"], "helper"), None);
    }
}
