//! The arguments of `#[instrument(...)]`: `name = "..."` and `crate = path`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{LitStr, Path};

/// What `#[instrument(name = "label", crate = path)]` asked for; both are optional.
#[derive(Default)]
pub(crate) struct InstrumentArgs {
    /// The probe's label instead of `fn_name()`.
    pub(crate) name: Option<LitStr>,
    /// Where `futurescope_recorder` is, for a crate that renamed its dependency (or for the
    /// recorder's own tests); `::futurescope_recorder` when absent.
    pub(crate) recorder_path: Option<Path>,
}

impl InstrumentArgs {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<InstrumentArgs> {
        let mut parsed = InstrumentArgs::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("name") {
                if parsed.name.is_some() {
                    return Err(meta.error("`name` is given twice"));
                }
                parsed.name = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("crate") {
                if parsed.recorder_path.is_some() {
                    return Err(meta.error("`crate` is given twice"));
                }
                parsed.recorder_path = Some(meta.value()?.call(Path::parse_mod_style)?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[instrument] argument; expected `name = \"label\"` or `crate = path::to::futurescope_recorder`",
                ))
            }
        });
        parser.parse2(args)?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens, quote};

    #[test]
    fn no_arguments() {
        let args = InstrumentArgs::parse(TokenStream::new()).unwrap();
        assert!(args.name.is_none());
        assert!(args.recorder_path.is_none());
    }

    #[test]
    fn name_and_crate() {
        let args = InstrumentArgs::parse(quote!(name = "load config", crate = my::recorder)).unwrap();
        assert_eq!(args.name.unwrap().value(), "load config");
        assert_eq!(args.recorder_path.unwrap().to_token_stream().to_string(), "my :: recorder");
    }

    #[test]
    fn unknown_and_repeated_arguments_are_errors() {
        let unknown = InstrumentArgs::parse(quote!(level = "debug")).err().unwrap();
        assert!(unknown.to_string().contains("unknown #[instrument] argument"), "{unknown}");
        let twice = InstrumentArgs::parse(quote!(name = "a", name = "b")).err().unwrap();
        assert!(twice.to_string().contains("given twice"), "{twice}");
        let not_a_string = InstrumentArgs::parse(quote!(name = 3));
        assert!(not_a_string.is_err());
    }
}
