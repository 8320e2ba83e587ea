//! `message-address.h`: address lists, over
//! [`crate::mail::message_address`].
//!
//! The Rust parser returns a `Vec` of addresses; the exports copy it into
//! the caller's pool as Dovecot's doubly linked list (Debian's header adds
//! the `prev` pointer), and read such lists back for writing.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_uchar, c_uint};
use std::mem::size_of;
use std::ptr;

use crate::capi::boundary::{
    DovecotString, bytes, c_str_bytes, guard, non_null, t_strndup, write_out,
};
use crate::capi::sys::{self, message_address_parse_flags, pool_t, smtp_address, string_t};
use crate::mail::message_address::{self as addresses, MessageAddress, ParseFlags};

/// One address of a list. A group is a start entry (`mailbox` = the
/// group's name, `domain` NULL), its members, and an end entry whose
/// name, route, mailbox and domain are all NULL.
#[repr(C)]
#[derive(Debug)]
pub struct message_address {
    pub prev: *mut message_address,
    pub next: *mut message_address,
    /// display-name
    pub name: *const c_char,
    /// source route, with its `@` prefix
    pub route: *const c_char,
    /// local-part
    pub mailbox: *const c_char,
    pub domain: *const c_char,
    /// the address had errors and was repaired
    pub invalid_syntax: bool,
}

crate::assert_same_layout!(
    message_address,
    sys::message_address,
    prev,
    next,
    name,
    route,
    mailbox,
    domain,
    invalid_syntax,
);

/// A parsed list: its first and last address, and how many there are.
#[repr(C)]
#[derive(Debug)]
pub struct message_address_list {
    pub head: *mut message_address,
    pub tail: *mut message_address,
    pub count: c_uint,
}

crate::assert_same_layout!(
    message_address_list,
    sys::message_address_list,
    head,
    tail,
    count,
);

/// A C string copied into `pool`, or NULL.
fn pool_string(pool: pool_t, text: Option<&[u8]>) -> *const c_char {
    let Some(text) = text else {
        return ptr::null();
    };
    // SAFETY: p_strndup copies at most text.len() bytes of a live slice
    // into the caller's valid pool.
    unsafe { sys::p_strndup(pool, text.as_ptr().cast(), text.len()) }
}

/// Copy `list` into `pool` as Dovecot's linked list.
fn to_c_list(pool: pool_t, list: &[MessageAddress]) -> message_address_list {
    let mut out = message_address_list {
        head: ptr::null_mut(),
        tail: ptr::null_mut(),
        count: 0,
    };
    for addr in list {
        // SAFETY: p_malloc returns zeroed memory for one message_address
        // from the caller's valid pool (or panics through Dovecot).
        let node =
            unsafe { sys::p_malloc(pool, size_of::<message_address>()) }.cast::<message_address>();
        let value = message_address {
            prev: out.tail,
            next: ptr::null_mut(),
            name: pool_string(pool, addr.name.as_deref()),
            route: pool_string(pool, addr.route.as_deref()),
            mailbox: pool_string(pool, addr.mailbox.as_deref()),
            domain: pool_string(pool, addr.domain.as_deref()),
            invalid_syntax: addr.invalid_syntax,
        };
        // SAFETY: node is a fresh, aligned allocation of the right size;
        // out.tail, when set, is the node written in the previous round.
        unsafe {
            node.write(value);
            match out.tail.as_mut() {
                Some(tail) => tail.next = node,
                None => out.head = node,
            }
        }
        out.tail = node;
        out.count += 1;
    }
    out
}

/// Read a C list (following `next`) into Rust values.
///
/// # Safety
/// `addr` must be NULL or the head of a valid list of valid strings.
unsafe fn from_c_list(mut addr: *const message_address) -> Vec<MessageAddress> {
    let mut list = Vec::new();
    // SAFETY: each node is valid (caller's contract).
    while let Some(node) = unsafe { addr.as_ref() } {
        // SAFETY: each field is NULL or a valid C string.
        let field = |p| unsafe { c_str_bytes(p) }.map(<[u8]>::to_vec);
        list.push(MessageAddress {
            name: field(node.name),
            route: field(node.route),
            mailbox: field(node.mailbox),
            domain: field(node.domain),
            invalid_syntax: node.invalid_syntax,
        });
        addr = node.next;
    }
    list
}

/// Parse `size` bytes at `data` into `pool`. Shared by the parse exports.
///
/// # Safety
/// `data` must point to `size` readable bytes; `pool` must be valid.
unsafe fn parse_into(
    pool: pool_t,
    data: *const c_uchar,
    size: usize,
    max_addresses: c_uint,
    flags: message_address_parse_flags,
) -> message_address_list {
    assert!(!pool.is_null(), "pool is NULL");
    // SAFETY: the caller passes `size` readable bytes.
    let value = unsafe { bytes(data, size, "data") };
    let flags = ParseFlags::from_bits_truncate(flags);

    let list = addresses::parse(value, max_addresses as usize, flags);
    to_c_list(pool, &list)
}

/// Parses the address list of `size` bytes at `data`, reading at most
/// `max_addresses` addresses, into `pool`. Returns the first address of
/// the linked list, or NULL if there is none (an empty value).
///
/// # Safety
/// `pool` must be a valid pool; `data` must point to `size` readable
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_parse(
    pool: pool_t,
    data: *const c_uchar,
    size: usize,
    max_addresses: c_uint,
    flags: message_address_parse_flags,
) -> *mut message_address {
    guard("message_address_parse", || {
        // SAFETY: forwarded contract.
        unsafe { parse_into(pool, data, size, max_addresses, flags) }.head
    })
}

/// Like `message_address_parse()`, but fills `*list_r` with the first and
/// last address and their count.
///
/// # Safety
/// As for `message_address_parse()`; `list_r` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_parse_full(
    pool: pool_t,
    data: *const c_uchar,
    size: usize,
    max_addresses: c_uint,
    flags: message_address_parse_flags,
    list_r: *mut message_address_list,
) {
    guard("message_address_parse_full", || {
        // SAFETY: forwarded contract.
        let list = unsafe { parse_into(pool, data, size, max_addresses, flags) };
        // SAFETY: the caller passes a writable list_r (NULL panics).
        unsafe { write_out(list_r, "list_r", list) }
    })
}

/// Parses a `Return-Path:` value (`size` bytes at `data`) into `pool`:
/// `*addr_r` gets the address (also when invalid; NULL for an empty
/// value). Returns -1 if the path is invalid, else 0.
///
/// # Safety
/// `pool` must be a valid pool; `data` must point to `size` readable
/// bytes; `addr_r` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_parse_path(
    pool: pool_t,
    data: *const c_uchar,
    size: usize,
    addr_r: *mut *mut message_address,
) -> c_int {
    guard("message_address_parse_path", || {
        assert!(!pool.is_null(), "pool is NULL");
        // SAFETY: the caller passes `size` readable bytes.
        let value = unsafe { bytes(data, size, "data") };

        let (addr, ret) = match addresses::parse_path(value) {
            Ok(addr) => (Some(addr), 0),
            Err(addr) => (addr, -1),
        };
        let head = to_c_list(pool, addr.as_slice()).head;
        // SAFETY: the caller passes a writable addr_r (NULL panics).
        unsafe { write_out(addr_r, "addr_r", head) };
        ret
    })
}

/// Sets `*addr` to a single address with the given name (may be NULL),
/// mailbox and domain; everything else is zero.
///
/// # Safety
/// `addr` must be writable; the strings must outlive its use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_init(
    addr: *mut message_address,
    name: *const c_char,
    mailbox: *const c_char,
    domain: *const c_char,
) {
    guard("message_address_init", || {
        let value = single(name, mailbox, domain);
        // SAFETY: the caller passes a writable addr (NULL panics).
        unsafe { write_out(addr, "addr", value) }
    })
}

/// Sets `*addr` to a single address with the given name (may be NULL)
/// and `smtp_addr`'s local part and domain.
///
/// # Safety
/// `addr` must be writable; `smtp_addr` a valid SMTP address; the strings
/// must outlive `*addr`'s use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_init_from_smtp(
    addr: *mut message_address,
    name: *const c_char,
    smtp_addr: *const smtp_address,
) {
    guard("message_address_init_from_smtp", || {
        // SAFETY: the caller passes a valid SMTP address (NULL panics).
        let smtp = unsafe { non_null(smtp_addr, "smtp_addr") };
        let value = single(name, smtp.localpart, smtp.domain);
        // SAFETY: the caller passes a writable addr (NULL panics).
        unsafe { write_out(addr, "addr", value) }
    })
}

fn single(name: *const c_char, mailbox: *const c_char, domain: *const c_char) -> message_address {
    message_address {
        prev: ptr::null_mut(),
        next: ptr::null_mut(),
        name,
        route: ptr::null(),
        mailbox,
        domain,
        invalid_syntax: false,
    }
}

/// Appends the list starting at `addr` to `str` as header text
/// (`name <mailbox@domain>, group: member;`...); an address without
/// mailbox and domain is written `<>`. NULL writes nothing.
///
/// # Safety
/// `str` must be a valid Dovecot string; `addr` NULL or a valid list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_write(str: *mut string_t, addr: *const message_address) {
    guard("message_address_write", || {
        // SAFETY: a valid Dovecot string (NULL panics).
        let mut out = unsafe { DovecotString::new(str, "str") };
        // SAFETY: NULL or a valid list (caller's contract).
        out.append(&unsafe { written(addr) });
    })
}

/// # Safety
/// `addr` must be NULL or a valid list.
unsafe fn written(addr: *const message_address) -> Vec<u8> {
    // SAFETY: forwarded contract.
    let list = unsafe { from_c_list(addr) };
    let mut text = Vec::new();
    addresses::write(&mut text, &list);
    text
}

/// The list starting at `addr` as header text, on the data stack.
///
/// # Safety
/// `addr` must be NULL or a valid list; Dovecot's data stack set up.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_to_string(addr: *const message_address) -> *const c_char {
    guard("message_address_to_string", || {
        // SAFETY: forwarded contract.
        t_strndup(&unsafe { written(addr) })
    })
}

/// Only the first address of the list at `addr`, without its route, as
/// header text on the data stack.
///
/// # Safety
/// `addr` must be a valid address; Dovecot's data stack set up.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_address_first_to_string(
    addr: *const message_address,
) -> *const c_char {
    guard("message_address_first_to_string", || {
        // SAFETY: the caller passes a valid address (NULL panics).
        let first = unsafe { non_null(addr, "addr") };
        let alone = message_address {
            next: ptr::null_mut(),
            route: ptr::null(),
            ..*first
        };
        // SAFETY: `alone` is a valid one-entry list of the caller's
        // strings.
        t_strndup(&unsafe { written(&alone) })
    })
}

/// Whether `hdr_name` is one of the headers that hold addresses (From,
/// Sender, Reply-To, To, Cc, Bcc and their Resent- forms), in any case.
///
/// # Safety
/// `hdr_name` must be a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn message_header_is_address(hdr_name: *const c_char) -> bool {
    guard("message_header_is_address", || {
        // SAFETY: the caller passes a NUL-terminated string.
        let name = unsafe { c_str_bytes(hdr_name) }.expect("hdr_name is NULL");
        std::str::from_utf8(name).is_ok_and(addresses::header_is_address)
    })
}
