//! IMAP LIST patterns (imap-match.c): `*` matches anything, `%` anything
//! but the hierarchy separator; `INBOX` matches case-insensitively.

/// A set of patterns; a name matches if any pattern does. No patterns
/// means `*`.
#[derive(Debug, Clone)]
pub struct Glob {
    patterns: Vec<String>,
    sep: char,
}

impl Glob {
    pub fn new(patterns: &[String], sep: char) -> Self {
        let patterns = if patterns.is_empty() {
            vec!["*".to_string()]
        } else {
            patterns.iter().map(|p| inbox_upper(p)).collect()
        };
        Glob { patterns, sep }
    }

    pub fn matches(&self, name: &str) -> bool {
        let name = inbox_upper(name);
        let name: Vec<char> = name.chars().collect();
        self.patterns.iter().any(|p| {
            let p: Vec<char> = p.chars().collect();
            match_chars(&p, &name, self.sep)
        })
    }
}

/// `INBOX` (in any case) as the first component is written `INBOX`.
fn inbox_upper(name: &str) -> String {
    let head = name.get(..5).unwrap_or(name);
    let rest = name.get(5..).unwrap_or("");
    let boundary = rest.is_empty() || !rest.starts_with(char::is_alphanumeric);
    if head.eq_ignore_ascii_case("INBOX") && boundary {
        format!("INBOX{rest}")
    } else {
        name.to_string()
    }
}

fn match_chars(p: &[char], s: &[char], sep: char) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| match_chars(rest, &s[i..], sep)),
        Some(('%', rest)) => {
            let limit = s.iter().position(|&c| c == sep).unwrap_or(s.len());
            (0..=limit).any(|i| match_chars(rest, &s[i..], sep))
        }
        Some((c, rest)) => s.first() == Some(c) && match_chars(rest, &s[1..], sep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let g = Glob::new(&["W%".to_string()], '.');
        assert!(g.matches("Work"));
        assert!(!g.matches("Work.Projects"));
        let g = Glob::new(&["inbox".to_string(), "*s".to_string()], '.');
        assert!(g.matches("INBOX"));
        assert!(g.matches("Work.Projects"));
        assert!(!g.matches("Archive"));
    }
}
