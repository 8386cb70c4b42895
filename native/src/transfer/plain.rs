//! The plain-data fast path of structured clones: a clone that holds only
//! plain objects, arrays without holes or extra properties, strings, finite
//! numbers, booleans and null (no shared object, no handle) is turned into
//! JSON text, which the receiving side reads with its own `JSON.parse`
//! (faster than V8's ValueDeserializer, in Node and in isolates alike).
//!
//! The clone itself is still written by V8's ValueSerializer (Node's or the
//! guest's), so everything about what is read from the value (getters,
//! proxies, errors, limits) stays the serializer's; only the reading side
//! changes, and only when the bytes say the result is the same: JSON.parse
//! makes own data properties (a `__proto__` key included) on the realm's
//! Object.prototype and arrays on Array.prototype, in the order of the text,
//! exactly what the deserializer makes of the same bytes. Anything else
//! (`undefined`, holes, NaN and infinities, an object seen twice, a Date, a
//! handle, an unknown tag, a deeper nesting than `MAX_DEPTH`) returns None
//! and the bytes go to the deserializer as before.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Nesting beyond this is left to the deserializer (JSON.parse has no
/// recursion limit, the deserializer has one; this keeps every result that
/// takes the fast path far below the deserializer's limit).
pub const MAX_DEPTH: usize = 1000;

/// Text longer than this is left to the deserializer (V8's strings stop at
/// about 2^29 characters).
const MAX_TEXT: usize = 1 << 28;

/// How many clones took the fast path (read by tests).
static TAKEN: AtomicU64 = AtomicU64::new(0);

pub fn taken() -> u64 {
    TAKEN.load(Ordering::Relaxed)
}

/// Tests turn the fast path off to get the deserializer's result for the
/// same value.
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// The JSON text for clone bytes, if the clone is plain data.
pub fn to_json(bytes: &[u8]) -> Option<String> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    let mut r = Reader { b: bytes, pos: 0, out: Vec::with_capacity(bytes.len() + bytes.len() / 4 + 16) };
    if r.byte()? != 0xFF {
        return None;
    }
    // Formats 13 to 15 (Node 20 to 24) and 16 (ours) read the same for the
    // tags below.
    let version = r.varint()?;
    if !(13..=16).contains(&version) {
        return None;
    }
    r.value(0)?;
    if r.pos != r.b.len() || r.out.len() > MAX_TEXT {
        return None;
    }
    // Everything written is ASCII, or chars encoded by `push_char`.
    let text = String::from_utf8(r.out).ok()?;
    TAKEN.fetch_add(1, Ordering::Relaxed);
    Some(text)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    out: Vec<u8>,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }

    /// The next tag, after any padding.
    fn tag(&mut self) -> Option<u8> {
        loop {
            let t = self.byte()?;
            if t != 0 {
                return Some(t);
            }
        }
    }

    fn peek_tag(&mut self) -> Option<u8> {
        while *self.b.get(self.pos)? == 0 {
            self.pos += 1;
        }
        Some(self.b[self.pos])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift >= 64 {
                return None;
            }
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
        }
    }

    fn slice(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn double(&mut self) -> Option<f64> {
        let s = self.slice(8)?;
        Some(f64::from_le_bytes(s.try_into().ok()?))
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH || self.out.len() > MAX_TEXT {
            return None;
        }
        match self.tag()? {
            b'0' => self.out.extend_from_slice(b"null"),
            b'T' => self.out.extend_from_slice(b"true"),
            b'F' => self.out.extend_from_slice(b"false"),
            b'I' => {
                let n = self.int32()?;
                push_int(&mut self.out, i64::from(n));
            }
            b'U' => {
                let n = u32::try_from(self.varint()?).ok()?;
                push_int(&mut self.out, i64::from(n));
            }
            b'N' => {
                let d = self.double()?;
                if !d.is_finite() {
                    return None;
                }
                // Debug prints the shortest digits that read back as the
                // same double (`-0.0` included, which JSON.parse keeps).
                write!(self.out, "{d:?}").ok()?;
            }
            t @ (b'"' | b'c' | b'S') => self.string(t)?,
            b'o' => self.object(depth)?,
            b'A' => self.dense_array(depth)?,
            b'a' => self.sparse_array(depth)?,
            _ => return None,
        }
        Some(())
    }

    fn int32(&mut self) -> Option<i32> {
        let z = u32::try_from(self.varint()?).ok()?;
        Some(((z >> 1) as i32) ^ -((z & 1) as i32))
    }

    fn string(&mut self, tag: u8) -> Option<()> {
        let n = self.varint()?;
        let s = self.slice(n)?;
        // At most 6 bytes of text per byte read (`\u0001` for 0x01): a
        // string that could take the text past its cap is left to the
        // deserializer before any of it is written.
        if s.len().saturating_mul(6).saturating_add(self.out.len()) > MAX_TEXT {
            return None;
        }
        self.out.push(b'"');
        match tag {
            b'"' => escape_latin1(&mut self.out, s),
            b'S' => escape_str(&mut self.out, std::str::from_utf8(s).ok()?),
            _ => {
                if s.len() % 2 != 0 {
                    return None;
                }
                let units = s.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
                escape_utf16(&mut self.out, units);
            }
        }
        self.out.push(b'"');
        Some(())
    }

    /// An object key: a string, or an integer (array index) as a string.
    fn key(&mut self) -> Option<()> {
        match self.tag()? {
            t @ (b'"' | b'c' | b'S') => self.string(t),
            b'I' => {
                let n = self.int32()?;
                self.out.push(b'"');
                push_int(&mut self.out, i64::from(n));
                self.out.push(b'"');
                Some(())
            }
            b'U' => {
                let n = u32::try_from(self.varint()?).ok()?;
                self.out.push(b'"');
                push_int(&mut self.out, i64::from(n));
                self.out.push(b'"');
                Some(())
            }
            b'N' => {
                // Indices above 2^31 are written as doubles.
                let d = self.double()?;
                if !(d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d < 4294967296.0) {
                    return None;
                }
                write!(self.out, "\"{}\"", d as u64).ok()
            }
            _ => None,
        }
    }

    /// `{key: value, ...}` up to the end tag, whose count must match.
    fn object(&mut self, depth: usize) -> Option<()> {
        self.out.push(b'{');
        let mut count: u64 = 0;
        loop {
            if self.peek_tag()? == b'{' {
                self.pos += 1;
                if self.varint()? != count {
                    return None;
                }
                break;
            }
            if count > 0 {
                self.out.push(b',');
            }
            self.key()?;
            self.out.push(b':');
            self.value(depth + 1)?;
            count += 1;
        }
        self.out.push(b'}');
        Some(())
    }

    /// A dense array: every element present, no other property.
    fn dense_array(&mut self, depth: usize) -> Option<()> {
        let len = self.varint()?;
        self.out.push(b'[');
        for i in 0..len {
            if i > 0 {
                self.out.push(b',');
            }
            // Holes ('-') and undefined ('_') are not JSON.
            self.value(depth + 1)?;
        }
        self.out.push(b']');
        // Extra properties would come before the end tag.
        if self.tag()? != b'$' || self.varint()? != 0 || self.varint()? != len {
            return None;
        }
        Some(())
    }

    /// A sparse array in which every index from 0 to length - 1 is present,
    /// in order, and nothing else (an array that was holey once).
    fn sparse_array(&mut self, depth: usize) -> Option<()> {
        let len = self.varint()?;
        self.out.push(b'[');
        let mut i: u64 = 0;
        loop {
            if self.peek_tag()? == b'@' {
                self.pos += 1;
                if self.varint()? != i || self.varint()? != len || i != len {
                    return None;
                }
                break;
            }
            let index = match self.tag()? {
                b'I' => u64::try_from(self.int32()?).ok()?,
                b'U' => self.varint()?,
                _ => return None,
            };
            if index != i {
                return None;
            }
            if i > 0 {
                self.out.push(b',');
            }
            self.value(depth + 1)?;
            i += 1;
        }
        self.out.push(b']');
        Some(())
    }
}

/// A decimal integer.
fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut v = n.unsigned_abs();
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn escape_control(out: &mut Vec<u8>, c: u32) {
    let _ = write!(out, "\\u{c:04x}");
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Whether a byte (ASCII or Latin-1) is written as itself in a JSON string.
fn is_plain_ascii(b: u8) -> bool {
    (0x20..0x80).contains(&b) && b != b'"' && b != b'\\'
}

fn escape_latin1(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if is_plain_ascii(b) {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1F => escape_control(out, u32::from(b)),
            _ => push_char(out, char::from(b)),
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

fn escape_str(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => escape_control(out, c as u32),
            c => push_char(out, c),
        }
    }
}

/// UTF-16 code units as JSON string content; an unpaired surrogate is
/// written as a `\uXXXX` escape, which JSON.parse reads back as that unit.
fn escape_utf16(out: &mut Vec<u8>, units: impl Iterator<Item = u16>) {
    for r in char::decode_utf16(units) {
        match r {
            Ok('"') => out.extend_from_slice(b"\\\""),
            Ok('\\') => out.extend_from_slice(b"\\\\"),
            Ok(c) if (c as u32) < 0x20 => escape_control(out, c as u32),
            Ok(c) => push_char(out, c),
            Err(e) => escape_control(out, u32::from(e.unpaired_surrogate())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(v: u8) -> Vec<u8> {
        vec![0xFF, v]
    }

    #[test]
    fn plain_values() {
        let mut b = hdr(15);
        // {a: 1, "1": [true, null]}
        b.extend_from_slice(b"o\"\x01aI\x02I\x02A\x02T0$\x00\x02{\x02");
        assert_eq!(to_json(&b).as_deref(), Some("{\"a\":1,\"1\":[true,null]}"));
    }

    #[test]
    fn lossy_values_are_refused() {
        for body in [&b"_"[..], b"A\x01-$\x00\x01", b"A\x01_$\x00\x01", b"^\x00", b"Z\x10", b"D\0\0\0\0\0\0\0\0"] {
            let mut b = hdr(15);
            b.extend_from_slice(body);
            assert_eq!(to_json(&b), None, "{body:?}");
        }
        let mut b = hdr(15);
        b.push(b'N');
        b.extend_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(to_json(&b), None);
    }

    #[test]
    fn strings_escape() {
        let mut b = hdr(15);
        b.extend_from_slice(b"\"\x04\"\\\x01\xe9");
        assert_eq!(to_json(&b).as_deref(), Some("\"\\\"\\\\\\u0001é\""));
        let mut b = hdr(15);
        b.extend_from_slice(b"c\x04");
        b.extend_from_slice(&0xD800u16.to_le_bytes());
        b.extend_from_slice(&0x41u16.to_le_bytes());
        assert_eq!(to_json(&b).as_deref(), Some("\"\\ud800A\""));
        assert_eq!(to_json(&[0xFF, 15, b'N', 0, 0, 0, 0, 0, 0, 0, 0x80]).as_deref(), Some("-0.0"));
    }

    #[test]
    fn depth_is_capped() {
        let mut b = hdr(15);
        for _ in 0..=MAX_DEPTH + 1 {
            b.extend_from_slice(b"A\x01");
        }
        b.push(b'0');
        for _ in 0..=MAX_DEPTH + 1 {
            b.extend_from_slice(b"$\x00\x01");
        }
        assert_eq!(to_json(&b), None);
    }
}
