//! Database statements reduced to their shape, so that the same query with different
//! values is recognised as one: literals and numbers become `?`, `IN (…)` lists `IN (?)`,
//! whitespace is collapsed.

/// `SELECT * FROM items WHERE order_id = 42 AND sku IN ('a', 'b')` →
/// `SELECT * FROM items WHERE order_id = ? AND sku IN (?)`.
pub fn normalize(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' if c == '\'' || !out.ends_with(|p: char| p.is_alphanumeric()) => {
                // A quoted literal ('' escapes a quote inside it).
                while let Some(inner) = chars.next() {
                    if inner == c {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            continue;
                        }
                        break;
                    }
                }
                if c == '"' {
                    // Double quotes name identifiers in standard SQL: keep them as written.
                    out.push_str("\"?\"");
                } else {
                    out.push('?');
                }
            }
            c if c.is_ascii_digit() && !ends_in_identifier(&out) => {
                while chars.peek().is_some_and(|n| n.is_ascii_alphanumeric() || *n == '.') {
                    chars.next();
                }
                out.push('?');
            }
            c if c.is_whitespace() => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    collapse_lists(out.trim_end())
}

/// Whether the text so far ends inside a name (`table1`, `$1`), where a digit is not a literal.
fn ends_in_identifier(text: &str) -> bool {
    text.ends_with(|p: char| p.is_alphanumeric() || p == '_' || p == '$' || p == ':' || p == '@')
}

/// `(?, ?, ?)` → `(?)`, wherever a parenthesised list holds only placeholders: `IN` lists
/// and multi-row `VALUES` differ in length from call to call.
fn collapse_lists(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find(')').unwrap_or(rest.len());
        let inside = &rest[..close];
        let only_placeholders = !inside.trim().is_empty()
            && inside.split(',').all(|item| matches!(item.trim(), "?" | "\"?\"") || item.trim().starts_with('$'));
        if only_placeholders {
            out.push('?');
            rest = &rest[close..];
        }
    }
    out.push_str(rest);
    dedupe_value_rows(&out)
}

/// `VALUES (?), (?), (?)` → `VALUES (?)`.
fn dedupe_value_rows(text: &str) -> String {
    let mut out = text.to_string();
    while out.contains("(?), (?)") || out.contains("(?),(?)") {
        out = out.replace("(?), (?)", "(?)").replace("(?),(?)", "(?)");
    }
    out
}

/// Whether a statement as sent holds bind parameters (`?`, `$1`, `%s`, `%(name)s`,
/// `:name`, `@name`) outside its quoted literals: its values travel separately, so the
/// text alone does not say what it asked.
pub fn has_placeholders(statement: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            previous = c;
            continue;
        }
        let next = chars.peek().copied().unwrap_or(' ');
        let named = next.is_ascii_alphabetic() || next == '_';
        let placeholder = match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                false
            }
            '?' => true,
            '$' => next.is_ascii_digit(),
            '%' => matches!(next, 's' | 'd' | '('),
            // `::int` is a cast and `:=` an assignment, not parameters.
            ':' => named && previous != ':',
            '@' => named && previous != '@' && !previous.is_alphanumeric(),
            _ => false,
        };
        if placeholder {
            return true;
        }
        previous = c;
    }
    false
}

/// The columns a statement filters on (`WHERE a = ? AND b > ?` → `a`, `b`), for index advice.
pub fn filtered_columns(normalized: &str) -> Vec<String> {
    let upper = normalized.to_ascii_uppercase();
    let Some(start) = upper.find(" WHERE ") else { return Vec::new() };
    let end = [" GROUP BY ", " ORDER BY ", " LIMIT ", " HAVING "]
        .iter()
        .filter_map(|k| upper[start..].find(k).map(|i| start + i))
        .min()
        .unwrap_or(upper.len());
    let clause = &normalized[start + 7..end];
    let mut columns: Vec<String> = Vec::new();
    for part in clause.split(['(', ')']).flat_map(|p| p.split(" AND ")).flat_map(|p| p.split(" and ")) {
        let name: String = part
            .trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '"' || *c == '`')
            .collect();
        let name = name.trim_matches(|c| c == '"' || c == '`').to_string();
        let is_keyword = matches!(name.to_ascii_uppercase().as_str(), "" | "OR" | "NOT" | "EXISTS" | "SELECT" | "?");
        if !is_keyword && !columns.contains(&name) {
            columns.push(name);
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_placeholders_and_names_stay() {
        assert_eq!(
            normalize("SELECT * FROM customer WHERE customer_id=731"),
            "SELECT * FROM customer WHERE customer_id=?"
        );
        assert_eq!(
            normalize("select  name from t1\n where id = 42 and note = 'it''s' and price > 3.5"),
            "select name from t1 where id = ? and note = ? and price > ?"
        );
        assert_eq!(normalize("SELECT * FROM items WHERE id IN (1, 2, 3, 4)"), "SELECT * FROM items WHERE id IN (?)");
        assert_eq!(
            normalize("SELECT * FROM items WHERE id IN (7)"),
            normalize("SELECT * FROM items WHERE id IN (8, 9)")
        );
        assert_eq!(
            normalize("SELECT * FROM t WHERE a = $1 AND b = :name"),
            "SELECT * FROM t WHERE a = $1 AND b = :name"
        );
        assert_eq!(normalize("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')"), "INSERT INTO t (a, b) VALUES (?)");
    }

    #[test]
    fn the_columns_a_query_filters_on() {
        let q = normalize("SELECT * FROM items WHERE order_id = 5 AND (status = 'open') ORDER BY id LIMIT 10");
        assert_eq!(filtered_columns(&q), ["order_id", "status"]);
        assert!(filtered_columns("SELECT 1").is_empty());
    }

    #[test]
    fn bind_parameters_are_told_from_literals() {
        for parameterized in [
            "SELECT * FROM t WHERE id = ?",
            "SELECT * FROM t WHERE id = $1",
            "SELECT * FROM t WHERE id = %s",
            "SELECT * FROM t WHERE id = %(id)s",
            "SELECT * FROM t WHERE id = :id",
            "SELECT * FROM t WHERE id = @id",
        ] {
            assert!(has_placeholders(parameterized), "{parameterized}");
        }
        for literal in [
            "SELECT * FROM t WHERE id = 42",
            "SELECT * FROM t WHERE note = 'why?' AND id::int = 3",
            "SELECT @@version",
            "SELECT * FROM t WHERE a = 'x:y' AND mail = 'a@b.c'",
        ] {
            assert!(!has_placeholders(literal), "{literal}");
        }
    }
}
