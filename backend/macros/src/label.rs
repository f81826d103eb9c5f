//! Await-point labels: an awaited expression printed back as compact source text
//! (`sleep(Duration::from_millis(20)).await`), the way a reader would write it.
//!
//! The text is rebuilt from tokens rather than sliced from the file: on stable Rust a proc macro
//! cannot get the source range of a whole expression, and tokens give the same label however
//! the user formatted the call (one line or rustfmt's five).

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// Longest label, in characters, including the `.await` suffix: the dashboard shows it in a
/// lane beside the timeline, where a whole builder chain would not fit.
pub(crate) const MAX_LABEL_CHARS: usize = 60;

const AWAIT_SUFFIX: &str = ".await";
const ELLIPSIS: char = '…';

/// The label of `<awaited>.await`: the expression's compact text plus `.await`, shortened to
/// `MAX_LABEL_CHARS` by cutting the expression (never the `.await`) and marking the cut with `…`.
pub(crate) fn await_label(awaited: TokenStream) -> String {
    let text = compact_source(awaited);
    let room = MAX_LABEL_CHARS - AWAIT_SUFFIX.len();
    if text.chars().count() <= room {
        return text + AWAIT_SUFFIX;
    }
    let mut cut: String = text.chars().take(room - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push(ELLIPSIS);
    cut + AWAIT_SUFFIX
}

/// How the previous token ended, which decides whether the next one needs a space.
#[derive(Clone, Copy, PartialEq)]
enum Previous {
    /// Nothing yet (start of the text or just inside an opening delimiter).
    Nothing,
    /// An identifier, keyword or literal.
    Word,
    /// A closing `)` or `]`.
    Group,
    /// A closing `}`: a block, after which only `.`, `?`, `,` and `;` go without a space.
    Block,
    /// An operator after which a reader expects a space: `,`, `;`, `:`, `=`, `==`, `=>`, `&&`, ...
    SpacedOperator,
    /// Any other punctuation: `.`, `::`, `?`, `&`, `!`, `<`, `'`, ...
    Punct,
}

/// Prints tokens compactly: no spaces except between words, after `,`, `;` and `:`, around
/// `=`-operators, `&&` and `->`, and inside and after braces.
pub(crate) fn compact_source(tokens: TokenStream) -> String {
    let mut out = String::new();
    print_tokens(tokens, &mut out, Previous::Nothing);
    out
}

fn print_tokens(tokens: TokenStream, out: &mut String, mut previous: Previous) -> Previous {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(ident) => {
                let word = ident.to_string();
                if matches!(previous, Previous::Word | Previous::Group | Previous::Block | Previous::SpacedOperator) {
                    out.push(' ');
                }
                out.push_str(&word);
                previous = Previous::Word;
            }
            TokenTree::Literal(literal) => {
                if matches!(previous, Previous::Word | Previous::Group | Previous::Block | Previous::SpacedOperator) {
                    out.push(' ');
                }
                out.push_str(&literal.to_string());
                previous = Previous::Word;
            }
            TokenTree::Punct(punct) => {
                // A multi-character operator arrives as joint puncts: gather it whole.
                let mut operator = String::from(punct.as_char());
                let mut spacing = punct.spacing();
                while spacing == Spacing::Joint {
                    match tokens.peek() {
                        Some(TokenTree::Punct(next)) => {
                            operator.push(next.as_char());
                            spacing = next.spacing();
                            tokens.next();
                        }
                        _ => break,
                    }
                }
                let spaced = is_spaced_operator(&operator);
                let after_keyword = previous == Previous::Word && ends_with_keyword(out);
                let after_block = previous == Previous::Block && !matches!(operator.as_str(), "." | "?" | "," | ";");
                if spaced && previous != Previous::Nothing
                    || previous == Previous::SpacedOperator
                    || after_keyword
                    || after_block
                {
                    out.push(' ');
                }
                out.push_str(&operator);
                previous = if spaced || matches!(operator.as_str(), "," | ";" | ":") {
                    Previous::SpacedOperator
                } else {
                    Previous::Punct
                };
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    // Invisible delimiters (a `macro_rules!` fragment): just the contents.
                    Delimiter::None => {
                        previous = print_tokens(group.stream(), out, previous);
                        continue;
                    }
                };
                let braces = group.delimiter() == Delimiter::Brace;
                let after_keyword = previous == Previous::Word && ends_with_keyword(out);
                if braces && previous != Previous::Nothing
                    || after_keyword
                    || matches!(previous, Previous::SpacedOperator | Previous::Block)
                {
                    out.push(' ');
                }
                out.push_str(open);
                if braces && !group.stream().is_empty() {
                    out.push(' ');
                }
                print_tokens(group.stream(), out, Previous::Nothing);
                if braces && !group.stream().is_empty() {
                    out.push(' ');
                }
                out.push_str(close);
                previous = if braces { Previous::Block } else { Previous::Group };
            }
        }
    }
    previous
}

fn is_spaced_operator(operator: &str) -> bool {
    operator.contains('=') || operator == "&&" || operator == "->"
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether the text ends with a keyword after which `(`, `[` or `|` is not a call, an index
/// or an operator glued to a name (`in [1, 2]`, `move |x|`, `return (a, b)`).
fn ends_with_keyword(out: &str) -> bool {
    let start = out.rfind(|c: char| !is_word_char(c)).map_or(0, |i| i + 1);
    matches!(&out[start..], "as" | "in" | "move" | "mut" | "return" | "if" | "match" | "while" | "for" | "let" | "else")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label_of(source: &str) -> String {
        await_label(source.parse().unwrap())
    }

    #[test]
    fn calls_paths_and_methods_print_without_spaces() {
        assert_eq!(label_of("sleep(Duration::from_millis(20))"), "sleep(Duration::from_millis(20)).await");
        assert_eq!(label_of("tokio :: time :: sleep ( d )"), "tokio::time::sleep(d).await");
        assert_eq!(label_of("self.inner.lock()"), "self.inner.lock().await");
        assert_eq!(label_of("rx.recv()"), "rx.recv().await");
    }

    #[test]
    fn commas_words_and_operators_read_like_source() {
        assert_eq!(label_of("join(a, b,c)"), "join(a, b, c).await");
        assert_eq!(label_of("fetch(&mut conn, id as u64)"), "fetch(&mut conn, id as u64).await");
        assert_eq!(label_of("get(x == 1 && y >= 2)"), "get(x == 1 && y >= 2).await");
        assert_eq!(label_of("Vec::<u8>::with_capacity(n)"), "Vec::<u8>::with_capacity(n).await");
        assert_eq!(label_of("read::<'a>(buf[0..n])"), "read::<'a>(buf[0..n]).await");
        assert_eq!(label_of("(a)"), "(a).await");
        assert_eq!(label_of("load(\"x\\\"y\")"), "load(\"x\\\"y\").await");
    }

    #[test]
    fn blocks_and_keywords_keep_their_spaces() {
        assert_eq!(label_of("async move { x }"), "async move { x }.await");
        assert_eq!(label_of("async {}"), "async {}.await");
        assert_eq!(
            label_of("timeout(d, async move { rx.recv().await })"),
            "timeout(d, async move { rx.recv().await }).await"
        );
        assert_eq!(label_of("f(move |x| x)"), "f(move |x|x).await");
        assert_eq!(label_of("send(Msg { id: 1, body })"), "send(Msg { id: 1, body }).await");
        assert_eq!(label_of("run(async { a }.boxed())"), "run(async { a }.boxed()).await");
    }

    #[test]
    fn layout_of_the_source_does_not_matter() {
        let spread = "client\n    .get(url)\n    .send()";
        assert_eq!(label_of(spread), label_of("client.get(url).send()"));
    }

    #[test]
    fn long_expressions_are_cut_before_the_await() {
        let label = label_of("client.get(\"https://example.invalid/a/very/long/path/indeed\").header(k, v).send()");
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
        assert!(label.ends_with("….await"), "{label}");
        assert!(label.starts_with("client.get(\"https://example.invalid/"), "{label}");
        // Exactly at the limit: kept whole.
        let exact = "x".repeat(MAX_LABEL_CHARS - AWAIT_SUFFIX.len());
        assert_eq!(label_of(&exact), format!("{exact}.await"));
        let over = "x".repeat(MAX_LABEL_CHARS - AWAIT_SUFFIX.len() + 1);
        assert_eq!(label_of(&over).chars().count(), MAX_LABEL_CHARS);
    }
}
