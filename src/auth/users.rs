//! The users table.

use crate::{auth::Username, clock::UnixSecs, db::Pool};

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("user {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn find(pool: &Pool, username: &Username) -> sqlx::Result<Option<User>> {
    let row: Option<(i64, String, String)> =
        sqlx::query_as("SELECT id, username, password_hash FROM users WHERE username = $1")
            .bind(username.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(id, username, password_hash)| User {
        id,
        username,
        password_hash,
    }))
}

pub async fn create(
    pool: &Pool,
    username: &Username,
    password_hash: &str,
    now: UnixSecs,
) -> Result<i64, CreateUserError> {
    let result = sqlx::query(
        "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(username.as_str())
    .bind(password_hash)
    .bind(now)
    .fetch_one(pool)
    .await;
    match result {
        Ok(row) => {
            use sqlx::Row;
            Ok(row.try_get::<i64, _>(0)?)
        }
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            Err(CreateUserError::Exists(username.to_string()))
        }
        Err(err) => Err(err.into()),
    }
}
