//! Which keys a config may hold, and errors that name the key at fault.
//!
//! The settings of each section are read off its struct by serde itself (the
//! list a derived `Deserialize` passes to `deserialize_struct`), so the check
//! can never drift from the structs: a key is valid exactly when the task's
//! section has a field of that name.

use serde::de::{self, DeserializeOwned, Visitor};
use serde::forward_to_deserialize_any;

/// A deserializer that only records the field names a struct asks for.
struct FieldNames(Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("fields recorded"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The field names of the struct `T` (empty when `T` is not a struct).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = FieldNames(None);
    let _ = T::deserialize(&mut names);
    names.0.unwrap_or(&[])
}

/// The sections of one task's config and their keys.
pub type Sections = Vec<(&'static str, &'static [&'static str])>;

/// The key path (`section.key`) of the value that starts at byte `offset` of
/// the TOML `text` that [`toml::to_string`] wrote: the key on that line under
/// the nearest table header above it.
pub fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let key = line.split_once('=').map(|(k, _)| k.trim().trim_matches('"').to_string())?;
    let section = before[..line_start]
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|s| s.strip_suffix(']')).map(|s| s.trim().to_string()));
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Two {
        a: u32,
        b: Option<String>,
    }

    #[test]
    fn field_names_come_from_the_struct_options_included() {
        assert_eq!(field_names::<Two>(), ["a", "b"]);
        assert!(field_names::<u32>().is_empty());
    }

    #[test]
    fn key_at_names_the_section_and_key_of_an_offset() {
        let text = "task = \"lm\"\n\n[model]\nd_model = 128\n\n[train]\nlr = \"fast\"\n";
        let at = text.find("\"fast\"").unwrap();
        assert_eq!(key_at(text, at).as_deref(), Some("train.lr"));
        assert_eq!(key_at(text, 8).as_deref(), Some("task"));
    }
}
