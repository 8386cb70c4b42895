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

/// How many clones took the fast path (read by tests). Counted only once a
/// test has asked: a counter every copy wrote, on Node's thread and on the
/// isolates', had its cache line move between cores on each copy (a fifth
/// of a small copy's JSON time).
static TAKEN: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

pub fn taken() -> u64 {
    if !COUNTING.load(Ordering::Relaxed) {
        COUNTING.store(true, Ordering::Relaxed);
    }
    TAKEN.load(Ordering::Relaxed)
}

fn count_taken() {
    if COUNTING.load(Ordering::Relaxed) {
        TAKEN.fetch_add(1, Ordering::Relaxed);
    }
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
/// that are not used 4 times each on average, make `to_packed` refuse (the
/// caller uses `to_json`).
const ROW_KEYS: u64 = 64;
const ROW_SHAPES: usize = 32;

/// Clones with fewer objects and arrays than this are read as JSON text
/// (the packed form's fixed costs outweigh its gain).
const PACKED_FROM: usize = 32;

/// The packed decoder's stack, and each array it makes, hold at most this
/// many values (the isolate side makes both in Rust, slot by slot).
pub const PACKED_MAX_LIST: usize = 1 << 20;

/// Clones shorter than this are not packed: too small for the packed form
/// to pay off (or to be taken at all: 32 objects and arrays take more), and
/// packing one only to refuse it read it twice (it is read as JSON text).
const PACKED_BYTES: usize = 1024;

/// The packed form of clone bytes (see `Packed`), if the clone is plain
/// data with enough objects and arrays, whose objects share a few shapes.
pub fn to_packed(bytes: &[u8]) -> Option<Packed> {
    if bytes.len() < PACKED_BYTES {
        return None;
    }
    let out = pack(bytes)?;
    out.packable().then_some(out)
}

/// A clone from Node read on Node's thread, in its packed form: the isolate
/// that receives it makes the value without reading the bytes again.
pub struct Prepacked {
    packed: Packed,
    bytes: Vec<u8>,
}

/// How many packed forms made on Node's thread are alive (read by tests).
static PREPACKED_LIVE: AtomicU64 = AtomicU64::new(0);

pub fn prepacked_live() -> u64 {
    PREPACKED_LIVE.load(Ordering::Relaxed)
}

impl Drop for Prepacked {
    fn drop(&mut self) {
        PREPACKED_LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Prepacked {
    pub fn packed(&self) -> &Packed {
        &self.packed
    }

    /// The clone's bytes (for the deserializer, should the isolate refuse
    /// the packed form).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What Node's clone bytes hold, read once (see `plain_without_empty_objects`
/// for why an empty object matters).
pub enum NodeClone {
    /// Not plain data, or it has an empty object.
    Other,
    /// Plain data with no empty object, too small or too varied to pack.
    Plain,
    Packed(Prepacked),
}

/// How many clones Node's thread packed (read by tests).
static PREPACKED: AtomicU64 = AtomicU64::new(0);

pub fn prepacked() -> u64 {
    PREPACKED.load(Ordering::Relaxed)
}

/// Reads Node's clone bytes once: the check for handles, and the packed form.
pub fn node_clone(bytes: &[u8]) -> NodeClone {
    if !ENABLED.load(Ordering::Relaxed) {
        return if plain_without_empty_objects(bytes) { NodeClone::Plain } else { NodeClone::Other };
    }
    let Some(out) = pack(bytes).filter(|p| !p.empty) else {
        return NodeClone::Other;
    };
    if !out.packable() {
        return NodeClone::Plain;
    }
    PREPACKED.fetch_add(1, Ordering::Relaxed);
    PREPACKED_LIVE.fetch_add(1, Ordering::Relaxed);
    NodeClone::Packed(Prepacked { packed: out, bytes: bytes.to_vec() })
}

/// How many of those were made from the packed form (read by tests).
static PACKED: AtomicU64 = AtomicU64::new(0);

pub fn packed_taken() -> u64 {
    PACKED.load(Ordering::Relaxed)
}

/// Counts a clone made from its packed form.
pub fn note_taken() {
    count_taken();
    PACKED.fetch_add(1, Ordering::Relaxed);
}

fn pack(bytes: &[u8]) -> Option<Packed> {
    let mut out = Packed::default();
    out.tags.reserve(bytes.len() / 4);
    read(bytes, &mut out)?;
    Some(out)
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
    count_taken();
    Some(text)
}

/// An atom of JSON.
#[derive(Clone, Copy)]
enum Atom {
    Null,
    True,
    False,
}

/// A number as read: an integer, or a finite double.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Double(f64),
}

/// What the reader writes to: JSON text, or the packed form.
trait Sink {
    /// Whether the sink reads the text of values and keys (a sink that only
    /// looks at the structure skips making it).
    const TEXT: bool = true;
    /// Whether string values go to `raw_string` as they are in the clone
    /// (else to `string` as JSON text).
    const RAW: bool = false;
    fn atom(&mut self, a: Atom);
    fn number(&mut self, n: Num);
    /// A string, as JSON text (quoted and escaped).
    fn string(&mut self, text: &[u8]);
    /// A string as the clone holds it, `len` bytes at `at`: `tag` `"`
    /// (Latin-1) or `c` (UTF-16LE, an even length). None refuses the clone.
    fn raw_string(&mut self, _tag: u8, _at: usize, _len: usize) -> Option<()> {
        None
    }
    fn begin_object(&mut self);
    /// A key (JSON text of a string); `first` for an object's first key.
    fn key(&mut self, text: &[u8], first: bool);
    /// A key as the clone holds it (for a `RAW` sink, instead of `key`).
    fn raw_key(&mut self, _bytes: &[u8]) {}
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
    fn atom(&mut self, _a: Atom) {}
    fn number(&mut self, _n: Num) {}
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
    fn atom(&mut self, a: Atom) {
        self.0.extend_from_slice(match a {
            Atom::Null => b"null",
            Atom::True => b"true",
            Atom::False => b"false",
        });
    }
    fn number(&mut self, n: Num) {
        match n {
            Num::Int(i) => push_int(&mut self.0, i),
            // Debug prints the shortest digits that read back as the same
            // double (`-0.0` included, which JSON.parse keeps).
            Num::Double(d) => {
                let _ = write!(self.0, "{d:?}");
            }
        }
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

/// Codes of the packed form's `tags`, shared with lib/plain-decode.js.
pub const P_NUMBER: u8 = 0;
pub const P_STRING: u8 = 1;
pub const P_TRUE: u8 = 2;
pub const P_FALSE: u8 = 3;
pub const P_NULL: u8 = 4;
pub const P_OBJECT: u8 = 5;
pub const P_ARRAY: u8 = 6;

/// The packed form of a plain clone, which lib/plain-decode.js turns into
/// the value (in Node, and in isolates): one tag per value in postfix
/// order, with the numbers, strings and counts each in a list of their
/// own. A number takes the next of `nums`; a string the next of `strings`;
/// an object takes a shape index from `ints` and makes an object with that
/// shape's keys from as many values on the stack; an array takes a length
/// from `ints` and makes an array of that many values. Reading no text
/// (JSON.parse spends most of its time scanning strings and numbers and
/// interning short strings) makes the value several times as fast.
#[derive(Default)]
pub struct Packed {
    pub tags: Vec<u8>,
    pub nums: Vec<f64>,
    pub ints: Vec<u32>,
    /// Each string as the clone holds it: (two-byte, where in the clone's
    /// bytes, how many bytes); see `strings`.
    strings: Vec<(bool, usize, usize)>,
    pub string_bytes: usize,
    /// Each distinct key list, as the JSON text of each key.
    pub shapes: Vec<Vec<Vec<u8>>>,
    /// How many objects have each shape.
    pub uses: Vec<u32>,
    /// The most values the decoder's stack holds at once.
    pub max_stack: usize,
    /// The longest array.
    pub max_array: u64,
    top: usize,
    containers: usize,
    /// Shape (its keys' bytes) to index (keyed by the default, seeded
    /// hasher: the keys are the guest's).
    index: HashMap<Vec<u8>, u32>,
    /// The last shape seen (objects of one shape often come in a row).
    last: Option<(Vec<u8>, u32)>,
    objects: usize,
    /// An object had more than `ROW_KEYS` keys.
    wide: bool,
    /// A key could not be read back as text (never, for keys the reader
    /// took; the clone is refused).
    bad_key: bool,
    /// An object had no keys.
    empty: bool,
    /// The keys of the objects being read (as the clone holds them),
    /// innermost last, and where each object's keys start.
    keys: Vec<u8>,
    starts: Vec<usize>,
    /// The size of the shapes' text.
    shape_bytes: usize,
}

impl Packed {
    /// Whether the packed form is worth making: shapes pay off when they
    /// repeat (each costs a template, and filling a large template is
    /// slower than JSON.parse making the object).
    fn packable(&self) -> bool {
        let shapes = self.index.len();
        !(self.wide
            || self.bad_key
            || (shapes > ROW_SHAPES && shapes * 4 > self.objects)
            || self.containers < PACKED_FROM
            || self.max_stack > PACKED_MAX_LIST
            || self.max_array > PACKED_MAX_LIST as u64)
    }

    pub fn string_count(&self) -> usize {
        self.strings.len()
    }

    /// Each string (two-byte, its bytes as the clone holds them), from the
    /// clone's `bytes` this form was read from.
    pub fn strings<'b>(&'b self, bytes: &'b [u8]) -> impl ExactSizeIterator<Item = (bool, &'b [u8])> + 'b {
        self.strings.iter().map(move |&(two, at, len)| (two, &bytes[at..at + len]))
    }

    /// The shapes as JSON: `[["k1","k2"],["k3"]]`.
    pub fn shapes_json(&self) -> String {
        let mut out = Vec::with_capacity(self.shape_bytes + 2 * self.shapes.len() + 2);
        out.push(b'[');
        for (i, keys) in self.shapes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            out.extend_from_slice(&keys.join(&b',')[..]);
            out.push(b']');
        }
        out.push(b']');
        // Key text is ASCII, or chars encoded by `push_char`.
        String::from_utf8(out).unwrap_or_default()
    }

    fn push(&mut self, tag: u8) {
        self.tags.push(tag);
        self.top += 1;
        self.max_stack = self.max_stack.max(self.top);
    }
}

impl Sink for Packed {
    const RAW: bool = true;
    fn atom(&mut self, a: Atom) {
        self.push(match a {
            Atom::Null => P_NULL,
            Atom::True => P_TRUE,
            Atom::False => P_FALSE,
        });
    }
    fn number(&mut self, n: Num) {
        self.nums.push(match n {
            Num::Int(i) => i as f64,
            Num::Double(d) => d,
        });
        self.push(P_NUMBER);
    }
    fn string(&mut self, _text: &[u8]) {}
    fn raw_string(&mut self, tag: u8, at: usize, len: usize) -> Option<()> {
        let two_byte = match tag {
            b'"' => false,
            b'c' if len % 2 == 0 => true,
            _ => return None,
        };
        self.strings.push((two_byte, at, len));
        self.string_bytes += len;
        self.push(P_STRING);
        Some(())
    }
    fn begin_object(&mut self) {
        self.starts.push(self.keys.len());
    }
    fn key(&mut self, _text: &[u8], _first: bool) {}
    fn raw_key(&mut self, bytes: &[u8]) {
        self.keys.extend_from_slice(bytes);
    }
    fn end_object(&mut self, count: u64) {
        self.objects += 1;
        self.containers += 1;
        if count > ROW_KEYS {
            self.wide = true;
        }
        if count == 0 {
            self.empty = true;
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
                // The keys' JSON text, read back from their bytes.
                let mut r = Reader { b: shape, pos: 0, key: Vec::new(), containers: 0 };
                let mut keys = Vec::with_capacity(count as usize);
                while r.pos < shape.len() {
                    if r.key(0).is_none() {
                        self.bad_key = true;
                        break;
                    }
                    self.shape_bytes += r.key.len() + 1;
                    keys.push(r.key.clone());
                }
                self.shapes.push(keys);
                self.uses.push(0);
                self.index.insert(shape.to_vec(), i);
                i
            }
        };
        self.uses[i as usize] += 1;
        if last.is_none() {
            self.last = Some((shape.to_vec(), i));
        }
        self.keys.truncate(start);
        self.ints.push(i);
        self.top -= count as usize;
        self.push(P_OBJECT);
    }
    fn begin_array(&mut self) {}
    fn next_element(&mut self) {}
    fn end_array(&mut self, len: u64) {
        self.containers += 1;
        self.max_array = self.max_array.max(len);
        // Lengths past u32 cannot be plain (the reader refuses them first).
        self.ints.push(len as u32);
        self.top -= len as usize;
        self.push(P_ARRAY);
    }
    fn len(&self) -> usize {
        self.tags.len() + self.nums.len() * 8 + self.ints.len() * 4 + self.string_bytes + self.shape_bytes + self.keys.len()
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
        match self.tag()? {
            b'0' => out.atom(Atom::Null),
            b'T' => out.atom(Atom::True),
            b'F' => out.atom(Atom::False),
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
            b'I' => out.number(Num::Int(i64::from(self.int32()?))),
            b'U' => out.number(Num::Int(i64::from(u32::try_from(self.varint()?).ok()?))),
            b'N' => {
                let d = self.double()?;
                if !d.is_finite() {
                    return None;
                }
                out.number(Num::Double(d));
            }
            t @ (b'"' | b'c' | b'S') if S::RAW => {
                let n = self.varint()?;
                let at = self.pos;
                let len = self.slice(n)?.len();
                if len.saturating_add(out.len()) > MAX_TEXT {
                    return None;
                }
                out.raw_string(t, at, len)?;
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
            if S::RAW {
                // The key's bytes as the clone holds them (self-delimiting).
                self.peek_tag()?;
                let start = self.pos;
                self.skip_key()?;
                out.raw_key(&self.b[start..self.pos]);
            } else if S::TEXT {
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
    fn packed() {
        let mut b = hdr(15);
        // [{a: 1, b: "x"}, {a: 2.5, b: "y\u0100"}, {}, null, true]
        b.extend_from_slice(b"A\x05o\"\x01aI\x02\"\x01b\"\x01x{\x02o\"\x01aN\0\0\0\0\0\0\x04\x40\"\x01bc\x04y\0\x00\x01{\x02o{\x000T$\x00\x05");
        let p = pack(&b).unwrap();
        assert_eq!(p.tags, [P_NUMBER, P_STRING, P_OBJECT, P_NUMBER, P_STRING, P_OBJECT, P_OBJECT, P_NULL, P_TRUE, P_ARRAY]);
        assert_eq!(p.nums, [1.0, 2.5]);
        assert_eq!(p.ints, [0, 0, 1, 5]);
        assert_eq!(p.strings(&b).collect::<Vec<_>>(), [(false, &b"x"[..]), (true, &b"y\0\x00\x01"[..])]);
        assert_eq!(p.shapes_json(), "[[\"a\",\"b\"],[]]");
        assert_eq!(p.uses, [2, 1]);
        assert_eq!((p.max_stack, p.max_array), (5, 5));
        // Too few objects and arrays for the packed form.
        assert!(to_packed(&b).is_none());
        // A UTF-8 string (not written by V8 today) and an odd two-byte length are refused.
        assert!(pack(&[0xFF, 15, b'S', 1, b'x']).is_none());
        assert!(pack(&[0xFF, 15, b'c', 1, b'x']).is_none());
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
