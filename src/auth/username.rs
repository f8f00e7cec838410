//! A validated username: 1 to 64 of `A-Z a-z 0-9 _ . -`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a username is 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-'")]
pub struct InvalidUsername;

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok {
            Ok(Username(raw.to_owned()))
        } else {
            Err(InvalidUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet_only() {
        assert!(Username::parse("demo").is_ok());
        assert!(Username::parse("a.b-c_D9").is_ok());
        assert!(Username::parse(&"x".repeat(64)).is_ok());
        assert!(Username::parse(&"x".repeat(65)).is_err());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("émile").is_err());
        assert!(Username::parse("a/b").is_err());
    }
}
