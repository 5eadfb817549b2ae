//! serde for the wire types without serde_json: bodies are written as JSON by a small
//! `Serializer`, and configurations are read by a `Deserializer` over the value the browser's
//! own JSON parser (`Response.json()`) produced.
//!
//! serde_json's parser, float handling and error formatting cost more wasm than the widget's
//! whole UI. Both directions support exactly the shapes the wire types use (strings, integers,
//! options, sequences, string-keyed maps, structs) and refuse anything else rather than guess.
//! Errors carry no message: the widget handles every failure the same way, and never
//! formatting a message lets the linker drop serde's error texts.

use std::fmt;

use js_sys::{Array, Object};
use serde::{
    Serialize,
    de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor},
    ser::{self, Impossible, SerializeMap, SerializeSeq, SerializeStruct},
};
use wasm_bindgen::{JsCast, JsValue};

/// A value that does not fit the shape asked for.
#[derive(Debug)]
pub struct Invalid;

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid value")
    }
}

impl std::error::Error for Invalid {}

impl de::Error for Invalid {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Invalid
    }
}

impl ser::Error for Invalid {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Invalid
    }
}

/// A wire body as JSON text.
pub fn to_json<T: Serialize>(value: &T) -> Option<String> {
    let mut out = String::new();
    value.serialize(Writer(&mut out)).ok()?;
    Some(out)
}

/// A wire type read out of a parsed JSON value.
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Option<T> {
    T::deserialize(Value(value)).ok()
}

struct Writer<'a>(&'a mut String);

impl<'a> Writer<'a> {
    fn string(self, text: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.0.push('"');
        for c in text.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                '\u{8}' => self.0.push_str("\\b"),
                '\u{c}' => self.0.push_str("\\f"),
                '\u{0}'..='\u{1f}' => {
                    let code = c as usize;
                    self.0.push_str("\\u00");
                    self.0.push(char::from(HEX[code >> 4]));
                    self.0.push(char::from(HEX[code & 15]));
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }

    fn unsigned(self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        for &digit in &digits[at..] {
            self.0.push(char::from(digit));
        }
    }

    fn open(self, bracket: char, close: char) -> Compound<'a> {
        self.0.push(bracket);
        Compound {
            out: self.0,
            first: true,
            close,
        }
    }
}

type Done = Result<(), Invalid>;

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Invalid;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Impossible<(), Invalid>;
    type SerializeTupleStruct = Impossible<(), Invalid>;
    type SerializeTupleVariant = Impossible<(), Invalid>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Impossible<(), Invalid>;

    fn serialize_bool(self, value: bool) -> Done {
        self.0.push_str(if value { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, value: i8) -> Done {
        self.serialize_i64(value.into())
    }
    fn serialize_i16(self, value: i16) -> Done {
        self.serialize_i64(value.into())
    }
    fn serialize_i32(self, value: i32) -> Done {
        self.serialize_i64(value.into())
    }
    fn serialize_i64(self, value: i64) -> Done {
        if value < 0 {
            self.0.push('-');
        }
        self.unsigned(value.unsigned_abs());
        Ok(())
    }
    fn serialize_u8(self, value: u8) -> Done {
        self.serialize_u64(value.into())
    }
    fn serialize_u16(self, value: u16) -> Done {
        self.serialize_u64(value.into())
    }
    fn serialize_u32(self, value: u32) -> Done {
        self.serialize_u64(value.into())
    }
    fn serialize_u64(self, value: u64) -> Done {
        self.unsigned(value);
        Ok(())
    }
    // No body the widget sends has a float; writing one correctly would cost a float printer.
    fn serialize_f32(self, _: f32) -> Done {
        Err(Invalid)
    }
    fn serialize_f64(self, _: f64) -> Done {
        Err(Invalid)
    }
    fn serialize_char(self, value: char) -> Done {
        self.string(value.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, value: &str) -> Done {
        self.string(value);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Done {
        Err(Invalid)
    }
    fn serialize_none(self) -> Done {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        self.0.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Done {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Done {
        Err(Invalid)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Invalid> {
        Ok(self.open('[', ']'))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Invalid> {
        Err(Invalid)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Invalid> {
        Err(Invalid)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Invalid> {
        Err(Invalid)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Invalid> {
        Ok(self.open('{', '}'))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Invalid> {
        Ok(self.open('{', '}'))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Invalid> {
        Err(Invalid)
    }
}

/// An array, object or struct being written.
struct Compound<'a> {
    out: &'a mut String,
    first: bool,
    close: char,
}

impl Compound<'_> {
    fn next(&mut self) -> Writer<'_> {
        if !std::mem::take(&mut self.first) {
            self.out.push(',');
        }
        Writer(self.out)
    }

    fn close(self) -> Done {
        self.out.push(self.close);
        Ok(())
    }
}

impl SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Invalid;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(self.next())
    }
    fn end(self) -> Done {
        self.close()
    }
}

impl SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Invalid;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        // JSON keys are strings; the wire maps (tags, counts) are keyed by strings.
        key.serialize(self.next())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.out.push(':');
        value.serialize(Writer(self.out))
    }
    fn end(self) -> Done {
        self.close()
    }
}

impl SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Invalid;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
        self.next().string(key);
        self.out.push(':');
        value.serialize(Writer(self.out))
    }
    fn end(self) -> Done {
        self.close()
    }
}

struct Value(JsValue);

impl<'de> de::Deserializer<'de> for Value {
    type Error = Invalid;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        let value = self.0;
        if let Some(text) = value.as_string() {
            visitor.visit_string(text)
        } else if let Some(number) = value.as_f64() {
            // JS has only doubles; whole ones go to the integer visitors so that `u8` and
            // friends accept them.
            if number.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&number) {
                visitor.visit_u64(number as u64)
            } else {
                visitor.visit_f64(number)
            }
        } else if let Some(flag) = value.as_bool() {
            visitor.visit_bool(flag)
        } else if value.is_null() || value.is_undefined() {
            visitor.visit_unit()
        } else if Array::is_array(&value) {
            visitor.visit_seq(Items {
                items: value.unchecked_into(),
                next: 0,
            })
        } else if value.is_object() {
            let entries = Object::entries(value.unchecked_ref());
            visitor.visit_map(Entries {
                entries,
                next: 0,
                value: None,
            })
        } else {
            Err(Invalid)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        if self.0.is_null() || self.0.is_undefined() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct Items {
    items: Array,
    next: u32,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Invalid;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Invalid> {
        if self.next >= self.items.length() {
            return Ok(None);
        }
        self.next += 1;
        seed.deserialize(Value(self.items.get(self.next - 1)))
            .map(Some)
    }
}

struct Entries {
    entries: Array,
    next: u32,
    value: Option<JsValue>,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Invalid;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Invalid> {
        if self.next >= self.entries.length() {
            return Ok(None);
        }
        let entry: Array = self.entries.get(self.next).unchecked_into();
        self.next += 1;
        self.value = Some(entry.get(1));
        seed.deserialize(Value(entry.get(0))).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Invalid> {
        seed.deserialize(Value(self.value.take().ok_or(Invalid)?))
    }
}

#[cfg(test)]
mod tests {
    use pulsetap_wire::{RecordImpression, RecordResponse, Tags};

    use super::*;

    #[test]
    fn bodies_are_written_exactly_as_serde_json_writes_them() {
        let mut tags = Tags::new();
        tags.insert("channel".into(), "chat".into());
        tags.insert("agent".into(), "al\"ice\\".into());
        let response = RecordResponse {
            survey: "support".into(),
            response_id: "3f1c".into(),
            score: 255,
            interaction: Some("chat-8842".into()),
            sig: None,
            tags: tags.clone(),
            comment: Some("Quick\nand kind 😍 \u{1} \u{7f}\t\r\u{8}\u{c}".into()),
            lang: Some("pt-BR".into()),
        };
        assert_eq!(to_json(&response), serde_json::to_string(&response).ok());
        let impression = RecordImpression {
            survey: "support".into(),
            response_id: "3f1c".into(),
            interaction: None,
            sig: Some("abc".into()),
            tags: Tags::new(),
            lang: Some("ar".into()),
        };
        assert_eq!(
            to_json(&impression),
            serde_json::to_string(&impression).ok()
        );
    }

    #[test]
    fn numbers_of_every_width_are_written_in_full() {
        assert_eq!(to_json(&0u8).as_deref(), Some("0"));
        assert_eq!(to_json(&u64::MAX).as_deref(), Some("18446744073709551615"));
        assert_eq!(to_json(&i64::MIN).as_deref(), Some("-9223372036854775808"));
        assert_eq!(to_json(&vec![true, false]).as_deref(), Some("[true,false]"));
    }

    #[test]
    fn a_float_is_refused_rather_than_written_wrongly() {
        assert_eq!(to_json(&1.5f64), None);
    }
}
