//! Items in the database. Every query is scoped by the owner's id.

use std::io::Write;

use super::{page, Draft, Item, ItemPage, PageNumber};
use crate::{clock::UnixSecs, db::Pool, error::AppError};

/// One page of a user's items, newest first, in one query: the user's
/// count and the items of the page's `seq` range come back together (a
/// join on the count), one query instead of two (on PostgreSQL, with
/// sqlx's check of the connection on release, two round trips instead of
/// three). One statement reads one snapshot, so the range computed from
/// the count names exactly the items that existed when it was read.
pub async fn page(
    pool: &Pool,
    user_id: i64,
    page: PageNumber,
    page_size: u32,
) -> Result<ItemPage, AppError> {
    // page::seq_range, applied in the query to the count it reads. Past the
    // last page the range is empty, and one row still carries the count.
    let (newer, through) = page::ranks(page_size, page);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT u.item_count, i.id, i.title, i.description, i.created_at \
         FROM users u LEFT JOIN items i ON i.user_id = u.id \
           AND i.seq > u.item_count - $2 AND i.seq <= u.item_count - $3 \
         WHERE u.id = $1 ORDER BY i.seq DESC",
    )
    .bind(user_id)
    .bind(through as i64)
    .bind(newer as i64)
    .fetch_all(pool)
    .await?;
    let Some(&(count, ..)) = rows.first() else {
        return Err(sqlx::Error::RowNotFound.into());
    };
    let count = count.max(0) as u64;
    let page_count = page::page_count(count, page_size);
    if page::seq_range(count, page_size, page).is_none() {
        return Err(AppError::invalid_field(
            "page",
            format!(
                "Page {page} does not exist: there {} {page_count} page{}.",
                if page_count == 1 { "is" } else { "are" },
                if page_count == 1 { "" } else { "s" }
            ),
        ));
    }
    Ok(ItemPage {
        items: rows
            .into_iter()
            .filter_map(|(_, id, title, description, created_at)| {
                Some(Item {
                    id: id?,
                    title: title?,
                    description: description?,
                    created_at: created_at?,
                })
            })
            .collect(),
        page: page.get(),
        page_count,
        item_count: count,
    })
}

/// A row of [`page`]: the user's count, then an item of the page, or
/// nothing when the page has none.
type Row = (
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// Appends an item: the user's count and the item's `seq` move together in
/// one transaction, so concurrent saves never share or skip a number.
pub async fn create(
    pool: &Pool,
    user_id: i64,
    draft: &Draft,
    now: UnixSecs,
) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let (seq,): (i64,) = sqlx::query_as(
        "UPDATE users SET item_count = item_count + 1 WHERE id = $1 RETURNING item_count",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO items (user_id, seq, title, description, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(seq)
    .bind(&draft.title)
    .bind(&draft.description)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Adds `count` generated items for a user, in batched transactions, with
/// progress on `progress` (the terminal, for `add-user --items`).
pub async fn generate(
    pool: &Pool,
    user_id: i64,
    count: u64,
    now: UnixSecs,
    progress: &mut dyn Write,
) -> sqlx::Result<()> {
    const ROWS_PER_STATEMENT: u64 = 1_000;
    const STATEMENTS_PER_TX: u64 = 20;
    let mut done = 0u64;
    while done < count {
        let mut tx = pool.begin().await?;
        let (start,): (i64,) = sqlx::query_as("SELECT item_count FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        let tx_rows = (count - done).min(ROWS_PER_STATEMENT * STATEMENTS_PER_TX);
        let mut written = 0u64;
        while written < tx_rows {
            let rows = (tx_rows - written).min(ROWS_PER_STATEMENT);
            let first = start as u64 + written + 1;
            let sql = batch_insert_sql(rows);
            let mut insert = sqlx::query(&sql);
            for seq in first..first + rows {
                insert = insert
                    .bind(user_id)
                    .bind(seq as i64)
                    .bind(format!("Item {seq}"))
                    .bind(format!("Generated item number {seq}."))
                    .bind(now);
            }
            insert.execute(&mut *tx).await?;
            written += rows;
        }
        sqlx::query("UPDATE users SET item_count = item_count + $1 WHERE id = $2")
            .bind(tx_rows as i64)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done += tx_rows;
        let _ = write!(progress, "\r{done}/{count} items");
        let _ = progress.flush();
    }
    if count > 0 {
        let _ = writeln!(progress);
    }
    Ok(())
}

/// `INSERT INTO items ... VALUES ($1, ..., $5), ($6, ...)` for `rows` rows,
/// numbered by hand: sqlx's query builder writes `?` placeholders for the
/// portable pool, which PostgreSQL does not read.
fn batch_insert_sql(rows: u64) -> String {
    let mut sql =
        String::from("INSERT INTO items (user_id, seq, title, description, created_at) VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        let n = row * 5;
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5
        ));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::batch_insert_sql;

    #[test]
    fn batch_insert_numbers_every_parameter_once() {
        assert_eq!(
            batch_insert_sql(2),
            "INSERT INTO items (user_id, seq, title, description, created_at) VALUES \
             ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)"
        );
    }
}
