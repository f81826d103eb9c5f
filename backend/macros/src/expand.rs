//! The expansion of `#[instrument]` on one `async fn`. This:
//!
//! ```text
//! #[instrument]
//! async fn fetch_user(id: u64) -> Result<User> {
//!     let row = query(id).await?;
//!     Ok(row.into())
//! }
//! ```
//!
//! becomes (paths shortened; each `<site ..>` is a block holding a `static ProbeSite`):
//!
//! ```text
//! async fn fetch_user(id: u64) -> Result<User> {
//!     ::futurescope_recorder::probed(<site "fetch_user()", line of `fetch_user`>, async move {
//!         if false { return None::<Result<User>>.unwrap(); }
//!         let row = AwaitPointExt::await_point(
//!             IntoFuture::into_future(query(id)),
//!             <site "query(id).await", line of that `.await`>,
//!         ).await?;
//!         Ok(row.into())
//!     })
//!     .await
//! }
//! ```
//!
//! The signature, visibility and attributes are kept as they are, so generics, `self`
//! receivers, lifetimes and `impl Trait` arguments work unchanged, and the fn is still an
//! `async fn` to its callers and to traits. The body moves into an `async move` block (the fn's
//! arguments are already owned by its future, so nothing is captured that was not before).
//!
//! `if false { return .. }` gives that block the fn's declared return type before the body is
//! checked: without it, the block would infer its output from the first `return` or its tail,
//! and coercions the fn's signature allows (`Box<S>` to `Box<dyn Trait>`, `&String` to `&str`)
//! would fail. It is skipped for `-> impl Trait` (which needs no coercion) and `-> !`.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::visit_mut::VisitMut;
use syn::{AttrStyle, ItemFn, ReturnType, Type};

use crate::args::InstrumentArgs;
use crate::await_points::AwaitPointLabeller;
use crate::site::static_site;

pub(crate) fn instrument(args: InstrumentArgs, mut function: ItemFn) -> syn::Result<TokenStream> {
    if function.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            function.sig.fn_token,
            "#[instrument] labels the await points of an `async fn`, and this fn is not async \
             (if another attribute such as #[tokio::main] made it a plain fn, put #[instrument] above that attribute)",
        ));
    }
    let recorder = args.recorder_path.unwrap_or_else(|| syn::parse_quote!(::futurescope_recorder));
    let fn_label = match &args.name {
        Some(name) => name.value(),
        None => format!("{}()", function.sig.ident),
    };
    let fn_site = static_site(&recorder, &fn_label, function.sig.ident.span());

    let mut labeller = AwaitPointLabeller { recorder: &recorder, labelled: 0 };
    labeller.visit_block_mut(&mut function.block);

    // An inner `#![attr]` of the body stays at the top of the body.
    let (inner_attrs, outer_attrs): (Vec<_>, Vec<_>) =
        function.attrs.iter().partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    let output_edge = declared_output_edge(&function.sig.output);
    let ItemFn { vis, sig, block, .. } = &function;
    let stmts = &block.stmts;
    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #recorder::probed(#fn_site, async move {
                #output_edge
                #(#stmts)*
            })
            .await
        }
    })
}

/// A never-taken `return` of the fn's declared output type, or nothing when that type cannot
/// be named in an expression.
fn declared_output_edge(output: &ReturnType) -> Option<TokenStream> {
    let output = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            if matches!(**ty, Type::Never(_)) || mentions_impl_trait(ty.to_token_stream()) {
                return None;
            }
            ty.to_token_stream()
        }
    };
    Some(quote! {
        if false {
            return ::core::option::Option::<#output>::None.unwrap();
        }
    })
}

fn mentions_impl_trait(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl_trait(group.stream()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::compact_source;

    fn expand(args: TokenStream, function: &str) -> syn::Result<String> {
        let args = InstrumentArgs::parse(args)?;
        let function: ItemFn = syn::parse_str(function)?;
        instrument(args, function).map(compact_source)
    }

    #[test]
    fn the_body_runs_inside_a_probe_named_after_the_fn() {
        let text =
            expand(TokenStream::new(), "pub async fn fetch_user(id: u64) -> u64 {\n    load(id).await\n}").unwrap();
        assert!(
            text.starts_with("pub async fn fetch_user(id: u64) -> u64 { ::futurescope_recorder::probed("),
            "{text}"
        );
        assert!(text.contains("static __FUTURESCOPE_SITE: ::futurescope_recorder::ProbeSite ="), "{text}");
        assert!(text.contains(r#"ProbeSite::new("fetch_user()", ::core::file!(), 1)"#), "{text}");
        assert!(text.contains(r#"ProbeSite::new("load(id).await", ::core::file!(), 2)"#), "{text}");
        assert!(text.contains("if false { return ::core::option::Option::<u64>::None.unwrap(); }"), "{text}");
        assert!(text.ends_with("}).await }"), "{text}");
    }

    #[test]
    fn name_and_crate_arguments() {
        let text = expand(quote!(name = "custom", crate = crate::rec), "async fn f() {}").unwrap();
        assert!(text.contains(r#"crate::rec::ProbeSite::new("custom", ::core::file!(), 1)"#), "{text}");
        assert!(text.contains("crate::rec::probed("), "{text}");
        assert!(text.contains("Option::<()>::None"), "{text}");
    }

    #[test]
    fn attributes_stay_where_they_were() {
        let text = expand(TokenStream::new(), "#[doc = \"x\"] async fn f() { #![allow(unused)] }").unwrap();
        assert!(
            text.starts_with("#[doc = \"x\"] async fn f() { #![allow(unused)]::futurescope_recorder::probed("),
            "{text}"
        );
    }

    #[test]
    fn impl_trait_and_never_outputs_get_no_typed_edge() {
        let text = expand(TokenStream::new(), "async fn f() -> Box<impl Display> { todo!() }").unwrap();
        assert!(!text.contains("if false"), "{text}");
        let text = expand(TokenStream::new(), "async fn f() -> ! { loop {} }").unwrap();
        assert!(!text.contains("if false"), "{text}");
    }

    #[test]
    fn a_plain_fn_is_an_error() {
        let error = expand(TokenStream::new(), "fn f() {}").err().unwrap();
        assert!(error.to_string().contains("is not async"), "{error}");
    }
}
