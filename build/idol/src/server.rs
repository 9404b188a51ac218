//! The server support generator.
//!
//! For an interface `Fpga` it emits, in Hubris's in-order style:
//!
//! - `FpgaOperation` and its `idol_runtime::ServerOp` impl, which tells
//!   `idol_runtime::dispatch` each op's reply size and leases so that it
//!   can fault a misbehaving client *before* any server code runs (the
//!   stub checks each lease's rights and length as it builds its
//!   `Leased`, with the one BORROW_INFO that takes);
//! - `INCOMING_SIZE`, the receive buffer every message fits in;
//! - the trait `InOrderFpgaImpl`, one method per op, that the server
//!   implements;
//! - the glue that decodes a message, calls the method and replies;
//! - per-op server counters, each op's outcomes by error variant
//!   (`__<IFACE>_OUTCOME_COUNTERS`, which `humility counters` prints), and
//!   the interface text in `.idolatry` so a debugger can call ops by name
//!   from the ELF alone.
//!
//! A *restricted* server ([`build_restricted_server_support`], Hubris's
//! `build_restricted_server_support`) accepts some ops only from the tasks
//! an [`AllowedCallers`] names, by task index (generation ignored: a
//! restarted caller is still that caller). Any other caller is faulted
//! with `AccessViolation` before its message is decoded or the server
//! method runs. Images say who may call in app.toml
//! (`allowed-callers`), which `build_util::build_server_support` reads.

use crate::check::{Conversion, ErrorKind, Interface, Lease, Operation};
use crate::common::{self, Side};
use crate::error::IdolError;
use crate::syntax::Encoding;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// How the generated server handles messages. Hubris's README also
/// describes a pipelined style; like Hubris, we only have in-order.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub enum ServerStyle {
    /// Each message is handled and replied to before the next RECV.
    #[default]
    InOrder,
}

/// Which tasks may call which ops of a restricted server; ops not named
/// are open to every caller.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct AllowedCallers {
    ops: Vec<(String, Vec<u16>)>,
}

impl AllowedCallers {
    /// No restrictions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restricts `op` to the tasks with these indices (none: nobody may
    /// call it). Restricting an op again replaces its list.
    pub fn restrict(
        &mut self,
        op: impl Into<String>,
        callers: impl IntoIterator<Item = u16>,
    ) {
        let op = op.into();
        let callers: Vec<u16> = callers.into_iter().collect();
        match self.ops.iter_mut().find(|(name, _)| *name == op) {
            Some(entry) => entry.1 = callers,
            None => self.ops.push((op, callers)),
        }
    }

    /// Whether `op` has a list.
    pub fn is_restricted(&self, op: &str) -> bool {
        self.callers(op).is_some()
    }

    /// The task indices allowed to call `op`, or `None` if it is open.
    pub fn callers(&self, op: &str) -> Option<&[u16]> {
        self.ops
            .iter()
            .find(|(name, _)| name == op)
            .map(|(_, callers)| callers.as_slice())
    }

    /// Fails on an op name the interface does not have, naming those it
    /// does.
    fn check(&self, iface: &Interface) -> Result<(), IdolError> {
        for (op, _) in &self.ops {
            if !iface.ops.iter().any(|o| o.name == op.as_str()) {
                let known: Vec<String> =
                    iface.ops.iter().map(|o| o.name.to_string()).collect();
                return Err(IdolError::Interface {
                    file: iface.file_name.clone(),
                    interface: iface.name.to_string(),
                    problem: format!(
                        "allowed callers name op `{op}`, which it does not \
                         have (it has {})",
                        known.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }
}

/// As [`build_server_support`], refusing callers `allowed` does not name.
///
/// # Errors
///
/// As [`build_server_support`], and if `allowed` names an op the
/// interface lacks.
pub fn build_restricted_server_support(
    path: impl AsRef<std::path::Path>,
    out_name: &str,
    style: ServerStyle,
    allowed: &AllowedCallers,
) -> Result<(), IdolError> {
    let path = path.as_ref();
    let iface = crate::load(path)?;
    crate::warn_cargo(&iface);
    let code = generate_restricted_server_support(&iface, style, allowed)?;
    crate::write_to_out_dir(out_name, &code)?;
    println!("cargo:rerun-if-changed={}", path.display());
    Ok(())
}

/// As [`generate_server_support`], refusing callers `allowed` does not
/// name.
///
/// # Errors
///
/// If `allowed` names an op the interface lacks.
pub fn generate_restricted_server_support(
    iface: &Interface,
    style: ServerStyle,
    allowed: &AllowedCallers,
) -> Result<String, IdolError> {
    allowed.check(iface)?;
    let ServerStyle::InOrder = style;
    let header = [
        format!("Server support for `{}`, generated by idol", iface.name),
        format!("from {}. Do not edit.", iface.file_name),
    ];
    common::render(&header, server_tokens(iface, allowed), &iface.file_name)
}

/// Generates server support for `path` into `$OUT_DIR/out_name`, for a
/// build script; prints `cargo:rerun-if-changed` for the `.idol` file.
///
/// # Errors
///
/// If the file cannot be read or breaks a rule, or `OUT_DIR` is unset.
pub fn build_server_support(
    path: impl AsRef<std::path::Path>,
    out_name: &str,
    style: ServerStyle,
) -> Result<(), IdolError> {
    let path = path.as_ref();
    let iface = crate::load(path)?;
    crate::warn_cargo(&iface);
    let code = generate_server_support(&iface, style)?;
    crate::write_to_out_dir(out_name, &code)?;
    println!("cargo:rerun-if-changed={}", path.display());
    Ok(())
}

/// Generates the server support as formatted Rust.
///
/// # Errors
///
/// Only on a bug in idol (generated tokens that do not parse).
pub fn generate_server_support(
    iface: &Interface,
    style: ServerStyle,
) -> Result<String, IdolError> {
    generate_restricted_server_support(iface, style, &AllowedCallers::new())
}

/// Every item of the server support.
pub(crate) fn server_tokens(
    iface: &Interface,
    allowed: &AllowedCallers,
) -> TokenStream {
    let op_enum = common::generate_op_enum(iface);
    let server_op = server_op_impl(iface);
    let reply_sizes = common::generate_reply_sizes(iface);
    let args_structs: TokenStream = iface
        .ops
        .iter()
        .filter(|op| !op.args.is_empty())
        .map(|op| common::generate_args_struct(iface, op, Side::Server))
        .collect();
    // Each op's message, and room after it for its lease descriptors.
    let sizes = iface.ops.iter().map(|op| {
        let message = if op.args.is_empty() {
            quote!(0)
        } else {
            common::args_size_expr(iface, op)
        };
        let leases = op.leases.len();
        quote!(idol_runtime::with_lease_descriptors(#message, #leases))
    });
    let reply_sizes_list = iface.ops.iter().map(common::reply_size);
    let in_order = in_order_trait(iface);
    let glue = dispatch_glue(iface, allowed);
    let counters = server_counters(iface);
    let outcome_counters = outcome_counters(iface);
    let definition = idol_definition(iface);
    quote! {
        #op_enum
        #server_op
        #reply_sizes
        #args_structs

        /// The size of the buffer to pass to `idol_runtime::dispatch` or
        /// `serve`: the largest message any op takes (with room for the
        /// kernel's descriptors of its leases) or reply it sends (the stub
        /// writes its reply where the message was).
        pub const INCOMING_SIZE: usize =
            idol_runtime::max_size(&[#(#sizes,)* #(#reply_sizes_list),*]);

        #in_order
        #glue
        #counters
        #outcome_counters
        #definition
    }
}

/// `CONTINUE_BITSTREAM_LOAD_LEASES`.
fn leases_const(op: &Operation) -> syn::Ident {
    format_ident!("{}_LEASES", op.name.to_string().to_uppercase())
}

/// The `ServerOp` impl and the lease tables it returns.
fn server_op_impl(iface: &Interface) -> TokenStream {
    let op_enum = common::op_enum(iface);
    let lease_consts =
        iface
            .ops
            .iter()
            .filter(|op| !op.leases.is_empty())
            .map(|op| {
                let name = leases_const(op);
                let specs = op.leases.iter().map(lease_spec);
                let doc = format!(" The leases `{}` requires.", op.name);
                quote! {
                    #[doc = #doc]
                    const #name: &[idol_runtime::LeaseSpec] = &[#(#specs),*];
                }
            });
    let reply_arms = iface.ops.iter().map(|op| {
        let (variant, size) = (&op.name, common::reply_size(op));
        quote!(Self::#variant => #size,)
    });
    let lease_arms = iface.ops.iter().map(|op| {
        let variant = &op.name;
        if op.leases.is_empty() {
            quote!(Self::#variant => &[],)
        } else {
            let name = leases_const(op);
            quote!(Self::#variant => #name,)
        }
    });
    quote! {
        #(#lease_consts)*

        impl idol_runtime::ServerOp for #op_enum {
            fn max_reply_size(self) -> usize {
                match self {
                    #(#reply_arms)*
                }
            }

            fn leases(self) -> &'static [idol_runtime::LeaseSpec] {
                match self {
                    #(#lease_arms)*
                }
            }
        }
    }
}

/// The `LeaseSpec` the runtime checks a lease against.
fn lease_spec(lease: &Lease) -> TokenStream {
    let attributes = match (lease.read, lease.write) {
        (true, true) => quote!(ReadWrite),
        (false, true) => quote!(Write),
        _ => quote!(Read),
    };
    let attributes = quote!(idol_runtime::LeaseAccess::#attributes);
    match &lease.element {
        Some(element) => {
            let max = match lease.max_len {
                Some(n) => {
                    let n = Literal::u32_unsuffixed(n.get());
                    quote!(Some(#n))
                }
                None => quote!(None),
            };
            quote! {
                idol_runtime::LeaseSpec::slice::<#element>(#attributes, #max)
            }
        }
        None => {
            let ty = &lease.ty;
            quote!(idol_runtime::LeaseSpec::sized::<#ty>(#attributes))
        }
    }
}

/// `InOrderFpgaImpl`.
fn trait_name(iface: &Interface) -> syn::Ident {
    format_ident!("InOrder{}Impl", iface.name)
}

/// The type a lease parameter has in the server trait.
fn lease_param_type(lease: &Lease) -> TokenStream {
    let access = match (lease.read, lease.write) {
        (true, true) => quote!(RW),
        (false, true) => quote!(W),
        _ => quote!(R),
    };
    let ty = &lease.ty;
    let leased = quote!(idol_runtime::Leased<idol_runtime::#access, #ty>);
    match lease.max_len {
        Some(n) => {
            let n = Literal::usize_unsuffixed(n.get() as usize);
            quote!(idol_runtime::LenLimit<#leased, #n>)
        }
        None => leased,
    }
}

/// The error type of a server trait method's `RequestError`.
fn runtime_error(op: &Operation) -> TokenStream {
    match &op.reply.err {
        Some(ErrorKind::CLike(e) | ErrorKind::Complex(e)) => quote!(#e),
        Some(ErrorKind::ServerDeath) | None => {
            quote!(core::convert::Infallible)
        }
    }
}

/// The trait the server implements.
fn in_order_trait(iface: &Interface) -> TokenStream {
    let name = trait_name(iface);
    let doc = format!(
        " What a server of `{}` implements; `idol_runtime::dispatch` calls \
         one method per message, after checking the message is well-formed.",
        iface.name
    );
    let methods = iface.ops.iter().map(|op| {
        let method = &op.name;
        let doc = common::doc_attrs(op.doc.as_deref());
        let params = op
            .args
            .iter()
            .map(|arg| {
                let (n, t) = (&arg.name, &arg.ty.api);
                quote!(#n: #t)
            })
            .chain(op.leases.iter().map(|lease| {
                let n = &lease.name;
                let t = lease_param_type(lease);
                quote!(#n: #t)
            }));
        let ok = &op.reply.ok.api;
        let err = runtime_error(op);
        quote! {
            #doc
            fn #method(
                &mut self,
                msg: &userlib::RecvMessage,
                #(#params),*
            ) -> core::result::Result<#ok, idol_runtime::RequestError<#err>>;
        }
    });
    quote! {
        #[doc = #doc]
        pub trait #name {
            /// Whom the next RECV listens to: `None` for any client (open
            /// receive), `Some(task)` for that task alone, plus
            /// notifications (closed receive; how a lock is held).
            fn recv_source(&self) -> core::option::Option<userlib::TaskId> {
                None
            }

            /// Called when the task `recv_source` named has died; a
            /// server that overrides `recv_source` overrides this to
            /// forget that task (for example, drop the lock it held).
            /// The default does nothing, which is right for servers that
            /// never name a source.
            fn closed_recv_fail(&mut self) {}

            #(#methods)*
        }
    }
}

/// The `Server` impl that `dispatch` calls, and one function per op.
fn dispatch_glue(iface: &Interface, allowed: &AllowedCallers) -> TokenStream {
    let trait_name = trait_name(iface);
    let op_enum = common::op_enum(iface);
    let counters = format_ident!("__{}_SERVER_COUNTERS", common::upper(iface));
    let arms = iface.ops.iter().map(|op| {
        let variant = &op.name;
        let serve = format_ident!("serve_{}", op.name);
        quote! {
            #op_enum::#variant => (
                &#counters.#variant,
                #serve(self.1, buffer, msg),
            ),
        }
    });
    let serve_fns = iface.ops.iter().map(|op| serve_fn(iface, op, allowed));
    quote! {
        impl<S: #trait_name> idol_runtime::Server<#op_enum>
            for (core::marker::PhantomData<#op_enum>, &'_ mut S)
        {
            fn recv_source(&self) -> core::option::Option<userlib::TaskId> {
                <S as #trait_name>::recv_source(self.1)
            }

            fn closed_recv_fail(&mut self) {
                <S as #trait_name>::closed_recv_fail(self.1)
            }

            fn handle(
                &mut self,
                op: #op_enum,
                buffer: &mut [u8],
                msg: &userlib::RecvMessage,
            ) -> core::result::Result<
                idol_runtime::Reply,
                idol_runtime::RequestError<u16>,
            > {
                let (counters, result) = match op {
                    #(#arms)*
                };
                counters.count_call();
                if result.is_err() {
                    counters.count_error();
                }
                result
            }
        }

        #(#serve_fns)*
    }
}

/// `SET_DISPOSITION_ALLOWED_CALLERS`.
fn allowed_const(op: &Operation) -> syn::Ident {
    format_ident!("{}_ALLOWED_CALLERS", op.name.to_string().to_uppercase())
}

/// For a restricted op: the list of allowed task indices, and the check
/// that refuses every other caller before anything else happens.
fn access_check(
    op: &Operation,
    allowed: &AllowedCallers,
) -> (TokenStream, TokenStream) {
    let Some(callers) = allowed.callers(&op.name.to_string()) else {
        return (quote!(), quote!());
    };
    let name = allowed_const(op);
    let doc = format!(
        " The task indices allowed to call `{}` (app.toml \
         `allowed-callers`); any other caller is faulted.",
        op.name
    );
    let callers = callers.iter().map(|&c| Literal::u16_unsuffixed(c));
    let list = quote! {
        #[doc = #doc]
        const #name: &[u16] = &[#(#callers),*];
    };
    let check = quote! {
        if !idol_runtime::caller_allowed(msg.sender, #name) {
            return Err(idol_runtime::RequestError::Fail(
                userlib::ClientError::AccessViolation,
            ));
        }
    };
    (list, check)
}

/// Decodes one op's message, calls the server and replies; counts the
/// outcome by variant.
fn serve_fn(
    iface: &Interface,
    op: &Operation,
    allowed: &AllowedCallers,
) -> TokenStream {
    let trait_name = trait_name(iface);
    let method = &op.name;
    let serve = format_ident!("serve_{}", op.name);
    let call = format_ident!("call_{}", op.name);
    let (allowed_list, access) = access_check(op, allowed);
    let outcomes = format_ident!("__{}_OUTCOME_COUNTERS", common::upper(iface));
    let ok_ty = &op.reply.ok.api;
    let err_ty = runtime_error(op);
    // An op without arguments or leases never looks at the buffer (the
    // kernel's lease descriptors follow the message in it).
    let buffer_param = if op.args.is_empty() && op.leases.is_empty() {
        format_ident!("_buffer")
    } else {
        format_ident!("buffer")
    };
    let args_ty = common::args_struct(iface, op);
    let qualified = common::qualified(iface, op);
    let bad_contents = quote! {
        return Err(idol_runtime::RequestError::Fail(
            userlib::ClientError::BadMessageContents,
        ))
    };
    // `dispatch` checked the length against the buffer; this is the
    // panic-free way to say so.
    let incoming = quote! {
        let Some(incoming) = buffer.get(..msg.message_len as usize) else {
            return Err(idol_runtime::RequestError::Fail(
                userlib::ClientError::BadMessageSize,
            ));
        };
    };
    let decode = match op.encoding {
        // An op without arguments takes an empty message.
        _ if op.args.is_empty() => quote! {
            if msg.message_len != 0 {
                return Err(idol_runtime::RequestError::Fail(
                    userlib::ClientError::BadMessageSize,
                ));
            }
        },
        // A zerocopy message has exactly one valid length.
        Encoding::Zerocopy => quote! {
            #incoming
            let args = match <#args_ty as idol_runtime::zerocopy::FromBytes>
                ::read_from_bytes(incoming)
            {
                Ok(args) => args,
                Err(_) => {
                    return Err(idol_runtime::RequestError::Fail(
                        userlib::ClientError::BadMessageSize,
                    ));
                }
            };
        },
        Encoding::Hubpack | Encoding::Ssmarshal => {
            let codec = match op.encoding {
                Encoding::Hubpack => quote!(hubpack),
                _ => quote!(ssmarshal),
            };
            quote! {
                #incoming
                let args = match #codec::deserialize::<#args_ty>(incoming) {
                    Ok((args, _)) => args,
                    Err(_) => { #bad_contents; }
                };
            }
        }
    };
    let arg_values = op.args.iter().map(|arg| {
        let n = &arg.name;
        common::from_wire(&arg.ty, quote!(args.#n), bad_contents.clone())
    });
    let lease_values = op.leases.iter().enumerate().map(|(index, lease)| {
        let index = Literal::usize_unsuffixed(index);
        lease_value(lease, index)
    });
    let reply = reply_ok(op, &qualified);
    let error = reply_error(iface, op, &qualified);
    quote! {
        #allowed_list

        /// Checks the caller, decodes the message and calls the server.
        fn #call<S: #trait_name>(
            server: &mut S,
            #buffer_param: &[u8],
            msg: &userlib::RecvMessage,
        ) -> core::result::Result<#ok_ty, idol_runtime::RequestError<#err_ty>>
        {
            #access
            #decode
            <S as #trait_name>::#method(
                server,
                msg,
                #(#arg_values,)*
                #(#lease_values,)*
            )
        }

        fn #serve<S: #trait_name>(
            server: &mut S,
            buffer: &mut [u8],
            msg: &userlib::RecvMessage,
        ) -> core::result::Result<
            idol_runtime::Reply,
            idol_runtime::RequestError<u16>,
        > {
            let result = #call(server, buffer, msg);
            idol_runtime::count_outcome(&result, &#outcomes.#method);
            match result {
                Ok(value) => {
                    #reply
                }
                #error
            }
        }
    }
}

/// The expression that builds a lease parameter, failing with `BadLease`:
/// checked against the descriptor the kernel wrote after the message when
/// there is one, else against BORROW_INFO.
fn lease_value(lease: &Lease, index: Literal) -> TokenStream {
    let access = match (lease.read, lease.write) {
        (true, true) => quote!(RW),
        (false, true) => quote!(W),
        _ => quote!(R),
    };
    let ty = &lease.ty;
    let max = lease.max_len.map(|n| Literal::u32_unsuffixed(n.get()));
    let info = quote!(idol_runtime::lease_info(buffer, msg, #index));
    let leased = quote!(idol_runtime::Leased::<idol_runtime::#access, #ty>);
    let leased = match (&lease.element, &max) {
        (Some(_), Some(max)) => quote! {
            #leased::described_slice(msg.sender, #index, Some(#max), #info)
        },
        (Some(_), None) => quote! {
            #leased::described_slice(msg.sender, #index, None, #info)
        },
        (None, _) => quote!(#leased::described(msg.sender, #index, #info)),
    };
    let fail = quote!(map_err(idol_runtime::RequestError::Fail));
    match max {
        Some(max) => quote! {
            #leased
                .and_then(idol_runtime::LenLimit::<_, #max>::new)
                .#fail?
        },
        None => quote!(#leased.#fail?),
    }
}

/// Sends an `Ok` reply.
fn reply_ok(op: &Operation, qualified: &Literal) -> TokenStream {
    let wire_ty = op.reply.ok.wire();
    let convert = match op.reply.ok.conversion {
        Conversion::Identity => quote!(),
        _ => {
            let wire = common::to_wire(&op.reply.ok, quote!(value));
            quote!(let value: #wire_ty = #wire;)
        }
    };
    match op.encoding {
        Encoding::Zerocopy => quote! {
            #convert
            Ok(idol_runtime::reply_bytes(
                buffer,
                0,
                idol_runtime::zerocopy::IntoBytes::as_bytes(&value),
                #qualified,
            ))
        },
        Encoding::Hubpack | Encoding::Ssmarshal => {
            let size = common::reply_size(op);
            let codec = match op.encoding {
                Encoding::Hubpack => quote!(hubpack),
                _ => quote!(ssmarshal),
            };
            quote! {
                #convert
                let body = buffer.get_mut(..#size).unwrap_or_default();
                match #codec::serialize(body, &value) {
                    Ok(len) => Ok(idol_runtime::Reply { code: 0, len }),
                    Err(_) => idol_runtime::unencodable(#qualified),
                }
            }
        }
    }
}

/// The `Err` arms: a CLike error travels in the response code (the
/// runtime replies); a Complex one is serialized here.
fn reply_error(
    iface: &Interface,
    op: &Operation,
    qualified: &Literal,
) -> TokenStream {
    match &op.reply.err {
        Some(ErrorKind::CLike(_)) => quote! {
            Err(error) => Err(error.map_runtime(u16::from)),
        },
        Some(ErrorKind::Complex(_)) => {
            let size = common::reply_size(op);
            let counters =
                format_ident!("__{}_SERVER_COUNTERS", common::upper(iface));
            let method = &op.name;
            quote! {
                Err(idol_runtime::RequestError::Runtime(error)) => {
                    #counters.#method.count_error();
                    let body = buffer.get_mut(..#size).unwrap_or_default();
                    match hubpack::serialize(body, &error) {
                        Ok(len) => Ok(idol_runtime::Reply {
                            code: idol_runtime::COMPLEX_ERROR_CODE,
                            len,
                        }),
                        Err(_) => idol_runtime::unencodable(#qualified),
                    }
                }
                Err(idol_runtime::RequestError::Fail(failure)) => {
                    Err(idol_runtime::RequestError::Fail(failure))
                }
            }
        }
        Some(ErrorKind::ServerDeath) | None => quote! {
            Err(error) => Err(error.map_runtime(|never| match never {})),
        },
    }
}

/// The per-op counters struct and its static.
fn server_counters(iface: &Interface) -> TokenStream {
    let ty = format_ident!("{}ServerCounters", iface.name);
    let stat = format_ident!("__{}_SERVER_COUNTERS", common::upper(iface));
    let fields = iface.ops.iter().map(|op| {
        let f = &op.name;
        quote!(pub #f: idol_runtime::ServerOpCounters,)
    });
    let inits = iface.ops.iter().map(|op| {
        let f = &op.name;
        quote!(#f: idol_runtime::ServerOpCounters::new(),)
    });
    let doc = format!(
        " Calls and errors (error replies and faulted clients) per `{}` \
         op; the debugger finds them by symbol.",
        iface.name
    );
    quote! {
        #[doc = #doc]
        #[repr(C)]
        pub struct #ty {
            #(#fields)*
        }

        #[used]
        static #stat: #ty = #ty {
            #(#inits)*
        };
    }
}

/// Each op's outcomes by variant: `Ok`, `Err.Runtime.<variant>` (the
/// op's error type must implement `counters::Count`, usually derived) and
/// `Err.Fail.<ClientError>`.
fn outcome_counters(iface: &Interface) -> TokenStream {
    let ty = format_ident!("{}OutcomeCounters", iface.name);
    let stat = format_ident!("__{}_OUTCOME_COUNTERS", common::upper(iface));
    let fields = iface.ops.iter().map(|op| {
        let (f, e) = (&op.name, runtime_error(op));
        quote!(pub #f: idol_runtime::OutcomeCounters<#e>,)
    });
    let inits = iface.ops.iter().map(|op| {
        let (f, e) = (&op.name, runtime_error(op));
        quote! {
            #f: <core::result::Result<(), idol_runtime::RequestError<#e>>
                as idol_runtime::Count>::NEW_COUNTERS,
        }
    });
    let doc = format!(
        " How each `{}` op ended: `Ok`, or its error by variant, or the \
         client refused; `humility counters` prints them.",
        iface.name
    );
    quote! {
        #[doc = #doc]
        #[allow(non_snake_case)]
        #[repr(C)]
        pub struct #ty {
            #(#fields)*
        }

        /// Public so that a server can report its own outcomes.
        #[used]
        pub static #stat: #ty = #ty {
            #(#inits)*
        };
    }
}

/// The interface text, NUL-terminated, in the `.idolatry` section.
///
/// Several servers may be linked into one task, so the section may hold
/// several definitions; the NUL separates them. The text is emitted as a
/// multi-line byte string so the generated file stays readable.
fn idol_definition(iface: &Interface) -> TokenStream {
    let name = format_ident!("_{}_IDOL_DEFINITION", common::upper(iface));
    let mut escaped = String::from("b\"");
    for byte in iface.source_text.bytes() {
        match byte {
            b'\\' => escaped.push_str("\\\\"),
            b'"' => escaped.push_str("\\\""),
            b'\n' | b'\t' | 0x20..=0x7e => escaped.push(char::from(byte)),
            other => escaped.push_str(&format!("\\x{other:02x}")),
        }
    }
    escaped.push_str("\\0\"");
    // The escaping above only produces valid byte-string contents; should
    // it not, fall back to an escaped one-line literal of the same bytes.
    let literal: TokenStream = escaped.parse().unwrap_or_else(|_| {
        let mut bytes = iface.source_text.as_bytes().to_vec();
        bytes.push(0);
        quote::ToTokens::into_token_stream(Literal::byte_string(&bytes))
    });
    let length = Literal::usize_unsuffixed(iface.source_text.len() + 1);
    let doc = format!(
        " The `{}` interface as written, for debuggers: with it they can \
         call ops by name given only this task's ELF.",
        iface.name
    );
    quote! {
        #[doc = #doc]
        #[used]
        #[unsafe(link_section = ".idolatry")]
        static #name: [u8; #length] = *#literal;
    }
}
