//! The byte tapes between `convert.js` and Rust, both ways, and the validators' fast entry.
//!
//! **Why.** A crossing between wasm and JS costs more than a validator's work, and building a
//! result with `JSON.parse` costs more than all of the validation (about 0.55 µs for a small
//! notification's JSON in Node, against 0.02 µs for building the same object in JS). So the
//! package's validators (`fastValidator` in `convert.js`, which the package exports in place
//! of wasm-bindgen's functions) make one walk of the value in JS, copy its tape into wasm
//! memory, and call `__validateTape` with plain numbers. The result comes back as a tape in
//! wasm memory too, and JS builds the objects from it, taking each string that the input
//! already held from the input (no UTF-8 decoding), and decoding only the new ones.
//!
//! **In** (`Tape`): one tag byte per value; numbers as f64 little-endian, so NaN, ±Infinity
//! and -0 arrive as they are; lengths and counts u32 little-endian; strings UTF-8 after their
//! byte length; object members key (a string) then value. Keep in step with `convert.js`.
//!
//! **Out** (`Writer`): the same tags, plus `REF`: the index of a string of the input, in
//! the order the input tape holds them (keys included). The value is the one `JSON.parse`
//! would make of `serde_json`'s JSON of the result: non-finite floats become `null`, integers
//! become the nearest double (as `JSON.parse` reads their digits), maps and structs keep their
//! order. What JSON would write differently from this (an `f32`, a map key that is not a
//! string) makes the writer give up, and the package answers through the wasm-bindgen function
//! instead (`tests/wasm/test/tape.test.js` compares the two).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::ser::{self, Serialize};
use switchyard_core::time::TimestampError;
use switchyard_core::{ErrorCode, Fields, Input, Timestamp, ValidationErrors, payload};
use wasm_bindgen::prelude::*;

/// The deepest nesting of arrays and objects that the server's JSON parser (serde_json, whose
/// limit is 128) accepts.
pub(crate) const MAX_DEPTH: usize = 127;

pub(crate) const NULL: u8 = 0;
pub(crate) const FALSE: u8 = 1;
pub(crate) const TRUE: u8 = 2;
pub(crate) const NUMBER: u8 = 3;
pub(crate) const STRING: u8 = 4;
pub(crate) const ARRAY: u8 = 5;
pub(crate) const OBJECT: u8 = 6;
/// Out only: a string of the input, by index.
pub(crate) const REF: u8 = 7;

/// A tape being read: the value, and where each of its strings sits in the bytes (for [`REF`]).
pub(crate) struct Tape<'a> {
    bytes: &'a [u8],
    strings: Vec<&'a [u8]>,
}

impl<'a> Tape<'a> {
    /// The value, or `None` if the bytes are not one well-formed tape (then the property walk
    /// reads the value).
    pub(crate) fn decode(bytes: &'a [u8]) -> Option<Input<'a>> {
        Self::decode_with_strings(bytes).map(|(input, _)| input)
    }

    /// The value and its strings in tape order.
    fn decode_with_strings(bytes: &'a [u8]) -> Option<(Input<'a>, Vec<&'a [u8]>)> {
        let mut tape = Tape {
            bytes,
            // A string takes at least 5 bytes of the tape.
            strings: Vec::with_capacity((bytes.len() / 5).min(64)),
        };
        let value = tape.value(0)?;
        tape.bytes.is_empty().then_some((value, tape.strings))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
    }

    // Borrowed from the tape: no allocation per string.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let n = self.u32()?;
        let bytes = self.take(n)?;
        let s = std::str::from_utf8(bytes).ok()?;
        self.strings.push(bytes);
        Some(Cow::Borrowed(s))
    }

    fn value(&mut self, depth: usize) -> Option<Input<'a>> {
        let (&tag, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(match tag {
            NULL => Input::Null,
            FALSE => Input::Bool(false),
            TRUE => Input::Bool(true),
            NUMBER => {
                let b = self.take(8)?;
                number(f64::from_le_bytes(b.try_into().ok()?))
            }
            STRING => Input::String(self.string()?),
            ARRAY | OBJECT if depth >= MAX_DEPTH => return None,
            ARRAY => {
                let n = self.u32()?;
                // Every item takes at least a byte: a count beyond that is not a tape.
                let mut items = Vec::with_capacity(n.min(self.bytes.len()));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Input::Array(items)
            }
            OBJECT => {
                let n = self.u32()?;
                // A count beyond what the bytes can hold is not a tape (a member takes 6 bytes).
                let mut fields = Vec::with_capacity(n.min(self.bytes.len() / 6));
                for _ in 0..n {
                    let key = match self.take(1)? {
                        [STRING] => self.string()?,
                        _ => return None,
                    };
                    let value = self.value(depth + 1)?;
                    fields.push((key, value));
                }
                Input::Object(Fields::from_vec(fields))
            }
            _ => return None,
        })
    }
}

/// The largest integer magnitude that is exactly an `i64`/`u64` (2^63 and 2^64).
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// A JS number as the server would read the digits `JSON.stringify` writes for it.
pub(crate) fn number(n: f64) -> Input<'static> {
    if !n.is_finite() {
        return Input::NonFinite(n);
    }
    // Integral values print without a fraction, and the server then reads them as integers
    // (when they fit). -0 stays a float: the JSON text `-0` reads as -0.0 natively too.
    if n.fract() == 0.0 && !(n == 0.0 && n.is_sign_negative()) {
        if (0.0..TWO_POW_64).contains(&n) {
            return Input::Number((n as u64).into());
        }
        if (-TWO_POW_63..0.0).contains(&n) {
            return Input::Number((n as i64).into());
        }
    }
    serde_json::Number::from_f64(n).map_or(Input::NonFinite(n), Input::Number)
}

/// A time in milliseconds since the epoch as the validators take it (like `new Date(ms)`:
/// fractions of a millisecond are dropped); `Err(None)` when it is not a finite number.
pub(crate) fn time_from_millis(ms: f64) -> Result<Timestamp, Option<TimestampError>> {
    if !ms.is_finite() {
        return Err(None);
    }
    Timestamp::from_unix_millis(ms.trunc() as i64).map_err(Some)
}

// ---- Out ------------------------------------------------------------------------------------

/// FNV-1a: the string index hashes short strings on every call; SipHash's strength buys
/// nothing here (the keys are the caller's own strings) and costs several times more.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Up to this many input strings a linear search beats building a hash index.
const LINEAR: usize = 24;

/// Beyond [`LINEAR`], how many strings on each side of the last one found are looked at
/// before the index.
const WINDOW: usize = 8;

/// The input's strings, to find an output string among them.
pub(crate) struct Strings<'a> {
    list: Vec<&'a [u8]>,
    index: Option<HashMap<&'a [u8], u32, BuildHasherDefault<Fnv>>>,
    /// Where the linear search starts: after the last string found, as a result mostly holds
    /// the input's strings in the input's order.
    next: usize,
}

impl<'a> Strings<'a> {
    fn new(list: Vec<&'a [u8]>) -> Self {
        Strings {
            list,
            index: None,
            next: 0,
        }
    }

    /// The index of an input string equal to `s`.
    fn find(&mut self, s: &[u8]) -> Option<u32> {
        let n = self.list.len();
        let start = self.next.min(n);
        if n <= LINEAR {
            let (before, after) = self.list.split_at(start);
            let found = after
                .iter()
                .position(|t| *t == s)
                .map(|i| i + start)
                .or_else(|| before.iter().position(|t| *t == s))?;
            self.next = found + 1;
            return u32::try_from(found).ok();
        }
        // A few strings before the last one found (a key repeated from the object before, or
        // one that comes out of its sorted place), a few after it (the input's order), then
        // the index. Only a hit ahead moves the window.
        let back = start.saturating_sub(WINDOW);
        if let Some(i) = self.list[back..start].iter().rposition(|t| *t == s) {
            return u32::try_from(back + i).ok();
        }
        let end = (start + WINDOW).min(n);
        if let Some(i) = self.list[start..end].iter().position(|t| *t == s) {
            self.next = start + i + 1;
            return u32::try_from(start + i).ok();
        }
        let list = &self.list;
        let index = self.index.get_or_insert_with(|| {
            let mut index = HashMap::with_capacity_and_hasher(list.len(), Default::default());
            for (i, t) in list.iter().enumerate() {
                if let Ok(i) = u32::try_from(i) {
                    index.entry(*t).or_insert(i);
                }
            }
            index
        });
        index.get(s).copied()
    }
}

/// Why the writer stopped: the value has a part JSON would write differently (see the module
/// docs). The package then answers the slow way.
#[derive(Debug)]
pub struct GiveUp;

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not representable on the tape")
    }
}

impl std::error::Error for GiveUp {}

impl ser::Error for GiveUp {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

/// Writes a serialisable value as an out tape.
pub(crate) struct Writer<'o, 'a> {
    out: &'o mut Vec<u8>,
    strings: &'o mut Strings<'a>,
}

impl<'a> Writer<'_, 'a> {
    fn number(&mut self, n: f64) {
        if n.is_finite() {
            self.out.push(NUMBER);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            // serde_json writes a non-finite float as null.
            self.out.push(NULL);
        }
    }

    fn str(&mut self, s: &str) {
        match self.strings.find(s.as_bytes()) {
            Some(i) => {
                self.out.push(REF);
                self.out.extend_from_slice(&i.to_le_bytes());
            }
            None => {
                self.out.push(STRING);
                self.len(s.len());
                self.out.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn len(&mut self, n: usize) {
        // A length beyond u32 cannot be in a 32-bit wasm memory.
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&n.to_le_bytes());
    }

    /// Opens an array or object; its count is written when it closes.
    fn open(&mut self, tag: u8) -> Compound<'_, 'a> {
        self.out.push(tag);
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        Compound {
            writer: Writer {
                out: &mut *self.out,
                strings: &mut *self.strings,
            },
            at,
            count: 0,
        }
    }

    /// `{ variant: ` … `}` around an enum variant's data, as serde_json writes it; the caller
    /// writes the one value.
    fn open_variant(&mut self, variant: &str) {
        self.out.push(OBJECT);
        self.out.extend_from_slice(&1u32.to_le_bytes());
        self.str(variant);
    }
}

/// An array or object being written.
pub(crate) struct Compound<'o, 'a> {
    writer: Writer<'o, 'a>,
    /// Where its count goes.
    at: usize,
    count: u32,
}

impl Compound<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        value.serialize(&mut self.writer)?;
        self.count += 1;
        Ok(())
    }

    fn close(self) -> Result<(), GiveUp> {
        self.writer.out[self.at..self.at + 4].copy_from_slice(&self.count.to_le_bytes());
        Ok(())
    }
}

/// Only string keys: serde_json would stringify a number key, which this writer leaves to the
/// slow way.
struct KeyOnly<'w, 'o, 'a>(&'w mut Writer<'o, 'a>);

macro_rules! give_up {
    ($($f:ident($($t:ty),*)),* $(,)?) => {
        $(fn $f(self, $(_: $t),*) -> Result<(), GiveUp> { Err(GiveUp) })*
    };
}

impl ser::Serializer for KeyOnly<'_, '_, '_> {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = ser::Impossible<(), GiveUp>;
    type SerializeTuple = ser::Impossible<(), GiveUp>;
    type SerializeTupleStruct = ser::Impossible<(), GiveUp>;
    type SerializeTupleVariant = ser::Impossible<(), GiveUp>;
    type SerializeMap = ser::Impossible<(), GiveUp>;
    type SerializeStruct = ser::Impossible<(), GiveUp>;
    type SerializeStructVariant = ser::Impossible<(), GiveUp>;

    fn serialize_str(self, v: &str) -> Result<(), GiveUp> {
        self.0.str(v);
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<(), GiveUp> {
        self.0.str(v);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    give_up!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, GiveUp> {
        Err(GiveUp)
    }
}

macro_rules! numbers {
    ($($method:ident: $t:ty),* $(,)?) => {$(
        #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
        fn $method(self, v: $t) -> Result<(), GiveUp> {
            self.number(v as f64);
            Ok(())
        }
    )*};
}

impl<'o, 'a> ser::Serializer for &'o mut Writer<'_, 'a> {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = Compound<'o, 'a>;
    type SerializeTuple = Compound<'o, 'a>;
    type SerializeTupleStruct = Compound<'o, 'a>;
    type SerializeTupleVariant = Compound<'o, 'a>;
    type SerializeMap = Compound<'o, 'a>;
    type SerializeStruct = Compound<'o, 'a>;
    type SerializeStructVariant = Compound<'o, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), GiveUp> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }
    // Every integer as the double JSON.parse makes of its digits: `as` rounds to the nearest,
    // ties to even, as JSON.parse does.
    numbers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128,
    );
    fn serialize_f32(self, _: f32) -> Result<(), GiveUp> {
        // serde_json writes an f32's own shortest digits, which JSON.parse reads as another
        // double than the f32's: left to the slow way.
        Err(GiveUp)
    }
    fn serialize_f64(self, v: f64) -> Result<(), GiveUp> {
        // serde_json writes the shortest digits that read back as `v` (and -0 as `-0.0`).
        self.number(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), GiveUp> {
        self.str(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), GiveUp> {
        self.str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), GiveUp> {
        let mut array = self.open(ARRAY);
        for b in v {
            array.element(b)?;
        }
        array.close()
    }
    fn serialize_none(self) -> Result<(), GiveUp> {
        self.out.push(NULL);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), GiveUp> {
        self.out.push(NULL);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), GiveUp> {
        self.out.push(NULL);
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), GiveUp> {
        self.str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        self.open_variant(variant);
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'o, 'a>, GiveUp> {
        Ok(self.open(ARRAY))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'o, 'a>, GiveUp> {
        Ok(self.open(ARRAY))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'o, 'a>, GiveUp> {
        Ok(self.open(ARRAY))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'o, 'a>, GiveUp> {
        self.open_variant(variant);
        Ok(self.open(ARRAY))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'o, 'a>, GiveUp> {
        Ok(self.open(OBJECT))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'o, 'a>, GiveUp> {
        Ok(self.open(OBJECT))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'o, 'a>, GiveUp> {
        self.open_variant(variant);
        Ok(self.open(OBJECT))
    }
}

// serde has a trait per kind of compound; on the tape they are all an array (elements) or an
// object (named fields), so one body each.
macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = GiveUp;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
                self.element(value)
            }
            fn end(self) -> Result<(), GiveUp> {
                self.close()
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = GiveUp;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), GiveUp> {
                self.writer.str(key);
                self.element(value)
            }
            fn end(self) -> Result<(), GiveUp> {
                self.close()
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), GiveUp> {
        key.serialize(KeyOnly(&mut self.writer))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.element(value)
    }
    fn end(self) -> Result<(), GiveUp> {
        self.close()
    }
}

/// The length of `s` in JS (UTF-16 code units).
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().map(char::len_utf16).sum()
    }
}

#[wasm_bindgen(module = "/src/convert.js")]
extern "C" {
    /// Gives convert.js the error codes' strings, in `ErrorCode::ALL`'s order.
    #[wasm_bindgen(js_name = installCodes)]
    fn install_codes_js(codes: Vec<String>);
}

thread_local! {
    static CODES_INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Before the first result with errors: convert.js reads their codes by index.
pub(crate) fn install_codes() {
    if !CODES_INSTALLED.get() {
        install_codes_js(
            ErrorCode::ALL
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        );
        CODES_INSTALLED.set(true);
    }
}

// ---- The fast entry -------------------------------------------------------------------------

/// The first byte of an out tape: the verdict.
const VALID: u8 = 0;
const INVALID: u8 = 1;

/// The two tapes, kept between calls so that a validation allocates neither.
#[derive(Default)]
struct Buffers {
    input: Vec<u8>,
    out: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::default();
}

/// Makes the input tape `len` bytes long and returns where it starts, for JS to copy the
/// tape there. The address holds until the next call of this function.
#[wasm_bindgen(js_name = __tapeIn, skip_typescript)]
pub fn tape_in(len: usize) -> *mut u8 {
    BUFFERS.with_borrow_mut(|b| {
        b.input.resize(len, 0);
        b.input.as_mut_ptr()
    })
}

/// Where the out tape of the last [`validate_tape`] starts (its length was the answer).
#[wasm_bindgen(js_name = __tapeOut, skip_typescript)]
pub fn tape_out() -> *const u8 {
    BUFFERS.with_borrow(|b| b.out.as_ptr())
}

/// The module's memory, for JS to read and write the tapes.
#[wasm_bindgen(js_name = __memory, skip_typescript)]
pub fn memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Whether `now` (milliseconds) is a time the validators take; if not, the package calls the
/// wasm-bindgen function, which throws the error.
#[wasm_bindgen(js_name = __nowOk, skip_typescript)]
pub fn now_ok(now: f64) -> bool {
    time(now).is_some()
}

thread_local! {
    /// The last time converted: most calls pass the same `now` to [`now_ok`] and then to
    /// [`validate_tape`], and many in a row pass the same one.
    static LAST_TIME: std::cell::Cell<Option<(u64, Timestamp)>> = const { std::cell::Cell::new(None) };
}

/// `now` (milliseconds) as a [`Timestamp`], if the validators take it.
fn time(now: f64) -> Option<Timestamp> {
    if let Some((bits, t)) = LAST_TIME.get()
        && bits == now.to_bits()
    {
        return Some(t);
    }
    let t = time_from_millis(now).ok()?;
    LAST_TIME.set(Some((now.to_bits(), t)));
    Some(t)
}

/// The validators behind [`validate_tape`]'s `kind` (keep in step with `FAST` in convert.js).
const KINDS: [&str; 5] = [
    "validateNotification",
    "validateTicketUpdate",
    "validateMeterReading",
    "validateAnnouncement",
    "validateCustomData",
];

/// The package's names of the validators that [`validate_tape`] runs, by `kind`.
#[wasm_bindgen(js_name = __fastKinds, skip_typescript)]
pub fn fast_kinds() -> Vec<String> {
    KINDS.iter().map(|k| (*k).to_owned()).collect()
}

/// Runs validator `kind` (an index of [`fast_kinds`]) on the input tape, at `now`
/// (milliseconds; ignored by `validateCustomData`), and writes its result's out tape: the
/// verdict byte, then the value (valid), or an array of `[path, code, message]` (invalid).
/// Answers the out tape's length, or -1 when the package must answer the slow way (the tape
/// is not well formed, `now` is out of range, or the result is not representable).
#[wasm_bindgen(js_name = __validateTape, skip_typescript)]
pub fn validate_tape(kind: u32, now: f64) -> i32 {
    // validateCustomData takes no time; convert.js passes 0 for it.
    let Some(now) = time(now) else {
        return -1;
    };
    install_codes();
    BUFFERS.with_borrow_mut(|b| {
        let Buffers { input, out } = b;
        match run(kind, input, now, out) {
            Ok(()) => i32::try_from(out.len()).unwrap_or(-1),
            Err(GiveUp) => -1,
        }
    })
}

/// [`validate_tape`] on plain memory: validator `kind` on the input tape `input`, its result's
/// out tape in `out`. Public for native tests and profiles (`cargo test -p switchyard-wasm`).
pub fn run(kind: u32, input: &[u8], now: Timestamp, out: &mut Vec<u8>) -> Result<(), GiveUp> {
    out.clear();
    let (value, strings) = Tape::decode_with_strings(input).ok_or(GiveUp)?;
    let mut strings = Strings::new(strings);
    let mut writer = Writer {
        out,
        strings: &mut strings,
    };
    match kind {
        0 => writer.result(&payload::validate_notification(&value, now)),
        1 => writer.result(&payload::validate_ticket_update(&value, now)),
        2 => writer.result(&payload::validate_meter_reading(&value, now)),
        3 => writer.result(&payload::validate_announcement(&value, now)),
        4 => writer.result(&payload::validate_custom_data(&value)),
        _ => Err(GiveUp),
    }
}

/// An out tape without input strings (every string written whole), by `f`; the error a
/// wasm-bindgen function throws if the value cannot be written.
pub(crate) fn write(
    f: impl FnOnce(&mut Writer<'_, '_>) -> Result<(), GiveUp>,
) -> Result<Vec<u8>, JsValue> {
    let mut out = Vec::new();
    let mut strings = Strings::new(Vec::new());
    let mut writer = Writer {
        out: &mut out,
        strings: &mut strings,
    };
    f(&mut writer)
        .map_err(|e| JsValue::from(js_sys::Error::new(&format!("serialisation failed: {e}"))))?;
    Ok(out)
}

impl Writer<'_, '_> {
    pub(crate) fn result<T: Serialize>(
        &mut self,
        result: &Result<T, ValidationErrors>,
    ) -> Result<(), GiveUp> {
        match result {
            Ok(value) => {
                self.out.push(VALID);
                value.serialize(&mut *self)
            }
            Err(errors) => {
                // Each error's path (mostly an input key), its code as an index of
                // `ErrorCode::ALL` (JS holds their strings), its message's length in JS; then
                // every message in one piece, which JS decodes once and slices. (The entry
                // points have sent the codes' strings: `install_codes`.)
                self.out.push(INVALID);
                self.len(errors.0.len());
                let mut text = 0;
                for e in errors.iter() {
                    self.str(&e.path);
                    let code = ErrorCode::ALL.iter().position(|c| *c == e.code);
                    self.out
                        .push(code.and_then(|i| u8::try_from(i).ok()).ok_or(GiveUp)?);
                    self.len(utf16_len(&e.message));
                    text += e.message.len();
                }
                self.len(text);
                for e in errors.iter() {
                    self.out.extend_from_slice(e.message.as_bytes());
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An input tape, as convert.js writes it.
    fn tape(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut t = vec![OBJECT];
        t.extend_from_slice(&u32::try_from(fields.len()).unwrap().to_le_bytes());
        for (k, v) in fields {
            for s in [k, v] {
                t.push(STRING);
                t.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
                t.extend_from_slice(s.as_bytes());
            }
        }
        t
    }

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(1_705_312_800_000).unwrap()
    }

    #[test]
    fn a_valid_result_refers_to_the_inputs_strings() {
        let input = tape(&[("type", "info"), ("message", "Truck at 10")]);
        let mut out = Vec::new();
        run(0, &input, now(), &mut out).unwrap();
        // VALID, then { type: REF 0 ("type"), REF 1 ("info"), message: REF 2, REF 3 }.
        let mut want = vec![VALID, OBJECT, 2, 0, 0, 0];
        for i in 0u32..4 {
            want.push(REF);
            want.extend_from_slice(&i.to_le_bytes());
        }
        assert_eq!(out, want);
    }

    #[test]
    fn errors_carry_code_indexes_and_their_messages_in_one_piece() {
        let input = tape(&[("type", "loud"), ("message", "m")]);
        let mut out = Vec::new();
        run(0, &input, now(), &mut out).unwrap();
        assert_eq!(out[0], INVALID);
        assert_eq!(out[1..5], 1u32.to_le_bytes());
        // The path is the input's key "type" (string 0).
        assert_eq!(out[5], REF);
        assert_eq!(out[6..10], 0u32.to_le_bytes());
        assert_eq!(
            ErrorCode::ALL[usize::from(out[10])],
            ErrorCode::UnknownValue
        );
        let len = usize::try_from(u32::from_le_bytes(out[11..15].try_into().unwrap())).unwrap();
        let bytes = u32::from_le_bytes(out[15..19].try_into().unwrap());
        let message = std::str::from_utf8(&out[19..]).unwrap();
        assert_eq!((message.len(), bytes as usize), (len, len));
        assert!(message.starts_with("type must be one of"), "{message}");
    }

    #[test]
    fn what_is_not_one_tape_or_validator_gives_up() {
        let mut out = Vec::new();
        let good = tape(&[("type", "info"), ("message", "m")]);
        assert!(run(0, &good[..good.len() - 1], now(), &mut out).is_err());
        assert!(run(0, &[good.as_slice(), &[NULL]].concat(), now(), &mut out).is_err());
        assert!(run(0, &[REF, 0, 0, 0, 0], now(), &mut out).is_err());
        assert!(run(5, &good, now(), &mut out).is_err());
        assert_eq!(KINDS.len(), 5);
    }

    #[test]
    fn a_large_input_finds_its_strings_through_the_window_and_the_index() {
        let keys: Vec<String> = (0..100).map(|i| format!("k{i:03}")).collect();
        let values: Vec<String> = (0..100).map(|i| format!("v{}", 99 - i)).collect();
        let fields: Vec<(&str, &str)> = keys
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(String::as_str))
            .collect();
        let input = tape(&fields);
        let mut out = Vec::new();
        run(4, &input, now(), &mut out).unwrap();
        // Every key and value comes back as a REF: 200 of them, 5 bytes each.
        assert_eq!(out.len(), 1 + 5 + 200 * 5);
        assert!(out[6..].chunks(5).all(|c| c[0] == REF));
    }
}
