//! Turning a static's bytes into a [`Value`] with its DWARF type: the
//! other half of [`crate::dwarf`], which finds statics and their types.

use crate::dwarf::{
    BaseKind, DebugInfo, Member, Struct, Type, TypeId, VariantPart,
};
use crate::value::Value;

/// How deep nested values may go before we stop decoding (a guard against
/// malformed DWARF, not a limit real types reach).
const MAX_DEPTH: usize = 48;

impl DebugInfo {
    /// Decodes a value of type `id` from its memory image.
    pub fn decode(&self, id: TypeId, bytes: &[u8]) -> Value {
        self.decode_at(id, bytes, 0)
    }

    fn decode_at(&self, id: TypeId, bytes: &[u8], depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Unreadable;
        }
        let t = self.ty(id);
        match &*t {
            // `()` and other zero-sized types carry nothing to show.
            Type::Base { name, size: 0, .. } => Value::Opaque {
                ty: name.clone(),
                size: 0,
            },
            Type::Base { size, kind, .. } => {
                let Some(raw) = read_uint(bytes, *size) else {
                    return Value::Unreadable;
                };
                base_value(*kind, *size, raw)
            }
            Type::Pointer { size, .. } => read_uint(bytes, *size)
                .map_or(Value::Unreadable, Value::Pointer),
            Type::Enum {
                name,
                size,
                enumerators,
            } => {
                let Some(raw) = read_uint(bytes, *size) else {
                    return Value::Unreadable;
                };
                let found = enumerators
                    .iter()
                    .find(|(_, v)| mask(*v, *size) == raw)
                    .map(|(n, _)| n.clone());
                Value::CLike {
                    ty: name.clone(),
                    name: found,
                    value: raw,
                }
            }
            Type::Array { element, count } => {
                let step = self.size_of(*element);
                let mut items = Vec::new();
                for i in 0..*count {
                    let start = i.saturating_mul(step);
                    let Some(b) = slice(bytes, start, step) else {
                        items.push(Value::Unreadable);
                        break;
                    };
                    items.push(self.decode_at(*element, b, depth + 1));
                }
                Value::Array(items)
            }
            Type::Struct(s) => match &s.variants {
                Some(part) => self.decode_enum(s, part, bytes, depth),
                None => Value::Struct {
                    ty: s.name.clone(),
                    fields: self.fields(&s.members, bytes, depth),
                },
            },
            Type::Opaque { name, size } => Value::Opaque {
                ty: name.clone(),
                size: *size,
            },
        }
    }

    fn fields(
        &self,
        members: &[Member],
        bytes: &[u8],
        depth: usize,
    ) -> Vec<(String, Value)> {
        members
            .iter()
            .map(|m| {
                let size = self.size_of(m.ty);
                let v = slice(bytes, m.offset, size)
                    .map_or(Value::Unreadable, |b| {
                        self.decode_at(m.ty, b, depth + 1)
                    });
                (m.name.clone(), v)
            })
            .collect()
    }

    fn decode_enum(
        &self,
        s: &Struct,
        part: &VariantPart,
        bytes: &[u8],
        depth: usize,
    ) -> Value {
        let variant = match part.discriminant {
            None => part.variants.first(),
            Some((offset, ty)) => {
                let size = self.size_of(ty);
                let Some(raw) =
                    slice(bytes, offset, size).and_then(|b| read_uint(b, size))
                else {
                    return Value::Unreadable;
                };
                part.variants
                    .iter()
                    .find(|v| v.value.is_some_and(|x| mask(x, size) == raw))
                    .or_else(|| {
                        part.variants.iter().find(|v| v.value.is_none())
                    })
            }
        };
        let Some(variant) = variant else {
            return Value::Unreadable;
        };
        let fields = match &*self.ty(variant.member.ty) {
            // The variant's fields sit at offsets within the whole enum.
            Type::Struct(inner) => {
                let at = variant.member.offset;
                let rest =
                    bytes.get(usize::try_from(at).unwrap_or(usize::MAX)..);
                self.fields(&inner.members, rest.unwrap_or(&[]), depth)
            }
            _ => Vec::new(),
        };
        Value::Variant {
            ty: s.name.clone(),
            variant: variant.member.name.clone(),
            fields,
        }
    }
}

/// A little-endian unsigned integer of `size` (≤ 8) bytes; `None` if the
/// bytes are short or the size is not an integer size.
pub fn read_uint(bytes: &[u8], size: u64) -> Option<u64> {
    let n = usize::try_from(size).ok()?;
    if n > 8 || bytes.len() < n {
        return None;
    }
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&bytes[..n]);
    Some(u64::from_le_bytes(b))
}

fn base_value(kind: BaseKind, size: u64, raw: u64) -> Value {
    match kind {
        BaseKind::Unsigned => Value::Unsigned(raw),
        BaseKind::Signed => {
            let shift = 64 - 8 * size.clamp(1, 8);
            Value::Signed(((raw << shift) as i64) >> shift)
        }
        BaseKind::Bool => Value::Bool(raw != 0),
        BaseKind::Float if size == 4 => {
            Value::Float(f64::from(f32::from_bits(raw as u32)))
        }
        BaseKind::Float => Value::Float(f64::from_bits(raw)),
        BaseKind::Char => {
            char::from_u32(raw as u32).map_or(Value::Unsigned(raw), Value::Char)
        }
    }
}

fn mask(value: u64, size: u64) -> u64 {
    if size >= 8 {
        value
    } else {
        value & ((1u64 << (8 * size)) - 1)
    }
}

fn slice(bytes: &[u8], start: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}
