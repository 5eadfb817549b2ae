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

/// A parsed JSON value the deserializer reads: the browser's (`JsValue`), or, in the native
/// tests, serde_json's, so the same deserializer is checked against serde_json itself.
pub trait Source: Sized {
    fn string(&self) -> Option<String>;
    fn number(&self) -> Option<f64>;
    fn boolean(&self) -> Option<bool>;
    /// `null` (or JavaScript's `undefined`).
    fn is_nothing(&self) -> bool;
    fn is_array(&self) -> bool;
    fn is_object(&self) -> bool;
    /// An array's length.
    fn len(&self) -> u32;
    /// An array's item.
    fn item(&self, index: u32) -> Self;
    /// An object's entries as an array of `[key, value]` arrays, as `Object.entries` gives them.
    fn entries(&self) -> Self;
}

impl Source for JsValue {
    fn string(&self) -> Option<String> {
        self.as_string()
    }
    fn number(&self) -> Option<f64> {
        self.as_f64()
    }
    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }
    fn is_nothing(&self) -> bool {
        self.is_null() || self.is_undefined()
    }
    fn is_array(&self) -> bool {
        Array::is_array(self)
    }
    fn is_object(&self) -> bool {
        JsValue::is_object(self)
    }
    fn len(&self) -> u32 {
        self.unchecked_ref::<Array>().length()
    }
    fn item(&self, index: u32) -> Self {
        self.unchecked_ref::<Array>().get(index)
    }
    fn entries(&self) -> Self {
        Object::entries(self.unchecked_ref()).into()
    }
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

/// Writes a map key: a string, nothing else.
struct KeyWriter<'a>(Writer<'a>);

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Invalid;
    type SerializeSeq = Impossible<(), Invalid>;
    type SerializeTuple = Impossible<(), Invalid>;
    type SerializeTupleStruct = Impossible<(), Invalid>;
    type SerializeTupleVariant = Impossible<(), Invalid>;
    type SerializeMap = Impossible<(), Invalid>;
    type SerializeStruct = Impossible<(), Invalid>;
    type SerializeStructVariant = Impossible<(), Invalid>;

    fn serialize_str(self, value: &str) -> Done {
        self.0.string(value);
        Ok(())
    }
    fn serialize_char(self, value: char) -> Done {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_bool(self, _: bool) -> Done {
        Err(Invalid)
    }
    fn serialize_i8(self, _: i8) -> Done {
        Err(Invalid)
    }
    fn serialize_i16(self, _: i16) -> Done {
        Err(Invalid)
    }
    fn serialize_i32(self, _: i32) -> Done {
        Err(Invalid)
    }
    fn serialize_i64(self, _: i64) -> Done {
        Err(Invalid)
    }
    fn serialize_u8(self, _: u8) -> Done {
        Err(Invalid)
    }
    fn serialize_u16(self, _: u16) -> Done {
        Err(Invalid)
    }
    fn serialize_u32(self, _: u32) -> Done {
        Err(Invalid)
    }
    fn serialize_u64(self, _: u64) -> Done {
        Err(Invalid)
    }
    fn serialize_f32(self, _: f32) -> Done {
        Err(Invalid)
    }
    fn serialize_f64(self, _: f64) -> Done {
        Err(Invalid)
    }
    fn serialize_bytes(self, _: &[u8]) -> Done {
        Err(Invalid)
    }
    fn serialize_none(self) -> Done {
        Err(Invalid)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Done {
        Err(Invalid)
    }
    fn serialize_unit(self) -> Done {
        Err(Invalid)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Done {
        Err(Invalid)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Done {
        Err(Invalid)
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
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Invalid> {
        Err(Invalid)
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
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Invalid> {
        Err(Invalid)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Invalid> {
        Err(Invalid)
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
        // JSON keys are strings, and so are the wire maps' (tags, counts): any other key is
        // refused rather than written bare into invalid JSON.
        key.serialize(KeyWriter(self.next()))
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

struct Value<S>(S);

impl<'de, S: Source> de::Deserializer<'de> for Value<S> {
    type Error = Invalid;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        let value = self.0;
        if let Some(text) = value.string() {
            visitor.visit_string(text)
        } else if let Some(number) = value.number() {
            // JS has only doubles; whole ones go to the integer visitors so that `u8` and
            // friends accept them.
            if number.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&number) {
                visitor.visit_u64(number as u64)
            } else {
                visitor.visit_f64(number)
            }
        } else if let Some(flag) = value.boolean() {
            visitor.visit_bool(flag)
        } else if value.is_nothing() {
            visitor.visit_unit()
        } else if value.is_array() {
            visitor.visit_seq(Items {
                items: value,
                next: 0,
            })
        } else if value.is_object() {
            visitor.visit_map(Entries {
                entries: value.entries(),
                next: 0,
                value: None,
            })
        } else {
            Err(Invalid)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        if self.0.is_nothing() {
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

struct Items<S> {
    items: S,
    next: u32,
}

impl<'de, S: Source> SeqAccess<'de> for Items<S> {
    type Error = Invalid;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Invalid> {
        if self.next >= self.items.len() {
            return Ok(None);
        }
        self.next += 1;
        seed.deserialize(Value(self.items.item(self.next - 1)))
            .map(Some)
    }
}

struct Entries<S> {
    entries: S,
    next: u32,
    value: Option<S>,
}

impl<'de, S: Source> MapAccess<'de> for Entries<S> {
    type Error = Invalid;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Invalid> {
        if self.next >= self.entries.len() {
            return Ok(None);
        }
        let entry = self.entries.item(self.next);
        self.next += 1;
        self.value = Some(entry.item(1));
        seed.deserialize(Value(entry.item(0))).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Invalid> {
        seed.deserialize(Value(self.value.take().ok_or(Invalid)?))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use pulsetap_wire::{RecordImpression, RecordResponse, Tags, WidgetConfig};
    use serde_json::Value as Json;

    use super::*;

    /// serde_json's values stand in for the browser's, so the deserializer runs natively.
    impl Source for Json {
        fn string(&self) -> Option<String> {
            self.as_str().map(str::to_owned)
        }
        fn number(&self) -> Option<f64> {
            self.as_f64()
        }
        fn boolean(&self) -> Option<bool> {
            self.as_bool()
        }
        fn is_nothing(&self) -> bool {
            self.is_null()
        }
        fn is_array(&self) -> bool {
            Json::is_array(self)
        }
        fn is_object(&self) -> bool {
            Json::is_object(self)
        }
        fn len(&self) -> u32 {
            self.as_array().map_or(0, |items| items.len() as u32)
        }
        fn item(&self, index: u32) -> Self {
            self[index as usize].clone()
        }
        fn entries(&self) -> Self {
            let pairs = self.as_object().into_iter().flatten();
            Json::Array(
                pairs
                    .map(|(key, value)| Json::Array(vec![Json::String(key.clone()), value.clone()]))
                    .collect(),
            )
        }
    }

    fn from_json<T: DeserializeOwned>(value: Json) -> Option<T> {
        T::deserialize(Value(value)).ok()
    }

    /// Any text, control characters, quotes, backslashes and emoji included.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), r#"[a-z"\\\n\t\x00-\x1f\x7f😍é ]{0,12}"#]
    }

    fn tags() -> impl Strategy<Value = Tags> {
        proptest::collection::btree_map(text(), text(), 0..4)
    }

    prop_compose! {
        fn response()(
            survey in text(), response_id in text(), score in any::<u8>(),
            interaction in proptest::option::of(text()), sig in proptest::option::of(text()),
            tags in tags(), comment in proptest::option::of(text()),
            lang in proptest::option::of(text()),
        ) -> RecordResponse {
            RecordResponse { survey, response_id, score, interaction, sig, tags, comment, lang }
        }
    }

    prop_compose! {
        fn impression()(
            survey in text(), response_id in text(),
            interaction in proptest::option::of(text()), sig in proptest::option::of(text()),
            tags in tags(), lang in proptest::option::of(text()),
        ) -> RecordImpression {
            RecordImpression { survey, response_id, interaction, sig, tags, lang }
        }
    }

    prop_compose! {
        fn config()(
            survey in text(), kind in text(), lang in proptest::option::of(text()),
            question in text(), scale in proptest::collection::vec(text(), 0..11),
            labels in proptest::collection::vec(text(), 0..11), first_score in any::<u8>(),
            low_label in text(), high_label in text(), follow_up in text(),
            thank_you in text(), send in text(), theme in text(), satisfied_min in any::<u8>(),
        ) -> WidgetConfig {
            WidgetConfig {
                survey, kind, lang, question, scale, labels, first_score, low_label,
                high_label, follow_up, thank_you, send, theme, satisfied_min,
            }
        }
    }

    /// Any JSON value a server could answer, integers as integers (as JSON text has them).
    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<u64>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            (-1e6f64..1e6)
                .prop_filter("a fraction", |f| f.fract() != 0.0)
                .prop_map(Json::from),
            text().prop_map(Json::String),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
                proptest::collection::btree_map(text(), inner, 0..5)
                    .prop_map(|map| Json::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn bodies_are_written_exactly_as_serde_json_writes_them(
            response in response(), impression in impression(),
        ) {
            prop_assert_eq!(to_json(&response), serde_json::to_string(&response).ok());
            prop_assert_eq!(to_json(&impression), serde_json::to_string(&impression).ok());
        }

        #[test]
        fn a_configuration_reads_back_as_serde_json_wrote_it(config in config()) {
            let json = serde_json::to_value(&config).unwrap();
            prop_assert_eq!(from_json::<WidgetConfig>(json), Some(config));
        }

        #[test]
        fn a_body_the_codec_writes_reads_back_unchanged(response in response()) {
            let json: Json = serde_json::from_str(&to_json(&response).unwrap()).unwrap();
            prop_assert_eq!(from_json::<RecordResponse>(json), Some(response));
        }

        #[test]
        fn any_answer_is_accepted_or_refused_exactly_as_serde_json_would(
            config in config(), key in 0usize..14, replacement in json(), drop in any::<bool>(),
        ) {
            // A valid configuration with one field missing or holding anything at all.
            let mut json = serde_json::to_value(&config).unwrap();
            let object = json.as_object_mut().unwrap();
            let name = object.keys().nth(key % object.len()).unwrap().clone();
            if drop {
                object.remove(&name);
            } else {
                object.insert(name, replacement.clone());
            }
            let expected = serde_json::from_value::<WidgetConfig>(json.clone()).ok();
            prop_assert_eq!(from_json::<WidgetConfig>(json), expected);
            // And any value at all, where a configuration is expected.
            let expected = serde_json::from_value::<WidgetConfig>(replacement.clone()).ok();
            prop_assert_eq!(from_json::<WidgetConfig>(replacement), expected);
        }
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

    #[test]
    fn a_map_keyed_by_anything_but_strings_is_refused_rather_than_written_as_invalid_json() {
        let by_number: BTreeMap<u8, String> = [(5, "five".to_owned())].into();
        assert_eq!(to_json(&by_number), None);
        let by_text: BTreeMap<String, u8> = [("five".to_owned(), 5)].into();
        assert_eq!(to_json(&by_text).as_deref(), Some(r#"{"five":5}"#));
    }
}
