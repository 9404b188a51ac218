//! Idol messages from the command line and back: encoding `-a k=v`
//! arguments the way the generated client would, and decoding replies
//! and errors into names.
//!
//! Primitive types need nothing but the `.idol` text. Enums and structs
//! are looked up by name in the server's DWARF, which gives enum values
//! their names (`FromPrimitive` arguments, `CLike` errors) and lets us
//! decode a reply type we have never seen: a Zerocopy reply is the
//! type's memory image, and a Hubpack one is its fields in declaration
//! order with enums as a variant index.

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};
use idol::check::{Conversion, ErrorKind, Operation, WireTy};
use idol::syntax::Encoding;
use quote::ToTokens;

use crate::dwarf::{DebugInfo, Type, TypeId};
use crate::value::Value;

/// A type as text, without the token spacing (`[u8;4]`, `u32`).
pub fn type_text(ty: &syn::Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

/// The last path segment, which is what DWARF names a type.
fn short(ty: &str) -> &str {
    ty.rsplit("::").next().unwrap_or(ty)
}

/// Width and signedness of an integer type name.
fn int(ty: &str) -> Option<(usize, bool)> {
    Some(match ty {
        "u8" => (1, false),
        "u16" => (2, false),
        "u32" => (4, false),
        "u64" | "usize" => (8, false),
        "i8" => (1, true),
        "i16" => (2, true),
        "i32" => (4, true),
        "i64" | "isize" => (8, true),
        _ => return None,
    })
}

/// Parses `-a` values: `k=v,k2=v2`, possibly from several `-a`s.
///
/// # Errors
///
/// A piece without `=`, or a repeated key.
pub fn parse_args(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for piece in raw.iter().flat_map(|r| r.split(',')) {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (k, v) = piece.split_once('=').ok_or_else(|| {
            anyhow!("argument {piece:?} is not of the form name=value")
        })?;
        let k = k.trim().to_string();
        if out.iter().any(|(n, _)| *n == k) {
            bail!("argument {k:?} is given twice");
        }
        out.push((k, v.trim().to_string()));
    }
    Ok(out)
}

/// A number as written: decimal, `0x` hex or `0b` binary, maybe negative.
pub fn parse_number(text: &str) -> Option<i128> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let t = t.replace('_', "");
    let v = if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(b) = t.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()?
    } else {
        t.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `value` as a `width`-byte little-endian integer, range checked.
fn int_bytes(value: i128, width: usize, signed: bool) -> Option<Vec<u8>> {
    let bits = 8 * width as u32;
    let ok = if signed {
        let half = 1i128 << (bits - 1);
        (-half..half).contains(&value)
    } else {
        (0..(1i128 << bits)).contains(&value)
    };
    ok.then(|| value.to_le_bytes()[..width].to_vec())
}

/// The enumerators of the enum named like `api` in the server's DWARF,
/// in declaration order: `(name, value)`.
fn enumerators(
    debug: Option<&DebugInfo>,
    api: &str,
) -> Option<Vec<(String, u64)>> {
    let debug = debug?;
    for id in debug.types_named(short(api)) {
        match &*debug.ty(id) {
            Type::Enum { enumerators, .. } => return Some(enumerators.clone()),
            Type::Struct(s) => {
                if let Some(part) = &s.variants {
                    let fieldless = part.variants.iter().all(|v| {
                        matches!(&*debug.ty(v.member.ty),
                            Type::Struct(i) if i.members.is_empty())
                    });
                    if fieldless && !part.variants.is_empty() {
                        return Some(
                            part.variants
                                .iter()
                                .enumerate()
                                .map(|(i, v)| {
                                    (
                                        v.member.name.clone(),
                                        v.value.unwrap_or(i as u64),
                                    )
                                })
                                .collect(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Encodes the op's arguments from `name=value` pairs.
///
/// # Errors
///
/// A missing, unknown or unparsable argument, or a type we cannot build
/// from text; each names the argument.
pub fn encode_args(
    op: &Operation,
    given: &[(String, String)],
    debug: Option<&DebugInfo>,
) -> Result<Vec<u8>> {
    let mut values: HashMap<&str, &str> = given
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let wanted = || {
        op.args
            .iter()
            .map(|a| format!("{}: {}", a.name, type_text(&a.ty.api)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    for arg in &op.args {
        let name = arg.name.to_string();
        let text = values.remove(name.as_str()).ok_or_else(|| {
            anyhow!(
                "missing argument {name:?} ({} takes: {})",
                op.name,
                wanted()
            )
        })?;
        let bytes = encode_one(&arg.ty, text, op.encoding, debug)
            .map_err(|e| anyhow!("argument {name:?}: {e}"))?;
        out.extend(bytes);
    }
    if let Some(k) = values.keys().next() {
        bail!("unknown argument {k:?} ({} takes: {})", op.name, wanted());
    }
    Ok(out)
}

fn encode_one(
    ty: &WireTy,
    text: &str,
    encoding: Encoding,
    debug: Option<&DebugInfo>,
) -> Result<Vec<u8>> {
    let api = type_text(&ty.api);
    let wire = type_text(&ty.wire());
    let bad = |what: &str| anyhow!("{text:?} is not {what}");
    if api == "bool" {
        return match text {
            "true" | "1" => Ok(vec![1]),
            "false" | "0" => Ok(vec![0]),
            _ => Err(bad("a bool (true or false)")),
        };
    }
    if let Some((width, signed)) = int(&api).filter(|_| api == wire) {
        let v = parse_number(text).ok_or_else(|| bad("a number"))?;
        return int_bytes(v, width, signed)
            .ok_or_else(|| anyhow!("{text} does not fit in {api}"));
    }
    if let Some(elems) = api
        .strip_prefix("[u8;")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse::<usize>().ok())
    {
        let hex = text.trim_start_matches("0x");
        let bytes = crate::target::unhex(hex)
            .filter(|b| b.len() == elems)
            .ok_or_else(|| bad(&format!("{elems} bytes of hex")))?;
        return Ok(bytes);
    }
    // An enum: by name or number. It travels as its discriminant in the
    // `FromPrimitive` width, or for Hubpack as its variant index.
    let list = enumerators(debug, &api);
    let (index, value) = match &list {
        Some(list) => match list.iter().position(|(n, _)| n == text) {
            Some(i) => (i as i128, list[i].1 as i128),
            None => {
                let v = parse_number(text).ok_or_else(|| {
                    let names: Vec<&str> =
                        list.iter().map(|(n, _)| n.as_str()).collect();
                    anyhow!("{text:?} is not a {api} ({})", names.join(", "))
                })?;
                (v, v)
            }
        },
        None => bail!(
            "cannot build a {api} from the command line (not found in the \
             server's debug info)"
        ),
    };
    match (&ty.conversion, encoding) {
        (Conversion::Primitive(p), _) | (Conversion::From(p, _), _) => {
            let p = type_text(p);
            let (width, signed) =
                int(&p).ok_or_else(|| anyhow!("cannot encode a {p}"))?;
            int_bytes(value, width, signed)
                .ok_or_else(|| anyhow!("{text} does not fit in {p}"))
        }
        (_, Encoding::Hubpack) => int_bytes(index, 1, false)
            .ok_or_else(|| anyhow!("variant index {index} is out of range")),
        _ => bail!("cannot encode a {api} in {encoding:?}"),
    }
}

/// What a call returned, decoded.
pub fn decode_reply(
    op: &Operation,
    rc: u32,
    reply: &[u8],
    debug: Option<&DebugInfo>,
) -> String {
    if let Some(generation) = abi::extract_new_generation(rc) {
        return format!(
            "Err(server died; it is now generation {})",
            generation.get()
        );
    }
    let fallible = op.reply.err.is_some();
    if rc != 0 {
        let err = match &op.reply.err {
            Some(ErrorKind::CLike(e)) => clike(debug, &type_text(e), rc),
            Some(ErrorKind::Complex(e))
                if rc == idol_runtime_complex_code() =>
            {
                decode_value(&type_text(e), Encoding::Hubpack, reply, debug)
            }
            _ => format!("{rc:#x}"),
        };
        return format!("Err({err})");
    }
    let ok = decode_value(
        &type_text(&op.reply.ok.wire()),
        op.encoding,
        reply,
        debug,
    );
    let ok = match &op.reply.ok.conversion {
        Conversion::Primitive(_) => {
            reply_enum(debug, &op.reply.ok, reply).unwrap_or(ok)
        }
        Conversion::BoolAsU8 => match reply.first() {
            Some(0) => "false".into(),
            Some(_) => "true".into(),
            None => ok,
        },
        _ => ok,
    };
    if fallible { format!("Ok({ok})") } else { ok }
}

/// idol's response code for a `Complex` error (idol-runtime's
/// `COMPLEX_ERROR_CODE`).
fn idol_runtime_complex_code() -> u32 {
    1
}

/// A `FromPrimitive` reply: the wire integer, named by the API enum.
fn reply_enum(
    debug: Option<&DebugInfo>,
    ty: &WireTy,
    reply: &[u8],
) -> Option<String> {
    let raw = crate::decode::read_uint(reply, reply.len() as u64)?;
    let list = enumerators(debug, &type_text(&ty.api))?;
    list.iter().find(|(_, v)| *v == raw).map(|(n, _)| n.clone())
}

/// A `CLike` error code by name: a `ClientError`, or the error enum's
/// variant as the server's DWARF has it, or the number.
fn clike(debug: Option<&DebugInfo>, ty: &str, rc: u32) -> String {
    use abi::ClientError::*;
    for e in [
        UnknownOperation,
        BadMessageSize,
        BadLease,
        WentAway,
        BadMessageContents,
        ReplyBufferTooSmall,
        AccessViolation,
    ] {
        if e as u32 == rc {
            return format!("{e:?}");
        }
    }
    enumerators(debug, ty)
        .and_then(|l| l.into_iter().find(|(_, v)| *v == u64::from(rc)))
        .map_or_else(|| format!("{}({rc:#x})", short(ty)), |(n, _)| n)
}

/// Decodes a value of the named type.
fn decode_value(
    ty: &str,
    encoding: Encoding,
    bytes: &[u8],
    debug: Option<&DebugInfo>,
) -> String {
    if ty == "()" {
        return "()".into();
    }
    if ty == "bool" {
        return (bytes.first().copied().unwrap_or(0) != 0).to_string();
    }
    if let Some((width, signed)) = int(ty) {
        let Some(raw) = crate::decode::read_uint(bytes, width as u64) else {
            return format!(
                "<{} bytes: {}>",
                bytes.len(),
                crate::target::hex(bytes)
            );
        };
        if signed {
            let shift = 64 - 8 * width as u32;
            return (((raw << shift) as i64) >> shift).to_string();
        }
        return raw.to_string();
    }
    let found = debug.and_then(|d| {
        let id = d.types_named(short(ty)).into_iter().next()?;
        Some((d, id))
    });
    match found {
        Some((d, id)) => match encoding {
            Encoding::Hubpack | Encoding::Ssmarshal => {
                let mut pos = 0;
                hubpack(d, id, bytes, &mut pos, 0).to_string()
            }
            Encoding::Zerocopy => d.decode(id, bytes).to_string(),
        },
        None => format!("<{ty}: {}>", crate::target::hex(bytes)),
    }
}

/// Decodes hubpack's encoding of type `id` at `*pos`: fields in
/// declaration order, integers little-endian at full width, `bool` one
/// byte, an enum a one-byte variant index then its fields.
fn hubpack(
    d: &DebugInfo,
    id: TypeId,
    bytes: &[u8],
    pos: &mut usize,
    depth: usize,
) -> Value {
    if depth > 32 {
        return Value::Unreadable;
    }
    let take = |pos: &mut usize, n: usize| -> Option<u64> {
        let v = crate::decode::read_uint(bytes.get(*pos..)?, n as u64)?;
        *pos += n;
        Some(v)
    };
    match &*d.ty(id) {
        Type::Base { size: 0, name, .. } => Value::Opaque {
            ty: name.clone(),
            size: 0,
        },
        Type::Base { size, .. } => {
            let n = *size as usize;
            let Some(start) = bytes.get(*pos..).map(|_| *pos) else {
                return Value::Unreadable;
            };
            if take(pos, n).is_none() {
                return Value::Unreadable;
            }
            d.decode(id, &bytes[start..start + n])
        }
        Type::Enum {
            name, enumerators, ..
        } => match take(pos, 1) {
            Some(i) => Value::CLike {
                ty: name.clone(),
                name: enumerators.get(i as usize).map(|(n, _)| n.clone()),
                value: i,
            },
            None => Value::Unreadable,
        },
        Type::Array { element, count } => Value::Array(
            (0..*count)
                .map(|_| hubpack(d, *element, bytes, pos, depth + 1))
                .collect(),
        ),
        Type::Struct(s) => match &s.variants {
            None => Value::Struct {
                ty: s.name.clone(),
                fields: s
                    .members
                    .iter()
                    .map(|m| {
                        (
                            m.name.clone(),
                            hubpack(d, m.ty, bytes, pos, depth + 1),
                        )
                    })
                    .collect(),
            },
            Some(part) => {
                let Some(i) = take(pos, 1) else {
                    return Value::Unreadable;
                };
                let Some(v) = part.variants.get(i as usize) else {
                    return Value::Unreadable;
                };
                let fields = match &*d.ty(v.member.ty) {
                    Type::Struct(inner) => inner
                        .members
                        .iter()
                        .map(|m| {
                            (
                                m.name.clone(),
                                hubpack(d, m.ty, bytes, pos, depth + 1),
                            )
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                Value::Variant {
                    ty: s.name.clone(),
                    variant: v.member.name.clone(),
                    fields,
                }
            }
        },
        Type::Pointer { .. } | Type::Opaque { .. } => Value::Unreadable,
    }
}
