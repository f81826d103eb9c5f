//! Rewrites the `.await`s of one async fn body into labelled await points.
//!
//! `<expr>.await` becomes
//! `AwaitPointExt::await_point(IntoFuture::into_future(<expr>), <site>).await`, where the site's
//! label is `<expr>`'s compact text plus `.await` and its line is the line of that `.await`.
//! `into_future` is what `.await` itself calls first, so anything awaitable stays awaitable
//! (builders that implement only `IntoFuture` included), and the awaited value, its temporaries
//! and its drop order are unchanged.
//!
//! Left alone, because they are not this fn's await points:
//! - `async` blocks and closures (`async` ones too): each is a future of its own, and is often
//!   spawned onto another task, where an await point would have no enclosing probe. Probe one
//!   with `probed(site!(..), async { .. })` or move it into an `#[instrument]`ed fn.
//! - nested items (`fn`, `impl`, ...): an `#[instrument]` on a nested fn expands by itself.
//! - macro invocations (`select!`, `join!`, `assert_eq!(f().await, ..)`): their tokens are
//!   the macro's to interpret, not an expression this macro may rewrite.

use proc_macro2::Span;
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprAwait, Item, Path};

use crate::label::await_label;
use crate::site::static_site;

/// Visits one fn body and labels each of its own `.await`s; counts them for tests.
pub(crate) struct AwaitPointLabeller<'a> {
    /// Where `futurescope_recorder` is in the user's crate.
    pub(crate) recorder: &'a Path,
    /// How many `.await`s were labelled.
    pub(crate) labelled: usize,
}

impl AwaitPointLabeller<'_> {
    fn label(&mut self, await_expr: &mut ExprAwait) -> Expr {
        // The label is the source as written, so take it before inner awaits are rewritten.
        let label = await_label(await_expr.base.to_token_stream());
        let at = await_expr.await_token.span;
        self.visit_expr_mut(&mut await_expr.base);
        self.labelled += 1;

        let recorder = self.recorder;
        let base = &await_expr.base;
        let site = static_site(recorder, &label, at);
        // A type error ("`u32` is not a future") points at the user's `.await`.
        let span = Span::call_site().located_at(at);
        syn::parse_quote_spanned! {span=>
            #recorder::AwaitPointExt::await_point(
                ::core::future::IntoFuture::into_future(#base),
                #site,
            )
            .await
        }
    }
}

impl VisitMut for AwaitPointLabeller<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Await(await_expr) => *expr = self.label(await_expr),
            Expr::Async(_) | Expr::Closure(_) => {}
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _nested: &mut Item) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::Block;

    /// Labels the awaits of `body` and returns (count, the rewritten body as compact text).
    fn rewrite(body: &str) -> (usize, String) {
        let recorder: Path = syn::parse_str("::futurescope_recorder").unwrap();
        let mut block: Block = syn::parse_str(body).unwrap();
        let mut labeller = AwaitPointLabeller { recorder: &recorder, labelled: 0 };
        labeller.visit_block_mut(&mut block);
        (labeller.labelled, crate::label::compact_source(block.to_token_stream()))
    }

    #[test]
    fn each_await_gets_its_expression_as_label_and_its_own_line() {
        let (count, text) = rewrite("{\n    let a = first().await;\n\n    second(a).await?;\n}");
        assert_eq!(count, 2);
        assert!(text.contains(r#"ProbeSite::new("first().await", ::core::file!(), 2)"#), "{text}");
        assert!(text.contains(r#"ProbeSite::new("second(a).await", ::core::file!(), 4)"#), "{text}");
        assert!(text.contains("::core::future::IntoFuture::into_future(second(a))"), "{text}");
        assert!(text.contains("::futurescope_recorder::AwaitPointExt::await_point("), "{text}");
    }

    #[test]
    fn chained_awaits_are_labelled_outside_in_with_the_source_text() {
        let (count, text) = rewrite("{ connect().await.query(q).await }");
        assert_eq!(count, 2);
        assert!(text.contains(r#""connect().await.query(q).await""#), "{text}");
        assert!(text.contains(r#""connect().await""#), "{text}");
    }

    #[test]
    fn async_blocks_closures_items_and_macros_are_left_alone() {
        let body = "{
            let a = async { inner().await };
            let c = |x| async move { x.await };
            let d = async move || later().await;
            fn nested() -> impl Future { async { deep().await } }
            tokio::select! { v = rx.recv() => v, _ = stop.changed() => None };
            assert_eq!(check().await, 1);
            a.await
        }";
        let (count, text) = rewrite(body);
        assert_eq!(count, 1, "{text}");
        assert!(text.contains(r#""a.await""#), "{text}");
        assert!(text.contains("async { inner().await }"), "{text}");
    }

    #[test]
    fn awaits_inside_control_flow_are_labelled() {
        let body = "{
            while let Some(m) = rx.recv().await {
                if m.urgent { send(m).await; } else { queue.push(m) }
            }
            match timeout(d, work()).await { Ok(v) => v, Err(_) => retry().await }
        }";
        let (count, _) = rewrite(body);
        assert_eq!(count, 4);
    }
}
