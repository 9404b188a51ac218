//! Validation: from what the file says ([`crate::syntax`]) to what the
//! generators may rely on.
//!
//! Every rule an interface must follow is checked here, once, so the
//! generators never meet a case they would have to reject (and never need
//! to `unwrap`). The rules are Hubris's, plus the ones that let Leasehold
//! promise that no generated client panics when its server dies:
//!
//! - an idempotent op is retried on server death, so it must not have a
//!   `ServerDeath` error (nothing would ever produce it) nor a read-write
//!   lease (the retry could hand a new server instance memory the dead one
//!   had half-updated, propagating whatever killed it);
//! - a non-idempotent op must be able to *report* server death. For
//!   `CLike`/`Complex` errors the generated client requires
//!   `E: idol_runtime::ServerDeathError`, which rustc checks. A `Simple`
//!   reply cannot carry it, so (as Hubris's own files have such ops, and
//!   every Hubris file should compile) we accept it with a warning naming
//!   the two remedies, and its client returns the reply wrapped in
//!   `Result<T, idol_runtime::ServerDeath>`: the server's death is a value
//!   the caller sees, never a panic.

use crate::error::{IdolError, IdolWarning};
use crate::syntax::{self, Encoding, ErrorStrategy, RecvStrategy};
use proc_macro2::Span;
use std::num::NonZeroU32;
use syn::Ident;

/// A validated interface.
#[derive(Clone, Debug)]
pub struct Interface {
    /// The interface's name, e.g. `Fpga`.
    pub name: Ident,
    /// Its operations, numbered from 1 in file order.
    pub ops: Vec<Operation>,
    /// The `.idol` file's text, embedded in server binaries.
    pub source_text: String,
    /// The file's name, for generated headers.
    pub file_name: String,
    /// What is legal but deserves a look, in op order.
    pub warnings: Vec<IdolWarning>,
}

/// A validated operation.
#[derive(Clone, Debug)]
pub struct Operation {
    /// Its name, e.g. `device_enabled`.
    pub name: Ident,
    /// Its wire number (file order, from 1).
    pub number: u16,
    /// `doc` and `description` joined, if any.
    pub doc: Option<String>,
    /// Message arguments, in packing order.
    pub args: Vec<Arg>,
    /// Leases, in index order.
    pub leases: Vec<Lease>,
    /// What the reply carries.
    pub reply: Reply,
    /// How args and reply are encoded.
    pub encoding: Encoding,
    /// Whether the client retries on server death.
    pub idempotent: bool,
}

impl Operation {
    /// A non-idempotent op with a `Simple` reply: its client wraps the
    /// reply in `Result<T, idol_runtime::ServerDeath>`.
    pub fn simple_reply_reports_death(&self) -> bool {
        !self.idempotent && self.reply.err.is_none()
    }
}

/// A validated message argument.
#[derive(Clone, Debug)]
pub struct Arg {
    /// The parameter name.
    pub name: Ident,
    /// The type and its conversions.
    pub ty: WireTy,
}

/// A type as the API sees it, plus how it travels.
#[derive(Clone, Debug)]
pub struct WireTy {
    /// The type in method signatures.
    pub api: syn::Type,
    /// How it becomes a wire value and back.
    pub conversion: Conversion,
}

/// How an API value is turned into its wire form and back.
#[derive(Clone, Debug)]
pub enum Conversion {
    /// Sent as is.
    Identity,
    /// A `bool` in a Zerocopy message: sent as a `u8`, non-zero is true.
    BoolAsU8,
    /// A fieldless enum sent with `as P`, received with `TryFrom<P>`.
    Primitive(syn::Type),
    /// Sent as `P::from(v)`; received with `From<P>` or the named function.
    From(syn::Type, Option<syn::Path>),
}

impl WireTy {
    /// The type that actually travels in the message.
    pub fn wire(&self) -> syn::Type {
        match &self.conversion {
            Conversion::Identity => self.api.clone(),
            Conversion::BoolAsU8 => syn::parse_quote!(u8),
            Conversion::Primitive(p) | Conversion::From(p, _) => p.clone(),
        }
    }
}

/// A validated lease.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The parameter name.
    pub name: Ident,
    /// The type as written: `[u8]` or a sized type.
    pub ty: syn::Type,
    /// For a slice, its element type.
    pub element: Option<syn::Type>,
    /// The server may read it.
    pub read: bool,
    /// The server may write it.
    pub write: bool,
    /// For a slice, the most elements the server accepts.
    pub max_len: Option<NonZeroU32>,
}

/// A validated reply.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The success value.
    pub ok: WireTy,
    /// `None` for a `Simple` reply.
    pub err: Option<ErrorKind>,
}

/// How a failure travels, with the error type parsed.
#[derive(Clone, Debug)]
pub enum ErrorKind {
    /// In the response code.
    CLike(syn::Type),
    /// Serialized in the reply body.
    Complex(syn::Type),
    /// Only server death; the client gets `idol_runtime::ServerDeath`.
    ServerDeath,
}

/// Checks a parsed interface. `file` names it in errors.
pub fn check(
    iface: &syntax::Interface,
    file: &str,
    source_text: &str,
) -> Result<Interface, IdolError> {
    let interface_error = |problem: String| IdolError::Interface {
        file: file.to_string(),
        interface: iface.name.clone(),
        problem,
    };
    let name = parse_ident(&iface.name).map_err(|_| {
        interface_error(format!(
            "`{}` is not a Rust identifier; generated type names are \
             built from it",
            iface.name
        ))
    })?;
    if iface.ops.0.is_empty() {
        return Err(interface_error(
            "has no ops; an interface needs at least one".to_string(),
        ));
    }
    if iface.ops.0.len() > usize::from(u16::MAX) {
        return Err(interface_error(format!(
            "has {} ops; op numbers are 16 bits",
            iface.ops.0.len()
        )));
    }
    let mut ops = Vec::with_capacity(iface.ops.0.len());
    for (index, (op_name, op)) in iface.ops.0.iter().enumerate() {
        let op_error = |problem: String| IdolError::Op {
            file: file.to_string(),
            interface: iface.name.clone(),
            op: op_name.clone(),
            problem,
        };
        // The count was checked against u16::MAX above.
        let number = u16::try_from(index + 1).map_err(|_| {
            op_error("too many ops for a 16-bit op number".to_string())
        })?;
        ops.push(check_op(op_name, op, number).map_err(op_error)?);
    }
    check_with_leases_names(&ops).map_err(|(op, problem)| IdolError::Op {
        file: file.to_string(),
        interface: iface.name.clone(),
        op,
        problem,
    })?;
    let warnings = ops
        .iter()
        .filter(|op| op.simple_reply_reports_death())
        .map(|op| IdolWarning {
            file: file.to_string(),
            interface: iface.name.clone(),
            op: op.name.to_string(),
            message: simple_reply_warning(op),
        })
        .collect();
    Ok(Interface {
        name,
        ops,
        source_text: source_text.to_string(),
        file_name: file.to_string(),
        warnings,
    })
}

/// Methods the generated client or server trait defines besides the ops.
const RESERVED_OP_NAMES: [&str; 3] =
    ["task_id", "recv_source", "closed_recv_fail"];

/// Every op with leases also gets a client method `<op>_with_leases`
/// (see [`crate::client`]); no other op may take that name.
fn check_with_leases_names(ops: &[Operation]) -> Result<(), (String, String)> {
    use crate::client::WITH_LEASES_SUFFIX;
    for op in ops {
        let name = op.name.to_string();
        let Some(base) = name.strip_suffix(WITH_LEASES_SUFFIX) else {
            continue;
        };
        if ops.iter().any(|o| o.name == base && !o.leases.is_empty()) {
            return Err((
                name.clone(),
                format!(
                    "is reserved: op `{base}` has leases, so its client \
                     already has a method `{base}{WITH_LEASES_SUFFIX}`"
                ),
            ));
        }
    }
    Ok(())
}

/// The first parameter of every server trait method.
const RESERVED_PARAMETER: &str = "msg";

/// Checks one op; the error is the problem alone, the caller adds where.
fn check_op(
    name: &str,
    op: &syntax::Operation,
    number: u16,
) -> Result<Operation, String> {
    let ident = parse_ident(name).map_err(|_| {
        format!("`{name}` is not a Rust identifier; it names a method")
    })?;
    if RESERVED_OP_NAMES.contains(&name) {
        return Err(format!(
            "`{name}` is reserved: the generated client or server trait \
             already has a method of that name"
        ));
    }

    let mut args = Vec::new();
    for (arg_name, arg) in &op.args.0 {
        let ident = parse_ident(arg_name).map_err(|_| {
            format!("arg `{arg_name}` is not a Rust identifier")
        })?;
        if arg_name == RESERVED_PARAMETER {
            return Err(format!(
                "arg `{arg_name}` is reserved for the server's \
                 `&RecvMessage` parameter"
            ));
        }
        if arg_name == crate::client::LEASE_TABLE_PARAMETER
            && !op.leases.0.is_empty()
        {
            return Err(format!(
                "arg `{arg_name}` is reserved in an op with leases: the \
                 client's `<op>_with_leases` method takes the lease table \
                 under that name"
            ));
        }
        let ty = check_attributed(arg, op.encoding)
            .map_err(|e| format!("arg `{arg_name}`: {e}"))?;
        args.push(Arg { name: ident, ty });
    }

    let mut leases = Vec::new();
    for (lease_name, lease) in &op.leases.0 {
        if op.args.0.contains_key(lease_name) {
            return Err(format!(
                "`{lease_name}` is both an arg and a lease; both become \
                 parameters, so their names must differ"
            ));
        }
        if lease_name == RESERVED_PARAMETER {
            return Err(format!(
                "lease `{lease_name}` is reserved for the server's \
                 `&RecvMessage` parameter"
            ));
        }
        let lease = check_lease(lease_name, lease)
            .map_err(|e| format!("lease `{lease_name}`: {e}"))?;
        leases.push(lease);
    }
    if leases.len() > abi::MAX_LEASES {
        return Err(format!(
            "has {} leases; a SEND carries at most {}",
            leases.len(),
            abi::MAX_LEASES
        ));
    }

    let reply = check_reply(&op.reply, op.encoding)?;
    check_server_death(op, &reply, &leases)?;

    let doc = [op.doc.trim(), op.description.trim()]
        .into_iter()
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let doc = (!doc.is_empty()).then_some(doc);

    Ok(Operation {
        name: ident,
        number,
        doc,
        args,
        leases,
        reply,
        encoding: op.encoding,
        idempotent: op.idempotent,
    })
}

/// The rules that make server death recoverable without a panic.
fn check_server_death(
    op: &syntax::Operation,
    reply: &Reply,
    leases: &[Lease],
) -> Result<(), String> {
    if op.idempotent {
        if matches!(reply.err, Some(ErrorKind::ServerDeath)) {
            return Err("is idempotent, so the client retries on server \
                        death and a `ServerDeath` error could never be \
                        returned; use `Simple` or drop `idempotent`"
                .to_string());
        }
        if let Some(lease) = leases.iter().find(|l| l.read && l.write) {
            return Err(format!(
                "is idempotent but lease `{}` is read-write: a retry \
                 would hand the restarted server memory its predecessor \
                 may have half-updated; drop `idempotent` or split the \
                 lease",
                lease.name
            ));
        }
    }
    Ok(())
}

/// The warning for a non-idempotent op with a `Simple` reply.
fn simple_reply_warning(op: &Operation) -> String {
    let ok = &op.reply.ok.api;
    let ok = quote::quote!(#ok).to_string().replace(' ', "");
    format!(
        "is not idempotent and its `Simple` reply cannot say that the server \
         died during the call, so its client returns \
         `Result<{ok}, idol_runtime::ServerDeath>` instead of `{ok}`; mark it \
         `idempotent: true` if repeating it is harmless (the client then \
         retries), or make the death part of the interface with `reply: \
         Result(ok: \"{ok}\", err: ServerDeath)`"
    )
}

fn check_lease(name: &str, lease: &syntax::Lease) -> Result<Lease, String> {
    let ident = parse_ident(name)
        .map_err(|_| "its name is not a Rust identifier".to_string())?;
    let ty = parse_type(&lease.ty)?;
    if !lease.read && !lease.write {
        return Err("grants neither `read` nor `write`".to_string());
    }
    let element = match &ty {
        syn::Type::Slice(slice) => Some((*slice.elem).clone()),
        _ => None,
    };
    if element.is_none() && lease.max_len.is_some() {
        return Err(format!(
            "`max_len` applies only to slices, and `{}` is not one",
            lease.ty
        ));
    }
    Ok(Lease {
        name: ident,
        ty,
        element,
        read: lease.read,
        write: lease.write,
        max_len: lease.max_len,
    })
}

fn check_reply(
    reply: &syntax::Reply,
    encoding: Encoding,
) -> Result<Reply, String> {
    match reply {
        syntax::Reply::Simple(ok) => Ok(Reply {
            ok: check_attributed(ok, encoding)
                .map_err(|e| format!("reply: {e}"))?,
            err: None,
        }),
        syntax::Reply::Result { ok, err } => {
            let ok = check_attributed(ok, encoding)
                .map_err(|e| format!("reply `ok`: {e}"))?;
            let err = match err {
                ErrorStrategy::CLike(t) => ErrorKind::CLike(
                    parse_type(t).map_err(|e| format!("reply `err`: {e}"))?,
                ),
                ErrorStrategy::Complex(t) => {
                    if encoding != Encoding::Hubpack {
                        return Err(format!(
                            "`Complex` errors are serialized with hubpack; \
                             set `encoding: Hubpack` (it is {encoding:?})"
                        ));
                    }
                    ErrorKind::Complex(
                        parse_type(t)
                            .map_err(|e| format!("reply `err`: {e}"))?,
                    )
                }
                ErrorStrategy::ServerDeath => ErrorKind::ServerDeath,
            };
            Ok(Reply { ok, err: Some(err) })
        }
    }
}

fn check_attributed(
    attributed: &syntax::AttributedTy,
    encoding: Encoding,
) -> Result<WireTy, String> {
    let api = parse_type(&attributed.ty)?;
    let conversion = match &attributed.recv {
        RecvStrategy::FromBytes => {
            let is_bool = matches!(&api, syn::Type::Path(p)
                if p.qself.is_none() && p.path.is_ident("bool"));
            if is_bool && encoding == Encoding::Zerocopy {
                Conversion::BoolAsU8
            } else {
                Conversion::Identity
            }
        }
        RecvStrategy::FromPrimitive(p) => {
            const PRIMITIVES: [&str; 8] =
                ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"];
            if !PRIMITIVES.contains(&p.trim()) {
                return Err(format!(
                    "`FromPrimitive(\"{p}\")` needs an integer primitive \
                     (one of {})",
                    PRIMITIVES.join(", ")
                ));
            }
            Conversion::Primitive(parse_type(p)?)
        }
        RecvStrategy::From(p, function) => {
            let function = match function {
                Some(f) => Some(
                    syn::parse_str::<syn::Path>(f)
                        .map_err(|_| format!("`{f}` is not a function path"))?,
                ),
                None => None,
            };
            Conversion::From(parse_type(p)?, function)
        }
    };
    Ok(WireTy { api, conversion })
}

fn parse_ident(text: &str) -> Result<Ident, syn::Error> {
    let ident: Ident = syn::parse_str(text)?;
    // syn accepts raw identifiers (`r#type`); generated names are built by
    // prefixing and suffixing, which a raw identifier would break.
    if ident.to_string().starts_with("r#") {
        return Err(syn::Error::new(Span::call_site(), "raw identifier"));
    }
    Ok(ident)
}

fn parse_type(text: &str) -> Result<syn::Type, String> {
    syn::parse_str(text).map_err(|_| format!("`{text}` is not a Rust type"))
}
