//! `ProbeSite` statics: every await point (and every instrumented fn) becomes one
//! `static ProbeSite` in the user's code, named by its label, `file!()` and its line.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{LitStr, Path};

/// An expression of type `&'static ProbeSite` for `label`, at the line where `at` starts.
///
/// The line is read from the span (`Span::start`, real inside rustc on Rust 1.88+) and written
/// as a literal, which this crate's unit tests can see. Older compilers report line 0; then the
/// line comes from `line!()` spanned at `at` itself. (Only with `at` in full: `line!()` with the
/// macro's call-site context, as `located_at` gives, names the line of the `#[instrument]`
/// attribute instead. Checked on Rust 1.95 with a scratch proc macro.)
pub(crate) fn static_site(recorder: &Path, label: &str, at: Span) -> TokenStream {
    let line = match u32::try_from(at.start().line) {
        Ok(0) | Err(_) => quote_spanned!(at=> ::core::line!()),
        Ok(line) => {
            let line = Literal::u32_unsuffixed(line);
            quote!(#line)
        }
    };
    let label = LitStr::new(label, at);
    // Errors inside point at the await; still the macro's code as far as lints know.
    let span = Span::call_site().located_at(at);
    quote_spanned! {span=>
        {
            static __FUTURESCOPE_SITE: #recorder::ProbeSite =
                #recorder::ProbeSite::new(#label, ::core::file!(), #line);
            &__FUTURESCOPE_SITE
        }
    }
}
