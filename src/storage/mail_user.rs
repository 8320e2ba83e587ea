//! The mail location of a user without a userdb (mail-storage-settings.c
//! `mail_location`, mailbox-list.c's location parsing): `maildir:PATH`
//! with `:INDEX=`, `:CONTROL=`, `:LAYOUT=` and `:INBOX=` parameters, `~`
//! expanded from `HOME`.
//!
//! TODO(mail-user): userdb lookups, `%u`/`%h` variables, `:VOLATILEDIR=`,
//! `:DIRNAME=` and other formats than Maildir are not supported.

use std::path::{Path, PathBuf};

/// How mailbox names map to directories (`LAYOUT=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `.Name.Child` directories under the root (the Maildir default).
    MaildirPlusPlus,
    /// `Name/Child` directories under the root.
    Fs,
}

/// A parsed `mail_location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLocation {
    pub root: PathBuf,
    pub index: Option<PathBuf>,
    pub control: Option<PathBuf>,
    pub inbox: Option<PathBuf>,
    pub layout: Layout,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("Unknown mail storage driver {0}")]
    UnknownDriver(String),
    #[error("mail_location not set and autodetection failed")]
    Missing,
    #[error("Unknown layout: {0}")]
    UnknownLayout(String),
    #[error("Unknown setting: {0}")]
    UnknownSetting(String),
    #[error("Home directory not set for user. Can't expand ~/ for mail root dir: {0}")]
    NoHome(String),
}

impl MailLocation {
    /// Parse `maildir:PATH[:KEY=VALUE]...`; `home` expands a leading `~`.
    pub fn parse(location: &str, home: Option<&Path>) -> Result<Self, LocationError> {
        let Some((driver, rest)) = location.split_once(':') else {
            return Err(LocationError::Missing);
        };
        if driver != "maildir" {
            return Err(LocationError::UnknownDriver(driver.to_string()));
        }

        let mut parts = split_unescaped(rest).into_iter();
        let root = expand_home(&parts.next().unwrap_or_default(), home)?;
        let mut loc = MailLocation {
            root,
            index: None,
            control: None,
            inbox: None,
            layout: Layout::MaildirPlusPlus,
        };
        for part in parts {
            loc.apply_param(&part, home)?;
        }
        Ok(loc)
    }

    fn apply_param(&mut self, part: &str, home: Option<&Path>) -> Result<(), LocationError> {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key {
            "INDEX" if value == "MEMORY" => {}
            "INDEX" => self.index = Some(expand_home(value, home)?),
            "CONTROL" => self.control = Some(expand_home(value, home)?),
            "INBOX" => self.inbox = Some(expand_home(value, home)?),
            "LAYOUT" => {
                self.layout = match value {
                    "fs" => Layout::Fs,
                    "maildir++" => Layout::MaildirPlusPlus,
                    other => return Err(LocationError::UnknownLayout(other.to_string())),
                }
            }
            _ => return Err(LocationError::UnknownSetting(part.to_string())),
        }
        Ok(())
    }

    /// The hierarchy separator of mailbox names.
    pub fn separator(&self) -> char {
        match self.layout {
            Layout::MaildirPlusPlus => '.',
            Layout::Fs => '/',
        }
    }

    /// The directory holding the mail files of mailbox `vname`.
    pub fn mailbox_dir(&self, vname: &str) -> PathBuf {
        if vname.eq_ignore_ascii_case("INBOX") {
            return self.inbox.clone().unwrap_or_else(|| self.root.clone());
        }
        self.root.join(self.storage_name(vname))
    }

    /// Where the index files of `vname` are.
    pub fn index_dir(&self, vname: &str) -> PathBuf {
        match &self.index {
            Some(index) if vname.eq_ignore_ascii_case("INBOX") => index.clone(),
            Some(index) => index.join(self.storage_name(vname)),
            None => self.mailbox_dir(vname),
        }
    }

    /// Where `dovecot-uidlist` and `dovecot-keywords` of `vname` are.
    pub fn control_dir(&self, vname: &str) -> PathBuf {
        match &self.control {
            Some(control) if vname.eq_ignore_ascii_case("INBOX") => control.clone(),
            Some(control) => control.join(self.storage_name(vname)),
            None => self.mailbox_dir(vname),
        }
    }

    /// Where the `subscriptions` file is.
    pub fn subscriptions_path(&self) -> PathBuf {
        self.control
            .as_ref()
            .unwrap_or(&self.root)
            .join("subscriptions")
    }

    /// The directory name of a non-INBOX mailbox under the root.
    fn storage_name(&self, vname: &str) -> String {
        match self.layout {
            Layout::MaildirPlusPlus => format!(".{vname}"),
            Layout::Fs => vname.to_string(),
        }
    }
}

/// Split at `:` not doubled (`::` stands for a literal colon).
fn split_unescaped(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ':' {
            parts.last_mut().expect("one part").push(c);
        } else if chars.peek() == Some(&':') {
            chars.next();
            parts.last_mut().expect("one part").push(':');
        } else {
            parts.push(String::new());
        }
    }
    parts
}

fn expand_home(path: &str, home: Option<&Path>) -> Result<PathBuf, LocationError> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(PathBuf::from(path));
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Ok(PathBuf::from(path));
    }
    let home = home.ok_or_else(|| LocationError::NoHome(path.to_string()))?;
    Ok(home.join(rest.trim_start_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameters_and_home() {
        let home = Path::new("/home/u");
        let loc = MailLocation::parse("maildir:~/Maildir:INDEX=/idx:LAYOUT=fs", Some(home));
        let loc = loc.unwrap();
        assert_eq!(loc.root, Path::new("/home/u/Maildir"));
        assert_eq!(loc.index.as_deref(), Some(Path::new("/idx")));
        assert_eq!(loc.layout, Layout::Fs);
        assert_eq!(loc.index_dir("a/b"), Path::new("/idx/a/b"));
        assert_eq!(loc.mailbox_dir("INBOX"), Path::new("/home/u/Maildir"));
    }

    #[test]
    fn maildir_plus_plus_names() {
        let loc = MailLocation::parse("maildir:/m", None).unwrap();
        assert_eq!(
            loc.mailbox_dir("Work.Projects"),
            Path::new("/m/.Work.Projects")
        );
        assert!(MailLocation::parse("mbox:/m", None).is_err());
    }
}
