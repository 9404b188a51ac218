//! `#[derive(ErrorCode)]`: what every idol error enum needs, once.
//!
//! An idol `CLike` error travels as its code in the reply's response word,
//! beside the runtime's and the kernel's codes, so every error enum wrote
//! the same four things by hand: the list of its variants, the code as
//! `u16` and `u32`, and the way back from a code. For a fieldless enum
//! with explicit discriminants this generates:
//!
//! - `pub const ALL: [Self; N]`, the variants in declaration order;
//! - `From<E> for u16` and `From<E> for u32`;
//! - `TryFrom<u32> for E` and `TryFrom<u16> for E` (`Err(())` for a code
//!   that names no variant);
//! - with `#[error_code(server_death)]` on one variant,
//!   `idol_runtime::ServerDeathError` returning it: the value a client
//!   stub hands back when the server died during the call.
//!
//! And it checks, at compile time, that every code is non-zero and fits a
//! `u16` (idol's rule: 0 is success, and above `u16::MAX` the codes are the
//! kernel's dead codes).
//!
//! Deliberately absent: variants with fields (an error with data is a
//! hubpack'd `Complex` error, not a code) and implicit discriminants (a
//! code is ABI; writing it down is the point).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, parse_macro_input};

/// Derives codes, `ALL` and conversions for an error enum; see the crate
/// docs.
#[proc_macro_derive(ErrorCode, attributes(error_code))]
pub fn derive_error_code(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "ErrorCode is for enums: an error code names one of a closed set",
        ));
    };
    let name = &input.ident;
    let mut variants = Vec::new();
    let mut death = None;
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.fields.span(),
                "an error code has no data; use a Complex error for this",
            ));
        }
        if v.discriminant.is_none() {
            return Err(syn::Error::new(
                v.ident.span(),
                "give every variant its code (`Variant = 1`): codes are ABI",
            ));
        }
        for attr in &v.attrs {
            if !attr.path().is_ident("error_code") {
                continue;
            }
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("server_death") {
                    if death.is_some() {
                        return Err(meta.error(
                            "only one variant can be the server's death",
                        ));
                    }
                    death = Some(v.ident.clone());
                    Ok(())
                } else {
                    Err(meta.error("expected `server_death`"))
                }
            })?;
        }
        variants.push(&v.ident);
    }
    let n = variants.len();
    let death_impl = death.map(|v| {
        quote! {
            impl ::idol_runtime::ServerDeathError for #name {
                fn server_death() -> Self {
                    Self::#v
                }
            }
        }
    });
    Ok(quote! {
        impl #name {
            /// Every variant, in declaration order.
            pub const ALL: [#name; #n] = [#(Self::#variants),*];
        }

        const _: () = {
            #(
                assert!(
                    #name::#variants as u32 != 0 && #name::#variants as u32 <= 0xFFFF,
                    concat!(
                        stringify!(#name), "::", stringify!(#variants),
                        ": an error code must be non-zero and fit a u16"
                    )
                );
            )*
        };

        impl ::core::convert::From<#name> for u32 {
            fn from(e: #name) -> u32 {
                e as u32
            }
        }

        impl ::core::convert::From<#name> for u16 {
            fn from(e: #name) -> u16 {
                // Checked above: every code fits.
                e as u16
            }
        }

        impl ::core::convert::TryFrom<u32> for #name {
            type Error = ();

            fn try_from(code: u32) -> ::core::result::Result<Self, ()> {
                Self::ALL.into_iter().find(|e| *e as u32 == code).ok_or(())
            }
        }

        impl ::core::convert::TryFrom<u16> for #name {
            type Error = ();

            fn try_from(code: u16) -> ::core::result::Result<Self, ()> {
                <Self as ::core::convert::TryFrom<u32>>::try_from(u32::from(code))
            }
        }

        #death_impl
    })
}
