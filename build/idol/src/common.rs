//! Pieces both the client and the server generator emit: names, the op
//! enum, reply sizes, argument structs and value conversions.
//!
//! Client and server stubs are separate files, usually compiled into
//! different tasks, so each carries its own copy of the shared items.

use crate::check::{Conversion, ErrorKind, Interface, Operation, WireTy};
use crate::error::IdolError;
use crate::syntax::Encoding;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

/// Which side an argument struct is generated for; it decides the derives.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Side {
    /// Serializes the arguments.
    Client,
    /// Deserializes them.
    Server,
}

/// `FpgaOperation`.
pub fn op_enum(iface: &Interface) -> Ident {
    format_ident!("{}Operation", iface.name)
}

/// `DEVICE_ENABLED_REPLY_SIZE`, Hubris's name for an op's reply size.
pub fn reply_size(op: &Operation) -> Ident {
    format_ident!("{}_REPLY_SIZE", op.name.to_string().to_uppercase())
}

/// `Fpga_device_enabled_ARGS`.
pub fn args_struct(iface: &Interface, op: &Operation) -> Ident {
    format_ident!("{}_{}_ARGS", iface.name, op.name)
}

/// `FPGA`, the prefix of the interface's statics.
pub fn upper(iface: &Interface) -> String {
    iface.name.to_string().to_uppercase()
}

/// `"Fpga.device_enabled"`, how panic messages and docs name an op.
pub fn qualified(iface: &Interface, op: &Operation) -> Literal {
    Literal::string(&format!("{}.{}", iface.name, op.name))
}

/// The op's doc text as `#[doc]` attributes, if it has any.
pub fn doc_attrs(doc: Option<&str>) -> TokenStream {
    doc.map(|d| {
        d.lines()
            .map(|line| {
                let line = format!(" {line}");
                quote!(#[doc = #line])
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Renders tokens as formatted Rust, after a header of `//` lines.
pub fn render(
    header: &[String],
    tokens: TokenStream,
    file: &str,
) -> Result<String, IdolError> {
    let parsed: syn::File =
        syn::parse2(tokens).map_err(|e| IdolError::Generated {
            file: file.to_string(),
            message: e.to_string(),
        })?;
    let mut out = String::new();
    for line in header {
        out.push_str("// ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&space_items(&prettyplease::unparse(&parsed)));
    Ok(out)
}

/// Puts a blank line between items, which prettyplease leaves out: after
/// a line that ends an item (`}` or `;` at module or impl level) when the
/// next line, at the same level, starts another.
fn space_items(code: &str) -> String {
    const ITEM_STARTS: [&str; 10] = [
        "///", "#[", "pub ", "fn ", "impl", "const ", "static ", "struct ",
        "enum ", "trait ",
    ];
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut out = String::with_capacity(code.len() + code.len() / 16);
    let mut previous: Option<&str> = None;
    for line in code.lines() {
        if let Some(prev) = previous {
            let level = indent(prev);
            let ends_item = prev.ends_with('}') || prev.ends_with(';');
            let starts_item = ITEM_STARTS
                .iter()
                .any(|start| line.trim_start().starts_with(start));
            if level <= 4 && ends_item && indent(line) == level && starts_item {
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
        previous = Some(line);
    }
    out
}

/// The op enum, with its exhaustive `TryFrom<u32>`.
pub fn generate_op_enum(iface: &Interface) -> TokenStream {
    let name = op_enum(iface);
    let doc = format!(
        " The operations of the `{}` interface; the discriminant is the \
         op code sent with each message.",
        iface.name
    );
    let variants = iface.ops.iter().map(|op| {
        let variant = &op.name;
        let number = Literal::u16_unsuffixed(op.number);
        quote!(#variant = #number,)
    });
    let arms = iface.ops.iter().map(|op| {
        let variant = &op.name;
        let number = Literal::u32_unsuffixed(u32::from(op.number));
        quote!(#number => Ok(Self::#variant),)
    });
    quote! {
        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #[derive(Copy, Clone, Debug, Eq, PartialEq)]
        #[repr(u16)]
        pub enum #name {
            #(#variants)*
        }

        impl core::convert::TryFrom<u32> for #name {
            type Error = ();

            fn try_from(code: u32) -> core::result::Result<Self, ()> {
                match code {
                    #(#arms)*
                    _ => Err(()),
                }
            }
        }
    }
}

/// One `*_REPLY_SIZE` const per op: the reply buffer a client must offer.
pub fn generate_reply_sizes(iface: &Interface) -> TokenStream {
    iface
        .ops
        .iter()
        .map(|op| {
            let name = reply_size(op);
            let size = reply_size_expr(op);
            let doc = format!(
                " Bytes a client must offer for the reply to `{}`.",
                op.name
            );
            quote! {
                #[doc = #doc]
                pub const #name: usize = #size;
            }
        })
        .collect()
}

/// The size of an op's largest reply body.
fn reply_size_expr(op: &Operation) -> TokenStream {
    let ok = op.reply.ok.wire();
    let ok_size = encoded_size(&ok, op.encoding);
    match &op.reply.err {
        // A Complex error shares the body with the ok value.
        Some(ErrorKind::Complex(err)) => {
            let err_size = encoded_size(err, op.encoding);
            quote!(idol_runtime::max_size(&[#ok_size, #err_size]))
        }
        // A CLike error travels in the response code, with no body.
        _ => ok_size,
    }
}

/// The most bytes a value of `ty` takes in `encoding`.
fn encoded_size(ty: &syn::Type, encoding: Encoding) -> TokenStream {
    match encoding {
        // Hubris relies on ssmarshal never needing more than the memory
        // image, and so do we.
        Encoding::Zerocopy | Encoding::Ssmarshal => {
            quote!(core::mem::size_of::<#ty>())
        }
        Encoding::Hubpack => {
            quote!(<#ty as hubpack::SerializedSize>::MAX_SIZE)
        }
    }
}

/// The struct an op's arguments travel in.
pub fn generate_args_struct(
    iface: &Interface,
    op: &Operation,
    side: Side,
) -> TokenStream {
    let name = args_struct(iface, op);
    let fields = op.args.iter().map(|arg| {
        let field = &arg.name;
        let ty = arg.ty.wire();
        quote!(pub #field: #ty,)
    });
    let doc = format!(" The arguments of `{}` as they travel.", op.name);
    let attrs = match (op.encoding, side) {
        // Packed so that the layout has no padding and is the same on
        // both sides whatever the field types.
        (Encoding::Zerocopy, Side::Client) => quote! {
            #[derive(
                idol_runtime::zerocopy::IntoBytes,
                idol_runtime::zerocopy::Immutable,
            )]
            #[zerocopy(crate = "idol_runtime::zerocopy")]
            #[repr(C, packed)]
        },
        (Encoding::Zerocopy, Side::Server) => quote! {
            #[derive(idol_runtime::zerocopy::FromBytes)]
            #[zerocopy(crate = "idol_runtime::zerocopy")]
            #[repr(C, packed)]
        },
        (Encoding::Hubpack, Side::Client) => quote! {
            #[derive(serde::Serialize, hubpack::SerializedSize)]
        },
        (Encoding::Hubpack, Side::Server) => quote! {
            #[derive(serde::Deserialize, hubpack::SerializedSize)]
        },
        (Encoding::Ssmarshal, Side::Client) => {
            quote!(#[derive(serde::Serialize)])
        }
        (Encoding::Ssmarshal, Side::Server) => {
            quote!(#[derive(serde::Deserialize)])
        }
    };
    quote! {
        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #attrs
        pub struct #name {
            #(#fields)*
        }
    }
}

/// The largest message an op's arguments take.
pub fn args_size_expr(iface: &Interface, op: &Operation) -> TokenStream {
    let name = args_struct(iface, op);
    encoded_size(&syn::parse_quote!(#name), op.encoding)
}

/// Turns an API value into its wire form (the sending side).
pub fn to_wire(ty: &WireTy, value: TokenStream) -> TokenStream {
    match &ty.conversion {
        Conversion::Identity => value,
        Conversion::BoolAsU8 => quote!(u8::from(#value)),
        Conversion::Primitive(p) => quote!(#value as #p),
        Conversion::From(p, _) => {
            let api = &ty.api;
            quote!(<#p as core::convert::From<#api>>::from(#value))
        }
    }
}

/// Turns a wire value back into the API type (the receiving side).
///
/// `invalid` is what to do when a `FromPrimitive` value has no meaning:
/// an expression of the enclosing function's type, such as a `return`.
pub fn from_wire(
    ty: &WireTy,
    value: TokenStream,
    invalid: TokenStream,
) -> TokenStream {
    let api = &ty.api;
    match &ty.conversion {
        Conversion::Identity => value,
        Conversion::BoolAsU8 => quote!(#value != 0),
        Conversion::Primitive(p) => quote! {
            match <#api as core::convert::TryFrom<#p>>::try_from(#value) {
                Ok(value) => value,
                Err(_) => #invalid,
            }
        },
        Conversion::From(p, None) => {
            quote!(<#api as core::convert::From<#p>>::from(#value))
        }
        Conversion::From(_, Some(function)) => quote!(#function(#value)),
    }
}
