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

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Nesting beyond this is left to the deserializer (JSON.parse has no
/// recursion limit, the deserializer has one; this keeps every result that
/// takes the fast path far below the deserializer's limit).
pub const MAX_DEPTH: usize = 1000;

/// Clones of this size or more with fewer than one object or array per
/// `DENSITY` bytes are left to the deserializer.
const DENSE_FROM: usize = 1 << 16;
const DENSITY: usize = 64;

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
    let mut out = Json(Vec::with_capacity(bytes.len() + bytes.len() / 4 + 16));
    read(bytes, &mut out)?;
    finish(out.0)
}

/// Objects with more keys than this, or more distinct shapes than this
/// that are not used 4 times each on average, make `to_rows` refuse (the
/// caller uses `to_json`).
const ROW_KEYS: u64 = 64;
const ROW_SHAPES: usize = 32;

/// The row form of clone bytes for Node (see `Rows`), if the clone is plain
/// data whose objects share a few shapes.
pub fn to_rows(bytes: &[u8]) -> Option<String> {
    let mut out = Rows::default();
    out.leaves.reserve(bytes.len());
    read(bytes, &mut out)?;
    // Rows pay off when shapes repeat: each shape costs a template, and
    // filling a large template is slower than JSON.parse making the object.
    let shapes = out.index.len();
    if out.wide || (shapes > ROW_SHAPES && shapes * 4 > out.objects) {
        return None;
    }
    let mut text = Vec::with_capacity(out.ops.len() + out.shapes.len() + out.leaves.len() + 8);
    text.extend_from_slice(b"[\"");
    text.extend_from_slice(&out.ops);
    text.extend_from_slice(b"\",[");
    text.extend_from_slice(&out.shapes);
    text.push(b']');
    text.extend_from_slice(&out.leaves);
    text.push(b']');
    finish(text)
}

/// Whether Node's clone bytes are plain data (objects, arrays, primitives)
/// with no empty object in them. Node's handle objects (Reference,
/// ExternalCopy, Context...) are frozen with no own keys, so each clones as
/// an empty object: bytes that pass hold none, and lib/transfer.js can use
/// them without a second walk of the value (which would run its getters
/// again). Anything the reader does not know counts as not passing.
pub fn plain_without_empty_objects(bytes: &[u8]) -> bool {
    let mut check = Check(false);
    parse(bytes, &mut check).is_some() && !check.0
}

fn read(bytes: &[u8], out: &mut impl Sink) -> Option<()> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    parse(bytes, out)
}

fn parse(bytes: &[u8], out: &mut impl Sink) -> Option<()> {
    let mut r = Reader { b: bytes, pos: 0, key: Vec::new(), containers: 0 };
    if r.byte()? != 0xFF {
        return None;
    }
    // Formats 13 to 15 (Node 20 to 24) and 16 (ours) read the same for the
    // tags below.
    let version = r.varint()?;
    if !(13..=16).contains(&version) {
        return None;
    }
    r.value(out, 0)?;
    if r.pos != r.b.len() || out.len() > MAX_TEXT {
        return None;
    }
    Some(())
}

fn finish(text: Vec<u8>) -> Option<String> {
    // Everything written is ASCII, or chars encoded by `push_char`.
    let text = String::from_utf8(text).ok()?;
    TAKEN.fetch_add(1, Ordering::Relaxed);
    Some(text)
}

/// What the reader writes to: JSON text, or rows.
trait Sink {
    /// Whether the sink reads the text of values and keys (a sink that only
    /// looks at the structure skips making it).
    const TEXT: bool = true;
    /// A number, `true`, `false` or `null`, as JSON text.
    fn leaf(&mut self, text: &[u8]);
    /// A string, as JSON text (quoted and escaped).
    fn string(&mut self, text: &[u8]);
    fn begin_object(&mut self);
    /// A key (JSON text of a string); `first` for an object's first key.
    fn key(&mut self, text: &[u8], first: bool);
    /// The end of an object with `count` keys.
    fn end_object(&mut self, count: u64);
    fn begin_array(&mut self);
    /// Before each element but the first.
    fn next_element(&mut self);
    fn end_array(&mut self, len: u64);
    /// The size written so far.
    fn len(&self) -> usize;
}

/// Writes nothing; notes an empty object (see `plain_without_empty_objects`).
struct Check(bool);

impl Sink for Check {
    const TEXT: bool = false;
    fn leaf(&mut self, _text: &[u8]) {}
    fn string(&mut self, _text: &[u8]) {}
    fn begin_object(&mut self) {}
    fn key(&mut self, _text: &[u8], _first: bool) {}
    fn end_object(&mut self, count: u64) {
        if count == 0 {
            self.0 = true;
        }
    }
    fn begin_array(&mut self) {}
    fn next_element(&mut self) {}
    fn end_array(&mut self, _len: u64) {}
    fn len(&self) -> usize {
        0
    }
}

/// JSON text: what JSON.parse reads.
struct Json(Vec<u8>);

impl Sink for Json {
    fn leaf(&mut self, text: &[u8]) {
        self.0.extend_from_slice(text);
    }
    fn string(&mut self, text: &[u8]) {
        self.0.extend_from_slice(text);
    }
    fn begin_object(&mut self) {
        self.0.push(b'{');
    }
    fn key(&mut self, text: &[u8], first: bool) {
        if !first {
            self.0.push(b',');
        }
        self.0.extend_from_slice(text);
        self.0.push(b':');
    }
    fn end_object(&mut self, _count: u64) {
        self.0.push(b'}');
    }
    fn begin_array(&mut self) {
        self.0.push(b'[');
    }
    fn next_element(&mut self) {
        self.0.push(b',');
    }
    fn end_array(&mut self, _len: u64) {
        self.0.push(b']');
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Rows: the JSON text of `[ops, shapes, leaf...]`, which lib/transfer.js
/// `decodeRows` turns into the value. JSON.parse of it makes one array of
/// leaves instead of every object with its keys (about twice as fast in
/// Node). `ops` is a string with one letter per value in postfix order: `v`
/// takes the next leaf, `a` takes a length from the leaves and makes an
/// array of that many values from the stack, `o` takes a shape index and
/// makes an object with the shape's keys from as many values. `shapes` lists
/// each distinct key list once.
#[derive(Default)]
struct Rows {
    ops: Vec<u8>,
    shapes: Vec<u8>,
    leaves: Vec<u8>,
    /// Shape text (`"k1","k2"`) to index (keyed by the default, seeded
    /// hasher: the keys are the guest's).
    index: HashMap<Vec<u8>, u32>,
    /// The last shape seen (objects of one shape often come in a row).
    last: Option<(Vec<u8>, u32)>,
    objects: usize,
    /// An object had more than `ROW_KEYS` keys.
    wide: bool,
    /// The keys of the objects being read, innermost last, and where each
    /// object's keys start.
    keys: Vec<u8>,
    starts: Vec<usize>,
}

impl Rows {
    fn push_leaf(&mut self, text: &[u8]) {
        self.leaves.push(b',');
        self.leaves.extend_from_slice(text);
    }
}

impl Sink for Rows {
    fn leaf(&mut self, text: &[u8]) {
        self.ops.push(b'v');
        self.push_leaf(text);
    }
    fn string(&mut self, text: &[u8]) {
        self.leaf(text);
    }
    fn begin_object(&mut self) {
        self.starts.push(self.keys.len());
    }
    fn key(&mut self, text: &[u8], first: bool) {
        if !first {
            self.keys.push(b',');
        }
        self.keys.extend_from_slice(text);
    }
    fn end_object(&mut self, count: u64) {
        self.objects += 1;
        if count > ROW_KEYS {
            self.wide = true;
        }
        let start = self.starts.pop().unwrap_or(0);
        let shape = &self.keys[start..];
        let last = match &self.last {
            Some((text, i)) if text.as_slice() == shape => Some(*i),
            _ => None,
        };
        let i = match last.or_else(|| self.index.get(shape).copied()) {
            Some(i) => i,
            None => {
                let i = self.index.len() as u32;
                if i > 0 {
                    self.shapes.push(b',');
                }
                self.shapes.push(b'[');
                self.shapes.extend_from_slice(shape);
                self.shapes.push(b']');
                self.index.insert(shape.to_vec(), i);
                i
            }
        };
        if last.is_none() {
            self.last = Some((shape.to_vec(), i));
        }
        self.keys.truncate(start);
        self.ops.push(b'o');
        self.push_leaf(int_text(&mut [0; 24], i64::from(i)));
    }
    fn begin_array(&mut self) {}
    fn next_element(&mut self) {}
    fn end_array(&mut self, len: u64) {
        self.ops.push(b'a');
        self.push_leaf(int_text(&mut [0; 24], len as i64));
    }
    fn len(&self) -> usize {
        self.ops.len() + self.shapes.len() + self.leaves.len() + self.keys.len()
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    /// Scratch for one string's JSON text.
    key: Vec<u8>,
    /// Objects and arrays read so far.
    containers: usize,
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

    fn int32(&mut self) -> Option<i32> {
        let z = u32::try_from(self.varint()?).ok()?;
        Some(((z >> 1) as i32) ^ -((z & 1) as i32))
    }

    fn value<S: Sink>(&mut self, out: &mut S, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH || out.len() > MAX_TEXT {
            return None;
        }
        // The fast path wins by making objects and arrays faster; long
        // strings and doubles cost more as text than as clone bytes. A clone
        // with fewer than one object or array per `DENSITY` bytes (judged on
        // what was read so far, to give up early) is left to the
        // deserializer.
        if self.pos >= DENSE_FROM && self.containers * DENSITY < self.pos {
            return None;
        }
        let mut buf = [0u8; 24];
        match self.tag()? {
            b'0' => out.leaf(b"null"),
            b'T' => out.leaf(b"true"),
            b'F' => out.leaf(b"false"),
            b'I' | b'U' if !S::TEXT => {
                self.varint()?;
            }
            b'N' if !S::TEXT => {
                self.double()?;
            }
            b'"' | b'c' | b'S' if !S::TEXT => {
                let n = self.varint()?;
                self.slice(n)?;
            }
            b'I' => out.leaf(int_text(&mut buf, i64::from(self.int32()?))),
            b'U' => out.leaf(int_text(&mut buf, i64::from(u32::try_from(self.varint()?).ok()?))),
            b'N' => {
                let d = self.double()?;
                if !d.is_finite() {
                    return None;
                }
                // Debug prints the shortest digits that read back as the
                // same double (`-0.0` included, which JSON.parse keeps).
                let mut num = Vec::with_capacity(24);
                write!(num, "{d:?}").ok()?;
                out.leaf(&num);
            }
            t @ (b'"' | b'c' | b'S') => {
                self.string(t, out.len())?;
                out.string(&self.key);
            }
            t @ (b'o' | b'A' | b'a') => {
                self.containers += 1;
                match t {
                    b'o' => self.object(out, depth)?,
                    b'A' => self.dense_array(out, depth)?,
                    _ => self.sparse_array(out, depth)?,
                }
            }
            _ => return None,
        }
        Some(())
    }

    /// Reads a string into `self.key` as JSON text; `written` is the size of
    /// the text so far.
    fn string(&mut self, tag: u8, written: usize) -> Option<()> {
        let n = self.varint()?;
        let s = self.slice(n)?;
        // At most 6 bytes of text per byte read (`\u0001` for 0x01): a
        // string that could take the text past its cap is left to the
        // deserializer before any of it is written.
        if s.len().saturating_mul(6).saturating_add(written) > MAX_TEXT {
            return None;
        }
        let out = &mut self.key;
        out.clear();
        out.push(b'"');
        match tag {
            b'"' => escape_latin1(out, s),
            b'S' => escape_str(out, std::str::from_utf8(s).ok()?),
            _ => {
                if s.len() % 2 != 0 {
                    return None;
                }
                let units = s.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
                escape_utf16(out, units);
            }
        }
        out.push(b'"');
        Some(())
    }

    /// An object key: a string, or an integer (array index) as a string,
    /// into `self.key`.
    fn key(&mut self, written: usize) -> Option<()> {
        let n = match self.tag()? {
            t @ (b'"' | b'c' | b'S') => return self.string(t, written),
            b'I' => u64::try_from(self.int32()?).ok()?,
            b'U' => self.varint()?,
            b'N' => {
                // Indices above 2^31 are written as doubles.
                let d = self.double()?;
                if !(d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d < 4294967296.0) {
                    return None;
                }
                d as u64
            }
            _ => return None,
        };
        self.key.clear();
        self.key.push(b'"');
        push_int(&mut self.key, i64::try_from(n).ok()?);
        self.key.push(b'"');
        Some(())
    }

    /// Reads past an object key (see `key`) without making its text.
    fn skip_key(&mut self) -> Option<()> {
        match self.tag()? {
            b'"' | b'c' | b'S' => {
                let n = self.varint()?;
                self.slice(n)?;
            }
            b'I' | b'U' => {
                self.varint()?;
            }
            b'N' => {
                self.double()?;
            }
            _ => return None,
        }
        Some(())
    }

    /// `{key: value, ...}` up to the end tag, whose count must match.
    fn object<S: Sink>(&mut self, out: &mut S, depth: usize) -> Option<()> {
        out.begin_object();
        let mut count: u64 = 0;
        loop {
            if self.peek_tag()? == b'{' {
                self.pos += 1;
                if self.varint()? != count {
                    return None;
                }
                break;
            }
            if S::TEXT {
                self.key(out.len())?;
                out.key(&self.key, count == 0);
            } else {
                self.skip_key()?;
            }
            self.value(out, depth + 1)?;
            count += 1;
        }
        out.end_object(count);
        Some(())
    }

    /// A dense array: every element present, no other property.
    fn dense_array<S: Sink>(&mut self, out: &mut S, depth: usize) -> Option<()> {
        let len = self.varint()?;
        out.begin_array();
        for i in 0..len {
            if i > 0 {
                out.next_element();
            }
            // Holes ('-') and undefined ('_') are not JSON.
            self.value(out, depth + 1)?;
        }
        // Extra properties would come before the end tag.
        if self.tag()? != b'$' || self.varint()? != 0 || self.varint()? != len {
            return None;
        }
        out.end_array(len);
        Some(())
    }

    /// A sparse array in which every index from 0 to length - 1 is present,
    /// in order, and nothing else (an array that was holey once).
    fn sparse_array<S: Sink>(&mut self, out: &mut S, depth: usize) -> Option<()> {
        let len = self.varint()?;
        out.begin_array();
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
                out.next_element();
            }
            self.value(out, depth + 1)?;
            i += 1;
        }
        out.end_array(len);
        Some(())
    }
}

/// A decimal integer, written into `buf`.
fn int_text(buf: &mut [u8; 24], n: i64) -> &[u8] {
    let mut v = n.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(int_text(&mut [0; 24], n));
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
    let mut units = units.peekable();
    while let Some(u) = units.next() {
        match u {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5C => out.extend_from_slice(b"\\\\"),
            0..=0x1F => escape_control(out, u32::from(u)),
            0x20..=0x7F => out.push(u as u8),
            0xD800..=0xDBFF => match units.peek() {
                Some(&lo) if (0xDC00..=0xDFFF).contains(&lo) => {
                    units.next();
                    let c = 0x10000 + ((u32::from(u) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                    push_char(out, char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                _ => escape_control(out, u32::from(u)),
            },
            0xDC00..=0xDFFF => escape_control(out, u32::from(u)),
            _ => push_char(out, char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER)),
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
    fn rows() {
        let mut b = hdr(15);
        // [{a: 1, b: "x"}, {a: 2, b: "y"}, {}]
        b.extend_from_slice(b"A\x03o\"\x01aI\x02\"\x01b\"\x01x{\x02o\"\x01aI\x04\"\x01b\"\x01y{\x02o{\x00$\x00\x03");
        assert_eq!(to_rows(&b).as_deref(), Some("[\"vvovvooa\",[[\"a\",\"b\"],[]],1,\"x\",0,2,\"y\",0,1,3]"));
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
