//! A validated page number and the arithmetic of pages over per-user
//! sequence numbers.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageNumber(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a page number: pages are whole numbers from 1")]
pub struct InvalidPage(pub String);

impl PageNumber {
    pub const FIRST: PageNumber = PageNumber(1);

    pub fn parse(raw: &str) -> Result<Self, InvalidPage> {
        let shown: String = raw.chars().take(40).collect();
        match raw.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(PageNumber(n)),
            _ => Err(InvalidPage(shown)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for PageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Number of pages for `count` items, at least one (an empty list has a page 1).
pub fn page_count(count: u64, page_size: u32) -> u64 {
    count.div_ceil(page_size.max(1) as u64).max(1)
}

/// Where `page` sits, counted from the newest item: `(newer, through)`,
/// the page holding the items of rank `newer + 1` to `through`. Whatever
/// the count, so a query can apply it to a count it reads itself.
pub fn ranks(page_size: u32, page: PageNumber) -> (u64, u64) {
    let newer = (page.get() as u64 - 1) * page_size.max(1) as u64;
    (newer, newer + page_size.max(1) as u64)
}

/// The `seq` range `(lo, hi]` holding `page`, newest first, when it exists.
pub fn seq_range(count: u64, page_size: u32, page: PageNumber) -> Option<(u64, u64)> {
    if page.get() as u64 > page_count(count, page_size) {
        return None;
    }
    let (newer, through) = ranks(page_size, page);
    Some((count.saturating_sub(through), count.saturating_sub(newer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_integers_only() {
        assert_eq!(PageNumber::parse("3").unwrap().get(), 3);
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999999999999"] {
            assert!(PageNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_cover_every_seq_once_newest_first() {
        assert_eq!(page_count(0, 20), 1);
        assert_eq!(page_count(41, 20), 3);
        assert_eq!(seq_range(41, 20, PageNumber(1)), Some((21, 41)));
        assert_eq!(seq_range(41, 20, PageNumber(3)), Some((0, 1)));
        assert_eq!(seq_range(41, 20, PageNumber(4)), None);
        assert_eq!(seq_range(0, 20, PageNumber(1)), Some((0, 0)));
    }
}
