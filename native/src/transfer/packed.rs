//! Where the packed form of a plain clone (`plain::Packed`) meets
//! lib/plain-decode.js: one buffer for Node (read by lib/transfer.js
//! `decodePacked`), or the decoder's arguments made directly in an isolate.

use super::plain::{Packed, P_ARRAY, P_OBJECT};
use super::Failure;

/// Strings shorter than this are cut from one string of all of them
/// (V8 copies such substrings; longer ones would keep the whole alive).
const SLICE_MIN: usize = 13;

/// Words of the header at the start of Node's buffer; lib/transfer.js
/// reads them by these positions.
const HEADER: usize = 16;

/// Node's buffer: 8-byte aligned, so every section can be a typed array.
struct Aligned(Vec<u64>);

impl AsMut<[u8]> for Aligned {
    fn as_mut(&mut self) -> &mut [u8] {
        let len = self.0.len() * 8;
        // SAFETY: the Vec's u64s are `len` initialised bytes, and u8 has no
        // alignment or validity requirement.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), len) }
    }
}

fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// The buffer lib/transfer.js `decodePacked` reads: a header of u32 words
/// (`[count, tagsAt, numCount, numsAt, intCount, intsAt, stringCount,
/// lengthsAt, shortLatin1At, shortLatin1Len, shortUtf16At, shortUtf16Len,
/// longLatin1At, longUtf16At, maxStack, usesAt]`), then the tags, numbers,
/// counts, each shape's number of objects, each string's length
/// (`units << 1 | twoByte`), and the string texts:
/// short ones (read as one string and cut) and long ones (each read
/// alone), Latin-1 and UTF-16LE apart. None when a count does not fit.
pub fn node_buffer(p: &Packed, bytes: &[u8]) -> Option<impl AsMut<[u8]> + Send + 'static> {
    let mut texts = [0usize; 4];
    for (two, b) in p.strings(bytes) {
        texts[text_of(two, b)] += b.len();
    }
    let tags_at = HEADER * 4;
    let nums_at = pad8(tags_at + p.tags.len());
    let ints_at = nums_at + p.nums.len() * 8;
    let uses_at = ints_at + p.ints.len() * 4;
    let lens_at = uses_at + p.uses.len() * 4;
    let mut at = [0usize; 4];
    at[0] = pad8(lens_at + p.string_count() * 4);
    for t in 1..4 {
        at[t] = pad8(at[t - 1] + texts[t - 1]);
    }
    let total = pad8(at[3] + texts[3]);
    let header = [
        p.tags.len(),
        tags_at,
        p.nums.len(),
        nums_at,
        p.ints.len(),
        ints_at,
        p.string_count(),
        lens_at,
        at[0],
        texts[0],
        at[1],
        texts[1],
        at[2],
        at[3],
        p.max_stack,
        uses_at,
    ];
    let mut lens = Vec::with_capacity(p.string_count());
    for (two, b) in p.strings(bytes) {
        let units = if two { b.len() / 2 } else { b.len() };
        lens.push(u32::try_from(units).ok()?.checked_shl(1)? | u32::from(two));
    }
    let header = header.iter().map(|&v| u32::try_from(v).ok()).collect::<Option<Vec<u32>>>()?;
    let mut buf = Aligned(vec![0u64; total / 8]);
    let out = buf.as_mut();
    put_u32s(out, 0, &header);
    out[tags_at..tags_at + p.tags.len()].copy_from_slice(&p.tags);
    put_f64s(out, nums_at, &p.nums);
    put_u32s(out, ints_at, &p.ints);
    put_u32s(out, uses_at, &p.uses);
    put_u32s(out, lens_at, &lens);
    for (two, b) in p.strings(bytes) {
        let cursor = &mut at[text_of(two, b)];
        out[*cursor..*cursor + b.len()].copy_from_slice(b);
        *cursor += b.len();
    }
    Some(buf)
}

/// Which text a string goes to: short Latin-1, short UTF-16, long Latin-1
/// or long UTF-16 (0 to 3).
fn text_of(two_byte: bool, bytes: &[u8]) -> usize {
    let units = if two_byte { bytes.len() / 2 } else { bytes.len() };
    usize::from(units >= SLICE_MIN) * 2 + usize::from(two_byte)
}

fn put_u32s(out: &mut [u8], at: usize, values: &[u32]) {
    for (chunk, v) in out[at..at + values.len() * 4].chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
}

fn put_f64s(out: &mut [u8], at: usize, values: &[f64]) {
    for (chunk, v) in out[at..at + values.len() * 8].chunks_exact_mut(8).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
}

/// The script name of the decoder's frames.
const FILENAME: &str = "v8-isolates:plain-decode";

/// Shapes of at least this many objects in a clone get a compiled maker (as
/// in lib/transfer.js), at most `MAKER_COMPILES` new ones per clone, kept
/// per context in a cache of at most `MAKER_CACHE`.
const MAKER_USES: u32 = 16;
const MAKER_COMPILES: usize = 4;
const MAKER_CACHE: usize = 512;

/// The decoder source, wrapped to hand out the decoder with the guest's
/// `list` (the isolate makes the long arrays filled and hands them over in
/// order, so writes to them never reach a prototype) and with template
/// makers for the shapes that have no compiled one.
fn source() -> String {
    format!(
        "(function (module) {{\n{}\nconst exported = module.exports;\n\
         return function (count, tags, nums, ints, strs, makers, widths, stack, arrays, templates, keys) {{\n\
         for (let s = 0; s < makers.length; s++) {{\n\
         if (makers[s] === undefined) makers[s] = exported.templateMaker(templates[s], keys[s]);\n\
         }}\n\
         let next = 0;\n\
         const list = (stack, base, len) => {{\n\
         const a = arrays[next++];\n\
         for (let k = 0; k < len; k++) a[k] = stack[base + k];\n\
         return a;\n\
         }};\n\
         return exported.decodePlain(count, tags, nums, ints, strs, makers, widths, stack, list);\n\
         }};\n}})({{ exports: null }})",
        include_str!("../../../lib/plain-decode.js")
    )
}

/// A value kept on the current context's global under a private key, made
/// on first use.
fn per_context<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    name: &'static str,
    make: impl FnOnce(&mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Value>>,
) -> Option<v8::Local<'s, v8::Value>> {
    let global = scope.get_current_context().global(scope);
    let key = crate::engine::runner::private_key(scope, name);
    if let Some(v) = global.get_private(scope, key).filter(|v| !v.is_undefined()) {
        return Some(v);
    }
    let v = make(scope)?;
    global.set_private(scope, key, v);
    Some(v)
}

fn compile<'s>(scope: &mut v8::PinScope<'s, '_>, code: &str) -> Option<v8::Local<'s, v8::Function>> {
    let src = v8::String::new(scope, code)?;
    let name = v8::String::new(scope, FILENAME)?;
    let origin = v8::ScriptOrigin::new(scope, name.into(), 0, 0, false, 0, None, false, false, false, None);
    let f = v8::Script::compile(scope, src, Some(&origin))?.run(scope)?;
    v8::Local::<v8::Function>::try_from(f).ok()
}

/// The decoder of the current context.
fn decoder<'s>(scope: &mut v8::PinScope<'s, '_>) -> Option<v8::Local<'s, v8::Function>> {
    let f = per_context(scope, "v8-isolates#plain-decode", |scope| compile(scope, &source()).map(Into::into))?;
    v8::Local::<v8::Function>::try_from(f).ok()
}

/// The compiled maker of a shape (its keys' JSON text), from the context's
/// cache or compiled now if `may_compile`. The keys are JSON string
/// literals, which cannot end early; `__proto__` is a computed key, which
/// defines a property instead of setting the prototype. Object literals
/// define their properties, so no setter of the guest's runs.
fn maker<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    cache: v8::Local<'s, v8::Map>,
    keys: &[Vec<u8>],
    may_compile: bool,
) -> Option<(v8::Local<'s, v8::Value>, bool)> {
    let mut code = String::from("(function (s, t) { return { ");
    for (k, key) in keys.iter().enumerate() {
        if k > 0 {
            code.push_str(", ");
        }
        let key = std::str::from_utf8(key).ok()?;
        code.push_str(if key == "\"__proto__\"" { "[\"__proto__\"]" } else { key });
        code.push_str(&format!(": s[t + {k}]"));
    }
    code.push_str(" }; })");
    let id = v8::String::new(scope, &code)?;
    if let Some(f) = cache.get(scope, id.into()).filter(|f| f.is_function()) {
        return Some((f, false));
    }
    if !may_compile {
        return None;
    }
    let f = compile(scope, &code)?;
    if cache.size() >= MAKER_CACHE {
        cache.clear();
    }
    cache.set(scope, id.into(), f.into())?;
    Some((f.into(), true))
}

/// A plain clone made in the current context from its packed form. Ok(None)
/// when it could not be made for another reason than termination (the
/// caller then uses the deserializer).
pub fn decode_in_isolate<'s>(scope: &mut v8::PinScope<'s, '_>, p: &Packed, bytes: &[u8]) -> Result<Option<v8::Local<'s, v8::Value>>, Failure> {
    v8::tc_scope!(let tc, scope);
    let made = make(tc, p, bytes);
    match made {
        Some(v) => {
            super::plain::note_taken();
            Ok(Some(v))
        }
        None if tc.has_terminated() => Err(Failure::terminated()),
        None => Ok(None),
    }
}

fn make<'s>(scope: &mut v8::PinScope<'s, '_>, p: &Packed, bytes: &[u8]) -> Option<v8::Local<'s, v8::Value>> {
    let decode = decoder(scope)?;
    // Tags, numbers and counts in one buffer of Rust's memory, detached
    // (and so freed) once the value is made.
    let nums_at = pad8(p.tags.len());
    let ints_at = nums_at + p.nums.len() * 8;
    let mut lists = vec![0u8; ints_at + p.ints.len() * 4];
    lists[..p.tags.len()].copy_from_slice(&p.tags);
    put_f64s(&mut lists, nums_at, &p.nums);
    put_u32s(&mut lists, ints_at, &p.ints);
    let store = v8::ArrayBuffer::new_backing_store_from_vec(lists).make_shared();
    let buffer = v8::ArrayBuffer::with_backing_store(scope, &store);
    let value = (|| {
        let tags = v8::Uint8Array::new(scope, buffer, 0, p.tags.len())?;
        let nums = v8::Float64Array::new(scope, buffer, nums_at, p.nums.len())?;
        let ints = v8::Uint32Array::new(scope, buffer, ints_at, p.ints.len())?;
        let mut strs = Vec::with_capacity(p.string_count());
        let mut units = Vec::new();
        for (two, b) in p.strings(bytes) {
            let s = if two {
                units.clear();
                units.extend(b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])));
                v8::String::new_from_two_byte(scope, &units, v8::NewStringType::Normal)?
            } else {
                v8::String::new_from_one_byte(scope, b, v8::NewStringType::Normal)?
            };
            strs.push(s.into());
        }
        let strs = v8::Array::new_with_elements(scope, &strs);
        // A maker per shape: compiled, or (undefined here) a template
        // maker made by the decoder's wrapper from the shape's template (an
        // object with the keys as own data properties) and keys.
        let cache = per_context(scope, "v8-isolates#plain-makers", |scope| Some(v8::Map::new(scope).into()))?;
        let cache = v8::Local::<v8::Map>::try_from(cache).ok()?;
        let undefined: v8::Local<v8::Value> = v8::undefined(scope).into();
        let null: v8::Local<v8::Value> = v8::null(scope).into();
        let mut makers = Vec::with_capacity(p.shapes.len());
        let mut widths = Vec::with_capacity(p.shapes.len());
        let mut templates = Vec::with_capacity(p.shapes.len());
        let mut names = Vec::with_capacity(p.shapes.len());
        let mut budget = MAKER_COMPILES;
        for (keys, &uses) in p.shapes.iter().zip(&p.uses) {
            widths.push(v8::Integer::new_from_unsigned(scope, keys.len() as u32).into());
            let compiled = if uses >= MAKER_USES { maker(scope, cache, keys, budget > 0) } else { None };
            if let Some((f, fresh)) = compiled {
                budget -= usize::from(fresh);
                makers.push(f);
                templates.push(undefined);
                names.push(undefined);
                continue;
            }
            let text = format!("[{}]", std::str::from_utf8(&keys.join(&b',')[..]).ok()?);
            let text = v8::String::new(scope, &text)?;
            let list = v8::Local::<v8::Array>::try_from(v8::json::parse(scope, text)?).ok()?;
            let t = v8::Object::new(scope);
            for k in 0..list.length() {
                let name = v8::Local::<v8::Name>::try_from(list.get_index(scope, k)?).ok()?;
                t.create_data_property(scope, name, null)?;
            }
            makers.push(undefined);
            templates.push(t.into());
            names.push(list.into());
        }
        let makers = v8::Array::new_with_elements(scope, &makers);
        let widths = v8::Array::new_with_elements(scope, &widths);
        let templates = v8::Array::new_with_elements(scope, &templates);
        let names = v8::Array::new_with_elements(scope, &names);
        // The stack and each array longer than the decoder's literals,
        // filled with undefined.
        let filled = vec![undefined; p.max_stack.max(p.max_array as usize)];
        let stack = v8::Array::new_with_elements(scope, &filled[..p.max_stack]);
        let mut arrays = Vec::new();
        let mut ii = 0;
        for &t in &p.tags {
            if t == P_ARRAY {
                let len = p.ints[ii] as usize;
                if len > 3 {
                    arrays.push(v8::Array::new_with_elements(scope, &filled[..len]).into());
                }
            }
            if t == P_ARRAY || t == P_OBJECT {
                ii += 1;
            }
        }
        let arrays = v8::Array::new_with_elements(scope, &arrays);
        let count = v8::Number::new(scope, p.tags.len() as f64);
        let recv = v8::undefined(scope).into();
        let args = [
            count.into(),
            tags.into(),
            nums.into(),
            ints.into(),
            strs.into(),
            makers.into(),
            widths.into(),
            stack.into(),
            arrays.into(),
            templates.into(),
            names.into(),
        ];
        decode.call(scope, recv, &args)
    })();
    buffer.detach(None);
    value
}
