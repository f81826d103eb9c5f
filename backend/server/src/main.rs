//! The `futurescope` binary: parses the command line and hands over to `futurescope::cli`.

fn main() -> std::process::ExitCode {
    futurescope::cli::main()
}
