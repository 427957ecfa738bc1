//! Stack frames in the text of a stack trace (`exception.stacktrace`), so that a frame
//! line can lead to the code. The common shapes are read by hand, one line at a time:
//!
//! - Python: `File "/app/shop/orders.py", line 12, in checkout`
//! - Java, Kotlin: `at com.shop.Orders.checkout(Orders.java:12)` (the path is made from the
//!   package: `com/shop/Orders.java`)
//! - .NET: `at Shop.Orders.Checkout() in /src/Orders.cs:line 12`
//! - Node: `at checkout (/app/src/orders.js:12:5)`, `at /app/src/orders.js:12:5`
//! - Go: `/app/orders.go:42 +0x1d`; Rust backtraces: `at ./src/orders.rs:12:5`; Ruby:
//!   `/app/orders.rb:12:in 'checkout'`
//!
//! The path is as the trace has it: where it leads here (path mappings, confinement to
//! the workspace) is for the front door to decide, as for every path from trace data.

/// A frame of a stack trace: a file and a line in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub path: String,
    pub line: u32,
}

/// The frame one line of a stack trace names, if it names one.
pub fn parse(line: &str) -> Option<Frame> {
    let text = line.trim();
    python(text).or_else(|| dotnet(text)).or_else(|| called_at(text)).or_else(|| location(text))
}

/// `File "path", line N, in name`.
fn python(text: &str) -> Option<Frame> {
    let rest = text.strip_prefix("File \"")?;
    let (path, rest) = rest.split_once('"')?;
    let number = rest.trim_start_matches(',').trim().strip_prefix("line ")?;
    frame(path, leading_number(number)?)
}

/// `at Name.Method() in path:line N`.
fn dotnet(text: &str) -> Option<Frame> {
    let (_, place) = text.strip_prefix("at ")?.rsplit_once(" in ")?;
    let (path, number) = place.rsplit_once(":line ")?;
    frame(path, leading_number(number)?)
}

/// `at name (path:line:column)` (Node) or `at pkg.Class.method(File.java:line)` (the JVM).
fn called_at(text: &str) -> Option<Frame> {
    let rest = text.strip_prefix("at ")?;
    let inside = rest.strip_suffix(')')?;
    let (callee, place) = inside.rsplit_once('(')?;
    let found = location(place)?;
    let callee = callee.trim();
    // A JVM frame names the class with its package, and the file without a directory.
    if !found.path.contains('/') && !callee.contains(' ') && callee.contains('.') {
        let mut package: Vec<&str> = callee.split('.').collect();
        package.truncate(package.len().saturating_sub(2));
        if !package.is_empty() {
            return frame(&format!("{}/{}", package.join("/"), found.path), found.line);
        }
    }
    Some(found)
}

/// `path:line`, `path:line:column` or `path:line +0x1d`, after an optional `at `.
fn location(text: &str) -> Option<Frame> {
    let text = text.strip_prefix("at ").unwrap_or(text).trim();
    let text = text.strip_prefix("file://").unwrap_or(text);
    for (colon, _) in text.match_indices(':') {
        let rest = &text[colon + 1..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let after = &rest[digits..];
        if digits == 0 || !(after.is_empty() || after.starts_with(':') || after.starts_with(' ')) {
            continue;
        }
        if let Some(found) = frame(&text[..colon], rest[..digits].parse().ok()?) {
            return Some(found);
        }
    }
    None
}

/// A frame, when `path` looks like a source file: a name with an extension, no spaces in
/// its name, not a pseudo-file such as Python's `<frozen importlib._bootstrap>`.
fn frame(path: &str, line: u32) -> Option<Frame> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let looks_like_file = !path.starts_with('<')
        && !name.contains(' ')
        && name.rsplit_once('.').is_some_and(|(stem, extension)| !stem.is_empty() && !extension.is_empty());
    (looks_like_file && line > 0).then(|| Frame { path: path.to_string(), line })
}

fn leading_number(text: &str) -> Option<u32> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    text[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: &str) -> Option<(String, u32)> {
        parse(line).map(|f| (f.path, f.line))
    }

    #[test]
    fn the_common_shapes_of_stack_frames_are_read() {
        let frame = |path: &str, line| Some((path.to_string(), line));
        assert_eq!(at(r#"  File "/app/shop/orders.py", line 12, in checkout"#), frame("/app/shop/orders.py", 12));
        assert_eq!(at("\tat com.shop.Orders.checkout(Orders.java:42)"), frame("com/shop/Orders.java", 42));
        assert_eq!(at("    at checkout (/app/src/orders.js:12:5)"), frame("/app/src/orders.js", 12));
        assert_eq!(at("    at file:///app/src/orders.mjs:3:9"), frame("/app/src/orders.mjs", 3));
        assert_eq!(at("\t/home/dev/shop/main.go:42 +0x1d"), frame("/home/dev/shop/main.go", 42));
        assert_eq!(at("             at ./src/orders.rs:88:13"), frame("./src/orders.rs", 88));
        assert_eq!(at("/app/orders.rb:7:in 'checkout'"), frame("/app/orders.rb", 7));
        assert_eq!(at(r"   at Shop.Orders.Checkout() in C:\src\Orders.cs:line 31"), frame(r"C:\src\Orders.cs", 31));
    }

    #[test]
    fn lines_that_name_no_file_are_not_frames() {
        for line in [
            "Traceback (most recent call last):",
            "ValueError: card declined",
            r#"  File "<frozen importlib._bootstrap>", line 1027, in _find_and_load"#,
            "    raise ValueError('card declined')",
            "    at node:internal/modules/cjs/loader:1105:14",
            "goroutine 1 [running]:",
            "main.main()",
            "   0: std::panicking::begin_panic",
            "at 12:30 the job failed",
            "",
        ] {
            assert_eq!(at(line), None, "{line:?}");
        }
    }
}
