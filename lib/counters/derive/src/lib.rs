//! `#[derive(Count)]`: per-variant event counters for an enum.
//!
//! This is the derive half of the `counters` crate (which re-exports it);
//! see that crate for the `Count` trait and the `counters!`/`count!` macros.
//! For an enum `Event` it generates a struct `EventCounters` holding one
//! `pub <Variant>: AtomicU32` per counted variant, and an `impl Count for
//! Event` that bumps the right one. The fields keep the variant's own name
//! (hence `non_snake_case`) because a debugger prints the struct straight
//! out of DWARF, and `Event::Busy` reads better there than `busy`.
//!
//! Variant and field attributes, as in Hubris:
//!
//! - `#[count(skip)]` on a variant: no counter. Trace enums usually have a
//!   `None` variant that only initializes a ring buffer and is never
//!   recorded, so counting it would waste four bytes.
//! - `#[count(children)]` on a variant with exactly one field, or on one
//!   field of a variant: instead of one counter for the whole variant, nest
//!   that field type's own counters, so `Err(SpiError::Timeout)` is counted
//!   per error kind. The field type must implement `Count`.
//!
//! The generated code names the trait as `::counters::Count`, so the
//! deriving crate must depend on `counters` under that name.
//!
//! Deliberately absent: structs and unions (there is no variant to count;
//! count an enum that wraps them instead) and more than one
//! `#[count(children)]` field per variant (which field's counters would the
//! variant's slot hold?). Both are compile errors pointing at the culprit.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, Fields, Ident, Index, Member, Type, Variant,
    parse_macro_input, parse_quote,
};

/// Derives `counters::Count` for an enum; see the crate docs for the
/// generated struct and the `#[count(skip)]`/`#[count(children)]`
/// attributes.
#[proc_macro_derive(Count, attributes(count))]
pub fn derive_count(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// What a `#[count(...)]` attribute asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CountAttr {
    Skip,
    Children,
}

/// How one variant is counted.
enum Plan<'a> {
    /// No counter at all.
    Skip,
    /// Every value of the variant bumps one `AtomicU32`.
    Flat,
    /// The value of field `member`, of type `ty`, is counted by `ty`'s own
    /// counters, nested under the variant's name.
    Children { member: Member, ty: &'a Type },
}

/// Generates the counters struct and the `Count` impl, or the first error.
///
/// Split from [`derive_count`] so that unit tests can drive it with
/// `proc_macro2` tokens, which work outside a compiler invocation.
fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(data) => return Err(not_an_enum(data.struct_token.span)),
        Data::Union(data) => return Err(not_an_enum(data.union_token.span)),
    };
    let enum_name = &input.ident;
    let counters_name = format_ident!("{}Counters", enum_name);

    let mut field_defs = Vec::new();
    let mut field_inits = Vec::new();
    let mut arms = Vec::new();
    let mut child_types = Vec::new();
    let mut any_skipped = false;
    for variant in &data.variants {
        let name = &variant.ident;
        let doc =
            format!(" How many times `{enum_name}::{name}` has been counted.",);
        match plan_variant(variant)? {
            Plan::Skip => any_skipped = true,
            Plan::Flat => {
                field_defs.push(quote! {
                    #[doc = #doc]
                    pub #name: ::core::sync::atomic::AtomicU32
                });
                field_inits.push(quote! {
                    #name: ::core::sync::atomic::AtomicU32::new(0)
                });
                arms.push(quote! {
                    #enum_name::#name { .. } => {
                        counters.#name.fetch_add(
                            1,
                            ::core::sync::atomic::Ordering::Relaxed,
                        );
                    }
                });
            }
            Plan::Children { member, ty } => {
                field_defs.push(quote! {
                    #[doc = #doc]
                    pub #name: <#ty as ::counters::Count>::Counters
                });
                field_inits.push(quote! {
                    #name: <#ty as ::counters::Count>::NEW_COUNTERS
                });
                arms.push(quote! {
                    #enum_name::#name { #member: ref child, .. } => {
                        ::counters::Count::count(child, &counters.#name);
                    }
                });
                child_types.push(ty);
            }
        }
    }
    if any_skipped {
        arms.push(quote! { _ => {} });
    }

    // A generic enum gets a generic counters struct. Every children type
    // must implement `Count` for its counters to exist, and parameters used
    // only by flat variants would be unused, hence the marker field.
    let mut generics = input.generics.clone();
    let where_clause = generics.make_where_clause();
    for ty in &child_types {
        where_clause
            .predicates
            .push(parse_quote!(#ty: ::counters::Count));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    if !input.generics.params.is_empty() {
        field_defs.push(quote! {
            #[doc(hidden)]
            pub __marker: ::core::marker::PhantomData<
                fn() -> #enum_name #ty_generics
            >
        });
        field_inits.push(quote! { __marker: ::core::marker::PhantomData });
    }

    let vis = &input.vis;
    let struct_doc = format!(
        " Per-variant totals for [`{enum_name}`], from `#[derive(Count)]`.",
    );
    Ok(quote! {
        #[doc = #struct_doc]
        #[allow(non_snake_case)]
        #vis struct #counters_name #impl_generics #where_clause {
            #(#field_defs,)*
        }

        #[automatically_derived]
        impl #impl_generics ::counters::Count for #enum_name #ty_generics
            #where_clause
        {
            type Counters = #counters_name #ty_generics;

            // Only ever used to initialize a static, where a fresh copy per
            // use is exactly what we want.
            #[allow(clippy::declare_interior_mutable_const)]
            const NEW_COUNTERS: Self::Counters = #counters_name {
                #(#field_inits,)*
            };

            fn count(&self, counters: &Self::Counters) {
                match *self {
                    #(#arms)*
                }
            }
        }
    })
}

fn not_an_enum(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "`Count` can only be derived for enums: it counts each variant; \
         count an enum that wraps this type instead",
    )
}

/// Decides how `variant` is counted from its own and its fields'
/// `#[count(...)]` attributes.
fn plan_variant(variant: &Variant) -> syn::Result<Plan<'_>> {
    let on_variant = count_attr(&variant.attrs)?;
    let on_field = children_field(&variant.fields)?;
    match (on_variant, on_field) {
        (None, None) => Ok(Plan::Flat),
        (None, Some((member, ty))) => Ok(Plan::Children { member, ty }),
        (Some((CountAttr::Skip, _)), None) => Ok(Plan::Skip),
        (Some((CountAttr::Skip, span)), Some(_)) => Err(syn::Error::new(
            span,
            "a `#[count(skip)]` variant cannot also count a field's \
             children; remove one of the two attributes",
        )),
        (Some((CountAttr::Children, span)), Some(_)) => Err(syn::Error::new(
            span,
            "`#[count(children)]` is on both this variant and one of its \
             fields; keep only one",
        )),
        (Some((CountAttr::Children, span)), None) => {
            let mut fields = variant.fields.iter();
            match (fields.next(), fields.next()) {
                (Some(field), None) => Ok(Plan::Children {
                    member: member_of(0, field),
                    ty: &field.ty,
                }),
                _ => Err(syn::Error::new(
                    span,
                    format!(
                        "`#[count(children)]` on a variant needs exactly one \
                         field, whose type implements `Count`, but `{}` has \
                         {}; put `#[count(children)]` on one field instead",
                        variant.ident,
                        variant.fields.len(),
                    ),
                )),
            }
        }
    }
}

/// Finds the one field of a variant marked `#[count(children)]`, if any.
fn children_field(fields: &Fields) -> syn::Result<Option<(Member, &Type)>> {
    let mut found = None;
    for (index, field) in fields.iter().enumerate() {
        match count_attr(&field.attrs)? {
            None => {}
            Some((CountAttr::Skip, span)) => {
                return Err(syn::Error::new(
                    span,
                    "`#[count(skip)]` goes on a variant, not on a field",
                ));
            }
            Some((CountAttr::Children, span)) => {
                if found.is_some() {
                    return Err(syn::Error::new(
                        span,
                        "only one field of a variant can be \
                         `#[count(children)]`; the variant has a single \
                         slot for nested counters",
                    ));
                }
                found = Some((member_of(index, field), &field.ty));
            }
        }
    }
    Ok(found)
}

/// Names a field in a pattern: by name, or by position for tuple variants
/// (`Variant { 0: ref child, .. }` is a valid pattern for those).
fn member_of(index: usize, field: &syn::Field) -> Member {
    match &field.ident {
        Some(ident) => Member::Named(ident.clone()),
        None => Member::Unnamed(Index {
            // A variant with more than u32::MAX fields does not compile.
            index: u32::try_from(index).unwrap_or(u32::MAX),
            span: field.span(),
        }),
    }
}

/// Parses the (at most one) `#[count(...)]` among `attrs`.
fn count_attr(attrs: &[Attribute]) -> syn::Result<Option<(CountAttr, Span)>> {
    let mut found = None;
    for attr in attrs {
        if !attr.path().is_ident("count") {
            continue;
        }
        let option: Ident = attr.parse_args().map_err(|error| {
            syn::Error::new(
                error.span(),
                "expected `#[count(skip)]` or `#[count(children)]`",
            )
        })?;
        let kind = if option == "skip" {
            CountAttr::Skip
        } else if option == "children" {
            CountAttr::Children
        } else {
            return Err(syn::Error::new(
                option.span(),
                format!(
                    "unknown `count` option `{option}`; expected `skip` or \
                     `children`"
                ),
            ));
        };
        if found.is_some() {
            return Err(syn::Error::new(
                attr.span(),
                "more than one `#[count(...)]` attribute here",
            ));
        }
        found = Some((kind, attr.span()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(input: DeriveInput) -> String {
        match expand(&input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn struct_is_rejected_with_a_reason() {
        let message = error_of(parse_quote! { struct S { a: u32 } });
        assert!(message.contains("only be derived for enums"), "{message}");
    }

    #[test]
    fn union_is_rejected() {
        let message = error_of(parse_quote! { union U { a: u32 } });
        assert!(message.contains("only be derived for enums"), "{message}");
    }

    #[test]
    fn children_on_multi_field_variant_is_rejected() {
        let message = error_of(parse_quote! {
            enum E { #[count(children)] A(u8, u16) }
        });
        assert!(message.contains("exactly one field"), "{message}");
        assert!(message.contains("has 2"), "{message}");
    }

    #[test]
    fn children_on_unit_variant_is_rejected() {
        let message = error_of(parse_quote! {
            enum E { #[count(children)] A }
        });
        assert!(message.contains("exactly one field"), "{message}");
    }

    #[test]
    fn two_children_fields_are_rejected() {
        let message = error_of(parse_quote! {
            enum E { A(#[count(children)] X, #[count(children)] Y) }
        });
        assert!(message.contains("only one field"), "{message}");
    }

    #[test]
    fn unknown_option_is_rejected_by_name() {
        let message = error_of(parse_quote! {
            enum E { #[count(sometimes)] A }
        });
        assert!(message.contains("`sometimes`"), "{message}");
    }

    #[test]
    fn bare_count_attribute_is_rejected() {
        let message = error_of(parse_quote! { enum E { #[count] A } });
        assert!(message.contains("expected `#[count(skip)]`"), "{message}");
    }

    #[test]
    fn skip_on_a_field_is_rejected() {
        let message = error_of(parse_quote! {
            enum E { A(#[count(skip)] u8) }
        });
        assert!(message.contains("goes on a variant"), "{message}");
    }

    #[test]
    fn skip_with_children_is_rejected() {
        let message = error_of(parse_quote! {
            enum E { #[count(skip)] A(#[count(children)] X) }
        });
        assert!(message.contains("cannot also count"), "{message}");
    }

    #[test]
    fn children_field_of_tuple_variant_is_matched_by_position() {
        let input: DeriveInput = parse_quote! {
            enum E { A(u8, #[count(children)] X, u16) }
        };
        let tokens = match expand(&input) {
            Ok(tokens) => tokens.to_string(),
            Err(error) => panic!("{error}"),
        };
        assert!(tokens.contains("E :: A { 1 : ref child"), "{tokens}");
        assert!(tokens.contains("struct ECounters"), "{tokens}");
    }
}
