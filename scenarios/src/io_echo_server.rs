//! # io-echo-server: many connections, few threads, woken by the reactor
//!
//! Seed topic: "When do you need async? I/O stuff ... for MASSIVE CONCURRENCY" and "too many
//! web servers" (one thread per connection versus an event loop). A tokio server spawns a
//! task, not a thread, per connection. A task waiting on a socket costs its future's size (about
//! a kilobyte here, mostly the read buffer) and no thread; the I/O driver (the reactor, epoll
//! on Linux) watches every socket at once and wakes exactly the task whose socket became
//! readable.

use std::net::SocketAddr;
use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, site};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "io-echo-server",
    title: "A TCP echo server: the reactor wakes tasks, no thread per connection",
    topic: "Why async: many connections, few threads (\"too many web servers\")",
    summary: "N loopback clients talk to an echo server: one task per connection on two worker threads, each woken by the I/O driver when its socket is readable.",
    description: "\
The scenario binds a real TCP listener on 127.0.0.1 (port 0: the OS picks a free one). The \
`server` task accepts `clients` connections and spawns one `conn` task per connection; each \
`conn` loops on `socket.read(..).await` and writes back what it read. `clients` client tasks \
connect, and `rounds` times write a line, read the echo and pause. Everything runs on a \
multi_thread runtime with `workers` worker threads. Count the lanes: only the workers, however \
many connections; the timeline has many more task rows than thread lanes. A connection that \
is waiting costs a suspended task (see its size in the task list) and a registration with the \
reactor, not a thread with its own stack.

Now look at the wakes of a `conn` task. Each has `by` null: no task woke it. When a client \
writes, the kernel marks the server-side socket readable; a worker that has no task to run \
parks in the I/O driver (epoll), receives the readiness event and wakes exactly the task \
registered for that socket. The `conn` is then polled, its read succeeds, it writes the echo \
and suspends again at `socket.read(..).await`, which is the state its probe shows most of \
the time. The clients' reads of the echoes are woken the same way. The lesson: async shines \
for I/O-bound concurrency. Thousands of mostly idle connections become thousands of small \
suspended tasks and one reactor, instead of thousands of blocked threads each holding a stack.",
    source: include_str!("io_echo_server.rs"),
    file: "scenarios/src/io_echo_server.rs",
    open_futures: &[],
    params: &[
        ParamSpec::int("clients", 32, 1, 200, "how many client connections (each needs two sockets)"),
        ParamSpec::int("rounds", 3, 1, 20, "how many lines each client sends"),
        ParamSpec::int("pause_ms", 30, 0, 200, "a client's pause between lines"),
        ParamSpec::int("workers", 2, 1, 8, "worker threads of the runtime"),
    ],
    step_time: StepTime::Real(
        "real loopback sockets, on several workers: the I/O driver wakes connection tasks when the \
         kernel says a socket is readable, which no paused clock controls",
    ),
    run,
};

/// One connection: echo until the client closes. Returns the bytes echoed.
async fn echo(mut socket: TcpStream) -> std::io::Result<usize> {
    let mut buf = [0u8; 1024];
    let mut echoed = 0;
    loop {
        let n = socket.read(&mut buf).await_point(site!("socket.read(&mut buf).await")).await?;
        if n == 0 {
            return Ok(echoed);
        }
        socket.write_all(&buf[..n]).await_point(site!("socket.write_all(..).await")).await?;
        echoed += n;
    }
}

/// Accepts `count` connections, a task for each, and hands back their handles.
async fn accept_loop(listener: TcpListener, count: usize) -> std::io::Result<Vec<JoinHandle<std::io::Result<usize>>>> {
    let mut conns = Vec::with_capacity(count);
    for i in 0..count {
        let (socket, _peer) = listener.accept().await_point(site!("listener.accept().await")).await?;
        conns.push(spawn_named(&format!("conn {i}"), echo(socket)));
    }
    Ok(conns)
}

/// One client: `rounds` times write a line, read its echo, pause.
async fn client(addr: SocketAddr, id: usize, rounds: usize, pause: Duration) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await_point(site!("TcpStream::connect(addr).await")).await?;
    for round in 0..rounds {
        let line = format!("client {id} round {round}\n");
        stream.write_all(line.as_bytes()).await_point(site!("stream.write_all(line).await")).await?;
        let mut echo = vec![0u8; line.len()];
        stream.read_exact(&mut echo).await_point(site!("stream.read_exact(&mut echo).await")).await?;
        if echo != line.as_bytes() {
            return Err(std::io::Error::other(format!("client {id} got back {echo:?}")));
        }
        tokio::time::sleep(pause).await_point(site!("sleep(pause).await")).await;
    }
    // Dropping the stream closes it: the conn's next read returns 0 and it ends.
    Ok(())
}

async fn serve_and_connect(clients: usize, rounds: usize, pause: Duration, workers: usize) -> std::io::Result<()> {
    // A `SocketAddr`, not a string: resolving a string may go through the blocking pool.
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    mark(format!("listening on {addr}: {clients} clients, {workers} worker threads"));
    let server = spawn_named("server", accept_loop(listener, clients));
    let client_tasks: Vec<_> =
        (0..clients).map(|i| spawn_named(&format!("client {i}"), client(addr, i, rounds, pause))).collect();
    for task in client_tasks {
        task.await.map_err(std::io::Error::other)??;
    }
    let mut echoed = 0;
    for conn in server.await.map_err(std::io::Error::other)?? {
        echoed += conn.await.map_err(std::io::Error::other)??;
    }
    mark(format!("all {clients} connections closed; {echoed} bytes echoed"));
    Ok(())
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let clients = params.usize("clients");
    let rounds = params.usize("rounds");
    let pause = Duration::from_millis(params.int("pause_ms") as u64);
    let workers = params.usize("workers");
    ctx.block_on(Flavor::MultiThread { workers }, "echo", serve_and_connect(clients, rounds, pause, workers))?
        .map_err(|e| ScenarioError::Failed(format!("echo over loopback failed: {e}")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{query::*, record};

    #[test]
    fn the_reactor_wakes_connection_tasks_on_a_few_worker_threads() {
        let clients = 16;
        let workers = 2;
        let rec = record(
            "io-echo-server",
            json!({"clients": clients, "rounds": 3, "pause_ms": 5, "workers": workers}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        // One task per connection, and every one of them was woken by the I/O driver (by null):
        // it waited for the client's next line, or for its close.
        let conns = tasks_with_prefix(ev, "conn ");
        assert_eq!(conns.len(), clients);
        for &conn in &conns {
            let wakes: Vec<_> = for_task(ev, conn).into_iter().filter(|e| e["k"] == "wake").collect();
            assert!(!wakes.is_empty(), "conn {conn} was never woken");
            assert!(wakes.iter().all(|w| w["by"].is_null()), "a task woke a conn: {wakes:?}");
            assert!(polls(ev, conn).len() >= 2, "conn {conn} never waited for its socket");
        }
        // The clients wait for the echoes the same way.
        let clients_woken_by_driver = tasks_with_prefix(ev, "client ")
            .into_iter()
            .filter(|&c| for_task(ev, c).iter().any(|e| e["k"] == "wake" && e["by"].is_null()))
            .count();
        assert_eq!(clients_woken_by_driver, clients);

        // No thread per connection: every lane is one of the runtime's workers.
        let lanes = of_kind(ev, "worker");
        assert!(!lanes.is_empty() && lanes.len() <= workers, "{lanes:?}");
        assert!(lanes.iter().all(|l| l["name"].as_str().unwrap().starts_with("echo-")), "{lanes:?}");
        let used: BTreeSet<u64> = conns.iter().flat_map(|&c| polls(ev, c)).map(|p| p.2).collect();
        assert!(used.len() <= workers && clients >= 4 * used.len());
    }
}
