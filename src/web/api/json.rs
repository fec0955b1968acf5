//! Reading queries and JSON bodies strictly (unknown fields, repeated
//! fields and wrong types refused, with words that say which), and writing
//! times.

use crate::error::Error;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// The query string as `T`: unknown parameters and values of the wrong type
/// are refused, with words that say which.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, Error> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|error| {
            Error::Invalid(format!(
                "The query is not usable: {}.",
                bounded(&error.to_string())
            ))
        })
}

/// The largest JSON body any call takes: a thousand invitations with room.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Reads a JSON body of at most [`MAX_JSON_BYTES`], whole: the bytes (for an
/// idempotency digest) and the value they hold.
pub async fn json_body<T: DeserializeOwned>(mut payload: web::Payload) -> Result<(web::Bytes, T), Error> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| Error::Invalid(format!("The body could not be read: {error}.")))?;
        if body.len() + chunk.len() > MAX_JSON_BYTES {
            return Err(Error::TooLarge {
                limit: "1 MiB of JSON",
            });
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let unusable = |error: serde_json::Error| {
        Error::Invalid(format!(
            "The body is not usable JSON: {}.",
            bounded(&error.to_string())
        ))
    };
    let Strict(json) = serde_json::from_slice(&body).map_err(unusable)?;
    let Object(value) = Object::deserialize(json).map_err(unusable)?;
    Ok((body, value))
}

/// Any JSON, read as `serde_json::Value` is, except that an object naming a
/// field twice, at any depth, is refused: which one counts would depend on
/// who reads it (a proxy, an audit tool, this server).
struct Strict(serde_json::Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("JSON")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_string<E>(self, value: String) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(serde_json::Value::Null))
    }

    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(serde_json::Value::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Strict(serde_json::Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some((name, Strict(value))) = map.next_entry::<String, Strict>()? {
            if fields.contains_key(&name) {
                return Err(serde::de::Error::custom(format_args!(
                    "the field `{name}` is given twice"
                )));
            }
            fields.insert(name, value);
        }
        Ok(Strict(serde_json::Value::Object(fields)))
    }
}

/// A JSON object read as `T`. Serde also reads a struct from an array of its
/// fields in order (`["viewer"]` as `{"role": "viewer"}`): here only an
/// object with the fields named will do.
pub struct Object<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = deserializer.deserialize_map(Fields)?;
        T::deserialize(serde_json::Value::Object(fields))
            .map(Object)
            .map_err(serde::de::Error::custom)
    }
}

/// A JSON object's fields (each named once: see [`Strict`]).
struct Fields;

impl<'de> serde::de::Visitor<'de> for Fields {
    type Value = serde_json::Map<String, serde_json::Value>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
            fields.insert(name, value);
        }
        Ok(fields)
    }
}

/// Parser messages quote the input; a quote of a huge input helps nobody.
fn bounded(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    if message.chars().count() <= MAX_CHARS {
        message.to_owned()
    } else {
        let cut: String = message.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}

/// A time as the API writes it: RFC 3339, in UTC.
pub(super) fn timestamp(at: chrono::NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
