//! The conversation list's SQL, assembled at run time: the WHERE clause with
//! its numbered placeholders and the values bound to them, and how each sort
//! reads (`Store::list_conversations` in `conversations.rs` puts them together).

/// The waiting sort's key for a conversation nobody waits on: after every real time.
/// The index `conversations_waiting` (migration 0009) is built on this exact expression.
pub(crate) const WAITING_KEY: &str = "COALESCE(c.waiting_since, 9007199254740991)";

/// How a sort reads in SQL: an optional join, the key and its direction.
pub(crate) struct Order {
    pub(crate) join: String,
    pub(crate) key: &'static str,
    pub(crate) descending: bool,
}

impl Order {
    pub(crate) fn activity() -> Self {
        Order { join: String::new(), key: "c.last_activity_at", descending: true }
    }
}

/// A value bound into a query assembled at run time.
pub(crate) enum Bind {
    I64(i64),
    Str(String),
}

/// Builds a WHERE clause with `$N` placeholders numbered in order.
pub(crate) struct Where {
    pub(crate) clauses: Vec<String>,
    pub(crate) binds: Vec<Bind>,
}

impl Where {
    pub(crate) fn new() -> Self {
        Where { clauses: Vec::new(), binds: Vec::new() }
    }
    /// Adds a clause; each `?` in it becomes the next placeholder bound to `value`.
    pub(crate) fn push(&mut self, clause: &str, value: Bind) {
        let n = self.binds.len() + 1;
        self.clauses.push(clause.replace('?', &format!("${n}")));
        self.binds.push(value);
    }
    /// `c.id IN (…)`, each id bound.
    pub(crate) fn push_ids(&mut self, ids: &[i64]) {
        self.clauses.push(format!("c.id IN ({})", crate::placeholders(self.binds.len() + 1, ids.len())));
        self.binds.extend(ids.iter().map(|id| Bind::I64(*id)));
    }
    pub(crate) fn push_raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }
    pub(crate) fn next_placeholder(&self) -> String {
        format!("${}", self.binds.len() + 1)
    }
    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() { "TRUE".into() } else { self.clauses.join(" AND ") }
    }
    pub(crate) fn bind_all<'q>(
        self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for b in self.binds {
            q = match b {
                Bind::I64(v) => q.bind(v),
                Bind::Str(v) => q.bind(v),
            };
        }
        q
    }
}
