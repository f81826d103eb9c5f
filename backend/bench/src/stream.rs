pub fn run(_args: Args) {}
#[derive(clap::Args)]
pub struct Args {}
