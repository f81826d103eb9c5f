//! futurescope-bench: measures what the recorder costs and how fast events reach a browser.
//!
//! - `overhead`: 1,000 tasks x 1,000 `yield_now` on a 2-worker runtime, in four modes, each in
//!   its own process (a process has one global tracing subscriber): bare, recorder alone,
//!   console-subscriber alone, recorder + console-subscriber. Rounds are interleaved and the
//!   medians reported, as ratios to bare.
//! - `stream`: the dashboard's server in-process, a scenario producing events as fast as it
//!   can for a while, and one real WebSocket client on loopback counting what it receives.
//!
//! - `server`: a TCP echo server (a task per connection) under a fixed rate of new connections
//!   from this process, bare / with futurescope / with console-subscriber / with both, each in
//!   a child process: throughput, p50 / p99 latency, the server's RSS.
//! - `probe`: the cost of an await-point probe per poll.
//! - `snapshot`: what one task dump costs (workers paused, symbols resolved) at 10 and 10,000 tasks.
//! - `soak`: every scenario in a loop with a small memory budget; memory must stay flat.
//!
//! These are benchmarks, not tests: they print figures; `--json` prints one JSON line.

mod overhead;
mod probe;
mod server;
mod snapshot;
mod soak;
mod stream;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "futurescope-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recorder overhead against a bare runtime and against console-subscriber.
    Overhead(overhead::Args),
    /// One mode of `overhead`, in this process (used by `overhead` itself).
    #[command(hide = true)]
    OverheadChild(overhead::ChildArgs),
    /// Events per second from the recorder to one WebSocket client.
    Stream(stream::Args),
    /// Every scenario in a loop; memory must stay flat.
    Soak(soak::Args),
    /// A server workload (echo server, fixed request rate) bare, with futurescope, console-subscriber, both.
    Server(server::Args),
    /// One mode of `server`, in this process (used by `server` itself).
    #[command(hide = true)]
    ServerChild(server::ChildArgs),
    /// What an await-point probe costs per poll.
    Probe(probe::Args),
    /// What one task dump (snapshot) costs.
    Snapshot(snapshot::Args),
}

fn main() -> std::process::ExitCode {
    // The same allocator settings as the futurescope binary.
    futurescope::tune_allocator();
    match Cli::parse().command {
        Command::Overhead(args) => overhead::run(args),
        Command::OverheadChild(args) => overhead::child(args),
        Command::Stream(args) => stream::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Server(args) => server::run(args),
        Command::ServerChild(args) => server::child(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Soak(args) => {
            if !soak::run(args) {
                eprintln!("soak: memory grew or a run failed");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
