use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::{Email, HostName, Role};

use crate::{Result, Store, StoreError, from_ms, is_unique_violation, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
}

/// An account as the installation's operator sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountOverview {
    pub id: i64,
    pub name: String,
    pub hosts: Vec<String>,
    pub active_users: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub account_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: Timestamp,
    /// Enter sends a reply (true) or makes a new line (false); None until the
    /// user chooses, when it depends on their keyboard.
    pub enter_sends: Option<bool>,
    /// Whether they said conversations may come to them (what counts now also
    /// depends on an open tab: `Services::presence_of`).
    pub presence: textdesk_core::routing::Presence,
    /// Their own phone (E.164), rung first when they call a customer.
    pub phone: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Team {
    pub id: i64,
    pub name: String,
}

pub struct NewUser {
    pub account_id: i64,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

const USER_COLUMNS: &str =
    "id, account_id, email, name, role, active, password_hash, created_at, enter_sends, presence, phone";

fn user_from(row: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&role)?,
        active: row.try_get::<i64, _>("active")? != 0,
        password_hash: row.try_get("password_hash")?,
        created_at: from_ms(row.try_get("created_at")?),
        enter_sends: row.try_get::<Option<i64>, _>("enter_sends")?.map(|v| v != 0),
        presence: textdesk_core::routing::Presence::parse(&row.try_get::<String, _>("presence")?).unwrap_or_default(),
        phone: row.try_get("phone")?,
    })
}

impl Store {
    /// The account this installation serves. One binary serves one business;
    /// the account id is in the schema so data never mixes if that changes.
    pub async fn ensure_account(&self, name: &str) -> Result<Account> {
        if let Some(a) = self.first_account().await? {
            return Ok(a);
        }
        let row = self
            .write_row(
                sqlx::query("INSERT INTO accounts (name, created_at) VALUES ($1, $2) RETURNING id")
                    .bind(name)
                    .bind(to_ms(Timestamp::now())),
            )
            .await?;
        Ok(Account { id: returned_id(&row)?, name: name.to_owned() })
    }

    pub async fn first_account(&self) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT id, name FROM accounts ORDER BY id LIMIT 1").fetch_optional(&self.pool).await?;
        Ok(match row {
            Some(r) => Some(Account { id: r.try_get("id")?, name: r.try_get("name")? }),
            None => None,
        })
    }

    /// An account with its first admin and its host names, all or nothing: an
    /// account nobody can sign in to could only be fixed with SQL.
    pub async fn create_account(&self, name: &str, admin: NewUser, hosts: &[HostName]) -> Result<(Account, User)> {
        let now = to_ms(Timestamp::now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("INSERT INTO accounts (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let account = Account { id: returned_id(&row)?, name: name.to_owned() };
        let row = sqlx::query(
            "INSERT INTO users (account_id, email, name, role, password_hash, active, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6) RETURNING id",
        )
        .bind(account.id)
        .bind(admin.email.as_str())
        .bind(&admin.name)
        .bind(admin.role.as_str())
        .bind(&admin.password_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let user_id = returned_id(&row)?;
        for host in hosts {
            insert_host(&mut tx, account.id, host).await?;
        }
        self.commit(tx).await?;
        Ok((account, self.user(user_id).await?))
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query("SELECT id, name FROM accounts ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(Account { id: r.try_get("id")?, name: r.try_get("name")? })).collect()
    }

    /// Every account with what the operator sees of it: host names, how many
    /// people are active, when it was made.
    pub async fn account_overviews(&self) -> Result<Vec<AccountOverview>> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.created_at,
                    (SELECT COUNT(*) FROM users u WHERE u.account_id = a.id AND u.active = 1) AS users
             FROM accounts a ORDER BY a.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let hosts =
            sqlx::query("SELECT account_id, host FROM account_hosts ORDER BY host").fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let mut names = Vec::new();
            for h in &hosts {
                if h.try_get::<i64, _>("account_id")? == id {
                    names.push(h.try_get("host")?);
                }
            }
            out.push(AccountOverview {
                id,
                name: r.try_get("name")?,
                hosts: names,
                active_users: r.try_get("users")?,
                created_at: from_ms(r.try_get("created_at")?),
            });
        }
        Ok(out)
    }

    /// Another host name for an account; a name already taken (by any account) is a conflict.
    pub async fn add_account_host(&self, account_id: i64, host: &HostName) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_host(&mut tx, account_id, host).await?;
        self.commit(tx).await
    }

    /// The account a host name belongs to, if any.
    pub async fn account_for_host(&self, host: &HostName) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT account_id FROM account_hosts WHERE host = $1")
            .bind(host.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("account_id")?),
            None => None,
        })
    }

    pub async fn create_user(&self, u: NewUser) -> Result<User> {
        let now = Timestamp::now();
        let res = self.write_row(sqlx::query(
            "INSERT INTO users (account_id, email, name, role, password_hash, active, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6) RETURNING id",
        )
        .bind(u.account_id)
        .bind(u.email.as_str())
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(&u.password_hash)
        .bind(to_ms(now))
        )
        .await;
        let row = match res {
            Ok(r) => r,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("a user with e-mail {} already exists", u.email)));
            }
            Err(e) => return Err(e.into()),
        };
        self.user(returned_id(&row)?).await
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        user_from(&row.ok_or(StoreError::NotFound("user"))?)
    }

    /// The account's user with this e-mail (e-mails are unique per account).
    pub async fn user_by_email(&self, account_id: i64, email: &Email) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 AND email = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// Every account's user with this e-mail, oldest account first: signing in
    /// without a host name of an account looks across them.
    pub async fn users_by_email(&self, email: &Email) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1 ORDER BY account_id LIMIT 50");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(email.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn users(&self, account_id: i64) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE account_id = $1 ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn set_user_role(&self, id: i64, role: Role) -> Result<User> {
        let n = self
            .write_one(sqlx::query("UPDATE users SET role = $1 WHERE id = $2").bind(role.as_str()).bind(id))
            .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        self.user(id).await
    }

    /// Deactivated users keep their history but can no longer sign in or use tokens.
    pub async fn set_user_active(&self, id: i64, active: bool) -> Result<User> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(active as i64)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        }
        self.commit(tx).await?;
        self.user(id).await
    }

    /// The user's own preferences; None puts one back to the default.
    pub async fn set_enter_sends(&self, id: i64, enter_sends: Option<bool>) -> Result<User> {
        self.write_one(
            sqlx::query("UPDATE users SET enter_sends = $1 WHERE id = $2").bind(enter_sends.map(i64::from)).bind(id),
        )
        .await?;
        self.user(id).await
    }

    /// Sets (or with None removes) the person's own phone, already checked as E.164.
    pub async fn set_phone(&self, id: i64, phone: Option<&str>) -> Result<User> {
        self.write_one(sqlx::query("UPDATE users SET phone = $1 WHERE id = $2").bind(phone).bind(id)).await?;
        self.user(id).await
    }

    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<()> {
        self.write_one(sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(id)).await?;
        Ok(())
    }

    pub async fn create_team(&self, account_id: i64, name: &str) -> Result<Team> {
        let res = self
            .write_row(
                sqlx::query("INSERT INTO teams (account_id, name) VALUES ($1, $2) RETURNING id")
                    .bind(account_id)
                    .bind(name),
            )
            .await;
        match res {
            Ok(row) => Ok(Team { id: returned_id(&row)?, name: name.to_owned() }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("a team named {name:?} exists"))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn add_team_member(&self, team_id: i64, user_id: i64) -> Result<()> {
        self.write_one(
            sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(team_id)
                .bind(user_id),
        )
        .await?;
        Ok(())
    }

    pub async fn teams(&self, account_id: i64) -> Result<Vec<Team>> {
        let rows = sqlx::query("SELECT id, name FROM teams WHERE account_id = $1 ORDER BY name")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(Team { id: r.try_get("id")?, name: r.try_get("name")? })).collect()
    }

    pub async fn team(&self, account_id: i64, id: i64) -> Result<Team> {
        let r = sqlx::query("SELECT id, name FROM teams WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("team"))?;
        Ok(Team { id: r.try_get("id")?, name: r.try_get("name")? })
    }
}

async fn insert_host(tx: &mut sqlx::AnyConnection, account_id: i64, host: &HostName) -> Result<()> {
    let res = sqlx::query("INSERT INTO account_hosts (host, account_id) VALUES ($1, $2)")
        .bind(host.as_str())
        .bind(account_id)
        .execute(&mut *tx)
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!("the host name {host} is taken"))),
        Err(e) => Err(e.into()),
    }
}
