//! lib-mail: parsing messages and computing what IMAP shows of them.
