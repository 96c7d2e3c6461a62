//! Statements over many rows at once: one multi-row `VALUES` list (or one
//! `IN` list) per statement instead of one statement per row, which on
//! PostgreSQL is one round trip instead of hundreds. Both backends take the
//! same SQL; a statement holds at most [`ROWS_PER_STATEMENT`] rows, which keeps
//! its parameters far under SQLite's limit (32,766) and PostgreSQL's (65,535).

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::Result;

/// Rows bound in one statement (at most a dozen columns each).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// One bound value of a row.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind<'q>(q: Query<'q>, v: &Value) -> Query<'q> {
    match v {
        Value::Int(i) => q.bind(*i),
        Value::OptInt(i) => q.bind(*i),
        Value::Text(t) => q.bind(t.clone()),
        Value::OptText(t) => q.bind(t.clone()),
    }
}

/// `($first, …), (…), …`: `rows` tuples of `columns` placeholders.
fn tuples(first: usize, columns: usize, rows: usize) -> String {
    (0..rows).map(|r| format!("({})", crate::placeholders(first + r * columns, columns))).collect::<Vec<_>>().join(", ")
}

/// Runs `sql` once per [`ROWS_PER_STATEMENT`] rows with `{values}` replaced by
/// their tuples (placeholders from `$1`), and returns what the statements
/// returned, in statement order. Every row must have the same columns.
pub(crate) async fn run(tx: &mut AnyConnection, sql: &str, rows: &[Vec<Value>]) -> Result<Vec<AnyRow>> {
    let mut out = Vec::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let columns = chunk[0].len();
        let text = for_backend(tx, sql.replace("{values}", &tuples(1, columns, chunk.len())));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
        for v in chunk.iter().flatten() {
            q = bind(q, v);
        }
        out.extend(q.fetch_all(&mut *tx).await?);
    }
    Ok(out)
}

/// Ids as the keys of an `IN` list ([`select_in`]).
pub(crate) fn ints(ids: &[i64]) -> Vec<Value> {
    ids.iter().map(|&id| Value::Int(id)).collect()
}

/// Runs `sql` once per [`ROWS_PER_STATEMENT`] keys with `{in}` replaced by
/// their placeholders (after the `fixed` ones, `$1…`), and returns every row
/// (none, and no statement run, for no keys).
///
/// The list is made as long as the next power of two by naming its last key
/// again (which selects nothing more): each list length is a statement of
/// its own to prepare and keep per connection, and a batch of any size then
/// needs one of a few, not one of hundreds.
pub(crate) async fn select_in(
    tx: &mut AnyConnection,
    sql: &str,
    fixed: &[Value],
    keys: &[Value],
) -> Result<Vec<AnyRow>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let Some(last) = chunk.last() else { continue };
        let listed = chunk.len().next_power_of_two();
        let text = for_backend(tx, sql.replace("{in}", &crate::placeholders(fixed.len() + 1, listed)));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
        let padding = std::iter::repeat_n(last, listed - chunk.len());
        for v in fixed.iter().chain(chunk).chain(padding) {
            q = bind(q, v);
        }
        out.extend(q.fetch_all(&mut *tx).await?);
    }
    Ok(out)
}

/// `sql` as the connection's engine takes it best. SQLite looks each named
/// parameter (`$7`) up by walking the statement's list of names, once as it
/// parses it and once as sqlx binds it, so a statement of hundreds of them
/// costs time quadratic in their number; anonymous ones (`?`) are numbered
/// as they come and never looked up (docs/performance.md, "Session 23").
fn for_backend(conn: &AnyConnection, sql: String) -> String {
    if conn.backend_name() != "SQLite" {
        return sql;
    }
    anonymous(&sql).unwrap_or(sql)
}

/// `sql` with `$1, $2, …` turned into `?`, when they come in that order, each
/// once (what a `?` means); otherwise None. Never some of them: a named
/// parameter left beside anonymous ones would be bound to the wrong value, so
/// a `$` in quoted text (or after an apostrophe in a comment, which reads as
/// a quote here) keeps the statement as written.
fn anonymous(sql: &str) -> Option<String> {
    let mut out = String::with_capacity(sql.len());
    let mut next = 1u64;
    let mut quoted = false;
    let mut chars = sql.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        let digits = sql[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if quoted || digits == 0 || sql[i + 1..i + 1 + digits].parse::<u64>().ok()? != next {
            return None;
        }
        for _ in 0..digits {
            chars.next();
        }
        out.push('?');
        next += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tuples_number_placeholders_row_by_row() {
        assert_eq!(super::tuples(1, 2, 3), "($1, $2), ($3, $4), ($5, $6)");
    }

    #[test]
    fn placeholders_in_order_become_anonymous() {
        let sql = "SELECT x FROM t WHERE a = $1 AND b IN ($2, $3, $10)";
        assert_eq!(super::anonymous(sql), None, "$10 is not the fourth");
        let sql = "INSERT INTO t (a, b) VALUES ($1, 'it''s'), ($2, $3) RETURNING id";
        assert_eq!(
            super::anonymous(sql).as_deref(),
            Some("INSERT INTO t (a, b) VALUES (?, 'it''s'), (?, ?) RETURNING id")
        );
        let values = format!("VALUES {}", super::tuples(1, 4, 30));
        assert_eq!(super::anonymous(&values), Some(format!("VALUES {}", vec!["(?, ?, ?, ?)"; 30].join(", "))));
    }

    #[test]
    fn a_placeholder_used_twice_or_out_of_order_stays_named() {
        assert_eq!(super::anonymous("SELECT $1 WHERE a = $1"), None);
        assert_eq!(super::anonymous("SELECT $2, $1"), None);
        assert_eq!(super::anonymous("SELECT $ 1"), None);
        assert_eq!(super::anonymous("SELECT $1, '$2'"), None, "a $ in quotes");
        assert_eq!(super::anonymous("SELECT $1 -- the sender's\n, $2"), None, "an apostrophe in a comment");
        assert_eq!(super::anonymous("SELECT 1").as_deref(), Some("SELECT 1"));
    }
}
