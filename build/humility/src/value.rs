//! Decoded values and how we print them: like Rust's `Debug`, so that a
//! trace entry reads as it was written (`Locked(TaskId(3/gen2))`,
//! `LoadDone { device: 0, bytes: 32220 }`), with the wrappers a reader
//! does not care about (atomics, cells) printed as their contents.

use std::fmt;

/// A value decoded from memory with its DWARF type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Char(char),
    Pointer(u64),
    /// A fieldless enum; `name` is `None` for a value no variant has.
    CLike {
        ty: String,
        name: Option<String>,
        value: u64,
    },
    Struct {
        ty: String,
        fields: Vec<(String, Value)>,
    },
    /// A Rust enum variant and its fields.
    Variant {
        ty: String,
        variant: String,
        fields: Vec<(String, Value)>,
    },
    Array(Vec<Value>),
    Opaque {
        ty: String,
        size: u64,
    },
    /// The bytes were missing or made no sense for the type.
    Unreadable,
}

/// Arrays longer than this print their head and a count.
const ARRAY_PRINT_MAX: usize = 64;

impl Value {
    /// A struct's or variant's field.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Self::Struct { fields, .. } | Self::Variant { fields, .. } => {
                fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The value as a number, looking through single-field wrappers
    /// (`AtomicU32 { v: UnsafeCell { value: 3 } }` is 3).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Unsigned(v) | Self::Pointer(v) => Some(*v),
            Self::Signed(v) => u64::try_from(*v).ok(),
            Self::Bool(b) => Some(u64::from(*b)),
            Self::CLike { value, .. } => Some(*value),
            Self::Struct { fields, .. } if fields.len() == 1 => {
                fields[0].1.as_u64()
            }
            _ => None,
        }
    }

    /// The value with transparent wrappers (cells, atomics) removed.
    pub fn unwrapped(&self) -> &Value {
        match self {
            Self::Struct { ty, fields } if is_wrapper(ty) => {
                match fields.iter().find(|(n, _)| n != "borrowed") {
                    Some((_, inner)) => inner.unwrapped(),
                    None => self,
                }
            }
            _ => self,
        }
    }

    /// Every struct in the value (depth first, including itself).
    pub fn structs(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        self.collect_structs(&mut out);
        out
    }

    fn collect_structs<'a>(&'a self, out: &mut Vec<&'a Value>) {
        match self {
            Self::Struct { fields, .. } => {
                out.push(self);
                for (_, v) in fields {
                    v.collect_structs(out);
                }
            }
            Self::Variant { fields, .. } => {
                for (_, v) in fields {
                    v.collect_structs(out);
                }
            }
            Self::Array(items) => {
                for v in items {
                    v.collect_structs(out);
                }
            }
            _ => {}
        }
    }

    /// The value's leaves as `(path, number)`, for counters: a struct of
    /// atomics becomes one line per field, nested structs join their
    /// names with `.`.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        self.collect_counts(String::new(), &mut out);
        out
    }

    fn collect_counts(&self, prefix: String, out: &mut Vec<(String, u64)>) {
        let join = |name: &str| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            }
        };
        match self.unwrapped() {
            Value::Struct { fields, .. } => {
                for (name, v) in fields {
                    v.collect_counts(join(name), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    v.collect_counts(format!("{prefix}[{i}]"), out);
                }
            }
            leaf => {
                if let Some(n) = leaf.as_u64() {
                    out.push((prefix, n));
                }
            }
        }
    }
}

/// Types printed as their contents.
fn is_wrapper(ty: &str) -> bool {
    ty.starts_with("Atomic")
        || ty.starts_with("UnsafeCell<")
        || ty.starts_with("Cell<")
        || ty.starts_with("StaticCell<")
        || ty.starts_with("SyncUnsafeCell<")
}

/// Tuple structs and variants name their fields `__0`, `__1`, ...
fn is_tuple(fields: &[(String, Value)]) -> bool {
    !fields.is_empty() && fields.iter().all(|(n, _)| n.starts_with("__"))
}

/// `TaskId(3/gen2)`, as `abi::TaskId`'s `Debug` prints it.
fn task_id(raw: u64) -> String {
    let id = abi::TaskId(raw as u16);
    format!("{id:?}")
}

fn write_fields(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    fields: &[(String, Value)],
) -> fmt::Result {
    if fields.is_empty() {
        return write!(f, "{name}");
    }
    if is_tuple(fields) {
        write!(f, "{name}(")?;
        for (i, (_, v)) in fields.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v}")?;
        }
        return write!(f, ")");
    }
    write!(f, "{name} {{ ")?;
    for (i, (n, v)) in fields.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{n}: {v}")?;
    }
    write!(f, " }}")
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned(v) => write!(f, "{v}"),
            Self::Signed(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Char(c) => write!(f, "{c:?}"),
            Self::Pointer(p) => write!(f, "{p:#x}"),
            Self::CLike { name: Some(n), .. } => write!(f, "{n}"),
            Self::CLike {
                ty,
                name: None,
                value,
            } => write!(f, "{ty}({value:#x}?)"),
            Self::Struct { ty, fields } => {
                if ty == "TaskId"
                    && let Some(raw) = self.as_u64()
                {
                    return write!(f, "{}", task_id(raw));
                }
                if is_wrapper(ty) || ty == "Generation" {
                    let inner = self.unwrapped();
                    if !std::ptr::eq(inner, self) {
                        return write!(f, "{inner}");
                    }
                    if let Some(n) = self.as_u64() {
                        return write!(f, "{n}");
                    }
                }
                write_fields(f, short_name(ty), fields)
            }
            Self::Variant {
                variant, fields, ..
            } => write_fields(f, variant, fields),
            Self::Array(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().take(ARRAY_PRINT_MAX).enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                if items.len() > ARRAY_PRINT_MAX {
                    write!(f, ", ... ({} in all)", items.len())?;
                }
                write!(f, "]")
            }
            // The unit type, e.g. in `Result<(), E>`: Rust's spelling.
            Self::Opaque { ty, size: 0 } if ty == "()" => write!(f, "()"),
            Self::Opaque { ty, size } => write!(f, "<{ty}: {size} bytes>"),
            Self::Unreadable => write!(f, "<unreadable>"),
        }
    }
}

/// `Ringbuf<task_x::Trace, u16, 64>` stays as is; `core::option::Foo`
/// would lose its path. DWARF names are already unqualified except for
/// generic arguments, so this only trims a leading path if any.
fn short_name(ty: &str) -> &str {
    let head = ty.split('<').next().unwrap_or(ty);
    match head.rfind("::") {
        Some(i) => &ty[i + 2..],
        None => ty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(v: u64) -> Value {
        Value::Unsigned(v)
    }

    #[test]
    fn tuple_variants_print_like_debug() {
        let id = Value::Struct {
            ty: "TaskId".into(),
            fields: vec![("__0".into(), u(3 | 2 << 10))],
        };
        let v = Value::Variant {
            ty: "Trace".into(),
            variant: "Locked".into(),
            fields: vec![("__0".into(), id)],
        };
        assert_eq!(v.to_string(), "Locked(TaskId(3/gen2))");
    }

    #[test]
    fn struct_variants_print_their_field_names() {
        let v = Value::Variant {
            ty: "Trace".into(),
            variant: "LoadDone".into(),
            fields: vec![("device".into(), u(0)), ("bytes".into(), u(32220))],
        };
        assert_eq!(v.to_string(), "LoadDone { device: 0, bytes: 32220 }");
        let unit = Value::Variant {
            ty: "Trace".into(),
            variant: "None".into(),
            fields: vec![],
        };
        assert_eq!(unit.to_string(), "None");
    }

    #[test]
    fn atomics_print_as_numbers_and_count_as_leaves() {
        let atomic = |n| Value::Struct {
            ty: "AtomicU32".into(),
            fields: vec![(
                "v".into(),
                Value::Struct {
                    ty: "UnsafeCell<u32>".into(),
                    fields: vec![("value".into(), u(n))],
                },
            )],
        };
        assert_eq!(atomic(7).to_string(), "7");
        let counters = Value::Struct {
            ty: "EventCounters".into(),
            fields: vec![
                ("Started".into(), atomic(2)),
                (
                    "Err".into(),
                    Value::Struct {
                        ty: "ErrorCounters".into(),
                        fields: vec![("Timeout".into(), atomic(5))],
                    },
                ),
            ],
        };
        assert_eq!(
            counters.counts(),
            vec![("Started".into(), 2), ("Err.Timeout".into(), 5)]
        );
    }

    #[test]
    fn long_arrays_are_cut_short() {
        let v = Value::Array((0..100).map(u).collect());
        let s = v.to_string();
        assert!(s.ends_with(", ... (100 in all)]"), "{s}");
    }
}
