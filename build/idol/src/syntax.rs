//! What an `.idol` file says, as serde types.
//!
//! The format is Hubris's: a RON document whose top level is
//! `Interface(name: "...", ops: { ... })`. RON checks struct names, which is
//! why the top-level type here must be called `Interface`.
//!
//! These types hold the text as written (type names are still strings);
//! [`crate::check`] turns them into the validated form the generators use.
//! Keeping the two apart means every rule lives in one place and every error
//! can name the op it is about.

use indexmap::IndexMap;
use serde::Deserialize;
use std::num::NonZeroU32;

/// One IPC interface: a name and its operations, in file order.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// The interface's name, used for generated types (`Fpga`,
    /// `FpgaOperation`, `InOrderFpgaImpl`), so it should be a Rust type name.
    pub name: String,
    /// The operations. Their order in the file gives their numbers, from 1.
    pub ops: UniqueMap<Operation>,
}

/// One operation of an interface.
///
/// Unknown fields are rejected so that a typo (`idempotnet: true`) is an
/// error instead of a silently non-idempotent op.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// What the op does; becomes the client method's doc comment. (A plain
    /// string, not an `Option`: RON would demand `Some("...")`.)
    #[serde(default)]
    pub doc: String,
    /// A longer description, Hubris's other doc field; appended to `doc`.
    #[serde(default)]
    pub description: String,
    /// Arguments copied in the message. Their order is the packing order.
    #[serde(default)]
    pub args: UniqueMap<AttributedTy>,
    /// Memory lent to the server. Their order gives the lease index.
    #[serde(default)]
    pub leases: UniqueMap<Lease>,
    /// What the server replies.
    pub reply: Reply,
    /// How args and reply are encoded in the message.
    #[serde(default)]
    pub encoding: Encoding,
    /// Whether the client may transparently resend the op after the server
    /// died. Only for ops whose repetition cannot be observed.
    #[serde(default)]
    pub idempotent: bool,
}

/// How an op's arguments and reply are laid out in the message.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, Deserialize)]
pub enum Encoding {
    /// The memory image of a `#[repr(C, packed)]` struct; cheapest.
    #[default]
    Zerocopy,
    /// serde through `ssmarshal`; kept for Hubris compatibility.
    Ssmarshal,
    /// serde through `hubpack`, whose size bounds are known at compile time.
    Hubpack,
}

/// A leased value or slice.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// The leased type, usually `[u8]`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The server may read the client's memory.
    #[serde(default)]
    pub read: bool,
    /// The server may write the client's memory.
    #[serde(default)]
    pub write: bool,
    /// For slices: the most elements (not bytes) the server accepts.
    #[serde(default)]
    pub max_len: Option<NonZeroU32>,
}

/// What an op replies.
#[derive(Clone, Debug, Deserialize)]
pub enum Reply {
    /// The op cannot fail (other than by faulting the client).
    Simple(AttributedTy),
    /// The op returns `Result<ok, err>`; rc 0 means `Ok`.
    Result {
        /// The reply body when rc is 0.
        ok: AttributedTy,
        /// How a failure travels.
        err: ErrorStrategy,
    },
}

/// How an op's error travels back to the client.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize)]
pub enum ErrorStrategy {
    /// The error is the (non-zero) response code; the body is empty. The
    /// type converts to `u16` on the server and from `u32` on the client.
    CLike(String),
    /// The error is serialized in the reply body (Hubpack ops only).
    Complex(String),
    /// The server never fails; the client sees `Err(ServerDeath)` if the
    /// server died during the call.
    ServerDeath,
}

/// A type, optionally with how to convert it on receipt.
///
/// Written either as a bare type name, `"u8"`, or as
/// `(type: "DeviceState", recv: FromPrimitive("u8"))`.
#[derive(Clone, Debug)]
pub struct AttributedTy {
    /// The type the API uses.
    pub ty: String,
    /// How the wire form becomes `ty`.
    pub recv: RecvStrategy,
}

/// How a received value becomes the API type.
#[derive(Clone, Debug, Default, Eq, PartialEq, Deserialize)]
pub enum RecvStrategy {
    /// The wire form is the type itself (`bool` travels as a `u8`).
    #[default]
    FromBytes,
    /// The wire form is the named primitive; the type is a fieldless enum
    /// sent with `as` and received with `TryFrom<primitive>`. An invalid
    /// value faults the client (`BadMessageContents`).
    FromPrimitive(String),
    /// The wire form is the named type; the API type is made from it with
    /// `From`, or with the named function if one is given.
    From(String, #[serde(default)] Option<String>),
}

impl<'de> Deserialize<'de> for AttributedTy {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AttributedTyVisitor)
    }
}

/// Accepts both spellings of [`AttributedTy`].
struct AttributedTyVisitor;

impl<'de> serde::de::Visitor<'de> for AttributedTyVisitor {
    type Value = AttributedTy;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a type name or `(type: \"T\", recv: ...)`")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(AttributedTy {
            ty: v.to_string(),
            recv: RecvStrategy::default(),
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<Self::Value, A::Error> {
        use serde::de::Error;

        let mut ty: Option<String> = None;
        let mut recv: Option<RecvStrategy> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" if ty.is_some() => {
                    return Err(A::Error::duplicate_field("type"));
                }
                "type" => ty = Some(map.next_value()?),
                "recv" if recv.is_some() => {
                    return Err(A::Error::duplicate_field("recv"));
                }
                "recv" => recv = Some(map.next_value()?),
                other => {
                    return Err(A::Error::unknown_field(
                        other,
                        &["type", "recv"],
                    ));
                }
            }
        }
        Ok(AttributedTy {
            ty: ty.ok_or_else(|| A::Error::missing_field("type"))?,
            recv: recv.unwrap_or_default(),
        })
    }
}

/// An ordered map that refuses duplicate keys.
///
/// A plain `IndexMap` keeps the last of two equal keys, which would silently
/// renumber every later op; Hubris rejects duplicates, and so do we.
#[derive(Clone, Debug)]
pub struct UniqueMap<V>(pub IndexMap<String, V>);

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        Self(IndexMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueMapVisitor(std::marker::PhantomData))
    }
}

/// Builds a [`UniqueMap`], failing on the first repeated key.
struct UniqueMapVisitor<V>(std::marker::PhantomData<V>);

impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for UniqueMapVisitor<V> {
    type Value = UniqueMap<V>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map with unique keys")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut access: A,
    ) -> Result<Self::Value, A::Error> {
        let mut map = IndexMap::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate name `{key}`: op, arg and lease names \
                     must be unique"
                )));
            }
            let value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(UniqueMap(map))
    }
}

impl std::str::FromStr for Interface {
    type Err = ron::error::SpannedError;

    /// Parses the text of an `.idol` file.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ron::from_str(text)
    }
}
