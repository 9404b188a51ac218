//! A task's statics and their types, from the ELF's DWARF.
//!
//! We index every static that has a fixed address (a `DW_TAG_variable`
//! whose location is `DW_OP_addr`), with its Rust path, and resolve types
//! lazily into a small model ([`Type`]) that [`DebugInfo::decode`] (in
//! [`crate::decode`]) turns into a [`crate::value::Value`]. Rust enums with data are structures holding a
//! `DW_TAG_variant_part`: a discriminant member plus one
//! `DW_TAG_variant` per variant (with `DW_AT_discr_value`, or none for the
//! variant that owns the niche), each wrapping a structure named after
//! the variant. That is how `Locked(TaskId(3/gen2))` comes back by name.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use anyhow::{Result, anyhow};
use gimli::{AttributeValue, EndianRcSlice, Reader, RunTimeEndian};
use object::{Object, ObjectSection};

use crate::elf::Elf;

type R = EndianRcSlice<RunTimeEndian>;
type Unit = gimli::Unit<R>;
type Die = gimli::DebuggingInformationEntry<R>;

/// How deep nested types may go before we stop decoding (a guard against
/// malformed DWARF, not a limit real types reach).
const MAX_DEPTH: usize = 48;

/// A type, by its offset in `.debug_info`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TypeId(usize);

/// A static with a fixed address.
#[derive(Clone, Debug)]
pub struct Variable {
    /// Its Rust path, e.g. `task_hiffy::__RINGBUF`.
    pub path: String,
    /// Its own name, e.g. `__RINGBUF`.
    pub name: String,
    pub address: u64,
    pub ty: TypeId,
}

/// What a type is, as far as decoding needs.
#[derive(Clone, Debug)]
pub enum Type {
    Base {
        name: String,
        size: u64,
        kind: BaseKind,
    },
    Struct(Struct),
    /// A fieldless enum (`DW_TAG_enumeration_type`).
    Enum {
        name: String,
        size: u64,
        enumerators: Vec<(String, u64)>,
    },
    Array {
        element: TypeId,
        count: u64,
    },
    Pointer {
        name: String,
        size: u64,
        /// What it points to (`None` for `*const ()` and the like).
        target: Option<TypeId>,
    },
    /// Something we do not decode (a function type, say).
    Opaque {
        name: String,
        size: u64,
    },
}

/// The encodings of base types we tell apart.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BaseKind {
    Unsigned,
    Signed,
    Bool,
    Float,
    Char,
}

/// A structure, union or Rust enum.
#[derive(Clone, Debug)]
pub struct Struct {
    pub name: String,
    pub size: u64,
    pub members: Vec<Member>,
    /// For a Rust enum: its variants.
    pub variants: Option<VariantPart>,
}

/// A member at a byte offset.
#[derive(Clone, Debug)]
pub struct Member {
    pub name: String,
    pub offset: u64,
    pub ty: TypeId,
}

/// A Rust enum's variants and where its discriminant is.
#[derive(Clone, Debug)]
pub struct VariantPart {
    /// `(offset, type)` of the discriminant; `None` for a single-variant
    /// enum.
    pub discriminant: Option<(u64, TypeId)>,
    pub variants: Vec<Variant>,
}

/// One variant: the discriminant value that selects it (`None`: every
/// value no other variant claims), and the member holding its fields.
#[derive(Clone, Debug)]
pub struct Variant {
    pub value: Option<u64>,
    pub member: Member,
}

/// A task's debug info.
pub struct DebugInfo {
    dwarf: gimli::Dwarf<R>,
    /// Units in `.debug_info` order, with their start offsets.
    units: Vec<(usize, Unit)>,
    /// Statics with fixed addresses, in `.debug_info` order.
    pub variables: Vec<Variable>,
    types: RefCell<HashMap<TypeId, Rc<Type>>>,
    type_names: RefCell<Option<HashMap<String, Vec<TypeId>>>>,
}

impl DebugInfo {
    /// Reads the DWARF of `elf` and indexes its statics.
    ///
    /// # Errors
    ///
    /// If the DWARF cannot be parsed.
    pub fn load(elf: &Elf) -> Result<Self> {
        let file = elf.file()?;
        let endian = if file.is_little_endian() {
            RunTimeEndian::Little
        } else {
            RunTimeEndian::Big
        };
        let dwarf = gimli::Dwarf::load(|id| -> Result<R, gimli::Error> {
            let data = file
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .map(|d| d.into_owned())
                .unwrap_or_default();
            Ok(EndianRcSlice::new(
                Rc::from(data.into_boxed_slice()),
                endian,
            ))
        })
        .map_err(|e| anyhow!("bad DWARF: {e}"))?;
        Self::from_dwarf(dwarf)
    }

    fn from_dwarf(dwarf: gimli::Dwarf<R>) -> Result<Self> {
        let bad = |e: gimli::Error| anyhow!("bad DWARF: {e}");
        let mut units = Vec::new();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next().map_err(bad)? {
            let start = header.offset().0;
            let unit = dwarf.unit(header).map_err(bad)?;
            units.push((start, unit));
        }
        let mut info = Self {
            dwarf,
            units,
            variables: Vec::new(),
            types: RefCell::default(),
            type_names: RefCell::default(),
        };
        let mut variables = Vec::new();
        for (_, unit) in &info.units {
            info.index_unit(unit, &mut variables).map_err(bad)?;
        }
        variables.sort_by_key(|v: &Variable| v.address);
        variables.dedup_by(|a, b| a.address == b.address && a.path == b.path);
        info.variables = variables;
        Ok(info)
    }

    /// Adds the unit's statics to `out`, with their paths.
    fn index_unit(
        &self,
        unit: &Unit,
        out: &mut Vec<Variable>,
    ) -> gimli::Result<()> {
        let mut scopes: Vec<(isize, String)> = Vec::new();
        let mut cursor = unit.entries();
        while let Some(entry) = cursor.next_dfs()? {
            let depth = entry.depth();
            while scopes.last().is_some_and(|(d, _)| *d >= depth) {
                scopes.pop();
            }
            let tag = entry.tag();
            if matches!(
                tag,
                gimli::DW_TAG_namespace
                    | gimli::DW_TAG_subprogram
                    | gimli::DW_TAG_structure_type
                    | gimli::DW_TAG_union_type
                    | gimli::DW_TAG_enumeration_type
            ) {
                let name = self.name(unit, entry).unwrap_or_default();
                scopes.push((depth, name));
                continue;
            }
            if tag != gimli::DW_TAG_variable {
                continue;
            }
            let (Some(name), Some(address), Some(ty)) = (
                self.name(unit, entry),
                self.address(unit, entry),
                type_ref(unit, entry),
            ) else {
                continue;
            };
            let mut path: Vec<&str> = scopes
                .iter()
                .map(|(_, s)| s.as_str())
                .filter(|s| !s.is_empty())
                .collect();
            path.push(&name);
            out.push(Variable {
                path: path.join("::"),
                name: name.clone(),
                address,
                ty,
            });
        }
        Ok(())
    }

    fn name(&self, unit: &Unit, entry: &Die) -> Option<String> {
        let value = entry.attr_value(gimli::DW_AT_name)?;
        let s = self.dwarf.attr_string(unit, value).ok()?;
        Some(s.to_string_lossy().ok()?.into_owned())
    }

    /// A static's fixed address: its location is `DW_OP_addr` (or
    /// `DW_OP_addrx`) alone.
    fn address(&self, unit: &Unit, entry: &Die) -> Option<u64> {
        let AttributeValue::Exprloc(expr) =
            entry.attr_value(gimli::DW_AT_location)?
        else {
            return None;
        };
        let mut ops = expr.operations(unit.encoding());
        let op = ops.next().ok()??;
        if ops.next().ok()?.is_some() {
            return None;
        }
        match op {
            gimli::Operation::Address { address } => Some(address),
            gimli::Operation::AddressIndex { index } => {
                self.dwarf.address(unit, index).ok()
            }
            _ => None,
        }
    }

    /// The unit holding `.debug_info` offset `offset`.
    fn unit_of(&self, offset: usize) -> Option<&Unit> {
        let i = self.units.partition_point(|(start, _)| *start <= offset);
        self.units.get(i.checked_sub(1)?).map(|(_, u)| u)
    }

    /// The statics whose path is `query` or ends in `::query`.
    pub fn lookup(&self, query: &str) -> Vec<&Variable> {
        let suffix = format!("::{query}");
        self.variables
            .iter()
            .filter(|v| v.path == query || v.path.ends_with(&suffix))
            .collect()
    }

    /// The named types called `name` (unqualified), definitions first.
    pub fn types_named(&self, name: &str) -> Vec<TypeId> {
        if self.type_names.borrow().is_none() {
            let map = self.index_type_names();
            *self.type_names.borrow_mut() = Some(map);
        }
        self.type_names
            .borrow()
            .as_ref()
            .and_then(|m| m.get(name).cloned())
            .unwrap_or_default()
    }

    fn index_type_names(&self) -> HashMap<String, Vec<TypeId>> {
        let mut map: HashMap<String, Vec<TypeId>> = HashMap::new();
        for (start, unit) in &self.units {
            let mut cursor = unit.entries();
            while let Ok(Some(entry)) = cursor.next_dfs() {
                if !matches!(
                    entry.tag(),
                    gimli::DW_TAG_structure_type
                        | gimli::DW_TAG_enumeration_type
                        | gimli::DW_TAG_union_type
                        | gimli::DW_TAG_base_type
                        | gimli::DW_TAG_typedef
                ) || entry.attr_value(gimli::DW_AT_declaration).is_some()
                {
                    continue;
                }
                let Some(name) = self.name(unit, entry) else {
                    continue;
                };
                let id = TypeId(*start + entry_offset(unit, entry));
                map.entry(name).or_default().push(id);
            }
        }
        map
    }

    /// The type `id`, resolved (typedefs and qualifiers followed).
    pub fn ty(&self, id: TypeId) -> Rc<Type> {
        if let Some(t) = self.types.borrow().get(&id) {
            return t.clone();
        }
        let t = self.resolve(id, 0).unwrap_or_else(|| {
            Rc::new(Type::Opaque {
                name: "?".into(),
                size: 0,
            })
        });
        self.types.borrow_mut().insert(id, t.clone());
        t
    }

    fn resolve(&self, id: TypeId, depth: usize) -> Option<Rc<Type>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let unit = self.unit_of(id.0)?;
        let offset =
            gimli::DebugInfoOffset(id.0).to_unit_offset(&unit.header)?;
        let mut tree = unit.entries_tree(Some(offset)).ok()?;
        let root = tree.root().ok()?;
        let entry = root.entry().clone();
        let name = self.name(unit, &entry).unwrap_or_default();
        let size = udata(&entry, gimli::DW_AT_byte_size);
        let t = match entry.tag() {
            gimli::DW_TAG_typedef
            | gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_atomic_type
            | gimli::DW_TAG_restrict_type => {
                let target = type_ref(unit, &entry)?;
                return Some(self.ty(target));
            }
            gimli::DW_TAG_base_type => Type::Base {
                name,
                size: size.unwrap_or(0),
                kind: base_kind(&entry),
            },
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type => Type::Pointer {
                name,
                // Rust leaves the size out: it is the target's address
                // size (4 on the Cortex-M board).
                size: size
                    .unwrap_or_else(|| u64::from(unit.header.address_size())),
                target: type_ref(unit, &entry),
            },
            gimli::DW_TAG_enumeration_type => {
                let mut enumerators = Vec::new();
                let mut children = root.children();
                while let Ok(Some(child)) = children.next() {
                    let e = child.entry();
                    if e.tag() != gimli::DW_TAG_enumerator {
                        continue;
                    }
                    let value = e
                        .attr(gimli::DW_AT_const_value)
                        .and_then(|a| {
                            a.udata_value()
                                .or(a.sdata_value().map(|v| v as u64))
                        })
                        .unwrap_or(0);
                    let n = self.name(unit, e).unwrap_or_default();
                    enumerators.push((n, value));
                }
                Type::Enum {
                    name,
                    size: size.unwrap_or(0),
                    enumerators,
                }
            }
            gimli::DW_TAG_array_type => {
                let element = type_ref(unit, &entry)?;
                let mut count: u64 = 1;
                let mut children = root.children();
                while let Ok(Some(child)) = children.next() {
                    let e = child.entry();
                    if e.tag() != gimli::DW_TAG_subrange_type {
                        continue;
                    }
                    let n = udata(e, gimli::DW_AT_count)
                        .or_else(|| {
                            udata(e, gimli::DW_AT_upper_bound).map(|u| u + 1)
                        })
                        .unwrap_or(0);
                    count = count.saturating_mul(n);
                }
                Type::Array { element, count }
            }
            gimli::DW_TAG_structure_type
            | gimli::DW_TAG_union_type
            | gimli::DW_TAG_class_type => {
                let mut s = Struct {
                    name,
                    size: size.unwrap_or(0),
                    members: Vec::new(),
                    variants: None,
                };
                let mut children = root.children();
                while let Ok(Some(child)) = children.next() {
                    let e = child.entry().clone();
                    match e.tag() {
                        gimli::DW_TAG_member => {
                            if let Some(m) = self.member(unit, &e) {
                                s.members.push(m);
                            }
                        }
                        gimli::DW_TAG_variant_part => {
                            s.variants = self.variant_part(unit, &e, child);
                        }
                        _ => {}
                    }
                }
                Type::Struct(s)
            }
            _ => Type::Opaque {
                name,
                size: size.unwrap_or(0),
            },
        };
        Some(Rc::new(t))
    }

    fn member(&self, unit: &Unit, e: &Die) -> Option<Member> {
        if e.attr_value(gimli::DW_AT_external).is_some() {
            return None; // a static member, not stored in the value
        }
        Some(Member {
            name: self.name(unit, e).unwrap_or_default(),
            offset: udata(e, gimli::DW_AT_data_member_location).unwrap_or(0),
            ty: type_ref(unit, e)?,
        })
    }

    fn variant_part(
        &self,
        unit: &Unit,
        part: &Die,
        node: gimli::EntriesTreeNode<'_, '_, R>,
    ) -> Option<VariantPart> {
        let discr_at = match part.attr_value(gimli::DW_AT_discr) {
            Some(AttributeValue::UnitRef(o)) => Some(o),
            _ => None,
        };
        let mut discriminant = None;
        let mut variants = Vec::new();
        let mut children = node.children();
        while let Ok(Some(child)) = children.next() {
            let e = child.entry().clone();
            match e.tag() {
                gimli::DW_TAG_member if Some(e.offset()) == discr_at => {
                    let m = self.member(unit, &e)?;
                    discriminant = Some((m.offset, m.ty));
                }
                gimli::DW_TAG_variant => {
                    let value =
                        e.attr(gimli::DW_AT_discr_value).and_then(|a| {
                            a.udata_value()
                                .or(a.sdata_value().map(|v| v as u64))
                        });
                    let mut inner = child.children();
                    while let Ok(Some(m)) = inner.next() {
                        let me = m.entry().clone();
                        if me.tag() == gimli::DW_TAG_member
                            && let Some(member) = self.member(unit, &me)
                        {
                            variants.push(Variant { value, member });
                        }
                    }
                }
                _ => {}
            }
        }
        Some(VariantPart {
            discriminant,
            variants,
        })
    }

    /// The size of `id` in bytes.
    pub fn size_of(&self, id: TypeId) -> u64 {
        self.size_at(id, 0)
    }

    fn size_at(&self, id: TypeId, depth: usize) -> u64 {
        if depth > MAX_DEPTH {
            return 0;
        }
        match &*self.ty(id) {
            Type::Base { size, .. }
            | Type::Enum { size, .. }
            | Type::Pointer { size, .. }
            | Type::Opaque { size, .. } => *size,
            Type::Struct(s) => s.size,
            Type::Array { element, count } => {
                self.size_at(*element, depth + 1).saturating_mul(*count)
            }
        }
    }

    /// The type's name, as DWARF gives it.
    pub fn type_name(&self, id: TypeId) -> String {
        match &*self.ty(id) {
            Type::Base { name, .. }
            | Type::Enum { name, .. }
            | Type::Pointer { name, .. }
            | Type::Opaque { name, .. } => name.clone(),
            Type::Struct(s) => s.name.clone(),
            Type::Array { element, count } => {
                format!("[{}; {count}]", self.type_name(*element))
            }
        }
    }
}

/// The `.debug_info` offset of a type reference (unit-relative or not).
fn type_ref(unit: &Unit, entry: &Die) -> Option<TypeId> {
    match entry.attr_value(gimli::DW_AT_type)? {
        AttributeValue::UnitRef(o) => {
            o.to_debug_info_offset(&unit.header).map(|o| TypeId(o.0))
        }
        AttributeValue::DebugInfoRef(o) => Some(TypeId(o.0)),
        _ => None,
    }
}

fn entry_offset(_unit: &Unit, entry: &Die) -> usize {
    entry.offset().0
}

fn udata(entry: &Die, at: gimli::DwAt) -> Option<u64> {
    entry.attr(at).and_then(|a| a.udata_value())
}

fn base_kind(entry: &Die) -> BaseKind {
    match entry.attr_value(gimli::DW_AT_encoding) {
        Some(AttributeValue::Encoding(e)) => match e {
            gimli::DW_ATE_signed | gimli::DW_ATE_signed_char => {
                BaseKind::Signed
            }
            gimli::DW_ATE_boolean => BaseKind::Bool,
            gimli::DW_ATE_float => BaseKind::Float,
            gimli::DW_ATE_UTF => BaseKind::Char,
            _ => BaseKind::Unsigned,
        },
        _ => BaseKind::Unsigned,
    }
}
