//! futurescope-macros: `#[instrument]`, which turns an `async fn` into a probed future whose
//! await points are labelled with their own source text and line, so the dashboard can show
//! where the fn is suspended ("`rx.recv().await` at main.rs:42") without hand-written
//! `site!`s. Use it through the recorder: `#[futurescope_recorder::instrument]`.
//!
//! Layout:
//! - `args`: the attribute's arguments (`name = ".."`, `crate = path`).
//! - `expand`: the fn rewrite (body inside `probed(..)`, the declared return type kept).
//! - `await_points`: which `.await`s are the fn's own and how each is labelled.
//! - `label`: awaited expressions printed back as compact source text.
//! - `site`: the `static ProbeSite` each label and line becomes.
//!
//! What it leaves to others: recording (the `probed` and `AwaitPointExt` of
//! `futurescope-recorder`, which the expansion names as `::futurescope_recorder`).

use proc_macro::TokenStream;

mod args;
mod await_points;
mod expand;
mod label;
mod site;

/// Records an `async fn` as a probed future: a `state` event `start` when its body starts
/// running, one per await point it is suspended at (labelled with the awaited expression and
/// the line of its `.await`), then `ready`, or `cancelled`/`panicked` if it is dropped early.
///
/// ```ignore
/// use futurescope_recorder::instrument;
///
/// #[instrument]                      // probe "fetch_user()" at this fn's line
/// async fn fetch_user(db: &Db, id: u64) -> Result<User, DbError> {
///     let row = db.query(id).await?; // suspended at "db.query(id).await", this line
///     sleep(Duration::from_millis(20)).await; // "sleep(Duration::from_millis(20)).await"
///     Ok(row.into())
/// }
///
/// #[instrument(name = "load config")] // a label of your own
/// async fn load() { /* .. */ }
/// ```
///
/// Arguments, all optional:
/// - `name = "label"`: the probe's label (default: the fn's name and `()`).
/// - `crate = path`: where `futurescope_recorder` is, if the dependency was renamed.
///
/// What is labelled: every `.await` of the fn's own body, including in loops, `match`es and
/// chains (`a.await.b().await` gives two). What is not, because it is not this fn's await
/// point: `.await`s inside `async` blocks and closures (each is a future of its own, often
/// spawned onto another task; probe it with `probed(site!(..), async { .. })` or move it into
/// an `#[instrument]`ed fn), inside nested items, and inside macro invocations such as
/// `tokio::select!` or `assert_eq!`, whose tokens belong to that macro.
///
/// Nesting: an instrumented fn awaited inside another is the other's child probe (its `start`
/// event's `parent` is the outer fn's future id).
///
/// Timing: `start` is recorded when the fn's future is first polled, since an `async fn`
/// runs none of its body before that. To show the gap between creating a future and polling it
/// ("futures are lazy"), wrap the call site instead: `probed(site!("f()"), f())`.
///
/// The fn keeps its signature, attributes and visibility; generics, `self` methods, lifetimes
/// and trait impls work as before. Awaiting goes through `IntoFuture::into_future`, exactly as
/// `.await` does, so anything awaitable stays awaitable. Cost per await point: one static
/// `ProbeSite` and the recorder's probe bookkeeping when it is suspended.
#[proc_macro_attribute]
pub fn instrument(args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    let expanded = args::InstrumentArgs::parse(args.into()).and_then(|args| {
        let function = syn::parse::<syn::ItemFn>(item)?;
        expand::instrument(args, function)
    });
    match expanded {
        Ok(tokens) => tokens.into(),
        // The fn stays as written next to the error, so its callers do not fail as well.
        Err(error) => {
            let error = error.to_compile_error();
            quote::quote!(#error #original).into()
        }
    }
}
