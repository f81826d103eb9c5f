//! The README's "Your own program" section shows the example program's exact code.

#[test]
fn the_readmes_own_program_section_is_the_example() {
    let readme = include_str!("../../../README.md");
    let example = include_str!("../../../examples/echo-server/src/main.rs");
    let section = readme.split("## Your own program").nth(1).expect("the README has a \"Your own program\" section");
    let code = section.split("```rust\n").nth(1).and_then(|c| c.split("```").next()).expect("a rust block");
    assert_eq!(code, example, "README's \"Your own program\" block differs from examples/echo-server/src/main.rs");
}
